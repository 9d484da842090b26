/// What a clerk records when a complaint comes in, validated before any op is made.
public struct TicketDraft: Sendable, Equatable {
    public var channel: Channel
    /// When the complaint was received, Unix milliseconds; nil means "now".
    public var receivedAt: Int64?
    /// The first-contact person.
    public var takenBy: String
    public var customer: String
    public var phone: String
    public var title: String
    /// The customer's original statement.
    public var statement: String
    public var request: String
    public var category: Category
    public var kind: ComplaintKind
    public var severity: Severity
    public var department: String
    public var tags: [String]

    /// Validates and normalises the typed values; the error names the first bad one.
    public init(
        channel: Channel, receivedAt: Int64? = nil, takenBy: String, customer: String, phone: String, title: String,
        statement: String = "", request: String = "", category: Category, kind: ComplaintKind = .appeal,
        severity: Severity = .general, department: String = "", tags: [String] = []
    ) throws(DomainError) {
        self.channel = channel
        self.receivedAt = receivedAt
        self.takenBy = takenBy.trimmingWhitespace()
        self.customer = customer.trimmingWhitespace()
        self.phone = try PhoneNumber.validated(phone)
        self.title = title.trimmingWhitespace()
        self.statement = TypedText.normalisingLineEnds(statement).trimmingWhitespace()
        self.request = TypedText.normalisingLineEnds(request).trimmingWhitespace()
        self.category = category
        self.kind = kind
        self.severity = severity
        self.department = department.trimmingWhitespace()
        self.tags = tags.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !self.customer.isEmpty else { throw DomainError("the customer's name must not be empty (--customer)") }
        guard !self.title.isEmpty else { throw DomainError("the title must not be empty (--title)") }
        guard !self.takenBy.isEmpty else { throw DomainError("who took the complaint must not be empty (--by)") }
    }
}
