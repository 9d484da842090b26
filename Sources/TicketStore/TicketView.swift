import Foundation
import Replication
import TicketModel

/// A ticket as people see it: the materialised values, entries, history and open conflicts.
///
/// Its JSON keys are part of the command-line contract (`id`, `number`, `title`, `status`, …).
public struct TicketView: Sendable, Encodable, Equatable {
    public let id: String
    public let number: String
    /// The node that opened the ticket.
    public let origin: String
    /// The node that handles it: the one that opened it, or the one HQ transferred it to.
    public let handledBy: String
    /// Whether this node may only read it (a branch, for a ticket another node handles).
    public let readOnly: Bool
    public let title: String
    /// The stage a person works from, e.g. `investigating`; `awaiting-approval` again when an
    /// approval was withdrawn or contested.
    public let status: String
    /// 1 for the first handling, + 1 per reopen.
    public let round: Int
    public let severity: Int
    public let category: String
    public let kind: String
    public let channel: String
    public let customer: String
    public let phone: String
    public let request: String
    public let facts: String
    /// The customer's original statement, as taken at intake.
    public let statement: String
    public let receivedAt: Date
    /// When the ticket was typed in (may be later than `receivedAt`, e.g. for letters).
    public let recordedAt: Date
    public let takenBy: String
    public let department: String
    public let assignee: String
    public let escalation: String
    public let investigation: Investigation
    public let resolution: String
    public let reply: Reply?
    public let satisfaction: Satisfaction?
    public let tags: [String]
    public let involvedDepartments: [String]
    /// Append-only entries: notes, contacts, corrections, replies, follow-up calls.
    public let notes: [Note]
    /// Every op on the ticket, in HLC order.
    public let history: [HistoryLine]
    public let conflicts: [ConflictView]
    /// The round's approval decision in force, if one was made.
    public let approval: ApprovalView?
    /// What is wrong with the round's approval (MERGE.md, "Approvals"), for a person to settle.
    public let approvalIssues: [String]
    /// What may be done next from the current status.
    public let allowedTransitions: [String]
    public let updatedAt: Date

    /// A decision on the round's content.
    public struct ApprovalView: Sendable, Encodable, Equatable {
        /// `approved`, `withdrawn` or `replied`.
        public let decision: String
        /// The authority behind the content: `hq`, `branch`, or nil for none.
        public let authority: String?
        public let by: String
        public let origin: String
        public let at: Date
        /// Whether an approval covers the content in force with the authority the severity needs.
        public let inForce: Bool
    }

    /// The investigation report.
    public struct Investigation: Sendable, Encodable, Equatable {
        public let cause, course, responsible, conclusion, countermeasure, prevention: String
    }

    /// The reply given to the customer.
    public struct Reply: Sendable, Encodable, Equatable {
        public let message: String
        public let via: String
        public let promisedDate: String?
    }

    /// An append-only entry.
    public struct Note: Sendable, Encodable, Equatable {
        public let kind: String
        public let text: String
        public let at: Date
        public let by: String
        public let origin: String
        public let via: String?
        public let score: Int?
        public let corrects: String?
    }

    /// One op of the ticket's history.
    public struct HistoryLine: Sendable, Encodable, Equatable {
        public let at: Date
        public let by: String
        public let origin: String
        public let seq: UInt64
        public let action: String
        public let summary: String
    }

    init(document: TicketDocument, entries: [EntryRecord], history: [Op], viewer: NodeIdentity) {
        let intake = document.intake
        id = document.id.description
        number = intake?.number ?? ""
        origin = document.id.origin.rawValue
        handledBy = document.owner.rawValue
        readOnly = !viewer.mayChange(ticketHandledBy: document.owner.rawValue)
        title = document.text(.title)
        status = document.processStage.rawValue
        round = document.status.round
        severity = document.severity.rawValue
        category = document.text(.category)
        kind = document.text(.kind)
        channel = intake?.channel.rawValue ?? ""
        customer = document.text(.customer)
        phone = document.text(.phone)
        request = document.text(.request)
        facts = document.text(.facts)
        statement = intake?.statement ?? ""
        receivedAt = Date(millis: intake?.receivedAt ?? 0)
        recordedAt = Date(millis: Int64(document.opening?.hlc.wallMillis ?? 0))
        takenBy = intake?.takenBy ?? ""
        department = document.text(.department)
        assignee = document.text(.assignee)
        escalation = document.escalationLevel.name
        investigation = Investigation(
            cause: document.text(.cause), course: document.text(.course), responsible: document.text(.responsible),
            conclusion: document.text(.conclusion), countermeasure: document.text(.countermeasure),
            prevention: document.text(.prevention))
        resolution = document.text(.resolution)
        let replyMessage = document.text(.replyMessage)
        reply =
            replyMessage.isEmpty
            ? nil
            : Reply(
                message: replyMessage, via: document.text(.replyVia),
                promisedDate: document[.promisedDate]?.text.flatMap { $0.isEmpty ? nil : $0 })
        if case .satisfaction(let value) = document[.satisfaction] { satisfaction = value } else { satisfaction = nil }
        tags = document.elements(of: .tags)
        involvedDepartments = document.elements(of: .departments)
        notes = entries.map {
            Note(
                kind: $0.entry.kind.rawValue, text: $0.entry.text, at: Date(hlc: $0.hlc), by: $0.actor,
                origin: $0.op.origin.rawValue, via: $0.entry.via?.rawValue, score: $0.entry.score, corrects: $0.entry.subject)
        }
        self.history = history.map {
            HistoryLine(
                at: Date(hlc: $0.hlc), by: $0.actor, origin: $0.id.origin.rawValue, seq: $0.id.seq, action: $0.action,
                summary: $0.summary)
        }
        conflicts = document.conflicts.map { ConflictView($0, number: intake?.number ?? "") }
        let standing = document.approval
        approval = standing.decision.flatMap { decision in
            standing.madeBy.map { stamp in
                ApprovalView(
                    decision: decision.decision.rawValue, authority: decision.authority?.rawValue,
                    by: history.first { $0.id == stamp.op }?.actor ?? "", origin: stamp.op.origin.rawValue, at: Date(hlc: stamp.hlc),
                    inForce: standing.approvalInForce)
            }
        }
        approvalIssues = standing.issues.map(\.description)
        allowedTransitions = readOnly ? [] : document.allowedTransitions.map(\.rawValue)
        updatedAt = Date(hlc: document.lastChange)
    }
}

/// A ticket in a list: the columns a clerk scans.
public struct TicketSummary: Sendable, Encodable, Equatable {
    public let id: String
    public let number: String
    public let origin: String
    public let title: String
    public let status: String
    public let round: Int
    public let severity: Int
    public let category: String
    public let channel: String
    public let customer: String
    public private(set) var phone: String
    public let assignee: String
    public let escalation: String
    public let receivedAt: Date
    public let updatedAt: Date
    /// The node that handles it.
    public let handledBy: String
    /// Whether this node may only read it.
    public let readOnly: Bool
    /// The code of the approval issue it has (`ApprovalIssue.code`), if any.
    public let approvalIssue: String?

    /// The summary with the customer's phone number masked, as lists show it by default.
    public func maskingPersonalData() -> TicketSummary {
        var masked = self
        masked.phone = PhoneNumber.masked(phone)
        return masked
    }
}

/// A field whose concurrent writes were not seen by each other: the winner and what it overrode.
public struct ConflictView: Sendable, Encodable, Equatable {
    public let ticket: String
    public let number: String
    public let field: String
    public let winner: Value
    public let overridden: [Value]
    /// For an approval contested by content changed behind it (field `approval`): what is wrong.
    public let issue: String?

    /// One write of the field.
    public struct Value: Sendable, Encodable, Equatable {
        public let value: String
        public let origin: String
        public let op: String
        public let at: Date
    }

    init(_ conflict: FieldConflict, number: String) {
        ticket = conflict.ticket.description
        self.number = number
        field = conflict.field.rawValue
        winner = Self.value(conflict.winner)
        overridden = conflict.overridden.map(Self.value)
        issue = nil
    }

    /// The approval `decision` of `ticket`, contested by `issue` rather than by a concurrent decision.
    init(approvalOf ticket: TicketID, number: String, decision: Register.Write, issue: ApprovalIssue) {
        self.ticket = ticket.description
        self.number = number
        field = Field.approval.rawValue
        winner = Self.value(decision)
        overridden = []
        self.issue = issue.description
    }

    private static func value(_ write: Register.Write) -> Value {
        Value(
            value: write.value.description, origin: write.stamp.op.origin.rawValue, op: write.stamp.op.description,
            at: Date(hlc: write.stamp.hlc))
    }

    /// "sh-012 set severity 2 while hq set severity 3; hq's value won".
    public var sentence: String {
        if let issue { return "\(winner.value) at \(winner.origin), but \(issue)" }
        let losers = overridden.map { "\($0.origin) set \(field) to '\($0.value)'" }.joined(separator: " and ")
        return "\(losers) while \(winner.origin) set it to '\(winner.value)'; \(winner.origin)'s value won"
    }
}

extension Date {
    init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
    init(hlc: HLCTimestamp) { self.init(millis: Int64(hlc.wallMillis)) }
}
