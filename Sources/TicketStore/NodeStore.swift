import Foundation
import GRDB
import Replication
import TicketModel

/// A node's replica: one SQLite file in the node's data directory, and the only way to change it.
///
/// Every change is an op committed in the same transaction as its effect on the tickets
/// (WAL, `synchronous=FULL`), so a call that returned has its change on disk.
public final class NodeStore: Sendable {
    /// The database file inside a node's data directory.
    public static let fileName = "branchdesk.sqlite"
    /// The most ops one remote batch may hold: bounds how long a batch blocks local writers.
    public static let maxBatchOps = Op.maxBatchCount

    public let identity: NodeIdentity
    /// Where the database lives, for messages (":memory:" for an in-memory store).
    public let path: String
    let writer: any DatabaseWriter
    let clock: any WallClock
    /// The writer's decoded documents, kept between transactions.
    let documents = DocumentCache()
    /// Local edits waiting to be committed together.
    let groupCommit = GroupCommit()

    init(writer: any DatabaseWriter, path: String, clock: any WallClock) throws {
        self.writer = writer
        self.path = path
        self.clock = clock
        do {
            identity = try writer.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT nodeID, role, branchCode, timeZone FROM node") else {
                    throw StoreError(.notANode, "\(path) holds no node identity; run 'branchdesk init' in a new folder")
                }
                return try NodeIdentity(
                    nodeID: NodeID(row["nodeID"]), role: NodeRole(rawValue: row["role"]) ?? .branch,
                    branchCode: BranchCode(row["branchCode"]), timeZone: row["timeZone"])
            }
        } catch {
            throw StoreError.translating(error, path: path)
        }
    }

    /// Creates a node in `directory`, refusing to touch one that already holds a node.
    public static func create(
        in directory: String,
        identity: NodeIdentity,
        clock: any WallClock = SystemClock()
    ) throws -> NodeStore {
        try refuseExistingNode(in: directory)
        let path = databasePath(in: directory)
        do {
            // Tickets hold customers' names and phone numbers: the node's folder is its owner's only.
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        } catch {
            throw StoreError(.readOnly, "cannot create the data folder \(directory): \(error.localizedDescription)")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration())
            // SQLite gives the -wal and -shm files the database file's permissions.
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            try initialise(pool, identity: identity, now: clock.nowMillis())
            return try NodeStore(writer: pool, path: path, clock: clock)
        } catch {
            // Nothing partial: a node that could not be set up completely is removed again.
            removeDatabase(in: directory)
            throw StoreError.translating(error, path: path)
        }
    }

    /// What a command means to do with the node it opens.
    public enum Access: Sendable {
        /// Changes it: an older schema is migrated first.
        case readWrite
        /// Only reads it: nothing is created, migrated or rewritten, and an older schema is refused
        /// with the command that upgrades it.
        case readOnly
    }

    /// Opens the node in `directory`. Nothing is ever written to a file that is not a Branchdesk
    /// database of a schema this build knows: an empty or damaged file is reported as damaged, a
    /// database written by a newer build is refused.
    public static func open(in directory: String, access: Access = .readWrite, clock: any WallClock = SystemClock()) throws -> NodeStore {
        // The schema is checked over a read-only connection first: nothing opens the file for
        // writing before it is known to be a database of this build or an older one.
        let pending = try pendingMigrations(in: directory)
        let path = databasePath(in: directory)
        if access == .readOnly, !pending.isEmpty {
            throw StoreError(
                .olderSchema,
                "\(path) was written by an older branchdesk and needs its schema upgraded (\(pending.joined(separator: ", "))); run 'branchdesk upgrade --data \(directory)' (any command that changes the node upgrades it too)"
            )
        }
        do {
            var configuration = configuration()
            configuration.readonly = access == .readOnly
            let pool = try DatabasePool(path: path, configuration: configuration)
            if !pending.isEmpty {
                try Schema.migrator.migrate(pool)
                try DerivedData.rebuildPending(pool)
            }
            return try NodeStore(writer: pool, path: path, clock: clock)
        } catch {
            throw StoreError.translating(error, path: path)
        }
    }

    /// The migrations the node's database lacks (empty when it is at this build's schema), read
    /// without writing anything.
    public static func pendingMigrations(in directory: String) throws -> [String] {
        let path = try existingDatabase(in: directory)
        do {
            var configuration = configuration()
            configuration.readonly = true
            let pool = try DatabasePool(path: path, configuration: configuration)
            defer { try? pool.close() }
            return try pool.read { db in try Schema.pendingMigrations(db, path: path) }
        } catch {
            throw StoreError.translating(error, path: path)
        }
    }

    /// The last migration of this build's schema.
    public static var schemaVersion: String { Schema.migrator.migrations.last ?? "" }

    /// The database file of the node in `directory`, checked to be one before anything opens it.
    private static func existingDatabase(in directory: String) throws -> String {
        let path = databasePath(in: directory)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), !isFolder.boolValue {
            throw StoreError(.notANode, "\(directory) is a file, not a folder: point --data at a node's data folder")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(
                .notANode,
                "\(directory) is not a Branchdesk node (no \(fileName)); run 'branchdesk init --data \(directory) --node-id ID --role branch' first, or point --data / BRANCHDESK_DATA at a node"
            )
        }
        try checkHeader(of: path)
        return path
    }

    /// Refuses a file that is not an SQLite database before SQLite opens it: SQLite takes an
    /// empty file for a new database, and would write a schema into it.
    private static func checkHeader(of path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError(.readOnly, "cannot read \(path): check its permissions")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header == Data("SQLite format 3\u{0}".utf8) else {
            throw StoreError(
                .corrupt,
                "\(path) is \(header.isEmpty ? "empty" : "not an SQLite database"): it is damaged; restore the node from a backup ('branchdesk restore --from FILE --data NEW-FOLDER'); nothing was written"
            )
        }
    }

    /// A store in memory, for simulations and tests that need many fast replicas.
    public static func inMemory(identity: NodeIdentity, clock: any WallClock) throws -> NodeStore {
        let queue = try DatabaseQueue(configuration: configuration())
        try initialise(queue, identity: identity, now: clock.nowMillis())
        return try NodeStore(writer: queue, path: ":memory:", clock: clock)
    }

    public static func databasePath(in directory: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
    }

    /// Throws when `directory` already holds a node: nothing may overwrite one.
    public static func refuseExistingNode(in directory: String) throws {
        guard !FileManager.default.fileExists(atPath: databasePath(in: directory)) else {
            throw StoreError(
                .alreadyANode, "\(directory) already holds a Branchdesk node; refusing to overwrite it (choose another --data folder)")
        }
    }

    /// Removes the database of `directory` with its WAL files: what undoes a node set up halfway.
    public static func removeDatabase(in directory: String) {
        let path = databasePath(in: directory)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        // Another process (a running `serve`) may hold the write lock briefly: wait, then say so.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // A command that printed success has its change on disk.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The hot tickets' pages stay in memory (SQLite's default is 2 MiB per connection).
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        return configuration
    }

    private static func initialise(_ writer: any DatabaseWriter, identity: NodeIdentity, now: UInt64) throws {
        try Schema.migrator.migrate(writer)
        try writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO node (singleton, nodeID, role, branchCode, timeZone, createdAt, hlc, lastSeq,
                        ticketCounter, maxSkewMillis)
                    VALUES (1, ?, ?, ?, ?, ?, 0, 0, 0, ?)
                    """,
                arguments: [
                    identity.nodeID.rawValue, identity.role.rawValue, identity.branchCode.rawValue, identity.timeZone,
                    Int64(now), Int64(HybridLogicalClock.defaultMaxSkewMillis),
                ])
            // A new node has nothing derived to rebuild.
            try DerivedData.clear(db)
        }
    }

    // MARK: Plumbing

    /// Runs `body` in one write transaction, with the document cache kept in step: it keeps the
    /// documents the transaction staged once, and only once, the transaction has committed. A
    /// caller's cancellation interrupts the transaction, which then rolls back whole.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let writer = writer, documents = documents
        do {
            return try await writer.writeWithoutTransaction { db in try documents.transaction(db, body) }
        } catch {
            throw StoreError.translating(error, path: path)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.read(body)
        } catch {
            throw StoreError.translating(error, path: path)
        }
    }

    /// A time as the schema stores it: Unix milliseconds.
    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// The durable clock and counters of the node, read and written inside write transactions.
    struct Counters {
        var hlc: HybridLogicalClock
        var lastSeq: UInt64
        var ticketCounter: Int

        static func load(_ db: Database) throws -> Counters {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT hlc, lastSeq, ticketCounter, maxSkewMillis FROM node")) else {
                throw StoreError(.notANode, "the node row is missing; restore the node from a backup")
            }
            let hlc = HybridLogicalClock(
                last: HLCTimestamp(rawValue: UInt64(bitPattern: row["hlc"])),
                maxSkewMillis: UInt64(row["maxSkewMillis"] as Int64))
            return Counters(hlc: hlc, lastSeq: UInt64(row["lastSeq"] as Int64), ticketCounter: row["ticketCounter"])
        }

        func save(_ db: Database) throws {
            try db.cachedStatement(sql: "UPDATE node SET hlc = ?, lastSeq = ?, ticketCounter = ?")
                .execute(arguments: [Int64(bitPattern: hlc.last.rawValue), Int64(lastSeq), ticketCounter])
        }
    }
}

/// The system's wall clock.
public struct SystemClock: WallClock {
    public init() {}

    public func nowMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
}
extension NodeStore: ReplicaStore {}
