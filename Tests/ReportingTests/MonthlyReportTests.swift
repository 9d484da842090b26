import Foundation
@testable import Reporting
import ServiceLevels
import Testing
import TicketModel

/// Every figure of the monthly report, on a hand-built November 2026 whose answers are worked
/// out by hand below (standard policy, Monday–Friday calendar, Asia/Shanghai).
@Suite struct MonthlyReportTests {
    static let zone = TimeZone(identifier: "Asia/Shanghai")!
    static let clock = DeadlineClock(policy: .standard, calendar: WorkCalendar())
    /// The report is made at 2026-12-01 00:00 in Shanghai.
    static let now = at("2026-12-01 00:00")
    static let customerA = "138 0013 8000"
    static let customerB = "139 1111 2222"

    static func at(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.date(from: text)!
    }

    static func ticket(
        _ number: String, _ branch: String, _ category: Category, _ kind: ComplaintKind, _ severity: Severity,
        _ channel: Channel, _ status: Stage, phone: String, received: String, firstReply: String? = nil,
        resolved: String? = nil, satisfaction: Int? = nil
    ) -> ReportedTicket {
        let timeline = TicketTimeline(
            receivedAt: at(received), severity: severity, departments: 1, firstReplyAt: firstReply.map(at),
            resolvedAt: resolved.map(at), waits: [],
            holders: [.init(since: at(received), branch: branch, assignee: "王芳")])
        return ReportedTicket(
            number: number, branch: branch, category: category.rawValue, kind: kind.rawValue, severity: severity.rawValue,
            channel: channel.rawValue, status: status.rawValue, phone: phone, receivedAt: at(received),
            resolvedAt: timeline.resolvedAt, deadlines: clock.deadlines(of: timeline, branch: branch, now: now),
            satisfaction: satisfaction)
    }

    /// Five tickets:
    /// 1. Mon 11-02 10:00, replied 2h later, resolved in 24h (due Tue 10:00 / Thu 11-05 24:00): both met; score 5.
    /// 2. Wed 11-04 09:00, severity 2, first reply after 48h (due Thu 09:00: late), resolved Tue 11-10
    ///    09:00 (144h; 7 working days end Fri 11-13): met; score 2. Same customer and category as 1.
    /// 3. Fri 11-06 17:00, replied Mon 11-09 10:00 (24h ends on Saturday → Monday 24:00: met),
    ///    resolved Thu 11-12 12:00 (139h; 3 working days end Wed 11-11 24:00: late). Still "replied".
    /// 4. Fri 11-20 11:00, severity 3, never answered: first reply moved to Mon 11-23 24:00, breached;
    ///    resolution due Tue 12-01 24:00, pending.
    /// 5. Mon 11-30 20:00, new: both deadlines ahead. Same customer and category as 4.
    static let november: [ReportedTicket] = [
        ticket(
            "SH012-20261102-0001", "sh-012", .product, .appeal, .general, .phone, .closed, phone: customerA,
            received: "2026-11-02 10:00", firstReply: "2026-11-02 12:00", resolved: "2026-11-03 10:00", satisfaction: 5),
        ticket(
            "SH012-20261104-0001", "sh-012", .product, .claim, .serious, .walkIn, .closed, phone: customerA,
            received: "2026-11-04 09:00", firstReply: "2026-11-06 09:00", resolved: "2026-11-10 09:00", satisfaction: 2),
        ticket(
            "SH031-20261106-0001", "sh-031", .price, .nonQuality, .general, .phone, .replied, phone: "021-6234 5678",
            received: "2026-11-06 17:00", firstReply: "2026-11-09 10:00", resolved: "2026-11-12 12:00"),
        ticket(
            "SH031-20261120-0001", "sh-031", .service, .appeal, .major, .letter, .investigating, phone: customerB,
            received: "2026-11-20 11:00"),
        ticket(
            "SH012-20261130-0001", "sh-012", .service, .appeal, .general, .wechat, .new, phone: customerB,
            received: "2026-11-30 20:00"),
    ]

    let report = MonthlyReport(
        month: try! ReportMonth("2026-11"), scope: "company", timeZone: "Asia/Shanghai", generatedAt: now, tickets: november)

    func counts(_ pairs: KeyValuePairs<String, Int>) -> [MonthlyReport.Count] {
        pairs.map { MonthlyReport.Count(key: $0.key, count: $0.value) }
    }

    @Test func countsByEveryDimension() {
        #expect(report.total == 5)
        #expect(report.byBranch == counts(["sh-012": 3, "sh-031": 2]))
        #expect(report.byCategory == counts(["product": 2, "service": 2, "price": 1]))
        #expect(report.byKind == counts(["appeal": 3, "claim": 1, "non-quality": 1]))
        #expect(report.bySeverity == counts(["1": 3, "2": 1, "3": 1]))
        #expect(report.byChannel == counts(["phone": 2, "letter": 1, "walk-in": 1, "wechat": 1]))
        #expect(report.byStatus == counts(["closed": 2, "investigating": 1, "new": 1, "replied": 1]))
    }

    @Test func onTimeRatesLeaveOutDeadlinesStillAhead() {
        #expect(report.firstReply == .init(met: 2, late: 1, breached: 1, reopened: 0, pending: 1, rate: 0.5))
        #expect(report.resolution == .init(met: 2, late: 1, breached: 0, reopened: 0, pending: 2, rate: 2.0 / 3))
    }

    @Test func handlingTimeMedianAndNinetiethPercentile() {
        #expect(report.handlingTime == .init(resolved: 3, medianHours: 139, p90Hours: 144))
    }

    @Test func repeatCustomersAndTheCategoriesThatRecur() {
        #expect(report.repeatCustomers.map(\.phone) == ["138 **** 8000", "139 **** 2222"])
        #expect(report.repeatCustomers.map(\.tickets) == [
            ["SH012-20261102-0001", "SH012-20261104-0001"], ["SH031-20261120-0001", "SH012-20261130-0001"],
        ])
        #expect(report.repeatCustomers.map(\.categories) == [["product"], ["service"]])
        #expect(report.recurringCategories == counts(["product": 1, "service": 1]))
    }

    @Test func satisfactionAverageAndDistribution() {
        #expect(report.satisfaction.responses == 2 && report.satisfaction.average == 3.5)
        #expect(report.satisfaction.distribution == counts(["1": 0, "2": 1, "3": 0, "4": 0, "5": 1]))
    }

    @Test func breachedAndStillOpenTickets() {
        #expect(report.breaches.map { "\($0.number) \($0.deadline)" } == [
            "SH012-20261104-0001 first-reply", "SH031-20261106-0001 resolution", "SH031-20261120-0001 first-reply",
        ])
        #expect(report.breaches.map(\.due) == [Self.at("2026-11-05 09:00"), Self.at("2026-11-12 00:00"), Self.at("2026-11-24 00:00")])
        #expect(report.breaches.map(\.metAt) == [Self.at("2026-11-06 09:00"), Self.at("2026-11-12 12:00"), nil])
        #expect(report.breaches.map(\.breachedBy) == ["sh-012 (王芳)", "sh-031 (王芳)", "sh-031 (王芳)"])
        #expect(report.stillOpen.map(\.number) == ["SH031-20261106-0001", "SH031-20261120-0001", "SH012-20261130-0001"])
        #expect(report.stillOpen.map(\.deadline) == [nil, "first-reply breached", "first-reply on-time"])
        #expect(report.stillOpen.last?.due == Self.at("2026-12-01 20:00"))
    }

    @Test func anEmptyMonthHasNoRatesRatherThanZeroes() {
        let empty = MonthlyReport(
            month: try! ReportMonth("2026-02"), scope: "sh-012", timeZone: "Asia/Shanghai", generatedAt: Self.now, tickets: [])
        #expect(empty.total == 0 && empty.firstReply.rate == nil && empty.handlingTime.medianHours == nil)
        #expect(empty.satisfaction.average == nil && empty.byBranch.isEmpty)
    }

    @Test func theCSVOpensInASpreadsheetWithChineseText() throws {
        let csv = report.csv
        #expect(csv.hasPrefix("\u{FEFF}Complaint statistics,2026-11,scope,company"))
        #expect(csv.contains("\r\nfirst reply,2,1,1,0,1,50.0%\r\n"))
        #expect(csv.contains("\r\nreceipt to resolution,3,139.0,144.0\r\n"))
        #expect(csv.contains("SH012-20261104-0001,sh-012,first-reply,2026-11-05 09:00,2026-11-06 09:00,sh-012 (王芳),closed\r\n"))
        #expect(csv.contains("\r\n138 **** 8000,2,SH012-20261102-0001 SH012-20261104-0001,product\r\n"))
        let lines = csv.split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(!lines.contains { $0.contains("\n") }, "CRLF line ends only")
    }

    @Test func csvFieldsAreQuotedAndFormulasNeutralised() {
        #expect(MonthlyReport.csvField("a,b") == "\"a,b\"")
        #expect(MonthlyReport.csvField("说\"不\"") == "\"说\"\"不\"\"\"")
        #expect(MonthlyReport.csvField("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(MonthlyReport.csvField("普通文本") == "普通文本")
    }

    @Test func monthsParseAndSpanLocalMidnights() throws {
        let november = try ReportMonth("2026-11")
        #expect(november.interval(in: Self.zone) == Self.at("2026-11-01 00:00")..<Self.at("2026-12-01 00:00"))
        #expect(try ReportMonth("2026-12").nextFirstDay.description == "2027-01-01")
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", ""] {
            #expect(throws: DomainError.self) { try ReportMonth(bad) }
        }
    }
}
