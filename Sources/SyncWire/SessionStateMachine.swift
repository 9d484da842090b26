import Replication
import SwiftProtobuf
import TicketModel
import WireForms

/// The protocol logic of one sync session (`Protocol/SYNC.md`), from hello to close, as a value
/// with no I/O: every event method takes the time and returns the actions the shell
/// (`SyncTransport.SyncSession`) carries out — frames to send, reads and writes of the store,
/// records for `status` — in the style of swift-nio's state machines and SWIM's directives.
///
/// Identity, version, revocation and session limits are decided here and nowhere else; the
/// store's `PeerAuthorisation` decides what ops a peer may push.
public struct SessionStateMachine: Sendable {
    public enum Side: Sendable, Equatable {
        /// We dialled `address`; the peer's certificate must carry `expectedRole` when one is given.
        case dialler(address: String, expectedRole: NodeRole?)
        /// The peer dialled us from `address`.
        case listener(address: String)
    }

    public enum Mode: Sendable, Equatable {
        /// End once both sides hold each other's ops.
        case once
        /// Stay open, pushing new ops as they commit, until the link or the node ends.
        case live
    }

    private enum Phase: Equatable {
        /// Waiting for the peer's hello (a dialler has sent its own).
        case awaitingHello
        /// The hello checked out; waiting for the facts that admission needs.
        case admitting(CertificateIdentity)
        case syncing
        /// The node is shutting down and told the peer: waiting for it to close, or for the grace.
        case leaving(since: Duration)
        case ended
    }

    /// How long a node shutting down waits for its peer to close after telling it why.
    public static let leavingGrace: Duration = .seconds(2)

    public let local: NodeIdentity
    public let side: Side
    public let mode: Mode
    private let settings: SyncSettings
    private var phase = Phase.awaitingHello

    private let startedAt: Duration
    private var lastHeardAt: Duration
    private var lastSentAt: Duration
    private var lastRecordedAt: Duration?
    private var lastRevocationCheck: Duration
    private var recordIsStale = false

    /// The peer, known once its hello matched its certificate and it was admitted.
    public private(set) var peer: CertificateIdentity?
    /// The peer as its certificate names it, once its hello matched: refusals are counted against it.
    private var identified: CertificateIdentity?
    private var record: PeerRecord?

    /// The origins whose ops we send: a branch pushes only its own; HQ relays to a branch its
    /// replica scope, read anew for every batch; otherwise all.
    private var outgoing = OpsRequest.Origins.all
    /// The branch's replica scope as last read, when we relay only that: our hello and acks show
    /// the branch only these origins, so that it is never owed what it will never receive.
    private var relayedScope: Set<NodeID>?
    /// The protocol version both sides speak, once the peer's hello arrived.
    public private(set) var version: UInt32?
    /// The feed this session carries (version 3, between a branch and HQ, SYNC.md §5.5): at HQ the
    /// branch's feed and how far it was sent; at a branch, its place in the feed as committed.
    private var feed: FeedCursor?
    /// The feed cursor the peer's hello showed (a branch's place), or HQ's feed end (to a branch).
    private var helloFeed: FeedCursor?
    /// HQ: the feed position at which it said caught-up; a branch: the one HQ's caught-up said.
    private var feedToReach: UInt64?
    /// The peer's vector as we have fed it: its hello vector plus every batch we sent.
    private var cursor = VersionVector()
    /// What the peer held when the session began (its hello), by which its pushes are judged: an
    /// edit it made offline stays in good faith though it receives a transfer in this session.
    private var heldAtStart = VersionVector()
    private var feedHeldAtStart: UInt64?
    /// Batches sent and not yet acknowledged, oldest first.
    private var inFlight: [UInt64] = []
    /// The batch carrying the op the peer last refused for good, once sent again.
    private var stuckOpBatch: UInt64?
    private var lastBatchID: UInt64 = 0
    private var lastReceivedBatchID: UInt64 = 0
    /// A batch of the peer's, decoded: its id, its ops, the vector of what it holds and, from
    /// HQ's feed, the place it reaches.
    private struct ReceivedBatch {
        let id: UInt64
        let ops: [Op]
        let shown: VersionVector
        let feed: FeedCursor?
    }
    /// The batch being applied.
    private var applying: ReceivedBatch?
    /// Batches that arrived while another was being applied, oldest first: with `applying`, at
    /// most `SyncProtocol.window` of them.
    private var waiting: [ReceivedBatch] = []

    /// Whether this session carries a branch's feed: version 3 between a branch and HQ.
    private var carriesFeed: Bool { feed != nil }

    /// The branch of a session between a branch and HQ, this node or the peer.
    private var feedBranch: NodeID { local.role == .branch ? local.nodeID : peer?.nodeID ?? local.nodeID }
    private var readingOps = false
    /// Set when we told the peer it has everything: the cursor at that moment.
    private var caughtUpSent: VersionVector?
    /// Set when the peer told us we have everything.
    private var caughtUpReceived: VersionVector?
    private var refusals: [String] = []
    public private(set) var roundFinished = false
    private var opsSent = 0
    private var opsReceived = 0
    private var opsToSend = 0
    private var opsToReceive = 0
    private var localVector = VersionVector()

    public init(local: NodeIdentity, side: Side, mode: Mode, settings: SyncSettings, now: SessionTime) {
        self.local = local
        self.side = side
        self.mode = mode
        self.settings = settings
        startedAt = now.monotonic
        lastHeardAt = now.monotonic
        lastSentAt = now.monotonic
        lastRevocationCheck = now.monotonic
    }

    /// Whether the peer was admitted and ops may flow.
    public var isSyncing: Bool { phase == .syncing }

    /// How far the round has got; nil before the peer is admitted.
    public var progress: SyncProgress? {
        guard peer != nil else { return nil }
        return SyncProgress(opsSent: opsSent, opsReceived: opsReceived, opsToSend: opsToSend, opsToReceive: opsToReceive)
    }

    private var isDialler: Bool {
        if case .dialler = side { true } else { false }
    }

    private var address: String {
        switch side {
        case .dialler(let address, _), .listener(let address): address
        }
    }

    // MARK: Handshake

    /// A dialler's connection is up: it speaks first. A branch shows its place in HQ's feed.
    public mutating func connected(localVector: VersionVector, feed: FeedCursor? = nil, now: SessionTime) -> [SessionAction] {
        precondition(isDialler && phase == .awaitingHello, "only a dialler speaks first, once: \(side), \(phase)")
        self.localVector = localVector
        return [send(.hello(hello(showing: localVector, feed: feed)), now)]
    }

    /// The bytes from the peer could not be read as frames (bad magic, a length over the limit, a
    /// frame that does not decode): tell it why and end.
    public mutating func receiveUndecodable(_ error: WireError, now: SessionTime) -> [SessionAction] {
        guard phase != .ended else { return [] }
        return refuse(error, now)
    }

    /// The peer's hello, with the identity its TLS certificate names (or why it names none).
    public mutating func receiveHello(
        _ hello: Branchdesk_Sync_V1_Hello, certificate: Result<CertificateIdentity, WireError>, now: SessionTime
    ) -> [SessionAction] {
        switch phase {
        case .awaitingHello: break
        case .leaving, .ended: return []
        case .admitting, .syncing: return refuse(WireError(.unexpectedMessage, "a second hello in one session"), now)
        }
        lastHeardAt = now.monotonic
        let peer: CertificateIdentity
        switch certificate {
        case .success(let identity): peer = identity
        case .failure(let error): return refuse(error, now)
        }
        guard hello.nodeID == peer.nodeID.rawValue, hello.role == peer.role.rawValue else {
            identified = peer
            return refuse(
                WireError(
                    .identityMismatch,
                    "the hello claims \(hello.nodeID) (\(hello.role)) but the certificate is for \(peer.nodeID) (\(peer.role))"),
                now)
        }
        identified = peer
        if case .dialler(_, let expectedRole?) = side, peer.role != expectedRole {
            return refuse(
                WireError(.identityMismatch, "dialled a \(expectedRole) node but \(peer.nodeID)'s certificate says \(peer.role)"), now)
        }
        let versions = settings.versions
        guard hello.minVersion <= hello.maxVersion, hello.minVersion <= versions.upperBound, hello.maxVersion >= versions.lowerBound
        else {
            return refuse(
                WireError(
                    .unsupportedVersion,
                    "the peer speaks protocol versions \(hello.minVersion)...\(hello.maxVersion); this node speaks \(versions.lowerBound)...\(versions.upperBound)"
                ), now)
        }
        do {
            cursor = try VersionVector(wire: hello.vector)
            heldAtStart = cursor
        } catch {
            return refuse(error, now)
        }
        let version = min(hello.maxVersion, versions.upperBound)
        self.version = version
        phase = .admitting(peer)
        let relaysScope = local.role == .hq && peer.role == .branch
        let readsFeed = local.role == .branch && peer.role == .hq
        guard version >= SyncProtocol.feedVersion, relaysScope || readsFeed else {
            return [.admit(AdmissionRequest(peer: peer, scopeOf: relaysScope ? peer.nodeID : nil))]
        }
        if hello.hasFeed { helloFeed = FeedCursor(epoch: hello.feed.epoch, position: hello.feed.position) }
        if readsFeed {
            guard let told = helloFeed, !told.epoch.isEmpty else {
                return refuse(WireError(.unexpectedMessage, "a version-\(version) hello from HQ without its feed"), now)
            }
            return [.admit(AdmissionRequest(peer: peer, scopeOf: nil, adoptFeed: told.epoch))]
        }
        return [.admit(AdmissionRequest(peer: peer, scopeOf: nil, feedOf: peer.nodeID))]
    }

    /// The facts an `admit` action asked for: admits the peer, or refuses it.
    public mutating func admitted(_ facts: PeerFacts, now: SessionTime) -> [SessionAction] {
        guard case .admitting(let peer) = phase else { preconditionFailure("admitted while \(phase)") }
        if facts.revoked {
            record = facts.record
            return refuse(WireError(.unauthorized, "the certificate of \(peer.nodeID) (serial \(peer.serial)) is revoked"), now)
        }
        if let overLimit = facts.overLimit {
            // Not a refusal of the peer: a branch that redials may find its old session not yet
            // noticed as closed. It is told to try again, and its dialler does, with backoff.
            return end(SyncError(.linkLost, overLimit), telling: WireError(.internal, overLimit), now)
        }
        self.peer = peer
        phase = .syncing
        // The dead-link clock starts again now: the time this node's store took to admit the peer
        // (slow on a loaded machine, with no tick in between) is no silence of the peer's.
        lastHeardAt = now.monotonic
        localVector = facts.localVector
        var actions: [SessionAction] = []
        let me = local.nodeID
        if cursor[me] > localVector[me] {
            actions.append(.beginRecovery(untilSeq: cursor[me]))
            actions.append(
                .log(
                    SessionLog(
                        .warning, "this node was restored from a backup: the peer holds more of its own ops; pulling them back before new edits",
                        ["peer.id": peer.nodeID.rawValue, "sync.peer_holds": "\(cursor[me])", "sync.held": "\(localVector[me])"])))
        }
        let counted: Set<NodeID>?
        var feedBacklog: UInt64 = 0
        var record = facts.record ?? PeerRecord(nodeID: peer.nodeID, role: peer.role, address: address, state: .connecting, stateSince: 0)
        if local.role == .branch {
            outgoing = .only([me])
            counted = [me]
            if let held = facts.feed {
                // Reading HQ's feed: HQ's hello said how far it goes.
                feed = held
                let end = helloFeed?.position ?? 0
                record.feedEnd = end
                feedBacklog = end > held.position ? end - held.position : 0
            }
        } else if let end = facts.feed {
            // A branch's feed: from its place in it, unless it read another (HQ was restored).
            let held = helloFeed.flatMap { $0.epoch == end.epoch && $0.position <= end.position ? $0.position : nil } ?? 0
            feed = FeedCursor(epoch: end.epoch, position: held)
            helloFeed = end
            record.feedAcked = held
            feedHeldAtStart = held
            feedBacklog = end.position - held
            outgoing = .feed(peer.nodeID, after: held)
            counted = [peer.nodeID]
        } else if let scope = facts.scope {
            outgoing = .scopeOf(peer.nodeID)
            relayedScope = scope
            counted = scope
        } else {
            outgoing = .all
            counted = nil
        }
        opsToSend = Self.count(in: localVector, above: cursor, origins: counted) + (local.role == .hq ? Int(feedBacklog) : 0)
        opsToReceive = Self.count(in: cursor, above: localVector, origins: carriesFeed ? [me] : nil) + (local.role == .branch ? Int(feedBacklog) : 0)
        record.role = peer.role
        record.address = address
        record.state = .connecting
        record.stateSince = now.wallMillis
        record.ackedVector = cursor
        record.sentVector = cursor
        if let stuck = record.stuckOp, cursor.contains(stuck.op) { record.stuckOp = nil }
        self.record = record
        actions.append(.record(record))
        lastRecordedAt = now.monotonic
        actions.append(
            .log(SessionLog(.info, "session established", ["peer.id": peer.nodeID.rawValue, "peer.role": peer.role.rawValue, "peer.address": address])))
        if !isDialler {
            // To a branch, only the origins we relay to it, so that it expects nothing else; over
            // its feed, only its own (the rest it receives by the feed, whose end the hello shows).
            let shown = carriesFeed ? localVector.restricted(to: [peer.nodeID]) : relayedScope.map { localVector.restricted(to: $0) } ?? localVector
            actions.append(send(.hello(hello(showing: shown, feed: carriesFeed ? helloFeed : nil)), now))
        }
        actions += pump(now)
        return actions
    }

    private func hello(showing vector: VersionVector, feed: FeedCursor?) -> Branchdesk_Sync_V1_Hello {
        .with {
            $0.minVersion = settings.versions.lowerBound
            $0.maxVersion = settings.versions.upperBound
            $0.nodeID = local.nodeID.rawValue
            $0.role = local.role.rawValue
            $0.vector = vector.wire
            $0.software = SyncProtocol.software
            if let feed { $0.feed = feed.wire }
        }
    }

    // MARK: Frames

    /// A dialler's peer's TLS certificate, read once its hello is sent: should the peer refuse the
    /// hello, the refusal is recorded against the node the certificate names.
    public mutating func peerPresented(_ certificate: CertificateIdentity) {
        if identified == nil { identified = certificate }
    }

    /// Any frame but the hello (which comes with its certificate through `receiveHello`).
    public mutating func receive(_ frame: WireFrame, now: SessionTime) -> [SessionAction] {
        switch phase {
        case .leaving, .ended: return []
        case .awaitingHello, .admitting, .syncing: break
        }
        lastHeardAt = now.monotonic
        if case .error(let error) = frame.body {
            if error.code == .opRejected, let stuck = noteStuck(error, now) {
                let message = "the peer rejects op \(stuck.op) for good: \(error.reason); \(stuck.wayOut(at: local.nodeID)) (SYNC.md §6.2)"
                return end(SyncError(.refused, message), telling: nil, now)
            }
            return end(SyncError(SyncError.kind(of: error.code), "the peer ended the session: \(error.reason)"), telling: nil, now)
        }
        guard isSyncing else {
            if case .hello = frame.body { preconditionFailure("a hello goes to receiveHello") }
            if case .heartbeat = frame.body { return [] }
            return refuse(WireError(.unexpectedMessage, "a \(Self.kind(of: frame)) before the hello"), now)
        }
        switch frame.body {
        case .hello:
            return refuse(WireError(.unexpectedMessage, "a second hello in one session"), now)
        case .batch(let batch):
            return receive(batch, now)
        case .ack(let ack):
            return acknowledge(ack, now)
        case .caughtUp(let caughtUp):
            do {
                caughtUpReceived = try VersionVector(wire: caughtUp.vector)
            } catch {
                return refuse(error, now)
            }
            if carriesFeed, local.role == .branch {
                feedToReach = caughtUp.feed.position
                let end = max(record?.feedEnd ?? 0, caughtUp.feed.position)
                record?.feedEnd = end
            }
            return finishIfLevel(now)
        case .heartbeat:
            return []
        case .error, nil:
            return refuse(WireError(.unexpectedMessage, "a frame of a kind this protocol version does not define"), now)
        }
    }

    /// The peer refused one of our ops for good: recorded, with when it first did, until a batch
    /// carrying the op (withdrawn, SYNC.md §6.2) is acknowledged.
    private mutating func noteStuck(_ error: Branchdesk_Sync_V1_Error, _ now: SessionTime) -> StuckOp? {
        guard error.hasRejected, let origin = try? NodeID(error.rejected.origin), error.rejected.seq > 0 else { return nil }
        let op = OpID(origin: origin, seq: error.rejected.seq)
        let since = record?.stuckOp?.op == op ? record?.stuckOp?.since ?? now.wallMillis : now.wallMillis
        let stuck = StuckOp(op: op, reason: error.reason, since: since)
        record?.stuckOp = stuck
        return stuck
    }

    private static func kind(of frame: WireFrame) -> String {
        switch frame.body {
        case .hello: "hello"
        case .batch: "batch"
        case .ack: "ack"
        case .caughtUp: "caught-up"
        case .heartbeat: "heartbeat"
        case .error: "error"
        case nil: "frame of an unknown kind"
        }
    }

    // MARK: Sending

    /// Asks for the next batch while the window has room; says caught-up once nothing is left.
    private mutating func pump(_ now: SessionTime) -> [SessionAction] {
        guard isSyncing, !readingOps, inFlight.count < settings.window else { return [] }
        // A one-off round sends what it held when it caught up, not ops committed afterwards.
        guard mode == .live || caughtUpSent == nil else { return [] }
        readingOps = true
        if case .feed(let branch, _) = outgoing, let feed { outgoing = .feed(branch, after: feed.position) }
        return [
            .readOps(
                OpsRequest(after: cursor, origins: outgoing, limit: settings.batchOps, maxBytes: settings.maxFrameBytes / 4))
        ]
    }

    /// The ops a `readOps` action read, with the replica scope read for it when it asked for one,
    /// or the feed position they reach when it asked for a branch's feed.
    public mutating func opsRead(_ ops: [Op], scope: Set<NodeID>? = nil, feedPosition: UInt64? = nil, now: SessionTime) -> [SessionAction] {
        precondition(readingOps, "ops read that were not asked for")
        readingOps = false
        if let scope, relayedScope != nil { relayedScope = scope }
        if let feedPosition, feed != nil { feed?.position = feedPosition }
        guard isSyncing else { return [] }
        guard !ops.isEmpty else {
            guard caughtUpSent == nil else { return finishIfLevel(now) }
            caughtUpSent = cursor
            if local.role == .hq { feedToReach = feed?.position }
            let shown = carriesFeed ? cursor.restricted(to: [feedBranch]) : cursor
            let feed = feed
            return [send(.caughtUp(.with { $0.vector = shown.wire; if let feed { $0.feed = feed.wire } }), now)] + finishIfLevel(now)
        }
        // A feed's ops are scattered by design: the cursor follows the branch's own ops only.
        for op in ops where !carriesFeed || op.id.origin == feedBranch { cursor.advance(to: op.id) }
        lastBatchID += 1
        let batchID = lastBatchID
        inFlight.append(batchID)
        if let stuck = record?.stuckOp, ops.contains(where: { $0.id == stuck.op }) { stuckOpBatch = batchID }
        opsSent += ops.count
        let feed = feed
        return [send(.batch(.with { $0.batchID = batchID; $0.ops = ops.map(\.wire); if let feed { $0.feed = feed.wire } }), now)] + pump(now)
    }

    /// Ops were committed here (a local edit, or another session's batch): push them.
    public mutating func localChange(now: SessionTime) -> [SessionAction] {
        pump(now)
    }

    private mutating func acknowledge(_ ack: Branchdesk_Sync_V1_Ack, _ now: SessionTime) -> [SessionAction] {
        guard inFlight.first == ack.batchID else {
            return refuse(WireError(.unexpectedMessage, "an ack for batch \(ack.batchID), which is not the oldest batch in flight"), now)
        }
        let acked: VersionVector
        do {
            acked = try VersionVector(wire: ack.vector)
        } catch {
            return refuse(error, now)
        }
        inFlight.removeFirst()
        record?.ackedVector = acked
        if stuckOpBatch == ack.batchID {
            // The op passed (withdrawn at its origin): the trouble is over.
            record?.stuckOp = nil
            stuckOpBatch = nil
        }
        record?.sentVector = cursor
        if let feed, ack.hasFeed, ack.feed.epoch == feed.epoch { record?.feedAcked = ack.feed.position }
        var actions: [SessionAction] = []
        if !ack.refused.isEmpty {
            refusals += ack.refused
            actions.append(
                .log(SessionLog(.warning, "the peer refused ops", ["peer.id": peerName, "sync.refused": ack.refused.joined(separator: "; ")])))
            record?.lastError = "the peer refused ops: " + ack.refused.joined(separator: "; ")
            record?.lastErrorAt = now.wallMillis
        }
        actions += recordProgress(force: false, now)
        actions += noteLiveTraffic(now)
        actions += pump(now)
        actions += finishIfLevel(now)
        return actions
    }

    // MARK: Receiving

    private mutating func receive(_ batch: Branchdesk_Sync_V1_Batch, _ now: SessionTime) -> [SessionAction] {
        guard batch.batchID == lastReceivedBatchID + 1 else {
            return refuse(
                WireError(.unexpectedMessage, "batch \(batch.batchID) arrived where batch \(lastReceivedBatchID + 1) was due"), now)
        }
        guard batch.ops.count <= SyncProtocol.maxBatchOps else {
            return refuse(
                WireError(.batchTooLarge, "a batch of \(batch.ops.count) ops exceeds the limit of \(SyncProtocol.maxBatchOps)"), now)
        }
        let unacknowledged = (applying == nil ? 0 : 1) + waiting.count + 1
        guard unacknowledged <= SyncProtocol.window else {
            return refuse(
                WireError(
                    .windowExceeded,
                    "batch \(batch.batchID) arrived with \(unacknowledged - 1) batches unacknowledged; the window is \(SyncProtocol.window): wait for an ack"
                ), now)
        }
        var ops: [Op] = []
        ops.reserveCapacity(batch.ops.count)
        var shown: [NodeID: UInt64] = [:]
        for wire in batch.ops {
            do {
                let op = try Op(wire: wire)
                shown[op.id.origin] = max(shown[op.id.origin] ?? 0, op.id.seq)
                ops.append(op)
            } catch {
                return refuse(error, now)
            }
        }
        lastReceivedBatchID = batch.batchID
        // From HQ's feed, a batch completes the entries up to the cursor it carries (a batch of
        // only our own ops, pulled back after a restore, leaves the place as it is).
        let fed = local.role == .branch && feed != nil && batch.hasFeed ? FeedCursor(wire: batch.feed) : nil
        waiting.append(ReceivedBatch(id: batch.batchID, ops: ops, shown: VersionVector(shown), feed: fed))
        return applyNext()
    }

    /// Asks for the oldest waiting batch to be applied, unless one is being applied.
    private mutating func applyNext() -> [SessionAction] {
        guard isSyncing, applying == nil, !waiting.isEmpty, let peer else { return [] }
        let batch = waiting.removeFirst()
        applying = batch
        let grant = PeerGrant(nodeID: peer.nodeID, role: peer.role, holds: heldAtStart, feedPosition: feedHeldAtStart)
        // The place in HQ's feed is read when the batch is applied, after the batches before it.
        let fed = local.role == .branch ? feed.map { batch.feed ?? $0 } : nil
        return [.apply(batch.ops, grant, feed: fed)]
    }

    /// The outcome of an `apply` action, committed: acknowledges the batch and applies the next
    /// one waiting, or, when the node is shutting down, then tells the peer.
    public mutating func applied(_ outcome: BatchOutcome, now: SessionTime) -> [SessionAction] {
        guard phase != .ended else { return [] }
        guard let batch = applying, let peer else { preconditionFailure("an outcome of no batch being applied") }
        applying = nil
        // The peer holds what it sent: never echo it back, and count it as held.
        cursor.formMaximum(with: batch.shown)
        record?.ackedVector.formMaximum(with: batch.shown)
        record?.sentVector = cursor
        localVector = outcome.vector
        opsReceived += outcome.applied
        let reasons = outcome.refused.map(\.description)
            + outcome.deferred.map { "\($0.origin)#\($0.seq) follows a gap: resend from the acked vector" }
        var actions: [SessionAction] = []
        if outcome.applied > 0 { actions.append(.notifyChange) }
        if local.role == .branch, let held = outcome.feed { feed = held }
        let shown =
            carriesFeed && local.role == .hq
            ? outcome.vector.restricted(to: [peer.nodeID])
            : relayedScope.map { outcome.vector.restricted(to: $0.union([peer.nodeID])) } ?? outcome.vector
        let held = local.role == .branch ? feed : nil
        actions.append(
            send(.ack(.with { $0.batchID = batch.id; $0.vector = shown.wire; $0.refused = reasons; if let held { $0.feed = held.wire } }), now))
        if case .leaving = phase { return actions + [sendShuttingDown(now)] }
        actions += applyNext()
        actions += noteLiveTraffic(now)
        actions += finishIfLevel(now)
        return actions
    }

    /// The store refused the batch whole: one op is outside the peer's rights. An op claiming an
    /// origin the peer may not push for is the peer's fault (`UNAUTHORIZED`); any other refusal
    /// is of the op itself, for good (`OP_REJECTED` naming it, SYNC.md §6.2).
    public mutating func applyRefused(_ refusal: AuthorisationRefusal, now: SessionTime) -> [SessionAction] {
        guard phase != .ended else { return [] }
        precondition(applying != nil, "a refusal of no batch being applied")
        applying = nil
        guard !refusal.forgesOrigin else { return refuse(WireError(.unauthorized, refusal.description), now) }
        let error = WireError(.opRejected, refusal.description)
        return end(SyncError(.refused, error.message), telling: error, rejecting: refusal.op, now)
    }

    // MARK: Completion

    /// The first time both sides are level (each said caught-up, nothing in flight or being
    /// applied) the peer is recorded as synced; a one-off round then checks that each side really
    /// holds the other's ops and finishes.
    private mutating func finishIfLevel(_ now: SessionTime) -> [SessionAction] {
        guard !roundFinished, isSyncing, let peer, let sent = caughtUpSent, let received = caughtUpReceived, inFlight.isEmpty,
            applying == nil, waiting.isEmpty, !readingOps
        else { return [] }
        if mode == .once {
            if carriesFeed, local.role == .branch, let reach = feedToReach, let held = feed, held.position < reach {
                return end(
                    SyncError(
                        .incomplete,
                        "this node holds HQ's feed for it only up to entry \(held.position) of \(reach); ops were refused (clock skew: see the log)"),
                    telling: nil, now)
            }
            if carriesFeed, local.role == .hq, let reach = feedToReach, (record?.feedAcked ?? 0) < reach {
                return end(
                    SyncError(
                        .incomplete, "\(peer.nodeID) holds its feed only up to entry \(record?.feedAcked ?? 0) of \(reach): " + (refusals.last ?? "it did not say why")),
                    telling: nil, now)
            }
            let acked = record?.ackedVector ?? VersionVector()
            let sent = carriesFeed ? sent.restricted(to: [feedBranch]) : sent
            if let missing = sent.seqs.sorted(by: { $0.key < $1.key }).first(where: { acked[$0.key] < $0.value }) {
                return end(
                    SyncError(
                        .incomplete,
                        "\(peer.nodeID) holds \(missing.key)'s ops only up to #\(acked[missing.key]) of #\(missing.value): "
                            + (refusals.last ?? "it did not say why")), telling: nil, now)
            }
            if let missing = received.seqs.sorted(by: { $0.key < $1.key }).first(where: { localVector[$0.key] < $0.value }) {
                return end(
                    SyncError(
                        .incomplete,
                        "this node holds \(missing.key)'s ops only up to #\(localVector[missing.key]) of the #\(missing.value) that \(peer.nodeID) sent; they were refused (clock skew or a gap: see the log)"
                    ), telling: nil, now)
            }
        }
        roundFinished = true
        record?.state = mode == .live ? .live : .offline
        record?.stateSince = now.wallMillis
        record?.lastSyncAt = now.wallMillis
        if refusals.isEmpty {
            record?.lastError = nil
            record?.lastErrorAt = nil
        }
        var actions = recordProgress(force: true, now)
        if mode == .once, let summary {
            phase = .ended
            actions.append(.finish(summary))
        }
        return actions
    }

    private var summary: SyncSummary? {
        peer.map { SyncSummary(peer: $0, opsSent: opsSent, opsReceived: opsReceived, vector: localVector) }
    }

    /// In the live tail, a batch sent or received with both sides level counts as a sync.
    private mutating func noteLiveTraffic(_ now: SessionTime) -> [SessionAction] {
        guard roundFinished, inFlight.isEmpty else { return [] }
        record?.lastSyncAt = now.wallMillis
        return recordProgress(force: false, now)
    }

    /// Writes the peer's progress, at most once a second unless forced; a skipped write is made
    /// by the next timer tick.
    private mutating func recordProgress(force: Bool, _ now: SessionTime) -> [SessionAction] {
        guard let record else { return [] }
        if !force, let last = lastRecordedAt, now.monotonic - last < .seconds(1) {
            recordIsStale = true
            return []
        }
        lastRecordedAt = now.monotonic
        recordIsStale = false
        return [.record(record)]
    }

    // MARK: Timers and endings

    /// How often a live session asks whether the peer's certificate was revoked meanwhile.
    public static let revocationCheckInterval: Duration = .seconds(5)

    /// When the next timer falls due (on the monotonic clock of `SessionTime`): the shell calls
    /// `tick` then, so that heartbeats and timeouts happen at their time, not at a polling step.
    /// Nil once the session ended.
    public var nextDeadline: Duration? {
        switch phase {
        case .ended: return nil
        case .leaving(let since): return since + Self.leavingGrace
        case .awaitingHello, .admitting: return min(startedAt + settings.handshakeTimeout, lastHeardAt + settings.deadAfter)
        case .syncing:
            var due = [lastHeardAt + settings.deadAfter, lastSentAt + settings.heartbeatInterval, lastRevocationCheck + Self.revocationCheckInterval]
            if recordIsStale, let last = lastRecordedAt { due.append(last + .seconds(1)) }
            return due.min()
        }
    }

    /// A timer fell due: handshake timeout, dead link, heartbeat, a stale record, revocation.
    /// A timeout is told to the peer (`TIMEOUT`) before the session ends.
    public mutating func tick(now: SessionTime) -> [SessionAction] {
        let elapsed = now.monotonic
        switch phase {
        case .ended:
            return []
        case .leaving(let since):
            return elapsed - since >= Self.leavingGrace ? leave(now) : []
        case .awaitingHello, .admitting:
            if elapsed - startedAt >= settings.handshakeTimeout {
                let reason = "the peer sent no hello within \(settings.handshakeTimeout)"
                return end(SyncError(.linkLost, reason), telling: WireError(.timeout, reason), now)
            }
        case .syncing:
            break
        }
        if elapsed - lastHeardAt >= settings.deadAfter {
            let reason = "nothing heard from the peer for \(settings.deadAfter): the link is dead"
            return end(SyncError(.linkLost, reason), telling: WireError(.timeout, reason), now)
        }
        guard isSyncing else { return [] }
        var actions: [SessionAction] = []
        if elapsed - lastSentAt >= settings.heartbeatInterval {
            actions.append(send(.heartbeat(.with { $0.sentAtMs = now.wallMillis }), now))
        }
        if recordIsStale { actions += recordProgress(force: false, now) }
        if let peer, elapsed - lastRevocationCheck >= Self.revocationCheckInterval {
            lastRevocationCheck = elapsed
            actions.append(.checkRevocation(serial: peer.serial))
        }
        return actions
    }

    /// The answer to a `checkRevocation` action.
    public mutating func revocationChecked(_ revoked: Bool, now: SessionTime) -> [SessionAction] {
        guard revoked, isSyncing, let peer else { return [] }
        return refuse(WireError(.unauthorized, "the certificate of \(peer.nodeID) (serial \(peer.serial)) was revoked"), now)
    }

    /// The peer closed its side of the connection.
    public mutating func peerClosed(now: SessionTime) -> [SessionAction] {
        switch phase {
        case .ended: return []
        case .leaving: return leave(now)
        case .awaitingHello, .admitting, .syncing: break
        }
        if roundFinished, !(mode == .live && isDialler), var record {
            record.state = .offline
            record.stateSince = now.wallMillis
            self.record = record
            phase = .ended
            return [.record(record)] + (summary.map { [.finish($0)] } ?? [])
        }
        let reason = isSyncing ? "the peer closed the connection" : "the peer closed the connection during the handshake"
        return end(SyncError(.linkLost, reason), telling: nil, now)
    }

    /// The node began a graceful shutdown: tell the peer, then wait for it to close. A batch being
    /// applied is committed and acknowledged first (the peer stops reading at the error), and the
    /// batches waiting behind it are dropped: never acknowledged, they are sent again.
    public mutating func shutdown(now: SessionTime) -> [SessionAction] {
        switch phase {
        case .ended, .leaving: return []
        case .awaitingHello, .admitting, .syncing: break
        }
        phase = .leaving(since: now.monotonic)
        waiting.removeAll()
        guard applying == nil else { return [] }
        return [sendShuttingDown(now)]
    }

    private mutating func sendShuttingDown(_ now: SessionTime) -> SessionAction {
        send(.error(.with { $0.code = .shuttingDown; $0.reason = "the node is shutting down" }), now)
    }

    /// The connection or the store failed under the session; `telling` is sent to the peer if the
    /// link still allows. Returns the actions that record the end and fail the session.
    public mutating func failed(_ error: SyncError, telling: WireError? = nil, now: SessionTime) -> [SessionAction] {
        guard phase != .ended else { return [] }
        if case .leaving = phase { return leave(now) }
        return end(error, telling: telling, now)
    }

    /// The session's task was cancelled: the node is going away.
    public mutating func cancelled(now: SessionTime) -> [SessionAction] {
        guard phase != .ended else { return [] }
        var actions: [SessionAction] = []
        if case .leaving = phase {} else { actions.append(sendShuttingDown(now)) }
        return actions + leave(now)
    }

    private mutating func leave(_ now: SessionTime) -> [SessionAction] {
        var actions = recordEnd(SyncError(.linkLost, "the node is shutting down"), redialling: false, now)
        actions.append(.stopForShutdown)
        phase = .ended
        return actions
    }

    /// We found the peer at fault: tell it why, record it and end.
    private mutating func refuse(_ error: WireError, _ now: SessionTime) -> [SessionAction] {
        end(SyncError(SyncError.kind(of: error.code), error.message), telling: error, now)
    }

    private mutating func end(_ error: SyncError, telling: WireError?, rejecting op: OpID? = nil, _ now: SessionTime) -> [SessionAction] {
        var error = error
        var actions: [SessionAction] = []
        if let telling {
            let frame = Branchdesk_Sync_V1_Error.with {
                $0.code = telling.code
                $0.reason = telling.message
                if let op { $0.rejected = .with { $0.origin = op.origin.rawValue; $0.seq = op.seq } }
            }
            actions.append(send(.error(frame), now))
        }
        actions += recordEnd(error, redialling: mode == .live && isDialler, now)
        error.hadSynced = roundFinished
        error.peer = peer?.nodeID ?? identified?.nodeID
        error.recorded = actions.contains { if case .record = $0 { true } else if case .recordRefusal = $0 { true } else { false } }
        actions.append(.fail(error))
        phase = .ended
        return actions
    }

    /// Records how the session ended; `redialling` when a dialler will try again.
    private mutating func recordEnd(_ error: SyncError, redialling: Bool, _ now: SessionTime) -> [SessionAction] {
        guard var record else {
            // A peer refused before it was admitted (identity, version, revocation): count it
            // against the node its certificate names.
            guard error.kind == .refused, let identified else { return [] }
            return [.recordRefusal(identified, address: address, message: error.message, at: now.wallMillis)]
        }
        if error.kind == .refused { record.refusals += 1 }
        record.sentVector = cursor
        record.state = error.kind == .refused ? .refused : redialling ? .backingOff : .offline
        record.stateSince = now.wallMillis
        record.lastError = error.message
        record.lastErrorAt = now.wallMillis
        self.record = record
        return [.record(record)]
    }

    private mutating func send(_ body: WireFrame.OneOf_Body, _ now: SessionTime) -> SessionAction {
        lastSentAt = now.monotonic
        return .send(body)
    }

    private var peerName: String { peer?.nodeID.rawValue ?? identified?.nodeID.rawValue ?? "?" }

    /// The ops `vector` holds beyond `other`, of `origins` (all when nil).
    private static func count(in vector: VersionVector, above other: VersionVector, origins: Set<NodeID>?) -> Int {
        vector.seqs.reduce(0) { sum, entry in
            guard origins?.contains(entry.key) ?? true, entry.value > other[entry.key] else { return sum }
            return sum + Int(entry.value - other[entry.key])
        }
    }
}
