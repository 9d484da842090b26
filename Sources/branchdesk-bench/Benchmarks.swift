import Foundation
import Logging
import Replication
import SwiftProtobuf
import Synchronization
import SyncTransport
import SyncWire
import TicketModel
import TicketStore
import WireForms

/// One measured figure beside its baseline measured in the same run.
struct Figure {
    let name: String
    let value: Double
    let baselineName: String
    let baseline: Double
    let unit: String
    let target: String

    var ratio: Double { baseline == 0 ? 0 : value / baseline }
}

/// The benchmarks of issue "Fast, and nothing lost", each against its physical baseline.
struct Benchmarks {
    let folder: URL
    let ops: Int
    let edits: Int
    let branches: Int
    let batch: Int

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// (1) Local edits, one op and one transaction each, against raw SQLite rows of the same size
    /// committed one per transaction, both with WAL and `synchronous=FULL`; then the same number of
    /// edits made by 50 clerks at once (group commit) against one clerk.
    func localEdits() async throws -> [Figure] {
        let store = try NodeStore.create(in: path("local"), identity: Self.identity("br-local"))
        var opened: [String] = []
        for index in 0..<20 { opened.append(try await store.openTicket(Self.draft(index), actor: "王芳").number) }
        let numbers = opened
        let before = try await store.opCount()
        let text = "门店核实情况：顾客所述属实，已登记。"
        @Sendable func note(_ index: Int) async throws {
            try await store.commitEdit(numbers[index % numbers.count], actor: "王芳", action: "note") {
                try $0.append(Entry(kind: .note, text: text))
            }
        }
        let clerks = 50, edits = edits
        let seconds = try await Self.time { for index in 0..<edits { try await note(index) } }
        let rows = try await Fixtures.rows(of: store, after: before)
        let raw = try RawSQLite(path: path("local-raw.sqlite"))
        let rawSeconds = try Self.time { for index in rows.indices { try raw.insert(rows[index...index]) } }
        let groupSeconds = try await Self.time {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for clerk in 0..<clerks {
                    group.addTask { for index in stride(from: clerk, to: edits, by: clerks) { try await note(index) } }
                }
                try await group.waitForAll()
            }
        }
        return [
            Figure(
                name: "local edits, 1 per transaction", value: Double(edits) / seconds, baselineName: "raw SQLite rows, 1 per tx",
                baseline: Double(rows.count) / rawSeconds, unit: "ops/s", target: "≥ 0.5×"),
            Figure(
                name: "local edits, \(clerks) clerks at once", value: Double(edits) / groupSeconds,
                baselineName: "local edits, 1 per transaction", baseline: Double(edits) / seconds, unit: "ops/s", target: "≥ 5×"),
        ]
    }

    /// (2) Remote apply of a realistic trace in batches against raw SQLite inserts of the same rows
    /// in the same batches; then the same batches again, all duplicates.
    func remoteApply(_ trace: [Op]) async throws -> [Figure] {
        let store = try NodeStore.create(in: path("apply"), identity: Self.identity("hq", role: .hq))
        let seconds = try await Self.time {
            for start in stride(from: 0, to: trace.count, by: batch) {
                _ = try await store.apply(Array(trace[start..<min(start + batch, trace.count)]))
            }
        }
        let duplicateSeconds = try await Self.time {
            for start in stride(from: 0, to: trace.count, by: batch) {
                _ = try await store.apply(Array(trace[start..<min(start + batch, trace.count)]))
            }
        }
        let rows = try trace.map(Self.row)
        let raw = try RawSQLite(path: path("apply-raw.sqlite"))
        let rawSeconds = try Self.time {
            for start in stride(from: 0, to: rows.count, by: batch) { try raw.insert(rows[start..<min(start + batch, rows.count)]) }
        }
        let rawRate = Double(rows.count) / rawSeconds
        return [
            Figure(
                name: "remote apply, \(trace.count) ops in \(batch)-op batches", value: Double(trace.count) / seconds,
                baselineName: "raw SQLite, same rows and batches", baseline: rawRate, unit: "ops/s", target: "≥ 100k/s and ≥ 0.5×"),
            Figure(
                name: "remote apply of duplicates", value: Double(trace.count) / duplicateSeconds,
                baselineName: "raw SQLite, same rows and batches", baseline: rawRate, unit: "ops/s", target: "≥ 300k/s"),
        ]
    }

    /// (3) A branch's catch-up to HQ over mutual TLS on loopback, against the remote apply of the
    /// same ops alone and against a raw TLS transfer of the same bytes.
    func catchUp(_ trace: [Op]) async throws -> [Figure] {
        let ca = try CompanyCA(in: path("certs"))
        let branchID = trace[0].id.origin
        let branchDirectory = path("catchup-branch"), hqDirectory = path("catchup-hq")
        let branch = try NodeStore.create(in: branchDirectory, identity: Self.identity(branchID.rawValue))
        let hq = try NodeStore.create(in: hqDirectory, identity: Self.identity("hq", role: .hq))
        let branchCertificates = try ca.node(branchID, role: .branch, in: branchDirectory)
        let hqCertificates = try ca.node(try NodeID("hq"), role: .hq, in: hqDirectory)
        for start in stride(from: 0, to: trace.count, by: NodeStore.maxBatchOps) {
            _ = try await branch.apply(Array(trace[start..<min(start + NodeStore.maxBatchOps, trace.count)]))
        }
        var settings = SyncSettings()
        settings.batchOps = batch
        let logger = Self.quietLogger
        let feed = ChangeFeed(store: hq)
        let server = try await SyncServer.bind(
            HostPort(host: "127.0.0.1", port: 0), store: hq, certificates: hqCertificates, settings: settings, feed: feed,
            logger: logger)
        let serving = Task { try await server.run() }
        let dialler = SyncDialler(
            address: HostPort(host: "127.0.0.1", port: server.port), store: branch, certificates: branchCertificates,
            settings: settings, feed: nil, logger: logger)
        let seconds = try await Self.time { _ = try await dialler.syncOnce() }
        serving.cancel()
        _ = try? await serving.value
        guard try await hq.versionVector() == branch.versionVector() else { throw BenchError("the catch-up did not arrive whole") }

        let alone = try NodeStore.create(in: path("catchup-alone"), identity: Self.identity("hq", role: .hq))
        let aloneSeconds = try await Self.time {
            for start in stride(from: 0, to: trace.count, by: batch) {
                _ = try await alone.apply(Array(trace[start..<min(start + batch, trace.count)]))
            }
        }
        let bytes = try trace.reduce(0) { $0 + (try $1.wire.serializedBytes() as [UInt8]).count + 16 }
        let tlsSeconds = try await RawTLS.transfer(
            bytes: bytes, server: try hqCertificates.serverContext(), client: try branchCertificates.clientContext())
        let rate = Double(trace.count) / seconds
        return [
            Figure(
                name: "catch-up of \(trace.count) ops over mutual TLS", value: rate, baselineName: "remote apply alone",
                baseline: Double(trace.count) / aloneSeconds, unit: "ops/s", target: "≥ 0.8×"),
            Figure(
                name: "catch-up, bytes of ops moved", value: Double(bytes) / seconds / 1_048_576,
                baselineName: "raw TLS, same bytes", baseline: Double(bytes) / tlsSeconds / 1_048_576, unit: "MiB/s",
                target: "(TLS is not the bound)"),
        ]
    }

    // MARK: Helpers

    /// A company CA in `certs`, issuing and installing node certificates for the benchmarks.
    struct CompanyCA {
        let certs: String

        init(in certs: String) throws {
            self.certs = certs
            try CertificateAuthority.createCA(in: certs)
        }

        /// Issues `id`'s certificate and installs it into the node folder `directory`.
        func node(_ id: NodeID, role: NodeRole, in directory: String) throws -> NodeCertificates {
            try CertificateAuthority.issueNode(in: certs, id: id, role: role)
            return try NodeCertificates.install(from: certs, nodeID: id, role: role, into: directory)
        }
    }

    /// Benchmarks log only what stops them.
    static let quietLogger: Logger = {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        return logger
    }()

    static func identity(_ id: String, role: NodeRole = .branch) -> NodeIdentity {
        let node = try! NodeID(id)
        return NodeIdentity(nodeID: node, role: role, branchCode: BranchCode(defaultFor: node), timeZone: "Asia/Shanghai")
    }

    static func draft(_ index: Int) throws -> TicketDraft {
        try TicketDraft(
            channel: .phone, takenBy: "王芳", customer: "顾客\(index)", phone: "138 0013 \(8000 + index)", title: "商品质量问题",
            statement: "顾客反映购买的商品出现故障，要求退换。", request: "换货", category: .product)
    }

    /// The op as a baseline row: its key and as many bytes as the op log stores for it.
    static func row(_ op: Op) throws -> RawRow {
        var body = try JSONEncoder().encode(op.changes)
        body.append(contentsOf: Array(op.actor.utf8) + Array(op.action.utf8) + Array(op.ticket.description.utf8))
        return RawRow(origin: op.id.origin.rawValue, seq: Int64(op.id.seq), hlc: Int64(bitPattern: op.hlc.rawValue), body: body)
    }

    static func time(_ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        return (ContinuousClock.now - start).seconds
    }

    static func time(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

enum Fixtures {
    /// The ops `store` made after the first `after` ones, as baseline rows.
    static func rows(of store: NodeStore, after: UInt64) async throws -> [RawRow] {
        var vector = VersionVector()
        var rows: [RawRow] = []
        var seen: UInt64 = 0
        while true {
            let batch = try await store.opsMissing(by: vector, limit: 1_000)
            if batch.isEmpty { return rows }
            for op in batch {
                vector.advance(to: op.id)
                seen += 1
                if seen > after { rows.append(try Benchmarks.row(op)) }
            }
        }
    }
}

extension Benchmarks {
    /// (4) Live propagation: `count` branches with live sessions to HQ, each editing once a
    /// second for `seconds`; the time from an edit's commit at its branch to its commit at HQ,
    /// beside the time of the local commit itself.
    func liveLatency(branches count: Int, seconds: Int) async throws -> [Figure] {
        let ca = try CompanyCA(in: path("live-certs"))
        let hq = try NodeStore.create(in: path("live-hq"), identity: Self.identity("hq", role: .hq))
        let hqCertificates = try ca.node(try NodeID("hq"), role: .hq, in: path("live-hq"))
        let logger = Self.quietLogger
        let hqFeed = ChangeFeed(store: hq)
        let server = try await SyncServer.bind(
            HostPort(host: "127.0.0.1", port: 0), store: hq, certificates: hqCertificates, feed: hqFeed, logger: logger)
        var tasks = [Task<Void, any Error>]()
        tasks.append(Task { try await server.run() })
        tasks.append(Task { try await hqFeed.run() })

        var branches: [LiveBranch] = []
        for index in 0..<count {
            let id = try NodeID(String(format: "live-%03d", index))
            let directory = path(id.rawValue)
            let store = try NodeStore.create(in: directory, identity: Self.identity(id.rawValue))
            // A hundred feeds polling for other processes' edits would load the machine: once a second.
            branches.append(
                try await .connect(
                    store, index: index, certificates: try ca.node(id, role: .branch, in: directory), hqPort: server.port,
                    feedPoll: .seconds(1), tasks: &tasks))
        }
        defer { for task in tasks { task.cancel() } }
        let opened = UInt64(count)
        while try await hq.opCount() < opened { try await Task.sleep(for: .milliseconds(50)) }

        // HQ's side: when each op was first seen committed there (at most that much after its apply).
        let samples = LatencySamples()
        let watching = Task {
            var seen = try await hq.versionVector()
            for await _ in hqFeed.subscribe() {
                while true {
                    let ops = try await hq.opsMissing(by: seen, limit: 1_000)
                    let arrived = ContinuousClock.now
                    if ops.isEmpty { break }
                    for op in ops { seen.advance(to: op.id) }
                    samples.arrived.withLock { for op in ops { $0[op.id] = arrived } }
                }
            }
        }
        try await LiveBranch.editOncePerSecond(branches, for: seconds) { branch, began in
            let done = ContinuousClock.now
            let origin = branch.store.identity.nodeID
            let id = OpID(origin: origin, seq: try await branch.store.versionVector()[origin])
            samples.committed.withLock { $0[id] = done }
            samples.localCommits.withLock { $0.append((done - began).seconds * 1000) }
        }
        var expected: UInt64 = 0
        for branch in branches { expected += try await branch.store.opCount() }
        let settle = ContinuousClock.now + .seconds(10)
        while try await hq.opCount() < expected, ContinuousClock.now < settle { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        watching.cancel()
        let arrivals = samples.arrived.withLock { $0 }
        let latencies = samples.committed.withLock { committed in
            committed.compactMap { id, done in arrivals[id].map { ($0 - done).seconds * 1000 } }
        }.sorted()
        guard latencies.count >= count else { throw BenchError("only \(latencies.count) edits reached HQ") }
        let local = samples.localCommits.withLock { $0 }.sorted()
        let percentile = { (values: [Double], fraction: Double) in values[min(values.count - 1, Int(Double(values.count) * fraction))] }
        return [
            Figure(
                name: "live propagation p50, \(count) branches × 1 edit/s", value: percentile(latencies, 0.5),
                baselineName: "local commit p50", baseline: percentile(local, 0.5), unit: "ms", target: ""),
            Figure(
                name: "live propagation p99 (\(latencies.count) edits)", value: percentile(latencies, 0.99),
                baselineName: "local commit p99", baseline: percentile(local, 0.99), unit: "ms", target: "< 50 ms"),
        ]
    }
}

/// A branch of the live benchmarks: its store, its change feed, and the one ticket it edits.
struct LiveBranch: Sendable {
    let store: NodeStore
    let feed: ChangeFeed
    let number: String

    /// Opens the branch's ticket and keeps a live session with HQ at `hqPort`; its feed polls
    /// every `feedPoll` (edits made here tell it at once) and both run as `tasks`.
    static func connect(
        _ store: NodeStore, index: Int, certificates: NodeCertificates, hqPort: Int, feedPoll: Duration,
        tasks: inout [Task<Void, any Error>]
    ) async throws -> LiveBranch {
        let feed = ChangeFeed(store: store, pollInterval: feedPoll)
        let number = try await store.openTicket(Benchmarks.draft(index), actor: "王芳").number
        let dialler = SyncDialler(
            address: HostPort(host: "127.0.0.1", port: hqPort), store: store, certificates: certificates, feed: feed,
            logger: Benchmarks.quietLogger)
        tasks.append(Task { try await feed.run() })
        tasks.append(Task { try await dialler.run() })
        return LiveBranch(store: store, feed: feed, number: number)
    }

    /// Every branch adds a note once a second for `seconds`, the branches spread over the second;
    /// `committed` hears of each commit with the moment the edit began.
    static func editOncePerSecond(
        _ branches: [LiveBranch], for seconds: Int,
        committed: @escaping @Sendable (LiveBranch, ContinuousClock.Instant) async throws -> Void = { _, _ in }
    ) async throws {
        let start = ContinuousClock.now, end = start + .seconds(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, branch) in branches.enumerated() {
                group.addTask {
                    var due = start + .milliseconds(index * 1000 / branches.count)
                    while due < end {
                        try await Task.sleep(until: due)
                        let began = ContinuousClock.now
                        try await branch.store.commitEdit(branch.number, actor: "王芳", action: "note") {
                            try $0.append(Entry(kind: .note, text: "门店核实情况：顾客所述属实，已登记。"))
                        }
                        branch.feed.notify()
                        try await committed(branch, began)
                        due += .seconds(1)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// What the latency benchmark's tasks record, shared between them.
private final class LatencySamples: Sendable {
    /// When each edit committed at its branch.
    let committed = Mutex<[OpID: ContinuousClock.Instant]>([:])
    /// When HQ first saw each op committed.
    let arrived = Mutex<[OpID: ContinuousClock.Instant]>([:])
    /// Milliseconds each local commit took.
    let localCommits = Mutex<[Double]>([])
}
