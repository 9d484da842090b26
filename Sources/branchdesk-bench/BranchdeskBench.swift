import ArgumentParser
import Foundation
import Replication

/// `branchdesk-bench`: each figure beside its baseline measured in the same run, and the ratio.
/// Build it in release: `swift run -c release branchdesk-bench`.
@main
struct BranchdeskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "branchdesk-bench",
        abstract: "Measure Branchdesk against raw SQLite and raw TLS on this machine, in one run.",
        discussion: "Machines are shared and noisy: compare the ratios, not the absolute figures.")

    @Option(help: "Ops in the remote-apply and catch-up traces.") var ops = 1_000_000
    @Option(help: "Local edits, one transaction each, then as many by 50 clerks at once.") var edits = 5_000
    @Option(help: "Branches in the remote-apply trace.") var branches = 50
    @Option(help: "Ops per remote batch.") var batch = 5_000
    @Option(help: "Branches with live sessions in the latency benchmark.") var liveBranches = 100
    @Option(help: "Seconds the latency benchmark edits for.") var liveSeconds = 20
    @Option(help: "Branches connected to HQ in the memory and CPU benchmark.") var manyBranches = 1_000
    @Option(help: "Open tickets at HQ in the oversight benchmark.") var openTickets = 100_000
    @Option(help: "Run only these: local, apply, catchup, live, many, merge, oversight, console (repeatable).") var only: [String] = []
    @Option(help: "The field-write trace for 'merge' (made by Benchmarks/pycrdt_compare.py).") var trace: String?

    func validate() throws {
        for name in only where !["local", "apply", "catchup", "live", "many", "merge", "oversight", "console"].contains(name) {
            throw ValidationError("unknown benchmark '\(name)': use local, apply, catchup, live, many, merge, oversight or console")
        }
        if only.contains("merge") && trace == nil {
            throw ValidationError("'merge' applies a trace: give --trace FILE, or run Benchmarks/pycrdt_compare.py")
        }
        guard ops >= batch, batch > 0, batch <= 5_000, edits > 0, branches > 0 else {
            throw ValidationError("give --ops ≥ --batch, --batch 1…5000, and positive --edits and --branches")
        }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("branchdesk-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let benchmarks = Benchmarks(folder: folder, ops: ops, edits: edits, branches: branches, batch: batch)
        let wants = { (name: String) in only.isEmpty || only.contains(name) }
        #if DEBUG
            print("warning: a debug build; run 'swift run -c release branchdesk-bench' for figures worth recording")
        #endif
        print("branchdesk-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores, data in \(folder.path)")
        var figures: [Figure] = []
        if wants("local") { figures += try await report(benchmarks.localEdits()) }
        if wants("apply") {
            let trace = EditTrace(count: ops, branches: branches).ops
            figures += try await report(benchmarks.remoteApply(trace))
        }
        if wants("catchup") {
            let trace = EditTrace(count: ops, branches: 1, seed: 7).ops
            figures += try await report(benchmarks.catchUp(trace))
        }
        if wants("many") {
            let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("branchdesk").path
            guard FileManager.default.isExecutableFile(atPath: binary) else {
                throw ValidationError("no \(binary): build it beside the bench ('swift build -c release')")
            }
            figures += report(try await benchmarks.manyBranches(manyBranches, seconds: liveSeconds, binary: binary))
        }
        if let trace, only.contains("merge") {
            let (writes, rate) = try MergeCore.apply(traceAt: trace)
            print("merge core: \(Int(rate)) writes/s (\(writes) writes, in memory)")
        }
        if wants("live") { figures += try await report(benchmarks.liveLatency(branches: liveBranches, seconds: liveSeconds)) }
        if wants("oversight") { figures += try await report(benchmarks.oversight(tickets: openTickets)) }
        if wants("console") { figures += try await report(benchmarks.consolePages(tickets: openTickets)) }
        print("")
        print(Self.table(figures))
    }

    /// Prints figures as they are measured, so that a long run shows progress.
    private func report(_ figures: [Figure]) -> [Figure] {
        for figure in figures {
            print("  \(figure.name): \(Self.format(figure.value)) \(figure.unit) (baseline \(Self.format(figure.baseline)), ratio \(String(format: "%.2f", figure.ratio)))")
        }
        return figures
    }

    static func table(_ figures: [Figure]) -> String {
        let rows = [["BENCHMARK", "FIGURE", "BASELINE", "", "RATIO", "TARGET"]]
            + figures.map { figure in
                [
                    figure.name, "\(format(figure.value)) \(figure.unit)", "\(format(figure.baseline)) \(figure.unit)",
                    figure.baselineName, String(format: "%.2f", figure.ratio), figure.target,
                ]
            }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func format(_ value: Double) -> String {
        value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }
}
