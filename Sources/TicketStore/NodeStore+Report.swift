import Foundation
import GRDB
import Replication
import Reporting
import ServiceLevels
import TicketModel

extension NodeStore {
    /// The monthly report of the tickets received in `month` (in the company calendar's time
    /// zone) as of `now`: at HQ every branch's, at a branch the tickets it handles.
    public func monthlyReport(_ month: ReportMonth, now: Date, showPersonalData: Bool = false) async throws -> MonthlyReport {
        let identity = identity
        return try await read { db in
            let settings = try Self.companySettings(db)
            let zoneName = settings.calendar.timeZone
            let interval = month.interval(in: TimeZone(identifier: zoneName) ?? .gmt)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, number, category, kind, severity, channel, stage, phone, document FROM ticket
                    WHERE opened AND receivedAt >= ? AND receivedAt < ? ORDER BY receivedAt, number
                    """,
                arguments: [Self.millis(interval.lowerBound), Self.millis(interval.upperBound)])
            var tickets: [ReportedTicket] = []
            for row in rows {
                let document = try Self.storedDocument(from: row)
                guard identity.role == .hq || document.owner == identity.nodeID else { continue }
                let (deadlines, timeline) = try Self.deadlines(of: document, settings: settings, now: now, db)
                var score: Int?
                if case .satisfaction(let satisfaction) = document[.satisfaction] { score = satisfaction.score }
                tickets.append(
                    ReportedTicket(
                        number: row["number"], branch: deadlines.branch, category: row["category"], kind: row["kind"],
                        severity: row["severity"], channel: row["channel"] ?? "", status: row["stage"], phone: row["phone"],
                        receivedAt: timeline.receivedAt, resolvedAt: timeline.resolvedAt, deadlines: deadlines.deadlines,
                        satisfaction: score, approvalIssues: document.approval.issues.map(\.code)))
            }
            return MonthlyReport(
                month: month, scope: identity.role == .hq ? "company" : identity.nodeID.rawValue, timeZone: zoneName,
                generatedAt: now, tickets: tickets, showPhone: showPersonalData ? { $0 } : PhoneNumber.masked)
        }
    }

}
