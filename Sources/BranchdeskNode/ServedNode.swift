import Foundation
import Logging
import Metrics
import Monitoring
import NIOCore
import NIOSSL
import Prometheus
import Replication
import ServiceLifecycle
import SyncTransport
import SyncWire
import Synchronization
import TicketModel
import TicketStore
import UnixSignals
import WebConsole

/// A node put together to serve: its store and the services of its `ServiceGroup` — the change
/// feed, the sync server, the dialler to headquarters, `/metrics` and `/health` — bound and ready.
/// `branchdesk serve` and the tests start nodes through this one path.
public final class ServedNode: Sendable {
    public let store: NodeStore
    public let configuration: NodeConfiguration
    public let feed: ChangeFeed
    /// Where the sync server listens, with the port actually bound; nil when it does not listen.
    public let syncAddress: HostPort?
    /// Where a branch dials headquarters; nil when it does not dial.
    public let hqAddress: HostPort?
    /// Where `/metrics` and `/health` are served, with the port actually bound.
    public let monitoringAddress: HostPort?
    private let services: [any Service]
    private let logger: Logger
    private let lock: ServeLock

    /// Opens the node in the configuration's data directory (or uses `store`, opened there by the
    /// caller: one database pool per file per process), takes its serve lock and binds its
    /// listeners. Throws before anything runs when the node cannot be served as configured.
    public static func start(_ configuration: NodeConfiguration, store: NodeStore? = nil, logger: Logger) async throws -> ServedNode {
        guard let directory = configuration.dataDirectory else {
            throw ConfigError("no data directory: give --data DIR, set BRANCHDESK_DATA, or 'data' in the --config file")
        }
        let store = try store ?? NodeStore.open(in: directory)
        let lock = try ServeLock(directory: directory)
        let certificates = try NodeCertificates.load(from: directory)
        if let bytes = configuration.maxDatabaseBytes { try await store.limitDatabaseSize(toBytes: bytes) }
        try await store.markPeersOffline()

        let feed = ChangeFeed(store: store, pollInterval: configuration.changePollInterval)
        var services: [any Service] = [feed]
        let listen = configuration.listen
            ?? (store.identity.role == .hq ? HostPort(host: "0.0.0.0", port: HostPort.defaultPort) : nil)
        var syncAddress: HostPort?
        if let listen {
            let server = try await bind(listen) {
                try await SyncServer.bind(
                    listen, store: store, certificates: certificates, settings: configuration.sync, feed: feed, logger: logger)
            }
            services.append(server)
            syncAddress = HostPort(host: listen.host, port: server.port)
        }
        var hqAddress: HostPort?
        if store.identity.role == .branch {
            hqAddress = configuration.hq
            if hqAddress == nil { hqAddress = try await store.hqAddress().flatMap(HostPort.init) }
        }
        if let hqAddress {
            services.append(
                SyncDialler(
                    address: hqAddress, store: store, certificates: certificates, settings: configuration.sync, feed: feed,
                    logger: logger))
        }
        var monitoringAddress: HostPort?
        if let address = configuration.metrics {
            let monitoring = try await bind(address) {
                try await MonitoringServer.bind(
                    host: address.host, port: address.port, store: store, metrics: sharedMetrics, logger: logger)
            }
            services.append(monitoring)
            monitoringAddress = HostPort(host: address.host, port: monitoring.port)
        }
        if let address = configuration.web {
            let console = try await ConsoleServer(store: store, secure: configuration.webTLS != nil, changes: feed.subscribe)
            let tls = try configuration.webTLS.map(Self.consoleTLS)
            services.append(try console.application(host: address.host, port: address.port, tls: tls, logger: logger))
        }
        guard syncAddress != nil || hqAddress != nil else {
            throw NodeError(
                .nothingToServe,
                "this node neither listens nor dials: give --listen HOST:PORT, or create the branch with 'init --hq HOST:PORT'")
        }
        return ServedNode(
            store: store, configuration: configuration, feed: feed, syncAddress: syncAddress, hqAddress: hqAddress,
            monitoringAddress: monitoringAddress, services: services, logger: logger, lock: lock)
    }

    /// The console's HTTPS configuration from the operator's PEM certificate chain and key.
    private static func consoleTLS(_ files: (certificate: String, key: String)) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate)
            let key = try NIOSSLPrivateKey(file: files.key, format: .pem)
            return .makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        } catch {
            throw NodeError(
                .badConfiguration,
                "cannot read the console's HTTPS certificate \(files.certificate) or key \(files.key) (\(error)): check web_tls_cert and web_tls_key")
        }
    }

    private init(
        store: NodeStore, configuration: NodeConfiguration, feed: ChangeFeed, syncAddress: HostPort?, hqAddress: HostPort?,
        monitoringAddress: HostPort?, services: [any Service], logger: Logger, lock: ServeLock
    ) {
        self.store = store
        self.configuration = configuration
        self.feed = feed
        self.syncAddress = syncAddress
        self.hqAddress = hqAddress
        self.monitoringAddress = monitoringAddress
        self.services = services
        self.logger = logger
        self.lock = lock
    }

    /// Runs every service until the task is cancelled or one of `signals` asks for a graceful
    /// shutdown, which lets each session commit and acknowledge the batch it is applying. The
    /// peers are recorded offline at the end: a stopped node has no sessions.
    public func run(gracefulShutdownSignals signals: [UnixSignal] = []) async throws {
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: signals, logger: logger))
        defer { lock.release() }
        do {
            try await group.run()
        } catch {
            try? await store.markPeersOffline()
            throw error
        }
        try await store.markPeersOffline()
    }

    /// Binds a listener, saying in one line when its address is taken.
    private static func bind<T>(_ address: HostPort, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw NodeError(
                .addressInUse,
                "cannot listen on \(address): the address is in use by another process; stop it, or choose another address")
        } catch let error as IOError where error.errnoCode == EADDRNOTAVAIL {
            throw NodeError(.addressInUse, "cannot listen on \(address): no interface of this machine has that address")
        }
    }

    /// One metrics registry per process: swift-metrics is bootstrapped once, by the first node
    /// that serves `/metrics`.
    private static var sharedMetrics: NodeMetrics {
        metricsBootstrap.withLock { metrics in
            if let metrics { return metrics }
            let created = NodeMetrics()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created.registry))
            metrics = created
            return created
        }
    }

    private static let metricsBootstrap = Mutex<NodeMetrics?>(nil)
}
