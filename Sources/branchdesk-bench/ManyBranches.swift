import ChildProcesses
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

extension Benchmarks {
    /// (5) HQ — a real `branchdesk serve` process from `binary` — with `branches` connected
    /// branches: its memory (RSS) and CPU, idle and under one edit per branch per second for
    /// `seconds`, beside the same HQ with no branch. The branches are live sessions from this
    /// process, each over its own in-memory store.
    func manyBranches(_ branches: Int, seconds: Int, binary: String) async throws -> [Figure] {
        let ca = try CompanyCA(in: path("many-certs")), hqDirectory = path("many-hq")
        try CertificateAuthority.issueNode(in: ca.certs, id: try NodeID("hq"), role: .hq)
        try Self.command(binary, ["init", "--data", hqDirectory, "--node-id", "hq", "--role", "hq", "--certs", ca.certs])
        let hq = try HQProcess(binary: binary, data: hqDirectory, log: path("many-hq.log"))
        defer { hq.stop() }
        do {
            return try await measure(hq, ca: ca, hqDirectory: hqDirectory, branches: branches, seconds: seconds)
        } catch {
            let log = (try? String(contentsOfFile: path("many-hq.log"), encoding: .utf8)) ?? ""
            print("HQ \(hq.process.isRunning ? "runs" : "exited with \(hq.process.terminationStatus)"); the end of its log:")
            print(log.split(separator: "\n").suffix(20).joined(separator: "\n"))
            throw error
        }
    }

    private func measure(_ hq: HQProcess, ca: CompanyCA, hqDirectory: String, branches: Int, seconds: Int) async throws
        -> [Figure]
    {
        try await Task.sleep(for: .seconds(2))
        let empty = try await hq.sample(over: .seconds(3))

        var nodes: [LiveBranch] = []
        var tasks: [Task<Void, any Error>] = []
        defer { for task in tasks { task.cancel() } }
        for index in 0..<branches {
            let id = try NodeID(String(format: "many-%04d", index))
            let store = try NodeStore.inMemory(identity: Self.identity(id.rawValue), clock: SystemClock())
            nodes.append(
                try await .connect(
                    store, index: index, certificates: try ca.node(id, role: .branch, in: path(id.rawValue)), hqPort: hq.port,
                    feedPoll: .seconds(5), tasks: &tasks))
        }
        let hqStore = try NodeStore.open(in: hqDirectory)
        let connecting = ContinuousClock.now
        while true {
            let live = try await hqStore.status(now: Date()).peers.filter { $0.state == "live" }.count
            if live == branches, try await hqStore.opCount() >= UInt64(branches) { break }
            guard ContinuousClock.now - connecting < .seconds(300) else {
                throw BenchError("only \(live) of \(branches) branches went live in 5 minutes")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        print("  \(branches) branches live after \(String(format: "%.1f", (ContinuousClock.now - connecting).seconds)) s")
        let idle = try await hq.sample(over: .seconds(seconds))

        // Each branch edits once a second: as many ops/s as branches.
        async let loaded = hq.sample(over: .seconds(seconds))
        try await LiveBranch.editOncePerSecond(nodes, for: seconds)
        let load = try await loaded
        var expected: UInt64 = 0
        for node in nodes { expected += try await node.store.versionVector()[node.store.identity.nodeID] }
        let settle = ContinuousClock.now
        while try await hqStore.opCount() < expected, ContinuousClock.now - settle < .seconds(120) {
            try await Task.sleep(for: .milliseconds(200))
        }
        let arrived = try await hqStore.opCount()
        let troubled = try await hqStore.status(now: Date()).peers.filter { !$0.troubles.isEmpty }.count
        print("  HQ holds \(arrived) of \(expected) ops; \(troubled) branches in trouble")
        guard arrived == expected else { throw BenchError("HQ lost ops: \(arrived) of \(expected)") }
        guard troubled == 0 else { throw BenchError("\(troubled) branches in trouble at HQ: see 'branchdesk status' there") }
        let rate = Double(expected - UInt64(branches)) / Double(seconds)
        let idleName = "\(branches) branches idle", loadName = "\(branches) branches, \(Int(rate)) ops/s"
        func figure(_ name: String, _ sample: HQProcess.Sample, _ value: KeyPath<HQProcess.Sample, Double>, _ unit: String, _ target: String)
            -> Figure
        {
            Figure(
                name: "HQ \(name)", value: sample[keyPath: value], baselineName: "HQ with no branch",
                baseline: empty[keyPath: value], unit: unit, target: target)
        }
        return [
            figure("RSS, " + idleName, idle, \.rssMiB, "MiB", "< 512 MiB"),
            figure("RSS, " + loadName, load, \.rssMiB, "MiB", "< 512 MiB"),
            figure("CPU, " + idleName, idle, \.cpuPercent, "% of a core", ""),
            figure("CPU, " + loadName, load, \.cpuPercent, "% of a core", "no errors"),
        ]
    }

    @discardableResult
    private static func command(_ binary: String, _ arguments: [String]) throws -> String {
        let output = Pipe()
        let writer = output.fileHandleForWriting.fileDescriptor
        let process = try ChildProcess(
            executable: binary, arguments: arguments, environment: ProcessInfo.processInfo.environment, stdin: nil, stdout: writer,
            stderr: writer)
        try output.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.awaitExit() == 0 else { throw BenchError("branchdesk \(arguments.joined(separator: " ")): \(text)") }
        return text
    }
}

/// A `branchdesk serve` process for HQ on an ephemeral loopback port, measured through /proc.
final class HQProcess: @unchecked Sendable {
    let process: ChildProcess
    let port: Int

    /// Memory and CPU over a period.
    struct Sample {
        let rssMiB: Double
        let cpuPercent: Double
    }

    init(binary: String, data: String, log: String) throws {
        let output = Pipe()
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        guard let logFile = FileHandle(forWritingAtPath: log) else { throw BenchError("cannot write \(log)") }
        process = try ChildProcess(
            executable: binary, arguments: ["serve", "--data", data, "--listen", "127.0.0.1:0", "--log-level", "warning"],
            environment: ProcessInfo.processInfo.environment, stdin: nil, stdout: output.fileHandleForWriting.fileDescriptor,
            stderr: logFile.fileDescriptor)
        try output.fileHandleForWriting.close()
        try logFile.close()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("listening on"), Date() < deadline {
            text += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
            let address = HostPort(String(line.split(separator: " ").last ?? ""))
        else { throw BenchError("HQ did not start: \(text)") }
        port = address.port
    }

    func stop() {
        process.send(SIGTERM)
        process.awaitExit()
    }

    /// RSS at the end and CPU used over `period`.
    func sample(over period: Duration) async throws -> Sample {
        let before = try cpuTicks()
        let start = ContinuousClock.now
        try await Task.sleep(for: period)
        let ticks = try cpuTicks() - before
        let elapsed = (ContinuousClock.now - start).seconds
        return Sample(rssMiB: try rssMiB(), cpuPercent: Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK))) / elapsed * 100)
    }

    private func cpuTicks() throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
        // Fields after the command name in parentheses; utime and stime are the 14th and 15th.
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return Int(fields[11])! + Int(fields[12])!
    }

    private func rssMiB() throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { throw BenchError("no VmRSS for HQ") }
        return kib / 1024
    }
}
