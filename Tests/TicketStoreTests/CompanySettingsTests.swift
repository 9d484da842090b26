import Foundation
import Replication
import ServiceLevels
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The company's policy and calendar: set at HQ, replicated, applied to every ticket's deadlines.
@Suite struct CompanySettingsTests {
    // The fixtures' clocks start at 2026-11-22 00:00 UTC: Sunday 08:00 in Shanghai.
    let hqClock = ManualClock()
    let branchClock = ManualClock()
    let hq: NodeStore
    let pudong: NodeStore
    let minhang: NodeStore

    init() throws {
        hq = try Fixtures.memoryStore("hq", role: .hq, clock: hqClock)
        pudong = try Fixtures.memoryStore("sh-012", clock: branchClock)
        minhang = try Fixtures.memoryStore("sh-031")
    }

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func thePolicyAndCalendarSetAtHQTakeEffectAtABranchOnceSynced() async throws {
        let earlier = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        let now = Self.utc("2026-11-22T01:00:00Z")
        // Standard deadlines: Monday, Tuesday, Wednesday → Wednesday 24:00 in Shanghai.
        #expect(try await pudong.deadlines(of: earlier.number, now: now).deadlines[1].due == Self.utc("2026-11-25T16:00:00Z"))

        var calendar = WorkCalendar()
        calendar.holidays["2026-11-24"] = "店庆"
        var policy = ServicePolicy.standard
        policy.rules[1] = .init(firstReply: .hours(12), resolution: .workingDays(2))
        try await hq.setCalendar(calendar, actor: "总部")
        try await hq.setPolicy(policy, actor: "总部")
        try await Fixtures.sync(hq, to: pudong)

        let settings = try await pudong.companySettings()
        #expect(settings.policy == policy && settings.calendar == calendar)
        // A ticket recorded before keeps the standard rules it was recorded under, and says so.
        let kept = try await pudong.deadlines(of: earlier.number, now: now)
        #expect(kept.deadlines.map(\.period) == ["24h", "3wd"])
        #expect(kept.policy.contains("the standard setting") && kept.calendar.contains("the standard setting"))
        // One recorded now gets two working days, skipping the holiday: Monday, Wednesday.
        branchClock.set(hqClock.nowMillis())
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        let atBranch = try await pudong.deadlines(of: ticket.number, now: now)
        #expect(atBranch.deadlines.map(\.period) == ["12h", "2wd"])
        #expect(atBranch.deadlines[1].due == Self.utc("2026-11-25T16:00:00Z"))
        #expect(atBranch.deadlines[1].explanation.contains { $0.contains("2026-11-24 (holiday: 店庆)") })
        #expect(atBranch.policy.contains("总部 set") && atBranch.policy.contains("recorded with the ticket"))
        // HQ, once it holds the tickets, computes the same.
        try await Fixtures.sync(pudong, to: hq)
        #expect(try await hq.deadlines(of: ticket.number, now: now) == atBranch)
        #expect(try await hq.deadlines(of: earlier.number, now: now) == kept)
        #expect(try await hq.tickets(TicketFilter()).map(\.number).sorted() == [earlier.number, ticket.number].sorted())  // the settings are no ticket
    }

    /// The case: a policy that shortens the resolution must not move the deadline of a
    /// ticket already received (03-01 → 02-26), unless HQ re-applies it to open tickets.
    @Test func aPolicyChangeMovesTheDeadlinesOfOpenTicketsOnlyWhenHQReappliesIt() async throws {
        hqClock.set(1_771_372_800_000)  // 2026-02-18 00:00 UTC, Wednesday
        let ticket = try await hq.openTicket(Fixtures.draft(severity: .serious), actor: "总部")
        let now = Self.utc("2026-02-19T00:00:00Z")
        let before = try await hq.deadlines(of: ticket.number, now: now).deadlines[1].due
        #expect(before == Self.utc("2026-02-27T16:00:00Z"))  // seven working days, the last 02-27 (no holidays set)
        var policy = ServicePolicy.standard
        policy.rules[2] = .init(firstReply: .hours(24), resolution: .workingDays(4))
        try await hq.setPolicy(policy, actor: "总部")
        #expect(try await hq.deadlines(of: ticket.number, now: now).deadlines[1].due == before)
        policy.reappliesToOpenTickets = true
        try await hq.setPolicy(policy, actor: "总部")
        let reapplied = try await hq.deadlines(of: ticket.number, now: now)
        #expect(reapplied.deadlines[1].due == Self.utc("2026-02-24T16:00:00Z"))
        #expect(reapplied.policy.contains("re-applied by HQ"))
    }

    @Test func onlyHQSetsThePolicyAndABranchThatForgesItIsRefused() async throws {
        let error = await #expect(throws: DomainError.self) { try await pudong.setPolicy(.standard, actor: "王芳") }
        #expect(error?.message.contains("only HQ") == true)
        let forged = Op(
            id: OpID(origin: pudong.identity.nodeID, seq: 1), hlc: HLCTimestamp(rawValue: 1_795_305_600_000 << 16),
            ticket: .companySettings, actor: "王芳", action: "set-policy",
            changes: [.write(field: .servicePolicy, value: .text("{}"), seen: [])])
        let grant = PeerGrant(nodeID: pudong.identity.nodeID, role: .branch, holds: VersionVector())
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply([forged], from: grant) }
        #expect(refusal?.rule.contains("only HQ") == true)
        #expect(try await hq.companySettings() == .standard)
        await #expect(throws: DomainError.self) { try await hq.setCalendar(WorkCalendar(timeZone: "Nowhere/Land"), actor: "总部") }
    }

    @Test func aReplyMadeOnTimeAtAnOfflineBranchIsOnTimeAtHQ() async throws {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        branchClock.advance(byMillis: 2 * 3_600_000)
        _ = try await pudong.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await pudong.edit(ticket.number, actor: "王芳", action: "reply") { try $0.transition(.reply) }
        // The branch comes online days later, long after both deadlines.
        hqClock.advance(byMillis: 9 * 24 * 3_600_000)
        try await Fixtures.sync(pudong, to: hq)
        let deadlines = try await hq.deadlines(of: ticket.number, now: Self.utc("2026-12-01T00:00:00Z")).deadlines
        #expect(deadlines.map(\.state) == [.met, .met])
        #expect(deadlines[0].metAt == Self.utc("2026-11-22T02:00:00Z"))
    }

    @Test func aBreachIsAttributedToTheBranchHoldingTheTicketWhenItFellDue() async throws {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        try await Fixtures.sync(pudong, to: hq)
        hqClock.advance(byMillis: 3_600_000)
        _ = try await hq.edit(ticket.number, actor: "总部", action: "transfer") { try $0.transfer(to: minhang.identity.nodeID) }
        _ = try await hq.edit(ticket.number, actor: "总部", action: "assign") { try $0.assign(to: "李四") }
        let deadlines = try await hq.deadlines(of: ticket.number, now: Self.utc("2026-12-01T00:00:00Z"))
        #expect(deadlines.branch == "sh-031")
        #expect(deadlines.deadlines.map(\.state) == [.breached, .breached])
        #expect(deadlines.deadlines.map(\.breachedBy) == ["sh-031 (李四)", "sh-031 (李四)"])
        let now = Self.utc("2026-12-01T00:00:00Z")
        let overdue = try await hq.urgentTickets(dueBy: now, now: now, filter: TicketFilter())
        #expect(overdue.map(\.deadlines.number) == [ticket.number])
        #expect(overdue.first?.deadlines.deadlines.map(\.breachedBy) == ["sh-031 (李四)", "sh-031 (李四)"])
    }

    @Test func waitingForTheCustomerStopsTheResolutionClock() async throws {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        branchClock.advance(byMillis: 3_600_000)
        _ = try await pudong.edit(ticket.number, actor: "王芳", action: "wait") { try $0.tag(add: [Tag.waitingForCustomer], remove: []) }
        let waiting = try await pudong.deadlines(of: ticket.number, now: Self.utc("2026-12-01T00:00:00Z")).deadlines[1]
        #expect(waiting.state == .paused && waiting.due == nil)
        branchClock.advance(byMillis: 48 * 3_600_000)
        _ = try await pudong.edit(ticket.number, actor: "王芳", action: "resume") { try $0.tag(add: [], remove: [Tag.waitingForCustomer]) }
        let resumed = try await pudong.deadlines(of: ticket.number, now: Self.utc("2026-11-22T04:00:00Z")).deadlines[1]
        #expect(resumed.due == Self.utc("2026-11-27T16:00:00Z"))  // Wednesday 24:00 plus the 48 hours waited
        #expect(resumed.state == .onTime)
    }
}
