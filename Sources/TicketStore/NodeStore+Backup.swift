import Foundation
import GRDB
import Replication
import TicketModel

/// What a backup holds.
public struct BackupSummary: Sendable, Equatable {
    public let file: String
    public let nodeID: NodeID
    public let ops: UInt64
    public let bytes: UInt64
}

extension NodeStore {
    /// Copies the database into the new file `file` with SQLite's online backup: a consistent
    /// snapshot taken while the node keeps serving (writers wait only for each step's page copy).
    /// The copy is checked (`PRAGMA integrity_check`) and readable by its owner only.
    public func backup(toFile file: String) throws -> BackupSummary {
        guard !FileManager.default.fileExists(atPath: file) else {
            throw StoreError(.fileExists, "\(file) already exists; back up into a new file (backups are never overwritten)")
        }
        do {
            let copy = try DatabaseQueue(path: file)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
            try writer.backup(to: copy)
            let ops = try copy.read { db in
                try Self.checkIntegrity(db, of: file)
                return UInt64(try Int64.fetchOne(db, sql: "SELECT total(seq) FROM versionVector") ?? 0)
            }
            try copy.close()
            let bytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.uint64Value ?? 0
            return BackupSummary(file: file, nodeID: identity.nodeID, ops: ops, bytes: bytes)
        } catch {
            try? FileManager.default.removeItem(atPath: file)
            throw StoreError.translating(error, path: file)
        }
    }

    /// Creates a node in `directory` (which must not hold one) from the backup `file`.
    ///
    /// A backup is older than the node it was taken from: the peers may hold ops this node made
    /// after it. So the restored node refuses local edits until it has synced with HQ (at a
    /// branch) or with every branch it knew (at HQ), pulling its own later ops back first — it
    /// must never number a new op with a seq its peers already hold.
    public static func restore(from file: String, into directory: String, clock: any WallClock = SystemClock()) throws -> NodeStore {
        guard FileManager.default.fileExists(atPath: file) else {
            throw StoreError(.notANode, "no backup file \(file); give the file 'branchdesk backup --to FILE' wrote")
        }
        let path = databasePath(in: directory)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.alreadyANode, "\(directory) already holds a Branchdesk node; restore into a new, empty folder")
        }
        do {
            var readOnly = Configuration()
            readOnly.readonly = true
            let source = try DatabaseQueue(path: file, configuration: readOnly)
            try source.read { db in
                try checkIntegrity(db, of: file)
                guard try db.tableExists("node"), try Row.fetchOne(db, sql: "SELECT nodeID FROM node") != nil else {
                    throw StoreError(.notANode, "\(file) is not a Branchdesk backup (it holds no node)")
                }
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
            let pool = try DatabasePool(path: path, configuration: configuration())
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            try source.backup(to: pool)
            try source.close()
            try Schema.migrator.migrate(pool)
            try DerivedData.rebuildPending(pool)
            try pool.write { db in
                try db.execute(sql: "UPDATE node SET restoredAt = ?", arguments: [Int64(clock.nowMillis())])
                // Sessions recorded in the backup ended long ago.
                try db.execute(sql: "UPDATE peer SET state = 'offline' WHERE state <> 'offline'")
                // Branches hold feed positions past the backup's: start every feed again.
                try FeedLog.reset(db)
            }
            return try NodeStore(writer: pool, path: path, clock: clock)
        } catch {
            removeDatabase(in: directory)
            throw StoreError.translating(error, path: file)
        }
    }

    /// What `PRAGMA integrity_check` finds in the database: `["ok"]` when it is sound.
    public func integrityCheck() async throws -> [String] {
        try await read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    /// The bytes the database's pages take (its size once the write-ahead log is checkpointed).
    public func databaseBytes() async throws -> Int64 {
        try await read { db in
            (try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0) * (try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
        }
    }

    /// Stops the database from growing past `bytes`: a write that would need more fails as a full
    /// disk does — a clear error, nothing of it written — and later writes succeed once the limit
    /// is raised. For a node on a disk it shares with other work.
    public func limitDatabaseSize(toBytes bytes: Int64) async throws {
        try await write { db in
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            try db.execute(sql: "PRAGMA max_page_count = \(max(1, bytes / pageSize))")
        }
    }

    private static func checkIntegrity(_ db: Database, of file: String) throws {
        let result = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        guard result == ["ok"] else {
            throw StoreError(.corrupt, "\(file) is damaged (\(result.prefix(3).joined(separator: "; "))); use another backup")
        }
    }

    /// Refuses a local edit while the node may not number new ops, with one read of the node
    /// row on every edit: a node restored from a backup until it has synced since (a branch with
    /// HQ, HQ with every branch it knew; a branch removed with 'peers remove' is not awaited), and
    /// a node whose peer showed it its own later ops until it holds them again
    /// (`NodeStore.beginRecovery`) — either way its peers may hold seqs it would reuse.
    static func checkMayNumberOps(_ db: Database, origin: NodeID) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT restoredAt, role, recoverUntilSeq FROM node")) else {
            return
        }
        let restoredAt: Int64 = row["restoredAt"], recoverUntil: Int64 = row["recoverUntilSeq"]
        if restoredAt > 0 {
            let peers = try peerRecords(db)
            let synced = { (peer: PeerRecord) in (peer.lastSyncAt ?? 0) >= UInt64(restoredAt) }
            // A branch always waits for HQ: even one that never synced before its backup may have since.
            let waiting: [String] =
                NodeRole(rawValue: row["role"]) == .hq
                ? peers.filter { $0.role == .branch && !synced($0) }.map(\.nodeID.rawValue)
                : (peers.contains { $0.role == .hq && synced($0) } ? [] : ["headquarters"])
            if !waiting.isEmpty {
                throw DomainError(
                    "this node was restored from a backup and has not synced since with \(waiting.joined(separator: ", ")): "
                        + "its peers may hold ops it made after the backup; run 'branchdesk sync --once' (a branch) or keep "
                        + "'serve' running until every branch has connected (HQ), then edit again")
            }
        }
        guard recoverUntil > 0 else { return }
        let held = try Int64.fetchOne(db, sql: "SELECT seq FROM versionVector WHERE origin = ?", arguments: [origin.rawValue]) ?? 0
        guard held >= recoverUntil else {
            throw DomainError(
                "this node was restored from a backup: HQ holds its own ops up to #\(recoverUntil) but this node only up to #\(held); run 'branchdesk sync --once' (or keep 'serve' running) to bring them back, then edit again"
            )
        }
    }
}
