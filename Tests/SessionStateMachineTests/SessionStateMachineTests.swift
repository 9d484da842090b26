import Foundation
import Replication
import SwiftProtobuf
import SyncWire
import Testing
import TicketModel
import WireForms

/// A session driven by hand: a manual clock, facts given as the store would give them.
struct Harness {
    var machine: SessionStateMachine
    var clock = SessionTime(monotonic: .zero, wallMillis: 1_764_000_000_000)

    static let hq = NodeIdentity(nodeID: try! NodeID("hq"), role: .hq, branchCode: try! BranchCode("HQ"), timeZone: "Asia/Shanghai")
    static let branch = NodeIdentity(
        nodeID: try! NodeID("sh-012"), role: .branch, branchCode: try! BranchCode("SH012"), timeZone: "Asia/Shanghai")
    static let branchCertificate = certificate(for: branch)
    static let hqCertificate = certificate(for: hq)

    static func certificate(for identity: NodeIdentity, serial: String = "0a1b") -> CertificateIdentity {
        CertificateIdentity(nodeID: identity.nodeID, role: identity.role, notValidAfter: .distantFuture, serial: serial)
    }

    static var settings: SyncSettings {
        var settings = SyncSettings()
        settings.window = 2
        settings.batchOps = 3
        return settings
    }

    /// HQ listening, a branch connected.
    static func listener(_ mode: SessionStateMachine.Mode = .live, settings: SyncSettings = Harness.settings) -> Harness {
        let now = SessionTime(monotonic: .zero, wallMillis: 1_764_000_000_000)
        return Harness(
            machine: SessionStateMachine(local: hq, side: .listener(address: "127.0.0.1:50000"), mode: mode, settings: settings, now: now),
            clock: now)
    }

    /// A branch dialling HQ.
    static func dialler(_ mode: SessionStateMachine.Mode = .once, settings: SyncSettings = Harness.settings) -> Harness {
        let now = SessionTime(monotonic: .zero, wallMillis: 1_764_000_000_000)
        return Harness(
            machine: SessionStateMachine(
                local: branch, side: .dialler(address: "127.0.0.1:7420", expectedRole: .hq), mode: mode, settings: settings, now: now),
            clock: now)
    }

    mutating func advance(_ duration: Duration) {
        clock.monotonic += duration
        clock.wallMillis += UInt64(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// A peer's hello; version 2 (replication scoped by origin) unless told otherwise — `FeedTests`
    /// speak version 3.
    static func hello(
        from identity: NodeIdentity, vector: VersionVector = VersionVector(), versions: ClosedRange<UInt32> = 2...2,
        feed: FeedCursor? = nil
    ) -> Branchdesk_Sync_V1_Hello {
        .with {
            $0.minVersion = versions.lowerBound
            $0.maxVersion = versions.upperBound
            $0.nodeID = identity.nodeID.rawValue
            $0.role = identity.role.rawValue
            $0.vector = vector.wire
            $0.software = "another 1.0"
            if let feed { $0.feed = feed.wire }
        }
    }

    /// The listener (HQ) admits the branch with these facts; returns the actions after the admission.
    mutating func admitBranch(peerVector: VersionVector = VersionVector(), facts: PeerFacts = PeerFacts(localVector: VersionVector(), scope: [Harness.hq.nodeID, Harness.branch.nodeID]))
        -> [SessionAction]
    {
        let asked = machine.receiveHello(Self.hello(from: Self.branch, vector: peerVector), certificate: .success(Self.branchCertificate), now: clock)
        #expect(asked == [.admit(AdmissionRequest(peer: Self.branchCertificate, scopeOf: Self.branch.nodeID))])
        return machine.admitted(facts, now: clock)
    }

    static func op(_ origin: String, _ seq: UInt64, ticket counter: Int = 1) -> Op {
        let node = try! NodeID(origin)
        return Op(
            id: OpID(origin: node, seq: seq), hlc: HLCTimestamp(wallMillis: 1_764_000_000_000, counter: UInt16(seq)),
            ticket: TicketID(origin: node, counter: counter), actor: "王芳", action: "note", changes: [])
    }

    static func frame(_ body: WireFrame.OneOf_Body) -> WireFrame { .with { $0.body = body } }

    static func batch(_ id: UInt64, _ ops: [Op]) -> WireFrame { frame(.batch(.with { $0.batchID = id; $0.ops = ops.map(\.wire) })) }

    static func ack(_ id: UInt64, _ vector: VersionVector) -> WireFrame { frame(.ack(.with { $0.batchID = id; $0.vector = vector.wire })) }

    static func caughtUp(_ vector: VersionVector = VersionVector()) -> WireFrame { frame(.caughtUp(.with { $0.vector = vector.wire })) }
}

extension [SessionAction] {
    /// The frames sent, in order.
    var sent: [WireFrame.OneOf_Body] { compactMap { if case .send(let body) = $0 { body } else { nil } } }
    var records: [PeerRecord] { compactMap { if case .record(let record) = $0 { record } else { nil } } }
    var failure: SyncError? { compactMap { if case .fail(let error) = $0 { error } else { nil } }.first }
    var readRequests: [OpsRequest] { compactMap { if case .readOps(let request) = $0 { request } else { nil } } }
    var errorSent: Branchdesk_Sync_V1_Error? { sent.compactMap { if case .error(let error) = $0 { error } else { nil } }.first }
    var finished: SyncSummary? { compactMap { if case .finish(let summary) = $0 { summary } else { nil } }.first }
}

func vector(_ entries: [String: UInt64]) -> VersionVector {
    VersionVector(Dictionary(uniqueKeysWithValues: entries.map { (try! NodeID($0.key), $0.value) }))
}

@Suite struct HandshakeTests {
    @Test func aBranchIsAdmittedWithItsScopeAnsweredWithAHelloOfThatScopeAndOpsAreRead() {
        var session = Harness.listener()
        let local = vector(["hq": 4, "sh-012": 2, "bj-003": 9])
        let actions = session.admitBranch(
            peerVector: vector(["sh-012": 2]), facts: PeerFacts(localVector: local, scope: [try! NodeID("hq"), try! NodeID("sh-012")]))
        #expect(session.machine.isSyncing)
        #expect(actions.records.first?.state == .connecting)
        #expect(actions.records.first?.ackedVector == vector(["sh-012": 2]))
        guard case .hello(let hello) = actions.sent.first else { Issue.record("no hello in \(actions)"); return }
        // Another branch's origin is not shown to this branch.
        #expect((try? VersionVector(wire: hello.vector)) == vector(["hq": 4, "sh-012": 2]))
        #expect(actions.readRequests == [OpsRequest(after: vector(["sh-012": 2]), origins: .scopeOf(Harness.branch.nodeID), limit: 3, maxBytes: Harness.settings.maxFrameBytes / 4)])
        #expect(session.machine.progress == SyncProgress(opsSent: 0, opsReceived: 0, opsToSend: 4, opsToReceive: 0))
    }

    @Test func aHelloThatClaimsAnotherNodeIsRefusedAndCountedAgainstTheCertificate() {
        var session = Harness.listener()
        let actions = session.machine.receiveHello(
            Harness.hello(from: Harness.hq), certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(actions.errorSent?.code == .identityMismatch)
        #expect(actions.failure?.kind == .refused)
        #expect(actions.contains { if case .recordRefusal(Harness.branchCertificate, _, _, _) = $0 { true } else { false } })
        #expect(session.machine.receive(Harness.caughtUp(), now: session.clock).isEmpty, "an ended session does nothing more")
    }

    @Test func anUnsupportedVersionIsRefusedWithItsCodeAndRecorded() {
        var session = Harness.listener()
        let actions = session.machine.receiveHello(
            Harness.hello(from: Harness.branch, versions: 1...1), certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(actions.errorSent?.code == .unsupportedVersion)
        #expect(actions.errorSent?.reason.contains("1...1") == true)  // a branchdesk 0.3 peer
        #expect(actions.failure?.kind == .refused)
        #expect(actions.failure?.recorded == true)
    }

    @Test func aDiallerRefusedBeforeTheHelloRecordsItAgainstTheNodeTheCertificateNames() {
        var session = Harness.dialler()
        _ = session.machine.connected(localVector: VersionVector(), now: session.clock)
        session.machine.peerPresented(Harness.hqCertificate)
        let refusal = Harness.frame(.error(.with { $0.code = .unsupportedVersion; $0.reason = "this node speaks 2...3" }))
        let actions = session.machine.receive(refusal, now: session.clock)
        #expect(actions.contains { if case .recordRefusal(Harness.hqCertificate, "127.0.0.1:7420", _, _) = $0 { true } else { false } })
        #expect(actions.failure?.kind == .refused)
        #expect(actions.failure?.recorded == true)
        #expect(actions.failure?.peer == Harness.hq.nodeID, "the log names the node, not only the address")
    }

    @Test func anInvertedVersionRangeIsRefused() {
        var session = Harness.listener()
        var hello = Harness.hello(from: Harness.branch)
        hello.minVersion = 3
        let actions = session.machine.receiveHello(hello, certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(actions.errorSent?.code == .unsupportedVersion)
    }

    @Test func aPeerWithoutACertificateIsRefusedWithNothingToRecord() {
        var session = Harness.listener()
        let actions = session.machine.receiveHello(
            Harness.hello(from: Harness.branch), certificate: .failure(WireError(.identityMismatch, "the peer presented no certificate")),
            now: session.clock)
        #expect(actions.errorSent?.code == .identityMismatch)
        #expect(actions.records.isEmpty)
        #expect(actions.failure?.recorded == false)
    }

    @Test func aDiallerRefusesAPeerOfTheWrongRole() {
        var session = Harness.dialler()
        let hello = session.machine.connected(localVector: vector(["sh-012": 1]), now: session.clock)
        #expect(hello.sent.count == 1)
        let other = Harness.certificate(for: NodeIdentity(nodeID: try! NodeID("bj-003"), role: .branch, branchCode: try! BranchCode("BJ"), timeZone: "UTC"))
        let actions = session.machine.receiveHello(
            Harness.hello(from: NodeIdentity(nodeID: other.nodeID, role: .branch, branchCode: try! BranchCode("BJ"), timeZone: "UTC")),
            certificate: .success(other), now: session.clock)
        #expect(actions.errorSent?.code == .identityMismatch)
        #expect(actions.errorSent?.reason.contains("dialled a hq node") == true)
    }

    @Test func aRevokedCertificateIsRefusedAndItsStoredRecordCountsTheRefusal() {
        var session = Harness.listener()
        _ = session.machine.receiveHello(Harness.hello(from: Harness.branch), certificate: .success(Harness.branchCertificate), now: session.clock)
        var stored = PeerRecord(nodeID: Harness.branch.nodeID, role: .branch, address: nil, state: .offline, stateSince: 1)
        stored.refusals = 2
        let actions = session.machine.admitted(PeerFacts(localVector: VersionVector(), scope: [], record: stored, revoked: true), now: session.clock)
        #expect(actions.errorSent?.code == .unauthorized)
        #expect(actions.records.last?.state == .refused)
        #expect(actions.records.last?.refusals == 3)
        #expect(!session.machine.isSyncing)
    }

    @Test func aPeerOverItsSessionLimitIsToldToRetryAndNotCountedAsRefused() {
        var session = Harness.listener()
        _ = session.machine.receiveHello(Harness.hello(from: Harness.branch), certificate: .success(Harness.branchCertificate), now: session.clock)
        let actions = session.machine.admitted(
            PeerFacts(localVector: VersionVector(), scope: [], overLimit: "sh-012 already has 2 sessions open here"), now: session.clock)
        #expect(actions.errorSent?.code == .internal)
        #expect(actions.failure?.kind == .linkLost)
        #expect(actions.records.isEmpty)
    }

    @Test func aPeerHoldingMoreOfOurOwnOpsStartsARecovery() {
        var session = Harness.listener()
        let actions = session.admitBranch(peerVector: vector(["hq": 9]), facts: PeerFacts(localVector: vector(["hq": 5]), scope: []))
        #expect(actions.contains(.beginRecovery(untilSeq: 9)))
    }

    @Test func everyFrameButTheHelloBeforeTheHelloIsAProtocolViolation() {
        for frame in [Harness.batch(1, []), Harness.ack(1, VersionVector()), Harness.caughtUp()] {
            var session = Harness.listener()
            let actions = session.machine.receive(frame, now: session.clock)
            #expect(actions.errorSent?.code == .unexpectedMessage, "\(frame)")
            #expect(actions.failure?.kind == .protocolViolation)
        }
        var session = Harness.listener()
        #expect(session.machine.receive(Harness.frame(.heartbeat(.with { $0.sentAtMs = 1 })), now: session.clock).isEmpty)
        #expect(session.machine.receive(WireFrame(), now: session.clock).errorSent?.code == .unexpectedMessage)
    }

    @Test func aSecondHelloIsAProtocolViolation() {
        var session = Harness.listener()
        _ = session.admitBranch()
        let actions = session.machine.receive(Harness.frame(.hello(Harness.hello(from: Harness.branch))), now: session.clock)
        #expect(actions.errorSent?.code == .unexpectedMessage)
        #expect(actions.errorSent?.reason == "a second hello in one session")
    }

    @Test func noHelloWithinTheHandshakeTimeoutEndsTheSession() {
        var session = Harness.listener()
        session.advance(Harness.settings.handshakeTimeout - .milliseconds(1))
        #expect(session.machine.tick(now: session.clock).isEmpty)
        session.advance(.milliseconds(1))
        let actions = session.machine.tick(now: session.clock)
        #expect(actions.failure?.message.contains("no hello") == true)
    }
}

@Suite struct CatchUpTests {
    @Test func batchesFillTheWindowAndEachAckMakesRoomForTheNext() {
        var session = Harness.listener()
        _ = session.admitBranch(facts: PeerFacts(localVector: vector(["hq": 9]), scope: [Harness.hq.nodeID, Harness.branch.nodeID]))
        var actions = session.machine.opsRead((1...3).map { Harness.op("hq", $0) }, now: session.clock)
        #expect(actions.sent.count == 1)
        #expect(actions.readRequests.first?.after == vector(["hq": 3]))
        actions = session.machine.opsRead((4...6).map { Harness.op("hq", $0) }, now: session.clock)
        #expect(actions.sent.count == 1)
        #expect(actions.readRequests.isEmpty, "the window of 2 is full")
        #expect(session.machine.localChange(now: session.clock).isEmpty, "a full window reads nothing")
        actions = session.machine.receive(Harness.ack(1, vector(["hq": 3])), now: session.clock)
        #expect(actions.readRequests.first?.after == vector(["hq": 6]))
        #expect(actions.records.isEmpty, "the progress record is written at most once a second")
        session.advance(.seconds(1))
        actions = session.machine.opsRead([], now: session.clock)
        guard case .caughtUp(let caughtUp) = actions.sent.first else { Issue.record("no caught-up in \(actions)"); return }
        #expect((try? VersionVector(wire: caughtUp.vector)) == vector(["hq": 6]))
        #expect(session.machine.progress?.opsSent == 6)
    }

    @Test func anAckForAnyBatchButTheOldestInFlightIsAProtocolViolation() {
        var session = Harness.listener()
        _ = session.admitBranch(facts: PeerFacts(localVector: vector(["hq": 9]), scope: [Harness.hq.nodeID, Harness.branch.nodeID]))
        _ = session.machine.opsRead([Harness.op("hq", 1)], now: session.clock)
        _ = session.machine.opsRead([Harness.op("hq", 2)], now: session.clock)
        let actions = session.machine.receive(Harness.ack(2, vector(["hq": 2])), now: session.clock)
        #expect(actions.errorSent?.code == .unexpectedMessage)
    }

    @Test func aBatchIsAppliedWithThePeersGrantAndAckedAfterTheCommit() {
        var session = Harness.listener()
        _ = session.admitBranch(peerVector: vector(["sh-012": 1]))
        let ops = [Harness.op("sh-012", 2), Harness.op("sh-012", 3)]
        var actions = session.machine.receive(Harness.batch(1, ops), now: session.clock)
        #expect(actions == [.apply(ops, PeerGrant(nodeID: Harness.branch.nodeID, role: .branch, holds: vector(["sh-012": 1])), feed: nil)])
        #expect(actions.sent.isEmpty, "no ack before the commit")
        actions = session.machine.applied(
            BatchOutcome(applied: 2, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 3])), now: session.clock)
        #expect(actions.first == SessionAction.notifyChange)
        guard case .ack(let ack) = actions.sent.first else { Issue.record("no ack in \(actions)"); return }
        #expect(ack.batchID == 1)
        #expect((try? VersionVector(wire: ack.vector)) == vector(["sh-012": 3]))
        #expect(session.machine.progress?.opsReceived == 2)
    }

    @Test func batchesThatArriveWhileOneIsAppliedWaitTheirTurnAndAreAppliedInOrder() {
        var session = Harness.listener()
        _ = session.admitBranch()
        let first = [Harness.op("sh-012", 1)]
        let second = [Harness.op("sh-012", 2)]
        let third = [Harness.op("sh-012", 3)]
        #expect(session.machine.receive(Harness.batch(1, first), now: session.clock).count == 1)
        #expect(session.machine.receive(Harness.batch(2, second), now: session.clock).isEmpty, "one apply at a time")
        #expect(session.machine.receive(Harness.batch(3, third), now: session.clock).isEmpty)
        var actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 1])), now: session.clock)
        guard case .ack(let ack) = actions.sent.first else { Issue.record("no ack in \(actions)"); return }
        #expect(ack.batchID == 1)
        #expect(actions.contains(.apply(second, PeerGrant(nodeID: Harness.branch.nodeID, role: .branch, holds: VersionVector()), feed: nil)))
        actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 2])), now: session.clock)
        #expect(actions.contains(.apply(third, PeerGrant(nodeID: Harness.branch.nodeID, role: .branch, holds: VersionVector()), feed: nil)))
        actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 3])), now: session.clock)
        #expect(actions.sent.count == 1)
        #expect(!actions.contains { if case .apply = $0 { true } else { false } })
        #expect(session.machine.progress?.opsReceived == 3)
    }

    @Test func aBatchArrivingWithTheWholeWindowUnacknowledgedIsRefused() {
        var session = Harness.listener()
        _ = session.admitBranch()
        for id in 1...UInt64(SyncProtocol.window) {
            let actions = session.machine.receive(Harness.batch(id, [Harness.op("sh-012", id)]), now: session.clock)
            #expect(actions.failure == nil, "batch \(id) is within the window")
        }
        let over = UInt64(SyncProtocol.window + 1)
        let actions = session.machine.receive(Harness.batch(over, [Harness.op("sh-012", over)]), now: session.clock)
        #expect(actions.errorSent?.code == .windowExceeded)
        #expect(actions.errorSent?.reason.contains("the window is \(SyncProtocol.window)") == true)
        #expect(actions.failure?.kind == .protocolViolation)
        #expect(actions.records.last?.lastError?.contains("batch \(over)") == true)
    }

    @Test func aOneOffRoundDoesNotFinishWhileAPeersBatchWaits() {
        var session = Harness.dialler(.once)
        _ = session.machine.connected(localVector: VersionVector(), now: session.clock)
        _ = session.machine.receiveHello(Harness.hello(from: Harness.hq), certificate: .success(Harness.hqCertificate), now: session.clock)
        _ = session.machine.admitted(PeerFacts(localVector: VersionVector()), now: session.clock)
        _ = session.machine.opsRead([], now: session.clock)
        _ = session.machine.receive(Harness.batch(1, [Harness.op("hq", 1)]), now: session.clock)
        _ = session.machine.receive(Harness.batch(2, [Harness.op("hq", 2)]), now: session.clock)
        #expect(session.machine.receive(Harness.caughtUp(vector(["hq": 2])), now: session.clock).finished == nil)
        var actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["hq": 1])), now: session.clock)
        #expect(actions.finished == nil, "batch 2 is still to be applied")
        actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["hq": 2])), now: session.clock)
        #expect(actions.finished?.opsReceived == 2)
    }

    @Test func aShutdownWhileABatchIsAppliedAcknowledgesItFirstAndAppliesNothingMore() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.receive(Harness.batch(1, [Harness.op("sh-012", 1)]), now: session.clock)
        _ = session.machine.receive(Harness.batch(2, [Harness.op("sh-012", 2)]), now: session.clock)
        #expect(session.machine.shutdown(now: session.clock).isEmpty, "the peer hears of the shutdown after the ack")
        let actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 1])), now: session.clock)
        guard case .ack(let ack) = actions.sent.first else { Issue.record("no ack in \(actions)"); return }
        #expect(ack.batchID == 1)
        #expect(actions.errorSent?.code == .shuttingDown)
        #expect(actions.sent.count == 2)
        #expect(!actions.contains { if case .apply = $0 { true } else { false } }, "batch 2 was never acknowledged: the peer resends it")
    }

    @Test func anAckToABranchShowsOnlyItsScopeAsReadForTheLastBatch() {
        var session = Harness.listener()
        _ = session.admitBranch()
        let bj = try! NodeID("bj-003")
        _ = session.machine.opsRead([], scope: [Harness.hq.nodeID, Harness.branch.nodeID, bj], now: session.clock)
        _ = session.machine.receive(Harness.batch(1, [Harness.op("sh-012", 1)]), now: session.clock)
        let actions = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["hq": 2, "sh-012": 1, "bj-003": 5, "gz-009": 8])),
            now: session.clock)
        guard case .ack(let ack) = actions.sent.first else { Issue.record("no ack"); return }
        #expect((try? VersionVector(wire: ack.vector)) == vector(["hq": 2, "sh-012": 1, "bj-003": 5]), "gz-009 is not this branch's business")
    }

    @Test func deferredAndSkewedOpsAreNamedInTheAck() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.receive(Harness.batch(1, [Harness.op("sh-012", 1), Harness.op("sh-012", 3)]), now: session.clock)
        let skew = ClockSkewRefusal(origin: Harness.branch.nodeID, seq: 1, aheadMillis: 600_000, maxSkewMillis: 300_000)
        let actions = session.machine.applied(
            BatchOutcome(applied: 0, duplicates: 0, deferred: [OpID(origin: Harness.branch.nodeID, seq: 3)], refused: [skew], vector: VersionVector()),
            now: session.clock)
        #expect(!actions.contains(.notifyChange))
        guard case .ack(let ack) = actions.sent.first else { Issue.record("no ack"); return }
        #expect(ack.refused.count == 2)
        #expect(ack.refused[1].contains("follows a gap"))
    }

    @Test func batchesOutOfOrderOversizedOrMalformedAreRefusedWithTheirCodes() {
        var session = Harness.listener()
        _ = session.admitBranch()
        #expect(session.machine.receive(Harness.batch(2, []), now: session.clock).errorSent?.code == .unexpectedMessage)

        session = Harness.listener()
        _ = session.admitBranch()
        let tooMany = (1...UInt64(SyncProtocol.maxBatchOps + 1)).map { Harness.op("sh-012", $0) }
        #expect(session.machine.receive(Harness.batch(1, tooMany), now: session.clock).errorSent?.code == .batchTooLarge)

        session = Harness.listener()
        _ = session.admitBranch()
        var bad = Harness.op("sh-012", 1).wire
        bad.origin = "Not A Node"
        let actions = session.machine.receive(Harness.frame(.batch(.with { $0.batchID = 1; $0.ops = [bad] })), now: session.clock)
        #expect(actions.errorSent?.code == .badFrame)
    }

    @Test func aBatchOutsideThePeersRightsEndsTheSessionAsUnauthorised() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.receive(Harness.batch(1, [Harness.op("bj-003", 1)]), now: session.clock)
        let refusal = AuthorisationRefusal(op: OpID(origin: try! NodeID("bj-003"), seq: 1), rule: "its origin is bj-003", forgesOrigin: true)
        let actions = session.machine.applyRefused(refusal, now: session.clock)
        #expect(actions.errorSent?.code == .unauthorized)
        #expect(actions.errorSent?.hasRejected == false, "a forged op is the peer's fault, not a stuck op")
        #expect(actions.records.last?.state == .refused)
        #expect(actions.failure?.kind == .refused)
    }
}

/// A poison op (SYNC.md §6.2): refused for good, named to its sender, recorded there until it passes.
@Suite struct PoisonOpTests {
    static let stuck = OpID(origin: Harness.branch.nodeID, seq: 2)

    @Test func anOpOfThePeersOwnThatBreaksARuleIsRejectedByName() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.receive(Harness.batch(1, [Harness.op("sh-012", 1), Harness.op("sh-012", 2)]), now: session.clock)
        let refusal = AuthorisationRefusal(op: Self.stuck, rule: "severity 9 is outside 1…4")
        let actions = session.machine.applyRefused(refusal, now: session.clock)
        #expect(actions.errorSent?.code == .opRejected)
        #expect(actions.errorSent?.rejected.origin == "sh-012")
        #expect(actions.errorSent?.rejected.seq == 2)
        #expect(actions.errorSent?.reason.contains("severity 9") == true)
        #expect(actions.records.last?.state == .refused, "the refusing side records it too")
        #expect(actions.failure?.kind == .refused)
    }

    /// The branch dialled and pushed ops 1…2; HQ rejects op 2.
    static func rejectedSession(since: UInt64? = nil) -> Harness {
        var session = Harness.dialler(.live)
        _ = session.machine.connected(localVector: vector(["sh-012": 2]), now: session.clock)
        _ = session.machine.receiveHello(Harness.hello(from: Harness.hq), certificate: .success(Harness.hqCertificate), now: session.clock)
        var facts = PeerFacts(localVector: vector(["sh-012": 2]))
        if let since {
            var record = PeerRecord(nodeID: Harness.hq.nodeID, role: .hq, address: "127.0.0.1:7420", state: .refused, stateSince: since)
            record.stuckOp = StuckOp(op: stuck, reason: "severity 9 is outside 1…4", since: since)
            facts.record = record
        }
        _ = session.machine.admitted(facts, now: session.clock)
        _ = session.machine.opsRead([Harness.op("sh-012", 1), Harness.op("sh-012", 2)], now: session.clock)
        return session
    }

    @Test func theSenderRecordsTheStuckOpWithTheWayOut() {
        var session = Self.rejectedSession()
        let error = Harness.frame(.error(.with {
            $0.code = .opRejected
            $0.reason = "op sh-012#2 refused: severity 9 is outside 1…4"
            $0.rejected = .with { $0.origin = "sh-012"; $0.seq = 2 }
        }))
        let actions = session.machine.receive(error, now: session.clock)
        let record = actions.records.last
        #expect(record?.stuckOp == StuckOp(op: Self.stuck, reason: "op sh-012#2 refused: severity 9 is outside 1…4", since: session.clock.wallMillis))
        #expect(record?.state == .refused)
        #expect(actions.failure?.kind == .refused)
        #expect(actions.failure?.message.contains("branchdesk withdraw-op sh-012#2") == true, "\(String(describing: actions.failure))")
    }

    @Test func aRejectionOfTheSameOpKeepsWhenItFirstHappened() {
        var session = Self.rejectedSession(since: 1_763_000_000_000)
        let error = Harness.frame(.error(.with {
            $0.code = .opRejected
            $0.reason = "again"
            $0.rejected = .with { $0.origin = "sh-012"; $0.seq = 2 }
        }))
        let record = session.machine.receive(error, now: session.clock).records.last
        #expect(record?.stuckOp?.since == 1_763_000_000_000)
        #expect(record?.stuckOp?.reason == "again")
    }

    @Test func theStuckOpIsClearedOnceABatchCarryingItIsAcknowledged() {
        var session = Self.rejectedSession(since: 1_763_000_000_000)
        // The withdrawn op went out in batch 1; HQ commits it. The record is written by the next tick.
        #expect(session.machine.receive(Harness.ack(1, vector(["sh-012": 2])), now: session.clock).failure == nil)
        session.advance(.seconds(2))
        let record = session.machine.tick(now: session.clock).records.last
        #expect(record != nil)
        #expect(record?.stuckOp == nil)
    }

    @Test func aPeerThatHoldsTheStuckOpAlreadyClearsItAtAdmission() {
        var session = Harness.dialler(.live)
        _ = session.machine.connected(localVector: vector(["sh-012": 2]), now: session.clock)
        _ = session.machine.receiveHello(
            Harness.hello(from: Harness.hq, vector: vector(["sh-012": 2])), certificate: .success(Harness.hqCertificate), now: session.clock)
        var record = PeerRecord(nodeID: Harness.hq.nodeID, role: .hq, address: "127.0.0.1:7420", state: .refused, stateSince: 1)
        record.stuckOp = StuckOp(op: Self.stuck, reason: "refused", since: 1)
        var facts = PeerFacts(localVector: vector(["sh-012": 2]))
        facts.record = record
        let actions = session.machine.admitted(facts, now: session.clock)
        #expect(actions.records.first?.stuckOp == nil)
    }
}

@Suite struct RoundTests {
    /// A branch's one-off round: it sends its one op, HQ has nothing for it.
    @Test func aOneOffRoundFinishesWhenBothSidesAreLevel() {
        var session = Harness.dialler(.once)
        _ = session.machine.connected(localVector: vector(["sh-012": 1]), now: session.clock)
        _ = session.machine.receiveHello(Harness.hello(from: Harness.hq), certificate: .success(Harness.hqCertificate), now: session.clock)
        var actions = session.machine.admitted(PeerFacts(localVector: vector(["sh-012": 1])), now: session.clock)
        #expect(actions.readRequests.first?.origins == .only([Harness.branch.nodeID]))
        #expect(actions.sent.isEmpty, "a dialler sent its hello already")
        actions = session.machine.opsRead([Harness.op("sh-012", 1)], now: session.clock)
        actions = session.machine.opsRead([], now: session.clock)
        #expect(actions.sent.count == 1)
        actions = session.machine.receive(Harness.caughtUp(), now: session.clock)
        #expect(actions.finished == nil, "the batch is still in flight")
        actions = session.machine.receive(Harness.ack(1, vector(["sh-012": 1])), now: session.clock)
        let summary = actions.finished
        #expect(summary?.opsSent == 1)
        #expect(actions.records.last?.state == .offline)
        #expect(actions.records.last?.lastSyncAt == session.clock.wallMillis)
        #expect(session.machine.roundFinished)
    }

    @Test func aOneOffRoundWhosePeerRefusedOpsIsIncomplete() {
        var session = Harness.dialler(.once)
        _ = session.machine.connected(localVector: vector(["sh-012": 1]), now: session.clock)
        _ = session.machine.receiveHello(Harness.hello(from: Harness.hq), certificate: .success(Harness.hqCertificate), now: session.clock)
        _ = session.machine.admitted(PeerFacts(localVector: vector(["sh-012": 1])), now: session.clock)
        _ = session.machine.opsRead([Harness.op("sh-012", 1)], now: session.clock)
        _ = session.machine.opsRead([], now: session.clock)
        _ = session.machine.receive(Harness.caughtUp(), now: session.clock)
        var ack = Branchdesk_Sync_V1_Ack.with { $0.batchID = 1; $0.vector = VersionVector().wire }
        ack.refused = ["op sh-012#1 is 600s ahead"]
        let actions = session.machine.receive(Harness.frame(.ack(ack)), now: session.clock)
        #expect(actions.failure?.kind == .incomplete)
        #expect(actions.failure?.message.contains("600s ahead") == true)
    }

    @Test func aLiveSessionKeepsPushingAfterItsRoundAndRecordsLive() {
        var session = Harness.listener(.live)
        _ = session.admitBranch(facts: PeerFacts(localVector: VersionVector(), scope: []))
        var actions = session.machine.opsRead([], now: session.clock)
        actions = session.machine.receive(Harness.caughtUp(), now: session.clock)
        #expect(actions.records.last?.state == .live)
        #expect(actions.finished == nil)
        actions = session.machine.localChange(now: session.clock)
        #expect(actions.readRequests.count == 1, "a live session reads again after it caught up")
        actions = session.machine.opsRead([Harness.op("hq", 1)], now: session.clock)
        #expect(actions.sent.count == 1)
    }

    @Test func aPeerThatClosesAfterItsRoundSimplyLeft() {
        var session = Harness.listener(.live)
        _ = session.admitBranch()
        _ = session.machine.opsRead([], now: session.clock)
        _ = session.machine.receive(Harness.caughtUp(), now: session.clock)
        let actions = session.machine.peerClosed(now: session.clock)
        #expect(actions.records.last?.state == .offline)
        #expect(actions.finished != nil)
    }

    @Test func aPeerThatClosesMidRoundLostTheLinkAndADiallerBacksOff() {
        var session = Harness.dialler(.live)
        _ = session.machine.connected(localVector: VersionVector(), now: session.clock)
        _ = session.machine.receiveHello(Harness.hello(from: Harness.hq), certificate: .success(Harness.hqCertificate), now: session.clock)
        _ = session.machine.admitted(PeerFacts(localVector: VersionVector()), now: session.clock)
        let actions = session.machine.peerClosed(now: session.clock)
        #expect(actions.failure?.kind == .linkLost)
        #expect(actions.records.last?.state == .backingOff)
        #expect(actions.failure?.hadSynced == false)
    }

    @Test func thePeersErrorFrameEndsTheSessionWithItsKind() {
        for (code, kind) in [(Branchdesk_Sync_V1_ErrorCode.unauthorized, SyncError.Kind.refused), (.shuttingDown, .linkLost), (.badFrame, .protocolViolation)] {
            var session = Harness.dialler()
            _ = session.machine.connected(localVector: VersionVector(), now: session.clock)
            let actions = session.machine.receive(Harness.frame(.error(.with { $0.code = code; $0.reason = "why" })), now: session.clock)
            #expect(actions.failure?.kind == kind)
            #expect(actions.errorSent == nil, "a peer's error is not answered with one")
        }
    }
}

@Suite struct TimerTests {
    @Test func aHeartbeatGoesOutAfterTheIntervalOfQuietAndNotBefore() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.opsRead([], now: session.clock)
        session.advance(Harness.settings.heartbeatInterval - .milliseconds(1))
        #expect(session.machine.tick(now: session.clock).sent.isEmpty)
        session.advance(.milliseconds(1))
        let actions = session.machine.tick(now: session.clock)
        guard case .heartbeat = actions.sent.first else { Issue.record("no heartbeat in \(actions)"); return }
        #expect(actions.contains(.checkRevocation(serial: Harness.branchCertificate.serial)))
    }

    @Test func aLinkSilentForTheDeadIntervalIsDeclaredDead() {
        var session = Harness.listener()
        _ = session.admitBranch()
        session.advance(Harness.settings.deadAfter - .milliseconds(1))
        _ = session.machine.receive(Harness.frame(.heartbeat(.with { $0.sentAtMs = 1 })), now: session.clock)
        session.advance(Harness.settings.deadAfter - .milliseconds(1))
        #expect(session.machine.tick(now: session.clock).failure == nil, "a heartbeat heard resets the timer")
        session.advance(.milliseconds(1))
        let actions = session.machine.tick(now: session.clock)
        #expect(actions.failure?.kind == .linkLost)
        #expect(actions.failure?.message.contains("the link is dead") == true)
    }

    /// On a loaded machine the store may take long to admit a peer; that is no silence of the
    /// peer's: the dead-link clock starts again when the session syncs, which sends heartbeats first.
    @Test func aSlowAdmissionDoesNotMakeThePeerDead() {
        var settings = Harness.settings
        settings.deadAfter = .seconds(2)
        settings.heartbeatInterval = .milliseconds(500)
        settings.handshakeTimeout = .seconds(30)
        var session = Harness.listener(settings: settings)
        let asked = session.machine.receiveHello(
            Harness.hello(from: Harness.branch), certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(asked.contains { if case .admit = $0 { true } else { false } })
        session.advance(settings.deadAfter * 2)  // the store answers late, with no tick in between
        _ = session.machine.admitted(PeerFacts(localVector: VersionVector(), scope: [Harness.hq.nodeID, Harness.branch.nodeID]), now: session.clock)
        session.advance(settings.heartbeatInterval)
        let actions = session.machine.tick(now: session.clock)
        #expect(actions.failure == nil)
        guard case .heartbeat = actions.sent.first else { Issue.record("no heartbeat in \(actions)"); return }
    }

    @Test func aCertificateRevokedDuringTheSessionEndsIt() {
        var session = Harness.listener()
        _ = session.admitBranch()
        #expect(session.machine.revocationChecked(false, now: session.clock).isEmpty)
        let actions = session.machine.revocationChecked(true, now: session.clock)
        #expect(actions.errorSent?.code == .unauthorized)
        #expect(actions.records.last?.state == .refused)
    }

    @Test func aStaleRecordIsWrittenByTheNextTick() {
        var session = Harness.listener()
        _ = session.admitBranch(facts: PeerFacts(localVector: vector(["hq": 3]), scope: [Harness.hq.nodeID, Harness.branch.nodeID]))
        _ = session.machine.opsRead([Harness.op("hq", 1)], now: session.clock)
        let ack = session.machine.receive(Harness.ack(1, vector(["hq": 1])), now: session.clock)
        #expect(ack.records.isEmpty)
        session.advance(.seconds(1))
        let records = session.machine.tick(now: session.clock).records
        #expect(records.first?.ackedVector == vector(["hq": 1]))
    }
}

@Suite struct ShutdownTests {
    @Test func aShutdownTellsThePeerIgnoresFurtherFramesAndStopsWhenThePeerCloses() {
        var session = Harness.listener()
        _ = session.admitBranch()
        let told = session.machine.shutdown(now: session.clock)
        #expect(told.errorSent?.code == .shuttingDown)
        #expect(session.machine.receive(Harness.batch(1, [Harness.op("sh-012", 1)]), now: session.clock).isEmpty)
        let actions = session.machine.peerClosed(now: session.clock)
        #expect(actions.last == .stopForShutdown)
        #expect(actions.records.last?.state == .offline)
    }

    @Test func aShutdownStopsAfterTheGraceIfThePeerStaysOpen() {
        var session = Harness.listener()
        _ = session.admitBranch()
        _ = session.machine.shutdown(now: session.clock)
        session.advance(SessionStateMachine.leavingGrace - .milliseconds(1))
        #expect(session.machine.tick(now: session.clock).isEmpty)
        session.advance(.milliseconds(1))
        #expect(session.machine.tick(now: session.clock).last == .stopForShutdown)
    }

    @Test func aStoreFailureTellsThePeerToRetryAndRecordsTheError() {
        var session = Harness.listener()
        _ = session.admitBranch()
        let actions = session.machine.failed(
            SyncError(.linkLost, "the local store failed: disk full"), telling: WireError(.internal, "retry"), now: session.clock)
        #expect(actions.errorSent?.code == .internal)
        #expect(actions.records.last?.lastError == "the local store failed: disk full")
        #expect(actions.records.last?.state == .offline)
    }
}

/// Every frame kind in every phase of the session: the machine never traps, and answers each with
/// what the spec says.
@Suite struct EveryFrameInEveryPhaseTests {
    enum Phase: CaseIterable { case awaitingHello, syncing, finished, leaving, ended }

    static let frames: [WireFrame] = [
        Harness.frame(.hello(Harness.hello(from: Harness.branch))), Harness.batch(1, [Harness.op("sh-012", 1)]),
        Harness.ack(1, VersionVector()), Harness.caughtUp(), Harness.frame(.heartbeat(.with { $0.sentAtMs = 1 })),
        Harness.frame(.error(.with { $0.code = .internal; $0.reason = "x" })), WireFrame(),
    ]

    static func session(in phase: Phase) -> Harness {
        var session = Harness.listener()
        switch phase {
        case .awaitingHello: break
        case .syncing: _ = session.admitBranch()
        case .finished:
            _ = session.admitBranch()
            _ = session.machine.opsRead([], now: session.clock)
            _ = session.machine.receive(Harness.caughtUp(), now: session.clock)
        case .leaving:
            _ = session.admitBranch()
            _ = session.machine.shutdown(now: session.clock)
        case .ended:
            _ = session.machine.peerClosed(now: session.clock)
        }
        return session
    }

    @Test(arguments: Phase.allCases, 0..<frames.count)
    func everyFrameIsAnswered(phase: Phase, frameIndex: Int) {
        var session = Self.session(in: phase)
        let frame = Self.frames[frameIndex]
        let actions: [SessionAction]
        if case .hello(let hello) = frame.body, !session.machine.isSyncing {
            actions = session.machine.receiveHello(hello, certificate: .success(Harness.branchCertificate), now: session.clock)
        } else {
            actions = session.machine.receive(frame, now: session.clock)
        }
        switch (phase, frame.body) {
        case (.leaving, _), (.ended, _):
            #expect(actions.isEmpty, "a session that is leaving or ended ignores frames")
        case (_, .heartbeat):
            #expect(actions.isEmpty)
        case (_, .error):
            #expect(actions.failure != nil && actions.errorSent == nil)
        case (.awaitingHello, .hello):
            #expect(actions.first.map { if case .admit = $0 { true } else { false } } == true)
        case (.awaitingHello, _):
            #expect(actions.errorSent?.code == .unexpectedMessage)
        case (_, .hello), (_, nil):
            #expect(actions.errorSent?.code == .unexpectedMessage)
        case (_, .batch):
            #expect(actions.first.map { if case .apply = $0 { true } else { false } } == true)
        case (_, .ack):
            #expect(actions.errorSent?.code == .unexpectedMessage, "no batch is in flight")
        case (_, .caughtUp):
            #expect(actions.failure == nil)
        }
    }
}
