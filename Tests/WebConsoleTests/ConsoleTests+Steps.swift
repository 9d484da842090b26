import Foundation
import Hummingbird
import HummingbirdTesting
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore
import WebConsole

extension ConsoleTests {
    @Test func aGeneralComplaintGoesThroughEveryStepOfItsPage() async throws {
        let ticket = try await openTicket(severity: .general)
        let path = "/tickets/\(ticket.number)"
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            func step(_ name: String, _ fields: [String: String], _ check: (TicketView) -> Bool) async throws {
                let page = try await browser.get(path)
                #expect(page.html.contains("action=\"\(path)/\(name)\""), "the page offers \(name)")
                let done = try await browser.post("\(path)/\(name)", fields)
                #expect(done.status == .seeOther, "\(name): \(done.html)")
                let after = try await store.ticket(ticket.number)
                #expect(check(after), "\(name)")
                #expect(after.history.last?.by == "王芳", "\(name) is the account's op")
            }
            try await step("transition", ["transition": "accept"]) { $0.status == "accepted" }
            try await step("assign", ["person": "李娜", "department": "售后部"]) { $0.assignee == "李娜" && $0.department == "售后部" }
            try await step("escalate", ["level": "1"]) { $0.escalation == "manager" }
            try await step("investigate", ["cause": "主板虚焊", "course": "三天内死机二十余次", "resolution": "换新机"]) {
                $0.status == "investigating" && $0.investigation.cause == "主板虚焊" && $0.resolution == "换新机"
            }
            try await step("wait", ["reason": "购机发票"]) { $0.tags.contains(Tag.waitingForCustomer) }
            #expect(try await browser.get(path).html.contains("正在等待客户"))
            try await step("resume", [:]) { !$0.tags.contains(Tag.waitingForCustomer) }
            try await step("tag", ["add": "换货，加急"]) { $0.tags.contains("换货") && $0.tags.contains("加急") }
            try await step("tag", ["remove": "加急"]) { !$0.tags.contains("加急") }
            try await step("reply", ["message": "为您更换新机", "via": "phone", "promised": "2026-12-10"]) { $0.status == "replied" }
            try await step("follow-up", ["score": "5", "remark": "很满意", "then": "close"]) {
                $0.status == "closed" && $0.satisfaction?.score == 5
            }
            try await step("transition", ["transition": "reopen", "reason": "客户再次来电"]) { $0.status == "investigating" && $0.round == 2 }
        }
    }

    @Test func aStepTheProcessRefusesSaysWhyOnThePageAndWritesNothing() async throws {
        let ticket = try await openTicket()
        let path = "/tickets/\(ticket.number)"
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            let before = try await store.opCount()
            try await browser.get(path)
            let early = try await browser.post("\(path)/follow-up", ["score": "4", "then": "close"])
            #expect(early.status == .unprocessableContent && early.html.contains("cannot follow up"))
            try await browser.get(path)
            let score = try await browser.post("\(path)/follow-up", ["score": "9"])
            #expect(score.status == .unprocessableContent && score.html.contains("invalid satisfaction score 9"))
            try await browser.get(path)
            let transfer = try await browser.post("\(path)/transfer", ["to": "bj-003"])
            #expect(transfer.status == .unprocessableContent, "\(transfer.html)")
            try await browser.get(path)
            let unknown = try await browser.post("/tickets/SH012-20990101-9999/assign", ["person": "李娜"])
            #expect(unknown.status == .notFound)
            #expect(try await store.opCount() == before)
        }
    }
}

extension ConsoleTests {
    @Test func refusedRequestsSayWhyOnAPageWithTheMatchingStatus() async throws {
        let ticket = try await openTicket()
        try await withConsole { browser in
            let expired = try await browser.post("/tickets/\(ticket.number)/note", ["text": "x"], csrf: "x")
            #expect(expired.status == .unauthorized && expired.html.contains("登录已过期"))
            _ = try await browser.logIn("王芳", "门店密码2026")
            let unknown = try await browser.get("/tickets/SH012-20990101-9999")
            #expect(unknown.status == .notFound && unknown.html.contains("王芳"), "the error page keeps the logged-in header")
            #expect(unknown.html.contains("找不到这个工单") && !unknown.html.contains("branchdesk ticket"), "it points to the pages, not the CLI")
            try await browser.get("/tickets/\(ticket.number)")
            let before = try await store.opCount()
            let huge = try await browser.post("/tickets/\(ticket.number)/note", ["text": String(repeating: "投诉", count: 200_000)])
            #expect(huge.status == .contentTooLarge, "a body over the limit is refused before it is read whole")
            let illegal = try await browser.post("/tickets/\(ticket.number)/transition", ["transition": "close"])
            #expect(illegal.status == .unprocessableContent && illegal.html.contains("accept"), "it names what is allowed")
            #expect(try await store.opCount() == before)
        }
    }

    @Test func intakeShowsTheCustomersEarlierComplaintsFoundByPhone() async throws {
        let earlier = try await openTicket(title: "上次的投诉：屏幕碎裂")
        try await withConsole { browser in
            _ = try await browser.logIn("王芳", "门店密码2026")
            let blank = try await browser.get("/tickets/new")
            #expect(blank.html.contains("输入电话后显示") && !blank.html.contains(earlier.number))
            let found = try await browser.post("/tickets/new", ["phone": "13800138000", "customer": "张三"])
            #expect(found.html.contains(earlier.number) && found.html.contains("上次的投诉"), "the phone as typed differently still matches")
            #expect(found.html.contains("value=\"张三\""), "the form keeps what was typed")
            #expect(try await browser.get("/tickets/new?phone=138-0013-8000").html.contains(earlier.number))
            #expect(try await browser.get("/tickets/new?phone=139").html.contains("此电话没有以往投诉"))
        }
    }
}
