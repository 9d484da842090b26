import TicketModel

extension Op {
    /// The first value of the op that its field's rules refuse — "severity holds 9: use 1, 2 or
    /// 3" — or nil. The rules are `Field.parse`'s, the ones a person's edit passes: each field's
    /// value type and range, the enumerations, the phone's form, the fields a ticket must not be
    /// without, and what an opening must carry. Checked for every op, made here (`NodeStore`
    /// refuses the edit) and received (the batch is refused), so a replica holds no value a local
    /// edit could not have made.
    public var invalidValue: String? { Self.invalidValue(in: changes) }

    /// `invalidValue` of an op about to be made of these changes.
    public static func invalidValue(in changes: [Change]) -> String? {
        var written: Set<Field> = []
        for case .write(let field, let value, _) in changes {
            if let problem = problem(with: value, of: field) { return problem }
            written.insert(field)
        }
        if changes.contains(where: { if case .intake = $0 { true } else { false } }) {
            let missing = Field.required.subtracting(written).map(\.rawValue).sorted()
            if !missing.isEmpty { return "an opening must write \(missing.joined(separator: ", ")); it writes none of these" }
        }
        return nil
    }

    private static func problem(with value: RegisterValue, of field: Field) -> String? {
        switch (field, value) {
        case (.severity, .number(let number)):
            return Severity(rawValue: number) == nil ? "severity holds \(number): use 1, 2 or 3" : nil
        case (.severity, _):
            return "severity holds '\(value)': it is a number, 1, 2 or 3"
        case (.satisfaction, .satisfaction(let satisfaction)):
            return (1...5).contains(satisfaction.score) ? nil : "satisfaction holds the score \(satisfaction.score): use 1 to 5"
        case (.satisfaction, _):
            return "satisfaction holds '\(value)': it is a score with a remark"
        case (.approval, .approval):
            return nil
        case (.approval, _):
            return "approval holds '\(value)': it is an approval decision"
        case (_, .text(let text)):
            return problem(with: text, of: field)
        case (_, _):
            return "\(field.rawValue) holds '\(value)': it is text"
        }
    }

    private static func problem(with text: String, of field: Field) -> String? {
        func choice<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type) -> String? where Choice.RawValue == String {
            Choice(rawValue: text) != nil
                ? nil : "\(field.rawValue) holds '\(text)': use one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        if Field.required.contains(field), text.trimmingWhitespace().isEmpty { return "\(field.rawValue) must not be empty" }
        switch field {
        case .category: return choice(Category.self)
        case .kind: return choice(ComplaintKind.self)
        case .replyVia: return choice(Channel.self)
        case .phone: return (try? PhoneNumber.validated(text)) == nil ? "phone holds '\(text)': use 5 to 20 digits with + - ( ) and spaces" : nil
        case .branch: return text.isEmpty || NodeID.isValid(text) ? nil : "branch holds '\(text)': it is a node id such as sh-pudong-012"
        case .promisedDate: return text.isEmpty || CalendarDay(text) != nil ? nil : "promised-date holds '\(text)': use YYYY-MM-DD"
        default: return nil
        }
    }
}
