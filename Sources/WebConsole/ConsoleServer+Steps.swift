import Foundation
import Hummingbird
import Logging
import Replication
import TicketModel
import TicketStore

/// The changes of one step of a ticket's handling, derived from the current document.
typealias StepChanges = @Sendable (TicketDocument) throws -> [Change]

extension ConsoleServer {
    /// The forms of the ticket page: each posts one step, committed as one op whose actor is the
    /// logged-in account. A form's values are read before the ticket is, so that a bad value is
    /// refused with nothing written; the document's own rules refuse the rest.
    func addSteps(to router: Router<ConsoleContext>) {
        step("transition", router) { form, account, role, strings in
            guard let transition = form["transition"].flatMap(Transition.init(rawValue:)) else {
                throw ConsoleError(.badRequest, strings["badRequest"]!)
            }
            if transition == .approve, !account.role.mayApprove {
                throw ConsoleError(.forbidden, "\(strings["forbidden"]!): \(strings["role.\(account.role.rawValue)"]!)")
            }
            let reason = form["reason"] ?? ""
            return (transition.rawValue, { try $0.transition(transition, reason: reason, authority: role) })
        }
        step("reply", router) { form, _, _, _ in
            let via = try Field.replyVia.parse(form["via"] ?? "").text.flatMap(Channel.init(rawValue:)) ?? .phone
            let message = form["message"] ?? ""
            let promised = try form["promised"].flatMap { $0.isEmpty ? nil : $0 }.map(Self.day)
            return ("reply", { try $0.reply(message: message, via: via, promisedDate: promised) })
        }
        step("resolve", router) { form, _, _, strings in
            guard let field = form["field"].flatMap(Field.init(rawValue:)) else { throw ConsoleError(.badRequest, strings["badRequest"]!) }
            // A chosen value is read as the field's values are typed; none confirms the winner.
            let chosen = try form["value"].flatMap { $0.isEmpty ? nil : $0 }.map { try field.parse($0) }
            return ("resolve", { try $0.resolve(field, choosing: chosen) })
        }
        step("note", router) { form, _, _, _ in
            let entry = Entry(kind: form["kind"] == "contact" ? .contact : .note, text: form["text"] ?? "")
            return (entry.kind.rawValue, { try $0.append(entry) })
        }
        step("assign", router) { form, _, _, _ in
            let (person, department) = (form["person"] ?? "", form["department"].flatMap { $0.isEmpty ? nil : $0 })
            return ("assign", { try $0.assign(to: person, department: department) })
        }
        step("transfer", router) { form, _, _, _ in
            let node = try NodeID(form["to"] ?? "")
            return ("transfer", { try $0.transfer(to: node) })
        }
        step("escalate", router) { form, _, _, _ in
            let level = form["level"].flatMap(Int.init).flatMap(EscalationLevel.init(rawValue:))
            return ("escalate", { try $0.escalate(to: level) })
        }
        step("investigate", router) { form, _, _, _ in
            var sections: [Field: String] = [:]
            for field in Field.investigation + [.resolution] { if let text = form[field.rawValue] { sections[field] = text } }
            let written = sections
            return ("investigate", { document in
                // Only the sections this form changes are written: an unchanged one is no new write.
                let changed = written.filter { document[$0.key]?.text ?? "" != TypedText.normalisingLineEnds($0.value).trimmingWhitespace() }
                return try document.investigate(changed)
            })
        }
        step("wait", router) { form, _, _, _ in
            let reason = form["reason"] ?? ""
            return ("wait", { try $0.waitForCustomer(reason: reason) })
        }
        step("resume", router) { _, _, _, _ in ("resume", { try $0.resumeFromWaiting() }) }
        step("follow-up", router) { form, _, _, _ in
            let satisfaction = try Satisfaction(score: Int(form["score"] ?? "") ?? 0, remark: form["remark"] ?? "")
            let next = form["then"].flatMap(Transition.init(rawValue:))
            return ("follow-up", { try $0.followUp(satisfaction, then: next) })
        }
        step("tag", router) { form, _, _, _ in
            let add = (form["add"] ?? "").split(whereSeparator: { $0 == "," || $0 == "，" }).map(String.init)
            let remove = form["remove"].map { [$0] } ?? []
            return ("tag", { try $0.tag(add: add, remove: remove) })
        }
    }

    /// A route `POST /tickets/{reference}/NAME` that commits what `read` makes of the form, then
    /// shows the ticket again.
    private func step(
        _ name: String, _ router: Router<ConsoleContext>,
        _ read: @escaping @Sendable ([String: String], Account, NodeRole, [String: String]) throws -> (action: String, changes: StepChanges)
    ) {
        router.post("/tickets/{reference}/\(name)") { request, context in
            let reference = try context.parameters.require("reference")
            let form = try await Self.checkedForm(request, context: context)
            let account = try session(context).account
            let (action, changes) = try read(form, account, store.identity.role, Strings.table(context.language))
            let ticket = try await store.edit(reference, actor: account.name, action: action, changes)
            context.logger.info("ticket edited", metadata: ["ticket": "\(ticket.number)", "action": "\(action)", "account": "\(account.name)"])
            return Response.redirect(to: "/tickets/\(ticket.number)", type: .normal)
        }
    }

    private static func day(_ text: String) throws(DomainError) -> CalendarDay {
        guard let day = CalendarDay(text) else { throw DomainError("invalid date '\(text)': use YYYY-MM-DD") }
        return day
    }
}
