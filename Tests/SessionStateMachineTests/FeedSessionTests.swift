import Replication
import SyncWire
import Testing
import TicketModel
import WireForms

/// Version 3 between a branch and HQ: the branch reads a feed HQ keeps for it (SYNC.md §5.5).
@Suite struct FeedSessionTests {
    static let epoch = "5f0c8e2a9b7d4c1e8a6b3d2f1e0c9b8a"

    @Test func hqSendsABranchItsFeedFromItsPlaceAndShowsOnlyItsOrigin() {
        var session = Harness.listener()
        let hello = Harness.hello(
            from: Harness.branch, vector: vector(["sh-012": 2, "hq": 9]), versions: 2...3, feed: FeedCursor(epoch: Self.epoch, position: 4))
        let asked = session.machine.receiveHello(hello, certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(asked == [.admit(AdmissionRequest(peer: Harness.branchCertificate, scopeOf: nil, feedOf: Harness.branch.nodeID))])
        #expect(session.machine.version == 3)
        let actions = session.machine.admitted(
            PeerFacts(localVector: vector(["hq": 20, "sh-012": 2, "bj-003": 5]), feed: FeedCursor(epoch: Self.epoch, position: 10)),
            now: session.clock)
        guard case .hello(let answer) = actions.sent.first else { Issue.record("no hello in \(actions)"); return }
        #expect((try? VersionVector(wire: answer.vector)) == vector(["sh-012": 2]), "only the branch's own origin")
        #expect(FeedCursor(wire: answer.feed) == FeedCursor(epoch: Self.epoch, position: 10))
        #expect(actions.readRequests.first?.origins == .feed(Harness.branch.nodeID, after: 4))
        #expect(session.machine.progress?.opsToSend == 6)
        #expect(actions.records.first?.feedAcked == 4)

        let batch = session.machine.opsRead([Harness.op("hq", 15), Harness.op("bj-003", 2)], feedPosition: 7, now: session.clock)
        guard case .batch(let sent) = batch.sent.first else { Issue.record("no batch in \(batch)"); return }
        #expect(FeedCursor(wire: sent.feed) == FeedCursor(epoch: Self.epoch, position: 7))
        #expect(batch.readRequests.first?.origins == .feed(Harness.branch.nodeID, after: 7), "the next read starts past the batch")

        var ack = Harness.ack(1, vector(["sh-012": 2, "hq": 15]))
        ack.ack.feed = FeedCursor(epoch: Self.epoch, position: 7).wire
        _ = session.machine.opsRead([], feedPosition: 7, now: session.clock)
        let acked = session.machine.receive(ack, now: session.clock)
        #expect(acked.failure == nil)
        session.advance(.seconds(1))
        #expect(session.machine.tick(now: session.clock).records.last?.feedAcked == 7)
    }

    @Test func aBranchHoldingAnotherEpochReadsTheFeedFromZero() {
        var session = Harness.listener()
        let hello = Harness.hello(from: Harness.branch, versions: 2...3, feed: FeedCursor(epoch: "an-older-feed", position: 40))
        _ = session.machine.receiveHello(hello, certificate: .success(Harness.branchCertificate), now: session.clock)
        let actions = session.machine.admitted(
            PeerFacts(localVector: vector(["hq": 3]), feed: FeedCursor(epoch: Self.epoch, position: 3)), now: session.clock)
        #expect(actions.readRequests.first?.origins == .feed(Harness.branch.nodeID, after: 0))
    }

    @Test func aBranchOfThePreviousBuildIsServedByOriginOverVersion2() {
        var session = Harness.listener()
        let asked = session.machine.receiveHello(
            Harness.hello(from: Harness.branch, versions: 2...2), certificate: .success(Harness.branchCertificate), now: session.clock)
        #expect(session.machine.version == 2)
        #expect(asked == [.admit(AdmissionRequest(peer: Harness.branchCertificate, scopeOf: Harness.branch.nodeID))])
    }

    @Test func aBranchStoresEachBatchWithItsFeedPlaceAndAcksIt() {
        var session = Harness.dialler()
        _ = session.machine.connected(localVector: vector(["sh-012": 2]), feed: nil, now: session.clock)
        let hqHello = Harness.hello(from: Harness.hq, vector: vector(["sh-012": 2]), versions: 2...3, feed: FeedCursor(epoch: Self.epoch, position: 12))
        let asked = session.machine.receiveHello(hqHello, certificate: .success(Harness.hqCertificate), now: session.clock)
        #expect(asked == [.admit(AdmissionRequest(peer: Harness.hqCertificate, scopeOf: nil, adoptFeed: Self.epoch))])
        let admitted = session.machine.admitted(
            PeerFacts(localVector: vector(["sh-012": 2]), feed: FeedCursor(epoch: Self.epoch, position: 0)), now: session.clock)
        #expect(admitted.records.first?.feedEnd == 12)
        #expect(session.machine.progress?.opsToReceive == 12)

        var batch = Harness.batch(1, [Harness.op("hq", 3, ticket: 1)])
        batch.batch.feed = FeedCursor(epoch: Self.epoch, position: 9).wire
        let apply = session.machine.receive(batch, now: session.clock)
        guard case .apply(_, _, let feed) = apply.first else { Issue.record("no apply in \(apply)"); return }
        #expect(feed == FeedCursor(epoch: Self.epoch, position: 9))
        let acked = session.machine.applied(
            BatchOutcome(applied: 1, duplicates: 0, deferred: [], refused: [], vector: vector(["sh-012": 2, "hq": 3]), feed: feed),
            now: session.clock)
        guard case .ack(let ack) = acked.sent.first else { Issue.record("no ack in \(acked)"); return }
        #expect(FeedCursor(wire: ack.feed) == FeedCursor(epoch: Self.epoch, position: 9))

        // HQ says it sent up to entry 12, but the branch holds 9 (ops were refused): incomplete.
        var caughtUp = Harness.caughtUp(vector(["sh-012": 2]))
        caughtUp.caughtUp.feed = FeedCursor(epoch: Self.epoch, position: 12).wire
        _ = session.machine.receive(caughtUp, now: session.clock)
        let ended = session.machine.opsRead([], now: session.clock)
        #expect(ended.failure?.kind == .incomplete)
        #expect(ended.failure?.message.contains("up to entry 9 of 12") == true, "\(String(describing: ended.failure))")
    }

    @Test func aVersion3HelloFromHQWithoutItsFeedIsRefused() {
        var session = Harness.dialler()
        _ = session.machine.connected(localVector: VersionVector(), now: session.clock)
        let actions = session.machine.receiveHello(
            Harness.hello(from: Harness.hq, versions: 2...3), certificate: .success(Harness.hqCertificate), now: session.clock)
        #expect(actions.errorSent?.code == .unexpectedMessage)
    }
}

/// Timers fall due at their time (SYNC.md §5.6): the shell ticks at `nextDeadline`.
@Suite struct ExactTimerTests {
    @Test func heartbeatsEveryIntervalOfQuietAndATimeoutToldAtTheDeadLinkTimeout() {
        var settings = Harness.settings
        settings.heartbeatInterval = .seconds(5)
        settings.deadAfter = .seconds(20)
        var session = Harness.listener(settings: settings)
        _ = session.admitBranch()
        _ = session.machine.opsRead([], now: session.clock)
        var heartbeats: [Duration] = []
        var ended: (at: Duration, actions: [SessionAction])?
        while ended == nil, let due = session.machine.nextDeadline {
            session.advance(due - session.clock.monotonic)
            let actions = session.machine.tick(now: session.clock)
            if case .heartbeat = actions.sent.first { heartbeats.append(session.clock.monotonic) }
            if actions.failure != nil { ended = (session.clock.monotonic, actions) }
        }
        #expect(heartbeats == [.seconds(5), .seconds(10), .seconds(15)])
        #expect(ended?.at == .seconds(20))
        #expect(ended?.actions.errorSent?.code == .timeout, "the peer is told why before the close")
        #expect(ended?.actions.failure?.kind == .linkLost)
    }

    @Test func aHelloNotSentInTimeIsToldAsATimeout() {
        var session = Harness.listener()
        let due = session.machine.nextDeadline
        #expect(due == Harness.settings.handshakeTimeout)
        session.advance(Harness.settings.handshakeTimeout)
        #expect(session.machine.tick(now: session.clock).errorSent?.code == .timeout)
        #expect(session.machine.nextDeadline == nil)
    }
}
