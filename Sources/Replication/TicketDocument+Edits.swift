import TicketModel

/// The local edits a person can make, each turned into the changes of one op.
///
/// Validation happens here, where the edit is made, against the replica's current state; the
/// merge (`apply`) never validates, so remote ops cannot be refused for local reasons.
extension TicketDocument {
    /// The changes of the op that opens a ticket.
    public static func opening(_ draft: TicketDraft, number: String, receivedAt: Int64) -> [Change] {
        let intake = Intake(
            number: number, channel: draft.channel, receivedAt: receivedAt, takenBy: draft.takenBy,
            statement: draft.statement)
        var values: [(Field, RegisterValue)] = [
            (.title, .text(draft.title)), (.customer, .text(draft.customer)), (.phone, .text(draft.phone)),
            (.category, .text(draft.category.rawValue)), (.kind, .text(draft.kind.rawValue)),
            (.severity, .number(draft.severity.rawValue)), (.assignee, .text(draft.takenBy)),
        ]
        if !draft.request.isEmpty { values.append((.request, .text(draft.request))) }
        if !draft.department.isEmpty { values.append((.department, .text(draft.department))) }
        return [.intake(intake), .status(.opened, transition: nil)]
            + values.map { .write(field: $0.0, value: $0.1, seen: []) }
            + Set(draft.tags).sorted().map { .add(.tags, element: $0) }
    }

    /// Register writes for the values that differ from the current ones (or whose field is in
    /// conflict: writing resolves it).
    public func update(_ values: [Field: RegisterValue]) throws(DomainError) -> [Change] {
        let changes = values.sorted { $0.key < $1.key }.compactMap { field, value -> Change? in
            let register = registers[field]
            let unchanged = register?.winner?.value == value && register?.overridden.isEmpty == true
            return unchanged ? nil : write(field, value)
        }
        guard !changes.isEmpty else { throw DomainError("nothing to change: the ticket already has these values") }
        return changes
    }

    /// A lifecycle transition, validated against the current status; a rejection records its reason.
    public func transition(_ transition: Transition, reason: String = "") throws(DomainError) -> [Change] {
        let target = try Lifecycle.target(of: transition, from: status, severity: severity)
        var changes: [Change] = [.status(target, transition: transition)]
        let reason = reason.trimmingWhitespace()
        switch transition {
        case .reject:
            guard !reason.isEmpty else {
                throw DomainError("a rejection needs the reason told to the customer (--reason TEXT)")
            }
            changes.append(.entry(Entry(kind: .rejection, text: reason)))
        case .approve where !reason.isEmpty:
            changes.append(.entry(Entry(kind: .approval, text: reason)))
        default:
            if !reason.isEmpty { changes.append(.entry(Entry(kind: .note, text: reason))) }
        }
        return changes
    }

    /// Raises the escalation level in this round; the next level when none is given.
    public func escalate(to level: EscalationLevel? = nil) throws(DomainError) -> [Change] {
        guard !status.stage.isTerminal else {
            throw DomainError("cannot escalate a ticket that is \(status.stage.rawValue); reopen it first")
        }
        let current = escalationLevel
        let target = level ?? EscalationLevel(rawValue: current.rawValue + 1) ?? .headquarters
        guard target > current else {
            throw DomainError("the ticket is already escalated to \(current.name); escalation only goes up within a round")
        }
        return [.escalation(Escalation(round: status.round, level: target))]
    }

    /// Hands the ticket to a person (and a department): first-contact responsibility moves with it.
    public func assign(to person: String, department: String? = nil) throws(DomainError) -> [Change] {
        var values: [Field: RegisterValue] = [.assignee: .text(person.trimmingWhitespace())]
        if let department { values[.department] = .text(department.trimmingWhitespace()) }
        guard !person.trimmingWhitespace().isEmpty else { throw DomainError("assign needs a person (--to NAME)") }
        return try update(values)
    }

    /// Hands the ticket to another node (HQ only, checked by the store): from then on that
    /// branch handles it, and the previous one may no longer change it.
    public func transfer(to node: NodeID) throws(DomainError) -> [Change] {
        guard node != owner else { throw DomainError("the ticket is already handled by \(node)") }
        return [write(.branch, .text(node.rawValue))]
    }

    /// An append-only entry: a note, a contact with the customer, a correction of an intake value.
    public func append(_ entry: Entry) throws(DomainError) -> [Change] {
        guard !entry.text.trimmingWhitespace().isEmpty else { throw DomainError("the \(entry.kind.rawValue) text must not be empty") }
        return [.entry(entry)]
    }

    /// Writes sections of the investigation report; starts the investigation if it was only accepted.
    public func investigate(_ sections: [Field: String]) throws(DomainError) -> [Change] {
        guard !sections.isEmpty else {
            throw DomainError("give at least one report section: --cause, --course, --responsible, --conclusion, --countermeasure, --prevention")
        }
        var changes = try update(sections.mapValues { .text($0.trimmingWhitespace()) })
        if status.stage == .accepted { changes += try transition(.investigate) }
        return changes
    }

    /// Records the reply to the customer and moves the ticket to `replied`.
    public func reply(message: String, via: Channel, promisedDate: CalendarDay?) throws(DomainError) -> [Change] {
        let message = message.trimmingWhitespace()
        guard !message.isEmpty else { throw DomainError("the reply needs the message given to the customer (--message TEXT)") }
        var changes = try transition(.reply)
        changes.append(.entry(Entry(kind: .reply, text: message, via: via)))
        changes.append(write(.replyMessage, .text(message)))
        changes.append(write(.replyVia, .text(via.rawValue)))
        if let promisedDate { changes.append(write(.promisedDate, .text(promisedDate.description))) }
        return changes
    }

    /// Records a follow-up call's satisfaction; then closes the ticket or reopens it if asked.
    public func followUp(_ satisfaction: Satisfaction, then next: Transition? = nil) throws(DomainError) -> [Change] {
        guard Lifecycle.canFollowUp(status) else {
            throw DomainError(
                "cannot follow up a ticket that is \(status.stage.rawValue): the customer has not been replied to yet; allowed now: "
                    + Lifecycle.allowedTransitions(from: status, severity: severity).map(\.rawValue).joined(separator: ", "))
        }
        var changes: [Change] = [
            .entry(Entry(kind: .followUp, text: satisfaction.remark, score: satisfaction.score)),
            write(.satisfaction, .satisfaction(satisfaction)),
        ]
        if let next, !(next == .close && status.stage == .closed) { changes += try transition(next) }
        return changes
    }

    /// Adds and removes tags (add-wins against a concurrent remove).
    public func tag(add: [String], remove: [String]) throws(DomainError) -> [Change] {
        let adds = Set(add.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty })
        let current = Set(elements(of: .tags))
        let changes = adds.subtracting(current).sorted().map { Change.add(.tags, element: $0) }
            + Set(remove.map { $0.trimmingWhitespace() }).sorted().compactMap { self.remove($0, from: .tags) }
        guard !changes.isEmpty else { throw DomainError("nothing to change: the ticket already has these tags") }
        return changes
    }

    /// Resolves a conflict on `field`: a write that has seen the whole frontier, with the chosen
    /// value or, when none is given, the winning one confirmed.
    public func resolve(_ field: Field, choosing value: RegisterValue? = nil) throws(DomainError) -> [Change] {
        guard let register = registers[field], let winner = register.winner, !register.overridden.isEmpty else {
            throw DomainError("\(field.rawValue) has no conflict on this ticket; see 'branchdesk conflicts'")
        }
        return [write(field, value ?? winner.value)]
    }
}
