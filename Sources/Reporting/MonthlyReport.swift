import Foundation
import ServiceLevels
import TicketModel

/// What the monthly report needs to know about one ticket received in the month.
public struct ReportedTicket: Sendable, Equatable {
    public let number: String
    /// The branch handling the ticket (its owner), to which its figures and breaches count.
    public let branch: String
    public let category: String
    public let kind: String
    public let severity: Int
    public let channel: String
    public let status: String
    /// The customer's phone as recorded; repeats are matched on its digits.
    public let phone: String
    public let receivedAt: Date
    /// When the complaint was first resolved (replied, rejected or closed), if it was.
    public let resolvedAt: Date?
    /// The first-reply and resolution deadlines as of the report's time.
    public let deadlines: [Deadline]
    /// The follow-up score, 1 to 5, if the customer was asked.
    public let satisfaction: Int?
    /// What is wrong with its approval (`ApprovalIssue.code`s), e.g. `reply-without-approval`.
    public let approvalIssues: [String]

    public init(
        number: String, branch: String, category: String, kind: String, severity: Int, channel: String, status: String,
        phone: String, receivedAt: Date, resolvedAt: Date?, deadlines: [Deadline], satisfaction: Int?, approvalIssues: [String] = []
    ) {
        self.number = number
        self.branch = branch
        self.category = category
        self.kind = kind
        self.severity = severity
        self.channel = channel
        self.status = status
        self.phone = phone
        self.receivedAt = receivedAt
        self.resolvedAt = resolvedAt
        self.deadlines = deadlines
        self.satisfaction = satisfaction
        self.approvalIssues = approvalIssues
    }

    /// Whether the customer was not satisfied and the ticket was reopened (it has a round 2).
    public var wasReopened: Bool { deadlines.contains { $0.round > 1 } }

    /// Still being handled: not closed and not rejected.
    public var isOpen: Bool { status != Stage.closed.rawValue && status != Stage.rejected.rawValue }
}

/// The monthly complaint statistics for the general manager (the seeds' 投诉统计表): tickets
/// received in the month, where they came from, how fast they were handled against the policy,
/// who complained again, how satisfied customers were, and what is late or still open.
public struct MonthlyReport: Sendable, Equatable, Encodable {
    /// A value and how many tickets have it.
    public struct Count: Sendable, Equatable, Encodable {
        public let key: String
        public let count: Int
    }

    /// How one deadline of the first round fared over the month's tickets. Tickets whose
    /// deadline is still ahead (or paused) are pending and left out of the rate.
    public struct OnTime: Sendable, Equatable, Encodable {
        public let met: Int
        /// Met, but after the due time.
        public let late: Int
        /// Past due and still not met.
        public let breached: Int
        /// For the resolution: tickets reopened because the customer was not satisfied — not
        /// resolved, on time or otherwise, whenever the first round ended.
        public let reopened: Int
        public let pending: Int
        /// `met / (met + late + breached + reopened)`; nil when no deadline was decided.
        public let rate: Double?
    }

    /// A ticket whose approval a person must look at (MERGE.md, "Approvals").
    public struct ApprovalFlag: Sendable, Equatable, Encodable {
        public let number: String
        public let branch: String
        public let status: String
        /// `ApprovalIssue.code`s, e.g. `reply-without-approval`.
        public let issues: [String]
    }

    /// Hours from receipt to resolution of the tickets resolved so far.
    public struct HandlingTime: Sendable, Equatable, Encodable {
        public let resolved: Int
        /// The middle value (the mean of the two middle ones for an even count).
        public let medianHours: Double?
        /// The nearest-rank 90th percentile: 90% of the tickets took at most this long.
        public let p90Hours: Double?
    }

    /// A customer (by phone) who complained more than once in the month.
    public struct RepeatCustomer: Sendable, Equatable, Encodable {
        public let phone: String
        public let tickets: [String]
        public let categories: [String]
    }

    public struct Satisfaction: Sendable, Equatable, Encodable {
        public let responses: Int
        public let average: Double?
        /// Score (1–5) → how many customers gave it.
        public let distribution: [Count]
    }

    /// A deadline missed by a ticket of the month.
    public struct Breach: Sendable, Equatable, Encodable {
        public let number: String
        public let branch: String
        public let deadline: String
        public let due: Date?
        /// When it was met, late; nil while still unmet.
        public let metAt: Date?
        public let breachedBy: String
        public let status: String
    }

    /// A ticket of the month not yet closed or rejected.
    public struct OpenTicket: Sendable, Equatable, Encodable {
        public let number: String
        public let branch: String
        public let status: String
        public let receivedAt: Date
        /// The deadline that matters now and where it stands, e.g. `resolution breached`.
        public let deadline: String?
        public let due: Date?
    }

    public let month: String
    /// `company` at HQ, else the branch's node id.
    public let scope: String
    public let timeZone: String
    public let generatedAt: Date
    public let total: Int
    public let byBranch: [Count]
    public let byCategory: [Count]
    public let byKind: [Count]
    public let bySeverity: [Count]
    public let byChannel: [Count]
    public let byStatus: [Count]
    public let firstReply: OnTime
    public let resolution: OnTime
    public let handlingTime: HandlingTime
    public let repeatCustomers: [RepeatCustomer]
    /// Categories in which the same customer complained more than once, with how many such
    /// customers: the issues that recur most, first.
    public let recurringCategories: [Count]
    public let satisfaction: Satisfaction
    public let breaches: [Breach]
    public let stillOpen: [OpenTicket]
    /// Replies made on content no approval covered, and other approval issues still unsettled.
    public let approvalFlags: [ApprovalFlag]

    /// The report over `tickets` (those received in `month`), as of `generatedAt`. Phones are
    /// shown through `showPhone` (masked, unless personal data was asked for).
    public init(
        month: ReportMonth, scope: String, timeZone: String, generatedAt: Date, tickets: [ReportedTicket],
        showPhone: (String) -> String = PhoneNumber.masked
    ) {
        self.month = month.description
        self.scope = scope
        self.timeZone = timeZone
        self.generatedAt = generatedAt
        total = tickets.count
        byBranch = Self.counts(tickets.map(\.branch))
        byCategory = Self.counts(tickets.map(\.category))
        byKind = Self.counts(tickets.map(\.kind))
        bySeverity = Self.counts(tickets.map { String($0.severity) }, byKey: true)
        byChannel = Self.counts(tickets.map(\.channel))
        byStatus = Self.counts(tickets.map(\.status))
        firstReply = Self.onTime(tickets.compactMap { $0.deadlines.first { $0.kind == .firstReply } })
        let reopened = tickets.filter(\.wasReopened).count
        resolution = Self.onTime(
            tickets.filter { !$0.wasReopened }.compactMap { $0.deadlines.first { $0.kind == .resolution } }, reopened: reopened)
        let hours = tickets.compactMap { ticket in ticket.resolvedAt.map { $0.timeIntervalSince(ticket.receivedAt) / 3600 } }
        handlingTime = HandlingTime(resolved: hours.count, medianHours: Self.median(hours), p90Hours: Self.nearestRank(0.9, hours))

        let byPhone = Dictionary(grouping: tickets, by: { PhoneNumber.normalised($0.phone) })
        repeatCustomers = byPhone.values.filter { $0.count > 1 }
            .map { complaints in
                let ordered = complaints.sorted { ($0.receivedAt, $0.number) < ($1.receivedAt, $1.number) }
                return RepeatCustomer(
                    phone: showPhone(ordered[0].phone), tickets: ordered.map(\.number),
                    categories: Self.counts(ordered.map(\.category)).map(\.key))
            }
            .sorted { ($1.tickets.count, $0.tickets[0]) < ($0.tickets.count, $1.tickets[0]) }
        recurringCategories = Self.counts(
            byPhone.values.flatMap { complaints in
                Self.counts(complaints.map(\.category)).filter { $0.count > 1 }.map(\.key)
            })

        let scores = tickets.compactMap(\.satisfaction)
        satisfaction = Satisfaction(
            responses: scores.count,
            average: scores.isEmpty ? nil : Double(scores.reduce(0, +)) / Double(scores.count),
            distribution: (1...5).map { score in Count(key: String(score), count: scores.filter { $0 == score }.count) })

        breaches = tickets.flatMap { ticket in
            ticket.deadlines.filter(\.state.isBreach).map { deadline in
                Breach(
                    number: ticket.number, branch: ticket.branch,
                    deadline: (deadline.round > 1 ? "round \(deadline.round) " : "") + deadline.kind.rawValue, due: deadline.due,
                    metAt: deadline.metAt, breachedBy: deadline.breachedBy ?? ticket.branch, status: ticket.status)
            }
        }
        .sorted { ($0.due ?? .distantFuture, $0.number, $0.deadline) < ($1.due ?? .distantFuture, $1.number, $1.deadline) }
        stillOpen = tickets.filter(\.isOpen)
            .sorted { ($0.receivedAt, $0.number) < ($1.receivedAt, $1.number) }
            .map { ticket in
                let headline = ticket.deadlines.headline
                return OpenTicket(
                    number: ticket.number, branch: ticket.branch, status: ticket.status, receivedAt: ticket.receivedAt,
                    deadline: headline.map { "\($0.round > 1 ? "round \($0.round) " : "")\($0.kind.rawValue) \($0.state.rawValue)" },
                    due: headline?.due)
            }
        approvalFlags = tickets.filter { !$0.approvalIssues.isEmpty }
            .map { ApprovalFlag(number: $0.number, branch: $0.branch, status: $0.status, issues: $0.approvalIssues) }
    }

    /// Most frequent first, then by key; or in key order.
    static func counts(_ values: [String], byKey: Bool = false) -> [Count] {
        Dictionary(grouping: values, by: { $0 }).map { Count(key: $0.key, count: $0.value.count) }
            .sorted { byKey ? $0.key < $1.key : ($1.count, $0.key) < ($0.count, $1.key) }
    }

    static func onTime(_ deadlines: [Deadline], reopened: Int = 0) -> OnTime {
        let met = deadlines.filter { $0.state == .met }.count
        let late = deadlines.filter { $0.state == .metLate }.count
        let breached = deadlines.filter { $0.state == .breached }.count
        let decided = met + late + breached + reopened
        return OnTime(
            met: met, late: late, breached: breached, reopened: reopened, pending: deadlines.count - (met + late + breached),
            rate: decided == 0 ? nil : Double(met) / Double(decided))
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// The smallest value with at least `fraction` of the values at or below it.
    static func nearestRank(_ fraction: Double, _ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let rank = Int((fraction * Double(values.count)).rounded(.up))
        return values.sorted()[max(rank, 1) - 1]
    }
}
