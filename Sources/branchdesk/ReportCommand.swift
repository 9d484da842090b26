import ArgumentParser
import Foundation
import Replication
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The monthly complaint statistics: at HQ for every branch, at a branch for its own tickets.",
        discussion: """
            Covers the tickets received in the month (in the company calendar's time zone): counts by \
            branch, category, kind, severity, channel and status; first-reply and resolution on-time \
            rates against the policy (deadlines still ahead are left out); median and 90th-percentile \
            hours from receipt to resolution; customers (by phone) who complained more than once and \
            the categories that recur; satisfaction; breached and still-open tickets. --csv writes \
            UTF-8 with a byte-order mark, which spreadsheets open with Chinese text intact.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var personal: PersonalDataOptions
    @Option(help: ArgumentHelp("The month, YYYY-MM (default: last month).", valueName: "YYYY-MM")) var month: String?
    @Flag(help: "Print CSV (UTF-8 with BOM) instead of text.") var csv = false

    func validate() throws {
        if csv && output.json { throw ValidationError("choose one of --json and --csv") }
    }

    func run() async throws {
        let store = try data.readStore()
        let now = Date()
        let settings = try await store.companySettings()
        let today = DeadlineClock.day(of: now, in: TimeZone(identifier: settings.calendar.timeZone) ?? .gmt)
        let reportMonth = try month.map { try ReportMonth($0) } ?? ReportMonth(containing: today).previous
        let report = try await store.monthlyReport(reportMonth, now: now, showPersonalData: personal.showPersonal)
        if output.json {
            try Output.json(report)
        } else if csv {
            FileHandle.standardOutput.write(Data(report.csv.utf8))
        } else {
            print(Self.render(report))
        }
    }

    /// The report for a person: headline figures, then each table.
    static func render(_ report: MonthlyReport) -> String {
        let time = { (date: Date?) in date.map(report.localTime) ?? "-" }
        let percent = { (rate: Double?) in rate.map(MonthlyReport.percent) ?? "-" }
        let hours = { (value: Double?) in value.map { MonthlyReport.hours($0) + "h" } ?? "-" }
        let scope = report.scope == "company" ? "all branches" : "branch \(report.scope)"
        var lines = ["Complaint statistics \(report.month) — \(scope) (\(report.timeZone)), \(report.total) ticket\(report.total == 1 ? "" : "s") received", ""]
        let breakdowns = [
            ("branch", report.byBranch), ("category", report.byCategory), ("kind", report.byKind),
            ("severity", report.bySeverity), ("channel", report.byChannel), ("status", report.byStatus),
        ]
        lines.append(
            Output.table(
                [["BY", "COUNTS"]]
                    + breakdowns.map { title, counts in
                        [title, counts.isEmpty ? "-" : counts.map { "\($0.key) \($0.count)" }.joined(separator: " · ")]
                    }))
        lines.append("")
        var deadlines = [["DEADLINE", "ON TIME", "MET", "LATE", "BREACHED", "REOPENED", "PENDING"]]
        for (name, figures) in [("first reply", report.firstReply), ("resolution", report.resolution)] {
            deadlines.append([
                name, percent(figures.rate), String(figures.met), String(figures.late), String(figures.breached),
                String(figures.reopened), String(figures.pending),
            ])
        }
        lines.append(Output.table(deadlines))
        let handling = report.handlingTime
        lines.append(
            "handling time (receipt to resolution, \(handling.resolved) resolved): median \(hours(handling.medianHours)), 90th percentile \(hours(handling.p90Hours))"
        )
        let satisfaction = report.satisfaction
        let distribution = satisfaction.distribution.map { "\($0.key)★ \($0.count)" }.joined(separator: " · ")
        lines.append(
            "satisfaction (\(satisfaction.responses) follow-ups): average \(satisfaction.average.map { String(format: "%.2f", $0) } ?? "-")  \(distribution)"
        )
        lines.append("")
        if report.repeatCustomers.isEmpty {
            lines.append("repeat complaints: none")
        } else {
            lines.append("repeat complaints (same phone more than once):")
            for customer in report.repeatCustomers {
                lines.append("  \(customer.phone)  \(customer.tickets.count)×  \(customer.categories.joined(separator: ", "))  \(customer.tickets.joined(separator: " "))")
            }
            let recurring = report.recurringCategories.map { "\($0.key) (\($0.count) customers)" }.joined(separator: ", ")
            lines.append("  recurring categories: \(recurring.isEmpty ? "none" : recurring)")
        }
        lines.append("")
        if report.breaches.isEmpty {
            lines.append("breaches: none")
        } else {
            var table = [["BREACHED", "BRANCH", "DEADLINE", "DUE", "MET", "HELD BY", "STATUS"]]
            table += report.breaches.map { [$0.number, $0.branch, $0.deadline, time($0.due), time($0.metAt), $0.breachedBy, $0.status] }
            lines.append(Output.table(table))
        }
        lines.append("")
        if report.stillOpen.isEmpty {
            lines.append("still open: none")
        } else {
            var table = [["STILL OPEN", "BRANCH", "STATUS", "RECEIVED", "DEADLINE", "DUE"]]
            table += report.stillOpen.map { [$0.number, $0.branch, $0.status, time($0.receivedAt), $0.deadline ?? "-", time($0.due)] }
            lines.append(Output.table(table))
        }
        lines.append("")
        if report.approvalFlags.isEmpty {
            lines.append("approval flags: none")
        } else {
            var table = [["APPROVAL FLAGGED", "BRANCH", "STATUS", "ISSUES"]]
            table += report.approvalFlags.map { [$0.number, $0.branch, $0.status, $0.issues.joined(separator: ", ")] }
            lines.append(Output.table(table))
        }
        return lines.joined(separator: "\n")
    }
}
