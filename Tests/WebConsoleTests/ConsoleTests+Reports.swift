import Foundation
import Hummingbird
import HummingbirdTesting
import Replication
import ServiceLevels
import TestSupport
import Testing
import TicketModel
import TicketStore
import WebConsole

extension ConsoleTests {
    @Test func theMonthlyReportIsAPageWithChartsAndACSVWithABOM() async throws {
        let ticket = try await openTicket()
        let zone = TimeZone(identifier: try await store.companySettings().calendar.timeZone)!
        let month = String(ISO8601DateFormatter.string(from: Date(), timeZone: zone, formatOptions: [.withFullDate]).prefix(7))
        try await withHQConsole { browser, _ in
            let page = try await browser.get("/report?month=\(month)")
            #expect(page.status == .ok)
            #expect(page.html.contains("月度投诉统计 \(month)") && page.html.contains("<svg class=\"chart\"") && page.html.contains(ticket.number))
            #expect(page.html.contains("href=\"/?view=all&amp;month=\(month)&amp;branch=sh-012\""), "a bar lists the tickets it counts")
            let csv = try await browser.client.execute(uri: "/report.csv?month=\(month)", method: .get, headers: browser.headers())
            #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(Array(csv.body.readableBytesView.prefix(3)) == [0xEF, 0xBB, 0xBF], "UTF-8 with a byte-order mark")
            #expect(String(buffer: csv.body).contains(ticket.number))
            let bad = try await browser.get("/report?month=2026-13")
            #expect(bad.status == .unprocessableContent && bad.html.contains("2026-13"))
        }
    }

    @Test func theEventStreamSaysWhenTheTicketChanged() async throws {
        let ticket = try await openTicket()
        let version = try await store.version(of: ticket.number)
        _ = try await store.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        // A feed that wakes once and ends, as a node's does when it stops.
        let console = try await ConsoleServer(store: store, changes: { AsyncStream { $0.yield(); $0.finish() } })
        _ = try await store.addAccount("王芳", role: .clerk, password: "门店密码2026")
        try await Application(router: console.router()).test(.router) { client in
            let browser = Browser(client)
            _ = try await browser.logIn("王芳", "门店密码2026")
            let changed = try await browser.get("/events?ticket=\(ticket.number)&since=\(version)")
            #expect(changed.status == .ok)
            #expect(changed.html.contains("event: change\ndata: \(try await store.version(of: ticket.number))"), "\(changed.html)")
            let current = try await store.version(of: ticket.number)
            #expect(!(try await browser.get("/events?ticket=\(ticket.number)&since=\(current)").html.contains("event: change")))
        }
    }
}
