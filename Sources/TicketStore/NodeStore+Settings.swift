import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// The company-wide settings every node holds: set at HQ, replicated as ops on the company
/// settings document (`TicketID.companySettings`), so a branch applies HQ's policy even offline.
public struct CompanySettings: Sendable, Equatable {
    public var policy: ServicePolicy
    public var calendar: WorkCalendar

    public init(policy: ServicePolicy, calendar: WorkCalendar) {
        self.policy = policy
        self.calendar = calendar
    }

    /// The seeds' policy and a Monday-to-Friday calendar in China Standard Time.
    public static let standard = CompanySettings(policy: .standard, calendar: WorkCalendar())

    /// The deadline rules these settings make.
    public var clock: DeadlineClock { DeadlineClock(policy: policy, calendar: calendar) }
}

extension NodeStore {
    /// The settings this node holds; the standard ones until HQ sets others.
    public func companySettings() async throws -> CompanySettings {
        try await read { db in try Self.companySettings(db) }
    }

    /// Sets the company's service-level policy (HQ only): one op, replicated to every branch.
    public func setPolicy(_ policy: ServicePolicy, actor: String) async throws {
        for (severity, _) in policy.rules where Severity(rawValue: severity) == nil {
            throw DomainError("invalid severity \(severity) in the policy: use 1, 2 or 3")
        }
        try await setCompanySetting(.servicePolicy, Coding.encode(policy), actor: actor, action: "set-policy")
    }

    /// Sets the company's working-day calendar (HQ only): one op, replicated to every branch.
    public func setCalendar(_ calendar: WorkCalendar, actor: String) async throws {
        try calendar.validate()
        try await setCompanySetting(.workCalendar, Coding.encode(calendar), actor: actor, action: "set-calendar")
    }

    private func setCompanySetting(_ field: Field, _ json: Data, actor: String, action: String) async throws {
        guard identity.role == .hq else {
            throw DomainError("only HQ sets the company's policy and calendar; this branch receives them when it syncs")
        }
        _ = try await groupCommit.commit({ _, local in
            let document = try local.document(.companySettings)
            let changes = try document.update([field: .text(String(decoding: json, as: UTF8.self))])
            try local.record(ticket: .companySettings, actor: actor, action: action, changes: changes)
            return .companySettings
        }, in: self)
    }

    static func companySettings(_ db: Database) throws -> CompanySettings {
        var settings = CompanySettings.standard
        guard let document = try storedDocument(.companySettings, db) else { return settings }
        // A value a newer HQ wrote that this node cannot read keeps the previous one working.
        if let json = document[.servicePolicy]?.text, let policy = try? Coding.decode(ServicePolicy.self, from: Data(json.utf8)) {
            settings.policy = policy
        }
        if let json = document[.workCalendar]?.text, let calendar = try? Coding.decode(WorkCalendar.self, from: Data(json.utf8)) {
            settings.calendar = calendar
        }
        return settings
    }
}
