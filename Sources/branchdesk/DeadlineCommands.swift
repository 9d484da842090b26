import ArgumentParser
import Foundation
import Replication
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

struct TicketDeadlinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sla", abstract: "Show a ticket's deadlines and how each was computed.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The ticket number (or id).") var number: String

    func run() async throws {
        let store = try data.readStore()
        let deadlines = try await store.deadlines(of: number, now: Date())
        if output.json { try Output.json(deadlines) } else { Output.deadlines(deadlines, explained: true) }
    }
}

struct WaitTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Mark a ticket as waiting for the customer: its resolution clock stops.")

    @OptionGroup var edit: EditOptions
    @Option(help: "What the customer is to provide, for the notes.") var reason: String?

    func run() async throws {
        let reason = reason ?? ""
        try await edit.commit("wait") { try $0.waitForCustomer(reason: reason) }
    }
}

struct ResumeTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "The customer answered: restart the ticket's resolution clock.")

    @OptionGroup var edit: EditOptions

    func run() async throws {
        try await edit.commit("resume") { try $0.resumeFromWaiting() }
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "The company's deadlines per severity (set at HQ, replicated to every branch).",
        subcommands: [ShowPolicy.self, SetPolicy.self]
    )
}

struct ShowPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the deadlines in force on this node.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let policy = try await data.readStore().companySettings().policy
        if output.json { try Output.json(policy) } else { Output.policy(policy) }
    }
}

struct SetPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change the deadlines of one severity (HQ only).",
        discussion: "Periods are hours (24h), calendar days (7d) or working days of the company calendar (3wd).")

    @OptionGroup var data: DataOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: "The severity whose deadlines change: 1, 2 or 3.") var severity: Severity?
    @Option(name: .customLong("first-reply"), help: "How soon the customer must hear back, e.g. 24h.") var firstReply: String?
    @Option(help: "How soon the complaint must be resolved, e.g. 3wd.") var resolution: String?
    @Option(name: .customLong("cross-department-as-serious"), help: "Whether a general complaint involving several departments gets the severity 2 deadlines: true or false.")
    var crossDepartmentAsSerious: Bool?
    @Option(name: .customLong("due-soon"), help: "Hours before a deadline at which it shows as due soon.") var dueSoon: Int?
    @Option(name: .customLong("on-time-target"), help: "The percent of deadlines the company means to meet (the dashboard's colours).")
    var onTimeTarget: Int?
    @OptionGroup var reapply: ReapplyOptions

    func validate() throws {
        if severity == nil, firstReply != nil || resolution != nil {
            throw ValidationError("give --severity 1|2|3 with --first-reply or --resolution")
        }
        if firstReply == nil, resolution == nil, crossDepartmentAsSerious == nil, dueSoon == nil, onTimeTarget == nil,
            !reapply.reapplyToOpenTickets
        {
            throw ValidationError(
                "nothing to change: give --severity with --first-reply and/or --resolution, --cross-department-as-serious, --due-soon, --on-time-target or --reapply-to-open-tickets"
            )
        }
        if let dueSoon, !(1...240).contains(dueSoon) { throw ValidationError("--due-soon must be 1 to 240 hours") }
        if let onTimeTarget, !(1...100).contains(onTimeTarget) { throw ValidationError("--on-time-target must be 1 to 100 (percent)") }
    }

    func run() async throws {
        let store = try data.openStore()
        var policy = try await store.companySettings().policy
        if let severity {
            var rule = policy.rule(severity: severity, departments: 1).rule
            if let firstReply { rule.firstReply = try Period(firstReply) }
            if let resolution { rule.resolution = try Period(resolution) }
            policy.rules[severity.rawValue] = rule
        }
        if let crossDepartmentAsSerious { policy.crossDepartmentIsSerious = crossDepartmentAsSerious }
        if let dueSoon { policy.dueSoonHours = dueSoon }
        if let onTimeTarget { policy.onTimeTargetPercent = onTimeTarget }
        policy.reappliesToOpenTickets = reapply.reapplyToOpenTickets
        try await store.setPolicy(policy, actor: actor.actor)
        Output.policy(policy)
    }
}

/// `--reapply-to-open-tickets`: whether a new policy or calendar also governs the open tickets.
struct ReapplyOptions: ParsableArguments {
    @Flag(
        name: .customLong("reapply-to-open-tickets"),
        help: "Also judge the tickets still open by this version (by default each ticket keeps the version it was recorded under).")
    var reapplyToOpenTickets = false
}

struct CalendarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calendar",
        abstract: "The company's working days: rest weekdays, holidays, swapped working days (调休), time zones.",
        discussion: "Set at HQ and replicated to every branch. Deadlines in working days count only working days.",
        subcommands: [ShowCalendar.self, ChangeCalendar.self]
    )
}

struct ShowCalendar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the calendar in force on this node.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Also list the working days of this month, YYYY-MM.") var month: String?

    func run() async throws {
        let calendar = try await data.readStore().companySettings().calendar
        if output.json { try Output.json(calendar) } else { Output.calendar(calendar, month: try month.map { try ReportMonth($0) }) }
    }
}

struct ChangeCalendar: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Change the calendar (HQ only); each option may be repeated.",
        discussion: """
            Examples:
              branchdesk calendar set --holiday 2026-10-01:国庆节 --holiday 2026-10-02:国庆节
              branchdesk calendar set --working-day 2026-10-10:国庆调休
              branchdesk calendar set --remove 2026-10-02
              branchdesk calendar set --rest-days sat,sun --time-zone Asia/Shanghai
              branchdesk calendar set --branch-time-zone xj-001=Asia/Urumqi
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var actor: ActorOptions
    @Option(help: ArgumentHelp("A public holiday, with an optional name.", valueName: "YYYY-MM-DD[:name]")) var holiday: [String] = []
    @Option(name: .customLong("working-day"), help: ArgumentHelp("A rest day that is worked (调休).", valueName: "YYYY-MM-DD[:why]"))
    var workingDay: [String] = []
    @Option(help: ArgumentHelp("Make this day ordinary again (neither holiday nor swapped).", valueName: "YYYY-MM-DD")) var remove: [String] = []
    @Option(name: .customLong("rest-days"), help: ArgumentHelp("The weekly rest days.", valueName: "sat,sun")) var restDays: String?
    @Option(name: .customLong("time-zone"), help: "The company's time zone (IANA name).") var timeZone: String?
    @Option(name: .customLong("branch-time-zone"), help: ArgumentHelp("A branch in another time zone; an empty zone removes it.", valueName: "node=Zone"))
    var branchTimeZone: [String] = []
    @OptionGroup var reapply: ReapplyOptions

    func validate() throws {
        if holiday.isEmpty, workingDay.isEmpty, remove.isEmpty, restDays == nil, timeZone == nil, branchTimeZone.isEmpty,
            !reapply.reapplyToOpenTickets
        {
            throw ValidationError("nothing to change: give --holiday, --working-day, --remove, --rest-days, --time-zone or --branch-time-zone")
        }
    }

    func run() async throws {
        let store = try data.openStore()
        var calendar = try await store.companySettings().calendar
        for text in remove {
            let day = try Self.day(text)
            calendar.holidays[day] = nil
            calendar.workingDays[day] = nil
        }
        for text in holiday {
            let (day, name) = try Self.dayAndLabel(text)
            calendar.holidays[day] = name
            calendar.workingDays[day] = nil
        }
        for text in workingDay {
            let (day, why) = try Self.dayAndLabel(text)
            calendar.workingDays[day] = why
            calendar.holidays[day] = nil
        }
        if let restDays {
            let days = restDays.split(separator: ",").map { Weekday(String($0)) }
            guard !days.contains(nil) else { throw ValidationError("invalid --rest-days '\(restDays)': use day names, e.g. sat,sun") }
            calendar.restWeekdays = Set(days.compactMap { $0 })
        }
        if let timeZone { calendar.timeZone = timeZone }
        for text in branchTimeZone {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, NodeID.isValid(parts[0]) else {
                throw ValidationError("invalid --branch-time-zone '\(text)': use NODE=ZONE, e.g. xj-001=Asia/Urumqi")
            }
            calendar.branchTimeZones[parts[0]] = parts[1].isEmpty ? nil : parts[1]
        }
        calendar.reappliesToOpenTickets = reapply.reapplyToOpenTickets
        try await store.setCalendar(calendar, actor: actor.actor)
        Output.calendar(calendar, month: nil)
    }

    private static func day(_ text: String) throws -> String {
        guard let day = CalendarDay(text.trimmingWhitespace()) else { throw ValidationError("invalid day '\(text)': use YYYY-MM-DD") }
        return day.description
    }

    private static func dayAndLabel(_ text: String) throws -> (String, String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        return (try day(parts.first ?? ""), parts.count > 1 ? parts[1].trimmingWhitespace() : "")
    }
}
