/// The stable identity of a ticket: the node that opened it and that node's ticket counter.
///
/// Unique without coordination because node ids are unique and each node counts its own tickets.
public struct TicketID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let origin: NodeID
    public let counter: Int

    public init(origin: NodeID, counter: Int) {
        self.origin = origin
        self.counter = counter
    }

    /// The document that holds the company's settings (policy, calendar): set at HQ, replicated
    /// like a ticket, never listed as one. Counter 0 is never a ticket's.
    public static let companySettings = TicketID(origin: NodeID(reserved: "company"), counter: 0)

    /// Parses the `origin:counter` form.
    public init?(_ text: String) {
        if text == TicketID.companySettings.description {
            self = .companySettings
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let origin = try? NodeID(String(parts[0])), let counter = Int(parts[1]), counter > 0
        else { return nil }
        self.init(origin: origin, counter: counter)
    }

    public var description: String { "\(origin):\(counter)" }

    public static func < (lhs: TicketID, rhs: TicketID) -> Bool { (lhs.origin, lhs.counter) < (rhs.origin, rhs.counter) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = TicketID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad ticket id \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A ticket number the customer can quote over the phone: branch code, day, counter.
///
/// `SH012-20261122-0007`. The counter is the node's ticket counter, which never repeats, so the
/// number is unique even if the node's calendar day goes backwards.
public enum TicketNumber {
    /// The number for the ticket `counter` of the branch `code`, opened on `day`.
    public static func make(code: BranchCode, day: CalendarDay, counter: Int) -> String {
        let digits = String(counter)
        let padded = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        return "\(code.rawValue)-\(day.compact)-\(padded)"
    }

    /// Whether `text` has the form `make` gives: a branch code, the day as `YYYYMMDD`, and the
    /// counter padded to four digits.
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, (try? BranchCode(parts[0]))?.rawValue == parts[0], parts[1].count == 8,
            CalendarDay("\(parts[1].prefix(4))-\(parts[1].dropFirst(4).prefix(2))-\(parts[1].suffix(2))") != nil,
            parts[2].allSatisfy({ $0.isASCII && $0.isNumber }), let counter = Int(parts[2]), counter > 0
        else { return false }
        return parts[2].count == max(4, String(counter).count)
    }

    /// A number as typed by a person, normalised (upper case, trimmed) for lookup.
    public static func normalised(_ text: String) -> String { text.trimmingWhitespace().uppercased() }
}

/// The short code of a branch in its ticket numbers, e.g. `SH012`: 1 to 12 of `A-Z 0-9`.
public struct BranchCode: Hashable, Codable, Sendable {
    public let rawValue: String

    public init(_ text: String) throws(DomainError) {
        let upper = text.uppercased()
        guard (1...12).contains(upper.count), upper.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
            throw DomainError("invalid branch code '\(text)': use 1 to 12 letters or digits, e.g. SH012")
        }
        rawValue = upper
    }

    /// The default code for a node: its id in upper case without dashes, cut to 12 characters.
    public init(defaultFor node: NodeID) {
        rawValue = String(node.rawValue.uppercased().filter { $0 != "-" }.prefix(12))
    }
}

/// What is recorded once, at intake, and never overwritten: corrections are separate notes.
public struct Intake: Hashable, Codable, Sendable {
    /// The human ticket number.
    public var number: String
    public var channel: Channel
    /// When the complaint was received (a letter's arrival, a walk-in's visit), in Unix milliseconds.
    /// Deadlines count from here, not from when it was typed in.
    public var receivedAt: Int64
    /// The first-contact person, who owns the ticket until it is handed over.
    public var takenBy: String
    /// The customer's original statement, as taken down.
    public var statement: String

    public init(number: String, channel: Channel, receivedAt: Int64, takenBy: String, statement: String) {
        self.number = number
        self.channel = channel
        self.receivedAt = receivedAt
        self.takenBy = takenBy
        self.statement = statement
    }
}

/// The kinds of append-only entries kept on a ticket.
public enum EntryKind: String, Codable, Sendable, CaseIterable {
    /// An internal note.
    case note
    /// A correction of a value set once at intake, shown beside the original.
    case correction
    /// A contact with the customer (a call, a visit) other than the formal reply.
    case contact
    /// A reply to the customer.
    case reply
    /// A follow-up call: the satisfaction check.
    case followUp = "follow-up"
    /// The reason a complaint was not accepted, as told to the customer.
    case rejection
    /// A supervisor's approval of the proposed resolution.
    case approval
}

/// An append-only entry: a note, a contact, a reply, a follow-up call, …
public struct Entry: Hashable, Codable, Sendable {
    public var kind: EntryKind
    public var text: String
    /// How the customer was reached, for contacts and replies.
    public var via: Channel?
    /// The satisfaction score given on a follow-up call.
    public var score: Int?
    /// For a correction: the intake value it corrects (`received-at`, `channel`, `statement`, `taken-by`).
    public var subject: String?

    public init(kind: EntryKind, text: String, via: Channel? = nil, score: Int? = nil, subject: String? = nil) {
        self.kind = kind
        self.text = text
        self.via = via
        self.score = score
        self.subject = subject
    }
}

/// Tags with a meaning to the system.
public enum Tag {
    /// The ticket waits for the customer (documents, a visit): its resolution clock is stopped.
    public static let waitingForCustomer = "waiting-customer"
}

/// A set of a ticket with add-wins semantics.
public enum SetField: String, Codable, CodingKeyRepresentable, Sendable, CaseIterable {
    case tags
    /// Departments involved besides the responsible one (cross-department complaints).
    case departments
}
