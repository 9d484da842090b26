import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// A ticket with a deadline due or breached, as `ticket list --overdue|--due-within` lists it.
public struct UrgentTicket: Sendable, Encodable {
    public let ticket: TicketSummary
    public let deadlines: TicketDeadlines

    /// The ticket with its phone masked.
    public func maskingPersonalData() -> UrgentTicket {
        UrgentTicket(ticket: ticket.maskingPersonalData(), deadlines: deadlines)
    }
}

/// A ticket's deadlines under the company's policy and calendar.
public struct TicketDeadlines: Sendable, Encodable, Equatable {
    public let id: String
    public let number: String
    /// The branch handling the ticket, whose time zone the deadlines are judged in.
    public let branch: String
    /// That branch's time zone (IANA name).
    public let timeZone: String
    /// Which version of the company's policy judges the ticket, and why.
    public let policy: String
    /// Which version of the company's calendar judges the ticket, and why.
    public let calendar: String
    /// Every round's, in order; the last round's are the ones still in play.
    public let deadlines: [Deadline]

    /// The deadline that matters now (`[Deadline].headline`).
    public var headline: Deadline? { deadlines.headline }
}

extension TicketTimeline {
    /// The timeline of a ticket read from its ops in HLC order (DESIGN §1): per round (the first
    /// from the receipt, another from each reopening) the first contact with the customer (a
    /// contact, reply or rejection), the resolution (replied, rejected or closed) and the waits
    /// for the customer; and who held the ticket when.
    init(document: TicketDocument, ops: [Op]) {
        let receivedAt = Date(millis: document.intake?.receivedAt ?? 0)
        var rounds: [RoundBuilder] = [RoundBuilder(number: 1, start: receivedAt)]
        var waitingSince: Date?
        var lastWaitAdded: Date?
        var branch = document.id.origin.rawValue
        var assignee = ""
        var holders: [Holder] = []
        for op in ops.sorted(by: { $0.stamp < $1.stamp }) {
            let at = Date(hlc: op.hlc)
            var holderChanged = holders.isEmpty
            for change in op.changes {
                switch change {
                case .status(let status, _) where status.round > rounds.count:
                    // A reopening: the new round's clocks start now; a wait does not carry over.
                    if let start = waitingSince { rounds[rounds.count - 1].waits.append(Wait(start: start, end: at)) }
                    waitingSince = nil
                    for number in (rounds.count + 1)...status.round { rounds.append(RoundBuilder(number: number, start: at)) }
                case .status(let status, _) where [.replied, .rejected, .closed].contains(status.stage):
                    // A concurrent close of an earlier round still resolves that round.
                    let index = max(0, min(status.round, rounds.count) - 1)
                    rounds[index].resolvedAt = rounds[index].resolvedAt ?? at
                    rounds[index].firstReplyAt = rounds[index].firstReplyAt ?? at
                case .entry(let entry) where [.contact, .reply, .rejection].contains(entry.kind):
                    rounds[rounds.count - 1].firstReplyAt = rounds[rounds.count - 1].firstReplyAt ?? at
                case .write(.branch, let value, _):
                    branch = value.text.flatMap { $0.isEmpty ? nil : $0 } ?? document.id.origin.rawValue
                    holderChanged = true
                case .write(.assignee, let value, _):
                    assignee = value.text ?? ""
                    holderChanged = true
                case .add(.tags, Tag.waitingForCustomer):
                    lastWaitAdded = at
                    if waitingSince == nil { waitingSince = at }
                case .remove(.tags, Tag.waitingForCustomer, _):
                    if let start = waitingSince { rounds[rounds.count - 1].waits.append(Wait(start: start, end: at)) }
                    waitingSince = nil
                default:
                    break
                }
            }
            if holderChanged { holders.append(Holder(since: at, branch: branch, assignee: assignee)) }
        }
        // The set is add-wins: a remove concurrent with an add leaves the ticket waiting.
        if waitingSince == nil, document.elements(of: .tags).contains(Tag.waitingForCustomer), let start = lastWaitAdded {
            waitingSince = max(start, rounds[rounds.count - 1].start)
        }
        if let start = waitingSince { rounds[rounds.count - 1].waits.append(Wait(start: start, end: nil)) }
        self.init(
            receivedAt: receivedAt, severity: document.severity,
            departments: document.elements(of: .departments).count + (document.text(.department).isEmpty ? 0 : 1),
            rounds: rounds.map {
                Round(number: $0.number, start: $0.start, firstReplyAt: $0.firstReplyAt, resolvedAt: $0.resolvedAt, waits: $0.waits)
            },
            holders: holders)
    }

    /// A round while its ops are read.
    private struct RoundBuilder {
        let number: Int
        let start: Date
        var firstReplyAt: Date?
        var resolvedAt: Date?
        var waits: [Wait] = []
    }
}

extension NodeStore {
    /// The deadlines of one ticket as of `now`.
    public func deadlines(of reference: String, now: Date) async throws -> TicketDeadlines {
        try await read { db in
            let id = try Self.resolve(reference, db)
            return try Self.deadlines(of: id, settings: Self.companySettings(db), now: now, db)
        }
    }

    /// The tickets with a deadline open and due by `horizon` — breached ones when it is `now` —
    /// narrowed by `filter` (at most `filter.limit` of them), most urgent first, each with its
    /// deadlines as of `now`. Reads the deadline summary's index: only the tickets listed are
    /// read whole.
    public func urgentTickets(dueBy horizon: Date, now: Date, filter: TicketFilter) async throws -> [UrgentTicket] {
        var (conditions, arguments) = Self.conditions(of: filter)
        conditions.append("d.openDue <= ?")
        arguments += [Self.millis(horizon)]
        arguments += [filter.limit]
        let sql = """
            SELECT ticket.* FROM deadlineSummary d JOIN ticket ON ticket.id = d.ticket
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY d.openDue, ticket.number, d.ticket LIMIT ?
            """
        let statementArguments = arguments
        let identity = identity
        return try await read { db in
            let settings = try Self.companySettings(db)
            return try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                let document = try Self.storedDocument(from: row)
                return UrgentTicket(
                    ticket: Self.summary(row, viewer: identity), deadlines: try Self.deadlines(of: document, settings: settings, now: now, db).deadlines)
            }
        }
    }

    /// SLA breaches open now, per branch handling the ticket: an index range of the summary.
    static func openBreaches(now: Date, _ db: Database) throws -> [String: Int] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT branch, count(*) AS breaches FROM deadlineSummary WHERE openDue < ? GROUP BY branch",
            arguments: [Self.millis(now)])
        return Dictionary(uniqueKeysWithValues: rows.map { ($0["branch"] as String, $0["breaches"] as Int) })
    }

    static func deadlines(of id: TicketID, settings: CompanySettings, now: Date, _ db: Database) throws -> TicketDeadlines {
        try deadlines(of: document(id, db), settings: settings, now: now, db).deadlines
    }

    /// The ticket's deadlines and the timeline they were read from.
    static func deadlines(
        of document: TicketDocument, settings: CompanySettings, now: Date, _ db: Database
    ) throws -> (deadlines: TicketDeadlines, timeline: TicketTimeline) {
        let id = document.id
        let ops = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM op WHERE ticket = ? ORDER BY hlc, origin, seq"), arguments: [id.description]
        ).map(op(from:))
        let timeline = TicketTimeline(document: document, ops: ops)
        let branch = document.owner.rawValue
        let (clock, policy, calendar) = settings.clock(for: document, timeline)
        let deadlines = TicketDeadlines(
            id: id.description, number: document.intake?.number ?? id.description, branch: branch,
            timeZone: clock.calendar.timeZoneName(forBranch: branch), policy: policy, calendar: calendar,
            deadlines: clock.deadlines(of: timeline, branch: branch, now: now))
        return (deadlines, timeline)
    }

}
