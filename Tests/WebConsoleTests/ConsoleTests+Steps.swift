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
