import AsyncAlgorithms
import Foundation
import Logging
import NIOCore
import NIOSSL
import Replication
import ServiceLifecycle
import SwiftProtobuf
import SyncWire
import TicketModel
import TicketStore

/// What one finished sync round did.
public struct SyncSummary: Sendable {
    /// Who the peer's certificate says it is.
    public let peer: CertificateIdentity
    public let opsSent: Int
    public let opsReceived: Int
    /// This node's vector at the end of the round.
    public let vector: VersionVector
}

/// How far a round has got: ops sent and newly applied so far, beside what each side lacked
/// when the session began (ops committed during the round may push the counts past them).
public struct SyncProgress: Sendable, Equatable {
    public let opsSent: Int
    public let opsReceived: Int
    public let opsToSend: Int
    public let opsToReceive: Int

    public init(opsSent: Int, opsReceived: Int, opsToSend: Int, opsToReceive: Int) {
        self.opsSent = opsSent
        self.opsReceived = opsReceived
        self.opsToSend = opsToSend
        self.opsToReceive = opsToReceive
    }
}

/// One connection's run of the sync protocol (`Protocol/SYNC.md`), from hello to close.
///
/// The session is a single loop over one merged stream of events: frames from the peer, timer
/// ticks and wake-ups from the change feed. Each event is handled to completion before the next,
/// so the protocol state needs no locks; the inbound stream's backpressure and the window keep
/// the buffered data bounded while a batch is being applied.
struct SyncSession {
    enum Side: Sendable {
        /// We dialled; the peer's certificate must carry `expectedRole` when one is given.
        case dialler(address: HostPort, expectedRole: NodeRole?)
        /// The peer dialled us from `address`.
        case listener(address: String)
    }

    enum Mode: Sendable {
        /// End once both sides hold each other's ops.
        case once
        /// Stay open, pushing new ops as they commit, until the link or the task ends.
        case live
    }

    let store: NodeStore
    let side: Side
    let mode: Mode
    let settings: SyncSettings
    let feed: ChangeFeed?
    /// Limits sessions per peer at a server.
    var registry: SessionRegistry? = nil
    let logger: Logger
    /// Told how far the round has got after every event, once the peer is known.
    var onProgress: (@Sendable (SyncProgress) -> Void)? = nil

    /// Runs the session on `channel` and closes it. Records the peer's state in the store.
    func run(_ channel: NIOAsyncChannel<WireFrame, WireFrame>) async throws -> SyncSummary {
        var state = SessionState(store: store, settings: settings, mode: mode)
        defer { if let peer = state.registered { registry?.leave(peer) } }
        var failure: SyncError
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await exchange(channel: channel.channel, inbound: inbound, outbound: outbound, state: &state)
            }
        } catch let error as SyncError {
            failure = error
        } catch let error where !isDialler && state.roundFinished && Self.isTransportError(error) {
            // The peer went away after a finished round, cleanly or not (a one-off peer closing while we
            // pushed newer ops, a TLS close without close_notify, a reset): a normal end, not an error.
            logger.debug("peer left after its round", metadata: ["error": "\(error)"])
            if let summary = try? await state.closedByPeer(keepingLinkUp: false) { return summary }
            failure = SyncError(.linkLost, "the connection failed: \(error)")
        } catch let error where error is NIOSSLError || error is BoringSSLError {
            failure = SyncError(
                .refused,
                "TLS handshake failed (\(error)): check that both certificates come from the company CA and are valid now")
        } catch let error as CancellationError {
            try? await state.recordEnd(SyncError(.linkLost, "the node is shutting down"), redialling: false)
            throw error
        } catch let error as StoreError {
            failure = SyncError(.linkLost, "the local store failed: \(error)")
        } catch {
            failure = SyncError(.linkLost, "the connection failed: \(error)")
        }
        failure.hadSynced = state.roundFinished
        failure.recorded = state.isSyncing
        try? await state.recordEnd(failure, redialling: mode == .live && isDialler)
        throw failure
    }

    private enum Event: Sendable {
        case frame(WireFrame)
        case tick
        case localChange
        /// The peer closed its side: the inbound stream ended.
        case closed
        /// The node is shutting down gracefully: end after the event being handled.
        case shutdown
    }

    private func exchange(
        channel: any NIOCore.Channel,
        inbound: NIOAsyncChannelInboundStream<WireFrame>,
        outbound: NIOAsyncChannelOutboundWriter<WireFrame>,
        state: inout SessionState
    ) async throws -> SyncSummary {
        let sender = FrameSender(outbound: outbound)
        do {
            if case .dialler = side {
                // In TLS 1.3 the server checks our certificate after our side finished the handshake:
                // if it refuses us, this write fails, and the reason (its alert) is read below.
                let hello = try await state.hello()
                try? await sender.send(.hello(hello))
            }
            // `merge` ends only when every input has ended, so the inbound end is an event of its own.
            let frames = chain(inbound.map { Event.frame($0) }, [Event.closed].async)
            let ticks = AsyncTimerSequence(interval: settings.tickInterval, clock: .continuous).map { _ in Event.tick }
            // Wake-ups that arrive while a listener waits out its relay interval coalesce into one.
            let relayInterval = isDialler ? .zero : settings.relayInterval
            let changes = (feed?.subscribe() ?? AsyncStream { $0.finish() }).map { _ in
                if relayInterval > .zero { try? await Task.sleep(for: relayInterval) }
                return Event.localChange
            }
            // Events are handled one at a time, so a shutdown lets the batch being applied commit and
            // be acknowledged before the session ends.
            let (shutdowns, shutdown) = AsyncStream.makeStream(of: Event.self)
            defer { shutdown.finish() }
            return try await withGracefulShutdownHandler {
                try await loop(over: merge(frames, ticks, merge(changes, shutdowns)), channel: channel, sender: sender, state: &state)
            } onGracefulShutdown: {
                shutdown.yield(.shutdown)
            }
        } catch let error as WireError {

            // We found the peer at fault: tell it why where the link still allows, then close.
            try? await sender.send(.error(.with { $0.code = error.code; $0.reason = error.message }))
            throw SyncError(SyncError.kind(of: error.code), error.message)
        } catch let error as StoreError {
            try? await sender.send(.error(.with { $0.code = .internal; $0.reason = "the peer's store failed; it will retry" }))
            throw error
        } catch is LeftForShutdown {
            throw CancellationError()  // the peer was told already
        } catch let error as CancellationError {
            try? await sender.send(.error(.with { $0.code = .shuttingDown; $0.reason = "the node is shutting down" }))
            throw error
        }
    }

    /// The session ended for a graceful shutdown, after telling the peer.
    private struct LeftForShutdown: Error {}

    /// How long a node shutting down waits for its peer to close after telling it why.
    static let leavingGrace: Duration = .seconds(2)

    /// Handles each event to completion before the next; returns when the round or session ends.
    private func loop(
        over events: some AsyncSequence<Event, any Error>, channel: any NIOCore.Channel, sender: FrameSender,
        state: inout SessionState
    ) async throws -> SyncSummary {
        // Set once the node began to shut down and told the peer: frames still arriving are not
        // applied, and the session ends when the peer closes (having read why) or after a grace time.
        var leavingSince: ContinuousClock.Instant?
        // A listener whose write failed keeps reading what the peer sent before it closed (its
        // caught-up, say) before it decides whether the session failed or the peer simply left.
        var writeFailure: (any Error)?
        for try await event in events {
            if let leavingSince {
                if case .closed = event { throw LeftForShutdown() }
                if ContinuousClock.now - leavingSince > Self.leavingGrace { throw LeftForShutdown() }
                continue
            }
            do {
                switch event {
                case .frame(let frame):
                    state.heard()
                    try await handle(frame, channel: channel, sender: sender, state: &state)
                case .tick:
                    try await state.checkTimers(sender: sender)
                case .localChange:
                    if state.isSyncing { try await state.pump(sender: sender) }
                case .closed:
                    if let summary = try await state.closedByPeer(keepingLinkUp: mode == .live && isDialler) { return summary }
                    if let writeFailure { throw writeFailure }
                    throw SyncError(
                        .linkLost,
                        state.isSyncing ? "the peer closed the connection" : "the peer closed the connection during the handshake")
                case .shutdown:
                    // The event before this one ran to completion: the batch being applied is committed and acked.
                    try? await sender.send(.error(.with { $0.code = .shuttingDown; $0.reason = "the node is shutting down" }))
                    leavingSince = ContinuousClock.now
                    continue
                }
            } catch where !isDialler && Self.isTransportError(error) {
                writeFailure = writeFailure ?? error
                continue
            }
            if let onProgress, let progress = state.progress { onProgress(progress) }
            if let summary = try await state.finishedRound() { return summary }
        }
        throw CancellationError()
    }

    private func handle(_ frame: WireFrame, channel: any NIOCore.Channel, sender: FrameSender, state: inout SessionState) async throws {
        switch frame.body {
        case .hello(let hello):
            guard !state.isSyncing else { throw WireError(.unexpectedMessage, "a second hello in one session") }
            let peer = try await identify(hello, channel: channel)
            state.identified = peer
            if try await store.isRevoked(serial: peer.serial) {
                throw WireError(.unauthorized, "the certificate of \(peer.nodeID) (serial \(peer.serial)) is revoked")
            }
            if let registry {
                try registry.enter(peer)
                state.registered = peer
            }
            try await state.start(peer: peer, hello: hello, address: addressDescription, logger: logger)
            logger.info("session established", metadata: ["peer": "\(peer.nodeID)", "role": "\(peer.role)", "address": "\(addressDescription)"])
            if case .listener = side { try await sender.send(.hello(try await state.hello())) }
            try await state.pump(sender: sender)
        case .batch(let batch):
            guard state.isSyncing else { throw WireError(.unexpectedMessage, "a batch before the hello") }
            let applied = try await state.receive(batch, sender: sender)
            if applied > 0 { feed?.notify() }
        case .ack(let ack):
            guard state.isSyncing else { throw WireError(.unexpectedMessage, "an ack before the hello") }
            try await state.acknowledge(ack, logger: logger)
            try await state.pump(sender: sender)
        case .caughtUp(let caughtUp):
            guard state.isSyncing else { throw WireError(.unexpectedMessage, "caught-up before the hello") }
            try state.peerCaughtUp(caughtUp)
        case .heartbeat:
            break
        case .error(let error):
            throw SyncError(SyncError.kind(of: error.code), "the peer ended the session: \(error.reason)")
        case nil:
            throw WireError(.unexpectedMessage, "a frame of a kind this protocol version does not define")
        }
    }

    /// Whether `error` came from the connection (TCP or TLS) rather than the protocol or the store.
    private static func isTransportError(_ error: any Error) -> Bool {
        error is ChannelError || error is IOError || error is NIOSSLError || error is BoringSSLError
    }

    private var isDialler: Bool {
        if case .dialler = side { true } else { false }
    }

    private var addressDescription: String {
        switch side {
        case .dialler(let address, _): address.description
        case .listener(let address): address
        }
    }

    /// The peer's identity from its certificate, checked against what its hello claims.
    private func identify(_ hello: Branchdesk_Sync_V1_Hello, channel: any NIOCore.Channel) async throws -> CertificateIdentity {
        guard let certificate = try await channel.nioSSL_peerCertificate().get() else {
            throw WireError(.identityMismatch, "the peer presented no certificate")
        }
        let peer: CertificateIdentity
        do {
            peer = try CertificateIdentity(derEncoded: try certificate.toDERBytes())
        } catch {
            throw WireError(.identityMismatch, "the peer's certificate names no node: \(error)")
        }
        guard hello.nodeID == peer.nodeID.rawValue, hello.role == peer.role.rawValue else {
            throw WireError(
                .identityMismatch,
                "the hello claims \(hello.nodeID) (\(hello.role)) but the certificate is for \(peer.nodeID) (\(peer.role))")
        }
        if case .dialler(_, let expectedRole?) = side, peer.role != expectedRole {
            throw WireError(.identityMismatch, "dialled a \(expectedRole) node but \(peer.nodeID)'s certificate says \(peer.role)")
        }
        guard hello.minVersion <= SyncProtocol.versions.upperBound, hello.maxVersion >= SyncProtocol.versions.lowerBound,
            hello.minVersion <= hello.maxVersion
        else {
            throw WireError(
                .unsupportedVersion,
                "the peer speaks protocol versions \(hello.minVersion)...\(hello.maxVersion); this node speaks \(SyncProtocol.versions.lowerBound)...\(SyncProtocol.versions.upperBound)"
            )
        }
        return peer
    }
}

/// Writes frames; a shared reference so the session loop can hand it around.
struct FrameSender: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<WireFrame>

    func send(_ body: WireFrame.OneOf_Body) async throws {
        try await outbound.write(.with { $0.body = body })
    }
}
