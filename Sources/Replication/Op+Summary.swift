import TicketModel

extension Op {
    /// One line for the ticket history, free of customer data beyond field values of the ticket itself.
    public var summary: String {
        let parts = changes.compactMap(\.summary)
        return parts.isEmpty ? action : "\(action): " + parts.joined(separator: "; ")
    }
}

extension Change {
    /// What the change did, as a person reads it; nil for parts an action name already says.
    public var summary: String? {
        switch self {
        case .intake(let intake):
            return "opened via \(intake.channel.rawValue), taken by \(intake.takenBy)"
        case .write(.policyVersion, _, _), .write(.calendarVersion, _, _):
            return nil
        case .write(let field, let value, _):
            let shown = value.description
            return "\(field.rawValue) = \(shown.count > 60 ? String(shown.prefix(57)) + "…" : shown)"
        case .status(let status, _):
            return "status → \(status)"
        case .escalation(let escalation):
            return "escalated to \(escalation.level.name)"
        case .entry(let entry):
            return "\(entry.kind.rawValue) added"
        case .add(let set, let element):
            return "\(set.rawValue) + \(element)"
        case .remove(let set, let element, _):
            return "\(set.rawValue) − \(element)"
        }
    }
}
