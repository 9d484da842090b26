import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Replication
import ServiceLifecycle
import SyncWire
import WireForms

/// Accepts peers on a TCP port and runs a live sync session with each, independently: one peer's
/// failure (bad certificate, garbage bytes, a dead link) ends its own session only.
public final class SyncServer: Service, Sendable {
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    private let listener: NIOAsyncChannel<NIOAsyncChannel<WireFrame, WireFrame>, Never>
    private let store: any ReplicaStore
    private let settings: SyncSettings
    private let feed: ChangeFeed
    private let registry: SessionRegistry
    private let logger: Logger

    /// Binds `address` with this node's certificates; `run()` then serves until shut down.
    public static func bind(
        _ address: HostPort, store: any ReplicaStore, certificates: NodeCertificates, settings: SyncSettings = SyncSettings(),
        feed: ChangeFeed, logger: Logger
    ) async throws -> SyncServer {
        let context = try certificates.serverContext()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try SyncPipeline.wrap(channel, tls: NIOSSLServerHandler(context: context), settings: settings)
                }
            }
        return SyncServer(listener: listener, store: store, settings: settings, feed: feed, logger: logger)
    }

    private init(
        listener: NIOAsyncChannel<NIOAsyncChannel<WireFrame, WireFrame>, Never>, store: any ReplicaStore, settings: SyncSettings,
        feed: ChangeFeed, logger: Logger
    ) {
        self.listener = listener
        port = listener.channel.localAddress?.port ?? 0
        self.store = store
        self.settings = settings
        self.feed = feed
        self.logger = logger
        registry = SessionRegistry(maxConnections: settings.maxConnections, maxSessionsPerPeer: settings.maxSessionsPerPeer)
    }

    /// Serves peers until the task is cancelled or the service group shuts down. A graceful
    /// shutdown stops accepting, lets every session commit and acknowledge the batch it is
    /// applying and tell its peer, then returns.
    public func run() async throws {
        do {
            try await withGracefulShutdownHandler {
                try await self.listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            guard self.registry.connect() else {
                                self.logger.warning(
                                    "refused a connection: the server holds its most connections",
                                    metadata: ["sync.max_connections": "\(self.settings.maxConnections)"])
                                // Closed through the async channel, so that its writer is finished, not dropped.
                                group.addTask { try? await connection.executeThenClose { _, _ in } }
                                continue
                            }
                            group.addTask {
                                await self.serve(connection)
                                self.registry.disconnect()
                            }
                        }
                    }
                }
            } onGracefulShutdown: {
                self.listener.channel.close(promise: nil)
            }
        } catch is CancellationError {
            logger.info("stopped listening")
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
            logger.info("stopped listening")
        }
        logger.info("every session ended")
    }

    private func serve(_ connection: NIOAsyncChannel<WireFrame, WireFrame>) async {
        let remote = connection.channel.remoteAddress
        let address = remote.flatMap { address in address.ipAddress.map { "\($0):\(address.port ?? 0)" } } ?? "unknown address"
        let session = SyncSession(
            store: store, side: .listener(address: address), mode: .live, settings: settings, feed: feed, registry: registry,
            logger: logger)
        do {
            let summary = try await session.run(connection)
            logger.info(
                "session ended",
                metadata: [
                    "peer.id": "\(summary.peer.nodeID)", "sync.ops_sent": "\(summary.opsSent)",
                    "sync.ops_received": "\(summary.opsReceived)",
                ])
        } catch let error as SyncError {
            logger.warning("session ended", metadata: error.logMetadata(address: address).mapValues { .string($0) })
        } catch is CancellationError {
            logger.debug("session closed for shutdown", metadata: ["peer.address": "\(address)"])
        } catch {
            logger.error("session failed", metadata: ["peer.address": "\(address)", "sync.error": "\(error)"])
        }
    }
}
