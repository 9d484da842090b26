import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// A ticket's deadlines under the company's policy and calendar.
public struct TicketDeadlines: Sendable, Encodable, Equatable {
    public let id: String
    public let number: String
    /// The branch handling the ticket, whose time zone the deadlines are judged in.
    public let branch: String
    /// That branch's time zone (IANA name).
    public let timeZone: String
    public let deadlines: [Deadline]

    /// The deadline that matters now (`[Deadline].headline`).
    public var headline: Deadline? { deadlines.headline }
}

extension TicketTimeline {
    /// The timeline of a ticket read from its ops in HLC order (DESIGN §1): the first contact
    /// with the customer (a contact, reply or rejection), the resolution (replied, rejected or
    /// closed), the waits for the customer, and who held the ticket when.
    init(document: TicketDocument, ops: [Op]) {
        var firstReply: Date?
        var resolved: Date?
        var waits: [Wait] = []
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
                case .status(let status, _) where [.replied, .rejected, .closed].contains(status.stage):
                    resolved = resolved ?? at
                    firstReply = firstReply ?? at
                case .entry(let entry) where [.contact, .reply, .rejection].contains(entry.kind):
                    firstReply = firstReply ?? at
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
                    if let start = waitingSince { waits.append(Wait(start: start, end: at)) }
                    waitingSince = nil
                default:
                    break
                }
            }
            if holderChanged { holders.append(Holder(since: at, branch: branch, assignee: assignee)) }
        }
        // The set is add-wins: a remove concurrent with an add leaves the ticket waiting.
        if waitingSince == nil, document.elements(of: .tags).contains(Tag.waitingForCustomer), let start = lastWaitAdded {
            waitingSince = start
        }
        if let start = waitingSince { waits.append(Wait(start: start, end: nil)) }
        self.init(
            receivedAt: Date(millis: document.intake?.receivedAt ?? 0), severity: document.severity,
            departments: document.elements(of: .departments).count + (document.text(.department).isEmpty ? 0 : 1),
            firstReplyAt: firstReply, resolvedAt: resolved, waits: waits, holders: holders)
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

    /// The deadlines of every ticket not yet resolved (not replied, rejected or closed), most
    /// urgent first: breached, then by due time.
    public func unresolvedDeadlines(now: Date) async throws -> [TicketDeadlines] {
        try await read { db in
            let settings = try Self.companySettings(db)
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM ticket WHERE opened AND stage NOT IN ('replied', 'closed', 'rejected')")
            return try ids.compactMap(TicketID.init).map { try Self.deadlines(of: $0, settings: settings, now: now, db) }
                .sorted(by: Self.moreUrgent)
        }
    }

    static func deadlines(of id: TicketID, settings: CompanySettings, now: Date, _ db: Database) throws -> TicketDeadlines {
        try deadlines(of: document(id, db), settings: settings, now: now, db).deadlines
    }

    /// The ticket's deadlines and the timeline they were read from.
    static func deadlines(
        of document: TicketDocument, settings: CompanySettings, now: Date, _ db: Database
    ) throws -> (deadlines: TicketDeadlines, timeline: TicketTimeline) {
        let id = document.id
        let ops = try Row.fetchAll(db, sql: "SELECT * FROM op WHERE ticket = ? ORDER BY hlc, origin, seq", arguments: [id.description])
            .map(op(from:))
        let timeline = TicketTimeline(document: document, ops: ops)
        let branch = document.owner.rawValue
        let deadlines = TicketDeadlines(
            id: id.description, number: document.intake?.number ?? id.description, branch: branch,
            timeZone: settings.calendar.timeZoneName(forBranch: branch),
            deadlines: settings.clock.deadlines(of: timeline, branch: branch, now: now))
        return (deadlines, timeline)
    }

    private static func moreUrgent(_ lhs: TicketDeadlines, _ rhs: TicketDeadlines) -> Bool {
        let left = lhs.headline, right = rhs.headline
        let leftBreached = left?.state == .breached, rightBreached = right?.state == .breached
        if leftBreached != rightBreached { return leftBreached }
        return (left?.due ?? .distantFuture, lhs.id) < (right?.due ?? .distantFuture, rhs.id)
    }
}
