import Foundation
import ServiceLevels

extension MonthlyReport {
    /// The report as CSV for a spreadsheet: UTF-8 with a byte-order mark (so that Excel reads
    /// Chinese text correctly), CRLF line ends (RFC 4180), one titled section per table, times
    /// local to the report's time zone.
    public var csv: String {
        let time = { (date: Date?) in date.map(localTime) ?? "" }
        let percent = { (rate: Double?) in rate.map(Self.percent) ?? "" }
        let hours = { (value: Double?) in value.map(Self.hours) ?? "" }
        var rows: [[String]] = [
            ["Complaint statistics", month, "scope", scope, "time zone", timeZone, "generated", time(generatedAt)],
            ["tickets received", String(total)],
        ]
        for (title, counts) in [
            ("branch", byBranch), ("category", byCategory), ("kind", byKind), ("severity", bySeverity),
            ("channel", byChannel), ("status", byStatus),
        ] {
            rows += [[], ["by \(title)", "tickets"]] + counts.map { [$0.key, String($0.count)] }
        }
        rows += [[], ["deadline", "met", "late", "breached", "reopened", "pending", "on-time rate"]]
        for (name, figures) in [("first reply", firstReply), ("resolution", resolution)] {
            rows.append([
                name, String(figures.met), String(figures.late), String(figures.breached), String(figures.reopened),
                String(figures.pending), percent(figures.rate),
            ])
        }
        rows += [
            [], ["handling time (hours)", "resolved", "median", "90th percentile"],
            ["receipt to resolution", String(handlingTime.resolved), hours(handlingTime.medianHours), hours(handlingTime.p90Hours)],
            [], ["repeat customer", "tickets", "numbers", "categories"],
        ]
        rows += repeatCustomers.map {
            [$0.phone, String($0.tickets.count), $0.tickets.joined(separator: " "), $0.categories.joined(separator: " ")]
        }
        rows += [[], ["recurring category", "customers complaining again"]] + recurringCategories.map { [$0.key, String($0.count)] }
        rows += [
            [], ["satisfaction", "responses", "average"],
            ["follow-up score", String(satisfaction.responses), satisfaction.average.map { String(format: "%.2f", $0) } ?? ""],
            ["score", "customers"],
        ]
        rows += satisfaction.distribution.map { [$0.key, String($0.count)] }
        rows += [[], ["breached ticket", "branch", "deadline", "due", "met", "held by", "status"]]
        rows += breaches.map { [$0.number, $0.branch, $0.deadline, time($0.due), time($0.metAt), $0.breachedBy, $0.status] }
        rows += [[], ["open ticket", "branch", "status", "received", "deadline", "due"]]
        rows += stillOpen.map { [$0.number, $0.branch, $0.status, time($0.receivedAt), $0.deadline ?? "", time($0.due)] }
        rows += [[], ["approval flagged", "branch", "status", "issues"]]
        rows += approvalFlags.map { [$0.number, $0.branch, $0.status, $0.issues.joined(separator: " ")] }
        return "\u{FEFF}" + rows.map { $0.map(Self.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// A time in the report's time zone, `2026-11-05 09:00`.
    public func localTime(_ date: Date) -> String { DeadlineClock.format(date, in: TimeZone(identifier: timeZone) ?? .gmt) }

    /// An on-time rate as `50.0%`.
    public static func percent(_ rate: Double) -> String { String(format: "%.1f%%", rate * 100) }

    /// Hours to one decimal, `139.0`.
    public static func hours(_ value: Double) -> String { String(format: "%.1f", value) }

    /// A field quoted when it holds a comma, quote, line break, or starts like a formula.
    static func csvField(_ text: String) -> String {
        // A leading = + - @ would run as a formula in a spreadsheet: neutralise it.
        let safe = text.first.map { "=+-@".contains($0) } == true ? "'" + text : text
        guard safe.contains(where: { ",\"\r\n".contains($0) }) else { return safe }
        return "\"" + safe.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
