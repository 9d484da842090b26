import Foundation
import TicketModel

/// What a ticket's history says about its deadlines, read from its ops (times are when each op
/// was made, at whichever node made it — so a reply made on time at an offline branch is on time).
public struct TicketTimeline: Sendable, Equatable {
    /// Who held the ticket from `since` on: the branch handling it and the person assigned.
    public struct Holder: Sendable, Equatable {
        public let since: Date
        public let branch: String
        public let assignee: String

        public init(since: Date, branch: String, assignee: String) {
            self.since = since
            self.branch = branch
            self.assignee = assignee
        }
    }

    /// A time the ticket waited for the customer; `end` is nil while it still waits.
    public struct Wait: Sendable, Equatable {
        public let start: Date
        public let end: Date?

        public init(start: Date, end: Date?) {
            self.start = start
            self.end = end
        }
    }

    /// One handling of the ticket: the first from its receipt, and one more from each reopening.
    public struct Round: Sendable, Equatable {
        /// 1, 2, …: the status round.
        public let number: Int
        /// When its clocks start: the receipt for round 1, the reopening for the others.
        public let start: Date
        /// The first reply to the customer in the round (a contact, a reply, or a rejection with its reason).
        public let firstReplyAt: Date?
        /// When the round was resolved: replied with the result, rejected or closed.
        public let resolvedAt: Date?
        public let waits: [Wait]

        public init(number: Int, start: Date, firstReplyAt: Date?, resolvedAt: Date?, waits: [Wait]) {
            self.number = number
            self.start = start
            self.firstReplyAt = firstReplyAt
            self.resolvedAt = resolvedAt
            self.waits = waits
        }
    }

    public let receivedAt: Date
    public let severity: Severity
    public let departments: Int
    /// At least one, in order.
    public let rounds: [Round]
    /// In time order; the first is the node that opened the ticket.
    public let holders: [Holder]

    public init(receivedAt: Date, severity: Severity, departments: Int, rounds: [Round], holders: [Holder]) {
        precondition(!rounds.isEmpty, "a ticket has at least its first round")
        self.receivedAt = receivedAt
        self.severity = severity
        self.departments = departments
        self.rounds = rounds
        self.holders = holders
    }

    /// The first round alone, for timelines that were never reopened.
    public init(
        receivedAt: Date, severity: Severity, departments: Int, firstReplyAt: Date?, resolvedAt: Date?, waits: [Wait],
        holders: [Holder]
    ) {
        self.init(
            receivedAt: receivedAt, severity: severity, departments: departments,
            rounds: [Round(number: 1, start: receivedAt, firstReplyAt: firstReplyAt, resolvedAt: resolvedAt, waits: waits)],
            holders: holders)
    }

    /// When the complaint was first resolved (round 1).
    public var resolvedAt: Date? { rounds[0].resolvedAt }

    /// Whether a round of the ticket was open at `date`: received, and not resolved for good by then.
    public func isOpen(at date: Date) -> Bool {
        guard date >= receivedAt else { return false }
        return rounds.contains { $0.start <= date && ($0.resolvedAt.map { $0 > date } ?? true) }
    }

    /// Who held the ticket at `date`.
    public func holder(at date: Date) -> Holder? { holders.last { $0.since <= date } ?? holders.first }
}

/// One deadline of a ticket, how it was computed, and where it stands.
public struct Deadline: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Encodable { case firstReply = "first-reply", resolution }

    public enum State: String, Sendable, Encodable {
        /// Met before its due time.
        case met
        /// Met, but after its due time: a breach.
        case metLate = "met-late"
        /// Open and not due soon.
        case onTime = "on-time"
        case dueSoon = "due-soon"
        /// Open and past its due time.
        case breached
        /// The clock is stopped while the ticket waits for the customer.
        case paused

        public var isBreach: Bool { self == .metLate || self == .breached }
    }

    public let kind: Kind
    /// The round of the ticket's handling it belongs to: 1, or the reopening it counts from.
    public let round: Int
    public let period: String
    /// Nil while paused: the due time is not known until the customer answers.
    public let due: Date?
    public let metAt: Date?
    public let state: State
    /// Who held the ticket when it fell due, for a breach.
    public let breachedBy: String?
    /// How the due time was computed, step by step.
    public let explanation: [String]
}

extension Array where Element == Deadline {
    /// The deadlines of the latest round: the ones still in play.
    public var currentRound: [Deadline] {
        let round = map(\.round).max()
        return filter { $0.round == round }
    }

    /// The deadline that matters now: a breached one, else the nearest one still open, else a paused one.
    public var headline: Deadline? {
        first { $0.state == .breached }
            ?? filter { $0.metAt == nil && $0.due != nil }.min { $0.due! < $1.due! }
            ?? first { $0.state == .paused }
    }
}

/// Computes a ticket's deadlines from its timeline, the company's policy and calendar (DESIGN §1).
///
/// Periods count from the day after receipt; one that ends on a rest day moves to the end of the
/// next working day; a period of days ends at midnight (24:00) of its last day. The resolution
/// clock stops while the ticket waits for the customer: each wait that began before the due time
/// moves it on by the wait's length.
public struct DeadlineClock: Sendable {
    public let policy: ServicePolicy
    public let calendar: WorkCalendar

    public init(policy: ServicePolicy, calendar: WorkCalendar) {
        self.policy = policy
        self.calendar = calendar
    }

    /// Both deadlines of every round of the ticket as of `now`, judged in the time zone of `branch`.
    public func deadlines(of timeline: TicketTimeline, branch: String, now: Date) -> [Deadline] {
        let zoneName = calendar.timeZoneName(forBranch: branch)
        let zone = TimeZone(identifier: zoneName) ?? .gmt
        let (rule, reason) = policy.rule(severity: timeline.severity, departments: timeline.departments)
        return timeline.rounds.flatMap { round in
            let started = round.number == 1 ? "received" : "reopened (round \(round.number))"
            let header = "\(started) \(Self.format(round.start, in: zone)) (\(zoneName)); \(reason)"
            return [
                deadline(.firstReply, rule.firstReply, round, timeline, metAt: round.firstReplyAt, pauses: [], zone: zone, header: header, now: now),
                deadline(.resolution, rule.resolution, round, timeline, metAt: round.resolvedAt, pauses: round.waits, zone: zone, header: header, now: now),
            ]
        }
    }

    private func deadline(
        _ kind: Deadline.Kind, _ period: Period, _ round: TicketTimeline.Round, _ timeline: TicketTimeline, metAt: Date?,
        pauses: [TicketTimeline.Wait], zone: TimeZone, header: String, now: Date
    ) -> Deadline {
        var steps = [header]
        var due = dueTime(after: round.start, period, zone: zone, steps: &steps)
        var pausedNow = false
        var waited = false
        for wait in pauses.sorted(by: { $0.start < $1.start }) where wait.start < due && wait.start < (metAt ?? .distantFuture) {
            guard let end = wait.end else {
                pausedNow = true
                steps.append("waiting for the customer since \(Self.format(wait.start, in: zone)): the clock is stopped")
                break
            }
            due += end.timeIntervalSince(wait.start)
            waited = true
            steps.append(
                "waited for the customer \(Self.format(wait.start, in: zone)) – \(Self.format(end, in: zone)): due moves to \(Self.format(due, in: zone))")
        }
        // Moved by waits onto a rest day (the instant before `due` is the day it ends in), the
        // deadline moves on to the end of the next working day, like any other.
        let dueDay = Self.day(of: due - 0.001, in: zone)
        if waited, !calendar.isWorkingDay(dueDay) {
            let moved = calendar.nextWorkingDay(after: dueDay)
            due = Self.endOfDay(moved, in: zone)
            steps.append("\(calendar.describe(dueDay)) is a rest day: due at the end of the next working day, \(calendar.describe(moved))")
        }
        let state: Deadline.State
        let dueShown: Date? = pausedNow && metAt == nil ? nil : due
        if let metAt {
            state = metAt <= due ? .met : .metLate
            steps.append("met \(Self.format(metAt, in: zone))\(state == .met ? ", on time" : ", late")")
        } else if pausedNow {
            state = .paused
        } else if now > due {
            state = .breached
        } else if due.timeIntervalSince(now) <= Double(policy.dueSoonHours) * 3600 {
            state = .dueSoon
        } else {
            state = .onTime
        }
        let breachedBy = state.isBreach ? timeline.holder(at: due).map { Self.describe($0) } : nil
        if let breachedBy { steps.append("breached while held by \(breachedBy)") }
        return Deadline(
            kind: kind, round: round.number, period: period.description, due: dueShown, metAt: metAt, state: state,
            breachedBy: breachedBy, explanation: steps)
    }

    /// The due time of `period` counted from `start` in `zone`, with the steps that explain it.
    func dueTime(after start: Date, _ period: Period, zone: TimeZone, steps: inout [String]) -> Date {
        let startDay = Self.day(of: start, in: zone)
        switch period {
        case .hours(let hours):
            let end = start + Double(hours) * 3600
            let endDay = Self.day(of: end, in: zone)
            steps.append("\(period.spelledOut) after receipt: \(Self.format(end, in: zone))")
            guard !calendar.isWorkingDay(endDay) else { return end }
            let moved = calendar.nextWorkingDay(after: endDay)
            steps.append("\(calendar.describe(endDay)) is a rest day: due at the end of the next working day, \(calendar.describe(moved))")
            return Self.endOfDay(moved, in: zone)
        case .days(let days):
            let last = startDay.adding(days: days)
            steps.append("\(period.spelledOut) counted from the day after receipt: the last day is \(calendar.describe(last))")
            guard !calendar.isWorkingDay(last) else { return Self.endOfDay(last, in: zone) }
            let moved = calendar.nextWorkingDay(after: last)
            steps.append("that is a rest day: due at the end of the next working day, \(calendar.describe(moved))")
            return Self.endOfDay(moved, in: zone)
        case .workingDays(let count):
            var day = startDay
            var counted: [String] = []
            var skipped: [String] = []
            while counted.count < count {
                day = day.adding(days: 1)
                if calendar.isWorkingDay(day) { counted.append(day.description) } else { skipped.append(calendar.describe(day)) }
            }
            steps.append("\(period.spelledOut) counted from the day after receipt: \(counted.joined(separator: ", "))")
            if !skipped.isEmpty { steps.append("not counted: \(skipped.joined(separator: "; "))") }
            return Self.endOfDay(day, in: zone)
        }
    }

    /// The calendar day of `date` in `zone`.
    public static func day(of date: Date, in zone: TimeZone) -> CalendarDay {
        let seconds = Int((date.timeIntervalSince1970 + Double(zone.secondsFromGMT(for: date))).rounded(.down))
        return CalendarDay(ordinal: Int((Double(seconds) / 86_400).rounded(.down)))
    }

    /// Midnight at the end of `day` (24:00, the start of the next day) in `zone`.
    public static func endOfDay(_ day: CalendarDay, in zone: TimeZone) -> Date {
        let utcMidnight = Date(timeIntervalSince1970: Double(day.adding(days: 1).ordinal) * 86_400)
        // The zone's offset at that moment; twice, so that a change of offset that day is honoured.
        let guess = utcMidnight - Double(zone.secondsFromGMT(for: utcMidnight))
        return utcMidnight - Double(zone.secondsFromGMT(for: guess))
    }

    /// `2026-10-08 24:00`-style local time for explanations.
    public static func format(_ date: Date, in zone: TimeZone) -> String {
        let day = Self.day(of: date, in: zone)
        let seconds = Int(date.timeIntervalSince1970) + zone.secondsFromGMT(for: date)
        let inDay = ((seconds % 86_400) + 86_400) % 86_400
        if inDay == 0 { return "\(day.adding(days: -1)) 24:00" }
        let hours = inDay / 3600, minutes = inDay / 60 % 60
        return "\(day) \(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }

    private static func describe(_ holder: TicketTimeline.Holder) -> String {
        holder.assignee.isEmpty ? holder.branch : "\(holder.branch) (\(holder.assignee))"
    }
}
