import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import SyncTransport
import TicketModel
import TicketStore

/// `--log-level`, and the one place logging is set up.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func logger(_ label: String, default level: Logger.Level) throws -> Logger {
        let level = try logLevel.map { name in
            guard let level = Logger.Level(rawValue: name) else {
                throw ValidationError("unknown log level '\(name)': use trace, debug, info, notice, warning, error or critical")
            }
            return level
        } ?? level
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// `branchdesk serve`: the long-running node.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the node: listen for peers and keep a session to headquarters; stops on SIGTERM or SIGINT.",
        discussion: """
            Headquarters listens on --listen (default 0.0.0.0:\(HostPort.defaultPort)). A branch dials the address given to
            'init --hq' and keeps working while the link is down; it listens only when --listen is given.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var logging: LoggingOptions

    @Option(help: ArgumentHelp("Where to accept peers.", valueName: "host:port"))
    var listen: String?

    func validate() throws {
        if let listen, HostPort(listen) == nil {
            throw ValidationError("--listen '\(listen)' is not HOST:PORT, e.g. 0.0.0.0:\(HostPort.defaultPort)")
        }
    }

    func run() async throws {
        let logger = try logging.logger("branchdesk.serve", default: .info)
        let directory = try data.directory()
        let store = try data.openStore()
        let certificates = try NodeCertificates.load(from: directory)
        try await store.markPeersOffline()
        let feed = ChangeFeed(store: store)
        var services: [any Service] = [feed]
        let listenAddress = listen.flatMap(HostPort.init)
            ?? (store.identity.role == .hq ? HostPort(host: "0.0.0.0", port: HostPort.defaultPort) : nil)
        if let listenAddress {
            let server = try await SyncServer.bind(listenAddress, store: store, certificates: certificates, feed: feed, logger: logger)
            services.append(server)
            announce("\(store.identity.nodeID) listening on \(HostPort(host: listenAddress.host, port: server.port))")
        }
        if let hq = try await store.hqAddress().flatMap(HostPort.init) {
            services.append(SyncDialler(address: hq, store: store, certificates: certificates, feed: feed, logger: logger))
            announce("\(store.identity.nodeID) syncing with headquarters at \(hq)")
        }
        guard services.count > 1 else {
            throw ValidationError("this node neither listens nor dials: give --listen HOST:PORT, or create the branch with 'init --hq HOST:PORT'")
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await store.markPeersOffline()
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
    var hq: String?

    @Option(help: "Give up after this many seconds.")
    var timeout = 600

    func validate() throws {
        guard once else { throw ValidationError("give --once for one round; for a lasting session run 'branchdesk serve'") }
        if let hq, HostPort(hq) == nil { throw ValidationError("--hq '\(hq)' is not HOST:PORT, e.g. hq.example.com:7420") }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        let logger = try logging.logger("branchdesk.sync", default: .warning)
        let directory = try data.directory()
        let store = try data.openStore()
        let configured = try await store.hqAddress()
        guard let address = (hq ?? configured).flatMap(HostPort.init) else {
            throw ValidationError("this node has no headquarters address: give --hq HOST:PORT")
        }
        let dialler = SyncDialler(
            address: address, store: store, certificates: try NodeCertificates.load(from: directory), feed: nil, logger: logger)
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
