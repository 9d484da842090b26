import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

extension NodeStore {
    /// Opens a ticket: one op with the intake and the first values, committed with its effect.
    public func openTicket(_ draft: TicketDraft, actor: String) async throws -> TicketView {
        let identity = identity
        let id = try await groupCommit.commit({ db, local in
            local.counters.ticketCounter += 1
            let id = TicketID(origin: identity.nodeID, counter: local.counters.ticketCounter)
            let number = TicketNumber.make(
                code: identity.branchCode, day: Self.day(of: local.now, in: identity.timeZone), counter: id.counter)
            let receivedAt = draft.receivedAt ?? Int64(local.now)
            try Self.checkReceivedAt(receivedAt, now: Int64(local.now), zone: identity.timeZone)
            let settings = try Self.storedDocument(.companySettings, db)
            let versions = (
                policy: settings?.registers[.servicePolicy]?.winner?.stamp.op.description ?? "",
                calendar: settings?.registers[.workCalendar]?.winner?.stamp.op.description ?? ""
            )
            let changes = TicketDocument.opening(draft, number: number, receivedAt: receivedAt, settingsVersions: versions)
            try local.record(ticket: id, actor: actor, action: "open", changes: changes)
            return id
        }, in: self)
        return try await ticket(id.description)
    }

    /// How far ahead of this node's clock a receipt time may be (another device's clock, typing).
    static let receivedAtSkew: Int64 = 5 * 60 * 1000
    /// How long before it is typed in a complaint may have been received: a year.
    static let receivedAtOldest: Int64 = 366 * 24 * 3600 * 1000

    /// Refuses a receipt time in the future or more than a year back: either would give the
    /// ticket deadlines that never fall due, or that were breached before anyone saw it.
    static func checkReceivedAt(_ receivedAt: Int64, now: Int64, zone: String) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone) ?? .gmt
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        func shown(_ millis: Int64) -> String { formatter.string(from: Date(millis: millis)) }
        if receivedAt > now + receivedAtSkew {
            throw DomainError(
                "the received time \(shown(receivedAt)) is in the future (it is \(shown(now)) here): give when the complaint came in, or leave --received-at out for now")
        }
        if receivedAt < now - receivedAtOldest {
            throw DomainError(
                "the received time \(shown(receivedAt)) is more than a year ago (the earliest accepted is \(shown(now - receivedAtOldest))): check the date; a complaint is recorded when it comes in")
        }
    }

    /// Makes one local edit of a ticket: `makeChanges` validates against the current document and
    /// returns the changes; they become one op committed with its effect. Nothing is written when
    /// it throws. Returns the ticket as it is after the edit.
    public func edit(
        _ reference: String,
        actor: String,
        action: String,
        _ makeChanges: @escaping @Sendable (TicketDocument) throws -> [Change]
    ) async throws -> TicketView {
        try await ticket(commitEdit(reference, actor: actor, action: action, makeChanges).description)
    }

    /// `edit` for a step whose action depends on the ticket's state (which transition is next):
    /// `makeOp` returns the action (`OpAction`) with the changes.
    public func edit(
        _ reference: String,
        actor: String,
        _ makeOp: @escaping @Sendable (TicketDocument) throws -> (action: String, changes: [Change])
    ) async throws -> TicketView {
        try await ticket(commitEdit(reference, actor: actor, makeOp).description)
    }

    /// `edit` without reading the ticket back: returns once the edit is committed. Edits made at
    /// the same moment are committed together (`GroupCommit`).
    @discardableResult
    public func commitEdit(
        _ reference: String,
        actor: String,
        action: String,
        _ makeChanges: @escaping @Sendable (TicketDocument) throws -> [Change]
    ) async throws -> TicketID {
        try await commitEdit(reference, actor: actor) { (action, try makeChanges($0)) }
    }

    /// `commitEdit` for a step whose action depends on the ticket's state.
    @discardableResult
    public func commitEdit(
        _ reference: String,
        actor: String,
        _ makeOp: @escaping @Sendable (TicketDocument) throws -> (action: String, changes: [Change])
    ) async throws -> TicketID {
        let identity = identity
        return try await groupCommit.commit({ db, local in
            let id = try Self.resolve(reference, db)
            let document = try local.document(id)
            let (action, changes) = try makeOp(document)
            try Self.checkLocalRights(identity, document, changes)
            try local.record(ticket: id, actor: actor, action: action, changes: changes)
            return id
        }, in: self)
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

    /// The ticket a person means by `reference`: a ticket number (any case) or an `origin:counter` id.
    static func resolve(_ reference: String, _ db: Database) throws -> TicketID {
        if let id = TicketID(reference.trimmingWhitespace()),
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT opened FROM ticket WHERE id = ?"), arguments: [id.description]) == true
        {
            return id
        }
        let ids = try String.fetchAll(
            db.cachedStatement(sql: "SELECT id FROM ticket WHERE number = ? AND opened LIMIT 2"),
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

    /// The merge document of a ticket row read with its `id` and `document` columns.
    static func storedDocument(from row: Row) throws -> TicketDocument {
        let id = try storedTicketID(row["id"], in: "ticket table")
        return try readStored { try StoredForm.document(id, from: row["document"]) }
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
