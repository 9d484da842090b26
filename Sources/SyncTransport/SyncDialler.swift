import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Replication
import ServiceLifecycle
import SyncWire
import TicketModel
import WireForms

/// Dials a peer (a branch dials HQ): one round with `syncOnce()`, or a lasting session with
/// `run()`, which redials with jittered backoff whenever the link is lost.
public struct SyncDialler: Service {
    private let address: HostPort
    private let expectedRole: NodeRole?
    private let store: any ReplicaStore
    private let certificates: NodeCertificates
    private let settings: SyncSettings
    private let feed: ChangeFeed?
    private let logger: Logger

    public init(
        address: HostPort, expectedRole: NodeRole? = .hq, store: any ReplicaStore, certificates: NodeCertificates,
        settings: SyncSettings = SyncSettings(), feed: ChangeFeed?, logger: Logger
    ) {
        self.address = address
        self.expectedRole = expectedRole
        self.store = store
        self.certificates = certificates
        self.settings = settings
        self.feed = feed
        self.logger = logger
    }

    /// One catch-up round: returns when both sides hold each other's ops. `progress` is called
    /// after every frame, timer tick or local change once the peer is identified.
    public func syncOnce(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SyncSummary {
        do {
            return try await session(mode: .once, progress: progress)
        } catch let error as SyncError {
            if !error.recorded { try? await recordFailure(error) }
            throw error
        }
    }

    /// Keeps a live session to the peer until cancelled or shut down, redialling after failures.
    /// A graceful shutdown ends the session after the batch being applied is committed and acknowledged.
    public func run() async throws {
        var backoff = settings.backoff
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                _ = try await session(mode: .live)
            } catch is CancellationError {
                return
            } catch let error as SyncError {
                if error.hadSynced { backoff.reset() }
                logger.warning("link lost", metadata: error.logMetadata(address: address.description).mapValues { .string($0) })
                if !error.recorded {
                    do {
                        try await recordFailure(error)
                    } catch {
                        logger.warning("could not record the failure for status", metadata: ["db.error": "\(error)"])
                    }
                }
            } catch {
                logger.warning("link lost", metadata: ["peer.address": "\(address)", "sync.error": "\(error)"])
            }
            let delay = backoff.next(using: &random)
            logger.info("redialling", metadata: ["peer.address": "\(address)", "sync.backoff": "\(delay)"])
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            } catch {
                return
            }
        }
    }

    /// A failure before the peer was identified is recorded against the peer last reached at
    /// this address, so the admin sees that the link is down and why.
    private func recordFailure(_ error: SyncError) async throws {
        guard var peer = try await store.peers().first(where: { $0.address == address.description }) else { return }
        peer.state = error.kind == .refused ? .refused : .backingOff
        peer.stateSince = UInt64(Date().timeIntervalSince1970 * 1000)
        peer.lastError = error.message
        peer.lastErrorAt = peer.stateSince
        try await store.record(peer)
    }

    private func session(mode: SessionStateMachine.Mode, progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SyncSummary {
        let channel: NIOAsyncChannel<WireFrame, WireFrame>
        do {
            let context = try certificates.clientContext()
            let settings = settings
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(settings.connectTimeout.components.seconds * 1000
                    + settings.connectTimeout.components.attoseconds / 1_000_000_000_000_000))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try SyncPipeline.wrap(
                            channel, tls: NIOSSLClientHandler(context: context, serverHostname: nil), settings: settings)
                    }
                }
        } catch let error as CertificateError {
            throw SyncError(.refused, error.message)
        } catch {
            throw SyncError(.linkLost, "cannot connect to \(address): \(error)")
        }
        return try await SyncSession(
            store: store, side: .dialler(address: address.description, expectedRole: expectedRole), mode: mode, settings: settings,
            feed: feed, logger: logger, onProgress: progress
        ).run(channel)
    }
}
