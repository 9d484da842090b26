import Foundation
import ServiceLevels
import TicketModel

/// A calendar month, `YYYY-MM`: the period of a monthly report.
public struct ReportMonth: Hashable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int

    /// Parses `2026-11`.
    public init(_ text: String) throws(DomainError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
            (1...12).contains(month), year >= 1970
        else {
            throw DomainError("invalid month '\(text)': use YYYY-MM, e.g. 2026-11")
        }
        self.year = year
        self.month = month
    }

    /// The month `day` falls in.
    public init(containing day: CalendarDay) {
        year = day.year
        month = day.month
    }

    /// The month before this one.
    public var previous: ReportMonth { ReportMonth(containing: firstDay.adding(days: -1)) }
    /// The month after this one.
    public var next: ReportMonth { ReportMonth(containing: nextFirstDay) }

    public var description: String { "\(year)-\(month < 10 ? "0" : "")\(month)" }

    /// The month's first day.
    public var firstDay: CalendarDay { CalendarDay(year: year, month: month, day: 1)! }

    /// The first day of the next month.
    public var nextFirstDay: CalendarDay {
        month == 12 ? CalendarDay(year: year + 1, month: 1, day: 1)! : CalendarDay(year: year, month: month + 1, day: 1)!
    }

    /// From midnight at the start of the month to midnight at its end, in `zone`.
    public func interval(in zone: TimeZone) -> Range<Date> {
        DeadlineClock.endOfDay(firstDay.adding(days: -1), in: zone)..<DeadlineClock.endOfDay(nextFirstDay.adding(days: -1), in: zone)
    }
}
