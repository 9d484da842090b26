import Testing
import TicketModel

/// What call centres are typed: the same phone in every shape, and text with control characters.
@Suite struct CustomerInputTests {
    @Test func everyWayOfTypingAMobileIsTheSameCustomer() throws {
        let typed = ["13800138000", "138 0013 8000", "+86 138 0013 8000", "0086 13800138000", "+86-138-0013-8000", "8613800138000", "１３８００１３８０００"]
        for text in typed {
            #expect(try PhoneNumber.validated(text) == text.trimmingWhitespace(), "shown as typed: \(text)")
            #expect(PhoneNumber.normalised(text) == "13800138000", "\(text)")
        }
    }

    @Test func landlinesAndServiceNumbersKeepTheirTrunkZeroAndPrefix() {
        #expect(PhoneNumber.normalised("021-6234 5678") == "02162345678")
        #expect(PhoneNumber.normalised("(021) 62345678") == "02162345678")
        #expect(PhoneNumber.normalised("+86 21 6234 5678") == "02162345678")
        #expect(PhoneNumber.normalised("400-820-8820") == PhoneNumber.normalised("4008208820"))
        #expect(PhoneNumber.normalised("+86 400 820 8820") == "4008208820")
        #expect(PhoneNumber.normalised("800-810-8888") == "8008108888")
        // Another country's number keeps its code, whichever prefix was typed.
        #expect(PhoneNumber.normalised("+1 415 555 0100") == "+14155550100")
        #expect(PhoneNumber.normalised("001 415 555 0100") == "+14155550100")
    }

    @Test func maskingHidesTheMiddleOfTheNationalNumber() {
        #expect(PhoneNumber.masked("138 0013 8000") == "138 **** 8000")
        #expect(PhoneNumber.masked("+86-138-0013-8000") == "+86-138-****-8000")
        #expect(PhoneNumber.masked("0086 13800138000") == "0086 138****8000")
        #expect(PhoneNumber.masked("+86 21 6234 5678") == "+86 21 6*** 5678")
        #expect(PhoneNumber.masked("021-6234 5678") == "021-**** 5678")
        #expect(PhoneNumber.masked("1234567") == "*****67")
    }

    @Test func controlCharactersAreRefusedWhereTextIsTyped() throws {
        let injection = "手机死机\u{1B}]0;pwned\u{07}"
        let error = #expect(throws: DomainError.self) { try TypedText.checked(injection, "title", multiLine: false) }
        #expect(error?.message.contains("U+001B") == true)
        #expect(throws: DomainError.self) { try TypedText.checked("第一行\n第二行", "title", multiLine: false) }
        #expect(throws: DomainError.self) { try TypedText.checked("\u{202E}evil", "title", multiLine: false) }
        // Prose may span lines; a browser's CR LF becomes a line feed.
        #expect(try TypedText.checked("第一行\r\n第二行\t完", "statement", multiLine: true) == "第一行\n第二行\t完")
        #expect(throws: DomainError.self) { try TypedText.checked("第一行\u{1B}[2J", "statement", multiLine: true) }
        #expect(throws: DomainError.self) { try Field.title.parse(injection) }
    }

    @Test func printableTextShowsControlCharactersAsPictures() {
        #expect(TypedText.printable("a\u{1B}]0;x\u{07}b") == "a␛]0;x␇b")
        #expect(TypedText.printable("一\n二") == "一␊二")
        #expect(TypedText.printable("一\n二", multiLine: true) == "一\n二")
        #expect(TypedText.printable("\u{9B}31m") == "\u{FFFD}31m")
    }
}
