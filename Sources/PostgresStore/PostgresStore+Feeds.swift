import Foundation
import PostgresNIO
import Replication
import TicketModel

/// Ticket-scoped replication (SYNC.md §5.5) at an HQ in PostgreSQL: the feed of every branch,
/// numbered in commit order even when several gateways append to it at once.
extension PostgresStore {
    /// The feed of `branch` — its epoch and last position — built from the log the first time:
    /// every op of the company settings and of the tickets the branch handles or handled, but its
    /// own, in the order they were made.
    public func openFeed(for branch: NodeID) async throws -> FeedCursor {
        let logger = logger
        return try await PostgresStore.transaction(client, logger) { connection in
            if let head = try await Self.feedHead(of: branch, connection, logger) { return head }
            // Alone: no apply commits while the feed is built, so none is missed or fed twice.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Transaction.feedsLock))", logger: logger)
            if let head = try await Self.feedHead(of: branch, connection, logger) { return head }
            let epoch = Self.newEpoch()
            try await connection.query(
                """
                INSERT INTO feed_entry (node, position, origin, seq)
                SELECT \(branch.rawValue), row_number() OVER (ORDER BY hlc, origin COLLATE "C", seq), origin, seq FROM op
                WHERE origin <> \(branch.rawValue) AND (ticket = \(TicketID.companySettings.description)
                    OR ticket IN (SELECT ticket FROM ticket_handler WHERE node = \(branch.rawValue)))
                """, logger: logger)
            var count: Int64 = 0
            for try await n in try await connection.query(
                "SELECT count(*)::bigint FROM feed_entry WHERE node = \(branch.rawValue)", logger: logger
            ).decode(Int64.self) { count = n }
            try await connection.query(
                "INSERT INTO feed_head (node, epoch, last_position) VALUES (\(branch.rawValue), \(epoch), \(count))", logger: logger)
            return FeedCursor(epoch: epoch, position: UInt64(count))
        }
    }

    private static func feedHead(of branch: NodeID, _ connection: PostgresConnection, _ logger: Logger) async throws -> FeedCursor? {
        let rows = try await connection.query(
            "SELECT epoch, last_position FROM feed_head WHERE node = \(branch.rawValue)", logger: logger)
        for try await (epoch, position) in rows.decode((String, Int64).self) { return FeedCursor(epoch: epoch, position: UInt64(position)) }
        return nil
    }

    /// The next at most `limit` ops for `branch`, within `maxBytes` but for the first: its own ops
    /// above `ownAfter` (a restored branch pulls them back), then its feed's entries after `position`.
    public func feedOps(for branch: NodeID, ownAfter: UInt64, after position: UInt64, limit: Int, maxBytes: Int) async throws -> FeedRead {
        precondition(limit > 0, "a batch holds at least one op")
        var ops: [Op] = []
        var bytes = 0
        func fits(_ size: Int) -> Bool {
            bytes += size
            return bytes <= maxBytes || ops.isEmpty
        }
        let own = try await client.query(
            """
            SELECT \(unescaped: Self.opColumns), \(unescaped: Self.storedSize) FROM op
            WHERE origin = \(branch.rawValue) AND seq > \(Int64(ownAfter)) ORDER BY seq LIMIT \(limit)
            """, logger: logger)
        var full = false
        for try await row in own.decode(OpRow.self) where !full {
            if fits(row.7) { ops.append(try Self.op(from: row)) } else { full = true }
        }
        guard !full, ops.count < limit else { return FeedRead(ops: ops, position: position) }
        var reached = position
        let entries = try await client.query(
            """
            SELECT \(unescaped: Self.opColumns), \(unescaped: Self.storedSize), feed_entry.position FROM feed_entry
            JOIN op ON op.origin = feed_entry.origin AND op.seq = feed_entry.seq
            WHERE feed_entry.node = \(branch.rawValue) AND feed_entry.position > \(Int64(position))
            ORDER BY feed_entry.position LIMIT \(limit - ops.count)
            """, logger: logger)
        for try await row in entries.decode((String, Int64, Int64, String, String, String, Data, Int, Int64).self) where !full {
            guard fits(row.7) else {
                full = true
                continue
            }
            ops.append(try Self.op(from: (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7)))
            reached = UInt64(row.8)
        }
        return FeedRead(ops: ops, position: reached)
    }

    /// A fresh name for a feed: 16 random bytes in hex.
    static func newEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Appends an apply's ops to the feeds of the branches that handle their tickets, inside the
/// apply's transaction, as the SQLite store's `FeedLog.extend` does.
struct FeedAppend {
    let connection: PostgresConnection
    let logger: Logger

    /// Every branch with a feed gets the ops of the tickets it handles (all ops of the company
    /// settings), never its own; a branch that has just become a ticket's handler gets the
    /// ticket's whole history instead.
    func extend(with ops: [Op], newHandlers: [TicketID: Set<NodeID>]) async throws {
        var fed: Set<String> = []
        for try await node in try await connection.query("SELECT node FROM feed_head", logger: logger).decode(String.self) { fed.insert(node) }
        guard !fed.isEmpty else { return }
        let tickets = Set(ops.map(\.ticket.description)).sorted()
        var handlers: [String: Set<String>] = [:]
        for try await (ticket, node) in try await connection.query(
            "SELECT ticket, node FROM ticket_handler WHERE ticket = ANY(\(tickets))", logger: logger
        ).decode((String, String).self) { handlers[ticket, default: []].insert(node) }

        var entries: [String: [(origin: String, seq: Int64)]] = [:]
        var backfilled: Set<String> = []
        for op in ops {
            let ticket = op.ticket.description
            let fresh = Set((newHandlers[op.ticket] ?? []).map(\.rawValue)).intersection(fed)
            let existing = (op.ticket == .companySettings ? fed : (handlers[ticket] ?? []).intersection(fed)).subtracting(fresh)
            for node in existing.sorted() where node != op.id.origin.rawValue {
                entries[node, default: []].append((op.id.origin.rawValue, Int64(op.id.seq)))
            }
            for node in fresh.sorted() where backfilled.insert("\(node) \(ticket)").inserted {
                entries[node, default: []] += try await history(of: ticket, excluding: node)
            }
        }
        // The heads in node order: two applies feeding the same branches queue, never deadlock,
        // and positions follow commit order (a head stays locked until its apply commits).
        for (node, list) in entries.sorted(by: { $0.key < $1.key }) where !list.isEmpty {
            var last: Int64 = 0
            for try await end in try await connection.query(
                "UPDATE feed_head SET last_position = last_position + \(Int64(list.count)) WHERE node = \(node) RETURNING last_position",
                logger: logger
            ).decode(Int64.self) { last = end }
            let first = last - Int64(list.count) + 1
            try await connection.query(
                """
                INSERT INTO feed_entry (node, position, origin, seq)
                SELECT \(node), \(first) + ordinality - 1, origin, seq
                FROM unnest(\(list.map(\.origin))::text[], \(list.map(\.seq))::bigint[]) WITH ORDINALITY AS e(origin, seq, ordinality)
                """, logger: logger)
        }
    }

    /// The ops of `ticket` not made by `node`, in the order they were made.
    private func history(of ticket: String, excluding node: String) async throws -> [(origin: String, seq: Int64)] {
        var list: [(origin: String, seq: Int64)] = []
        for try await (origin, seq) in try await connection.query(
            "SELECT origin, seq FROM op WHERE ticket = \(ticket) AND origin <> \(node) ORDER BY hlc, origin COLLATE \"C\", seq",
            logger: logger
        ).decode((String, Int64).self) { list.append((origin, seq)) }
        return list
    }
}
