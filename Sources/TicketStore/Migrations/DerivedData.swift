import Foundation
import GRDB
import Replication
import WireForms

/// The tables derived from the op log — tickets and their documents, entries, conflicts, search
/// text, replica scopes, deadline summaries — which a migration may ask to have rebuilt with this
/// build's merge instead of converting them with frozen code. A migration marks what it needs
/// (`pendingRebuild`); the store rebuilds it the next time it opens the database to write, right
/// after migrating, and a database with a rebuild pending is not opened only to read.
enum DerivedData {
    enum Part: String, CaseIterable {
        /// Everything derived from the ops: replayed from the log through the merge.
        case documents
        /// The deadline summaries alone, from the documents.
        case deadlines
    }

    /// Marks `part` to be rebuilt; called by migrations.
    static func mark(_ part: Part, _ db: Database) throws {
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS pendingRebuild (part TEXT PRIMARY KEY) WITHOUT ROWID")
        try db.execute(sql: "INSERT OR IGNORE INTO pendingRebuild (part) VALUES (?)", arguments: [part.rawValue])
    }

    /// What is marked and not yet rebuilt.
    static func pending(_ db: Database) throws -> Set<Part> {
        guard try db.tableExists("pendingRebuild") else { return [] }
        return Set(try String.fetchAll(db, sql: "SELECT part FROM pendingRebuild").compactMap(Part.init))
    }

    /// Forgets what is marked: a new database has nothing to rebuild.
    static func clear(_ db: Database) throws {
        if try db.tableExists("pendingRebuild") { try db.execute(sql: "DELETE FROM pendingRebuild") }
    }

    /// Rebuilds what is marked, in bounded transactions; a crash midway leaves it marked, and the
    /// next open starts it over.
    static func rebuildPending(_ writer: any DatabaseWriter) throws {
        let pending = try writer.read { db in try Self.pending(db) }
        guard !pending.isEmpty else { return }
        if pending.contains(.documents) {
            try replayLog(writer)
        } else {
            try DeadlineSummary.rebuild(writer)
        }
        try writer.write { db in try clear(db) }
    }

    /// Derives every table again from the op log, 5,000 ops a transaction, through the same merge
    /// as every apply (which also keeps the replica scopes and deadline summaries).
    private static func replayLog(_ writer: any DatabaseWriter) throws {
        try writer.write { db in
            for table in ["ticket", "entry", "conflict", "ticketSearch", "replicaScope", "ticketHandler", "deadlineSummary"] where try db.tableExists(table) {
                try db.execute(sql: "DELETE FROM \(table)")
            }
        }
        let cache = DocumentCache()
        var after: (origin: String, seq: Int64) = ("", 0)
        while true {
            let last: (origin: String, seq: Int64)? = try writer.writeWithoutTransaction { db in
                try cache.transaction(db) { db in
                    let rows = try Row.fetchAll(
                        db, sql: "SELECT * FROM op WHERE (origin, seq) > (?, ?) ORDER BY origin, seq LIMIT 5000",
                        arguments: [after.origin, after.seq])
                    var merge = try MergeTransaction(db, cache: cache)
                    for row in rows { try merge.replay(NodeStore.op(from: row)) }
                    try merge.finish()
                    return rows.last.map { ($0["origin"], $0["seq"]) }
                }
            }
            guard let last else { return }
            after = last
        }
    }
}
