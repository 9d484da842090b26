import Testing
import TicketModel

@Suite struct ValidationTests {
    @Test(arguments: ["hq", "sh-pudong-012", "a", "0branch", String(repeating: "a", count: 63)])
    func wellFormedNodeIDsAreAccepted(id: String) throws {
        #expect(try NodeID(id).rawValue == id)
    }

    @Test(arguments: ["", "-hq", "HQ", "sh_012", "sh 012", "深圳", String(repeating: "a", count: 64)])
    func malformedNodeIDsAreRefusedWithTheRule(id: String) {
        let error = #expect(throws: DomainError.self) { try NodeID(id) }
        #expect(error?.message.contains("[a-z0-9]") == false)
        #expect(error?.message.contains("lowercase letters, digits or '-'") == true)
    }

    @Test(arguments: ["138 0013 8000", "+86 138-0013-8000", "021-6234 5678", "(021) 62345678", "12345"])
    func realPhoneNumbersAreAccepted(phone: String) throws {
        #expect(try PhoneNumber.validated(" \(phone) ") == phone)
    }

    @Test(arguments: ["", "1234", "call me", "138OO138000", "1380013800012345678901", "张三"])
    func invalidPhoneNumbersAreRefused(phone: String) {
        #expect(throws: DomainError.self) { try PhoneNumber.validated(phone) }
    }

    @Test func fieldValuesAreParsedAndCheckedByField() throws {
        #expect(try Field.severity.parse("3") == .number(3))
        #expect(try Field.category.parse("Price") == .text("price"))
        #expect(try Field.title.parse("  屏幕碎裂 ") == .text("屏幕碎裂"))
        #expect(try Field.promisedDate.parse("2026-11-30") == .text("2026-11-30"))
        for (field, bad) in [(Field.severity, "4"), (.severity, "high"), (.category, "food"), (.kind, "x"), (.title, " "),
                             (.promisedDate, "2026-02-30"), (.phone, "abc")] {
            #expect(throws: DomainError.self, "\(field) = \(bad)") { try field.parse(bad) }
        }
    }

    @Test func ticketNumbersAreReadableAndPadded() throws {
        let day = try #require(CalendarDay("2026-11-22"))
        #expect(TicketNumber.make(code: try BranchCode("sh012"), day: day, counter: 7) == "SH012-20261122-0007")
        #expect(TicketNumber.make(code: try BranchCode("SH012"), day: day, counter: 12345) == "SH012-20261122-12345")
        #expect(BranchCode(defaultFor: try NodeID("sh-pudong-012")).rawValue == "SHPUDONG012")
        #expect(TicketID("sh-pudong-012:7") == TicketID(origin: try NodeID("sh-pudong-012"), counter: 7))
        #expect(TicketID("sh-pudong-012") == nil)
    }

    @Test func calendarDaysRejectImpossibleDates() {
        #expect(CalendarDay("2028-02-29") != nil)
        #expect(CalendarDay("2026-02-29") == nil)
        #expect(CalendarDay("2026-13-01") == nil)
        #expect(CalendarDay("26-11-01") == nil)
    }

    @Test func draftsRefuseEmptyRequiredValues() {
        #expect(throws: DomainError.self) {
            try TicketDraft(channel: .phone, takenBy: "王芳", customer: " ", phone: "13800138000", title: "t", category: .product)
        }
        #expect(throws: DomainError.self) {
            try TicketDraft(channel: .phone, takenBy: "王芳", customer: "张三", phone: "13800138000", title: "", category: .product)
        }
    }
}
