import AsyncAlgorithms
import Foundation
import Logging
import Metrics
import NIOCore
import NIOSSL
import Replication
import ServiceLifecycle
import Synchronization
import SwiftProtobuf
import SyncWire
import TicketModel
import WireForms

/// One connection's run of the sync protocol: the shell that carries out what the pure
/// `SessionStateMachine` decides — frames, store reads and writes, records, logs and metrics.
///
/// The session is a single loop over one merged stream of events: frames from the peer, timer
/// ticks, wake-ups from the change feed and the outcomes of applying the peer's batches. Each
/// event, with every action it leads to, is handled to completion before the next, so the
/// machine needs no locks. A batch is applied beside the loop, one at a time, so that frames,
/// heartbeats and acks go on while it commits and a sender over the window is seen and refused;
/// the inbound stream's backpressure and the window bound what is buffered meanwhile.
struct SyncSession {
    let store: any ReplicaStore
    let side: SessionStateMachine.Side
    let mode: SessionStateMachine.Mode
    let settings: SyncSettings
    let feed: ChangeFeed?
    /// Limits sessions per peer at a server.
    var registry: SessionRegistry? = nil
    let logger: Logger
    /// Told how far the round has got after every event, once the peer is known.
    var onProgress: (@Sendable (SyncProgress) -> Void)? = nil

    /// Runs the session on `channel` and closes it. The peer's record in the store says how it went.
    func run(_ channel: NIOAsyncChannel<WireFrame, WireFrame>) async throws -> SyncSummary {
        let shell = Shell(session: self, channel: channel.channel)
        defer { shell.release() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await shell.exchange(inbound: inbound, outbound: outbound)
            }
        } catch let error as SyncError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            throw SyncError(.linkLost, "the connection failed: \(error)")
        }
    }

    private enum Event: Sendable {
        case frame(WireFrame)
        case tick
        case localChange
        /// The peer closed its side: the inbound stream ended.
        case closed
        /// The node is shutting down gracefully.
        case shutdown
        /// A batch the machine asked to apply was committed, or refused, or the store failed.
        case applied(AppliedBatch)
    }

    /// A peer's batch to apply, as the machine asked for it.
    private struct BatchToApply: Sendable {
        let ops: [Op]
        let grant: PeerGrant
        let feed: FeedCursor?
    }

    /// What applying one batch came to, and how long it took.
    private struct AppliedBatch: Sendable {
        let ops: Int
        let outcome: Result<BatchOutcome, any Error>
        let took: Duration
    }

    /// Applies the batches the session asks for, in order, telling each outcome as an event.
    private static func applyBatches(
        _ batches: AsyncStream<BatchToApply>, to store: any ReplicaStore, telling events: AsyncStream<Event>.Continuation
    ) async {
        for await batch in batches {
            let started = ContinuousClock.now
            let outcome: Result<BatchOutcome, any Error>
            do {
                outcome = .success(try await store.apply(batch.ops, from: batch.grant, feed: batch.feed))
            } catch {
                outcome = .failure(error)
            }
            events.yield(.applied(AppliedBatch(ops: batch.ops.count, outcome: outcome, took: ContinuousClock.now - started)))
        }
    }

    /// The mutable part of one run: the machine, and what the shell must undo at the end.
    private final class Shell {
        let session: SyncSession
        let channel: any NIOCore.Channel
        var machine: SessionStateMachine
        let origin = ContinuousClock.now
        /// The peer as counted by the server's session registry, released at the end.
        var registered: CertificateIdentity?
        var sender: NIOAsyncChannelOutboundWriter<WireFrame>?
        /// Where the peer's batches go to be applied beside the loop.
        var applier: AsyncStream<BatchToApply>.Continuation?
        /// When the machine's next timer falls due, for the tick stream.
        let timerDeadline = TimerDeadline()

        init(session: SyncSession, channel: any NIOCore.Channel) {
            self.session = session
            self.channel = channel
            machine = SessionStateMachine(
                local: session.store.identity, side: session.side, mode: session.mode, settings: session.settings,
                now: SessionTime(monotonic: .zero, wallMillis: Self.wallMillis()))
        }

        var now: SessionTime { SessionTime(monotonic: ContinuousClock.now - origin, wallMillis: Self.wallMillis()) }
        var store: any ReplicaStore { session.store }
        var logger: Logger { session.logger }

        func release() {
            if let registered { session.registry?.leave(registered) }
            registered = nil
        }

        func exchange(
            inbound: NIOAsyncChannelInboundStream<WireFrame>, outbound: NIOAsyncChannelOutboundWriter<WireFrame>
        ) async throws -> SyncSummary {
            sender = outbound
            let settings = session.settings
            if case .dialler = session.side {
                // In TLS 1.3 the server checks our certificate after our side finished the handshake:
                // if it refuses us, the hello's write fails, and the reason (its alert) is read below.
                let held = try await storeCall { (try await self.store.versionVector(), try await self.store.feedCursor()) }
                if let (vector, feed) = held, let summary = try await perform(machine.connected(localVector: vector, feed: feed, now: now)) {
                    return summary
                }
                // Read now, while the TLS handler is surely in place: a peer that refuses our hello
                // closes at once, and its refusal is recorded against the node its certificate names.
                if case .success(let certificate) = await identify() { machine.peerPresented(certificate) }
            }
            // `merge` ends only when every input has ended, so the inbound end is an event of its own.
            let frames = chain(inbound.map { Event.frame($0) }, [Event.closed].async)
            // A tick when the machine's next timer falls due (read anew after every event).
            let deadline = timerDeadline
            let longest = settings.longestTimerWait
            let ticks = AsyncStream<Event> {
                let now = ContinuousClock.now
                let due = deadline.due.withLock { $0 }.map { min($0, now + longest) } ?? now + longest
                do {
                    // Never a busy loop while the event before this tick is still being handled.
                    try await Task.sleep(until: max(due, now + .milliseconds(2)), clock: .continuous)
                } catch {
                    return nil
                }
                return Event.tick
            }
            // Wake-ups that arrive while a listener waits out its relay interval coalesce into one.
            let relayInterval = session.side.isListener ? settings.relayInterval : .zero
            let changes = (session.feed?.subscribe() ?? AsyncStream { $0.finish() }).map { _ in
                if relayInterval > .zero { try? await Task.sleep(for: relayInterval) }
                return Event.localChange
            }
            // The node's shutdown and the outcomes of applying batches.
            let (notices, notice) = AsyncStream.makeStream(of: Event.self)
            defer { notice.finish() }
            let (batches, applier) = AsyncStream.makeStream(of: BatchToApply.self)
            self.applier = applier
            let store = store
            do {
                // The group ends once the batch being applied is committed (or, when the session
                // failed, interrupted: it was not acknowledged, and the peer sends it again).
                return try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { await SyncSession.applyBatches(batches, to: store, telling: notice) }
                    defer { applier.finish() }
                    return try await withGracefulShutdownHandler {
                        try await loop(over: merge(frames, ticks, merge(changes, notices)))
                    } onGracefulShutdown: {
                        notice.yield(.shutdown)
                    }
                }
            } catch let error as SyncError {
                throw error
            } catch let error as WireError {
                _ = try await perform(machine.receiveUndecodable(error, now: now))
                throw SyncError(SyncError.kind(of: error.code), error.message)
            } catch let error as CancellationError {
                _ = try? await perform(machine.cancelled(now: now))
                throw error
            } catch {
                if let summary = try await perform(transportFailed(error)) { return summary }
                throw SyncError(.linkLost, "the connection failed: \(error)")
            }
        }

        private func loop(over events: some AsyncSequence<Event, any Error>) async throws -> SyncSummary {
            let first = machine.nextDeadline.map { origin + $0 }
            timerDeadline.due.withLock { $0 = first }
            for try await event in events {
                let actions: [SessionAction]
                switch event {
                case .frame(let frame):
                    if case .hello(let hello) = frame.body, !machine.isSyncing {
                        actions = machine.receiveHello(hello, certificate: await identify(), now: now)
                    } else {
                        actions = machine.receive(frame, now: now)
                    }
                case .tick: actions = machine.tick(now: now)
                case .localChange: actions = machine.localChange(now: now)
                case .closed: actions = machine.peerClosed(now: now)
                case .shutdown: actions = machine.shutdown(now: now)
                case .applied(let batch): actions = outcome(of: batch)
                }
                if let summary = try await perform(actions) { return summary }
                let due = machine.nextDeadline.map { origin + $0 }
                timerDeadline.due.withLock { $0 = due }
                if let onProgress = session.onProgress, let progress = machine.progress { onProgress(progress) }
            }
            throw CancellationError()
        }

        /// What a failure of the connection means: a listener's peer that leaves after a finished
        /// round (a one-off branch, a TLS close without close_notify, a reset) simply left.
        private func transportFailed(_ error: any Error) -> [SessionAction] {
            if session.side.isListener, machine.roundFinished, Self.isTransportError(error) {
                logger.debug("peer left after its round", metadata: ["sync.error": "\(error)"])
                return machine.peerClosed(now: now)
            }
            if let error = error as? NIOSSLError, case .uncleanShutdown = error {
                // TCP closed under TLS without close_notify: a cut link, not a refusal.
                return machine.failed(SyncError(.linkLost, "the connection was cut (TCP closed without TLS close_notify)"), now: now)
            }
            if error is NIOSSLError || error is BoringSSLError {
                return machine.failed(
                    SyncError(
                        .refused,
                        "TLS handshake failed (\(error)): check that both certificates come from the company CA and are valid now"),
                    now: now)
            }
            return machine.failed(SyncError(.linkLost, "the connection failed: \(error)"), now: now)
        }

        /// Carries out `actions` and those they lead to; returns the summary when the round finished.
        private func perform(_ actions: [SessionAction]) async throws -> SyncSummary? {
            var queue = actions[...]
            while let action = queue.popFirst() {
                switch action {
                case .send(let body):
                    // A write that fails is not the end yet: what the peer sent before it closed (its
                    // caught-up, its reason for refusing us) is still read, and decides.
                    try? await sender?.write(.with { $0.body = body })
                case .admit(let request):
                    guard let facts = try await storeCall({ try await self.facts(for: request) }) else { return nil }
                    queue += machine.admitted(facts, now: now)
                case .beginRecovery(let seq):
                    guard try await storeCall({ try await self.store.beginRecovery(untilSeq: seq) }) != nil else { return nil }
                case .readOps(let request):
                    guard let (ops, scope, position) = try await storeCall({ try await self.read(request) }) else { return nil }
                    if !ops.isEmpty {
                        Counter(label: "branchdesk_ops_sent_total", dimensions: peerDimensions).increment(by: ops.count)
                    }
                    queue += machine.opsRead(ops, scope: scope, feedPosition: position, now: now)
                case .apply(let ops, let grant, let feed):
                    applier?.yield(BatchToApply(ops: ops, grant: grant, feed: feed))
                case .notifyChange:
                    session.feed?.notify()
                case .checkRevocation(let serial):
                    guard let revoked = try await storeCall({ try await self.store.isRevoked(serial: serial) }) else { return nil }
                    queue += machine.revocationChecked(revoked, now: now)
                case .record(let record):
                    // The end of a session is recorded even when the store is what failed: best effort.
                    try? await store.record(record)
                case .recordRefusal(let peer, let address, let message, let at):
                    try? await store.recordRefusal(of: peer.nodeID, role: peer.role, address: address, message: message, at: at)
                case .log(let line):
                    log(line)
                case .finish(let summary):
                    return summary
                case .fail(let error):
                    throw error
                case .stopForShutdown:
                    throw CancellationError()
                }
            }
            return nil
        }

        /// Runs a store call; a failure of the store ends the session (told to the peer, recorded)
        /// by replacing what was left to do. Returns nil then.
        private func storeCall<T>(_ body: () async throws -> T) async throws -> T? {
            do {
                return try await body()
            } catch {
                _ = try await perform(storeFailed(error))
                return nil
            }
        }

        /// What the machine makes of a batch applied beside the loop.
        private func outcome(of batch: AppliedBatch) -> [SessionAction] {
            switch batch.outcome {
            case .success(let outcome):
                Timer(label: "branchdesk_batch_apply_seconds").record(duration: batch.took)
                Counter(label: "branchdesk_ops_received_total", dimensions: peerDimensions).increment(by: outcome.applied)
                Counter(label: "branchdesk_ops_refused_total", dimensions: peerDimensions).increment(by: outcome.refused.count)
                return machine.applied(outcome, now: now)
            case .failure(let refusal as AuthorisationRefusal):
                Counter(label: "branchdesk_ops_refused_total", dimensions: peerDimensions).increment(by: batch.ops)
                return machine.applyRefused(refusal, now: now)
            case .failure(let error):
                return storeFailed(error)
            }
        }

        private func storeFailed(_ error: any Error) -> [SessionAction] {
            logger.error("the store failed during a session", metadata: ["peer.id": "\(machine.peer?.nodeID.rawValue ?? "?")", "db.error": "\(error)"])
            return machine.failed(
                SyncError(.linkLost, "the local store failed: \(error)"),
                telling: WireError(.internal, "the peer's store failed; it will retry"), now: now)
        }

        private func facts(for request: AdmissionRequest) async throws -> PeerFacts {
            let peer = request.peer
            var facts = PeerFacts(localVector: try await store.versionVector())
            if let node = request.scopeOf { facts.scope = try await store.replicationScope(for: node) }
            if let node = request.feedOf { facts.feed = try await store.openFeed(for: node) }
            if let epoch = request.adoptFeed { facts.feed = try await store.adoptFeed(epoch: epoch) }
            facts.record = try await store.peers().first { $0.nodeID == peer.nodeID }
            facts.revoked = try await store.isRevoked(serial: peer.serial)
            if !facts.revoked, let registry = session.registry {
                do {
                    try registry.enter(peer)
                    registered = peer
                } catch {
                    facts.overLimit = error.message
                }
            }
            return facts
        }

        /// The ops a request asks for, with the replica scope read for it, if it named one, or the
        /// feed position they reach, if it asked for a feed.
        private func read(_ request: OpsRequest) async throws -> ([Op], Set<NodeID>?, UInt64?) {
            let origins: Set<NodeID>?
            var scope: Set<NodeID>?
            switch request.origins {
            case .all: origins = nil
            case .only(let set): origins = set
            case .scopeOf(let node):
                scope = try await store.replicationScope(for: node)
                origins = scope
            case .feed(let branch, let position):
                let read = try await store.feedOps(
                    for: branch, ownAfter: request.after[branch], after: position, limit: request.limit, maxBytes: request.maxBytes)
                return (read.ops, nil, read.position)
            }
            let ops = try await store.opsMissing(by: request.after, limit: request.limit, origins: origins, maxBytes: request.maxBytes)
            return (ops, scope, nil)
        }

        /// The peer's identity from its TLS certificate.
        private func identify() async -> Result<CertificateIdentity, WireError> {
            guard let certificate = try? await channel.nioSSL_peerCertificate().get() else {
                return .failure(WireError(.identityMismatch, "the peer presented no certificate"))
            }
            do {
                return .success(try CertificateIdentity(derEncoded: try certificate.toDERBytes()))
            } catch {
                return .failure(WireError(.identityMismatch, "the peer's certificate names no node: \(error)"))
            }
        }

        private var peerDimensions: [(String, String)] { [("peer", machine.peer?.nodeID.rawValue ?? "")] }

        private func log(_ line: SessionLog) {
            let level: Logger.Level =
                switch line.level {
                case .debug: .debug
                case .info: .info
                case .warning: .warning
                }
            logger.log(level: level, Logger.Message(stringLiteral: line.message), metadata: line.metadata.mapValues { .string($0) })
        }

        /// Whether `error` came from the connection (TCP or TLS) rather than the protocol or the store.
        static func isTransportError(_ error: any Error) -> Bool {
            error is ChannelError || error is IOError || error is NIOSSLError || error is BoringSSLError
        }

        static func wallMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
    }
}

/// When a session's next timer falls due, shared by its event loop and its tick stream.
private final class TimerDeadline: Sendable {
    let due = Mutex<ContinuousClock.Instant?>(nil)
}

extension SessionStateMachine.Side {
    var isListener: Bool {
        if case .listener = self { true } else { false }
    }
}
