import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

/// Applies ops inside one write transaction: appends them to the op log, advances the version
/// vector, and merges them into the materialised tickets through `TicketDocument.apply`, the one
/// merge function for local and remote ops alike.
///
/// Documents touched by several ops of a batch are loaded once and saved once, at `finish()`;
/// documents come from the node's `DocumentCache`, which keeps them after the commit.
struct MergeTransaction {
    private let db: Database
    private let cache: DocumentCache
    private var documents: [TicketID: TicketDocument] = [:]
    /// The tickets ops changed, in the order first changed.
    private var touched: [TicketID] = []
    /// The stored documents as they were before this transaction, to rewrite only the columns,
    /// search text and conflicts that ops changed (most ops change none of them).
    private var before: [TicketID: TicketDocument] = [:]
    /// The origins of the ops applied to each touched ticket, for the replica scope of its owner.
    private var origins: [TicketID: Set<NodeID>] = [:]
    /// The tickets whose deadlines an op may have moved (`DeadlineSummary.depends(on:)`).
    private var deadlinesMoved: Set<TicketID> = []
    /// The highest seq applied per origin, written to the version vector at `finish()`.
    private var applied: [NodeID: UInt64] = [:]
    /// The nodes each touched ticket's ops name as handlers: its origin and every transfer's target.
    private var handlers: [TicketID: Set<NodeID>] = [:]
    /// The ops newly appended to the log, in order, for the branches' feeds (a replay feeds nothing).
    private var appended: [(ticket: TicketID, op: OpID)] = []

    init(_ db: Database, cache: DocumentCache) throws {
        self.db = db
        self.cache = cache
        try cache.validate(db)
    }

    /// The ticket's document as this transaction has it so far; empty if no op of it was applied.
    mutating func document(_ id: TicketID) throws -> TicketDocument {
        if let document = documents[id] { return document }
        let document = try cache.document(id, db) ?? TicketDocument(id: id)
        if document.lastChange != .zero { before[id] = document }
        documents[id] = document
        return document
    }

    /// Appends `op` and merges it; the op must be the next seq of its origin. `encodedChanges` is
    /// the stored form of its changes when the caller has it already.
    mutating func apply(_ op: Op, encodedChanges: Data? = nil) throws {
        try db.cachedStatement(sql: "INSERT INTO op (origin, seq, hlc, ticket, actor, action, changes) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [
                op.id.origin.rawValue, Int64(op.id.seq), Int64(bitPattern: op.hlc.rawValue), op.ticket.description,
                op.actor, op.action, try encodedChanges ?? StoredForm.encode(op.changes),
            ])
        applied[op.id.origin] = max(applied[op.id.origin] ?? 0, op.id.seq)
        appended.append((op.ticket, op.id))
        try replay(op)
    }

    /// Merges an op the log already holds into the tickets (rebuilding what derives from the log).
    mutating func replay(_ op: Op) throws {
        var document = try document(op.ticket)
        let entries = document.apply(op)
        documents[op.ticket] = document
        if origins[op.ticket] == nil { touched.append(op.ticket) }
        origins[op.ticket, default: []].insert(op.id.origin)
        if op.changes.contains(where: DeadlineSummary.depends(on:)) { deadlinesMoved.insert(op.ticket) }
        if op.ticket != .companySettings {
            handlers[op.ticket, default: [op.ticket.origin]].formUnion(op.transferTargets)
        }
        for record in entries { try insert(record, ticket: op.ticket) }
    }

    /// Advances the version vector, saves every touched ticket with its search text and
    /// conflicts, and extends the branches' feeds; the cache keeps the touched documents once the
    /// transaction commits (`NodeStore.write`).
    func finish() throws {
        for (origin, seq) in applied {
            // The maximum: a branch reading HQ's feed holds other origins' ops scattered (SYNC.md §5.5).
            try db.cachedStatement(
                sql: "INSERT INTO versionVector (origin, seq) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)"
            ).execute(arguments: [origin.rawValue, Int64(seq)])
        }
        let newHandlers = try FeedLog.recordHandlers(handlers, db)
        try FeedLog.extend(with: appended, newHandlers: newHandlers, db)
        let saved = touched.compactMap { documents[$0] }
        for document in saved { try save(document, before: before[document.id]) }
        try DeadlineSummary.refresh(saved.filter { $0.id == .companySettings || deadlinesMoved.contains($0.id) }, db)
        cache.stage(saved)
    }

    private func insert(_ record: EntryRecord, ticket: TicketID) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO entry (origin, seq, position, ticket, hlc, actor, kind, text, body)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                record.op.origin.rawValue, Int64(record.op.seq), record.index, ticket.description,
                Int64(bitPattern: record.hlc.rawValue), record.actor, record.entry.kind.rawValue, record.entry.text,
                try StoredForm.encode(record.entry),
            ])
        try db.cachedStatement(sql: "INSERT INTO ticketSearch (rowid, ticket, text) VALUES (?, ?, ?)")
            .execute(arguments: [-db.lastInsertedRowID, ticket.description, record.entry.text])
    }

    private func save(_ document: TicketDocument, before: TicketDocument?) throws {
        let id = document.id.description
        let columns = TicketColumns(document)
        if let before, TicketColumns(before) == columns {
            try db.cachedStatement(sql: "UPDATE ticket SET updatedHLC = ?, document = ? WHERE id = ?")
                .execute(arguments: [Int64(bitPattern: document.lastChange.rawValue), try StoredForm.encode(document), id])
        } else {
            try db.cachedStatement(
                sql: """
                    INSERT INTO ticket (id, origin, opened, number, title, customer, phone, channel, category, kind,
                        severity, department, assignee, round, stage, escalation, receivedAt, phoneKey, branch,
                        approvalIssue, updatedHLC, document)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        opened = excluded.opened, number = excluded.number, title = excluded.title,
                        customer = excluded.customer, phone = excluded.phone, channel = excluded.channel,
                        category = excluded.category, kind = excluded.kind, severity = excluded.severity,
                        department = excluded.department, assignee = excluded.assignee, round = excluded.round,
                        stage = excluded.stage, escalation = excluded.escalation, receivedAt = excluded.receivedAt,
                        phoneKey = excluded.phoneKey, branch = excluded.branch, approvalIssue = excluded.approvalIssue,
                        updatedHLC = excluded.updatedHLC, document = excluded.document
                    """
            ).execute(
                arguments: StatementArguments(
                    [id, document.id.origin.rawValue] + columns.arguments + [
                        Int64(bitPattern: document.lastChange.rawValue), try StoredForm.encode(document),
                    ]))
        }
        if before.map({ !Self.searchInputsEqual($0, document) }) ?? true {
            let rowID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT rowID FROM ticket WHERE id = ?"), arguments: [id]) ?? 0
            try db.cachedStatement(sql: "DELETE FROM ticketSearch WHERE rowid = ?").execute(arguments: [rowID])
            try db.cachedStatement(sql: "INSERT INTO ticketSearch (rowid, ticket, text) VALUES (?, ?, ?)")
                .execute(arguments: [rowID, id, Self.searchText(of: document)])
        }
        let owner = document.owner
        if before?.owner != owner {
            // A new ticket, or one transferred: its owner needs the ops of every origin that wrote on it.
            try Self.widenScope(db, of: owner, toOriginsOf: document.id)
        } else {
            for origin in origins[document.id] ?? [] where origin != owner {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO replicaScope (node, origin) VALUES (?, ?)")
                    .execute(arguments: [owner.rawValue, origin.rawValue])
            }
        }
        guard before?.hasConflicts == true || document.hasConflicts else { return }
        try db.cachedStatement(sql: "DELETE FROM conflict WHERE ticket = ?").execute(arguments: [id])
        for conflict in document.conflicts {
            try db.cachedStatement(sql: "INSERT INTO conflict (ticket, field, winner, overridden) VALUES (?, ?, ?, ?)")
                .execute(arguments: [
                    id, conflict.field.rawValue, try StoredForm.encode(conflict.winner),
                    try StoredForm.encode(conflict.overridden),
                ])
        }
    }

    /// Records that `node` must receive the ops of every origin that wrote on `ticket`.
    static func widenScope(_ db: Database, of node: NodeID, toOriginsOf ticket: TicketID) throws {
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO replicaScope (node, origin) SELECT DISTINCT ?, origin FROM op WHERE ticket = ? AND origin != ?"
        ).execute(arguments: [node.rawValue, ticket.description, node.rawValue])
    }

    /// The fields besides the intake and the tags that a ticket's search text holds.
    private static let searchableFields: [Field] =
        [.title, .customer, .phone, .request, .facts, .department, .assignee, .resolution, .replyMessage]
        + Field.investigation

    /// Whether two versions of a document have the same search text, without building it.
    private static func searchInputsEqual(_ one: TicketDocument, _ other: TicketDocument) -> Bool {
        one.intake == other.intake && one.elements(of: .tags) == other.elements(of: .tags)
            && searchableFields.allSatisfy { one[$0] == other[$0] }
    }

    /// Everything a clerk may search a ticket by, besides its entries (indexed on their own).
    static func searchText(of document: TicketDocument) -> String {
        var parts = [document.intake?.number ?? "", document.intake?.statement ?? ""]
        parts += searchableFields.map { document.text($0) }
        parts += document.elements(of: .tags)
        return parts.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}

/// The ticket table's query columns, derived from the document.
private struct TicketColumns: Equatable {
    let opened: Bool
    let number: String?
    let title, customer, phone: String
    let channel: String?
    let category, kind: String
    let severity: Int
    let department, assignee: String
    let round: Int
    let stage: String
    let escalation: Int
    let receivedAt: Int64?
    let phoneKey, branch: String
    let approvalIssue: String?

    init(_ document: TicketDocument) {
        opened = document.isOpened
        number = document.intake?.number
        title = document.text(.title)
        customer = document.text(.customer)
        phone = document.text(.phone)
        channel = document.intake?.channel.rawValue
        category = document.text(.category)
        kind = document.text(.kind)
        severity = document.severity.rawValue
        department = document.text(.department)
        assignee = document.text(.assignee)
        round = document.status.round
        stage = document.processStage.rawValue
        escalation = document.escalationLevel.rawValue
        receivedAt = document.intake?.receivedAt
        phoneKey = PhoneNumber.normalised(phone)
        branch = document.owner.rawValue
        approvalIssue = document.approval.issues.first?.code
    }

    /// In the order of the ticket table's columns from `opened` to `approvalIssue`.
    var arguments: [(any DatabaseValueConvertible)?] {
        [
            opened, number, title, customer, phone, channel, category, kind, severity, department, assignee, round, stage,
            escalation, receivedAt, phoneKey, branch, approvalIssue,
        ]
    }
}

/// The JSON the store keeps settings and peer vectors in (and, before schema v4, documents and
/// op payloads): sorted keys, so equal values have equal bytes.
enum Coding {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }
}
