import TicketModel

/// A deadline's length: hours on the clock, calendar days, or working days of the `WorkCalendar`.
public enum Period: Hashable, Sendable, CustomStringConvertible {
    case hours(Int)
    case days(Int)
    case workingDays(Int)

    /// Parses `24h`, `7d` or `3wd`.
    public init(_ text: String) throws(DomainError) {
        let lower = text.trimmingWhitespace().lowercased()
        let (digits, unit): (Substring, String) =
            lower.hasSuffix("wd") ? (lower.dropLast(2), "wd") : (lower.dropLast(), String(lower.suffix(1)))
        guard let count = Int(digits), (1...1000).contains(count) else {
            throw DomainError("invalid period '\(text)': use hours, days or working days, e.g. 24h, 7d or 3wd")
        }
        switch unit {
        case "h": self = .hours(count)
        case "d": self = .days(count)
        case "wd": self = .workingDays(count)
        default: throw DomainError("invalid period '\(text)': use hours, days or working days, e.g. 24h, 7d or 3wd")
        }
    }

    public var description: String {
        switch self {
        case .hours(let count): "\(count)h"
        case .days(let count): "\(count)d"
        case .workingDays(let count): "\(count)wd"
        }
    }

    /// In words, for explanations.
    public var spelledOut: String {
        switch self {
        case .hours(let count): count == 1 ? "1 hour" : "\(count) hours"
        case .days(let count): count == 1 ? "1 day" : "\(count) days"
        case .workingDays(let count): count == 1 ? "1 working day" : "\(count) working days"
        }
    }
}

extension Period: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The company's service-level policy, set at HQ and replicated to every node: per severity, how
/// soon the customer gets a first reply and how soon the complaint is resolved.
public struct ServicePolicy: Hashable, Codable, Sendable {
    /// The deadlines of one severity.
    public struct Rule: Hashable, Codable, Sendable {
        public var firstReply: Period
        public var resolution: Period

        public init(firstReply: Period, resolution: Period) {
            self.firstReply = firstReply
            self.resolution = resolution
        }
    }

    /// Severity (1, 2, 3) → its rule.
    public var rules: [Int: Rule]
    /// A general complaint that involves more than one department is resolved on the serious
    /// complaints' deadline (the seeds: "严重问题或涉及多科室的问题 … 7个工作日内办结").
    public var crossDepartmentIsSerious: Bool
    /// How long before its due time a deadline shows as due soon.
    public var dueSoonHours: Int
    /// Whether this version, once set, also governs the tickets recorded before it that are still
    /// open (`SettingHistory`); otherwise each ticket keeps the version it was recorded with.
    public var reappliesToOpenTickets: Bool
    /// The share of deadlines the company means to meet, in percent: the dashboard shows a
    /// branch's on-time rate green at or above it, amber within 10 points below, red under that.
    public var onTimeTargetPercent: Int

    public init(
        rules: [Int: Rule], crossDepartmentIsSerious: Bool = true, dueSoonHours: Int = 4, reappliesToOpenTickets: Bool = false,
        onTimeTargetPercent: Int = 90
    ) {
        self.rules = rules
        self.crossDepartmentIsSerious = crossDepartmentIsSerious
        self.dueSoonHours = dueSoonHours
        self.reappliesToOpenTickets = reappliesToOpenTickets
        self.onTimeTargetPercent = onTimeTargetPercent
    }

    private enum CodingKeys: String, CodingKey {
        case rules, crossDepartmentIsSerious, dueSoonHours, reappliesToOpenTickets, onTimeTargetPercent
    }

    /// Reads versions HQ set before `reappliesToOpenTickets` existed as not re-applying, and
    /// those set before `onTimeTargetPercent` as aiming at 90%.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rules = try container.decode([Int: Rule].self, forKey: .rules)
        crossDepartmentIsSerious = try container.decode(Bool.self, forKey: .crossDepartmentIsSerious)
        dueSoonHours = try container.decode(Int.self, forKey: .dueSoonHours)
        reappliesToOpenTickets = try container.decodeIfPresent(Bool.self, forKey: .reappliesToOpenTickets) ?? false
        onTimeTargetPercent = try container.decodeIfPresent(Int.self, forKey: .onTimeTargetPercent) ?? 90
    }

    /// The seeds' deadlines: a first reply within 24 hours; general complaints resolved within 3
    /// working days, serious and major ones (and cross-department ones) within 7.
    public static let standard = ServicePolicy(rules: [
        Severity.general.rawValue: Rule(firstReply: .hours(24), resolution: .workingDays(3)),
        Severity.serious.rawValue: Rule(firstReply: .hours(24), resolution: .workingDays(7)),
        Severity.major.rawValue: Rule(firstReply: .hours(24), resolution: .workingDays(7)),
    ])

    /// The rule for a ticket of `severity` involving `departments` departments, and why it applies.
    public func rule(severity: Severity, departments: Int) -> (rule: Rule, reason: String) {
        let fallback = Self.standard.rules[severity.rawValue]!
        if severity == .general, crossDepartmentIsSerious, departments > 1 {
            return (rules[Severity.serious.rawValue] ?? fallback, "severity 1 involving \(departments) departments: the severity 2 rule")
        }
        return (rules[severity.rawValue] ?? fallback, "severity \(severity.rawValue)")
    }
}
