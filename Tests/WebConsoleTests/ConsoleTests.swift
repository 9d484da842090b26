import Foundation
import Hummingbird
import HummingbirdTesting
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore
import WebConsole

/// The console in-process: every route, its right and its error paths.
@Suite struct ConsoleTests {
    let clock = ManualClock(millis: UInt64(Date().timeIntervalSince1970 * 1000))
    let store: NodeStore

    init() throws {
        store = try Fixtures.memoryStore("sh-012", clock: clock)
    }

    /// For consoles whose pages are not watched live: a feed that never wakes.
    static let noChanges: @Sendable () -> AsyncStream<Void> = { AsyncStream { _ in } }

    /// Runs `body` with a browser on a console of `store` with a clerk and a supervisor.
    @discardableResult
    func withConsole<T: Sendable>(_ body: @Sendable (Browser) async throws -> T) async throws -> T {
        if try await store.accounts().isEmpty {
            _ = try await store.addAccount("王芳", role: .clerk, password: "门店密码2026")
            _ = try await store.addAccount("店长", role: .supervisor, password: "店长密码2026")
        }
        let console = try await ConsoleServer(store: store, changes: Self.noChanges)
        let app = Application(router: console.router())
        return try await app.test(.router) { client in try await body(Browser(client)) }
    }

    func openTicket(
        title: String = "手机频繁死机，三天内重启二十余次", statement: String = "买了三天就频繁死机，要求换货", severity: Severity = .serious
    ) async throws -> TicketView {
        var draft = try Fixtures.draft(title: title, statement: statement, severity: severity)
        draft.phone = "138 0013 8000"
        return try await store.openTicket(draft, actor: "王芳")
    }

    @Test func aClerkLogsInAndSeesTheQueueInChinese() async throws {
        let ticket = try await openTicket()
        try await withConsole { browser in
            let login = try await browser.logIn("王芳", "门店密码2026")
            #expect(login.status == .seeOther && login.location == "/", "\(login.html)")
            let queue = try await browser.get("/")
            #expect(queue.status == .ok)
            #expect(queue.html.contains(ticket.number) && queue.html.contains("手机频繁死机") && queue.html.contains("工单队列"))
            #expect(queue.html.contains("data-due=\""), "deadlines count down in the page")
            browser.language = "en-US,en;q=0.8"
            #expect(try await browser.get("/").html.contains("Queue"))
        }
    }

    @Test func pagesNeedALoginAndAWrongPasswordSaysSoOnThePage() async throws {
        try await withConsole { browser in
            let page = try await browser.get("/")
            #expect(page.status == .seeOther && page.location == "/login")
            let wrong = try await browser.logIn("王芳", "not the password")
            #expect(wrong.status == .unauthorized && wrong.html.contains("wrong name or password"))
            let unknown = try await browser.logIn("张伟", "门店密码2026")
            #expect(unknown.status == .unauthorized && unknown.html.contains("wrong name or password"))
            #expect(browser.cookies["bd_session"] == nil)
        }
    }

    @Test func aFormWithoutItsCSRFTokenIsRefusedAndWritesNothing() async throws {
        let ticket = try await openTicket()
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            try await browser.get("/tickets/\(ticket.number)")
            let before = try await store.opCount()
            let forged = try await browser.post("/tickets/\(ticket.number)/transition", ["transition": "accept"], csrf: "forged")
            #expect(forged.status == .forbidden && forged.html.contains("表单已过期"))
            let missing = try await browser.post("/login", ["name": "王芳", "password": "门店密码2026"], csrf: "")
            #expect(missing.status == .forbidden)
            #expect(try await store.opCount() == before)
        }
    }

    @Test func aComplaintIsTakenAndHandledFromThePagesByTheLoggedInClerk() async throws {
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            try await browser.get("/tickets/new")
            let bad = try await browser.post("/tickets", [
                "channel": "phone", "customer": "张三", "phone": "abc", "category": "product", "kind": "claim", "severity": "2",
                "title": "手机频繁死机", "statement": "买了三天就频繁死机",
            ])
            #expect(bad.status == .unprocessableContent && bad.html.contains("invalid phone"))
            #expect(bad.html.contains("value=\"张三\""), "the form comes back filled in")
            #expect(try await store.opCount() == 0)
            try await browser.get("/tickets/new")
            let made = try await browser.post("/tickets", [
                "channel": "phone", "customer": "张三", "phone": "138 0013 8000", "category": "product", "kind": "claim",
                "severity": "2", "title": "手机频繁死机", "statement": "买了三天就频繁死机\r\n要求换货",
            ])
            let path = try #require(made.location)
            #expect(made.status == .seeOther && path.hasPrefix("/tickets/SH012-"))
            let number = String(path.dropFirst("/tickets/".count))
            #expect(try await store.ticket(number).history.first?.by == "王芳")
            for transition in ["accept", "investigate", "submit"] {
                try await browser.get(path)
                let step = try await browser.post("\(path)/transition", ["transition": transition])
                #expect(step.status == .seeOther, "\(transition): \(step.html)")
            }
            // A clerk may not approve; the supervisor may.
            try await browser.get(path)
            let refused = try await browser.post("\(path)/transition", ["transition": "approve"])
            #expect(refused.status == .forbidden)
            #expect(try await store.ticket(number).status == "awaiting-approval")
        }
        try await withConsole { browser in
            _ = try await browser.logIn("店长", "店长密码2026")
            let number = try #require(try await store.tickets(TicketFilter()).first?.number)
            try await browser.get("/tickets/\(number)")
            let approved = try await browser.post("/tickets/\(number)/transition", ["transition": "approve", "reason": "同意换新"])
            #expect(approved.status == .seeOther)
            let ticket = try await store.ticket(number)
            #expect(ticket.status == "approved" && ticket.notes.contains { $0.kind == "approval" && $0.by == "店长" })
            let page = try await browser.get("/tickets/\(number)")
            #expect(page.html.contains("买了三天就频繁死机\n要求换货") && page.html.contains("action=\"/tickets/\(number)/reply\""))
        }
    }

    @Test func whatABranchTypedRendersAsTextAtHQ() async throws {
        let hostile = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>"
        let ticket = try await openTicket(title: hostile)
        _ = try await store.edit(ticket.number, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: hostile)) }
        try await withHQConsole { browser, _ in
            for path in ["/", "/tickets/\(ticket.number)"] {
                let page = try await browser.get(path)
                #expect(page.status == .ok)
                #expect(!page.html.contains("<script>alert") && !page.html.contains("<img src=x"), "\(path)")
                #expect(page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(path)")
            }
        }
    }

    @Test func aSessionOutlivesARestartAndEndsAtLogout() async throws {
        let token = try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            return try #require(browser.cookies["bd_session"])
        }
        try await withConsole { browser in
            browser.cookies["bd_session"] = token
            let page = try await browser.get("/")
            #expect(page.status == .ok && page.html.contains("王芳"))
            let out = try await browser.post("/logout", [:])
            #expect(out.status == .seeOther && out.location == "/login")
        }
        #expect(try await store.session(token) == nil)
    }

    @Test func theSessionCookieIsHttpOnlyAndStrict() async throws {
        try await withConsole { browser in
            try await browser.get("/login")
            let response = try await browser.client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded", .cookie: "bd_login=abc"],
                body: ByteBuffer(string: "_csrf=abc&name=%E7%8E%8B%E8%8A%B3&password=%E9%97%A8%E5%BA%97%E5%AF%86%E7%A0%812026"))
            let cookie = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("bd_session=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
            #expect(!cookie.contains("Secure"), "plain HTTP here; Secure under HTTPS")
            browser.cookies["bd_session"] = String(cookie.dropFirst("bd_session=".count).prefix { $0 != ";" })
            let page = try await browser.get("/")
            #expect(page.status == .ok)
        }
    }

    @Test func searchFindsAnySubstringAndMarksItAsText() async throws {
        let first = try await openTicket(title: "手机频繁死机")
        let hostile = try await openTicket(title: "<b>死机</b>了")
        _ = try await openTicket(title: "屏幕碎裂", statement: "送修后屏幕出现裂纹")
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            let page = try await browser.get("/search?q=%E6%AD%BB%E6%9C%BA")
            #expect(page.status == .ok)
            #expect(page.html.contains(first.number) && page.html.contains(hostile.number) && !page.html.contains("屏幕碎裂"))
            #expect(page.html.contains("手机频繁<mark>死机</mark>"))
            #expect(page.html.contains("&lt;b&gt;<mark>死机</mark>&lt;/b&gt;了") && !page.html.contains("<b>"))
        }
    }

    @Test func aConflictIsResolvedFromThePage() async throws {
        let ticket = try await openTicket()
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        try await Fixtures.sync(store, to: hq)
        _ = try await store.edit(ticket.number, actor: "王芳", action: "update") { try $0.update([.severity: .number(1)]) }
        _ = try await hq.edit(ticket.number, actor: "总部", action: "update") { try $0.update([.severity: .number(3)]) }
        try await Fixtures.sync(hq, to: store)
        #expect(try await store.ticket(ticket.number).conflicts.map(\.field) == ["severity"])
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            let page = try await browser.get("/tickets/\(ticket.number)")
            #expect(page.html.contains("action=\"/tickets/\(ticket.number)/resolve\""))
            let resolved = try await browser.post("/tickets/\(ticket.number)/resolve", ["field": "severity", "value": "3"])
            #expect(resolved.status == .seeOther)
        }
        let after = try await store.ticket(ticket.number)
        #expect(after.conflicts.isEmpty && after.severity == 3 && after.history.last?.by == "王芳")
    }
}
