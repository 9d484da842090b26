import TicketModel

/// The local edits a person can make, each turned into the changes of one op.
///
/// Validation happens here, where the edit is made, against the replica's current state; the
/// merge (`apply`) never validates, so remote ops cannot be refused for local reasons.
extension TicketDocument {
    /// The changes of the op that opens a ticket, recording the versions of the company's policy
    /// and calendar in force here (op ids, "" for the standard ones).
    public static func opening(
        _ draft: TicketDraft, number: String, receivedAt: Int64, settingsVersions: (policy: String, calendar: String) = ("", "")
    ) -> [Change] {
        let intake = Intake(
            number: number, channel: draft.channel, receivedAt: receivedAt, takenBy: draft.takenBy,
            statement: draft.statement)
        var values: [(Field, RegisterValue)] = [
            (.title, .text(draft.title)), (.customer, .text(draft.customer)), (.phone, .text(draft.phone)),
            (.category, .text(draft.category.rawValue)), (.kind, .text(draft.kind.rawValue)),
            (.severity, .number(draft.severity.rawValue)), (.assignee, .text(draft.takenBy)),
            (.policyVersion, .text(settingsVersions.policy)), (.calendarVersion, .text(settingsVersions.calendar)),
        ]
        if !draft.request.isEmpty { values.append((.request, .text(draft.request))) }
        if !draft.department.isEmpty { values.append((.department, .text(draft.department))) }
        return [.intake(intake), .status(.opened, transition: nil)]
            + values.map { .write(field: $0.0, value: $0.1, seen: []) }
            + Set(draft.tags).sorted().map { .add(.tags, element: $0) }
    }

    /// Register writes for the values that differ from the current ones (or whose field is in
    /// conflict: writing resolves it). Editing content an approval binds follows MERGE.md
    /// "Approvals": after the reply it is refused (reopen first); a submitted ticket keeps the
    /// severity that needs approval; an approval in force is withdrawn by the same op.
    public func update(_ values: [Field: RegisterValue]) throws(DomainError) -> [Change] {
        let changes = values.sorted { $0.key < $1.key }.compactMap { field, value -> Change? in
            let register = registers[field]
            let unchanged = register?.winner?.value == value && register?.overridden.isEmpty == true
            return unchanged ? nil : write(field, value)
        }
        guard !changes.isEmpty else { throw DomainError("nothing to change: the ticket already has these values") }
        let bound = changes.compactMap { change -> Field? in
            if case .write(let field, _, _) = change, Field.boundByApproval.contains(field) { return field }
            return nil
        }
        guard !bound.isEmpty else { return changes }
        let names = bound.map(\.rawValue).joined(separator: ", ")
        if [.replied, .closed].contains(status.stage) {
            throw DomainError(
                "the customer was replied to on this ticket's \(names); reopen it ('ticket transition reopen') to change what was answered")
        }
        if let lowered = values[.severity]?.number, lowered < Severity.serious.rawValue, severity >= .serious,
            (Stage.awaitingApproval...Stage.approved).contains(status.stage)
        {
            throw DomainError(
                "the ticket was submitted for approval as severity \(severity.rawValue); it keeps the approval it needs (lowering it to \(lowered) would skip it) — let a supervisor approve, or reopen it")
        }
        return approval.decision?.decision == .approved ? changes + [decide(.withdrawn, authority: nil)] : changes
    }

    /// The transitions a person may ask for now: the process's, from `processStatus`, and
    /// `approve` to settle an approval issue of a replied round.
    public var allowedTransitions: [Transition] {
        Lifecycle.allowedTransitions(from: processStatus, severity: severity) + (canRatify ? [.approve] : [])
    }

    /// Whether a replied round has approval issues a supervisor may settle by approving the content in force.
    private var canRatify: Bool { [.replied, .closed].contains(status.stage) && !approval.issues.isEmpty }

    /// A lifecycle transition, validated against the current status; a rejection records its
    /// reason, an approval its approver (`authority`: the role of the node approving).
    public func transition(_ transition: Transition, reason: String = "", authority: NodeRole = .branch) throws(DomainError) -> [Change] {
        let reason = TypedText.normalisingLineEnds(reason).trimmingWhitespace()
        if transition == .approve { return try approve(reason: reason, authority: authority) }
        let target = try Lifecycle.target(of: transition, from: processStatus, severity: severity)
        var changes: [Change] = [.status(target, transition: transition)]
        switch transition {
        case .reject:
            guard !reason.isEmpty else {
                throw DomainError("a rejection needs the reason told to the customer (--reason TEXT)")
            }
            changes.append(.entry(Entry(kind: .rejection, text: reason)))
        default:
            if !reason.isEmpty { changes.append(.entry(Entry(kind: .note, text: reason))) }
        }
        return changes
    }

    /// Approves the content in force (MERGE.md, "Approvals"): seals it, and always leaves an
    /// approval entry naming the approver. At a replied round with approval issues it settles them
    /// (the reason is then required). A major complaint is approved at HQ only.
    private func approve(reason: String, authority: NodeRole) throws(DomainError) -> [Change] {
        let contested = Field.boundByApproval.filter { registers[$0]?.overridden.isEmpty == false }
        guard contested.isEmpty else {
            throw DomainError(
                "\(contested.map(\.rawValue).joined(separator: ", ")) \(contested.count == 1 ? "is" : "are") in conflict: settle it first ('branchdesk conflicts'), then approve what stands")
        }
        if severity == .major, authority != .hq {
            throw DomainError(
                "a major complaint (severity 3) is approved by HQ: escalate it ('ticket escalate --to hq') and HQ approves it; the branch replies after")
        }
        if canRatify {
            guard !reason.isEmpty else {
                throw DomainError("settling the approval of a replied ticket needs the reason the content in force stands (--reason TEXT)")
            }
            return [decide(.replied, authority: authority), .entry(Entry(kind: .approval, text: reason))]
        }
        let target = try Lifecycle.target(of: .approve, from: processStatus, severity: severity)
        return [.status(target, transition: .approve), decide(.approved, authority: authority), .entry(Entry(kind: .approval, text: reason))]
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
        var entry = entry
        entry.text = TypedText.normalisingLineEnds(entry.text).trimmingWhitespace()
        guard !entry.text.isEmpty else { throw DomainError("the \(entry.kind.rawValue) text must not be empty") }
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
        let message = TypedText.normalisingLineEnds(message).trimmingWhitespace()
        guard !message.isEmpty else { throw DomainError("the reply needs the message given to the customer (--message TEXT)") }
        var changes = try transition(.reply)
        let standing = approval
        changes.append(decide(.replied, authority: standing.approvalInForce ? standing.decision?.authority : nil))
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
                    + allowedTransitions.map(\.rawValue).joined(separator: ", "))
        }
        var changes: [Change] = [
            .entry(Entry(kind: .followUp, text: satisfaction.remark, score: satisfaction.score)),
            write(.satisfaction, .satisfaction(satisfaction)),
        ]
        if let next, !(next == .close && status.stage == .closed) { changes += try transition(next) }
        return changes
    }

    /// Adds and removes tags (add-wins against a concurrent remove). Adding a tag already there is
    /// a new add all the same: it survives a remove made concurrently elsewhere.
    public func tag(add: [String], remove: [String]) throws(DomainError) -> [Change] {
        let adds = Set(add.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty })
        let changes = adds.sorted().map { Change.add(.tags, element: $0) }
            + Set(remove.map { $0.trimmingWhitespace() }).sorted().compactMap { self.remove($0, from: .tags) }
        guard !changes.isEmpty else { throw DomainError("nothing to change: the ticket already has these tags") }
        return changes
    }

    /// Marks the ticket as waiting for the customer (documents, a visit): its resolution clock
    /// stops until `resumeFromWaiting`. The reason, if any, is noted as a contact.
    public func waitForCustomer(reason: String) throws(DomainError) -> [Change] {
        guard !elements(of: .tags).contains(Tag.waitingForCustomer) else {
            throw DomainError("the ticket already waits for the customer; 'ticket resume' when they answer")
        }
        let reason = reason.trimmingWhitespace()
        let note = reason.isEmpty ? [] : try append(Entry(kind: .contact, text: "waiting for the customer: \(reason)"))
        return try tag(add: [Tag.waitingForCustomer], remove: []) + note
    }

    /// The customer answered: the resolution clock runs again.
    public func resumeFromWaiting() throws(DomainError) -> [Change] {
        guard elements(of: .tags).contains(Tag.waitingForCustomer) else {
            throw DomainError("the ticket is not waiting for the customer")
        }
        return try tag(add: [], remove: [Tag.waitingForCustomer])
    }

    /// Resolves a conflict on `field`: a write that has seen the whole frontier, with the chosen
    /// value or, when none is given, the winning one confirmed.
    public func resolve(_ field: Field, choosing value: RegisterValue? = nil) throws(DomainError) -> [Change] {
        guard field != .approval else {
            throw DomainError("a contested approval is settled by a supervisor approving what stands ('ticket transition approve'), or by reopening the ticket")
        }
        guard let register = registers[field], let winner = register.winner, !register.overridden.isEmpty else {
            throw DomainError("\(field.rawValue) has no conflict on this ticket; see 'branchdesk conflicts'")
        }
        return [write(field, value ?? winner.value)]
    }
}
