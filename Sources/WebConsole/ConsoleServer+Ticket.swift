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
        addSteps(to: router)
    }

    private func ticketPage(_ reference: String, context: ConsoleContext) async throws -> Response {
        let account = try session(context).account
        let strings = Strings.table(context.language)
        let version = try await store.version(of: reference)
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
                "severityLabel": strings[String(ticket.severity)] ?? "", "category": strings["Category.\(ticket.category)"] ?? ticket.category,
                "kind": strings["ComplaintKind.\(ticket.kind)"] ?? ticket.kind, "channel": strings["Channel.\(ticket.channel)"] ?? ticket.channel, "customer": ticket.customer,
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
                    "kind": strings["deadline.\(deadline.kind.rawValue)"] ?? deadline.kind.rawValue, "round": deadline.round, "state": deadline.state.rawValue,
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
            "channels": Channel.allCases.map { ["value": $0.rawValue, "label": strings["Channel.\($0.rawValue)"]!] },
            "canEdit": !ticket.readOnly,
        ]
        let stage = Stage(rawValue: ticket.status) ?? .new
        let waiting = ticket.tags.contains(Tag.waitingForCustomer)
        let escalation = EscalationLevel.allCases.first { $0.name == ticket.escalation } ?? .none
        var forms: [String: Any] = [
            "open": !stage.isTerminal, "waiting": waiting, "canWait": !stage.isTerminal && !waiting,
            "canFollowUp": stage == .replied || stage == .closed,
            "canInvestigate": stage == .accepted || stage == .investigating,
            "investigation": (Field.investigation + [.resolution]).map { field in
                ["field": field.rawValue, "label": strings[field.rawValue]!, "text": sections.first { $0.0 == field.rawValue }?.1 ?? ""]
            },
            "levels": EscalationLevel.allCases.filter { $0 > escalation }.map { ["value": $0.rawValue, "label": strings["level.\($0.rawValue)"]!] },
            "scores": (1...5).reversed().map { ["value": $0, "label": strings["score.\($0)"]!] },
        ]
        forms["canEscalate"] = !stage.isTerminal && escalation < .headquarters
        if store.identity.role == .hq {
            let branches = try await store.peers().filter { $0.role == .branch && $0.nodeID.rawValue != ticket.handledBy }.map(\.nodeID.rawValue)
            forms["branches"] = branches
            forms["canTransfer"] = !branches.isEmpty && !stage.isTerminal
        }
        values["forms"] = forms
        values["live"] = "/events?ticket=\(ticket.number)&since=\(version)"
        values["liveMode"] = "notice"
        values["escalation"] = strings["level.\(escalation.rawValue)"]!
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
