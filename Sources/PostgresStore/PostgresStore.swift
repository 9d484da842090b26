import Foundation
import Logging
import PostgresNIO
import Replication
import TicketModel
import WireForms

/// HQ's replica in PostgreSQL: the store contract (`ReplicaStore`) over one database that several
/// `branchdesk serve` gateways share. It merges ops through the same `TicketDocument.apply` as the
/// SQLite store and keeps documents and entries in the same stored forms, so equal op sets have
/// equal digests on either engine.
///
/// Every transaction runs at READ COMMITTED. What keeps concurrent gateways correct is the order
/// in which an apply takes its locks — the feeds' shared lock, then one advisory lock per origin
/// and per ticket, all in one ascending order, then the feed heads by node — so that two applies
/// of the same origin or the same tickets wait for each other and never deadlock.
public final class PostgresStore: ReplicaStore, Sendable {
    public let identity: NodeIdentity
    let client: PostgresClient
    let clock: any WallClock
    let logger: Logger
    /// How far ahead of this node's clock a remote op's clock may be.
    let maxSkewMillis: UInt64

    private init(client: PostgresClient, identity: NodeIdentity, maxSkewMillis: UInt64, clock: any WallClock, logger: Logger) {
        self.client = client
        self.identity = identity
        self.maxSkewMillis = maxSkewMillis
        self.clock = clock
        self.logger = logger
    }

    /// Makes HQ's node in an empty database (migrating it first), refusing one that holds a node.
    /// `client` must be running.
    public static func create(
        client: PostgresClient, identity: NodeIdentity, clock: any WallClock, logger: Logger
    ) async throws -> PostgresStore {
        try await PostgresSchema.migrate(client, logger: logger)
        let skew = Int64(HybridLogicalClock.defaultMaxSkewMillis)
        try await PostgresStore.transaction(client, logger) { connection in
            let existing = try await connection.query("SELECT node_id FROM node", logger: logger).decode(String.self)
            for try await node in existing {
                throw PostgresStoreError(.notANode, "the database holds node '\(node)' already: give an empty database")
            }
            try await connection.query(
                """
                INSERT INTO node (node_id, role, branch_code, time_zone, created_at, hlc, last_seq, ticket_counter, max_skew_millis)
                VALUES (\(identity.nodeID.rawValue), \(identity.role.rawValue), \(identity.branchCode.rawValue),
                    \(identity.timeZone), \(Int64(clock.nowMillis())), 0, 0, 0, \(skew))
                """, logger: logger)
        }
        return PostgresStore(client: client, identity: identity, maxSkewMillis: UInt64(skew), clock: clock, logger: logger)
    }

    /// Opens the node a database holds, migrating its schema first. `client` must be running.
    public static func open(client: PostgresClient, clock: any WallClock, logger: Logger) async throws -> PostgresStore {
        try await PostgresSchema.migrate(client, logger: logger)
        let rows = try await client.query(
            "SELECT node_id, role, branch_code, time_zone, max_skew_millis FROM node", logger: logger
        ).decode((String, String, String, String, Int64).self)
        for try await (node, role, code, zone, skew) in rows {
            guard let role = NodeRole(rawValue: role) else { throw PostgresStoreError(.corrupt, "the node row names an unknown role '\(role)'") }
            let identity = NodeIdentity(nodeID: try NodeID(node), role: role, branchCode: try BranchCode(code), timeZone: zone)
            return PostgresStore(client: client, identity: identity, maxSkewMillis: UInt64(skew), clock: clock, logger: logger)
        }
        throw PostgresStoreError(.notANode, "the database holds no Branchdesk node: create HQ's node in it first")
    }

    /// Runs `body` in one transaction, committed when it returns; what `body` throws comes out as
    /// itself (a refusal stays a refusal), not wrapped in the client's transaction error.
    static func transaction<T>(
        _ client: PostgresClient, _ logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending T
    ) async throws -> sending T {
        do {
            return try await client.withTransaction(logger: logger, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    // MARK: Reads

    public func versionVector() async throws -> VersionVector {
        try await Self.vector(client.query("SELECT origin, seq FROM version_vector", logger: logger))
    }

    static func vector(_ rows: PostgresRowSequence) async throws -> VersionVector {
        var seqs: [NodeID: UInt64] = [:]
        for try await (origin, seq) in rows.decode((String, Int64).self) { seqs[try NodeID(origin)] = UInt64(seq) }
        return VersionVector(seqs)
    }

    public func opsMissing(by peer: VersionVector, limit: Int, origins: Set<NodeID>?, maxBytes: Int) async throws -> [Op] {
        precondition(limit > 0, "a batch holds at least one op")
        var batch: [Op] = []
        var bytes = 0
        for (origin, seq) in try await versionVector().seqs.sorted(by: { $0.key < $1.key })
        where seq > peer[origin] && origins?.contains(origin) ?? true {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Self.opColumns), \(unescaped: Self.storedSize) FROM op
                WHERE origin = \(origin.rawValue) AND seq > \(Int64(peer[origin])) ORDER BY seq LIMIT \(limit - batch.count)
                """, logger: logger)
            for try await row in rows.decode(OpRow.self) {
                bytes += row.7
                if bytes > maxBytes, !batch.isEmpty { return batch }
                batch.append(try Self.op(from: row))
            }
            if batch.count == limit { break }
        }
        return batch
    }

    public func opCount() async throws -> UInt64 {
        let rows = try await client.query("SELECT coalesce(sum(seq), 0)::bigint FROM version_vector", logger: logger)
        for try await count in rows.decode(Int64.self) { return UInt64(count) }
        return 0
    }

    public func replicationScope(for node: NodeID) async throws -> Set<NodeID> {
        var scope: Set<NodeID> = [node, identity.nodeID]
        let rows = try await client.query("SELECT origin FROM replica_scope WHERE node = \(node.rawValue)", logger: logger)
        for try await origin in rows.decode(String.self) { scope.insert(try NodeID(origin)) }
        return scope
    }

    /// The same digest as the SQLite store's `digest(handledBy:)` for the same ops (`ReplicaDigest`).
    public func digest(handledBy node: NodeID? = nil) async throws -> String {
        var digest = ReplicaDigest()
        let owner = node?.rawValue
        let tickets = try await client.query(
            "SELECT id, document FROM ticket WHERE \(owner)::text IS NULL OR owner = \(owner) ORDER BY id COLLATE \"C\"",
            logger: logger)
        for try await (id, document) in tickets.decode((String, Data).self) { digest.addTicket(id: id, document: document) }
        let entries = try await client.query(
            """
            SELECT entry.origin, entry.seq, entry.position, entry.ticket, entry.body FROM entry
            JOIN ticket ON ticket.id = entry.ticket
            WHERE \(owner)::text IS NULL OR ticket.owner = \(owner)
            ORDER BY entry.origin COLLATE "C", entry.seq, entry.position
            """, logger: logger)
        for try await (origin, seq, position, ticket, body) in entries.decode((String, Int64, Int32, String, Data).self) {
            digest.addEntry(origin: origin, seq: seq, position: Int(position), ticket: ticket, body: body)
        }
        return digest.finalize()
    }

    // MARK: Peers and certificates

    public func isRevoked(serial: String) async throws -> Bool {
        let rows = try await client.query("SELECT 1 FROM revoked_certificate WHERE serial = \(serial.lowercased())", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// HQ in PostgreSQL is restored with the database (base backups and WAL archiving), never
    /// from an older copy of its own ops: it holds its own ops whole.
    public func beginRecovery(untilSeq seq: UInt64) async throws -> UInt64 {
        let me = identity.nodeID.rawValue
        return try await PostgresStore.transaction(client, logger) { connection in
            try await connection.query("UPDATE node SET recover_until_seq = greatest(recover_until_seq, \(Int64(seq)))", logger: logger)
            let rows = try await connection.query("SELECT seq FROM version_vector WHERE origin = \(me)", logger: logger)
            for try await held in rows.decode(Int64.self) { return UInt64(held) }
            return 0
        }
    }

    // MARK: A branch's side of the feed: HQ reads none

    public func feedCursor() async throws -> FeedCursor? { nil }

    public func adoptFeed(epoch: String) async throws -> FeedCursor {
        throw PostgresStoreError(.wrongRole, "this database is HQ's: HQ serves feeds to branches and reads none")
    }
}

// MARK: Op rows

extension PostgresStore {
    /// An op row with its stored size, as `opColumns` and `storedSize` select it.
    typealias OpRow = (String, Int64, Int64, String, String, String, Data, Int)

    static let opColumns = "op.origin, op.seq, op.hlc, op.ticket, op.actor, op.action, op.changes"
    /// The stored size of an op row, as the batch byte budget counts it (as the SQLite store does).
    static let storedSize = "(length(op.changes) + length(op.actor) + length(op.action) + 64)::bigint"

    static func op(from row: OpRow) throws -> Op {
        guard let ticket = TicketID(row.3) else { throw PostgresStoreError(.corrupt, "the op log holds a malformed ticket id '\(row.3)'") }
        let id = OpID(origin: try NodeID(row.0), seq: UInt64(row.1))
        let changes: [Change]
        do {
            changes = try StoredForm.changes(from: row.6, of: id)
        } catch {
            throw PostgresStoreError(.corrupt, "op \(id) holds damaged changes (\(error)); restore the database from a backup")
        }
        return Op(id: id, hlc: HLCTimestamp(rawValue: UInt64(bitPattern: row.2)), ticket: ticket, actor: row.4, action: row.5, changes: changes)
    }
}
