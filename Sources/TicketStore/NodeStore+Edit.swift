import Foundation
import GRDB
import Replication
import SyncWire
import TicketModel

extension NodeStore {
    /// Opens a ticket: one op with the intake and the first values, committed with its effect.
    public func openTicket(_ draft: TicketDraft, actor: String) async throws -> TicketView {
        let identity = identity
        let documents = documents
        let now = clock.nowMillis()
        let id = try await write { db -> TicketID in
            var counters = try Counters.load(db)
            counters.ticketCounter += 1
            let id = TicketID(origin: identity.nodeID, counter: counters.ticketCounter)
            let number = TicketNumber.make(
                code: identity.branchCode, day: Self.day(of: now, in: identity.timeZone), counter: id.counter)
            let changes = TicketDocument.opening(draft, number: number, receivedAt: draft.receivedAt ?? Int64(now))
            var merge = try MergeTransaction(db, cache: documents)
            try Self.commitLocal(
                db, &merge, &counters, origin: identity.nodeID, ticket: id, actor: actor, action: "open", changes: changes,
                now: now)
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
        let identity = identity
        let origin = identity.nodeID
        let documents = documents
        let id = try await write { db -> TicketID in
            let id = try Self.resolve(reference, db)
            var merge = try MergeTransaction(db, cache: documents)
            let document = try merge.document(id)
            let changes = try makeChanges(document)
            try Self.checkLocalRights(identity, document, changes)
            var counters = try Counters.load(db)
            try Self.commitLocal(
                db, &merge, &counters, origin: origin, ticket: id, actor: actor, action: action, changes: changes, now: now)
            return id
        }
        return try await ticket(id.description)
    }

    /// The rules peers enforce (see `PeerAuthorisation`), applied where the edit is made so that a
    /// branch never records an op that HQ would refuse: a branch changes only the tickets it
    /// handles, and only HQ transfers tickets.
    private static func checkLocalRights(_ identity: NodeIdentity, _ document: TicketDocument, _ changes: [Change]) throws {
        guard identity.role == .branch else { return }
        let number = document.intake?.number ?? document.id.description
        guard document.owner == identity.nodeID else {
            throw DomainError("\(number) is handled by \(document.owner); this branch may read it but not change it (HQ can transfer it here)")
        }
        if changes.contains(where: { if case .write(.branch, _, _) = $0 { true } else { false } }) {
            throw DomainError("only HQ may transfer a ticket to another branch")
        }
    }

    /// Numbers the changes as this node's next op and merges it through `merge`.
    static func commitLocal(
        _ db: Database,
        _ merge: inout MergeTransaction,
        _ counters: inout Counters,
        origin: NodeID,
        ticket: TicketID,
        actor: String,
        action: String,
        changes: [Change],
        now: UInt64
    ) throws {
        try checkMayNumberOps(db, origin: origin)
        let size = try StoredForm.encode(changes).count
        guard size <= Op.maxChangesBytes else {
            throw DomainError(
                "this edit carries \(size / 1024) KiB of text; one edit may carry at most \(Op.maxChangesBytes / 1024) KiB: shorten it, or split it into several notes"
            )
        }
        counters.lastSeq += 1
        let op = Op(
            id: OpID(origin: origin, seq: counters.lastSeq), hlc: counters.hlc.tick(wallMillis: now), ticket: ticket,
            actor: actor, action: action, changes: changes)
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

    /// The ticket's merge document; throws if no op of it was applied here.
    static func document(_ id: TicketID, _ db: Database) throws -> TicketDocument {
        guard let document = try storedDocument(id, db) else { throw StoreError(.unknownTicket, "no ticket \(id) on this node") }
        return document
    }

    /// The ticket's merge document, if any op of it was applied here.
    static func storedDocument(_ id: TicketID, _ db: Database) throws -> TicketDocument? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT document FROM ticket WHERE id = ?"), arguments: [id.description])
            .map { data in try readStored { try StoredForm.document(id, from: data) } }
    }

    /// One op of the log, if held here.
    static func storedOp(_ id: OpID, _ db: Database) throws -> Op? {
        try Row.fetchOne(db, sql: "SELECT * FROM op WHERE origin = ? AND seq = ?", arguments: [id.origin.rawValue, Int64(id.seq)])
            .map(op(from:))
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
