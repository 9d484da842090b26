import Foundation
import Replication
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

/// Every line this executable prints goes through here, so that no control character from data —
/// a title holding `ESC ] 0 ; … BEL`, say — ever reaches the terminal: each is shown as its
/// Unicode control picture (`TypedText.printable`). It shadows the standard library's `print`
/// for the whole module.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TypedText.printable(items.map { "\($0)" }.joined(separator: separator), multiLine: true), terminator: terminator)
}

/// Printing for people (aligned text, local times) and for programs (JSON).
enum Output {
    /// Prints `value` as pretty JSON with ISO 8601 times.
    static func json(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// `2026-11-22 09:30` in the node's time zone.
    static func time(_ date: Date, zone: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone) ?? .gmt
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    /// Columns padded by display width (CJK characters take two cells).
    static func table(_ rows: [[String]]) -> String {
        // A cell is one line: a line break from data is shown, never obeyed.
        let rows = rows.map { $0.map { TypedText.printable($0) } }
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { displayWidth($0[column]) }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - displayWidth(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func displayWidth(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { width, scalar in
            let value = scalar.value
            let wide =
                (0x1100...0x115F).contains(value) || (0x2E80...0xA4CF).contains(value) || (0xAC00...0xD7A3).contains(value)
                || (0xF900...0xFAFF).contains(value) || (0xFE30...0xFE4F).contains(value) || (0xFF00...0xFF60).contains(value)
                || (0xFFE0...0xFFE6).contains(value) || (0x20000...0x3FFFD).contains(value)
            return width + (wide ? 2 : 1)
        }
    }

    /// Shortens `text` to at most `width` display cells.
    static func clip(_ text: String, _ width: Int) -> String {
        guard displayWidth(text) > width else { return text }
        var result = ""
        for character in text {
            if displayWidth(result + String(character)) > width - 1 { break }
            result.append(character)
        }
        return result + "…"
    }

    /// Tickets one per line; with `deadlines` (one per ticket, in the same order) a DUE column.
    static func summaries(_ tickets: [TicketSummary], zone: String, deadlines: [TicketDeadlines]? = nil) {
        guard !tickets.isEmpty else {
            print("no tickets")
            return
        }
        var header = ["NUMBER", "STATUS", "SEV", "CATEGORY", "CUSTOMER", "PHONE", "ASSIGNEE", "RECEIVED", "TITLE"]
        if deadlines != nil { header.insert("DUE", at: 3) }
        let rows = tickets.enumerated().map { index, ticket in
            var row = [
                ticket.number + (!ticket.readOnly ? "" : " (\(ticket.handledBy))"),
                ticket.round > 1 ? "\(ticket.status)/r\(ticket.round)" : ticket.status, String(ticket.severity),
                ticket.category, clip(ticket.customer, 12), ticket.phone, clip(ticket.assignee, 12),
                time(ticket.receivedAt, zone: zone), clip(ticket.title, 40),
            ]
            if let deadlines { row.insert(due(deadlines[index]), at: 3) }
            return row
        }
        print(table([header] + rows))
        if tickets.contains(where: \.readOnly) {
            print("(NODE) after a number: handled by that node since a transfer; read-only here")
        }
    }

    /// `first-reply breached 2026-11-20 24:00`: the deadline that matters now.
    private static func due(_ ticket: TicketDeadlines) -> String {
        guard let headline = ticket.headline else { return "-" }
        let when = headline.due.map { DeadlineClock.format($0, in: TimeZone(identifier: ticket.timeZone) ?? .gmt) } ?? "paused"
        return "\(headline.kind.rawValue) \(headline.state.rawValue) \(when)"
    }

    static func ticket(_ ticket: TicketView, zone: String) {
        var lines = ["\(ticket.number)  \(TypedText.printable(ticket.title))"]
        /// A labelled value; the lines of a multi-line one are indented under the first.
        func line(_ label: String, _ value: String) {
            guard !value.isEmpty else { return }
            let indent = "\n" + String(repeating: " ", count: 17)
            lines.append("  " + label.padding(toLength: 15, withPad: " ", startingAt: 0) + value.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: indent))
        }
        let round = ticket.round > 1 ? " (round \(ticket.round))" : ""
        let here = !ticket.readOnly ? "" : " — read-only here: \(ticket.handledBy) handles it"
        line("branch", "handled by \(ticket.handledBy)\(here)")
        line("status", "\(ticket.status)\(round) · severity \(ticket.severity) · \(ticket.category) · \(ticket.kind) · escalation \(ticket.escalation)")
        if let approval = ticket.approval {
            line("approval", "\(approval.decision) by \(approval.by) (\(approval.origin)) \(time(approval.at, zone: zone))")
        }
        for issue in ticket.approvalIssues { line("! approval", issue) }
        line("customer", "\(ticket.customer)  \(ticket.phone)")
        line(
            "received",
            "\(time(ticket.receivedAt, zone: zone)) via \(ticket.channel) · recorded \(time(ticket.recordedAt, zone: zone)) by \(ticket.takenBy) at \(ticket.origin)"
        )
        line("assigned to", [ticket.department, ticket.assignee].filter { !$0.isEmpty }.joined(separator: " · "))
        line("statement", ticket.statement)
        line("request", ticket.request)
        line("facts", ticket.facts)
        let report = ticket.investigation
        line("cause", report.cause)
        line("course", report.course)
        line("responsible", report.responsible)
        line("conclusion", report.conclusion)
        line("countermeasure", report.countermeasure)
        line("prevention", report.prevention)
        line("resolution", ticket.resolution)
        if let reply = ticket.reply {
            line("reply", "\(reply.message) (via \(reply.via)\(reply.promisedDate.map { ", promised by \($0)" } ?? ""))")
        }
        if let satisfaction = ticket.satisfaction { line("satisfaction", satisfaction.description) }
        line("tags", ticket.tags.joined(separator: ", "))
        line("departments", ticket.involvedDepartments.joined(separator: ", "))
        if !ticket.conflicts.isEmpty {
            lines.append("  conflicts")
            lines += ticket.conflicts.map { "    ! \($0.sentence)" }
        }
        if !ticket.notes.isEmpty {
            lines.append("  notes")
            lines += ticket.notes.map { note in
                var detail = note.kind
                if let via = note.via { detail += " via \(via)" }
                if let score = note.score { detail += " \(score)/5" }
                if let corrects = note.corrects { detail += " of \(corrects)" }
                let text = note.text.isEmpty ? "" : ": " + note.text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n      ")
                return "    \(time(note.at, zone: zone))  \(note.by) (\(note.origin))  \(detail)\(text)"
            }
        }
        lines.append("  history")
        lines += ticket.history.map { "    \(time($0.at, zone: zone))  \($0.by) (\($0.origin)#\($0.seq))  \(TypedText.printable($0.summary))" }
        line("next", ticket.allowedTransitions.joined(separator: ", "))
        print(lines.joined(separator: "\n"))
    }
}

extension Output {
    /// A ticket's deadlines: one line each, and with `explained` the steps that computed them.
    static func deadlines(_ ticket: TicketDeadlines, explained: Bool) {
        let zone = TimeZone(identifier: ticket.timeZone) ?? .gmt
        print("\(ticket.number)  handled by \(ticket.branch) (\(ticket.timeZone))")
        if explained {
            print("  policy: \(ticket.policy)")
            print("  calendar: \(ticket.calendar)")
        }
        let rounds = Set(ticket.deadlines.map(\.round)).count
        for deadline in ticket.deadlines {
            let due = deadline.due.map { DeadlineClock.format($0, in: zone) } ?? "paused"
            let round = rounds > 1 ? "round \(deadline.round) " : ""
            var line = "  \(round)\(deadline.kind.rawValue) within \(deadline.period): due \(due) · \(deadline.state.rawValue)"
            if let metAt = deadline.metAt { line += " at \(DeadlineClock.format(metAt, in: zone))" }
            if let breachedBy = deadline.breachedBy { line += " · held by \(breachedBy)" }
            print(line)
            if explained { for step in deadline.explanation { print("      \(step)") } }
        }
    }

    static func policy(_ policy: ServicePolicy) {
        let rows = Severity.allCases.map { severity -> [String] in
            let rule = policy.rule(severity: severity, departments: 1).rule
            return [String(severity.rawValue), rule.firstReply.spelledOut, rule.resolution.spelledOut]
        }
        print(table([["SEVERITY", "FIRST REPLY", "RESOLUTION"]] + rows))
        print("general complaints involving several departments: \(policy.crossDepartmentIsSerious ? "severity 2 deadlines" : "severity 1 deadlines")")
        print("due soon: \(policy.dueSoonHours) hours before a deadline")
        print("on-time target: \(policy.onTimeTargetPercent)% of deadlines met")
    }

    static func calendar(_ calendar: WorkCalendar, month: ReportMonth?) {
        print("time zone: \(calendar.timeZone)")
        for (branch, zone) in calendar.branchTimeZones.sorted(by: { $0.key < $1.key }) { print("  \(branch): \(zone)") }
        print("rest days: \(calendar.restWeekdays.sorted().map(\.description).joined(separator: ", "))")
        let days = calendar.holidays.map { [$0.key, "holiday", $0.value] } + calendar.workingDays.map { [$0.key, "working day", $0.value] }
        if !days.isEmpty { print(table([["DAY", "KIND", "NAME"]] + days.sorted { $0[0] < $1[0] })) }
        guard let month else { return }
        let first = month.firstDay
        let working = (0..<31).map { first.adding(days: $0) }.filter { $0 < month.nextFirstDay && calendar.isWorkingDay($0) }
        print("\(working.count) working days in \(month): \(working.map { String($0.day) }.joined(separator: " "))")
    }
}
