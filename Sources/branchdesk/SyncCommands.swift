import ArgumentParser
import Foundation
import Logging
import Metrics
import Monitoring
import Prometheus
import ServiceLifecycle
import UnixSignals
import SyncTransport
import TicketModel
import TicketStore

/// `--log-level`, and the one place logging is set up.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    /// A logger at the level of the flag, else `BRANCHDESK_LOG_LEVEL`, else the file's `log_level`, else `level`.
    func logger(_ label: String, default level: Logger.Level, config: ConfigFile?) throws -> Logger {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown log level '\(logLevel)': use trace, debug, info, notice, warning, error or critical")
        }
        let chosen = try ConfigFile.resolve(.logLevel, flag: logLevel, file: config).flatMap(Logger.Level.init(rawValue:)) ?? level
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = chosen
        return logger
    }
}

extension SyncSettings {
    /// The defaults with what the configuration (file or environment) changes.
    init(config: ConfigFile?) throws {
        self.init()
        let number = { (key: ConfigFile.Key) throws in try ConfigFile.resolve(key, flag: nil, file: config).flatMap { Int($0) } }
        if let batchOps = try number(.batchOps) { self.batchOps = batchOps }
        if let window = try number(.window) { self.window = window }
        if let seconds = try number(.heartbeatSeconds) { heartbeatInterval = .seconds(seconds) }
        if let seconds = try number(.deadAfterSeconds) { deadAfter = .seconds(seconds) }
        if let connections = try number(.maxConnections) { maxConnections = connections }
        guard deadAfter > heartbeatInterval else {
            throw ConfigError("dead_after_seconds must be longer than heartbeat_seconds: a quiet live link would be declared dead")
        }
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

    @Option(help: ArgumentHelp("Where to serve /metrics (Prometheus) and /health over HTTP.", valueName: "host:port"))
    var metrics: String?

    func validate() throws {
        if let listen, HostPort(listen) == nil {
            throw ValidationError("--listen '\(listen)' is not HOST:PORT, e.g. 0.0.0.0:\(HostPort.defaultPort)")
        }
        if let metrics, HostPort(metrics) == nil {
            throw ValidationError("--metrics '\(metrics)' is not HOST:PORT, e.g. 127.0.0.1:9420")
        }
    }

    func run() async throws {
        let config = try data.configFile()
        let logger = try logging.logger("branchdesk.serve", default: .info, config: config)
        let settings = try SyncSettings(config: config)
        let directory = try data.directory()
        let store = try data.openStore()
        let certificates = try NodeCertificates.load(from: directory)
        if let mib = try ConfigFile.resolve(.maxDatabaseMiB, flag: nil, file: config).flatMap({ Int64($0) }) {
            try await store.limitDatabaseSize(toBytes: mib * 1_048_576)
        }
        try await store.markPeersOffline()
        let feed = ChangeFeed(store: store)
        var services: [any Service] = [feed]
        let listenAddress = try ConfigFile.resolve(.listen, flag: listen, file: config).flatMap(HostPort.init)
            ?? (store.identity.role == .hq ? HostPort(host: "0.0.0.0", port: HostPort.defaultPort) : nil)
        if let listenAddress {
            let server = try await SyncServer.bind(
                listenAddress, store: store, certificates: certificates, settings: settings, feed: feed, logger: logger)
            services.append(server)
            announce("\(store.identity.nodeID) listening on \(HostPort(host: listenAddress.host, port: server.port))")
        }
        let stored = try await store.hqAddress()
        let hqAddress = try ConfigFile.resolve(.hq, flag: nil, file: config) ?? stored
        if store.identity.role == .branch, let hq = hqAddress.flatMap(HostPort.init) {
            services.append(
                SyncDialler(address: hq, store: store, certificates: certificates, settings: settings, feed: feed, logger: logger))
            announce("\(store.identity.nodeID) syncing with headquarters at \(hq)")
        }
        if let address = try ConfigFile.resolve(.metrics, flag: metrics, file: config).flatMap(HostPort.init) {
            let nodeMetrics = NodeMetrics()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: nodeMetrics.registry))
            let monitoring = try await MonitoringServer.bind(
                host: address.host, port: address.port, store: store, metrics: nodeMetrics, logger: logger)
            services.append(monitoring)
            announce("\(store.identity.nodeID) serving /metrics and /health on \(HostPort(host: address.host, port: monitoring.port))")
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
        let config = try data.configFile()
        let logger = try logging.logger("branchdesk.sync", default: .warning, config: config)
        let directory = try data.directory()
        let store = try data.openStore()
        let configured = try await store.hqAddress()
        guard let address = (try ConfigFile.resolve(.hq, flag: hq, file: config) ?? configured).flatMap(HostPort.init) else {
            throw ValidationError("this node has no headquarters address: give --hq HOST:PORT")
        }
        let dialler = SyncDialler(
            address: address, store: store, certificates: try NodeCertificates.load(from: directory),
            settings: try SyncSettings(config: config), feed: nil, logger: logger)
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
