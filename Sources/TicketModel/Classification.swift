/// How a complaint reached us (DESIGN §1, intake).
public enum Channel: String, Codable, Sendable, CaseIterable {
    case phone
    case walkIn = "walk-in"
    case letter
    case email
    case web
    case wechat
    /// Transferred from another unit.
    case transfer
}

/// What the complaint is about.
public enum Category: String, Codable, Sendable, CaseIterable {
    case product
    case service
    case price
    case policy
    case other
}

/// The nature of the complaint: an appeal, a compensation claim, or a non-quality issue.
public enum ComplaintKind: String, Codable, Sendable, CaseIterable {
    case appeal
    case claim
    case nonQuality = "non-quality"
}

/// 1 general, 2 serious or cross-department, 3 major (HQ must act).
public enum Severity: Int, Codable, Sendable, CaseIterable, Comparable {
    case general = 1
    case serious = 2
    case major = 3

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }
}
