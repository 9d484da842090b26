import Foundation
import GRDB
import Replication
import TicketModel

extension NodeStore {
    /// Opens a ticket: one op with the intake and the first values, committed with its effect.
    public func openTicket(_ draft: TicketDraft, actor: String) async throws -> TicketView {
        let identity = identity
        let now = clock.nowMillis()
        let id = try await write { db -> TicketID in
            var counters = try Counters.load(db)
            counters.ticketCounter += 1
            let id = TicketID(origin: identity.nodeID, counter: counters.ticketCounter)
            let number = TicketNumber.make(
                code: identity.branchCode, day: Self.day(of: now, in: identity.timeZone), counter: id.counter)
            let changes = TicketDocument.opening(draft, number: number, receivedAt: draft.receivedAt ?? Int64(now))
            try Self.commitLocal(
                db, &counters, origin: identity.nodeID, ticket: id, actor: actor, action: "open", changes: changes, now: now)
            return id
        }
        return try await ticket(id.description)
    }

    /// Makes one local edit of a ticket: `makeChanges` validates against the current document and
    /// returns the changes; they become one op committed with its effect. Nothing is written when
    /// it throws.
    public func edit(
        _ reference: String,
        actor: String,
        action: String,
        _ makeChanges: @escaping @Sendable (TicketDocument) throws -> [Change]
    ) async throws -> TicketView {
        let now = clock.nowMillis()
        let origin = identity.nodeID
        let id = try await write { db -> TicketID in
            let id = try Self.resolve(reference, db)
            let document = try Self.document(id, db)
            let changes = try makeChanges(document)
            var counters = try Counters.load(db)
            try Self.commitLocal(
                db, &counters, origin: origin, ticket: id, actor: actor, action: action, changes: changes, now: now)
            return id
        }
        return try await ticket(id.description)
    }

    private static func commitLocal(
        _ db: Database,
        _ counters: inout Counters,
        origin: NodeID,
        ticket: TicketID,
        actor: String,
        action: String,
        changes: [Change],
        now: UInt64
    ) throws {
        counters.lastSeq += 1
        let op = Op(
            id: OpID(origin: origin, seq: counters.lastSeq), hlc: counters.hlc.tick(wallMillis: now), ticket: ticket,
            actor: actor, action: action, changes: changes)
        var merge = MergeTransaction(db)
        try merge.apply(op)
        try merge.finish()
        try counters.save(db)
    }

    /// The ticket a person means by `reference`: a ticket number (any case) or an `origin:counter` id.
    static func resolve(_ reference: String, _ db: Database) throws -> TicketID {
        if let id = TicketID(reference.trimmingWhitespace()),
            try Bool.fetchOne(db, sql: "SELECT opened FROM ticket WHERE id = ?", arguments: [id.description]) == true
        {
            return id
        }
        let ids = try String.fetchAll(
            db, sql: "SELECT id FROM ticket WHERE number = ? AND opened LIMIT 2",
            arguments: [TicketNumber.normalised(reference)])
        switch ids.count {
        case 1:
            guard let id = TicketID(ids[0]) else { break }
            return id
        case 0:
            break
        default:
            throw StoreError(
                .ambiguousTicket, "ticket number \(reference) is used by more than one node; give the ticket id instead (see 'ticket search')")
        }
        throw StoreError(
            .unknownTicket, "no ticket '\(reference)' on this node; find the number with 'branchdesk ticket list' or 'branchdesk ticket search TEXT'")
    }

    static func document(_ id: TicketID, _ db: Database) throws -> TicketDocument {
        guard let data = try Data.fetchOne(db, sql: "SELECT document FROM ticket WHERE id = ?", arguments: [id.description])
        else { throw StoreError(.unknownTicket, "no ticket \(id) on this node") }
        return try Coding.decode(TicketDocument.self, from: data)
    }

    /// The calendar day of `millis` in the time zone `zone`.
    static func day(of millis: UInt64, in zone: String) -> CalendarDay {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(millis) / 1000))
        return CalendarDay(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
            ?? CalendarDay(year: 1970, month: 1, day: 1)!
    }
}
