/// The rule for text people type, checked where it is typed and again where a remote op arrives:
/// no control characters — they would reach a clerk's terminal as commands (`ESC ] 0 ; … BEL`
/// retitles it) or break a list's table — and no bidirectional overrides, which reorder what a
/// reader sees. Multi-line text (statements, reports, replies, notes) may hold line feeds and tabs.
public enum TypedText {
    /// The first forbidden character of `text`, named (`U+001B`), or nil when it is clean.
    public static func forbiddenCharacter(in text: String, multiLine: Bool) -> String? {
        for scalar in text.unicodeScalars where isForbidden(scalar, multiLine: multiLine) {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
        return nil
    }

    /// `text` with Windows line ends made line feeds, or an error naming `what` and the character.
    public static func checked(_ text: String, _ what: String, multiLine: Bool) throws(DomainError) -> String {
        let text = multiLine ? normalisingLineEnds(text) : text
        if let bad = forbiddenCharacter(in: text, multiLine: multiLine) {
            let lines = multiLine ? "" : " or line breaks"
            throw DomainError("\(what) holds the control character \(bad): remove control characters\(lines) from it and try again")
        }
        return text
    }

    /// `text` with every CR LF (as browsers send a text area) and lone CR made a line feed.
    public static func normalisingLineEnds(_ text: String) -> String { text.replacingCRLF() }

    /// `text` safe to print on a terminal: every forbidden character shown as its Unicode control
    /// picture (ESC as ␛, a line feed in one-line text as ␤), so data can never steer the terminal.
    public static func printable(_ text: String, multiLine: Bool = false) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isForbidden(scalar, multiLine: multiLine) else {
                scalars.append(scalar)
                continue
            }
            switch scalar.value {
            case 0x00...0x1F: scalars.append(Unicode.Scalar(0x2400 + scalar.value)!)
            case 0x7F: scalars.append("\u{2421}")
            default: scalars.append("\u{FFFD}")
            }
        }
        return String(scalars)
    }

    private static func isForbidden(_ scalar: Unicode.Scalar, multiLine: Bool) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: return !multiLine
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Line and paragraph separators, and the bidirectional embeddings, overrides and isolates.
        case 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}

extension Field {
    /// Whether the field holds several lines of prose (a statement, a report, a reply).
    public var isMultiLine: Bool {
        [.request, .facts, .resolution, .replyMessage].contains(self) || Field.investigation.contains(self)
    }
}

extension String {
    /// The string with every CR LF (and lone CR) made a line feed.
    func replacingCRLF() -> String {
        var scalars = String.UnicodeScalarView()
        var previousWasCR = false
        for scalar in unicodeScalars {
            if scalar == "\n", previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = scalar == "\r"
            scalars.append(previousWasCR ? "\n" : scalar)
        }
        return String(scalars)
    }
}
