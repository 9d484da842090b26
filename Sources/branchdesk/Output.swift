import Foundation
import TicketModel
import TicketStore

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

    static func summaries(_ tickets: [TicketSummary], zone: String) {
        guard !tickets.isEmpty else {
            print("no tickets")
            return
        }
        let header = ["NUMBER", "STATUS", "SEV", "CATEGORY", "CUSTOMER", "PHONE", "ASSIGNEE", "RECEIVED", "TITLE"]
        let rows = tickets.map {
            [
                $0.number, $0.round > 1 ? "\($0.status)/r\($0.round)" : $0.status, String($0.severity), $0.category,
                clip($0.customer, 12), $0.phone, clip($0.assignee, 12), time($0.receivedAt, zone: zone), clip($0.title, 40),
            ]
        }
        print(table([header] + rows))
    }

    static func ticket(_ ticket: TicketView, zone: String) {
        var lines = ["\(ticket.number)  \(ticket.title)"]
        func line(_ label: String, _ value: String) {
            guard !value.isEmpty else { return }
            lines.append("  " + label.padding(toLength: 15, withPad: " ", startingAt: 0) + value)
        }
        let round = ticket.round > 1 ? " (round \(ticket.round))" : ""
        line("status", "\(ticket.status)\(round) · severity \(ticket.severity) · \(ticket.category) · \(ticket.kind) · escalation \(ticket.escalation)")
        line("customer", "\(ticket.customer)  \(ticket.phone)")
        line(
            "received",
            "\(time(ticket.receivedAt, zone: zone)) via \(ticket.channel) · recorded \(time(ticket.recordedAt, zone: zone)) by \(ticket.takenBy) at \(ticket.origin)"
        )
        line("handled by", [ticket.department, ticket.assignee].filter { !$0.isEmpty }.joined(separator: " · "))
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
                return "    \(time(note.at, zone: zone))  \(note.by) (\(note.origin))  \(detail): \(note.text)"
            }
        }
        lines.append("  history")
        lines += ticket.history.map { "    \(time($0.at, zone: zone))  \($0.by) (\($0.origin)#\($0.seq))  \($0.summary)" }
        line("next", ticket.allowedTransitions.joined(separator: ", "))
        print(lines.joined(separator: "\n"))
    }
}
