import Foundation

/// Every version of a company setting (the policy or the calendar) that HQ set, so that each
/// ticket is judged by the version in force when it was recorded — not by whatever is in force
/// when someone looks — unless HQ set a later version to re-apply to tickets still open.
public struct SettingHistory<Value: Sendable & Equatable>: Sendable, Equatable {
    /// One version: the op that set it, when and by whom.
    public struct Version: Sendable, Equatable {
        /// The op that wrote it, e.g. `hq#12`: what a ticket records.
        public let id: String
        /// The op's hybrid logical clock (`wall << 16 | counter`): orders versions and tickets exactly.
        public let clock: UInt64
        public let setAt: Date
        public let setBy: String
        public let value: Value
        /// Whether it also governs the tickets recorded before it that were still open when it was set.
        public let reappliesToOpenTickets: Bool

        public init(id: String, clock: UInt64, setAt: Date, setBy: String, value: Value, reappliesToOpenTickets: Bool) {
            self.id = id
            self.clock = clock
            self.setAt = setAt
            self.setBy = setBy
            self.value = value
            self.reappliesToOpenTickets = reappliesToOpenTickets
        }
    }

    /// The version a ticket is judged by, and why, in words for `ticket sla`.
    public struct Choice: Sendable, Equatable {
        public let value: Value
        /// The version's op id; nil for the standard setting.
        public let version: String?
        public let source: String
    }

    /// What applies when HQ has set nothing.
    public let standard: Value
    /// In the order they were set.
    public let versions: [Version]

    public init(standard: Value, versions: [Version]) {
        self.standard = standard
        self.versions = versions.sorted { ($0.clock, $0.id) < ($1.clock, $1.id) }
    }

    /// The version for a ticket that recorded `recorded` (an op id, "" for the standard setting;
    /// nil when it recorded none, as tickets made before versions were recorded: then the version
    /// in force when it was recorded, at clock `recordedAt`), re-applied by a later version set
    /// while `isOpen` held.
    public func choice(recorded: String?, recordedAt: UInt64, isOpen: (Date) -> Bool, in zone: TimeZone) -> Choice {
        let base: Version?
        let how: String
        if let recorded {
            base = versions.first { $0.id == recorded }
            how = "recorded with the ticket"
        } else {
            base = versions.last { $0.clock <= recordedAt }
            how = "in force when the ticket was recorded"
        }
        let after = max(base?.clock ?? 0, recordedAt)
        if let reapplied = versions.last(where: { $0.reappliesToOpenTickets && $0.clock > after && isOpen($0.setAt) }) {
            return Choice(
                value: reapplied.value, version: reapplied.id,
                source: "\(describe(reapplied, in: zone)), re-applied by HQ to the tickets open then")
        }
        guard let base else {
            if let recorded, !recorded.isEmpty {
                // The ticket names a version this node has not received yet: until it does, the
                // latest one known stands in.
                return Choice(
                    value: versions.last?.value ?? standard, version: versions.last?.id,
                    source: "version \(recorded) (not yet received here; the latest known stands in)")
            }
            return Choice(value: standard, version: nil, source: "the standard setting (HQ had set none), \(how)")
        }
        return Choice(value: base.value, version: base.id, source: "\(describe(base, in: zone)), \(how)")
    }

    private func describe(_ version: Version, in zone: TimeZone) -> String {
        "the version \(version.setBy) set \(DeadlineClock.format(version.setAt, in: zone)) (\(version.id))"
    }
}
