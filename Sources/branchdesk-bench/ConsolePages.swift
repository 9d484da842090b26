import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Reporting
import ServiceLevels
import TicketModel
import TicketStore
import WebConsole

extension Benchmarks {
    /// (8) HQ's console with `tickets` open tickets: the server time of the queue page (the 100 most
    /// urgent) and of the dashboard, rendered by the console's router in-process, against one
    /// indexed SELECT of the queue's rows.
    func consolePages(tickets: Int) async throws -> [Figure] {
        let now = Date()
        let store = try await busyHQ(named: "console", tickets: tickets, now: now)
        let account = try await store.addAccount("总部", role: .hqOfficer, password: "bench-password-2026")
        let (token, _) = try await store.openSession(for: account)
        let console = try await ConsoleServer(store: store, changes: { AsyncStream { _ in } })
        let headers: HTTPFields = [.cookie: "bd_session=\(token)", .acceptLanguage: "zh-CN"]
        let (queue, dashboard) = try await Application(router: console.router()).test(.router) { client in
            let page = { (path: String) in
                try await Self.percentiles {
                    let response = try await client.execute(uri: path, method: .get, headers: headers)
                    guard response.status == .ok else { throw BenchError("GET \(path) answered \(response.status)") }
                }
            }
            return (try await page("/?view=open"), try await page("/dashboard"))
        }
        // The dashboard's reads alone, to tell the store's share from the page's.
        let settings = try await store.companySettings()
        let zone = TimeZone(identifier: settings.calendar.timeZone) ?? .gmt
        let month = ReportMonth(containing: DeadlineClock.day(of: now, in: zone)).interval(in: zone)
        let reads = try await Self.percentiles { _ = try await store.dashboard(month: month, now: now) }
        var readOnly = Configuration()
        readOnly.readonly = true
        let database = try DatabaseQueue(path: store.path, configuration: readOnly)
        let select = try await Self.percentiles {
            _ = try await database.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT t.* FROM deadlineSummary d JOIN ticket t ON t.id = d.ticket WHERE d.openDue IS NOT NULL ORDER BY d.openDue LIMIT 100")
            }
        }
        let baseline = "one indexed SELECT of the queue's 100 rows"
        return [
            Figure(
                name: "console queue page (100 most urgent) at HQ, \(tickets) open tickets, p50", value: queue.p50, baselineName: baseline,
                baseline: select.p50, unit: "ms", target: "p99 < 50 ms (p99 \(Self.milliseconds(queue.p99)))"),
            Figure(
                name: "console dashboard, same HQ, p50", value: dashboard.p50, baselineName: baseline, baseline: select.p50, unit: "ms",
                target: "p99 < 50 ms (p99 \(Self.milliseconds(dashboard.p99)))"),
            Figure(
                name: "  of which the dashboard's reads, p50", value: reads.p50, baselineName: baseline, baseline: select.p50, unit: "ms",
                target: "(p99 \(Self.milliseconds(reads.p99)))"),
        ]
    }
}
