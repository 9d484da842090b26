/// A last-writer-wins register of a ticket, by the name the command line and JSON use.
public enum Field: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable, Comparable {
    case title
    case customer
    case phone
    /// What the customer asks for.
    case request
    /// Facts and reasons as established (the original statement stays in the intake).
    case facts
    case category
    case kind
    case severity
    case department
    case assignee
    // The investigation report.
    case cause
    case course
    case responsible
    case conclusion
    case countermeasure
    case prevention
    /// The proposed resolution that approval applies to.
    case resolution
    // The reply to the customer.
    case replyMessage = "reply-message"
    case replyVia = "reply-via"
    case promisedDate = "promised-date"
    // Follow-up.
    case satisfaction
    /// The node (branch) that handles the ticket; empty means the node that opened it. Only HQ
    /// changes it, by transferring the ticket.
    case branch
    /// The round's approval decision (`ApprovalRecord`), written by approve, reply and edits of
    /// bound content; never typed.
    case approval
    /// The versions of the company's policy and calendar the ticket was recorded under (the op
    /// ids that set them, "" for the standard ones): its deadlines are judged by them. Written by
    /// the opening op only.
    case policyVersion = "policy-version"
    case calendarVersion = "calendar-version"
    // Company settings, held only by the company settings document (`TicketID.companySettings`).
    /// The service-level policy as JSON; set with `branchdesk policy`.
    case servicePolicy = "service-policy"
    /// The working-day calendar as JSON; set with `branchdesk calendar`.
    case workCalendar = "work-calendar"

    /// Fields of the company settings document, never of a ticket.
    public static let companySettings: Set<Field> = [.servicePolicy, .workCalendar]

    /// The sections of the investigation report, in the order of the form.
    public static let investigation: [Field] = [.cause, .course, .responsible, .conclusion, .countermeasure, .prevention]

    /// Fields a ticket must always have a non-empty value for.
    public static let required: Set<Field> = [.title, .customer, .phone, .category, .severity]

    public static func < (lhs: Field, rhs: Field) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses a value typed by a person for this field, with an error that says what is accepted.
    public func parse(_ text: String) throws(DomainError) -> RegisterValue {
        let trimmed = try TypedText.checked(TypedText.normalisingLineEnds(text).trimmingWhitespace(), rawValue, multiLine: isMultiLine)
        switch self {
        case .severity:
            guard let number = Int(trimmed), let severity = Severity(rawValue: number) else {
                throw DomainError("invalid severity '\(text)': use 1 (general), 2 (serious) or 3 (major)")
            }
            return .number(severity.rawValue)
        case .category:
            return .text(try Self.choice(trimmed, of: Category.self, for: self))
        case .kind:
            return .text(try Self.choice(trimmed, of: ComplaintKind.self, for: self))
        case .replyVia:
            return .text(try Self.choice(trimmed, of: Channel.self, for: self))
        case .phone:
            return .text(try PhoneNumber.validated(trimmed))
        case .branch:
            return .text(try NodeID(trimmed).rawValue)
        case .satisfaction:
            throw DomainError("satisfaction is recorded with 'ticket follow-up --score 1-5'")
        case .approval:
            throw DomainError("the approval is recorded with 'ticket transition approve' by a supervisor")
        case .policyVersion, .calendarVersion:
            throw DomainError(
                "\(rawValue) is recorded when the ticket is opened; HQ re-applies a new policy or calendar to open tickets with --reapply-to-open-tickets")
        case .servicePolicy, .workCalendar:
            throw DomainError("\(rawValue) is company-wide: HQ sets it with 'branchdesk policy' or 'branchdesk calendar'")
        case .promisedDate:
            guard trimmed.isEmpty || CalendarDay(trimmed) != nil else {
                throw DomainError("invalid promised date '\(text)': use YYYY-MM-DD, e.g. 2026-11-30")
            }
            fallthrough
        default:
            if Field.required.contains(self), trimmed.isEmpty {
                throw DomainError("\(rawValue) must not be empty")
            }
            return .text(trimmed)
        }
    }

    private static func choice<Choice: RawRepresentable & CaseIterable>(
        _ text: String,
        of type: Choice.Type,
        for field: Field
    ) throws(DomainError) -> String where Choice.RawValue == String {
        guard let value = Choice(rawValue: text.lowercased()) else {
            let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw DomainError("invalid \(field.rawValue) '\(text)': use one of \(names)")
        }
        return value.rawValue
    }
}

/// The value of a register.
public enum RegisterValue: Hashable, Codable, Sendable, CustomStringConvertible {
    case text(String)
    case number(Int)
    case satisfaction(Satisfaction)
    case approval(ApprovalRecord)

    /// The value as a person reads it.
    public var description: String {
        switch self {
        case .text(let text): text
        case .number(let number): String(number)
        case .satisfaction(let satisfaction): satisfaction.description
        case .approval(let record): record.description
        }
    }

    /// The text, when the value is text.
    public var text: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// The approval decision, when the value is one.
    public var approval: ApprovalRecord? {
        if case .approval(let record) = self { return record }
        return nil
    }

    /// The number, when the value is a number.
    public var number: Int? {
        if case .number(let number) = self { return number }
        return nil
    }
}

/// The customer's satisfaction at follow-up: a score from 1 to 5 and a remark.
public struct Satisfaction: Hashable, Codable, Sendable, CustomStringConvertible {
    public let score: Int
    public let remark: String

    public init(score: Int, remark: String) throws(DomainError) {
        guard (1...5).contains(score) else {
            throw DomainError("invalid satisfaction score \(score): use 1 (very unsatisfied) to 5 (very satisfied)")
        }
        self.score = score
        self.remark = remark
    }

    public var description: String { remark.isEmpty ? "\(score)/5" : "\(score)/5 \(remark)" }
}

/// Validation of customer phone numbers (mobile, landline with area code, extensions) and the one
/// form each number is matched by.
public enum PhoneNumber {
    /// The number as given, trimmed, if it has 5 to 20 digits and only `+ - ( )` and spaces besides
    /// (full-width forms, as Chinese input methods type them, included).
    public static func validated(_ text: String) throws(DomainError) -> String {
        let trimmed = text.trimmingWhitespace()
        let ascii = String(trimmed.map(halfWidth))
        let allowed = Set("0123456789+-() ")
        let digits = ascii.filter(\.isASCII).filter(\.isNumber).count
        guard ascii.allSatisfy({ allowed.contains($0) }), (5...20).contains(digits) else {
            throw DomainError(
                "invalid phone '\(text)': use 5 to 20 digits, optionally with + - ( ) and spaces (e.g. 138 0013 8000 or 021-6234 5678)"
            )
        }
        return trimmed
    }

    /// The number in the one form that every way of typing it shares, for matching customers:
    /// digits only, full-width digits as ASCII, China's country code (`+86`, `0086`, `86` before
    /// a mobile) dropped and a landline's trunk `0` restored — `+86-138-0013-8000`,
    /// `0086 13800138000` and `138 0013 8000` are all `13800138000`; `+86 21 6234 5678` and
    /// `021-6234 5678` are `02162345678`; `400-820-8820` is `4008208820`. Other countries'
    /// numbers keep their `+` and code.
    public static func normalised(_ text: String) -> String {
        let ascii = String(text.trimmingWhitespace().map(halfWidth))
        var digits = ascii.filter { $0.isASCII && $0.isNumber }
        let international = ascii.hasPrefix("+") || digits.hasPrefix("00")
        if digits.hasPrefix("00") { digits.removeFirst(2) }
        let mobileWithCode = digits.count == 13 && digits.hasPrefix("861")
        guard international || mobileWithCode else { return digits }
        guard digits.hasPrefix("86") else { return "+" + digits }
        digits.removeFirst(2)
        let national = digits.hasPrefix("1") || digits.hasPrefix("400") || digits.hasPrefix("800") || digits.hasPrefix("0")
        return national ? digits : "0" + digits
    }

    /// The ASCII form of a full-width digit, plus, minus, parenthesis or ideographic space.
    private static func halfWidth(_ character: Character) -> Character {
        guard let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1 else { return character }
        switch scalar.value {
        case 0xFF10...0xFF19, 0xFF08, 0xFF09, 0xFF0B, 0xFF0D: return Character(Unicode.Scalar(scalar.value - 0xFEE0)!)
        case 0x3000: return " "
        default: return character
        }
    }

    /// The number with all but the first three and last four digits of its national number
    /// hidden, for lists and logs: `138 0013 8000` → `138 **** 8000`, `+86-138-0013-8000` →
    /// `+86-138-****-8000`. Numbers of seven digits or fewer hide all but the last two.
    public static func masked(_ number: String) -> String {
        let digitCount = number.filter(\.isNumber).count
        let key = normalised(number).filter(\.isNumber)
        // The digits of a country code or international prefix before the national number.
        let prefix = max(0, digitCount - key.count + (key.hasPrefix("0") && !number.filter(\.isNumber).hasPrefix("0") ? 1 : 0))
        let national = digitCount - prefix
        let (keepFirst, keepLast) = national > 7 ? (prefix + 3, 4) : (prefix, 2)
        var seen = 0
        return String(number.map { character -> Character in
            guard character.isNumber else { return character }
            seen += 1
            return seen <= keepFirst || seen > digitCount - keepLast ? character : "*"
        })
    }
}

/// A date without time, `YYYY-MM-DD`.
public struct CalendarDay: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Parses `YYYY-MM-DD`; nil when the text is not a real date.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...CalendarDay.daysIn(month: month, year: year)).contains(day) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String {
        let y = String(year), m = month < 10 ? "0\(month)" : "\(month)", d = day < 10 ? "0\(day)" : "\(day)"
        return "\(y)-\(m)-\(d)"
    }

    /// The compact form used in ticket numbers, `YYYYMMDD`.
    public var compact: String { description.replacingAll("-", with: "") }

    public static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

extension String {
    /// The string without leading and trailing white space (Foundation-free, to keep the core pure).
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
