import Foundation
import NIOCore
import PostgresNIO
import Replication
import TicketModel
import WireForms

extension PostgresStore {
    /// Applies a batch of remote ops in one transaction, through the same admission, rights and
    /// merge as the SQLite store; the caller's ack follows the COMMIT. Safe beside other gateways
    /// applying at the same moment: a second copy of the batch finds its ops applied (the vector
    /// moved under the same locks) and changes nothing.
    public func apply(_ batch: [Op], from grant: PeerGrant?, feed: FeedCursor?) async throws -> BatchOutcome {
        guard batch.count <= Op.maxBatchCount else {
            throw PostgresStoreError(.batchTooLarge, "a batch of \(batch.count) ops exceeds the limit of \(Op.maxBatchCount)")
        }
        guard feed == nil else { throw PostgresStoreError(.wrongRole, "this database is HQ's: it reads no feed") }
        let now = clock.nowMillis()
        let me = identity.nodeID
        let clockRules = HybridLogicalClock(last: .zero, maxSkewMillis: maxSkewMillis)
        let logger = logger
        return try await PostgresStore.transaction(client, logger) { connection in
            let db = Transaction(connection: connection, logger: logger)
            try await db.lock(origins: Set(batch.map(\.id.origin)), tickets: Set(batch.map(\.ticket)))
            var lookup = PrefetchedLookup(documents: try await db.documents(Set(batch.map(\.ticket))))
            if let grant { try await Self.authorise(batch, grant, &lookup, db) }
            let admission = BatchAdmission(batch: batch, vector: try await db.vector(), clock: clockRules, wallMillis: now)
            var merge = BatchMerge(documents: lookup.documents)
            for op in admission.accepted { merge.apply(op) }
            try await db.write(merge, me: me)
            return BatchOutcome(
                applied: admission.accepted.count, duplicates: admission.duplicates, deferred: admission.deferred,
                refused: admission.refused, vector: try await db.vector())
        }
    }

    /// Checks the batch against the sender's rights, fetching what the rules ask for as they ask.
    private static func authorise(_ batch: [Op], _ grant: PeerGrant, _ lookup: inout PrefetchedLookup, _ db: Transaction) async throws {
        while true {
            var authorisation = PeerAuthorisation(grant)
            do {
                try authorisation.check(batch, in: &lookup)
                return
            } catch let needed as PrefetchedLookup.Needed {
                switch needed {
                case .op(let id): lookup.ops[id] = .some(try await db.op(id))
                case .feedPosition(let id, let branch): lookup.feedPositions[FeedKey(op: id, branch: branch)] = .some(try await db.feedPosition(of: id, for: branch))
                }
            }
        }
    }
}

/// What the rights rules read, fetched before they run or, when they ask for more, between two
/// runs (`PeerAuthorisation` is synchronous, the database is not).
struct PrefetchedLookup: AuthorisationLookup {
    enum Needed: Error {
        case op(OpID)
        case feedPosition(OpID, NodeID)
    }

    var documents: [TicketID: TicketDocument]
    var ops: [OpID: Op?] = [:]
    var feedPositions: [FeedKey: UInt64?] = [:]

    func document(_ id: TicketID) throws -> TicketDocument? { documents[id] }

    func op(_ id: OpID) throws -> Op? {
        guard let fetched = ops[id] else { throw Needed.op(id) }
        return fetched
    }

    func feedPosition(of id: OpID, for branch: NodeID) throws -> UInt64? {
        guard let fetched = feedPositions[FeedKey(op: id, branch: branch)] else { throw Needed.feedPosition(id, branch) }
        return fetched
    }
}

struct FeedKey: Hashable {
    let op: OpID
    let branch: NodeID
}

/// The in-memory half of an apply: the batch's documents loaded once, its accepted ops merged in
/// order through `TicketDocument.apply`, and what that leaves to write.
struct BatchMerge {
    private(set) var documents: [TicketID: TicketDocument]
    /// The documents as stored before the batch.
    let before: [TicketID: TicketDocument]
    /// The tickets ops changed, in the order first changed.
    private(set) var touched: [TicketID] = []
    private(set) var origins: [TicketID: Set<NodeID>] = [:]
    /// The nodes each touched ticket's ops name as handlers: its origin and every transfer's target.
    private(set) var handlers: [TicketID: Set<NodeID>] = [:]
    private(set) var ops: [Op] = []
    private(set) var entries: [(ticket: TicketID, record: EntryRecord)] = []
    /// The highest seq applied per origin.
    private(set) var applied: [NodeID: UInt64] = [:]

    init(documents: [TicketID: TicketDocument]) {
        self.documents = documents
        before = documents
    }

    mutating func apply(_ op: Op) {
        var document = documents[op.ticket] ?? TicketDocument(id: op.ticket)
        for record in document.apply(op) { entries.append((op.ticket, record)) }
        documents[op.ticket] = document
        if origins[op.ticket] == nil { touched.append(op.ticket) }
        origins[op.ticket, default: []].insert(op.id.origin)
        if op.ticket != .companySettings { handlers[op.ticket, default: [op.ticket.origin]].formUnion(op.transferTargets) }
        applied[op.id.origin] = max(applied[op.id.origin] ?? 0, op.id.seq)
        ops.append(op)
    }
}

/// One apply's transaction: its locks, reads and writes, in the order that keeps gateways apart.
struct Transaction {
    let connection: PostgresConnection
    let logger: Logger

    /// While an apply commits, no branch's feed is built from the log (`openFeed` takes this lock
    /// alone): an op is either in the log the feed is built from or appended to the built feed.
    static let feedsLock: Int64 = 0x4244_4645_4544_5321  // "BDFEEDS!"

    /// Takes the feeds' shared lock, then a lock per origin and per ticket in one ascending order.
    func lock(origins: Set<NodeID>, tickets: Set<TicketID>) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock_shared(\(Self.feedsLock))", logger: logger)
        let keys = Set(origins.map { LockKey.of("origin", $0.rawValue) } + tickets.map { LockKey.of("ticket", $0.description) }).sorted()
        try await connection.query("SELECT pg_advisory_xact_lock(key) FROM unnest(\(keys)::bigint[]) AS key", logger: logger)
    }

    func vector() async throws -> VersionVector {
        try await PostgresStore.vector(connection.query("SELECT origin, seq FROM version_vector", logger: logger))
    }

    func documents(_ tickets: Set<TicketID>) async throws -> [TicketID: TicketDocument] {
        let rows = try await connection.query(
            "SELECT id, document FROM ticket WHERE id = ANY(\(tickets.map(\.description)))", logger: logger)
        var documents: [TicketID: TicketDocument] = [:]
        for try await (text, data) in rows.decode((String, Data).self) {
            guard let id = TicketID(text) else { throw PostgresStoreError(.corrupt, "the ticket table holds a malformed id '\(text)'") }
            do {
                documents[id] = try StoredForm.document(id, from: data)
            } catch {
                throw PostgresStoreError(.corrupt, "ticket \(id) holds a damaged document (\(error)); restore the database from a backup")
            }
        }
        return documents
    }

    func op(_ id: OpID) async throws -> Op? {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: PostgresStore.opColumns), \(unescaped: PostgresStore.storedSize) FROM op
            WHERE origin = \(id.origin.rawValue) AND seq = \(Int64(id.seq))
            """, logger: logger)
        for try await row in rows.decode(PostgresStore.OpRow.self) { return try PostgresStore.op(from: row) }
        return nil
    }

    func feedPosition(of id: OpID, for branch: NodeID) async throws -> UInt64? {
        let rows = try await connection.query(
            "SELECT min(position) FROM feed_entry WHERE node = \(branch.rawValue) AND origin = \(id.origin.rawValue) AND seq = \(Int64(id.seq))",
            logger: logger)
        for try await position in rows.decode(Int64?.self) { return position.map(UInt64.init) }
        return nil
    }

    /// Writes what the merge left: the ops and entries, the tickets and their conflicts, the
    /// handlers and replica scopes, the vector, the feeds, and HQ's counters when its own ops came back.
    func write(_ merge: BatchMerge, me: NodeID) async throws {
        guard !merge.ops.isEmpty else { return }
        let ops = merge.ops
        try await connection.query(
            """
            INSERT INTO op (origin, seq, hlc, ticket, actor, action, changes)
            SELECT * FROM unnest(\(ops.map(\.id.origin.rawValue))::text[], \(ops.map { Int64($0.id.seq) })::bigint[],
                \(ops.map { Int64(bitPattern: $0.hlc.rawValue) })::bigint[], \(ops.map(\.ticket.description))::text[],
                \(ops.map(\.actor))::text[], \(ops.map(\.action))::text[], \(try ops.map { ByteBuffer(bytes: try StoredForm.encode($0.changes)) })::bytea[])
            ON CONFLICT DO NOTHING
            """, logger: logger)
        try await writeEntries(merge.entries)
        let saved = merge.touched.compactMap { merge.documents[$0] }
        try await connection.query(
            """
            INSERT INTO ticket (id, owner, updated_hlc, document)
            SELECT * FROM unnest(\(saved.map(\.id.description))::text[], \(saved.map(\.owner.rawValue))::text[],
                \(saved.map { Int64(bitPattern: $0.lastChange.rawValue) })::bigint[],
                \(try saved.map { ByteBuffer(bytes: try StoredForm.encode($0)) })::bytea[])
            ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, updated_hlc = excluded.updated_hlc, document = excluded.document
            """, logger: logger)
        try await writeConflicts(saved.filter { $0.hasConflicts || merge.before[$0.id]?.hasConflicts == true })
        let newHandlers = try await recordHandlers(merge.handlers)
        try await widenScopes(saved, merge)
        let applied = merge.applied.sorted { $0.key < $1.key }
        try await connection.query(
            """
            INSERT INTO version_vector (origin, seq)
            SELECT * FROM unnest(\(applied.map(\.key.rawValue))::text[], \(applied.map { Int64($0.value) })::bigint[])
            ON CONFLICT (origin) DO UPDATE SET seq = greatest(version_vector.seq, excluded.seq)
            """, logger: logger)
        try await FeedAppend(connection: connection, logger: logger).extend(with: ops, newHandlers: newHandlers)
        let own = ops.filter { $0.id.origin == me }
        if !own.isEmpty {
            // HQ's own ops came back (its database was restored): never number or clock them again.
            let counter = own.filter { $0.ticket.origin == me }.map { Int64($0.ticket.counter) }.max() ?? 0
            try await connection.query(
                """
                UPDATE node SET last_seq = greatest(last_seq, \(Int64(own.map(\.id.seq).max() ?? 0))),
                    ticket_counter = greatest(ticket_counter, \(counter)),
                    hlc = greatest(hlc, \(own.map { Int64(bitPattern: $0.hlc.rawValue) }.max() ?? 0))
                """, logger: logger)
        }
    }

    private func writeEntries(_ entries: [(ticket: TicketID, record: EntryRecord)]) async throws {
        guard !entries.isEmpty else { return }
        let records = entries.map(\.record)
        try await connection.query(
            """
            INSERT INTO entry (origin, seq, position, ticket, hlc, actor, kind, text, body)
            SELECT * FROM unnest(\(records.map(\.op.origin.rawValue))::text[], \(records.map { Int64($0.op.seq) })::bigint[],
                \(records.map { Int32($0.index) })::integer[], \(entries.map(\.ticket.description))::text[],
                \(records.map { Int64(bitPattern: $0.hlc.rawValue) })::bigint[], \(records.map(\.actor))::text[],
                \(records.map(\.entry.kind.rawValue))::text[], \(records.map(\.entry.text))::text[],
                \(try records.map { ByteBuffer(bytes: try StoredForm.encode($0.entry)) })::bytea[])
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    private func writeConflicts(_ documents: [TicketDocument]) async throws {
        guard !documents.isEmpty else { return }
        try await connection.query("DELETE FROM conflict WHERE ticket = ANY(\(documents.map(\.id.description)))", logger: logger)
        let conflicts = documents.flatMap(\.conflicts)
        guard !conflicts.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO conflict (ticket, field, winner, overridden)
            SELECT * FROM unnest(\(conflicts.map(\.ticket.description))::text[], \(conflicts.map(\.field.rawValue))::text[],
                \(try conflicts.map { ByteBuffer(bytes: try StoredForm.encode($0.winner)) })::bytea[],
                \(try conflicts.map { ByteBuffer(bytes: try StoredForm.encode($0.overridden)) })::bytea[])
            """, logger: logger)
    }

    /// Records the handlers the merged ops name; returns, per ticket, those it did not have.
    private func recordHandlers(_ handlers: [TicketID: Set<NodeID>]) async throws -> [TicketID: Set<NodeID>] {
        let pairs = handlers.flatMap { ticket, nodes in nodes.map { (ticket.description, $0.rawValue) } }.sorted { $0 < $1 }
        guard !pairs.isEmpty else { return [:] }
        let rows = try await connection.query(
            """
            INSERT INTO ticket_handler (ticket, node) SELECT * FROM unnest(\(pairs.map(\.0))::text[], \(pairs.map(\.1))::text[])
            ON CONFLICT DO NOTHING RETURNING ticket, node
            """, logger: logger)
        var added: [TicketID: Set<NodeID>] = [:]
        for try await (ticket, node) in rows.decode((String, String).self) {
            if let id = TicketID(ticket) { added[id, default: []].insert(try NodeID(node)) }
        }
        return added
    }

    /// A version-2 branch receives the ops of every origin that wrote on a ticket it handles.
    private func widenScopes(_ saved: [TicketDocument], _ merge: BatchMerge) async throws {
        for document in saved {
            let owner = document.owner
            if merge.before[document.id]?.owner != owner {
                // A new ticket, or one transferred: its owner needs every origin that wrote on it.
                try await connection.query(
                    """
                    INSERT INTO replica_scope (node, origin)
                    SELECT DISTINCT \(owner.rawValue), origin FROM op WHERE ticket = \(document.id.description) AND origin <> \(owner.rawValue)
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            } else {
                let others = (merge.origins[document.id] ?? []).filter { $0 != owner }.map(\.rawValue).sorted()
                guard !others.isEmpty else { continue }
                try await connection.query(
                    """
                    INSERT INTO replica_scope (node, origin) SELECT \(owner.rawValue), origin FROM unnest(\(others)::text[]) AS origin
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }
}

/// Advisory-lock keys: 64 bits of FNV-1a over a kind and a name, stable across processes and builds.
enum LockKey {
    static func of(_ kind: String, _ name: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(kind):\(name)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }
}
