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
    /// A console of a fresh HQ that has synced with this branch, logged in as an HQ officer.
    func withHQConsole(_ body: @Sendable (Browser, NodeStore) async throws -> Void) async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        try await Fixtures.sync(store, to: hq)
        _ = try await hq.addAccount("总部", role: .hqOfficer, password: "总部密码2026")
        let console = try await ConsoleServer(store: hq, changes: Self.noChanges)
        try await Application(router: console.router()).test(.router) { client in
            let browser = Browser(client)
            _ = try await browser.logIn("总部", "总部密码2026")
            try await body(browser, hq)
        }
    }

    @Test func hqsDashboardCountsEachBranchAndEveryFigureLinksToItsTickets() async throws {
        let serious = try await openTicket()
        let general = try await openTicket(title: "店员态度恶劣", severity: .general)
        _ = try await store.edit(general.number, actor: "王芳", action: "update") { try $0.update([.category: .text("service")]) }
        try await withHQConsole { browser, _ in
            let page = try await browser.get("/dashboard")
            #expect(page.status == .ok)
            #expect(page.html.contains("<td>sh-012</td>") && page.html.contains("全公司"))
            #expect(page.html.contains("<svg class=\"chart\""), "charts are drawn on the server")
            #expect(page.html.contains("href=\"/?view=open&amp;branch=sh-012\""), "a bar links to the branch's open tickets")
            let month = try #require(page.html.firstMatch(of: /month=(\d{4}-\d{2})/)?.1)
            // The category × branch cell of 'service' lists that ticket, and only that one.
            let cell = try await browser.get("/?view=all&month=\(month)&branch=sh-012&category=service")
            #expect(cell.html.contains(general.number) && !cell.html.contains(serious.number), "\(cell.html)")
            #expect(cell.html.contains("sh-012"), "the list says what it was narrowed to")
            let open = try await browser.get("/?view=open&branch=sh-012")
            #expect(open.html.contains(general.number) && open.html.contains(serious.number))
            #expect(try await browser.get("/?view=open&branch=bj-003").html.contains("没有工单"))
            let today = try #require(page.html.matches(of: /day=(\d{4}-\d{2}-\d{2})"/).last.map { String($0.1) })
            #expect(try await browser.get("/?view=all&day=\(today)").html.contains(serious.number), "a backlog bar lists that day's open tickets")
        }
    }

    @Test func hqTransfersATicketFromItsPage() async throws {
        let ticket = try await openTicket()
        try await withHQConsole { browser, hq in
            _ = try await hq.addPeer(try NodeID("bj-003"), address: nil)
            let page = try await browser.get("/tickets/\(ticket.number)")
            #expect(page.html.contains("<option>bj-003</option>") && !page.html.contains("<option>sh-012</option>"))
            let moved = try await browser.post("/tickets/\(ticket.number)/transfer", ["to": "bj-003"])
            #expect(moved.status == .seeOther, "\(moved.html)")
            #expect(try await hq.ticket(ticket.number).handledBy == "bj-003")
        }
    }
}

extension ConsoleTests {
    @Test func hqSetsThePolicyAndCalendarFromThePageAndABranchOnlyReadsThem() async throws {
        try await withHQConsole { browser, hq in
            let page = try await browser.get("/settings")
            #expect(page.status == .ok && page.html.contains("action=\"/settings/policy\"") && !page.html.contains("disabled"))
            var policy = ["dueSoonHours": "6", "onTimeTarget": "95", "crossDepartment": "on"]
            for severity in 1...3 { (policy["firstReply\(severity)"], policy["resolution\(severity)"]) = ("24h", "\(severity + 2)wd") }
            let saved = try await browser.post("/settings/policy", policy)
            #expect(saved.status == .seeOther, "\(saved.html)")
            let set = try await hq.companySettings().policy
            #expect(set.dueSoonHours == 6 && set.onTimeTargetPercent == 95 && set.rules[3]?.resolution == .workingDays(5))
            try await browser.get("/settings")
            policy["resolution2"] = "soon"
            let bad = try await browser.post("/settings/policy", policy)
            #expect(bad.status == .unprocessableContent && bad.html.contains("invalid period &#39;soon&#39;"))
            #expect(try await hq.companySettings().policy == set, "nothing written")
            try await browser.get("/settings")
            let holiday = try await browser.post("/settings/calendar", ["change": "holiday", "day": "2027-01-01", "name": "元旦"])
            #expect(holiday.status == .seeOther)
            #expect(try await hq.companySettings().calendar.holidays["2027-01-01"] == "元旦")
            #expect(try await browser.get("/settings").html.contains("2027-01-01 元旦"))
        }
        try await withConsole { browser in
            _ = try await browser.logIn("店长", "店长密码2026")
            let page = try await browser.get("/settings")
            #expect(page.status == .ok && page.html.contains("只读") && page.html.contains("disabled"))
            let refused = try await browser.post("/settings/calendar", ["change": "holiday", "day": "2027-01-02", "name": "x"])
            #expect(refused.status == .forbidden)
        }
    }

    @Test func theReplicationPageShowsEveryPeerTroubledFirst() async throws {
        try await withHQConsole { browser, hq in
            _ = try await hq.addPeer(try NodeID("bj-003"), address: "北京朝阳")
            let page = try await browser.get("/replication")
            #expect(page.status == .ok && page.html.contains("bj-003") && page.html.contains("http-equiv=\"refresh\""))
            #expect(page.html.contains("北京朝阳"))
            // Its trouble and state in the console's language, not the command line's words.
            #expect(page.html.contains("<span class=\"rate late\">从未同步</span>") && page.html.contains("离线"))
        }
    }
}
