import Foundation
import GRDB
import Replication
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
@testable import TicketStore

/// An op HQ refuses for good (SYNC.md §6.2) stops its origin's sync at it: HQ names it, the branch's
/// status shows it with the way out, and once it is withdrawn both sides converge.
@Suite("A poison op and its way out")
struct PoisonOpTests {
    let company: Company
    let hq: Company.Node

    init() throws {
        company = try Company()
        hq = try company.node("hq", role: .hq)
    }

    @Test("HQ rejects an op by name; the branch's status shows it stuck; withdrawn, it passes and both sides converge")
    func withdrawnOpPasses() async throws {
        let branch = try company.node("sh-012")
        let number = try await company.openTicket(at: branch, title: "冰箱不制冷，已维修两次仍未解决")  // ops 1–2
        let ticket = try #require(TicketID(try await branch.store.ticket(number).id))
        let poison = try await branch.store.recordUnchecked(
            ticket: ticket, action: "update", changes: [.write(field: .severity, value: .number(9), seen: [])])
        try await company.openTicket(at: branch, title: "会员积分未到账")  // ops 4–5, behind the poison op
        let server = try await company.serve(hq)

        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(branch, to: server.address).syncOnce() }
        #expect(error?.kind == .refused)
        #expect(error?.message.contains("branchdesk withdraw-op \(poison)") == true, "\(String(describing: error))")
        #expect(try await hq.store.opCount() == 0, "the batch holding the poison op was refused whole")
        let atHQ = try #require(try await hq.store.status(now: Date()).peers.first { $0.nodeID == "sh-012" })
        #expect(atHQ.troubles.first == .refused)
        #expect(atHQ.lastError?.contains("severity") == true, "\(String(describing: atHQ.lastError))")

        let stuck = try #require(try await branch.store.status(now: Date()).peers.first)
        #expect(stuck.troubles.first == .stuckOp)
        #expect(stuck.stuckOp?.op == poison)
        #expect(stuck.stuckOp?.reason.contains("severity") == true)
        #expect(stuck.diagnosis?.contains("branchdesk withdraw-op \(poison)") == true, "\(String(describing: stuck.diagnosis))")

        // A second refusal of the same op keeps when it first happened.
        let since = stuck.stuckOp?.since
        _ = try? await company.dialler(branch, to: server.address).syncOnce()
        #expect(try await branch.store.peers().first?.stuckOp?.since == since)

        let withdrawn = try await branch.store.withdraw(poison, actor: "管理员", reason: nil)
        #expect(withdrawn.ops.map(\.id) == [poison])
        #expect(withdrawn.reason.contains("severity"))
        let view = try await branch.store.ticket(number)
        #expect(view.severity != 9)
        #expect(view.notes.contains { $0.text.hasPrefix(NodeStore.withdrawnNote) })
        #expect(try await branch.store.status(now: Date()).peers.first?.troubles.contains(.stuckOp) == false)
        await #expect(throws: DomainError.self) { _ = try await branch.store.withdraw(poison, actor: "管理员", reason: nil) }

        _ = try await company.dialler(branch, to: server.address).syncOnce()
        #expect(try await hq.store.versionVector() == branch.store.versionVector())
        #expect(try await hq.store.digest() == branch.store.digest())
        #expect(try await hq.store.ticket(number).history.contains { $0.seq == poison.seq && $0.action == "note" })
        let record = try await branch.store.peers().first
        #expect(record?.stuckOp == nil)
        #expect(try await branch.store.status(now: Date()).peers.first?.troubles.isEmpty == true)
        await server.stop()
    }

    @Test("a withdrawn open takes its ticket's later edits with it; an op HQ holds, or another node's, cannot be withdrawn")
    func withdrawalRules() async throws {
        let branch = try company.node("sh-012")
        let server = try await company.serve(hq)
        let held = try await company.openTicket(at: branch, title: "空调噪音大")
        _ = try await company.dialler(branch, to: server.address).syncOnce()
        let heldOp = OpID(origin: branch.store.identity.nodeID, seq: 1)
        let refusal = await #expect(throws: DomainError.self) { _ = try await branch.store.withdraw(heldOp, actor: "管理员", reason: nil) }
        #expect(refusal?.message.contains("holds op \(heldOp) already") == true, "\(String(describing: refusal))")
        let hqOp = OpID(origin: hq.store.identity.nodeID, seq: 1)
        await #expect(throws: DomainError.self) { _ = try await branch.store.withdraw(hqOp, actor: "管理员", reason: nil) }

        // An open an older build made without a title, then edited: withdrawing the open withdraws both.
        let ticket = TicketID(origin: branch.store.identity.nodeID, counter: 99)
        var draft = try Fixtures.draft(title: "临时")
        draft.receivedAt = Int64(Date().timeIntervalSince1970 * 1000)
        var opening = TicketDocument.opening(draft, number: "SH012-20261203-0099", receivedAt: draft.receivedAt!)
        opening.removeAll { if case .write(.title, _, _) = $0 { true } else { false } }
        let open = try await branch.store.recordUnchecked(ticket: ticket, action: "open", changes: opening)
        let note = try await branch.store.recordUnchecked(
            ticket: ticket, action: "note", changes: [.entry(Entry(kind: .note, text: "顾客来电催促"))])
        let withdrawn = try await branch.store.withdraw(open, actor: "管理员", reason: "开单缺少标题")
        #expect(withdrawn.ops.map(\.id) == [open, note])
        #expect(try await branch.store.tickets(TicketFilter()).map(\.number) == [held], "the ticket that never opened is gone")
        _ = try await company.dialler(branch, to: server.address).syncOnce()
        #expect(try await hq.store.digest() == branch.store.digest())
        await server.stop()
    }
}

extension NodeStore {
    /// Records `changes` as this node's next op without the checks a local edit passes, as an
    /// older build or another team's implementation might have recorded it.
    func recordUnchecked(ticket: TicketID, action: String, changes: [Change]) async throws -> OpID {
        let origin = identity.nodeID
        let documents = documents
        let now = clock.nowMillis()
        return try await write { db in
            var counters = try Counters.load(db)
            counters.lastSeq += 1
            let op = Op(
                id: OpID(origin: origin, seq: counters.lastSeq), hlc: counters.hlc.tick(wallMillis: now), ticket: ticket,
                actor: "旧版本", action: action, changes: changes)
            var merge = try MergeTransaction(db, cache: documents)
            try merge.apply(op)
            try merge.finish()
            try counters.save(db)
            return op.id
        }
    }
}
