import Foundation
import Hummingbird
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// HQ's dashboard: per branch the open work, the month's on-time rates against the target and
    /// the last sync; the backlog over 30 days; the month's volume by category and branch. Every
    /// figure links to the list of tickets it counts.
    func addDashboard(to router: Router<ConsoleContext>) {
        router.get("/dashboard") { _, context in
            let strings = Strings.table(context.language)
            let now = Date()
            let settings = try await store.companySettings()
            let zone = TimeZone(identifier: settings.calendar.timeZone) ?? .gmt
            let month = ReportMonth(containing: DeadlineClock.day(of: now, in: zone))
            let dashboard = try await store.dashboard(month: month.interval(in: zone), now: now)
            let target = Double(dashboard.onTimeTargetPercent) / 100
            let time = { (date: Date) in DeadlineClock.format(date, in: zone) }
            func row(_ branch: Dashboard.Branch, scope: String) -> [String: Any] {
                var row: [String: Any] = [
                    "node": branch.node == "company" ? strings["company"]! : branch.node, "open": branch.open, "overdue": branch.overdue,
                    "hasOverdue": branch.overdue > 0,
                    "dueSoon": branch.dueSoon, "received": branch.received, "scope": scope, "month": month.description,
                    "firstReply": rate(branch.firstReply, target: target), "resolution": rate(branch.resolution, target: target),
                ]
                if let synced = branch.lastSyncAt {
                    row["lastSync"] = time(synced)
                    row["stale"] = now.timeIntervalSince(synced) > 3600
                }
                return row
            }
            let openBars = dashboard.branches.map {
                BarChart.Bar(label: $0.node, value: $0.open, link: "/?view=open&branch=\($0.node)", tone: $0.overdue > 0 ? "late" : "")
            }
            let backlogBars = dashboard.backlog.map {
                BarChart.Bar(label: String($0.day.description.suffix(5)), value: $0.open, link: "/?view=all&day=\($0.day)")
            }
            let branchNames = dashboard.branches.map(\.node)
            let volume = Category.allCases.map { category -> [String: Any] in
                let counts = dashboard.volume[category.rawValue] ?? [:]
                return [
                    "category": strings["Category.\(category.rawValue)"]!,
                    "cells": branchNames.map { branch in
                        ["count": counts[branch] ?? 0, "link": "/?view=all&month=\(month)&branch=\(branch)&category=\(category.rawValue)"]
                    },
                    "total": counts.values.reduce(0, +), "link": "/?view=all&month=\(month)&category=\(category.rawValue)",
                ]
            }
            return pages.render(
                "dashboard", title: strings["dashboard"]!,
                values: [
                    "month": month.description, "target": dashboard.onTimeTargetPercent,
                    "branches": dashboard.branches.map { row($0, scope: "&branch=\($0.node)") },
                    "company": row(dashboard.company, scope: ""),
                    "hasBranches": !dashboard.branches.isEmpty, "branchNames": branchNames,
                    "openChart": BarChart(bars: openBars, title: strings["openByBranch"]!).svg,
                    "backlogChart": BarChart(bars: backlogBars, title: strings["backlog"]!).svg,
                    "volume": volume,
                ], context: context)
        }
    }

    /// An on-time rate as shown: the percentage and its colour against the target (green at or
    /// above it, amber within 10 points below, red under that; none before a deadline is decided).
    private func rate(_ onTime: Dashboard.OnTime, target: Double) -> [String: Any] {
        guard let rate = onTime.rate else { return ["text": "–", "tone": "none", "detail": "\(onTime.pending)"] }
        let tone = rate >= target ? "ok" : rate >= target - 0.1 ? "soon" : "late"
        return [
            "text": String(format: "%.0f%%", rate * 100), "tone": tone,
            "detail": "\(onTime.met)/\(onTime.met + onTime.late + onTime.breached)",
        ]
    }
}
