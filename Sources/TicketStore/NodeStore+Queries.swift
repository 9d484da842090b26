import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

/// Which tickets `list` shows.
public struct TicketFilter: Sendable, Equatable {
    public var stage: Stage?
    /// Only tickets not closed or rejected.
    public var openOnly = false
    public var severity: Severity?
    public var category: Category?
    public var channel: Channel?
    public var assignee: String?
    public var origin: NodeID?
    public var phone: String?
    /// The node handling the ticket.
    public var branch: NodeID?
    /// Received in this interval.
    public var received: Range<Date>?
    /// Received before this moment and not resolved by it: the backlog of that moment.
    public var unresolvedAt: Date?
    public var limit = 100

    public init() {}
}

/// Counts for `status`.
public struct NodeOverview: Sendable, Encodable, Equatable {
    public let nodeID: String
    public let role: String
    public let branchCode: String
    public let vector: [String: UInt64]
    public let tickets: Int
    public let openTickets: Int
    public let conflicts: Int
    /// Tickets whose approval a person must settle (MERGE.md, "Approvals").
    public let approvalIssues: Int
    public let ops: Int
}

extension NodeStore {
    /// One ticket with its entries, history and conflicts.
    public func ticket(_ reference: String) async throws -> TicketView {
        let identity = identity
        return try await read { db in
            let id = try Self.resolve(reference, db)
            let document = try Self.document(id, db)
            let entries = try Row.fetchAll(
                db, sql: "SELECT origin, seq, position, hlc, actor, body FROM entry WHERE ticket = ? ORDER BY hlc, origin, seq, position",
                arguments: [id.description]
            ).map { row in
                let op = OpID(origin: try NodeID(row["origin"]), seq: UInt64(row["seq"] as Int64))
                return EntryRecord(
                    op: op, index: row["position"],
                    hlc: HLCTimestamp(rawValue: UInt64(bitPattern: row["hlc"])), actor: row["actor"],
                    entry: try readStored { try StoredForm.entry(from: row["body"], of: op) })
            }
            let history = try Row.fetchAll(
                db, sql: "SELECT * FROM op WHERE ticket = ? ORDER BY hlc, origin, seq", arguments: [id.description]
            ).map(Self.op(from:))
            return TicketView(document: document, entries: entries, history: history, viewer: identity)
        }
    }

    /// A number that changes whenever the ticket does, here or by sync: the HLC of its latest op.
    public func version(of reference: String) async throws -> Int64 {
        try await read { db in
            let id = try Self.resolve(reference, db)
            return try Int64.fetchOne(db, sql: "SELECT updatedHLC FROM ticket WHERE id = ?", arguments: [id.description]) ?? 0
        }
    }

    /// Tickets matching `filter`, most recently received first.
    public func tickets(_ filter: TicketFilter) async throws -> [TicketSummary] {
        let (conditions, arguments) = Self.conditions(of: filter)
        let sql = "SELECT * FROM ticket WHERE \(conditions.joined(separator: " AND ")) ORDER BY receivedAt DESC, id LIMIT ?"
        let statementArguments = arguments + [filter.limit]
        let identity = identity
        return try await read { db in try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { Self.summary($0, viewer: identity) } }
    }

    /// The SQL conditions on the `ticket` table that `filter` asks for, with their arguments.
    static func conditions(of filter: TicketFilter) -> ([String], StatementArguments) {
        var conditions = ["opened"]
        var arguments = StatementArguments()
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(condition)
            arguments += [value]
        }
        add("stage = ?", filter.stage?.rawValue)
        add("severity = ?", filter.severity?.rawValue)
        add("category = ?", filter.category?.rawValue)
        add("channel = ?", filter.channel?.rawValue)
        add("assignee = ?", filter.assignee)
        add("origin = ?", filter.origin?.rawValue)
        add("phoneKey = ?", filter.phone.map(PhoneNumber.normalised))
        add("ticket.branch = ?", filter.branch?.rawValue)
        add("receivedAt >= ?", filter.received.map { millis($0.lowerBound) })
        add("receivedAt < ?", filter.received.map { millis($0.upperBound) })
        add("receivedAt < ?", filter.unresolvedAt.map(millis))
        add(
            "ticket.id IN (SELECT ticket FROM deadlineSummary WHERE resolutionMetAt IS NULL OR resolutionMetAt >= ?)",
            filter.unresolvedAt.map(millis))
        if filter.openOnly { conditions.append("stage NOT IN ('closed', 'rejected')") }
        return (conditions, arguments)
    }

    public func search(_ text: String, limit: Int = 100) async throws -> [TicketSummary] {
        let needle = text.trimmingWhitespace()
        guard !needle.isEmpty else { throw DomainError("give the text to search for, e.g. 'branchdesk ticket search 死机'") }
        // The trigram index serves LIKE patterns of 3+ characters but matches nothing for shorter
        // ones, so those (and needles holding LIKE's own wildcards) are a scan with instr().
        let indexed = needle.count >= 3 && !needle.contains(where: { $0 == "%" || $0 == "_" })
        let match = indexed ? "text LIKE '%' || ? || '%'" : "instr(lower(text), lower(?)) > 0"
        let identity = identity
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM ticket WHERE opened AND id IN (SELECT ticket FROM ticketSearch WHERE \(match))
                    ORDER BY receivedAt DESC, id LIMIT ?
                    """,
                arguments: [needle, limit]
            ).map { Self.summary($0, viewer: identity) }
        }
    }

    /// Every open conflict, by ticket number and field.
    public func conflicts() async throws -> [ConflictView] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.ticket, c.field, c.winner, c.overridden, t.number
                    FROM conflict c JOIN ticket t ON t.id = c.ticket ORDER BY t.number, c.ticket, c.field
                    """
            ).map { row in
                guard let ticket = TicketID(row["ticket"] as String), let field = Field(rawValue: row["field"]) else {
                    throw StoreError(.corrupt, "the conflict table holds a malformed row; restore the node from a backup")
                }
                let conflict = FieldConflict(
                    ticket: ticket, field: field, winner: try readStored { try StoredForm.write(from: row["winner"], of: ticket) },
                    overridden: try readStored { try StoredForm.writes(from: row["overridden"], of: ticket) })
                return ConflictView(conflict, number: row["number"] ?? "")
            } + Self.approvalConflicts(db)
        }
    }

    /// Approvals contested by content changed behind them, or replies on unapproved content: the
    /// approval issues besides concurrent decisions (which are the `approval` field's conflicts).
    private static func approvalConflicts(_ db: Database) throws -> [ConflictView] {
        try Row.fetchAll(
            db, sql: "SELECT id, number, document FROM ticket WHERE approvalIssue IS NOT NULL ORDER BY number, id"
        ).flatMap { row -> [ConflictView] in
            let document = try storedDocument(from: row)
            guard let decision = document.registers[.approval]?.winner else { return [] }
            return document.approval.issues.filter { $0 != .concurrentDecisions }.map {
                ConflictView(approvalOf: document.id, number: row["number"] ?? "", decision: decision, issue: $0)
            }
        }
    }

    /// Counts for the status command.
    public func overview() async throws -> NodeOverview {
        let identity = identity
        return try await read { db in
            let vector = try Self.vector(db)
            return NodeOverview(
                nodeID: identity.nodeID.rawValue, role: identity.role.rawValue, branchCode: identity.branchCode.rawValue,
                vector: Dictionary(uniqueKeysWithValues: vector.seqs.map { ($0.key.rawValue, $0.value) }),
                tickets: try Int.fetchOne(db, sql: "SELECT count(*) FROM ticket WHERE opened") ?? 0,
                openTickets: try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM ticket WHERE opened AND stage NOT IN ('closed', 'rejected')") ?? 0,
                conflicts: try Int.fetchOne(db, sql: "SELECT count(*) FROM conflict") ?? 0,
                approvalIssues: try Int.fetchOne(db, sql: "SELECT count(*) FROM ticket WHERE approvalIssue IS NOT NULL") ?? 0,
                ops: Int(vector.total))
        }
    }

    /// A ticket row as a list shows it to `viewer`.
    static func summary(_ row: Row, viewer: NodeIdentity) -> TicketSummary {
        let handledBy: String = row["branch"]
        return TicketSummary(
            id: row["id"], number: row["number"] ?? "", origin: row["origin"], title: row["title"], status: row["stage"],
            round: row["round"], severity: row["severity"], category: row["category"], channel: row["channel"] ?? "",
            customer: row["customer"], phone: row["phone"], assignee: row["assignee"],
            escalation: EscalationLevel(rawValue: row["escalation"])?.name ?? "none",
            receivedAt: Date(millis: row["receivedAt"] ?? 0),
            updatedAt: Date(hlc: HLCTimestamp(rawValue: UInt64(bitPattern: row["updatedHLC"]))), handledBy: handledBy,
            readOnly: !viewer.mayChange(ticketHandledBy: handledBy), approvalIssue: row["approvalIssue"])
    }
}
