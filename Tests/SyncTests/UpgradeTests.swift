import Foundation
import Replication
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
import TicketStore

/// Upgrades without a flag day (SYNC.md §10): HQ on this build serves branches that still speak
/// version 2 (replication scoped by origin) beside upgraded ones (version 3, a feed per branch).
@Suite("HQ speaks the previous protocol version beside the new one")
struct UpgradeTests {
    let company: Company
    let hq: Company.Node

    init() throws {
        company = try Company()
        hq = try company.node("hq", role: .hq)
    }

    /// A dialler that offers only version 2, as the previous build did.
    func oldDialler(_ node: Company.Node, to address: HostPort) -> SyncDialler {
        var settings = company.settings
        settings.versions = 2...2
        return SyncDialler(address: address, store: node.store, certificates: node.certificates, settings: settings, feed: nil, logger: company.logger)
    }

    @Test("a version-2 branch keeps syncing by origin; upgraded in place it reads its feed, drops others' customers and loses no op")
    func oldBranchThenUpgradedInPlace() async throws {
        let server = try await company.serve(hq)
        let pudong = try company.node("sh-012")
        let minhang = try company.node("sh-031")
        for index in 1...3 { try await company.openTicket(at: pudong, title: "浦东投诉 \(index)") }
        for index in 1...2 { try await company.openTicket(at: minhang, title: "闵行投诉 \(index)") }
        _ = try await company.dialler(pudong, to: server.address).syncOnce()

        // Minhang still runs the old build. HQ transfers one Pudong ticket to it: over version 2
        // it receives all of Pudong's origin, as the old build always did.
        let moved = try #require(try await hq.store.tickets(TicketFilter()).first { $0.origin == "sh-012" })
        _ = try await hq.store.edit(moved.id, actor: "总部投诉办", action: "transfer") { try $0.transfer(to: try NodeID("sh-031")) }
        let old = try await oldDialler(minhang, to: server.address).syncOnce()
        #expect(old.opsSent == 4)
        #expect(try await minhang.store.tickets(TicketFilter()).count == 5, "version 2 relays Pudong's whole origin")
        #expect(try await minhang.store.feedCursor() == nil)
        let hqRecord = try #require(try await hq.store.peers().first { $0.nodeID.rawValue == "sh-031" })
        #expect(hqRecord.feedAcked == nil, "HQ served it by origin")

        // The branch is upgraded in place and edits before it next reaches HQ.
        try await company.openTicket(at: minhang, title: "升级后的投诉")
        let upgraded = try await company.dialler(minhang, to: server.address).syncOnce()
        #expect(upgraded.opsSent == 2)
        let held = try await minhang.store.heldTickets()
        #expect(held.count == 4, "its three tickets and the one transferred to it: \(held)")
        #expect(held.allSatisfy { $0.origin.rawValue == "sh-031" || $0.description == moved.id })
        #expect(try await minhang.store.feedCursor() != nil)
        let id = minhang.store.identity.nodeID
        #expect(try await hq.store.digest(handledBy: id) == minhang.store.digest(handledBy: id))
        #expect(try await hq.store.versionVector()[id] == minhang.store.versionVector()[id])
        #expect(try await hq.store.tickets(TicketFilter()).count == 6, "no op lost at HQ")

        // From now on it receives what concerns its tickets only.
        try await company.openTicket(at: pudong, title: "浦东新投诉")
        _ = try await company.dialler(pudong, to: server.address).syncOnce()
        _ = try await hq.store.edit(moved.id, actor: "总部投诉办", action: "assign") { try $0.assign(to: "李经理") }
        let next = try await company.dialler(minhang, to: server.address).syncOnce()
        #expect(next.opsReceived == 1, "HQ's edit of its ticket, not Pudong's new ticket")
        #expect(try await minhang.store.ticket(moved.number).assignee == "李经理")
        let status = try await hq.store.status(now: Date()).peers.first { $0.nodeID == "sh-031" }
        #expect(status?.opsToSend == 0 && status?.troubles.isEmpty == true, "\(String(describing: status))")
        await server.stop()
    }

    @Test("a new branch never receives a transferred ticket's neighbours, and HQ restored from a backup starts its feeds again")
    func feedEpochAfterHQRestore() async throws {
        let server = try await company.serve(hq)
        let pudong = try company.node("sh-012")
        let minhang = try company.node("sh-031")
        for index in 1...3 { try await company.openTicket(at: pudong, title: "浦东投诉 \(index)") }
        _ = try await company.dialler(pudong, to: server.address).syncOnce()
        let moved = try #require(try await hq.store.tickets(TicketFilter()).first)
        _ = try await hq.store.edit(moved.id, actor: "总部投诉办", action: "transfer") { try $0.transfer(to: try NodeID("sh-031")) }
        _ = try await company.dialler(minhang, to: server.address).syncOnce()
        #expect(try await minhang.store.heldTickets().map(\.description) == [moved.id])
        let first = try #require(try await minhang.store.feedCursor())

        // HQ's feeds are dropped and built again (as after a restore): a new epoch, read from 0.
        try await hq.store.resetFeeds()
        _ = try await hq.store.edit(moved.id, actor: "总部投诉办", action: "assign") { try $0.assign(to: "李经理") }
        _ = try await company.dialler(minhang, to: server.address).syncOnce()
        let second = try #require(try await minhang.store.feedCursor())
        #expect(second.epoch != first.epoch)
        #expect(try await minhang.store.ticket(moved.number).assignee == "李经理")
        #expect(try await hq.store.digest(handledBy: minhang.store.identity.nodeID) == minhang.store.digest(handledBy: minhang.store.identity.nodeID))
        await server.stop()
    }
}
