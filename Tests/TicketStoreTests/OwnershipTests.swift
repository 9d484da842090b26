import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// Who may change a ticket: the branch that handles it, and HQ; HQ transfers tickets.
@Suite struct OwnershipTests {
    let hq: NodeStore
    let pudong: NodeStore
    let minhang: NodeStore

    init() throws {
        hq = try Fixtures.memoryStore("hq", role: .hq)
        pudong = try Fixtures.memoryStore("sh-012")
        minhang = try Fixtures.memoryStore("sh-031")
    }

    var pudongID: NodeID { pudong.identity.nodeID }
    var minhangID: NodeID { minhang.identity.nodeID }

    /// Pudong's ticket, replicated to HQ and Minhang.
    func pudongTicket() async throws -> String {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        try await Fixtures.sync(pudong, to: hq)
        try await Fixtures.sync(hq, to: minhang)
        return ticket.number
    }

    /// An op made up by `origin` on `ticket`, as a modified branch could send it.
    func madeUpOp(by origin: NodeID, seq: UInt64, on ticket: TicketID, action: String = "update", _ changes: [Change]) -> Op {
        Op(id: OpID(origin: origin, seq: seq), hlc: HLCTimestamp(rawValue: UInt64(Date().timeIntervalSince1970 * 1000) << 16),
           ticket: ticket, actor: "someone", action: action, changes: changes)
    }

    func grant(_ store: NodeStore) async throws -> PeerGrant {
        PeerGrant(nodeID: store.identity.nodeID, role: store.identity.role, holds: try await store.versionVector())
    }

    @Test func aBranchReadsButCannotChangeAnotherBranchsTicket() async throws {
        let number = try await pudongTicket()
        #expect(try await minhang.ticket(number).title == "手机频繁死机")
        let error = await #expect(throws: DomainError.self) {
            _ = try await minhang.edit(number, actor: "李四", action: "accept") { try $0.transition(.accept) }
        }
        #expect(error?.message.contains("handled by sh-012") == true)
        #expect(try await minhang.versionVector()[minhangID] == 0)
    }

    @Test func hqTransfersATicketAndOnlyTheNewBranchMayChangeIt() async throws {
        let number = try await pudongTicket()
        await #expect(throws: DomainError.self) {
            _ = try await pudong.edit(number, actor: "王芳", action: "transfer") { try $0.transfer(to: minhangID) }
        }
        _ = try await hq.edit(number, actor: "总部", action: "transfer") { try $0.transfer(to: minhangID) }
        try await Fixtures.sync(hq, to: pudong)
        try await Fixtures.sync(hq, to: minhang)
        _ = try await minhang.edit(number, actor: "李四", action: "accept") { try $0.transition(.accept) }
        await #expect(throws: DomainError.self) {
            _ = try await pudong.edit(number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        }
        let minhangOps = try await minhang.opsMissing(by: hq.versionVector(), limit: 10)
        #expect(try await hq.apply(minhangOps, from: grant(minhang)).applied == 1)
    }

    @Test func hqRefusesABatchWithAnEditOfAnotherBranchsTicketWhole() async throws {
        let number = try await pudongTicket()
        let pudongTicketID = try await hq.ticket(number).id
        // Minhang's own new ticket, then a made-up edit of Pudong's ticket, in one batch.
        _ = try await minhang.openTicket(Fixtures.draft(title: "收银员态度差"), actor: "李四")
        let own = try await minhang.opsMissing(by: hq.versionVector(), limit: 10)
        let forged = madeUpOp(
            by: minhangID, seq: 2, on: try #require(TicketID(pudongTicketID)), [.write(field: .severity, value: .number(3), seen: [])])
        let before = try await hq.digest()
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply(own + [forged], from: grant(minhang)) }
        #expect(refusal?.op == forged.id)
        #expect(refusal?.rule.contains("handled by sh-012") == true)
        #expect(try await hq.digest() == before)
        #expect(try await hq.versionVector()[minhangID] == 0)
    }

    @Test func aBranchCannotPushATransfer() async throws {
        let number = try await pudongTicket()
        let id = try #require(TicketID(try await hq.ticket(number).id))
        let transfer = madeUpOp(by: pudongID, seq: 2, on: id, action: "transfer", [.write(field: .branch, value: .text("sh-031"), seen: [])])
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply([transfer], from: grant(pudong)) }
        #expect(refusal?.rule.contains("only HQ may transfer") == true)
    }

    @Test func anEditMadeBeforeTheBranchReceivedATransferIsAcceptedAndOneMadeAfterIsNot() async throws {
        let number = try await pudongTicket()
        // Offline, Pudong accepts its ticket while HQ transfers it to Minhang.
        _ = try await pudong.edit(number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await hq.edit(number, actor: "总部", action: "transfer") { try $0.transfer(to: minhangID) }
        let goodFaith = try await pudong.opsMissing(by: hq.versionVector(), limit: 10)
        let pudongBeforeTransfer = try await grant(pudong)
        #expect(try await hq.apply(goodFaith, from: pudongBeforeTransfer).applied == 1)

        // Once Pudong holds the transfer, a further edit is out of its rights.
        try await Fixtures.sync(hq, to: pudong)
        let id = try #require(TicketID(try await hq.ticket(number).id))
        let late = madeUpOp(by: pudongID, seq: 3, on: id, [.write(field: .severity, value: .number(3), seen: [])])
        await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply([late], from: grant(pudong)) }
    }
}
