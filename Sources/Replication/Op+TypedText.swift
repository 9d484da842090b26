import TicketModel

extension Op {
    /// The first text of the op that breaks `TypedText`'s rule, as "title holds U+001B", or nil.
    /// Checked for every op: made here (`NodeStore` refuses the edit) and received (the batch is
    /// refused), so no control character reaches a replica from anywhere.
    public var forbiddenText: String? { Self.forbiddenText(actor: actor, action: action, changes: changes) }

    /// `forbiddenText` of an op about to be made of these parts.
    public static func forbiddenText(actor: String, action: String, changes: [Change]) -> String? {
        func check(_ text: String, _ what: String, multiLine: Bool = false) -> String? {
            TypedText.forbiddenCharacter(in: text, multiLine: multiLine).map { "\(what) holds the control character \($0)" }
        }
        if let found = check(actor, "the actor's name") ?? check(action, "the action name") { return found }
        for change in changes {
            let found: String?
            switch change {
            case .intake(let intake):
                found = check(intake.number, "the ticket number") ?? check(intake.takenBy, "taken-by")
                    ?? check(intake.statement, "the statement", multiLine: true)
            case .write(let field, let value, _):
                switch value {
                case .text(let text): found = check(text, field.rawValue, multiLine: field.isMultiLine)
                case .satisfaction(let satisfaction): found = check(satisfaction.remark, "the satisfaction remark", multiLine: true)
                case .number, .approval: found = nil
                }
            case .entry(let entry):
                found = check(entry.text, "the \(entry.kind.rawValue) text", multiLine: true)
                    ?? entry.subject.flatMap { check($0, "the corrected value's name") }
            case .add(let set, let element), .remove(let set, let element, _):
                found = check(element, "the \(set.rawValue) element")
            case .status, .escalation:
                found = nil
            }
            if let found { return found }
        }
        return nil
    }
}
