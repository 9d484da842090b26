import Foundation
import Hummingbird
import Replication
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// The SLA policy and the working-day calendar: editable at HQ by a role that may set them
    /// (each save is one op, replicated to every branch), read-only elsewhere.
    func addSettings(to router: Router<ConsoleContext>) {
        router.get("/settings") { _, context in
            try await settingsPage(context)
        }
        router.post("/settings/policy") { request, context in
            let form = try await Self.checkedForm(request, context: context)
            let account = try settingsEditor(context)
            var policy = try await store.companySettings().policy
            for severity in Severity.allCases {
                let rule = ServicePolicy.Rule(
                    firstReply: try Period(form["firstReply\(severity.rawValue)"] ?? ""),
                    resolution: try Period(form["resolution\(severity.rawValue)"] ?? ""))
                policy.rules[severity.rawValue] = rule
            }
            policy.dueSoonHours = try Self.number(form["dueSoonHours"], in: 1...240, "due-soon hours")
            policy.onTimeTargetPercent = try Self.number(form["onTimeTarget"], in: 1...100, "on-time target")
            policy.crossDepartmentIsSerious = form["crossDepartment"] == "on"
            policy.reappliesToOpenTickets = form["reapply"] == "on"
            try await store.setPolicy(policy, actor: account.name)
            return Response.redirect(to: "/settings", type: .normal)
        }
        router.post("/settings/calendar") { request, context in
            let form = try await Self.checkedForm(request, context: context)
            let account = try settingsEditor(context)
            var calendar = try await store.companySettings().calendar
            let day = form["day"].flatMap { CalendarDay($0.trimmingWhitespace()) }?.description
            let label = (form["name"] ?? "").trimmingWhitespace()
            switch form["change"] {
            case "holiday":
                guard let day else { throw DomainError("invalid day '\(form["day"] ?? "")': use YYYY-MM-DD") }
                (calendar.holidays[day], calendar.workingDays[day]) = (label, nil)
            case "working-day":
                guard let day else { throw DomainError("invalid day '\(form["day"] ?? "")': use YYYY-MM-DD") }
                (calendar.workingDays[day], calendar.holidays[day]) = (label, nil)
            case "remove":
                guard let day else { throw DomainError("invalid day '\(form["day"] ?? "")': use YYYY-MM-DD") }
                (calendar.holidays[day], calendar.workingDays[day]) = (nil, nil)
            case "week":
                calendar.timeZone = (form["timeZone"] ?? "").trimmingWhitespace()
                calendar.restWeekdays = Set(Weekday.allCases.filter { form["rest\($0.rawValue)"] == "on" })
            case "branch-zone":
                let node = try NodeID((form["node"] ?? "").trimmingWhitespace())
                let zone = (form["zone"] ?? "").trimmingWhitespace()
                calendar.branchTimeZones[node.rawValue] = zone.isEmpty ? nil : zone
            default:
                throw ConsoleError(.badRequest, Strings.table(context.language)["badRequest"]!)
            }
            calendar.reappliesToOpenTickets = form["reapply"] == "on"
            try await store.setCalendar(calendar, actor: account.name)
            return Response.redirect(to: "/settings", type: .normal)
        }
    }

    /// The account, if it may change the company's settings here: an HQ role, at HQ.
    private func settingsEditor(_ context: ConsoleContext) throws -> Account {
        let account = try session(context).account
        let strings = Strings.table(context.language)
        guard store.identity.role == .hq, account.role.maySetCompanySettings else {
            throw ConsoleError(.forbidden, "\(strings["forbidden"]!): \(strings["readOnlyHere"]!)")
        }
        return account
    }

    private func settingsPage(_ context: ConsoleContext) async throws -> Response {
        let strings = Strings.table(context.language)
        let account = try session(context).account
        let settings = try await store.companySettings()
        let (policy, calendar) = (settings.policy, settings.calendar)
        let rules = Severity.allCases.map { severity -> [String: Any] in
            let rule = policy.rule(severity: severity, departments: 1).rule
            return [
                "severity": severity.rawValue, "label": strings[String(severity.rawValue)]!,
                "firstReply": rule.firstReply.description, "resolution": rule.resolution.description,
            ]
        }
        let days = { (days: [String: String]) in days.sorted { $0.key < $1.key }.map { ["day": $0.key, "name": $0.value] } }
        let values: [String: Any] = [
            "editable": store.identity.role == .hq && account.role.maySetCompanySettings,
            "rules": rules, "dueSoonHours": policy.dueSoonHours, "onTimeTarget": policy.onTimeTargetPercent,
            "crossDepartment": policy.crossDepartmentIsSerious, "timeZone": calendar.timeZone,
            "weekdays": Weekday.allCases.map {
                ["value": $0.rawValue, "label": strings["weekday.\($0.rawValue)"]!, "rest": calendar.restWeekdays.contains($0)] as [String: Any]
            },
            "holidays": days(calendar.holidays), "workingDays": days(calendar.workingDays),
            "branchZones": calendar.branchTimeZones.sorted { $0.key < $1.key }.map { ["node": $0.key, "zone": $0.value] },
        ]
        return pages.render("settings", title: strings["settings"]!, values: values, context: context)
    }

    private static func number(_ text: String?, in range: ClosedRange<Int>, _ what: String) throws(DomainError) -> Int {
        guard let value = text.flatMap({ Int($0.trimmingWhitespace()) }), range.contains(value) else {
            throw DomainError("invalid \(what) '\(text ?? "")': give a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
