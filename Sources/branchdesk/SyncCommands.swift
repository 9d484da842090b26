import ArgumentParser
import BranchdeskNode
import Foundation
import Logging
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore
import UnixSignals

/// `--log-level`, and the one place logging is set up.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "How much to log.")
    var logLevel: Logger.Level?

    /// A logger at the configuration's level (flag, `BRANCHDESK_LOG_LEVEL` or the file's
    /// `log_level`), else `level`.
    func logger(_ label: String, default level: Logger.Level, _ configuration: NodeConfiguration) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = configuration.logLevel ?? level
        return logger
    }
}

/// `branchdesk serve`: the long-running node.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the node: listen for peers and keep a session to headquarters; stops on SIGTERM or SIGINT.",
        discussion: """
            Headquarters listens on --listen (default 0.0.0.0:\(HostPort.defaultPort)). A branch dials the address given to \
            'init --hq' and keeps working while the link is down; it listens only when --listen is given.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var logging: LoggingOptions

    @Option(help: ArgumentHelp("Where to accept peers.", valueName: "host:port"))
    var listen: HostPort?

    @Option(help: ArgumentHelp("Where to serve /metrics (Prometheus) and /health over HTTP.", valueName: "host:port"))
    var metrics: HostPort?

    @Option(help: ArgumentHelp("Where to serve the web console, e.g. 127.0.0.1:8080 (accounts: 'branchdesk users add').", valueName: "host:port"))
    var web: HostPort?

    func run() async throws {
        let configuration = try data.configuration(.init(listen: listen, metrics: metrics, web: web, logLevel: logging.logLevel))
        let logger = logging.logger("branchdesk.serve", default: .info, configuration)
        let node = try await ServedNode.start(configuration, logger: logger)
        let name = node.store.identity.nodeID
        if let address = node.syncAddress { announce("\(name) listening on \(address)") }
        if let address = node.hqAddress { announce("\(name) syncing with headquarters at \(address)") }
        if let address = node.monitoringAddress { announce("\(name) serving /metrics and /health on \(address)") }
        if let address = configuration.web {
            announce("\(name) serving the web console on \(configuration.webTLS == nil ? "http" : "https")://\(address)/")
        }
        try await node.run(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    /// Prints a line at once, unbuffered: scripts wait for it to learn the node is up.
    private func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// `branchdesk sync --once`: one catch-up round with headquarters.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Run one catch-up round with headquarters, then exit (for a branch that is online only now and then).",
        discussion: "Exits 0 only when both sides hold each other's ops. Run 'serve' for a lasting session.")

    @OptionGroup var data: DataOptions
    @OptionGroup var logging: LoggingOptions

    @Flag(help: "Sync once and exit (required: a lasting session is 'branchdesk serve').")
    var once = false

    @Option(help: ArgumentHelp("Headquarters' address, overriding the one given to 'init --hq'.", valueName: "host:port"))
    var hq: HostPort?

    @Option(help: "Give up after this many seconds.")
    var timeout = 600

    func validate() throws {
        guard once else { throw ValidationError("give --once for one round; for a lasting session run 'branchdesk serve'") }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let configuration = try data.configuration(.init(hq: hq, logLevel: logging.logLevel))
        let logger = logging.logger("branchdesk.sync", default: .warning, configuration)
        let directory = try data.directory()
        let store = try data.openStore()
        var address = configuration.hq
        if address == nil { address = try await store.hqAddress().flatMap { HostPort($0) } }
        guard let address else { throw ValidationError("this node has no headquarters address: give --hq HOST:PORT") }
        let dialler = SyncDialler(
            address: address, store: store, certificates: try NodeCertificates.load(from: directory),
            settings: configuration.sync, feed: nil, logger: logger)
        let timeout = timeout
        // A progress bar on a terminal (stderr, so that stdout stays the summary alone).
        let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        defer { bar?.finish() }
        var progress: (@Sendable (SyncProgress) -> Void)?
        if let bar { progress = { bar.update($0) } }
        let summary = try await withThrowingTaskGroup(of: SyncSummary?.self) { [progress] group in
            group.addTask { try await dialler.syncOnce(progress: progress) }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            defer { group.cancelAll() }
            guard let summary = try await group.next() ?? nil else {
                throw SyncError(.incomplete, "the round with \(address) did not finish within \(timeout) s; run it again to resume")
            }
            return summary
        }
        bar?.finish()
        print(
            "synced with \(summary.peer.nodeID) at \(address): sent \(summary.opsSent) ops, received \(summary.opsReceived); both hold each other's ops"
        )
    }
}
