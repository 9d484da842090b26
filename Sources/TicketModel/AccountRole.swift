/// What a person may do in the console of the node their account is on (accounts are local to
/// a node and never replicated).
public enum AccountRole: String, Codable, Sendable, CaseIterable {
    /// Takes and handles complaints.
    case clerk
    /// A clerk who also approves resolutions.
    case supervisor
    /// HQ's complaint office: oversees every branch, approves, sets the policy and calendar at HQ.
    case hqOfficer = "hq-officer"
    /// Manages the node's accounts; may do everything else too.
    case admin

    /// Whether the role approves resolutions (the process's `approve`).
    public var mayApprove: Bool { self != .clerk }

    /// Whether the role sees customers' phone numbers unmasked: all who handle complaints, not
    /// the administrator of accounts.
    public var maySeePhones: Bool { self != .admin }

    /// Whether the role sets the company's policy and calendar (at an HQ node).
    public var maySetCompanySettings: Bool { self == .hqOfficer || self == .admin }

    /// Whether the role adds, changes and disables accounts.
    public var mayManageAccounts: Bool { self == .admin }
}
