import GRDB
import Replication
import TicketModel

/// Ticket-scoped replication (SYNC.md §5.5): HQ keeps a feed for every branch, which reads it
/// with a cursor of its own.
extension NodeStore {
    // MARK: At HQ

    /// The feed of `branch` — its epoch and last position — built from the log the first time.
    public func openFeed(for branch: NodeID) async throws -> FeedCursor {
        try await write { db in try FeedLog.open(for: branch, db) }
    }

    /// The next at most `limit` ops for `branch`, stopping before their stored size passes
    /// `maxBytes` (at least one op when any is due): first its own ops above `ownAfter` (a
    /// restored branch pulls them back), then its feed's entries after `position`.
    public func feedOps(for branch: NodeID, ownAfter: UInt64, after position: UInt64, limit: Int, maxBytes: Int) async throws -> FeedRead {
        precondition(limit > 0, "a batch holds at least one op")
        return try await read { db in
            var ops: [Op] = []
            var bytes = 0
            func fits(_ row: Row) throws -> Bool {
                bytes += row["size"] as Int
                return bytes <= maxBytes || ops.isEmpty
            }
            let own = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT *, \(Self.storedSize) AS size FROM op WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?"),
                arguments: [branch.rawValue, Int64(ownAfter), limit])
            while let row = try own.next() {
                guard try fits(row) else { return FeedRead(ops: ops, position: position) }
                ops.append(try Self.op(from: row))
            }
            var reached = position
            guard ops.count < limit else { return FeedRead(ops: ops, position: reached) }
            let entries = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT feedEntry.position, op.*, \(Self.storedSize) AS size FROM feedEntry
                        JOIN op ON op.origin = feedEntry.origin AND op.seq = feedEntry.seq
                        WHERE feedEntry.node = ? AND feedEntry.position > ? ORDER BY feedEntry.position LIMIT ?
                        """),
                arguments: [branch.rawValue, Int64(position), limit - ops.count])
            while let row = try entries.next() {
                guard try fits(row) else { break }
                ops.append(try Self.op(from: row))
                reached = UInt64(row["position"] as Int64)
            }
            return FeedRead(ops: ops, position: reached)
        }
    }

    /// Drops every branch's feed, as a restore from a backup does: each is built again from the
    /// log at the branch's next session, with a new epoch, and the branch reads it from 0.
    public func resetFeeds() async throws {
        try await write(FeedLog.reset)
    }

    /// Where op `id` stands in the feed of `branch`; nil when the feed does not hold it.
    static func feedPosition(of id: OpID, for branch: NodeID, _ db: Database) throws -> UInt64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT min(position) FROM feedEntry WHERE node = ? AND origin = ? AND seq = ?"),
            arguments: [branch.rawValue, id.origin.rawValue, Int64(id.seq)]
        ).map(UInt64.init)
    }

    /// The stored size of an op row, as the batch byte budget counts it.
    static let storedSize = "length(changes) + length(actor) + length(action) + 64"

    /// The nodes that handle or handled the ticket: the node that opened it and every node a
    /// transfer named. They are the nodes that receive its ops.
    public func handlers(of ticket: TicketID) async throws -> Set<NodeID> {
        try await read { db in
            Set(try String.fetchAll(db, sql: "SELECT node FROM ticketHandler WHERE ticket = ?", arguments: [ticket.description]).map(NodeID.init))
        }
    }

    /// Every ticket this replica holds a document of, opened or not (the company settings aside).
    public func heldTickets() async throws -> [TicketID] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT id FROM ticket WHERE id != ? ORDER BY id", arguments: [TicketID.companySettings.description])
                .map { try storedTicketID($0, in: "ticket") }
        }
    }

    // MARK: At a branch

    /// This branch's place in HQ's feed; nil until its first version-3 session.
    public func feedCursor() async throws -> FeedCursor? {
        try await read(Self.feedCursor)
    }

    static func feedCursor(_ db: Database) throws -> FeedCursor? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT epoch, position FROM feedCursor")).map {
            FeedCursor(epoch: $0["epoch"], position: UInt64($0["position"] as Int64))
        }
    }

    /// Starts reading HQ's feed named `epoch` and returns the place to read from: where this
    /// branch is in it, or 0 for a feed it has not read. The first time — a branch that synced by
    /// origin before (version 2) — it removes every ticket it never handled: other branches'
    /// customers it was sent under the old scope, and documents it never saw opened.
    public func adoptFeed(epoch: String) async throws -> FeedCursor {
        let me = identity.nodeID
        let documents = documents
        return try await write { db in
            if let held = try Self.feedCursor(db) {
                guard held.epoch != epoch else { return held }
                try db.execute(sql: "UPDATE feedCursor SET epoch = ?, position = 0", arguments: [epoch])
                return FeedCursor(epoch: epoch, position: 0)
            }
            try Self.removeTicketsNeverHandled(by: me, db)
            documents.stageRemovingAll()
            try db.execute(sql: "INSERT INTO feedCursor (epoch, position) VALUES (?, 0)", arguments: [epoch])
            return FeedCursor(epoch: epoch, position: 0)
        }
    }

    private static func removeTicketsNeverHandled(by me: NodeID, _ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TEMP TABLE foreignTicket AS SELECT DISTINCT ticket FROM op
                WHERE ticket != ? AND ticket NOT IN (SELECT ticket FROM ticketHandler WHERE node = ?)
                """,
            arguments: [TicketID.companySettings.description, me.rawValue])
        for (table, column) in [
            ("op", "ticket"), ("entry", "ticket"), ("ticketSearch", "ticket"), ("conflict", "ticket"),
            ("deadlineSummary", "ticket"), ("ticketHandler", "ticket"), ("ticket", "id"),
        ] {
            try db.execute(sql: "DELETE FROM \(table) WHERE \(column) IN foreignTicket")
        }
        try db.execute(sql: "DROP TABLE foreignTicket")
        try db.execute(sql: "DELETE FROM versionVector WHERE origin != ?", arguments: [me.rawValue])
        try db.execute(
            sql: "INSERT INTO versionVector (origin, seq) SELECT origin, max(seq) FROM op WHERE origin != ? GROUP BY origin",
            arguments: [me.rawValue])
    }
}
