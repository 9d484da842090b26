import Foundation
import Hummingbird
import Replication
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// Taking a complaint: the form, with the same validation and messages as `ticket open`.
    func addIntake(to router: Router<ConsoleContext>) {
        // The form, beside the customer's earlier complaints found by the phone typed: `?phone=`
        // (the page's script asks so), or the form posted back by its "look up" button, filled
        // in as it was.
        router.get("/tickets/new") { request, context in
            let phone = request.uri.queryParameters["phone"].map(String.init)
            return try await intakePage(values: phone.map { ["phone": $0] } ?? [:], error: nil, context: context)
        }
        router.post("/tickets/new") { request, context in
            var fields = try await Self.checkedForm(request, context: context)
            fields[CSRF.field] = nil
            return try await intakePage(values: fields, error: nil, context: context)
        }
        router.post("/tickets") { request, context in
            let fields = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            do {
                let draft = try TicketDraft(
                    channel: try choice(fields["channel"], Channel.self, "channel"),
                    receivedAt: try receivedAt(fields["receivedAt"]), takenBy: account.name, customer: fields["customer"] ?? "",
                    phone: fields["phone"] ?? "", title: fields["title"] ?? "", statement: fields["statement"] ?? "",
                    request: fields["request"] ?? "", category: try choice(fields["category"], Category.self, "category"),
                    kind: try choice(fields["kind"], ComplaintKind.self, "kind"),
                    severity: Severity(rawValue: Int(fields["severity"] ?? "") ?? 0) ?? .general, department: fields["department"] ?? "")
                let ticket = try await store.openTicket(draft, actor: account.name)
                return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
            } catch let error as DomainError {
                // The form again, filled in as it was sent, with what is wrong above it.
                return try await intakePage(values: fields, error: error.message, context: context, status: .unprocessableContent)
            }
        }
    }

    private func intakePage(
        values: [String: String], error: String?, context: ConsoleContext, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let strings = Strings.table(context.language)
        func options<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type, _ field: String) -> [[String: Any]]
        where Choice.RawValue == String {
            Choice.allCases.map {
                ["value": $0.rawValue, "label": strings["\(Choice.self).\($0.rawValue)"] ?? $0.rawValue, "selected": values[field] == $0.rawValue]
            }
        }
        var page: [String: Any] = [
                "form": values, "channels": options(Channel.self, "channel"),
                "categories": options(Category.self, "category"), "kinds": options(ComplaintKind.self, "kind"),
                "severities": Severity.allCases.map {
                    ["value": $0.rawValue, "label": strings[String($0.rawValue)]!, "selected": values["severity"] == String($0.rawValue)] as [String: Any]
                },
            ]
        if let error { page["error"] = error }
        if let phone = values["phone"], !PhoneNumber.normalised(phone).isEmpty {
            var filter = TicketFilter()
            filter.phone = phone
            filter.limit = 20
            let earlier = try await store.tickets(filter)
            page["lookedUp"] = true
            page["earlier"] = earlier.map {
                [
                    "number": $0.number, "title": $0.title, "status": strings["stage.\($0.status)"] ?? $0.status,
                    "received": DeadlineClock.format($0.receivedAt, in: TimeZone(identifier: store.identity.timeZone) ?? .gmt),
                    "branch": $0.handledBy,
                ]
            }
            page["hasEarlier"] = !earlier.isEmpty
        }
        return pages.render("intake", title: strings["newComplaint"]!, values: page, context: context, status: status)
    }

    private func choice<Choice: RawRepresentable & CaseIterable>(_ text: String?, _ type: Choice.Type, _ what: String) throws(DomainError) -> Choice
    where Choice.RawValue == String {
        guard let text, let value = Choice(rawValue: text) else {
            throw DomainError("choose the \(what): \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// The form's `datetime-local` value in the node's time zone; empty means now.
    private func receivedAt(_ text: String?) throws(DomainError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: store.identity.timeZone) ?? .gmt
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
        guard let date = formatter.date(from: text) else { throw DomainError("invalid received time '\(text)': use YYYY-MM-DD HH:MM") }
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}
