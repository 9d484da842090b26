import Foundation

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

    /// Runs `branchdesk arguments…` with `BRANCHDESK_DATA` set to this runner's node.
    func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BRANCHDESK_DATA"] = data
        environment["BRANCHDESK_USER"] = "王芳"
        environment.merge(extra) { $1 }
        process.environment = environment
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func run(_ arguments: String...) throws -> Result { try run(arguments) }
}
