import Foundation
import Logging
import Metrics
import Replication
import SwiftProtobuf
import SyncWire
import TicketModel
import TicketStore

/// The protocol state of one session: what was sent, what is in flight, what the peer holds.
struct SessionState {
    private let store: NodeStore
    private let settings: SyncSettings
    private let mode: SyncSession.Mode
    private let clock = ContinuousClock()
    private let startedAt: ContinuousClock.Instant
    private var lastHeardAt: ContinuousClock.Instant
    private var lastSentAt: ContinuousClock.Instant

    /// The peer, known once its hello matched its certificate.
    private(set) var peer: CertificateIdentity?
    /// The peer as counted by the server's session registry, to be released at the end.
    var registered: CertificateIdentity?
    /// The peer as its certificate names it, once its hello matched: set before the revocation and
    /// session-limit checks, so that their refusals are recorded against it.
    var identified: CertificateIdentity?
    private var record: PeerRecord?
    private var lastRecordedAt: ContinuousClock.Instant?
    private var recordIsStale = false

    /// The origins whose ops we send: a branch pushes only its own; HQ relays to a branch the
    /// origins its tickets need (`NodeStore.replicationScope`), read again before every send.
    private var outgoingOrigins: Set<NodeID>?
    /// Whether `outgoingOrigins` is the peer's replica scope (HQ serving a branch).
    private var relaysScope = false
    /// The peer's vector as we have fed it: its hello vector plus every batch we sent.
    private var cursor = VersionVector()
    /// Batches sent and not yet acknowledged, oldest first, with the cursor after each.
    private var inFlight: [(id: UInt64, through: VersionVector)] = []
    private var lastBatchID: UInt64 = 0
    private var lastReceivedBatchID: UInt64 = 0
    /// Set when we told the peer it has everything: the cursor at that moment.
    private var caughtUpSent: VersionVector?
    /// Set when the peer told us we have everything: its view of our vector at that moment.
    private var caughtUpReceived: VersionVector?
    private var refusals: [String] = []
    private(set) var roundFinished = false
    private var opsSent = 0
    private var opsReceived = 0
    /// What each side lacked at the hello, for progress reports.
    private var opsToSend = 0
    private var opsToReceive = 0
    private var localVector = VersionVector()

    init(store: NodeStore, settings: SyncSettings, mode: SyncSession.Mode) {
        self.store = store
        self.settings = settings
        self.mode = mode
        startedAt = clock.now
        lastHeardAt = startedAt
        lastSentAt = startedAt
    }

    var isSyncing: Bool { peer != nil }

    /// How far the round has got; nil before the peer is identified.
    var progress: SyncProgress? {
        guard isSyncing else { return nil }
        return SyncProgress(opsSent: opsSent, opsReceived: opsReceived, opsToSend: opsToSend, opsToReceive: opsToReceive)
    }

    /// The ops `vector` holds beyond `other`, of `origins` (all when nil).
    private static func count(in vector: VersionVector, above other: VersionVector, origins: Set<NodeID>?) -> Int {
        vector.seqs.reduce(0) { sum, entry in
            guard origins?.contains(entry.key) ?? true, entry.value > other[entry.key] else { return sum }
            return sum + Int(entry.value - other[entry.key])
        }
    }

    mutating func heard() { lastHeardAt = clock.now }

    /// Our hello, carrying our vector as of now: to a branch (a listener answers after `start`
    /// read the scope), only the origins we relay to it, so that it expects nothing else.
    mutating func hello() async throws -> Branchdesk_Sync_V1_Hello {
        localVector = try await store.versionVector()
        let identity = store.identity
        let shown = relaysScope ? localVector.restricted(to: outgoingOrigins ?? []) : localVector
        return .with {
            $0.minVersion = SyncProtocol.versions.lowerBound
            $0.maxVersion = SyncProtocol.versions.upperBound
            $0.nodeID = identity.nodeID.rawValue
            $0.role = identity.role.rawValue
            $0.vector = shown.wire
            $0.software = SyncProtocol.software
        }
    }

    /// Enters the syncing phase with a peer whose hello checked out.
    mutating func start(peer: CertificateIdentity, hello: Branchdesk_Sync_V1_Hello, address: String, logger: Logger) async throws {
        cursor = try VersionVector(wire: hello.vector)
        self.peer = peer
        let me = store.identity.nodeID
        let local = try await store.versionVector()
        if cursor[me] > 0, cursor[me] > local[me] {
            let held = try await store.beginRecovery(untilSeq: cursor[me])
            logger.warning(
                "this node was restored from a backup: \(peer.nodeID) holds its own ops up to #\(cursor[me]), it only up to #\(held); pulling them back before new edits")
        }
        relaysScope = store.identity.role == .hq && peer.role == .branch
        outgoingOrigins = store.identity.role == .branch ? [store.identity.nodeID] : nil
        try await refreshScope()
        opsToSend = Self.count(in: local, above: cursor, origins: outgoingOrigins)
        opsToReceive = Self.count(in: cursor, above: local, origins: nil)
        let existing = try await store.peers().first { $0.nodeID == peer.nodeID }
        var record = existing ?? PeerRecord(nodeID: peer.nodeID, role: peer.role, address: address, state: .connecting, stateSince: 0)
        record.role = peer.role
        record.address = address
        record.state = .connecting
        record.stateSince = Self.nowMillis()
        record.ackedVector = cursor
        record.sentVector = cursor
        self.record = record
        try await store.record(record)
        lastRecordedAt = clock.now
    }

    // MARK: Sending

    /// Sends batches while the window has room; says caught-up once nothing is left to send.
    mutating func pump(sender: FrameSender) async throws {
        // A one-off round sends what it held when it caught up, not ops committed afterwards.
        guard mode == .live || caughtUpSent == nil else { return }
        try await refreshScope()
        while inFlight.count < settings.window {
            let ops = try await store.opsMissing(
                by: cursor, limit: settings.batchOps, origins: outgoingOrigins, maxBytes: settings.maxFrameBytes / 4)
            guard !ops.isEmpty else {
                if caughtUpSent == nil {
                    caughtUpSent = cursor
                    try await send(.caughtUp(.with { $0.vector = cursor.wire }), sender)
                }
                return
            }
            for op in ops { cursor.advance(to: op.id) }
            lastBatchID += 1
            let batchID = lastBatchID
            try await send(.batch(.with { $0.batchID = batchID; $0.ops = ops.map(\.wire) }), sender)
            inFlight.append((batchID, cursor))
            opsSent += ops.count
            Counter(label: "branchdesk_ops_sent_total", dimensions: [("peer", peer?.nodeID.rawValue ?? "")]).increment(by: ops.count)
        }
    }

    /// Reads the branch's replica scope again: HQ may have transferred a ticket to it meanwhile.
    private mutating func refreshScope() async throws {
        guard relaysScope, let peer else { return }
        outgoingOrigins = try await store.replicationScope(for: peer.nodeID)
    }

    private mutating func send(_ body: WireFrame.OneOf_Body, _ sender: FrameSender) async throws {
        try await sender.send(body)
        lastSentAt = clock.now
    }

    /// The peer committed our oldest batch in flight.
    mutating func acknowledge(_ ack: Branchdesk_Sync_V1_Ack, logger: Logger) async throws {
        guard let oldest = inFlight.first, oldest.id == ack.batchID else {
            throw WireError(.unexpectedMessage, "an ack for batch \(ack.batchID), which is not the oldest batch in flight")
        }
        inFlight.removeFirst()
        record?.ackedVector = try VersionVector(wire: ack.vector)
        record?.sentVector = cursor
        if !ack.refused.isEmpty {
            refusals += ack.refused
            logger.warning("the peer refused ops", metadata: ["peer": "\(peer?.nodeID.rawValue ?? "?")", "reasons": "\(ack.refused)"])
            record?.lastError = "the peer refused ops: " + ack.refused.joined(separator: "; ")
            record?.lastErrorAt = Self.nowMillis()
        }
        try await recordProgress(force: false)
        try await noteLiveTraffic()
    }

    // MARK: Receiving

    /// Applies one batch from the peer in one transaction and acks it after the commit.
    /// Returns the number of ops newly applied.
    mutating func receive(_ batch: Branchdesk_Sync_V1_Batch, sender: FrameSender) async throws -> Int {
        guard let peer else { throw WireError(.unexpectedMessage, "a batch before the hello") }
        guard batch.batchID == lastReceivedBatchID + 1 else {
            throw WireError(.unexpectedMessage, "batch \(batch.batchID) arrived where batch \(lastReceivedBatchID + 1) was due")
        }
        guard batch.ops.count <= NodeStore.maxBatchOps else {
            throw WireError(.batchTooLarge, "a batch of \(batch.ops.count) ops exceeds the limit of \(NodeStore.maxBatchOps)")
        }
        var ops: [Op] = []
        ops.reserveCapacity(batch.ops.count)
        for wire in batch.ops { ops.append(try Op(wire: wire)) }
        let outcome: BatchOutcome
        let dimensions = [("peer", peer.nodeID.rawValue)]
        do {
            let grant = PeerGrant(nodeID: peer.nodeID, role: peer.role, holds: record?.ackedVector ?? VersionVector())
            let started = ContinuousClock.now
            outcome = try await store.apply(ops, from: grant)
            Timer(label: "branchdesk_batch_apply_seconds").record(duration: ContinuousClock.now - started)
        } catch let refusal as AuthorisationRefusal {
            Counter(label: "branchdesk_ops_refused_total", dimensions: dimensions).increment(by: ops.count)
            throw WireError(.unauthorized, refusal.description)
        }
        Counter(label: "branchdesk_ops_received_total", dimensions: dimensions).increment(by: outcome.applied)
        Counter(label: "branchdesk_ops_refused_total", dimensions: dimensions).increment(by: outcome.refused.count)
        // The peer holds what it sent: never echo it back, and count it as held.
        let shown = VersionVector(Dictionary(ops.map { ($0.id.origin, $0.id.seq) }, uniquingKeysWith: max))
        cursor.formMaximum(with: shown)
        record?.ackedVector.formMaximum(with: shown)
        record?.sentVector = cursor
        lastReceivedBatchID = batch.batchID
        localVector = outcome.vector
        opsReceived += outcome.applied
        let reasons = outcome.refused.map(\.description)
            + outcome.deferred.map { "\($0.origin)#\($0.seq) follows a gap: resend from the acked vector" }
        try await send(.ack(.with { $0.batchID = batch.batchID; $0.vector = outcome.vector.wire; $0.refused = reasons }), sender)
        try await noteLiveTraffic()
        return outcome.applied
    }

    /// The peer has sent everything it held above our vector.
    mutating func peerCaughtUp(_ caughtUp: Branchdesk_Sync_V1_CaughtUp) throws {
        caughtUpReceived = try VersionVector(wire: caughtUp.vector)
    }

    // MARK: Completion and timers

    /// Called after every event. The first time both sides are level (each said caught-up, no
    /// batch in flight) the peer is recorded as synced; a one-off round then checks that each
    /// side really holds the other's ops and returns its summary.
    mutating func finishedRound() async throws -> SyncSummary? {
        guard !roundFinished, let peer, let sent = caughtUpSent, let received = caughtUpReceived, inFlight.isEmpty else {
            return nil
        }
        if mode == .once {
            let acked = record?.ackedVector ?? VersionVector()
            if let missing = sent.seqs.first(where: { acked[$0.key] < $0.value }) {
                throw SyncError(
                    .incomplete,
                    "\(peer.nodeID) holds \(missing.key)'s ops only up to #\(acked[missing.key]) of #\(missing.value): "
                        + (refusals.last ?? "it did not say why"))
            }
            if let missing = received.seqs.first(where: { localVector[$0.key] < $0.value }) {
                throw SyncError(
                    .incomplete,
                    "this node holds \(missing.key)'s ops only up to #\(localVector[missing.key]) of the #\(missing.value) that \(peer.nodeID) sent; they were refused (clock skew or a gap: see the log)"
                )
            }
        }
        roundFinished = true
        let now = Self.nowMillis()
        let state: PeerState = mode == .live ? .live : .offline
        record?.state = state
        record?.stateSince = now
        record?.lastSyncAt = now
        if refusals.isEmpty {
            record?.lastError = nil
            record?.lastErrorAt = nil
        }
        try await recordProgress(force: true)
        return mode == .once ? summary : nil
    }

    /// The peer closed the connection: a normal end if the round had finished and we are not the
    /// side that keeps the link up.
    mutating func closedByPeer(keepingLinkUp: Bool) async throws -> SyncSummary? {
        guard roundFinished, !keepingLinkUp, record != nil else { return nil }
        record?.state = .offline
        record?.stateSince = Self.nowMillis()
        try await recordProgress(force: true)
        return summary
    }

    private var summary: SyncSummary? {
        peer.map { SyncSummary(peer: $0, opsSent: opsSent, opsReceived: opsReceived, vector: localVector) }
    }

    /// In the live tail, a batch sent or received with both sides level counts as a sync.
    private mutating func noteLiveTraffic() async throws {
        guard roundFinished, inFlight.isEmpty else { return }
        record?.lastSyncAt = Self.nowMillis()
        try await recordProgress(force: false)
    }

    /// Sends a heartbeat when we have been quiet; ends the session when the peer has been.
    mutating func checkTimers(sender: FrameSender) async throws {
        let now = clock.now
        if !isSyncing, now - startedAt >= settings.handshakeTimeout {
            throw SyncError(.linkLost, "the peer sent no hello within \(settings.handshakeTimeout)")
        }
        if now - lastHeardAt >= settings.deadAfter {
            throw SyncError(.linkLost, "nothing heard from the peer for \(settings.deadAfter): the link is dead")
        }
        if isSyncing, now - lastSentAt >= settings.heartbeatInterval {
            try await send(.heartbeat(.with { $0.sentAtMs = Self.nowMillis() }), sender)
        }
        if recordIsStale { try await recordProgress(force: false) }
        if let peer, try await store.isRevoked(serial: peer.serial) {
            throw WireError(.unauthorized, "the certificate of \(peer.nodeID) (serial \(peer.serial)) was revoked")
        }
    }

    /// Writes the peer's progress, at most once a second unless forced; a skipped write is made
    /// by the next timer tick.
    private mutating func recordProgress(force: Bool) async throws {
        guard let record else { return }
        if !force, let last = lastRecordedAt, clock.now - last < .seconds(1) {
            recordIsStale = true
            return
        }
        try await store.record(record)
        lastRecordedAt = clock.now
        recordIsStale = false
    }

    /// Records how the session ended; `redialling` when a dialler will try again.
    mutating func recordEnd(_ error: SyncError, redialling: Bool) async throws {
        // A peer refused at its hello (revoked, over its session limit) has a record too.
        if record == nil, error.kind == .refused, let identified {
            record = try await store.peers().first { $0.nodeID == identified.nodeID }
                ?? PeerRecord(nodeID: identified.nodeID, role: identified.role, address: nil, state: .refused, stateSince: 0)
        }
        guard var record else { return }
        if error.kind == .refused { record.refusals += 1 }
        record.sentVector = cursor
        record.state = error.kind == .refused ? .refused : redialling ? .backingOff : .offline
        record.stateSince = Self.nowMillis()
        record.lastError = error.message
        record.lastErrorAt = record.stateSince
        try await store.record(record)
    }

    private static func nowMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
}
