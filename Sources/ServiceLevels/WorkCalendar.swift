import Foundation
import TicketModel

/// The company's working days, set at HQ and replicated to every node: rest weekdays, public
/// holidays, and the swapped working days (调休) on which a weekend day is worked instead.
///
/// Deadlines in working days count only the days this calendar calls working days, in the time
/// zone of the branch that handles the ticket.
public struct WorkCalendar: Hashable, Codable, Sendable {
    /// The company's time zone (IANA name), used for every branch without its own.
    public var timeZone: String
    /// Branch node id → IANA time zone, for branches in another zone than the company's.
    public var branchTimeZones: [String: String]
    /// Weekdays that are rest days unless listed in `workingDays`.
    public var restWeekdays: Set<Weekday>
    /// Public holidays, `YYYY-MM-DD` → name (e.g. 国庆节).
    public var holidays: [String: String]
    /// Swapped working days (调休上班): rest weekdays that are worked, `YYYY-MM-DD` → why.
    public var workingDays: [String: String]
    /// Whether this version, once set, also governs the tickets recorded before it that are still
    /// open (`SettingHistory`); otherwise each ticket keeps the version it was recorded with.
    public var reappliesToOpenTickets: Bool

    public init(
        timeZone: String = "Asia/Shanghai",
        branchTimeZones: [String: String] = [:],
        restWeekdays: Set<Weekday> = [.saturday, .sunday],
        holidays: [String: String] = [:],
        workingDays: [String: String] = [:],
        reappliesToOpenTickets: Bool = false
    ) {
        self.timeZone = timeZone
        self.branchTimeZones = branchTimeZones
        self.restWeekdays = restWeekdays
        self.holidays = holidays
        self.workingDays = workingDays
        self.reappliesToOpenTickets = reappliesToOpenTickets
    }

    private enum CodingKeys: String, CodingKey {
        case timeZone, branchTimeZones, restWeekdays, holidays, workingDays, reappliesToOpenTickets
    }

    /// Reads versions HQ set before `reappliesToOpenTickets` existed as not re-applying.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        timeZone = try container.decode(String.self, forKey: .timeZone)
        branchTimeZones = try container.decode([String: String].self, forKey: .branchTimeZones)
        restWeekdays = try container.decode(Set<Weekday>.self, forKey: .restWeekdays)
        holidays = try container.decode([String: String].self, forKey: .holidays)
        workingDays = try container.decode([String: String].self, forKey: .workingDays)
        reappliesToOpenTickets = try container.decodeIfPresent(Bool.self, forKey: .reappliesToOpenTickets) ?? false
    }

    /// Writes the rest weekdays in order, so that one calendar is always the same text (a `Set`
    /// would be written in a different order from run to run).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(timeZone, forKey: .timeZone)
        try container.encode(branchTimeZones, forKey: .branchTimeZones)
        try container.encode(restWeekdays.sorted(), forKey: .restWeekdays)
        try container.encode(holidays, forKey: .holidays)
        try container.encode(workingDays, forKey: .workingDays)
        try container.encode(reappliesToOpenTickets, forKey: .reappliesToOpenTickets)
    }

    /// Whether people work on `day`: a swapped working day always; a holiday or rest weekday never.
    public func isWorkingDay(_ day: CalendarDay) -> Bool {
        if workingDays[day.description] != nil { return true }
        if holidays[day.description] != nil { return false }
        return !restWeekdays.contains(day.weekday)
    }

    /// Why `day` is or is not a working day, for explanations.
    public func describe(_ day: CalendarDay) -> String {
        if let reason = workingDays[day.description] { return "\(day) (\(day.weekday), worked: \(reason.isEmpty ? "调休" : reason))" }
        if let name = holidays[day.description] { return "\(day) (holiday\(name.isEmpty ? "" : ": \(name)"))" }
        return "\(day) (\(day.weekday)\(restWeekdays.contains(day.weekday) ? ", rest day" : ""))"
    }

    /// The first working day after `day`.
    public func nextWorkingDay(after day: CalendarDay) -> CalendarDay {
        var candidate = day.adding(days: 1)
        // A calendar with every day off would loop forever; `validate` refuses it.
        while !isWorkingDay(candidate) { candidate = candidate.adding(days: 1) }
        return candidate
    }

    /// The IANA time zone of the branch `branch` (a node id).
    public func timeZoneName(forBranch branch: String) -> String { branchTimeZones[branch] ?? timeZone }

    /// Checks what a person asks to store: known time zones, some working weekday.
    public func validate() throws(DomainError) {
        for name in [timeZone] + branchTimeZones.values where TimeZone(identifier: name) == nil {
            throw DomainError("unknown time zone '\(name)': use an IANA name such as Asia/Shanghai or Asia/Urumqi")
        }
        guard restWeekdays.count < 7 else { throw DomainError("every weekday is a rest day: keep at least one working weekday") }
        for day in Array(holidays.keys) + Array(workingDays.keys) where CalendarDay(day) == nil {
            throw DomainError("invalid day '\(day)': use YYYY-MM-DD")
        }
    }
}

/// A day of the week, ISO-numbered (Monday 1 … Sunday 7).
public enum Weekday: Int, Codable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday

    /// Parses `mon`, `monday`, `1` … `sun`, `sunday`, `7`.
    public init?(_ text: String) {
        let lower = text.trimmingWhitespace().lowercased()
        if let number = Int(lower), let day = Weekday(rawValue: number) {
            self = day
            return
        }
        guard lower.count >= 3, let day = Weekday.allCases.first(where: { $0.name.hasPrefix(lower) }) else { return nil }
        self = day
    }

    public var name: String {
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][rawValue - 1]
    }

    public var description: String { String(name.prefix(3)) }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension CalendarDay {
    /// Days since 1970-01-01 (negative before), by the proleptic Gregorian calendar.
    public var ordinal: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The day `ordinal` days after 1970-01-01.
    public init(ordinal: Int) {
        let z = ordinal + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        guard let civil = CalendarDay(year: year, month: month, day: day) else {
            preconditionFailure("days_from_civil inverse produced \(year)-\(month)-\(day) for ordinal \(ordinal)")
        }
        self = civil
    }

    public func adding(days: Int) -> CalendarDay { CalendarDay(ordinal: ordinal + days) }

    /// 1970-01-01 was a Thursday.
    public var weekday: Weekday { Weekday(rawValue: ((ordinal % 7 + 7) % 7 + 3) % 7 + 1)! }
}
