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
    public static let maxBatchOps = 5_000

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
        let path = databasePath(in: directory)
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreError(
                .alreadyANode,
                "\(directory) already holds a Branchdesk node; refusing to overwrite it (choose another --data folder)")
        }
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
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            throw StoreError.translating(error, path: path)
        }
    }

    /// Opens the node in `directory`.
    public static func open(in directory: String, clock: any WallClock = SystemClock()) throws -> NodeStore {
        let path = databasePath(in: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(
                .notANode,
                "\(directory) is not a Branchdesk node (no \(fileName)); run 'branchdesk init --data \(directory) --node-id ID --role branch' first, or point --data / BRANCHDESK_DATA at a node"
            )
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration())
            try Schema.migrator.migrate(pool)
            return try NodeStore(writer: pool, path: path, clock: clock)
        } catch {
            throw StoreError.translating(error, path: path)
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
        }
    }

    // MARK: Plumbing

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.write(body)
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
