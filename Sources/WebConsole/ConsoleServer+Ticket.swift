import Foundation
import Hummingbird
import Replication
import ServiceLevels
import TicketModel
import TicketStore

extension ConsoleServer {
    /// The ticket page, and the next steps of the process as forms.
    func addTicket(to router: Router<ConsoleContext>) {
        router.get("/tickets/{reference}") { _, context in
            let reference = try context.parameters.require("reference")
            return try await ticketPage(reference, context: context)
        }
        router.post("/tickets/{reference}/transition") { request, context in
            let reference = try context.parameters.require("reference")
            let fields = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            guard let transition = fields["transition"].flatMap(Transition.init(rawValue:)) else {
                throw ConsoleError(.badRequest, Strings.table(context.language)["badRequest"]!)
            }
            if transition == .approve, !account.role.mayApprove {
                throw ConsoleError(.forbidden, "\(Strings.table(context.language)["forbidden"]!): \(account.role.rawValue)")
            }
            let (reason, role) = (fields["reason"] ?? "", store.identity.role)
            let ticket = try await store.edit(reference, actor: account.name, action: transition.rawValue) {
                try $0.transition(transition, reason: reason, authority: role)
            }
            return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
        }
        router.post("/tickets/{reference}/reply") { request, context in
            let reference = try context.parameters.require("reference")
            let fields = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            let via = try Field.replyVia.parse(fields["via"] ?? "").text.flatMap(Channel.init(rawValue:)) ?? .phone
            let message = fields["message"] ?? ""
            let promised = fields["promised"].flatMap { $0.isEmpty ? nil : CalendarDay($0) }
            let ticket = try await store.edit(reference, actor: account.name, action: "reply") {
                try $0.reply(message: message, via: via, promisedDate: promised)
            }
            return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
        }
        router.post("/tickets/{reference}/resolve") { request, context in
            let reference = try context.parameters.require("reference")
            let fields = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            guard let field = fields["field"].flatMap(Field.init(rawValue:)) else {
                throw ConsoleError(.badRequest, Strings.table(context.language)["badRequest"]!)
            }
            // A chosen value is read as the field's values are typed; none confirms the winner.
            let chosen = try fields["value"].flatMap { $0.isEmpty ? nil : $0 }.map { try field.parse($0) }
            let ticket = try await store.edit(reference, actor: account.name, action: "resolve") { try $0.resolve(field, choosing: chosen) }
            return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
        }
        router.post("/tickets/{reference}/note") { request, context in
            let reference = try context.parameters.require("reference")
            let fields = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            let entry = Entry(kind: fields["kind"] == "contact" ? .contact : .note, text: fields["text"] ?? "")
            let ticket = try await store.edit(reference, actor: account.name, action: entry.kind.rawValue) { try $0.append(entry) }
            return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
        }
    }

    private func ticketPage(_ reference: String, context: ConsoleContext) async throws -> Response {
        let account = try session(context).account
        let strings = Strings.table(context.language)
        let ticket = try await store.ticket(reference)
        let deadlines = try await store.deadlines(of: ticket.id, now: Date())
        let zone = TimeZone(identifier: store.identity.timeZone) ?? .gmt
        let time = { (date: Date) in DeadlineClock.format(date, in: zone) }
        let report = ticket.investigation
        let sections: [(String, String)] = [
            ("cause", report.cause), ("course", report.course), ("responsible", report.responsible), ("conclusion", report.conclusion),
            ("countermeasure", report.countermeasure), ("prevention", report.prevention), ("resolution", ticket.resolution),
        ]
        let steps = ticket.allowedTransitions.filter { $0 != Transition.reply.rawValue && ($0 != Transition.approve.rawValue || account.role.mayApprove) }
        var values: [String: Any] = [
            "ticket": [
                "number": ticket.number, "title": ticket.title, "status": strings["stage.\(ticket.status)"] ?? ticket.status,
                "round": ticket.round, "severity": ticket.severity,
                "severityLabel": strings[String(ticket.severity)] ?? "", "category": ticket.category, "kind": ticket.kind,
                "channel": ticket.channel, "customer": ticket.customer,
                "phone": account.role.maySeePhones ? ticket.phone : PhoneNumber.masked(ticket.phone),
                "statement": ticket.statement, "received": time(ticket.receivedAt), "department": ticket.department,
                "assignee": ticket.assignee, "handledBy": ticket.handledBy, "readOnly": ticket.readOnly, "tags": ticket.tags,
                "hasTags": !ticket.tags.isEmpty,
            ] as [String: Any],
            "told": [("request", ticket.request), ("facts", ticket.facts)].filter { !$0.1.isEmpty }.map { ["label": strings[$0.0]!, "text": $0.1] },
            "report": sections.filter { !$0.1.isEmpty }.map { ["label": strings[$0.0]!, "text": $0.1] },
            "internalNotes": ticket.notes.filter { $0.kind == "note" }.map { note(for: $0, time: time) },
            "customerNotes": ticket.notes.filter { $0.kind != "note" }.map { note(for: $0, time: time) },
            "history": ticket.history.reversed().map { ["at": time($0.at), "by": $0.by, "origin": $0.origin, "summary": $0.summary] },
            "deadlines": deadlines.deadlines.map { deadline -> [String: Any] in
                [
                    "kind": deadline.kind.rawValue, "round": deadline.round, "state": deadline.state.rawValue,
                    "label": strings["state.\(deadline.state.rawValue)"] ?? deadline.state.rawValue, "period": deadline.period,
                    "due": deadline.due.map { ISO8601DateFormatter().string(from: $0) } ?? "", "dueText": deadline.due.map(time) ?? "",
                    "explanation": deadline.explanation,
                ]
            },
            "policy": deadlines.policy,
            "conflicts": ticket.conflicts.map { conflict -> [String: Any] in
                [
                    "sentence": conflict.sentence, "field": conflict.field, "winner": conflict.winner.value,
                    "choices": conflict.overridden.map(\.value), "settable": conflict.field != Field.approval.rawValue,
                ]
            },
            "approvalIssues": ticket.approvalIssues,
            "steps": steps.map { ["name": $0, "label": strings["transition.\($0)"] ?? $0, "needsReason": $0 == "reject"] as [String: Any] },
            "canReply": ticket.allowedTransitions.contains(Transition.reply.rawValue),
            "channels": Channel.allCases.map(\.rawValue),
            "canEdit": !ticket.readOnly,
        ]
        // Mustache shows a section for a true value: one flag per list that has a heading.
        for list in ["report", "told", "conflicts", "approvalIssues"] {
            values["has" + list.prefix(1).uppercased() + list.dropFirst()] = !((values[list] as? [Any])?.isEmpty ?? true)
        }
        if let reply = ticket.reply { values["reply"] = ["message": reply.message, "via": reply.via, "promised": reply.promisedDate ?? ""] }
        return pages.render("ticket", title: "\(ticket.number) \(ticket.title)", values: values, context: context)
    }

    private func note(for note: TicketView.Note, time: (Date) -> String) -> [String: Any] {
        ["kind": note.kind, "text": note.text, "at": time(note.at), "by": note.by, "origin": note.origin, "via": note.via ?? ""]
    }
}
