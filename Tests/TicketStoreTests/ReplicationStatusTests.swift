import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// `status`: each peer's troubles, diagnosed from what the running node recorded, worst first.
@Suite struct ReplicationStatusTests {
    let clock = ManualClock()
    let start = Date(timeIntervalSince1970: 1_795_305_600)  // the fixtures' clocks start here

    func minutes(_ count: Double) -> Date { start + count * 60 }
    func millis(_ date: Date) -> UInt64 { UInt64(date.timeIntervalSince1970 * 1000) }

    @Test func aBranchThatNeverReachedHQSaysSoAndCountsWhatWaits() async throws {
        let branch = try Fixtures.memoryStore("sh-012", clock: clock)
        _ = try await branch.addPeer(try NodeID("hq"), address: "hq.example.com:7420")
        _ = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        clock.advance(byMillis: 60_000)
        _ = try await branch.openTicket(Fixtures.draft(title: "空调漏水"), actor: "王芳")

        let status = try await branch.status(now: minutes(30))
        let hq = try #require(status.peers.first)
        #expect(status.peers.count == 1 && status.hqAddress == "hq.example.com:7420")
        #expect(hq.nodeID == "hq" && hq.lastSyncAt == nil && hq.opsToSend == 2)
        #expect(hq.oldestUnackedAt == start, "the first ticket's op waits longest")
        #expect(hq.troubles == [.neverSynced, .farBehind])
        #expect(hq.diagnosis == "never synced; 2 ops to send, 0 to receive, the oldest unacknowledged made 30m ago")
    }

    @Test func aLiveBranchIsInNoTroubleAndAStaleOneIsSilent() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        try await hq.record(peer("sh-012", .live, lastSync: minutes(59)))
        try await hq.record(peer("sh-031", .offline, lastSync: minutes(-180)))

        let peers = try await hq.status(now: minutes(60)).peers
        #expect(peers.map(\.nodeID) == ["sh-031", "sh-012"])
        #expect(peers[0].troubles == [.silent] && peers[0].diagnosis == "no sync for 4h")
        #expect(peers[1].troubles.isEmpty && peers[1].diagnosis == nil && peers[1].state == "live")
    }

    @Test func aRefusedBranchComesFirstWithTheReason() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        try await hq.record(peer("sh-012", .live, lastSync: minutes(1)))
        var refused = peer("sh-031", .refused, lastSync: minutes(0))
        refused.lastError = "the certificate of sh-031 (serial 0a1b) was revoked"
        refused.refusals = 3
        try await hq.record(refused)
        _ = try await hq.addPeer(try NodeID("sh-044"), address: nil)

        let peers = try await hq.status(now: minutes(2)).peers
        #expect(peers.map(\.nodeID) == ["sh-031", "sh-044", "sh-012"], "refused, never synced, then the healthy")
        #expect(peers[0].troubles == [.refused] && peers[0].refusals == 3)
        #expect(peers[0].diagnosis == "refused: the certificate of sh-031 (serial 0a1b) was revoked")
        #expect(peers[1].troubles == [.neverSynced])
    }

    @Test func aBranchFarBehindShowsHowManyOpsWaitAndHowOld() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        let branch = try Fixtures.memoryStore("sh-012", clock: clock)
        for index in 0..<12 {
            _ = try await hq.openTicket(Fixtures.draft(title: "投诉 \(index)"), actor: "总部投诉办")
        }
        // sh-012's ops are not owed to sh-031: they are outside its replica scope.
        _ = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        try await Fixtures.sync(branch, to: hq)
        // sh-031 was live a minute ago but has acknowledged none of HQ's 12 ops made two hours ago.
        clock.advance(byMillis: 120 * 60_000)
        try await hq.record(peer("sh-031", .live, lastSync: minutes(119)))

        let peers = try await hq.status(now: minutes(120)).peers
        #expect(peers.map(\.nodeID) == ["sh-031"])
        #expect(peers[0].opsToSend == 12 && peers[0].oldestUnackedAt == start)
        #expect(peers[0].troubles == [.farBehind])
        #expect(peers[0].diagnosis == "12 ops to send, 0 to receive, the oldest unacknowledged made 2h ago")

        var thresholds = TroubleThresholds.standard
        thresholds.behindAfterMillis = 3 * 3_600_000
        #expect(try await hq.status(now: minutes(120), thresholds: thresholds).peers[0].troubles.isEmpty)
        thresholds.behindAfterOps = 10
        #expect(try await hq.status(now: minutes(120), thresholds: thresholds).peers[0].troubles == [.farBehind])
    }

    @Test func openBreachesAreCountedForTheNodeAndPerBranch() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        let branch = try Fixtures.memoryStore("sh-012", clock: clock)
        _ = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        try await Fixtures.sync(branch, to: hq)
        try await hq.record(peer("sh-012", .live, lastSync: minutes(0)))

        let early = try await hq.status(now: minutes(60))
        #expect(early.openBreaches == 0 && early.peers[0].openBreaches == 0)
        // No reply within 24 hours: the first-reply deadline is breached, at HQ and at the branch.
        let late = start + 3 * 86_400
        #expect(try await hq.status(now: late).openBreaches == 1)
        #expect(try await hq.status(now: late).peers[0].openBreaches == 1)
        #expect(try await branch.status(now: late).openBreaches == 1)
    }

    @Test func peersAreAddedAndRemovedWithTheRulesOfEachRole() async throws {
        let branch = try Fixtures.memoryStore("sh-012", clock: clock)
        await #expect(throws: DomainError.self) { _ = try await branch.addPeer(try NodeID("hq"), address: nil) }
        await #expect(throws: DomainError.self) { _ = try await branch.addPeer(try NodeID("sh-012"), address: "x:1") }
        _ = try await branch.addPeer(try NodeID("hq"), address: "hq.example.com:7420")
        let second = await #expect(throws: DomainError.self) { _ = try await branch.addPeer(try NodeID("hq2"), address: "b:1") }
        #expect(second?.message.contains("peers remove hq") == true)
        _ = try await branch.removePeer(try NodeID("hq"))
        #expect(try await branch.hqAddress() == nil)
        #expect(try await branch.peers().isEmpty)

        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        let added = try await hq.addPeer(try NodeID("sh-031"), address: nil)
        #expect(added.role == .branch && added.state == .offline)
        let unknown = await #expect(throws: DomainError.self) { _ = try await hq.removePeer(try NodeID("sh-999")) }
        #expect(unknown?.message == "no peer 'sh-999'; the peers are sh-031")
    }

    func peer(_ id: String, _ state: PeerState, lastSync: Date) -> PeerRecord {
        var record = PeerRecord(nodeID: try! NodeID(id), role: .branch, address: nil, state: state, stateSince: millis(lastSync))
        record.lastSyncAt = millis(lastSync)
        return record
    }
}
