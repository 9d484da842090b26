import TicketModel

/// An action an op may name and what an op of it may change: the table `Protocol/PAYLOAD.md` is
/// generated from. A receiver refuses an op whose action is not listed here or that carries a
/// change its action does not make (`Op.invalidAction`), so every replica holds only ops a local
/// edit of some Branchdesk could have made.
public struct OpAction: Sendable {
    /// The name an op carries in `action`.
    public let name: String
    /// What a person does with it, for the reference.
    public let meaning: String
    /// Whether it changes the company settings document (`company:0`) instead of a ticket.
    public let onCompanySettings: Bool
    /// Whether it opens the ticket: the intake and the status `(1, new)`, with no transition.
    public let opens: Bool
    /// The fields it may write.
    public let writes: Set<Field>
    /// The transitions its status changes may name.
    public let transitions: Set<Transition>
    /// Whether it may raise the escalation.
    public let escalates: Bool
    /// The kinds of entry it may append.
    public let entries: Set<EntryKind>
    /// The sets it may add to and remove from.
    public let sets: Set<SetField>

    init(
        _ name: String, _ meaning: String, onCompanySettings: Bool = false, opens: Bool = false, writes: Set<Field> = [],
        transitions: Set<Transition> = [], escalates: Bool = false, entries: Set<EntryKind> = [], sets: Set<SetField> = []
    ) {
        self.name = name
        self.meaning = meaning
        self.onCompanySettings = onCompanySettings
        self.opens = opens
        self.writes = writes
        self.transitions = transitions
        self.escalates = escalates
        self.entries = entries
        self.sets = sets
    }

    /// The fields a person types (`ticket update`, the ticket page): all of a ticket's but those
    /// written only by their own steps — the handling branch (transfer), the satisfaction
    /// (follow-up), the settings versions (open) and the approval decision.
    static let typed = Set(Field.allCases).subtracting(Field.companySettings)
        .subtracting([.branch, .satisfaction, .policyVersion, .calendarVersion, .approval])

    /// Every action of this version, in the order of the complaint process.
    public static let all: [OpAction] = [
        OpAction(
            "open", "a clerk records a new complaint", opens: true,
            writes: [.title, .customer, .phone, .category, .kind, .severity, .assignee, .request, .department, .policyVersion, .calendarVersion],
            sets: [.tags]),
        OpAction(
            "update", "someone changes fields of the ticket; changing content an approval binds also withdraws the approval",
            writes: typed.union([.approval])),
        OpAction("assign", "the ticket is handed to a person (and department)", writes: [.assignee, .department]),
        OpAction("transfer", "HQ hands the ticket to another branch", writes: [.branch]),
        OpAction("accept", "the complaint is accepted", transitions: [.accept], entries: [.note]),
        OpAction("reject", "the complaint is not accepted; the entry holds the reason told to the customer", transitions: [.reject], entries: [.rejection]),
        OpAction(
            "investigate", "the investigation starts, or sections of its report (and the resolution) are written",
            writes: Set(Field.investigation).union([.resolution, .approval]), transitions: [.investigate], entries: [.note]),
        OpAction("submit", "the proposed resolution goes for approval", transitions: [.submit], entries: [.note]),
        OpAction(
            "approve", "a supervisor approves the content in force (or settles a replied round's approval issues)",
            writes: [.approval], transitions: [.approve], entries: [.approval]),
        OpAction(
            "reply", "the customer is answered", writes: [.approval, .replyMessage, .replyVia, .promisedDate], transitions: [.reply],
            entries: [.reply, .note]),
        OpAction(
            "follow-up", "the follow-up call: the customer's satisfaction, then perhaps close or reopen", writes: [.satisfaction],
            transitions: [.close, .reopen], entries: [.followUp]),
        OpAction("close", "the ticket is closed", transitions: [.close], entries: [.note]),
        OpAction("reopen", "the ticket is reopened: the next round starts at investigating", transitions: [.reopen], entries: [.note]),
        OpAction("escalate", "the ticket is raised to the branch manager or to HQ", escalates: true),
        OpAction("note", "an internal note", entries: [.note]),
        OpAction("contact", "a contact with the customer other than the reply", entries: [.contact]),
        OpAction("correction", "a correction of a value recorded at intake, shown beside it", entries: [.correction]),
        OpAction("tag", "tags are added or removed", sets: [.tags]),
        OpAction("wait", "the ticket waits for the customer (the tag `waiting-customer`); the contact says why", entries: [.contact], sets: [.tags]),
        OpAction("resume", "the customer answered: the tag `waiting-customer` is removed", sets: [.tags]),
        OpAction(
            "resolve", "a conflict is settled: a write that saw the whole frontier",
            writes: typed.union([.branch, .satisfaction])),
        OpAction("set-policy", "HQ sets the company's service-level policy", onCompanySettings: true, writes: [.servicePolicy]),
        OpAction("set-calendar", "HQ sets the company's working-day calendar", onCompanySettings: true, writes: [.workCalendar]),
    ]

    private static let byName = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The action named `name`, if this version knows it.
    public static func named(_ name: String) -> OpAction? { byName[name] }

    /// The first change of `changes` this action does not make on `ticket`, described; nil when all fit.
    func misfit(of changes: [Change], on ticket: TicketID) -> String? {
        if onCompanySettings != (ticket == .companySettings) {
            return onCompanySettings ? "\(name) changes the company settings (company:0), not \(ticket)" : "\(name) does not change the company settings"
        }
        guard !changes.isEmpty else { return "an op of \(name) carries no change" }
        for change in changes {
            if let misfit = misfit(of: change) { return misfit }
        }
        return nil
    }

    private func misfit(of change: Change) -> String? {
        switch change {
        case .intake(let intake):
            guard opens else { return "only open carries the intake" }
            guard TicketNumber.isValid(intake.number) else {
                return "the intake's number '\(intake.number)' is not of the form CODE-YYYYMMDD-NNNN"
            }
            return intake.takenBy.trimmingWhitespace().isEmpty ? "the intake's taken-by must not be empty" : nil
        case .write(let field, _, _):
            return writes.contains(field) ? nil : "\(name) does not write \(field.rawValue)"
        case .status(let status, let transition?):
            guard transitions.contains(transition) else { return "\(name) does not \(transition.rawValue)" }
            guard status.stage == transition.target, status.round >= (transition == .reopen ? 2 : 1) else {
                return "\(transition.rawValue) leads to \(transition.target.rawValue), not to \(status)"
            }
            return nil
        case .status(let status, nil):
            return opens && status == .opened ? nil : "only open sets the status without a transition, and to new (round 1)"
        case .escalation(let escalation):
            guard escalates else { return "\(name) does not escalate" }
            return escalation.round >= 1 && escalation.level != .none ? nil : "an escalation raises a round (1 or more) to manager or hq"
        case .entry(let entry):
            guard entries.contains(entry.kind) else { return "\(name) does not append a \(entry.kind.rawValue) entry" }
            return entry.misfit
        case .add(let set, let element), .remove(let set, let element, _):
            guard sets.contains(set) else { return "\(name) does not change \(set.rawValue)" }
            return element.trimmingWhitespace().isEmpty ? "a set element must not be empty" : nil
        }
    }
}

extension Entry {
    /// The intake values a correction may name.
    public static let correctable = ["received-at", "channel", "statement", "taken-by"]

    /// What is wrong with this entry's parts for its kind, or nil.
    var misfit: String? {
        switch kind {
        case .followUp:
            guard let score, (1...5).contains(score) else { return "a follow-up entry carries a score from 1 to 5" }
        case .correction:
            guard let subject, Self.correctable.contains(subject) else {
                return "a correction names what it corrects: one of \(Self.correctable.joined(separator: ", "))"
            }
        case .note, .contact, .reply, .rejection:
            if text.trimmingWhitespace().isEmpty { return "a \(kind.rawValue) entry's text must not be empty" }
        case .approval:
            break
        }
        if score != nil, kind != .followUp { return "only a follow-up entry carries a score" }
        if via != nil, kind != .contact, kind != .reply { return "only a contact or a reply entry says via what" }
        if subject != nil, kind != .correction { return "only a correction names a subject" }
        return nil
    }
}

extension Op {
    /// What is wrong with the op for its action (MERGE.md, PAYLOAD.md), or nil: its action is
    /// one this version knows, it changes only what that action changes, and an opening is made
    /// by the node the ticket id names.
    public var invalidAction: String? { Self.invalidAction(action, ticket: ticket, origin: id.origin, changes: changes) }

    /// `invalidAction` of an op about to be made.
    public static func invalidAction(_ action: String, ticket: TicketID, origin: NodeID, changes: [Change]) -> String? {
        guard let rule = OpAction.named(action) else {
            return "the action '\(action)' is not one of this version's (\(OpAction.all.map(\.name).joined(separator: ", ")))"
        }
        if rule.opens, ticket.origin != origin { return "a ticket is opened by the node its id names: \(ticket) is not \(origin)'s" }
        return rule.misfit(of: changes, on: ticket)
    }
}
