import Foundation
import Hummingbird
import Replication
import Reporting
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// The queue: the tickets a clerk works, most urgent deadline first, each deadline counting
    /// down in the page (`console.js`) and coloured like an SLA clock.
    func addQueue(to router: Router<ConsoleContext>) {
        router.get("/") { request, context in
            let query = request.uri.queryParameters
            let strings = Strings.table(context.language)
            let account = try session(context).account
            var filter = TicketFilter()
            filter.stage = query["status"].flatMap { Stage(rawValue: String($0)) }
            filter.severity = query["severity"].flatMap { Int(String($0)) }.flatMap(Severity.init(rawValue:))
            filter.category = query["category"].flatMap { Category(rawValue: String($0)) }
            filter.channel = query["channel"].flatMap { Channel(rawValue: String($0)) }
            filter.phone = query["phone"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            filter.assignee = query["assignee"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            filter.branch = query["branch"].flatMap { try? NodeID(String($0)) }
            let settings = try await store.companySettings()
            let zone = TimeZone(identifier: settings.calendar.timeZone) ?? .gmt
            let month = query["month"].flatMap { try? ReportMonth(String($0)) }
            filter.received = month?.interval(in: zone)
            let day = query["day"].flatMap { CalendarDay(String($0)) }
            filter.unresolvedAt = day.map { DeadlineClock.endOfDay($0, in: zone) }
            filter.limit = 100
            // Read before the rows, so that a change made meanwhile shows as one.
            let version = try await store.opCount()
            let view = query["view"].map(String.init) ?? "open"
            let now = Date()
            let rows: [[String: Any]]
            switch view {
            case "overdue", "due-soon", "open":
                let soon = Double(settings.policy.dueSoonHours) * 3600
                let horizon = view == "overdue" ? now : view == "due-soon" ? now + soon : .distantFuture
                rows = try await store.urgentTickets(dueBy: horizon, now: now, filter: filter).map {
                    row($0.ticket, deadline: $0.deadlines.headline, account: account, strings: strings)
                }
            default:
                if view == "mine" { filter.assignee = account.name }
                rows = try await store.tickets(filter).map { row($0, deadline: nil, account: account, strings: strings) }
            }
            let views = ["open", "overdue", "due-soon", "mine", "all"].map { name in
                ["name": name, "label": strings[name == "due-soon" ? "dueSoon" : name]!, "current": name == view] as [String: Any]
            }
            func options<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type, selected: Choice?) -> [[String: Any]]
            where Choice.RawValue == String {
                Choice.allCases.map { ["value": $0.rawValue, "label": strings["\(Choice.self).\($0.rawValue)"] ?? $0.rawValue, "selected": $0.rawValue == selected?.rawValue] }
            }
            // What a dashboard link narrowed the list to, said above it and kept by the filter form.
            var scope: [[String: String]] = []
            if let branch = filter.branch { scope.append(["name": "branch", "value": branch.rawValue, "label": "\(strings["handledBy"]!) \(branch)"]) }
            if let month { scope.append(["name": "month", "value": month.description, "label": "\(strings["receivedIn"]!) \(month)"]) }
            if let day { scope.append(["name": "day", "value": day.description, "label": "\(strings["openAtEndOf"]!) \(day)"]) }
            return pages.render(
                "queue", title: strings["queue"]!,
                values: [
                    "live": "/events?since=\(version)", "liveMode": "replace",
                    "tickets": rows, "empty": rows.isEmpty, "views": views, "view": view, "phone": filter.phone ?? "",
                    "stages": Stage.allCases.map {
                ["value": $0.rawValue, "label": strings["stage.\($0.rawValue)"]!, "selected": $0 == filter.stage] as [String: Any]
            },
                    "categories": options(Category.self, selected: filter.category),
                    "channels": options(Channel.self, selected: filter.channel), "assignee": filter.assignee ?? "",
                    "scope": scope, "hasScope": !scope.isEmpty,
                    "severities": Severity.allCases.map {
                        ["value": $0.rawValue, "label": strings[String($0.rawValue)]!, "selected": $0 == filter.severity] as [String: Any]
                    },
                ], context: context)
        }
    }

    /// One line of the queue, with the phone masked unless the account's role may see it.
    private func row(_ ticket: TicketSummary, deadline: Deadline?, account: Account, strings: [String: String]) -> [String: Any] {
        var row: [String: Any] = [
            "number": ticket.number, "title": ticket.title, "status": strings["stage.\(ticket.status)"] ?? ticket.status,
            "severity": ticket.severity,
            "category": strings["Category.\(ticket.category)"] ?? ticket.category, "customer": ticket.customer,
            "phone": account.role.maySeePhones ? ticket.phone : PhoneNumber.masked(ticket.phone), "assignee": ticket.assignee,
            "received": ISO8601DateFormatter().string(from: ticket.receivedAt), "readOnly": ticket.readOnly,
            "handledBy": ticket.handledBy, "flagged": ticket.approvalIssue != nil,
        ]
        if let deadline {
            row["deadline"] = [
                "kind": deadline.kind.rawValue, "state": deadline.state.rawValue, "label": strings["state.\(deadline.state.rawValue)"] ?? "",
                "due": deadline.due.map { ISO8601DateFormatter().string(from: $0) } ?? "",
            ]
        }
        return row
    }

    /// The logged-in session; the middleware lets no page through without one.
    func session(_ context: ConsoleContext) throws -> ConsoleSession {
        guard let session = context.session else { throw ConsoleError(.unauthorized, Strings.table(context.language)["sessionExpired"]!) }
        return session
    }
}
