import Foundation
import Hummingbird
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// The monthly report as a page (every figure of `report --month`, with charts and a print
    /// stylesheet) and as the CSV download (UTF-8 with BOM).
    func addReport(to router: Router<ConsoleContext>) {
        router.get("/report") { request, context in
            let (report, month) = try await monthlyReport(request, context)
            return pages.render("report", title: "\(Strings.table(context.language)["monthlyReport"]!) \(month)", values: reportValues(report, month, context), context: context)
        }
        router.get("/report.csv") { request, context in
            let (report, month) = try await monthlyReport(request, context)
            var headers = HTTPFields()
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"branchdesk-report-\(month).csv\""
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: report.csv)))
        }
    }

    /// The report of the month the query names (YYYY-MM), last month by default as on the CLI;
    /// phones masked unless the account's role may see them.
    private func monthlyReport(_ request: Request, _ context: ConsoleContext) async throws -> (MonthlyReport, ReportMonth) {
        let account = try session(context).account
        let now = Date()
        let zone = TimeZone(identifier: try await store.companySettings().calendar.timeZone) ?? .gmt
        let month: ReportMonth
        if let text = request.uri.queryParameters["month"].map(String.init), !text.isEmpty {
            month = try ReportMonth(text)
        } else {
            month = ReportMonth(containing: DeadlineClock.day(of: now, in: zone)).previous
        }
        return (try await store.monthlyReport(month, now: now, showPersonalData: account.role.maySeePhones), month)
    }

    private func reportValues(_ report: MonthlyReport, _ month: ReportMonth, _ context: ConsoleContext) -> [String: Any] {
        let strings = Strings.table(context.language)
        let time = { (date: Date?) in date.map(report.localTime) ?? "–" }
        let percent = { (rate: Double?) in rate.map(MonthlyReport.percent) ?? "–" }
        let hours = { (value: Double?) in value.map { MonthlyReport.hours($0) + "h" } ?? "–" }
        // Each breakdown as a chart whose bars list their tickets (kind has no queue filter: its bars list the month).
        let breakdowns: [(String, [MonthlyReport.Count], (String) -> String, (String) -> String)] = [
            ("branch", report.byBranch, { "branch=\($0)" }, { $0 }),
            ("category", report.byCategory, { "category=\($0)" }, { strings["Category.\($0)"] ?? $0 }),
            ("severity", report.bySeverity, { "severity=\($0)" }, { strings[$0] ?? $0 }),
            ("channel", report.byChannel, { "channel=\($0)" }, { strings["Channel.\($0)"] ?? $0 }),
            ("status", report.byStatus, { "status=\($0)" }, { strings["stage.\($0)"] ?? $0 }),
            ("kind", report.byKind, { _ in "" }, { strings["ComplaintKind.\($0)"] ?? $0 }),
        ]
        let charts = breakdowns.filter { !$0.1.isEmpty }.map { name, counts, query, label -> [String: Any] in
            let bars = counts.map { BarChart.Bar(label: label($0.key), value: $0.count, link: "/?view=all&month=\(month)&\(query($0.key))") }
            return ["title": strings[name]!, "svg": BarChart(bars: bars, title: strings[name]!, width: 360, height: 160).svg]
        }
        let onTime = [("firstReplyOnTime", report.firstReply), ("resolutionOnTime", report.resolution)].map { name, figures in
            [
                "name": strings[name]!, "rate": percent(figures.rate), "met": figures.met, "late": figures.late,
                "breached": figures.breached, "reopened": figures.reopened, "pending": figures.pending,
            ] as [String: Any]
        }
        let satisfaction = report.satisfaction
        var values: [String: Any] = [
            "month": month.description, "previous": month.previous.description, "scope": report.scope == "company" ? strings["company"]! : report.scope,
            "timeZone": report.timeZone, "generated": time(report.generatedAt), "total": report.total, "charts": charts, "onTime": onTime,
            "resolved": report.handlingTime.resolved, "median": hours(report.handlingTime.medianHours), "p90": hours(report.handlingTime.p90Hours),
            "responses": satisfaction.responses, "average": satisfaction.average.map { String(format: "%.2f", $0) } ?? "–",
            "distribution": satisfaction.distribution.map { ["score": $0.key, "count": $0.count] },
            "repeatCustomers": report.repeatCustomers.map { ["phone": $0.phone, "count": $0.tickets.count, "tickets": $0.tickets, "categories": $0.categories.map { strings["Category.\($0)"] ?? $0 }.joined(separator: "、")] as [String: Any] },
            "breaches": report.breaches.map { ["number": $0.number, "branch": $0.branch, "deadline": $0.deadline, "due": time($0.due), "met": time($0.metAt), "by": $0.breachedBy, "status": strings["stage.\($0.status)"] ?? $0.status] },
            "stillOpen": report.stillOpen.map { ["number": $0.number, "branch": $0.branch, "status": strings["stage.\($0.status)"] ?? $0.status, "received": time($0.receivedAt), "deadline": $0.deadline ?? "–", "due": time($0.due)] },
            "approvalFlags": report.approvalFlags.map { ["number": $0.number, "branch": $0.branch, "status": strings["stage.\($0.status)"] ?? $0.status, "issues": $0.issues.joined(separator: ", ")] },
        ]
        if month.next.firstDay <= DeadlineClock.day(of: Date(), in: TimeZone(identifier: report.timeZone) ?? .gmt) {
            values["next"] = month.next.description
        }
        for list in ["repeatCustomers", "breaches", "stillOpen", "approvalFlags"] {
            values["has" + list.prefix(1).uppercased() + list.dropFirst()] = !((values[list] as? [Any])?.isEmpty ?? true)
        }
        return values
    }
}
