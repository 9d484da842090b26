import ChildProcesses
import Foundation

/// Every process the CLI tests start, until it has ended: whatever is left when the test process
/// exits — a test that failed before stopping its server, an object that leaked — is killed then,
/// so that no `serve` outlives the suite.
enum StartedProcesses {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var running: [Int32: ChildProcess] = [:]
    nonisolated(unsafe) private static var installed = false

    static func started(_ process: ChildProcess) {
        lock.withLock {
            running[process.processIdentifier] = process
            guard !installed else { return }
            installed = true
            atexit { StartedProcesses.killAll() }
        }
    }

    static func ended(_ process: ChildProcess) {
        _ = lock.withLock { running.removeValue(forKey: process.processIdentifier) }
    }

    /// Kills every started process that is still running.
    static func killAll() {
        for process in lock.withLock({ Array(running.values) }) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}

/// Runs the built `branchdesk` binary in a fresh temporary data directory.
final class CommandLineRunner {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        /// The JSON object printed on stdout.
        func object() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] ?? [:]
        }
    }

    let folder: URL
    var data: String { folder.appendingPathComponent("node").path }

    init() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("branchdesk-cli-\(UUID().uuidString)")
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// The binary SwiftPM built beside the test bundle.
    static let binary: URL = {
        let candidates = [CommandLine.arguments[0], Bundle.main.executablePath ?? ""].map {
            URL(fileURLWithPath: $0).deletingLastPathComponent()
        } + [Bundle.main.bundleURL.deletingLastPathComponent()]
        for directory in candidates {
            let url = directory.appendingPathComponent("branchdesk")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        preconditionFailure("the branchdesk binary was not found beside the tests in \(candidates)")
    }()

    /// Runs `branchdesk arguments…` with `BRANCHDESK_DATA` set to this runner's node, and `input`
    /// (if any) on its standard input.
    func run(_ arguments: [String], environment extra: [String: String] = [:], input: Data? = nil) throws -> Result {
        var environment = ProcessInfo.processInfo.environment
        environment["BRANCHDESK_DATA"] = data
        environment["BRANCHDESK_USER"] = "王芳"
        environment.merge(extra) { $1 }
        let (out, err) = (Pipe(), Pipe())
        let inputPipe = input.map { _ in Pipe() }
        let process = try ChildProcess(
            executable: Self.binary.path, arguments: arguments, environment: environment,
            stdin: inputPipe?.fileHandleForReading.fileDescriptor, stdout: out.fileHandleForWriting.fileDescriptor,
            stderr: err.fileHandleForWriting.fileDescriptor)
        StartedProcesses.started(process)
        defer { StartedProcesses.ended(process) }
        // Only the child writes to these now: their ends close when it exits.
        try out.fileHandleForWriting.close()
        try err.fileHandleForWriting.close()
        try inputPipe?.fileHandleForReading.close()
        if let inputPipe, let input {
            // Written from another thread: a large input must not block while the pipes fill up.
            let writer = inputPipe.fileHandleForWriting
            Thread.detachNewThread {
                writer.write(input)
                try? writer.close()
            }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        return Result(
            status: process.awaitExit(), stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func run(_ arguments: String...) throws -> Result { try run(arguments) }
}

/// A long-running `branchdesk` process (e.g. `serve`), stopped when the test is done with it:
/// SIGTERM, then SIGKILL if it has not exited within five seconds.
final class RunningProcess: @unchecked Sendable {
    let process: ChildProcess
    private let output = Pipe()
    private let lock = NSLock()
    private var stdout = ""

    /// Starts `branchdesk arguments…`; with `capturingErrors`, stderr is read with stdout.
    init(_ arguments: [String], capturingErrors: Bool = false) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["BRANCHDESK_USER"] = "王芳"
        let writer = output.fileHandleForWriting.fileDescriptor
        process = try ChildProcess(
            executable: CommandLineRunner.binary.path, arguments: arguments, environment: environment, stdin: nil, stdout: writer,
            stderr: capturingErrors ? writer : nil)
        StartedProcesses.started(process)
        try output.fileHandleForWriting.close()
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self?.lock.withLock { self?.stdout += text }
        }
    }

    deinit { stop() }

    /// Waits for a line on stdout that contains `needle` and returns it.
    func line(containing needle: String, timeout: TimeInterval = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = lock.withLock({ stdout.split(separator: "\n").first { $0.contains(needle) } }) { return String(line) }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "no line with '\(needle)' from \(process.arguments)"])
    }

    /// Everything read from the process so far.
    var text: String { lock.withLock { stdout } }

    /// Sends SIGTERM and waits for the exit; returns the exit status, or nil when the process had
    /// to be killed after `timeout`.
    func terminate(timeout: TimeInterval = 20) -> Int32? {
        process.send(SIGTERM)
        return waitForExit(timeout: timeout)
    }

    /// Waits for the process to end by itself; returns its exit status, or nil when it had to be killed.
    func waitForExit(timeout: TimeInterval = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        guard !process.isRunning else {
            kill()
            return nil
        }
        return process.terminationStatus
    }

    /// Kills the process at once, as a power cut would.
    func kill() {
        process.send(SIGKILL)
        process.awaitExit()
    }

    func stop() {
        defer { StartedProcesses.ended(process) }
        output.fileHandleForReading.readabilityHandler = nil
        guard process.isRunning else { return }
        process.send(SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        kill()
    }
}
