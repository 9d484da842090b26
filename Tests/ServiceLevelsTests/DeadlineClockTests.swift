import Foundation
import ServiceLevels
import Testing
import TicketModel

/// The working-day arithmetic of DESIGN §1 on hand-checked dates (2026 calendar).
@Suite struct DeadlineClockTests {
    /// National Day 2026 as a Chinese company would set it: 1–7 October off, with Sunday 20
    /// September and Saturday 10 October worked instead (调休).
    static let calendar = WorkCalendar(
        branchTimeZones: ["xj-001": "Asia/Urumqi"],
        holidays: Dictionary(uniqueKeysWithValues: (1...7).map { ("2026-10-0\($0)", "国庆节") }),
        workingDays: ["2026-09-20": "国庆调休", "2026-10-10": "国庆调休"])
    static let clock = DeadlineClock(policy: .standard, calendar: calendar)

    /// `2026-11-18 10:00` in `zone` (Shanghai unless told).
    static func at(_ text: String, _ zone: String = "Asia/Shanghai") -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.date(from: text)!
    }

    static func timeline(
        received: Date, severity: Severity = .general, departments: Int = 1, replied: Date? = nil, resolved: Date? = nil,
        waits: [TicketTimeline.Wait] = [], holders: [TicketTimeline.Holder]? = nil
    ) -> TicketTimeline {
        TicketTimeline(
            receivedAt: received, severity: severity, departments: departments, firstReplyAt: replied, resolvedAt: resolved,
            waits: waits, holders: holders ?? [.init(since: received, branch: "sh-012", assignee: "王芳")])
    }

    func due(_ timeline: TicketTimeline, branch: String = "sh-012", now: Date? = nil) -> (reply: Deadline, resolution: Deadline) {
        let deadlines = Self.clock.deadlines(of: timeline, branch: branch, now: now ?? timeline.receivedAt)
        return (deadlines[0], deadlines[1])
    }

    @Test func threeWorkingDaysCountFromTheDayAfterReceipt() {
        // Wednesday: Thursday, Friday, Monday.
        let wednesday = due(Self.timeline(received: Self.at("2026-11-18 10:00")))
        #expect(wednesday.resolution.due == Self.at("2026-11-24 00:00"))
        // Friday: the weekend does not count: Monday, Tuesday, Wednesday.
        let friday = due(Self.timeline(received: Self.at("2026-11-20 17:30")))
        #expect(friday.resolution.due == Self.at("2026-11-26 00:00"))
        #expect(friday.resolution.explanation.contains { $0.contains("2026-11-23, 2026-11-24, 2026-11-25") })
    }

    @Test func aDeadlineCrossingAHolidaySkipsItAndCountsTheSwappedSaturday() {
        // Wednesday 30 September: 1–7 October are off; Thursday 8, Friday 9, Saturday 10 (worked).
        let deadline = due(Self.timeline(received: Self.at("2026-09-30 15:00"))).resolution
        #expect(deadline.due == Self.at("2026-10-11 00:00"))
        #expect(deadline.explanation.contains { $0.contains("2026-10-08, 2026-10-09, 2026-10-10") })
        #expect(deadline.explanation.contains { $0.contains("2026-10-01 (holiday: 国庆节)") })
    }

    @Test func aSwappedWorkingSundayCounts() {
        // Friday 18 September: Saturday rests, Sunday 20 is worked, then Monday and Tuesday.
        let deadline = due(Self.timeline(received: Self.at("2026-09-18 09:00"))).resolution
        #expect(deadline.due == Self.at("2026-09-23 00:00"))
    }

    @Test func seriousAndCrossDepartmentComplaintsGetSevenWorkingDays() {
        let serious = due(Self.timeline(received: Self.at("2026-11-18 10:00"), severity: .serious)).resolution
        // Thu 19, Fri 20, Mon 23 … Fri 27.
        #expect(serious.due == Self.at("2026-11-28 00:00"))
        let crossDepartment = due(Self.timeline(received: Self.at("2026-11-18 10:00"), departments: 2)).resolution
        #expect(crossDepartment.due == serious.due)
        #expect(crossDepartment.explanation[0].contains("2 departments"))
    }

    @Test func aFirstReplyPeriodEndingOnARestDayMovesToTheEndOfTheNextWorkingDay() {
        let friday = due(Self.timeline(received: Self.at("2026-11-20 15:00"))).reply
        #expect(friday.due == Self.at("2026-11-24 00:00"))
        let tuesday = due(Self.timeline(received: Self.at("2026-11-17 15:00"))).reply
        #expect(tuesday.due == Self.at("2026-11-18 15:00"))
    }

    @Test func theBranchsTimeZoneDecidesWhichDayTheComplaintArrivedOn() {
        // 00:30 on Friday in Shanghai is 22:30 on Thursday in Urumqi.
        let instant = Self.at("2026-11-20 00:30")
        let shanghai = due(Self.timeline(received: instant), branch: "sh-012").resolution
        let urumqi = due(Self.timeline(received: instant), branch: "xj-001").resolution
        #expect(shanghai.due == Self.at("2026-11-26 00:00"))  // Mon, Tue, Wed
        #expect(urumqi.due == Self.at("2026-11-25 00:00", "Asia/Urumqi"))  // Fri, Mon, Tue
    }

    @Test func aReplyIsJudgedByWhenItWasMadeAndABreachNamesWhoHeldTheTicket() {
        let received = Self.at("2026-11-18 10:00")
        let onTime = due(Self.timeline(received: received, replied: Self.at("2026-11-19 09:59")), now: Self.at("2026-12-01 00:00"))
        #expect(onTime.reply.state == .met)
        let holders: [TicketTimeline.Holder] = [
            .init(since: received, branch: "sh-012", assignee: "王芳"),
            .init(since: Self.at("2026-11-18 12:00"), branch: "hq", assignee: "李经理"),
        ]
        let late = due(
            Self.timeline(received: received, replied: Self.at("2026-11-19 10:01"), holders: holders), now: Self.at("2026-12-01 00:00"))
        #expect(late.reply.state == .metLate)
        #expect(late.reply.breachedBy == "hq (李经理)")
        // Still open and past due: breached; due soon within the policy's four hours.
        #expect(late.resolution.state == .breached)
        let soon = due(Self.timeline(received: received), now: Self.at("2026-11-23 21:00"))
        #expect(soon.resolution.state == .dueSoon)
        #expect(soon.reply.state == .breached)
    }

    @Test func theResolutionClockStopsWhileTheTicketWaitsForTheCustomer() {
        let received = Self.at("2026-11-18 10:00")
        let waits: [TicketTimeline.Wait] = [.init(start: Self.at("2026-11-19 10:00"), end: Self.at("2026-11-21 10:00"))]
        let paused = due(Self.timeline(received: received, waits: waits)).resolution
        #expect(paused.due == Self.at("2026-11-26 00:00"))  // two days later than without the wait
        let waiting = due(Self.timeline(received: received, waits: [.init(start: Self.at("2026-11-19 10:00"), end: nil)]))
        #expect(waiting.resolution.state == .paused && waiting.resolution.due == nil)
        #expect(waiting.reply.state == .onTime)  // the first reply is owed regardless
    }

    /// A pause of seconds must not move a deadline onto a rest day: received Tuesday 12-01, due
    /// Friday 12-04 24:00; five seconds of waiting would make that Saturday 00:00:05.
    @Test func aPauseThatEndsOnARestDayMovesTheDeadlineToTheEndOfTheNextWorkingDay() {
        let received = Self.at("2026-12-01 10:00")
        #expect(due(Self.timeline(received: received)).resolution.due == Self.at("2026-12-05 00:00"))
        let start = Self.at("2026-12-02 10:00")
        let seconds: [TicketTimeline.Wait] = [.init(start: start, end: start + 5)]
        let paused = due(Self.timeline(received: received, waits: seconds)).resolution
        #expect(paused.due == Self.at("2026-12-08 00:00"))  // Monday 12-07 24:00
        #expect(paused.explanation.contains { $0.contains("2026-12-05") && $0.contains("rest day") })
        // With Monday a holiday, 61 seconds of waiting lands on Tuesday's end, not on the holiday.
        var calendar = Self.calendar
        calendar.holidays["2026-12-07"] = "公司假日"
        let clock = DeadlineClock(policy: .standard, calendar: calendar)
        let minute: [TicketTimeline.Wait] = [.init(start: start, end: start + 61)]
        let holiday = clock.deadlines(of: Self.timeline(received: received, waits: minute), branch: "sh-012", now: received)[1]
        #expect(holiday.due == Self.at("2026-12-09 00:00"))
    }

    /// A reopened ticket is a new round: round 1's deadlines stay as they were met, round 2 has its
    /// own, counted from the reopening.
    @Test func eachRoundHasItsOwnDeadlines() {
        let received = Self.at("2026-11-18 10:00")
        let reopened = Self.at("2026-11-23 09:00")
        let timeline = TicketTimeline(
            receivedAt: received, severity: .general, departments: 1,
            rounds: [
                .init(number: 1, start: received, firstReplyAt: Self.at("2026-11-18 15:00"), resolvedAt: Self.at("2026-11-20 10:00"), waits: []),
                .init(number: 2, start: reopened, firstReplyAt: nil, resolvedAt: nil, waits: []),
            ],
            holders: [.init(since: received, branch: "sh-012", assignee: "王芳")])
        let deadlines = Self.clock.deadlines(of: timeline, branch: "sh-012", now: Self.at("2026-11-23 12:00"))
        #expect(deadlines.map(\.round) == [1, 1, 2, 2])
        #expect(deadlines.prefix(2).map(\.state) == [.met, .met])
        #expect(deadlines[3].due == Self.at("2026-11-27 00:00"))  // Tuesday, Wednesday, Thursday after Monday's reopening
        #expect(deadlines[3].state == .onTime && deadlines.headline?.round == 2)
        #expect(deadlines[2].explanation.first?.hasPrefix("reopened (round 2) 2026-11-23 09:00") == true)
    }

    @Test func periodsParseAndPrint() throws {
        #expect(try Period("24h") == .hours(24))
        #expect(try Period(" 3WD ") == .workingDays(3))
        #expect(try Period("7d").description == "7d")
        for bad in ["", "h", "3w", "-1d", "0h", "three days"] {
            #expect(throws: DomainError.self) { try Period(bad) }
        }
    }

    @Test func calendarDayOrdinalsRoundTripAndKnowTheirWeekday() {
        for ordinal in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CalendarDay(ordinal: ordinal).ordinal == ordinal)
        }
        #expect(CalendarDay("2026-11-24")!.weekday == .tuesday)
        #expect(CalendarDay("2000-02-29")!.adding(days: 1).description == "2000-03-01")
        #expect(Weekday("Sat") == .saturday && Weekday("7") == .sunday && Weekday("x") == nil)
    }

    @Test func aCalendarWithoutWorkingDaysOrWithAnUnknownZoneIsRefused() {
        #expect(throws: DomainError.self) { try WorkCalendar(restWeekdays: Set(Weekday.allCases)).validate() }
        #expect(throws: DomainError.self) { try WorkCalendar(timeZone: "Mars/Olympus").validate() }
        #expect(throws: Never.self) { try Self.calendar.validate() }
    }
}
