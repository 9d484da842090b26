import ArgumentParser
import Foundation
import Replication
import ServiceLevels
import TicketModel
import TicketStore

struct TicketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticket",
        abstract: "Take and handle complaint tickets.",
        subcommands: [
            OpenTicket.self, ShowTicket.self, ListTickets.self, SearchTickets.self, UpdateTicket.self,
            TransitionTicket.self, EscalateTicket.self, AssignTicket.self, TransferTicket.self, NoteTicket.self, TagTicket.self,
            InvestigateTicket.self, ReplyTicket.self, FollowUpTicket.self, WaitTicket.self, ResumeTicket.self,
            TicketDeadlinesCommand.self,
        ]
    )
}

struct OpenTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open", abstract: "Record a new complaint and print its ticket number.")

    @OptionGroup var data: DataOptions
    @OptionGroup var actor: ActorOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The customer's name.") var customer: String
    @Option(help: "The customer's phone number.") var phone: String
    @Option(help: "How the complaint came in.") var channel: Channel
    @Option(help: "What it is about.") var category: Category
    @Option(help: "1 general, 2 serious or cross-department, 3 major (HQ must act).") var severity: Severity
    @Option(help: "A short title.") var title: String
    @Option(help: "The customer's statement: facts and reasons as told.") var body: String = ""
    @OptionGroup var bodyFile: BodyFileOptions
    @Option(help: "What the customer asks for.") var request: String = ""
    @Option(help: "appeal, claim (compensation) or non-quality.") var kind: ComplaintKind = .appeal
    @Option(
        name: .customLong("received-at"),
        help: "When it was received, if not now: 'YYYY-MM-DD HH:MM' in the node's time zone, or ISO 8601.")
    var receivedAt: String?
    @Option(help: "The responsible department.") var department: String = ""
    @Option(name: .customLong("tag"), help: "A tag (repeatable).") var tags: [String] = []

    func validate() throws {
        if bodyFile.bodyFile != nil, !body.isEmpty { throw ValidationError("give the statement with --body or --body-file, not both") }
    }

    func run() async throws {
        let body = try bodyFile.read() ?? body
        let store = try data.openStore()
        let received = try receivedAt.map { try TimeArgument.parse($0, zone: store.identity.timeZone) }
        let draft = try TicketDraft(
            channel: channel, receivedAt: received, takenBy: actor.actor, customer: customer, phone: phone,
            title: title, statement: body, request: request, category: category, kind: kind, severity: severity,
            department: department, tags: tags)
        let ticket = try await store.openTicket(draft, actor: actor.actor)
        if output.json { try Output.json(ticket) } else { print(ticket.number) }
    }
}

struct ShowTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a ticket with its notes, history and conflicts.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The ticket number (or id).") var number: String

    func run() async throws {
        let store = try data.readStore()
        let ticket = try await store.ticket(number)
        if output.json { try Output.json(ticket) } else {
            Output.ticket(ticket, zone: store.identity.timeZone)
            print("\ndeadlines (explained by 'ticket sla \(ticket.number)'):")
            Output.deadlines(try await store.deadlines(of: ticket.id, now: Date()), explained: false)
        }
    }
}

struct ListTickets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tickets, newest first.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var personal: PersonalDataOptions
    @Option(help: "Only tickets at this stage.") var status: Stage?
    @Flag(help: "Only tickets not yet closed or rejected.") var open = false
    @Option(help: "Only this severity.") var severity: Severity?
    @Option(help: "Only this category.") var category: Category?
    @Option(help: "Only this intake channel.") var channel: Channel?
    @Option(help: "Only tickets assigned to this person.") var assignee: String?
    @Option(help: "Only tickets opened at this node.") var origin: String?
    @Option(help: "Only this customer phone number.") var phone: String?
    @Flag(help: "Only tickets with a deadline already breached, most overdue first.") var overdue = false
    @Option(
        name: .customLong("due-within"),
        help: ArgumentHelp("Only tickets with a deadline due within this time (breached ones included), e.g. 4h or 2d.", valueName: "period"))
    var dueWithin: String?
    @Option(help: "At most this many tickets.") var limit = 100

    func validate() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        _ = try horizon(from: Date())
        if let origin, !NodeID.isValid(origin) { throw ValidationError("invalid --origin '\(origin)': give a node id") }
    }

    func run() async throws {
        let store = try data.readStore()
        var filter = TicketFilter()
        filter.stage = status
        filter.openOnly = open
        filter.severity = severity
        filter.category = category
        filter.channel = channel
        filter.assignee = assignee
        filter.origin = try origin.map { try NodeID($0) }
        filter.phone = phone
        filter.limit = limit
        guard overdue || dueWithin != nil else {
            let tickets = personal.apply(to: try await store.tickets(filter))
            if output.json { try Output.json(tickets) } else { Output.summaries(tickets, zone: store.identity.timeZone) }
            return
        }
        // Deadline filters: the urgent tickets, narrowed by the other filters, most urgent first.
        let now = Date()
        let urgent = try await store.urgentTickets(dueBy: try horizon(from: now) ?? now, now: now, filter: filter)
            .map { personal.showPersonal ? $0 : $0.maskingPersonalData() }
        if output.json {
            try Output.json(urgent)
        } else {
            Output.summaries(urgent.map(\.ticket), zone: store.identity.timeZone, deadlines: urgent.map(\.deadlines))
        }
    }

    /// The end of the `--due-within` window, if one was given.
    private func horizon(from now: Date) throws -> Date? {
        guard let dueWithin else { return nil }
        switch try? Period(dueWithin) {
        case .hours(let hours): return now + Double(hours) * 3600
        case .days(let days): return now + Double(days) * 86_400
        case .workingDays, nil: throw ValidationError("invalid --due-within '\(dueWithin)': give hours or days, e.g. 4h or 2d")
        }
    }
}

struct SearchTickets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Find tickets containing a text (any language, any substring).")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var personal: PersonalDataOptions
    @Argument(help: "The text to look for, e.g. 死机.") var text: String

    func run() async throws {
        let store = try data.readStore()
        let tickets = personal.apply(to: try await store.search(text))
        if output.json { try Output.json(tickets) } else { Output.summaries(tickets, zone: store.identity.timeZone) }
    }
}

/// Parses the times people type.
enum TimeArgument {
    static func parse(_ text: String, zone: String) throws(DomainError) -> Int64 {
        let trimmed = text.trimmingWhitespace()
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: trimmed) { return Int64(date.timeIntervalSince1970 * 1000) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone) ?? .gmt
        for format in ["yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        throw DomainError("invalid time '\(text)': use 'YYYY-MM-DD HH:MM' (the node's time zone) or ISO 8601 such as 2026-11-22T09:30:00+08:00")
    }
}
