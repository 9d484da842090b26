import Foundation
import Replication
import ServiceLevels
import TestSupport
import Testing
import TicketModel
import TicketStore

/// HQ's dashboard counts, read from indexes, against what the tickets say.
@Suite struct DashboardTests {
    static let day: UInt64 = 86_400_000

    @Test func theBacklogOfEachDayCountsTicketsReceivedAndNotYetResolvedByItsEnd() async throws {
        // Monday 2026-11-16, 10:00 in Shanghai: every day below is a working day.
        let start: UInt64 = 1_794_794_400_000
        let clock = ManualClock(millis: start)
        let store = try Fixtures.memoryStore("sh-012", clock: clock)
        // Day 0: two tickets; day 2: the first is replied (resolved); day 3: a third arrives.
        let first = try await store.openTicket(try Fixtures.draft(title: "第一件"), actor: "王芳")
        _ = try await store.openTicket(try Fixtures.draft(title: "第二件"), actor: "王芳")
        clock.advance(byMillis: 2 * Self.day)
        _ = try await store.edit(first.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await store.edit(first.number, actor: "王芳", action: "reply") { try $0.reply(message: "已处理", via: .phone, promisedDate: nil) }
        clock.advance(byMillis: Self.day)
        _ = try await store.openTicket(try Fixtures.draft(title: "第三件"), actor: "王芳")
        let now = Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1000)
        let zone = TimeZone(identifier: "Asia/Shanghai")!
        let month = DeadlineClock.endOfDay(CalendarDay("2026-10-31")!, in: zone)..<DeadlineClock.endOfDay(CalendarDay("2026-11-30")!, in: zone)
        // The first is replied late (a day past its 24 hours), the second not at all (breached), the third is due tomorrow.
        let dashboard = try await store.dashboard(month: month, now: now)
        let backlog = Dictionary(uniqueKeysWithValues: dashboard.backlog.map { ($0.day.description, $0.open) })
        #expect(dashboard.backlog.count == 30 && dashboard.backlog.last?.day.description == "2026-11-19")
        #expect(backlog["2026-11-15"] == 0 && backlog["2026-11-16"] == 2 && backlog["2026-11-17"] == 2)
        #expect(backlog["2026-11-18"] == 1 && backlog["2026-11-19"] == 2)
        let branch = try #require(dashboard.branches.first)
        #expect(dashboard.branches.map(\.node) == ["sh-012"] && branch.open == 3 && branch.received == 3)
        #expect(branch.firstReply.late == 1 && branch.firstReply.breached == 1 && branch.firstReply.pending == 1, "\(branch.firstReply)")
        #expect(dashboard.volume["product"]?["sh-012"] == 3 && dashboard.company.open == 3)
    }
}
