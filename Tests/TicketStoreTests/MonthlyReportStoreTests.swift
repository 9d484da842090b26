import Foundation
import Replication
import Reporting
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The report read from a store: which tickets belong to the month and to the node's scope, and
/// the facts taken from their ops (the figures themselves are checked in `MonthlyReportTests`).
@Suite struct MonthlyReportStoreTests {
    let clock = ManualClock()  // 2026-11-22 00:00 UTC
    let hq: NodeStore
    let pudong: NodeStore
    let minhang: NodeStore

    init() throws {
        hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        pudong = try Fixtures.memoryStore("sh-012", clock: clock)
        minhang = try Fixtures.memoryStore("sh-031", clock: clock)
    }

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func open(at store: NodeStore, received: String, phone: String = "138 0013 8000") async throws -> String {
        var draft = try Fixtures.draft()
        draft.receivedAt = Int64(Self.utc(received).timeIntervalSince1970 * 1000)
        draft.phone = phone
        return try await store.openTicket(draft, actor: "王芳").number
    }

    @Test func aMonthIsCountedInTheCompanyTimeZoneAndABranchReportsWhatItHandles() async throws {
        // November in Shanghai is 10-31 16:00 UTC to 11-30 16:00 UTC.
        let first = try await open(at: pudong, received: "2026-10-31T16:30:00Z")
        _ = try await open(at: pudong, received: "2026-10-31T15:59:00Z")  // October 31, 23:59 in Shanghai
        clock.advance(byMillis: 3_600_000)
        _ = try await pudong.edit(first, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        _ = try await pudong.edit(first, actor: "王芳", action: "reply") {
            try $0.reply(message: "已为您换货", via: .phone, promisedDate: nil)
        }
        _ = try await pudong.edit(first, actor: "王芳", action: "follow-up") {
            try $0.followUp(try Satisfaction(score: 4, remark: "满意"), then: .close)
        }
        clock.set(1_796_083_200_000)  // 2026-12-01 00:00 UTC: a complaint may not be received in the future
        _ = try await open(at: pudong, received: "2026-11-30T16:00:00Z")  // December 1, 00:00 in Shanghai
        let other = try await open(at: minhang, received: "2026-11-21T02:00:00Z")
        try await Fixtures.sync(pudong, to: hq)
        try await Fixtures.sync(minhang, to: hq)
        try await Fixtures.sync(hq, to: pudong)  // pudong now also holds minhang's ticket, read-only

        let now = Self.utc("2026-11-30T16:00:00Z")
        let company = try await hq.monthlyReport(try ReportMonth("2026-11"), now: now)
        #expect(company.scope == "company" && company.timeZone == "Asia/Shanghai" && company.total == 2)
        #expect(company.byBranch.map(\.key) == ["sh-012", "sh-031"])
        #expect(company.byStatus.map { "\($0.key):\($0.count)" } == ["closed:1", "new:1"])
        #expect(company.satisfaction.responses == 1 && company.satisfaction.average == 4)
        // Received 10-31 16:30 UTC, replied 11-22 01:00 UTC: 21 days and 8.5 hours.
        #expect(company.handlingTime.resolved == 1 && company.handlingTime.medianHours == 21 * 24 + 8.5)
        #expect(company.repeatCustomers.map(\.tickets) == [[first, other]])
        #expect(company.repeatCustomers.map(\.phone) == ["138 **** 8000"])
        #expect(company.stillOpen.map(\.number) == [other])

        let branch = try await pudong.monthlyReport(try ReportMonth("2026-11"), now: now)
        #expect(branch.scope == "sh-012" && branch.total == 1 && branch.byBranch.map(\.key) == ["sh-012"])

        let personal = try await hq.monthlyReport(try ReportMonth("2026-11"), now: now, showPersonalData: true)
        #expect(personal.repeatCustomers.map(\.phone) == ["138 0013 8000"])
        #expect(try await hq.monthlyReport(try ReportMonth("2026-10"), now: now).total == 1)
        #expect(try await hq.monthlyReport(try ReportMonth("2026-12"), now: now).total == 1)
    }
}
