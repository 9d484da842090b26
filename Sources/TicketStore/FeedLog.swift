import Foundation
import GRDB
import Replication
import TicketModel

/// The tables of ticket-scoped replication (SYNC.md §5.5): every ticket's handlers, kept on every
/// node, and at HQ the feed of each branch — the ops HQ sends it, numbered in commit order.
enum FeedLog {
    /// Records the handlers the merged ops name; returns, per ticket, those it did not have.
    static func recordHandlers(_ handlers: [TicketID: Set<NodeID>], _ db: Database) throws -> [TicketID: Set<NodeID>] {
        var added: [TicketID: Set<NodeID>] = [:]
        for (ticket, nodes) in handlers {
            for node in nodes {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO ticketHandler (ticket, node) VALUES (?, ?)")
                    .execute(arguments: [ticket.description, node.rawValue])
                if db.changesCount > 0 { added[ticket, default: []].insert(node) }
            }
        }
        return added
    }

    /// Appends ops newly committed to the feeds of the branches that handle their tickets (all
    /// branches, for the company settings), but never a branch's own ops; a branch that has just
    /// become a ticket's handler (a transfer) gets the ticket's whole history instead.
    static func extend(with appended: [(ticket: TicketID, op: OpID)], newHandlers: [TicketID: Set<NodeID>], _ db: Database) throws {
        guard !appended.isEmpty else { return }
        let fed = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT node FROM feedHead")))
        guard !fed.isEmpty else { return }
        var recipients: [TicketID: (existing: [String], fresh: [String])] = [:]
        var backfilled: Set<String> = []
        var entries: [String: [(origin: String, seq: Int64)]] = [:]
        for (ticket, op) in appended {
            if recipients[ticket] == nil {
                let fresh = Set((newHandlers[ticket] ?? []).map(\.rawValue)).intersection(fed)
                let existing =
                    ticket == .companySettings
                    ? fed
                    : Set(try String.fetchAll(
                        db.cachedStatement(sql: "SELECT node FROM ticketHandler WHERE ticket = ?"), arguments: [ticket.description]))
                        .intersection(fed).subtracting(fresh)
                recipients[ticket] = (existing.sorted(), fresh.sorted())
            }
            let (existing, fresh) = recipients[ticket]!
            for node in existing where node != op.origin.rawValue {
                entries[node, default: []].append((op.origin.rawValue, Int64(op.seq)))
            }
            for node in fresh where backfilled.insert("\(node) \(ticket)").inserted {
                entries[node, default: []] += try history(of: ticket, excluding: node, db)
            }
        }
        for (node, list) in entries { try append(list, to: node, db) }
    }

    /// The ops of `ticket` not made by `node`, in the order they were made.
    private static func history(of ticket: TicketID, excluding node: String, _ db: Database) throws -> [(origin: String, seq: Int64)] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT origin, seq FROM op WHERE ticket = ? AND origin != ? ORDER BY hlc, origin, seq"),
            arguments: [ticket.description, node]
        ).map { ($0["origin"], $0["seq"]) }
    }

    private static func append(_ list: [(origin: String, seq: Int64)], to node: String, _ db: Database) throws {
        var position = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT lastPosition FROM feedHead WHERE node = ?"), arguments: [node]) ?? 0
        for entry in list {
            position += 1
            try db.cachedStatement(sql: "INSERT INTO feedEntry (node, position, origin, seq) VALUES (?, ?, ?, ?)")
                .execute(arguments: [node, position, entry.origin, entry.seq])
        }
        try db.cachedStatement(sql: "UPDATE feedHead SET lastPosition = ? WHERE node = ?").execute(arguments: [position, node])
    }

    /// The feed of `node`, built from the log the first time: every op of the company settings and
    /// of the tickets `node` handles or handled, but its own, in the order they were made.
    static func open(for node: NodeID, _ db: Database) throws -> FeedCursor {
        if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT epoch, lastPosition FROM feedHead WHERE node = ?"), arguments: [node.rawValue])
        {
            return FeedCursor(epoch: row["epoch"], position: UInt64(row["lastPosition"] as Int64))
        }
        let epoch = newEpoch()
        try db.execute(
            sql: """
                INSERT INTO feedEntry (node, position, origin, seq)
                SELECT ?, row_number() OVER (ORDER BY hlc, origin, seq), origin, seq FROM op
                WHERE origin != ?1 AND (ticket = ? OR ticket IN (SELECT ticket FROM ticketHandler WHERE node = ?1))
                """,
            arguments: [node.rawValue, TicketID.companySettings.description])
        let count = try Int64.fetchOne(db, sql: "SELECT count(*) FROM feedEntry WHERE node = ?", arguments: [node.rawValue]) ?? 0
        try db.execute(
            sql: "INSERT INTO feedHead (node, epoch, lastPosition) VALUES (?, ?, ?)", arguments: [node.rawValue, epoch, count])
        return FeedCursor(epoch: epoch, position: UInt64(count))
    }

    /// Drops every branch's feed; each is built again, with a new epoch, at the branch's next session.
    static func reset(_ db: Database) throws {
        try db.execute(sql: "DELETE FROM feedEntry")
        try db.execute(sql: "DELETE FROM feedHead")
        try db.execute(sql: "UPDATE peer SET feedAcked = NULL")
    }

    /// A fresh name for a feed: 16 random bytes in hex.
    static func newEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
