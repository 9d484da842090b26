import Foundation
import GRDB
import Replication
import TestSupport
import Testing
import TicketModel
@testable import TicketStore

@Suite struct ReplicaScopeTests {
    /// HQ with a ticket of sh-012 that HQ edited and then transferred to sh-031.
    private func transferredTicket(hq: NodeStore) async throws -> (pudong: NodeID, minhang: NodeID) {
        let pudong = try Fixtures.memoryStore("sh-012"), minhang = try Fixtures.memoryStore("sh-031")
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        _ = try await minhang.openTicket(Fixtures.draft(title: "收银员态度差"), actor: "李四")
        try await Fixtures.sync(pudong, to: hq)
        try await Fixtures.sync(minhang, to: hq)
        _ = try await hq.edit(ticket.id, actor: "总部投诉办", action: "escalate") { try $0.escalate(to: .headquarters) }
        #expect(try await hq.replicationScope(for: minhang.identity.nodeID) == [minhang.identity.nodeID, hq.identity.nodeID])
        _ = try await hq.edit(ticket.id, actor: "总部投诉办", action: "transfer") { try $0.transfer(to: minhang.identity.nodeID) }
        return (pudong.identity.nodeID, minhang.identity.nodeID)
    }

    @Test func aTransferBringsEveryOriginOfTheTicketIntoTheNewOwnersScope() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let (pudong, minhang) = try await transferredTicket(hq: hq)
        #expect(try await hq.replicationScope(for: minhang) == [minhang, hq.identity.nodeID, pudong])
        // Pudong's scope does not grow with HQ's edits or with Minhang's tickets.
        #expect(try await hq.replicationScope(for: pudong) == [pudong, hq.identity.nodeID])
    }

    @Test func aNodeFromBeforeScopesGetsItsScopesFromItsTickets() async throws {
        let folder = TemporaryDirectory()
        let hq = try NodeStore.create(in: folder.node("hq"), identity: Fixtures.identity("hq", role: .hq))
        let (pudong, minhang) = try await transferredTicket(hq: hq)
        let queue = try DatabaseQueue(path: NodeStore.databasePath(in: folder.node("hq")))
        try await queue.write { db in
            try db.execute(sql: "DROP TABLE replicaScope")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v5-replica-scope'")
        }
        try queue.close()
        let migrated = try NodeStore.open(in: folder.node("hq"))
        #expect(try await migrated.replicationScope(for: minhang) == [minhang, hq.identity.nodeID, pudong])
        #expect(try await migrated.replicationScope(for: pudong) == [pudong, hq.identity.nodeID])
    }
}
