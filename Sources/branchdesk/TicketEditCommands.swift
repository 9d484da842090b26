import ArgumentParser
import Foundation
import Replication
import TicketModel
import TicketStore

/// The options every editing command shares, and the one way they commit and report an edit.
struct EditOptions: ParsableArguments {
    @OptionGroup var data: DataOptions
    @OptionGroup var actor: ActorOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The ticket number (or id).") var number: String

    /// Commits the changes `makeChanges` derives from the current ticket as one op, then reports.
    func commit(
        _ action: String,
        _ makeChanges: @escaping @Sendable (TicketDocument) throws -> [Change]
    ) async throws {
        try await commit(action) { document, _ in try makeChanges(document) }
    }

    /// `commit`, for changes that depend on this node's role (an approval's authority).
    func commit(
        _ action: String,
        _ makeChanges: @escaping @Sendable (TicketDocument, NodeRole) throws -> [Change]
    ) async throws {
        let store = try data.openStore()
        let role = store.identity.role
        let ticket = try await store.edit(number, actor: actor.actor, action: action) { try makeChanges($0, role) }
        if output.json {
            try Output.json(ticket)
        } else {
            let done = ticket.history.last { $0.action == action }?.summary ?? action
            print("\(ticket.number)  \(done)")
            print("  status \(ticket.status) · next: \(ticket.allowedTransitions.joined(separator: ", "))")
        }
    }
}

struct UpdateTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change fields of a ticket (last writer wins; concurrent edits show as conflicts).")

    @OptionGroup var edit: EditOptions
    @Option var title: String?
    @Option var customer: String?
    @Option var phone: String?
    @Option(help: "What the customer asks for.") var request: String?
    @Option(help: "Facts and reasons as established.") var facts: String?
    @Option(help: "What it is about.") var category: Category?
    @Option(help: "appeal, claim (compensation) or non-quality.") var kind: ComplaintKind?
    @Option(help: "1 general, 2 serious or cross-department, 3 major (HQ must act).") var severity: Severity?
    @Option var department: String?
    @Option(help: "The proposed resolution.") var resolution: String?
    @Option(name: .customLong("promised-date"), help: "YYYY-MM-DD.") var promisedDate: String?

    func run() async throws {
        var values: [Field: RegisterValue] = [:]
        let typed: [(Field, String?)] = [
            (.title, title), (.customer, customer), (.phone, phone), (.request, request), (.facts, facts),
            (.category, category?.rawValue), (.kind, kind?.rawValue), (.severity, severity.map { String($0.rawValue) }),
            (.department, department),
            (.resolution, resolution), (.promisedDate, promisedDate),
        ]
        for case (let field, let text?) in typed { values[field] = try field.parse(text) }
        guard !values.isEmpty else {
            throw ValidationError("give at least one field to change, e.g. --severity 2 (see --help)")
        }
        let chosen = values
        try await edit.commit("update") { try $0.update(chosen) }
    }
}

struct TransitionTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transition",
        abstract: "Move a ticket through the process: accept, reject, investigate, submit, approve, reply, close, reopen.")

    @OptionGroup var edit: EditOptions
    @Argument(help: "The transition.") var transition: Transition
    @Option(help: "Why (required for reject: the reason told to the customer).") var reason: String = ""

    func run() async throws {
        let (transition, reason) = (transition, reason)
        try await edit.commit(transition.rawValue) { document, role in
            try document.transition(transition, reason: reason, authority: role)
        }
    }
}

struct EscalateTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "escalate", abstract: "Escalate a ticket to the branch manager or to HQ.")

    @OptionGroup var edit: EditOptions
    @Option(help: "manager or hq (default: the next level).") var to: EscalationLevel?

    func run() async throws {
        let level = to
        try await edit.commit("escalate") { try $0.escalate(to: level) }
    }
}

struct TransferTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer",
        abstract: "Hand a ticket to another branch (HQ only): that branch handles it from then on.")

    @OptionGroup var edit: EditOptions
    @Option(help: "The node id of the branch that takes the ticket over.") var to: String

    func validate() throws {
        guard NodeID.isValid(to) else { throw ValidationError("invalid --to '\(to)': give the node id of a branch, e.g. sh-pudong-012") }
    }

    func run() async throws {
        let node = try NodeID(to)
        try await edit.commit("transfer") { try $0.transfer(to: node) }
    }
}

struct AssignTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign", abstract: "Hand a ticket to a person (and department).")

    @OptionGroup var edit: EditOptions
    @Option(help: "The person now responsible.") var to: String
    @Option(help: "Their department.") var department: String?

    func run() async throws {
        let (person, department) = (to, department)
        try await edit.commit("assign") { try $0.assign(to: person, department: department) }
    }
}

struct NoteTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Add a note, a contact with the customer, or a correction of an intake value.")

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case note, contact, correction
    }

    enum IntakeValue: String, ExpressibleByArgument, CaseIterable {
        case receivedAt = "received-at", channel, statement, takenBy = "taken-by"
    }

    @OptionGroup var edit: EditOptions
    @Argument(help: "The text (or give --body-file).") var text: String?
    @OptionGroup var bodyFile: BodyFileOptions
    @Option(help: "note, contact or correction.") var kind: Kind = .note
    @Option(help: "For a contact: how the customer was reached.") var via: Channel?
    @Option(help: "For a correction: the intake value it corrects.") var corrects: IntakeValue?

    func validate() throws {
        if (text == nil) == (bodyFile.bodyFile == nil) { throw ValidationError("give the text as an argument or with --body-file, once") }
        if kind == .correction, corrects == nil {
            throw ValidationError("a correction names what it corrects: --corrects received-at|channel|statement|taken-by")
        }
    }

    func run() async throws {
        let entryKind: EntryKind = kind == .contact ? .contact : kind == .correction ? .correction : .note
        let entry = Entry(kind: entryKind, text: try bodyFile.read() ?? text ?? "", via: via, subject: corrects?.rawValue)
        try await edit.commit(kind.rawValue) { try $0.append(entry) }
    }
}

struct TagTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Add or remove tags.")

    @OptionGroup var edit: EditOptions
    @Option(help: "A tag to add (repeatable).") var add: [String] = []
    @Option(help: "A tag to remove (repeatable).") var remove: [String] = []

    func validate() throws {
        if add.isEmpty, remove.isEmpty { throw ValidationError("give --add TAG or --remove TAG") }
    }

    func run() async throws {
        let (add, remove) = (add, remove)
        try await edit.commit("tag") { try $0.tag(add: add, remove: remove) }
    }
}

struct InvestigateTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "investigate", abstract: "Write sections of the investigation report.")

    @OptionGroup var edit: EditOptions
    @Option var cause: String?
    @Option(help: "The course of events.") var course: String?
    @Option(help: "The person responsible.") var responsible: String?
    @Option var conclusion: String?
    @Option var countermeasure: String?
    @Option var prevention: String?

    func run() async throws {
        var sections: [Field: String] = [:]
        let typed: [(Field, String?)] = [
            (.cause, cause), (.course, course), (.responsible, responsible), (.conclusion, conclusion),
            (.countermeasure, countermeasure), (.prevention, prevention),
        ]
        for case (let field, let text?) in typed { sections[field] = text }
        let report = sections
        try await edit.commit("investigate") { try $0.investigate(report) }
    }
}

struct ReplyTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reply", abstract: "Record the reply given to the customer (moves the ticket to replied).")

    @OptionGroup var edit: EditOptions
    @Option(help: "What the customer was told (or give --body-file).") var message: String?
    @OptionGroup var bodyFile: BodyFileOptions
    @Option(help: "How: phone, letter, email, walk-in, …") var via: Channel
    @Option(name: .customLong("promised-date"), help: "What was promised by when, YYYY-MM-DD.") var promisedDate: CalendarDay?

    func validate() throws {
        if (message == nil) == (bodyFile.bodyFile == nil) { throw ValidationError("give what the customer was told with --message or --body-file, once") }
    }

    func run() async throws {
        let (message, via, promised) = (try bodyFile.read() ?? message ?? "", via, promisedDate)
        try await edit.commit("reply") { try $0.reply(message: message, via: via, promisedDate: promised) }
    }
}

struct FollowUpTicket: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow-up", abstract: "Record the follow-up call: the customer's satisfaction, then close or reopen.")

    @OptionGroup var edit: EditOptions
    @Option(help: "Satisfaction from 1 (very unsatisfied) to 5 (very satisfied).") var score: Int
    @Option(help: "What the customer said.") var remark: String = ""
    @Flag(help: "Close the ticket after recording.") var close = false
    @Flag(help: "Reopen the ticket (the customer is not satisfied).") var reopen = false

    func validate() throws {
        if close, reopen { throw ValidationError("choose --close or --reopen, not both") }
    }

    func run() async throws {
        let satisfaction = try Satisfaction(score: score, remark: remark)
        let next: Transition? = close ? .close : reopen ? .reopen : nil
        try await edit.commit("follow-up") { try $0.followUp(satisfaction, then: next) }
    }
}
