import Foundation
import Replication
import Reporting
import ServiceLevels
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The rules of the business on real stores: receipt times, customers by phone, text that cannot
/// reach a terminal, approvals flagged in status and the report, and reopened rounds.
@Suite struct ProcessIntegrityTests {
    let clock = ManualClock()  // 2026-11-22 00:00 UTC
    let hq: NodeStore
    let branch: NodeStore

    init() throws {
        hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        branch = try Fixtures.memoryStore("sh-012", clock: clock)
    }

    static func millis(_ text: String) -> Int64 { Int64(ISO8601DateFormatter().date(from: text)!.timeIntervalSince1970 * 1000) }

    func open(receivedAt: Int64? = nil, phone: String = "138 0013 8000", severity: Severity = .general) async throws -> TicketView {
        var draft = try Fixtures.draft(severity: severity)
        draft.receivedAt = receivedAt
        draft.phone = try PhoneNumber.validated(phone)
        return try await branch.openTicket(draft, actor: "王芳")
    }

    @Test func aReceiptInTheFutureOrAnAgeAgoIsRefused() async throws {
        for (received, words) in [("2026-11-22T01:00:00Z", "in the future"), ("2030-01-01T00:00:00Z", "in the future"), ("1900-01-01T00:00:00Z", "more than a year ago")] {
            let error = await #expect(throws: DomainError.self) { _ = try await open(receivedAt: Self.millis(received)) }
            #expect(error?.message.contains(words) == true, "\(received)")
        }
        #expect(try await branch.tickets(TicketFilter()).isEmpty, "nothing partial")
        // A minute ahead (another device's clock) and last month's letter are fine.
        _ = try await open(receivedAt: Self.millis("2026-11-22T00:01:00Z"))
        _ = try await open(receivedAt: Self.millis("2026-10-20T09:00:00Z"))
    }

    @Test func aCustomerIsFoundAndCountedByTheirNumberHoweverItWasTyped() async throws {
        let forms = ["13800138000", "138 0013 8000", "+86 138 0013 8000", "0086 13800138000", "+86-138-0013-8000"]
        for form in forms { _ = try await open(phone: form) }
        _ = try await open(phone: "400-820-8820")
        var filter = TicketFilter()
        filter.phone = "13800138000"
        let found = try await branch.tickets(filter)
        #expect(found.count == 5)
        #expect(Set(found.map(\.phone)) == Set(forms), "each shown as typed")
        filter.phone = "4008208820"
        #expect(try await branch.tickets(filter).count == 1)
        let report = try await branch.monthlyReport(try ReportMonth("2026-11"), now: Date(timeIntervalSince1970: 1_795_400_000))
        #expect(report.repeatCustomers.count == 1 && report.repeatCustomers[0].tickets.count == 5)
    }

    @Test func controlCharactersAreRefusedLocallyAndFromPeers() async throws {
        var draft = try Fixtures.draft()
        draft.title = "手机死机\u{1B}]0;pwned\u{07}"
        let local = await #expect(throws: DomainError.self) { _ = try await branch.openTicket(draft, actor: "王芳") }
        #expect(local?.message.contains("title holds the control character U+001B") == true)
        // An op HQ made with such a title (a buggy or hostile implementation) is refused by the branch.
        let ticket = try await open()
        try await Fixtures.sync(branch, to: hq)
        let id = try #require(TicketID(ticket.id))
        let forged = Op(
            id: OpID(origin: hq.identity.nodeID, seq: 1), hlc: HLCTimestamp(wallMillis: clock.nowMillis(), counter: 9), ticket: id,
            actor: "总部", action: "update", changes: [.write(field: .title, value: .text("新标题\n第二行"), seen: [])])
        let grant = PeerGrant(nodeID: hq.identity.nodeID, role: .hq, holds: VersionVector())
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await branch.apply([forged], from: grant) }
        #expect(refusal?.op == forged.id && refusal?.rule == "title holds the control character U+000A")
        #expect(try await branch.ticket(ticket.number).title == ticket.title)
    }

    @Test func aTransferredTicketSaysWhoHandlesItAndIsReadOnlyAtTheOldBranch() async throws {
        let ticket = try await open()
        #expect(ticket.handledBy == "sh-012" && !ticket.readOnly)
        try await Fixtures.sync(branch, to: hq)
        _ = try await hq.edit(ticket.number, actor: "总部", action: "transfer") { try $0.transfer(to: try NodeID("sh-031")) }
        try await Fixtures.sync(hq, to: branch)
        let shown = try await branch.ticket(ticket.number)
        #expect(shown.handledBy == "sh-031" && shown.readOnly && shown.allowedTransitions.isEmpty)
        let listed = try await branch.tickets(TicketFilter())
        #expect(listed.map(\.handledBy) == ["sh-031"] && listed.map(\.readOnly) == [true])
        #expect(try await hq.ticket(ticket.number).readOnly == false)
    }

    @Test func aReopenedTicketHasARoundOfItsOwnAndCountsAsReopened() async throws {
        let ticket = try await open()
        clock.advance(byMillis: 3_600_000)
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "reply") {
            try $0.reply(message: "已为您换货", via: .phone, promisedDate: nil)
        }
        clock.advance(byMillis: 86_400_000)
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "follow-up") {
            try $0.followUp(try Satisfaction(score: 1, remark: "不满意"), then: .reopen)
        }
        let now = Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1000 + 3600)
        let deadlines = try await branch.deadlines(of: ticket.number, now: now)
        #expect(deadlines.deadlines.map(\.round) == [1, 1, 2, 2])
        #expect(deadlines.deadlines.prefix(2).map(\.state) == [.met, .met])
        #expect(deadlines.deadlines.suffix(2).allSatisfy { $0.metAt == nil && $0.due != nil })
        let report = try await branch.monthlyReport(try ReportMonth("2026-11"), now: now)
        #expect(report.resolution.reopened == 1 && report.resolution.met == 0)
        #expect(report.stillOpen.map(\.deadline) == ["round 2 first-reply on-time"])
        // The overdue list reads round 2's deadlines.
        let later = now.addingTimeInterval(2 * 86_400)
        #expect(try await branch.urgentTickets(dueBy: later, now: later, filter: TicketFilter()).map(\.ticket.number) == [ticket.number])
    }

    @Test func aReplyOnContentHQChangedIsFlaggedInStatusConflictsAndTheReport() async throws {
        let ticket = try await open(severity: .serious)
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "investigate") {
            try $0.investigate([.cause: "主板虚焊", .countermeasure: "更换新机"])
        }
        try await Fixtures.sync(branch, to: hq)
        _ = try await hq.edit(ticket.number, actor: "总部", action: "investigate") { try $0.investigate([.countermeasure: "退款"]) }
        _ = try await branch.edit(ticket.number, actor: "主管", action: "submit") { try $0.transition(.submit) }
        _ = try await branch.edit(ticket.number, actor: "主管", action: "approve") { try $0.transition(.approve, authority: .branch) }
        _ = try await branch.edit(ticket.number, actor: "王芳", action: "reply") {
            try $0.reply(message: "为您更换新机", via: .phone, promisedDate: nil)
        }
        try await Fixtures.sync(branch, to: hq)
        try await Fixtures.sync(hq, to: branch)
        for store in [branch, hq] {
            let shown = try await store.ticket(ticket.number)
            #expect(shown.approvalIssues.contains { $0.contains("countermeasure changed concurrently with the approval") })
            #expect(shown.approval?.by == "王芳" && shown.approval?.decision == "replied")
            #expect(shown.notes.contains { $0.kind == "approval" && $0.by == "主管" })
            #expect(try await store.overview().approvalIssues == 1)
            let conflicts = try await store.conflicts()
            #expect(conflicts.contains { $0.field == "approval" && $0.issue != nil })
            let report = try await store.monthlyReport(try ReportMonth("2026-11"), now: Date(timeIntervalSince1970: 1_795_400_000))
            #expect(report.approvalFlags.map(\.number) == [ticket.number])
            #expect(report.approvalFlags.first?.issues.contains("reply-without-approval") == true)
        }
        var filter = TicketFilter()
        filter.limit = 10
        #expect(try await hq.tickets(filter).first?.approvalIssue == "changed-behind-approval")
    }
}
