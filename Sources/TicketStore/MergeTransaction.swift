import Foundation
import GRDB
import Replication
import TicketModel

/// Applies ops inside one write transaction: appends them to the op log, advances the version
/// vector, and merges them into the materialised tickets through `TicketDocument.apply`, the one
/// merge function for local and remote ops alike.
///
/// Documents touched by several ops of a batch are loaded once and saved once, at `finish()`.
struct MergeTransaction {
    private let db: Database
    private var documents: [TicketID: TicketDocument] = [:]
    private var touched: [TicketID] = []

    init(_ db: Database) {
        self.db = db
    }

    /// Appends `op` and merges it; the op must be the next seq of its origin.
    mutating func apply(_ op: Op) throws {
        try db.execute(
            sql: "INSERT INTO op (origin, seq, hlc, ticket, actor, action, changes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [
                op.id.origin.rawValue, Int64(op.id.seq), Int64(bitPattern: op.hlc.rawValue), op.ticket.description,
                op.actor, op.action, try Coding.encode(op.changes),
            ])
        try db.execute(
            sql: "INSERT INTO versionVector (origin, seq) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq",
            arguments: [op.id.origin.rawValue, Int64(op.id.seq)])
        var document = try documents[op.ticket] ?? load(op.ticket)
        let entries = document.apply(op)
        if documents.updateValue(document, forKey: op.ticket) == nil { touched.append(op.ticket) }
        for record in entries { try insert(record, ticket: op.ticket) }
    }

    /// Saves every touched ticket with its search text and conflicts.
    func finish() throws {
        for id in touched {
            guard let document = documents[id] else { continue }
            try save(document)
        }
    }

    private func load(_ id: TicketID) throws -> TicketDocument {
        guard let data = try Data.fetchOne(db, sql: "SELECT document FROM ticket WHERE id = ?", arguments: [id.description])
        else { return TicketDocument(id: id) }
        return try Coding.decode(TicketDocument.self, from: data)
    }

    private func insert(_ record: EntryRecord, ticket: TicketID) throws {
        try db.execute(
            sql: """
                INSERT INTO entry (origin, seq, position, ticket, hlc, actor, kind, text, body)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                record.op.origin.rawValue, Int64(record.op.seq), record.index, ticket.description,
                Int64(bitPattern: record.hlc.rawValue), record.actor, record.entry.kind.rawValue, record.entry.text,
                try Coding.encode(record.entry),
            ])
        try db.execute(
            sql: "INSERT INTO ticketSearch (rowid, ticket, text) VALUES (?, ?, ?)",
            arguments: [-db.lastInsertedRowID, ticket.description, record.entry.text])
    }

    private func save(_ document: TicketDocument) throws {
        let id = document.id.description
        let intake = document.intake
        try db.execute(
            sql: """
                INSERT INTO ticket (id, origin, opened, number, title, customer, phone, channel, category, kind,
                    severity, department, assignee, round, stage, escalation, receivedAt, updatedHLC, document)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    opened = excluded.opened, number = excluded.number, title = excluded.title,
                    customer = excluded.customer, phone = excluded.phone, channel = excluded.channel,
                    category = excluded.category, kind = excluded.kind, severity = excluded.severity,
                    department = excluded.department, assignee = excluded.assignee, round = excluded.round,
                    stage = excluded.stage, escalation = excluded.escalation, receivedAt = excluded.receivedAt,
                    updatedHLC = excluded.updatedHLC, document = excluded.document
                """,
            arguments: [
                id, document.id.origin.rawValue, document.isOpened, intake?.number, document.text(.title),
                document.text(.customer), document.text(.phone), intake?.channel.rawValue, document.text(.category),
                document.text(.kind), document.severity.rawValue, document.text(.department),
                document.text(.assignee), document.status.round, document.status.stage.rawValue,
                document.escalationLevel.rawValue, intake?.receivedAt, Int64(bitPattern: document.lastChange.rawValue),
                try Coding.encode(document),
            ])
        let rowID = try Int64.fetchOne(db, sql: "SELECT rowID FROM ticket WHERE id = ?", arguments: [id]) ?? 0
        try db.execute(sql: "DELETE FROM ticketSearch WHERE rowid = ?", arguments: [rowID])
        try db.execute(
            sql: "INSERT INTO ticketSearch (rowid, ticket, text) VALUES (?, ?, ?)",
            arguments: [rowID, id, Self.searchText(of: document)])
        try db.execute(sql: "DELETE FROM conflict WHERE ticket = ?", arguments: [id])
        for conflict in document.conflicts {
            try db.execute(
                sql: "INSERT INTO conflict (ticket, field, winner, overridden) VALUES (?, ?, ?, ?)",
                arguments: [
                    id, conflict.field.rawValue, try Coding.encode(conflict.winner), try Coding.encode(conflict.overridden),
                ])
        }
    }

    /// Everything a clerk may search a ticket by, besides its entries (indexed on their own).
    static func searchText(of document: TicketDocument) -> String {
        var parts = [document.intake?.number ?? "", document.intake?.statement ?? ""]
        let searchable: [Field] = [.title, .customer, .phone, .request, .facts, .department, .assignee, .resolution, .replyMessage]
        parts += (searchable + Field.investigation).map { document.text($0) }
        parts += document.elements(of: .tags)
        return parts.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}

/// The one JSON coding of stored documents and op payloads: sorted keys, so equal values have
/// equal bytes and replica digests can be compared.
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
