import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// The company-wide settings every node holds: set at HQ, replicated as ops on the company
/// settings document (`TicketID.companySettings`), so a branch applies HQ's policy even offline.
public struct CompanySettings: Sendable, Equatable {
    /// The versions in force now (what `policy show` and `calendar show` print).
    public var policy: ServicePolicy
    public var calendar: WorkCalendar
    /// Every version HQ set, for judging each ticket by the one it was recorded under.
    public var policies: SettingHistory<ServicePolicy>
    public var calendars: SettingHistory<WorkCalendar>

    public init(
        policy: ServicePolicy, calendar: WorkCalendar, policies: SettingHistory<ServicePolicy>? = nil,
        calendars: SettingHistory<WorkCalendar>? = nil
    ) {
        self.policy = policy
        self.calendar = calendar
        self.policies = policies ?? SettingHistory(standard: policy, versions: [])
        self.calendars = calendars ?? SettingHistory(standard: calendar, versions: [])
    }

    /// The seeds' policy and a Monday-to-Friday calendar in China Standard Time.
    public static let standard = CompanySettings(policy: .standard, calendar: WorkCalendar())

    /// The deadline rules in force now.
    public var clock: DeadlineClock { DeadlineClock(policy: policy, calendar: calendar) }

    /// The rules a ticket is judged by — the versions it was recorded under, or those HQ
    /// re-applied to it — and where each comes from.
    func clock(for document: TicketDocument, _ timeline: TicketTimeline) -> (clock: DeadlineClock, policy: String, calendar: String) {
        let zone = TimeZone(identifier: calendar.timeZoneName(forBranch: document.owner.rawValue)) ?? .gmt
        let recordedAt = document.opening?.hlc.rawValue ?? 0
        func recorded(_ field: Field) -> String? { document.registers[field] == nil ? nil : document.text(field) }
        let policy = policies.choice(recorded: recorded(.policyVersion), recordedAt: recordedAt, isOpen: timeline.isOpen, in: zone)
        let calendar = calendars.choice(recorded: recorded(.calendarVersion), recordedAt: recordedAt, isOpen: timeline.isOpen, in: zone)
        return (DeadlineClock(policy: policy.value, calendar: calendar.value), policy.source, calendar.source)
    }
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
        // Every version HQ set, from the settings document's ops; a value a newer HQ wrote that
        // this node cannot read is skipped, so the previous one keeps working.
        var policies: [SettingHistory<ServicePolicy>.Version] = []
        var calendars: [SettingHistory<WorkCalendar>.Version] = []
        let ops = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT * FROM op WHERE ticket = ? ORDER BY hlc, origin, seq"),
            arguments: [TicketID.companySettings.description]
        ).map(op(from:))
        for op in ops {
            for case .write(let field, .text(let json), _) in op.changes {
                let data = Data(json.utf8)
                if field == .servicePolicy, let policy = try? Coding.decode(ServicePolicy.self, from: data) {
                    policies.append(
                        .init(id: op.id.description, clock: op.hlc.rawValue, setAt: Date(hlc: op.hlc), setBy: op.actor, value: policy,
                              reappliesToOpenTickets: policy.reappliesToOpenTickets))
                } else if field == .workCalendar, let calendar = try? Coding.decode(WorkCalendar.self, from: data) {
                    calendars.append(
                        .init(id: op.id.description, clock: op.hlc.rawValue, setAt: Date(hlc: op.hlc), setBy: op.actor, value: calendar,
                              reappliesToOpenTickets: calendar.reappliesToOpenTickets))
                }
            }
        }
        var settings = CompanySettings.standard
        if let document = try storedDocument(.companySettings, db) {
            // The value in force is the register's (last writer wins), not the latest op's.
            if let id = document.registers[.servicePolicy]?.winner?.stamp.op.description, let version = policies.first(where: { $0.id == id }) {
                settings.policy = version.value
            }
            if let id = document.registers[.workCalendar]?.winner?.stamp.op.description, let version = calendars.first(where: { $0.id == id }) {
                settings.calendar = version.value
            }
        }
        settings.policies = SettingHistory(standard: .standard, versions: policies)
        settings.calendars = SettingHistory(standard: WorkCalendar(), versions: calendars)
        return settings
    }
}
