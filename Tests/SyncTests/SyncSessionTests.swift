import Foundation
import Replication
import Synchronization
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
import TicketStore

@Suite("Sync sessions between real nodes over mutual TLS on loopback")
struct SyncSessionTests {
    @Test("branches edit while HQ is down; HQ starts; each converges with HQ on its tickets and HQ's edits flow back")
    func offlineBranchesThenHQ() async throws {
        let company = try Company()
        let hq = try company.node("hq", role: .hq)
        let pudong = try company.node("sh-012")
        let minhang = try company.node("sh-031")
        for index in 1...5 {
            try await company.openTicket(at: pudong, title: "浦东投诉 \(index)")
            try await company.openTicket(at: minhang, title: "闵行投诉 \(index)")
        }

        // HQ is not listening yet: the round fails as a lost link and the branch keeps its edits.
        let unreachable = HostPort(host: "127.0.0.1", port: try await company.serve(hq).stoppedPort())
        await #expect(throws: SyncError.self) { _ = try await company.dialler(pudong, to: unreachable).syncOnce() }
        #expect(try await pudong.store.versionVector()[pudong.store.identity.nodeID] == 10)

        let server = try await company.serve(hq)
        let first = try await company.dialler(pudong, to: server.address).syncOnce()
        #expect(first.peer.nodeID == hq.store.identity.nodeID)
        #expect(first.opsSent == 10)
        _ = try await company.dialler(minhang, to: server.address).syncOnce()
        #expect(try await hq.store.tickets(TicketFilter()).count == 10)
        // Minhang's round was acknowledged by an HQ holding Pudong's ops: still HQ owes it nothing.
        let owed = try await minhang.store.status(now: Date()).peers
        #expect(owed.map(\.opsToReceive) == [0] && owed.allSatisfy { $0.troubles.isEmpty }, "\(owed)")

        // HQ escalates and reassigns a Pudong ticket; the branches receive it with their next round.
        let number = try await pudong.store.tickets(TicketFilter()).first!.number
        _ = try await hq.store.edit(number, actor: "总部投诉办", action: "escalate") { try $0.escalate(to: .headquarters) }
        _ = try await hq.store.edit(number, actor: "总部投诉办", action: "assign") { try $0.assign(to: "李经理") }
        let second = try await company.dialler(pudong, to: server.address).syncOnce()
        #expect(second.opsReceived == 2)  // HQ's two edits; Minhang's ops are not Pudong's business
        _ = try await company.dialler(minhang, to: server.address).syncOnce()
        #expect(try await pudong.store.ticket(number).assignee == "李经理")

        // Each branch holds its own tickets whole, as HQ has them, and none of the other's.
        let hqVector = try await hq.store.versionVector()
        for branch in [pudong, minhang] {
            let id = branch.store.identity.nodeID
            #expect(try await hq.store.digest(handledBy: id) == branch.store.digest(handledBy: id))
            // Its own ops, and of HQ's only those on its tickets (SYNC.md §5.5): none for Minhang.
            #expect(try await branch.store.versionVector() == (id == pudong.store.identity.nodeID ? hqVector.restricted(to: [id, hq.store.identity.nodeID]) : hqVector.restricted(to: [id])))
            #expect(try await branch.store.tickets(TicketFilter()).count == 5)
        }
        #expect(hqVector.total == 22)
        let vectors = [hqVector, try await pudong.store.versionVector()]

        // Each side recorded the other: HQ sees both branches synced, with nothing waiting.
        let peers = try await hq.store.peers()
        #expect(peers.map(\.nodeID.rawValue) == ["sh-012", "sh-031"])
        #expect(peers.allSatisfy { $0.lastSyncAt != nil && $0.lastError == nil }, "\(peers.map { ($0.nodeID, $0.lastError) })")
        let pudongView = try #require(try await pudong.store.peers().first)
        #expect(pudongView.nodeID.rawValue == "hq" && pudongView.state == .offline)
        #expect(pudongView.opsWaitingToSend(from: vectors[1], only: [pudong.store.identity.nodeID]) == 0)
        // HQ's status counts only the ops of each branch's scope: Minhang's are not owed to Pudong.
        let status = try await hq.store.status(now: Date())
        #expect(status.peers.map(\.opsToSend) == [0, 0] && status.peers.allSatisfy { $0.troubles.isEmpty }, "\(status.peers)")
        // And no branch counts HQ as owing it another branch's ops: HQ's hello and acks show a
        // branch only the origins of its scope.
        for branch in [pudong, minhang] {
            let own = try await branch.store.status(now: Date())
            #expect(own.peers.map(\.opsToReceive) == [0] && own.peers.allSatisfy { $0.troubles.isEmpty }, "\(own.peers)")
        }
        await server.stop()
    }

    @Test("a catch-up of many ops streams in windowed batches, and a rerun after a cut sends only the rest")
    func cutMidCatchUpResumes() async throws {
        let company = try Company(batchOps: 50, window: 2)
        let hq = try company.node("hq", role: .hq)
        let branch = try company.node("sh-012")
        for index in 1...300 { try await company.openTicket(at: branch, title: "投诉 \(index)") }  // 600 ops
        let branchVector = try await branch.store.versionVector()

        // Cut the link once HQ has committed part of the catch-up: the server goes away mid-stream.
        let server = try await company.serve(hq)
        let round = Task { try await company.dialler(branch, to: server.address).syncOnce() }
        try await eventually("HQ committing part of the catch-up") { try await hq.store.opCount() >= 100 }
        await server.stop()
        await #expect(throws: SyncError.self) { _ = try await round.value }
        let partial = try await hq.store.opCount()
        #expect(partial < 600)

        // The rerun resumes from what HQ holds: nothing lost, nothing applied twice; its progress
        // counts up to what HQ lacked at the hello.
        let restarted = try await company.serve(hq)
        let reports = Mutex<[SyncProgress]>([])
        let summary = try await company.dialler(branch, to: restarted.address).syncOnce { progress in
            reports.withLock { $0.append(progress) }
        }
        #expect(UInt64(summary.opsSent) == 600 - partial)
        let seen = reports.withLock { $0 }
        #expect(seen.count > 1 && seen.allSatisfy { UInt64($0.opsToSend) == 600 - partial && $0.opsToReceive == 0 })
        #expect(seen.map(\.opsSent) == seen.map(\.opsSent).sorted() && seen.last?.opsSent == summary.opsSent)
        #expect(try await hq.store.versionVector() == branchVector)
        #expect(try await hq.store.digest() == branch.store.digest())
        await restarted.stop()
    }

    @Test("ops with long texts are batched under the frame limit and all arrive")
    func longTextsFitTheFrameLimit() async throws {
        let company = try Company(batchOps: 500, window: 4)
        let hq = try company.node("hq", role: .hq)
        let branch = try company.node("sh-012")
        let statement = String(repeating: "顾客详细陈述了事情经过。", count: 5_000)  // about 180 KiB per op
        for _ in 1...40 { _ = try await branch.store.openTicket(Fixtures.draft(statement: statement), actor: "王芳") }
        let server = try await company.serve(hq)
        let summary = try await company.dialler(branch, to: server.address).syncOnce()
        #expect(summary.opsSent == 40)  // about 7 MiB in all, against a 4 MiB frame limit
        #expect(try await hq.store.digest() == branch.store.digest())
        await server.stop()
    }

    @Test("a live session pushes an edit to HQ as it commits, and HQ's edit back, with no command run")
    func liveTail() async throws {
        let company = try Company()
        let hq = try company.node("hq", role: .hq)
        let branch = try company.node("sh-012")
        let server = try await company.serve(hq)
        let live = try await company.serveBranch(branch, hq: server.address)
        try await eventually("the branch going live") { try await branch.store.peers().first?.state == .live }

        let number = try await company.openTicket(at: branch, title: "门店空调漏水")
        try await eventually("HQ receiving the new ticket") { try await hq.store.tickets(TicketFilter()).count == 1 }
        _ = try await hq.store.edit(number, actor: "总部", action: "escalate") { try $0.escalate(to: .headquarters) }
        try await eventually("the branch receiving HQ's escalation") {
            try await branch.store.versionVector()[hq.store.identity.nodeID] == 1
        }
        #expect(try await hq.store.digest() == branch.store.digest())
        try await eventually("HQ recording that the live branch holds everything") {
            let record = try await hq.store.peers().first
            let vector = try await hq.store.versionVector()
            return record?.state == .live && record?.opsWaitingToSend(from: vector, only: nil) == 0
        }

        // HQ goes away: the branch keeps taking edits and redials; when HQ returns they flow again.
        await server.stop()
        try await company.openTicket(at: branch, title: "断网时的投诉")
        try await eventually("the branch noticing the lost link") { try await branch.store.peers().first?.state != .live }
        let back = try await company.serve(hq, port: server.address.port)
        try await eventually("HQ receiving the edit made while it was down") {
            try await hq.store.tickets(TicketFilter()).count == 2
        }
        await live.stop()
        await back.stop()
    }
}

extension Company.RunningServer {
    /// Stops the server and returns the port it had, now closed.
    func stoppedPort() async -> Int {
        await stop()
        return port
    }
}
