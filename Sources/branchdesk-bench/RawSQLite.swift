import Foundation
import GRDBSQLite
import Replication

/// The baseline: rows written with SQLite's C API directly, under the same settings as a node
/// (WAL, `synchronous=FULL`), into a table shaped like the op log.
final class RawSQLite {
    private var db: OpaquePointer?
    private var insert: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw BenchError("cannot open \(path)") }
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("CREATE TABLE op (origin TEXT NOT NULL, seq INTEGER NOT NULL, hlc INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (origin, seq)) WITHOUT ROWID")
        guard sqlite3_prepare_v2(db, "INSERT INTO op (origin, seq, hlc, body) VALUES (?, ?, ?, ?)", -1, &insert, nil) == SQLITE_OK else {
            throw BenchError("cannot prepare the insert")
        }
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }

    /// Inserts `rows` in one transaction.
    func insert(_ rows: ArraySlice<RawRow>) throws {
        try execute("BEGIN")
        for row in rows {
            sqlite3_reset(insert)
            sqlite3_bind_text(insert, 1, row.origin, -1, SQLITE_TRANSIENT)
            sqlite3_bind_int64(insert, 2, row.seq)
            sqlite3_bind_int64(insert, 3, row.hlc)
            _ = row.body.withUnsafeBytes { bytes in
                sqlite3_bind_blob(insert, 4, bytes.baseAddress, Int32(bytes.count), SQLITE_TRANSIENT)
            }
            guard sqlite3_step(insert) == SQLITE_DONE else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
        }
        try execute("COMMIT")
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchError("\(sql): \(String(cString: sqlite3_errmsg(db)))") }
    }
}

/// One row of the baseline: the key and the encoded op, as many bytes as the op log stores.
struct RawRow {
    let origin: String
    let seq: Int64
    let hlc: Int64
    let body: Data
}

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
