import Foundation
import Replication
import ServiceLevels
import SwiftProtobuf
import SyncWire
import Testing
import TestSupport
import TicketModel
import WireForms

/// `Protocol/PAYLOAD.md` and `Protocol/vectors/ops.txt` are generated here from the code's own
/// tables — `OpAction.all`, `Field`, the enumerations — and from one real op of every action,
/// made by the same edit functions the CLI and the console call. The test fails when either file
/// differs from what the code makes; `BRANCHDESK_WRITE_VECTORS=1 swift test --filter
/// PayloadReference` rewrites them after a deliberate change.
@Suite("The payload reference in Protocol/PAYLOAD.md")
struct PayloadReferenceTests {
    static let protocolFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Protocol")
        .standardized

    @Test("every action has an example op that the receiver's rules accept, and only its own changes pass")
    func examplesFitTheirActions() throws {
        let examples = try Self.examples()
        #expect(examples.map(\.op.action).sorted() == OpAction.all.map(\.name).sorted(), "one example per action")
        for (op, _) in examples {
            #expect(op.invalidAction == nil, "\(op.action): \(op.invalidAction ?? "")")
            #expect(op.invalidValue == nil, "\(op.action): \(op.invalidValue ?? "")")
            #expect(op.forbiddenText == nil, "\(op.action)")
            #expect(try Op(wire: op.wire) == op, "\(op.action) survives the wire")
        }
        // An op of one action carrying another's changes is refused, naming the rule.
        let byAction = Dictionary(uniqueKeysWithValues: examples.map { ($0.op.action, $0.op) })
        let transfer = try #require(byAction["transfer"]), note = try #require(byAction["note"])
        let smuggled = Op(id: note.id, hlc: note.hlc, ticket: note.ticket, actor: note.actor, action: "note", changes: note.changes + transfer.changes)
        #expect(smuggled.invalidAction == "note does not write branch")
        let unknown = Op(id: note.id, hlc: note.hlc, ticket: note.ticket, actor: note.actor, action: "edit", changes: note.changes)
        #expect(unknown.invalidAction?.hasPrefix("the action 'edit' is not one of this version's") == true)
    }

    @Test("each field's documented rule holds: its example is accepted, its counter-example refused")
    func fieldRulesAreTheCodes() {
        for field in Field.allCases {
            guard let rule = Self.fieldRules[field] else {
                Issue.record("\(field.rawValue) has no rule in the payload reference")
                continue
            }
            #expect(Op.invalidValue(in: [.write(field: field, value: rule.example, seen: [])]) == nil, "\(field.rawValue): \(rule.example)")
            if let bad = rule.refused {
                #expect(Op.invalidValue(in: [.write(field: field, value: bad, seen: [])]) != nil, "\(field.rawValue) refuses \(bad)")
            }
        }
    }

    @Test("PAYLOAD.md and vectors/ops.txt are what the code makes")
    func documentsAreGenerated() throws {
        let examples = try Self.examples()
        let reference = Self.reference(examples)
        let vectors = try Self.vectors(examples)
        let referenceFile = Self.protocolFolder.appendingPathComponent("PAYLOAD.md")
        let vectorFile = Self.protocolFolder.appendingPathComponent("vectors/ops.txt")
        if ProcessInfo.processInfo.environment["BRANCHDESK_WRITE_VECTORS"] == "1" {
            try reference.write(to: referenceFile, atomically: true, encoding: .utf8)
            try vectors.write(to: vectorFile, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: referenceFile, encoding: .utf8) == reference, "PAYLOAD.md lags the code: regenerate it")
        #expect(try String(contentsOf: vectorFile, encoding: .utf8) == vectors, "vectors/ops.txt lags the code: regenerate it")
    }

    // MARK: The examples

    /// One op of every action, in the order a ticket is handled, each made from the document as
    /// the ops before it left it.
    static func examples() throws -> [(op: Op, what: String)] {
        var script = try Script()
        let branch = try NodeID("sh-012"), hq = try NodeID("hq"), other = try NodeID("bj-003")
        var draft = try TicketDraft(
            channel: .phone, takenBy: "王芳", customer: "张三", phone: "138 0013 8000", title: "手机购买三天就频繁死机",
            statement: "顾客来电：上周六在本店购买的手机，三天来频繁死机，要求换货。", request: "换货", category: .product)
        draft.receivedAt = Int64(script.wall) - 20 * 60_000
        let ticket = TicketID(origin: branch, counter: 4)
        let number = TicketNumber.make(code: BranchCode(defaultFor: branch), day: CalendarDay(year: 2026, month: 11, day: 22)!, counter: 4)
        try script.make(branch, ticket, "open", "sh-012 opens its fourth ticket, taken by phone") { _ in
            TicketDocument.opening(draft, number: number, receivedAt: draft.receivedAt!, settingsVersions: ("hq#12", ""))
        }
        try script.make(branch, ticket, "update", "the clerk records the facts and raises the severity to 2") {
            try $0.update([.facts: .text("死机可复现：开机后约十分钟自动重启。"), .severity: .number(2)])
        }
        try script.make(branch, ticket, "assign", "the ticket goes to the after-sales department") {
            try $0.assign(to: "李经理", department: "售后部")
        }
        try script.make(branch, ticket, "accept", "the complaint is accepted") { try $0.transition(.accept) }
        try script.make(branch, ticket, "investigate", "the report's cause and conclusion, and the resolution; the investigation starts") {
            try $0.investigate([.cause: "主板批次缺陷", .conclusion: "属产品质量问题", .resolution: "为顾客更换同型号新机"])
        }
        try script.make(branch, ticket, "submit", "submitted for approval") { try $0.transition(.submit) }
        try script.make(branch, ticket, "approve", "the branch manager approves (severity 2: the branch may)") {
            try $0.transition(.approve, reason: "同意换货", authority: .branch)
        }
        try script.make(branch, ticket, "reply", "the customer is told by phone, with a promised date") {
            try $0.reply(message: "已为您办理换货，新机到店后通知您领取。", via: .phone, promisedDate: CalendarDay("2026-11-25"))
        }
        try script.make(branch, ticket, "follow-up", "the follow-up call: four stars") {
            try $0.followUp(try Satisfaction(score: 4, remark: "处理及时"))
        }
        try script.make(branch, ticket, "close", "the ticket is closed") { try $0.transition(.close) }
        try script.make(branch, ticket, "reopen", "the customer calls again: round 2 starts") { try $0.transition(.reopen, reason: "新机仍有死机") }
        try script.make(branch, ticket, "escalate", "raised to the branch manager in round 2") { try $0.escalate() }
        try script.make(branch, ticket, "note", "an internal note") { try $0.append(Entry(kind: .note, text: "已联系厂家技术支持")) }
        try script.make(branch, ticket, "contact", "a call to the customer") {
            try $0.append(Entry(kind: .contact, text: "致电顾客说明检测进度", via: .phone))
        }
        try script.make(branch, ticket, "correction", "the intake's channel was wrong") {
            try $0.append(Entry(kind: .correction, text: "实为到店投诉", subject: "channel"))
        }
        try script.make(branch, ticket, "tag", "tagged vip") { try $0.tag(add: ["vip"], remove: []) }
        try script.make(branch, ticket, "wait", "waiting for the customer to bring the phone in") { try $0.waitForCustomer(reason: "请顾客带机检测") }
        try script.make(branch, ticket, "resume", "the customer came in") { try $0.resumeFromWaiting() }
        // The branch and HQ retitle the ticket at once; HQ settles the conflict, then transfers it.
        let before = script.documents[ticket]!
        let branchTitle = try before.update([.title: .text("换货后新机仍频繁死机")])
        try script.make(hq, ticket, "update", nil) { _ in try before.update([.title: .text("手机质量投诉（二次）")]) }
        try script.make(branch, ticket, "update", nil) { _ in branchTitle }
        try script.make(hq, ticket, "resolve", "HQ settles a conflict on the title by confirming the winner") { try $0.resolve(.title) }
        try script.make(hq, ticket, "transfer", "HQ hands the ticket to bj-003") { try $0.transfer(to: other) }
        let second = TicketID(origin: branch, counter: 5)
        draft.title = "要求赔偿停车费"
        draft.category = .other
        try script.make(branch, second, "open", nil) { _ in
            TicketDocument.opening(
                draft, number: TicketNumber.make(code: BranchCode(defaultFor: branch), day: CalendarDay(year: 2026, month: 11, day: 22)!, counter: 5),
                receivedAt: draft.receivedAt!)
        }
        try script.make(branch, second, "reject", "a second ticket is not accepted; the reason is told to the customer") {
            try $0.transition(.reject, reason: "停车费不在本店赔偿范围内")
        }
        let policy = String(decoding: try Self.json(ServicePolicy.standard), as: UTF8.self)
        try script.make(hq, .companySettings, "set-policy", "HQ sets the standard service-level policy") { [$0.write(.servicePolicy, .text(policy))] }
        let calendar = String(decoding: try Self.json(WorkCalendar(holidays: ["2027-01-01": "元旦"])), as: UTF8.self)
        try script.make(hq, .companySettings, "set-calendar", "HQ sets the working-day calendar") { [$0.write(.workCalendar, .text(calendar))] }
        return script.examples
    }

    static func json(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Ops made one after another from the documents they change, as the nodes would make them.
    struct Script {
        var documents: [TicketID: TicketDocument] = [:]
        var seqs: [NodeID: UInt64] = [:]
        var wall: UInt64 = 1_795_300_000_000
        var examples: [(op: Op, what: String)] = []

        init() throws {}

        /// Makes the next op of `origin` on `ticket`; `what` nil keeps it out of the examples.
        mutating func make(
            _ origin: NodeID, _ ticket: TicketID, _ action: String, _ what: String?, _ changes: (TicketDocument) throws -> [Change]
        ) throws {
            var document = documents[ticket] ?? TicketDocument(id: ticket)
            seqs[origin, default: origin.rawValue == "hq" ? 11 : 7] += 1
            wall += 60_000
            let op = Op(
                id: OpID(origin: origin, seq: seqs[origin]!), hlc: HLCTimestamp(wallMillis: wall, counter: 0), ticket: ticket,
                actor: origin.rawValue == "hq" ? "总部投诉办" : "王芳", action: action, changes: try changes(document))
            _ = document.apply(op)
            documents[ticket] = document
            if let what { examples.append((op, what)) }
        }
    }

    // MARK: The field rules

    /// What each field holds, as the reference states it, with a value the receiver accepts and
    /// one it refuses (nil: any text is accepted).
    static let fieldRules: [Field: (meaning: String, value: String, example: RegisterValue, refused: RegisterValue?)] = [
        .title: ("the complaint in a line", "text, not empty", .text("手机频繁死机"), .text(" ")),
        .customer: ("the customer's name", "text, not empty", .text("张三"), .text("")),
        .phone: (
            "the customer's phone", "text: 5 to 20 digits, with `+ - ( )` and spaces (full-width forms allowed), not empty",
            .text("+86 (21) 6234 5678"), .text("call me")
        ),
        .request: ("what the customer asks for", "text", .text("换货"), nil),
        .facts: ("the facts and reasons as established", "text", .text("可复现"), nil),
        .category: ("what it is about", "text, one of `Category`", .text("product"), .text("weather")),
        .kind: ("appeal, compensation claim or non-quality", "text, one of `Kind`", .text("claim"), .text("Claim")),
        .severity: ("1 general, 2 serious or cross-department, 3 major (HQ must act)", "number: 1, 2 or 3", .number(2), .number(9)),
        .department: ("the department responsible", "text", .text("售后部"), nil),
        .assignee: ("the person responsible", "text", .text("李经理"), nil),
        .cause: ("investigation: the cause", "text", .text("主板缺陷"), nil),
        .course: ("investigation: the course of events", "text", .text("购买后三天"), nil),
        .responsible: ("investigation: who is responsible", "text", .text("厂家"), nil),
        .conclusion: ("investigation: the conclusion", "text", .text("质量问题"), nil),
        .countermeasure: ("investigation: the countermeasure", "text", .text("换机"), nil),
        .prevention: ("investigation: how it is prevented", "text", .text("抽检"), nil),
        .resolution: ("the proposed resolution that approval applies to", "text", .text("更换新机"), nil),
        .replyMessage: ("what the customer was told", "text", .text("已换货"), nil),
        .replyVia: ("how the customer was told", "text, one of `Channel`", .text("wechat"), .text("pigeon")),
        .promisedDate: ("what was promised by when", "text: `YYYY-MM-DD`, or empty", .text("2026-11-25"), .text("25/11/2026")),
        .satisfaction: (
            "the follow-up's satisfaction", "`Satisfaction`: a score from 1 to 5 with a remark",
            .satisfaction(try! Satisfaction(score: 4, remark: "")), .number(4)
        ),
        .branch: ("the node that handles the ticket", "text: a node id, or empty for the opening node", .text("bj-003"), .text("Beijing 3")),
        .approval: (
            "the round's approval decision (MERGE.md, Approvals)", "`Approval`",
            .approval(ApprovalRecord(round: 1, decision: .approved, authority: .branch, seal: [])), .text("yes")
        ),
        .policyVersion: ("the service policy in force at opening", "text: an op id `origin#seq`, or empty for the standard", .text("hq#12"), nil),
        .calendarVersion: ("the calendar in force at opening", "text: an op id `origin#seq`, or empty for the standard", .text(""), nil),
        .servicePolicy: ("company settings: the service-level policy", "text: JSON (see the example)", .text("{}"), .number(1)),
        .workCalendar: ("company settings: the working-day calendar", "text: JSON (see the example)", .text("{}"), .number(1)),
    ]

    // MARK: The documents

    static func reference(_ examples: [(op: Op, what: String)]) -> String {
        var text = """
            # Branchdesk op payload reference (normative)

            <!-- Generated by Tests/SyncTests/PayloadReferenceTests.swift from the code's tables; do not edit.
                 BRANCHDESK_WRITE_VECTORS=1 swift test --filter PayloadReference rewrites it. -->

            What an op carries (`sync.proto`, message `Op`) and what a receiver checks before it applies one.
            MERGE.md says how the changes merge; SYNC.md §6 says who may send what. A receiver MUST refuse a
            batch holding an op that breaks a rule below; the refusal names the op (`origin#seq`), and the rule
            (SYNC.md §7). Every op here is one a person's edit made with Branchdesk could have made: an
            implementation that makes ops MUST check the same rules before it records one.

            ## 1. The op

            | field | rule |
            | --- | --- |
            | `origin` | the node id that made it: 1 to 63 of `a-z 0-9 -`, starting with a letter or digit |
            | `seq` | that node's op number: 1, 2, 3 … without gaps |
            | `hlc` | hybrid logical clock: Unix milliseconds `<< 16` plus a counter; not more than the maximum skew ahead of the receiver's clock (MERGE.md, Op admission) |
            | `ticket` | `origin:counter`, the node that opened the ticket and its ticket counter (1, 2, 3 …); `company:0` is the company settings document |
            | `actor` | who did it, for the history: text of one line |
            | `action` | one of the actions below |
            | `changes` | one or more changes, each of a kind the action allows, at most \(Op.maxChangesBytes / 1024) KiB encoded |

            Text is UTF-8 and free of control characters (MERGE.md, Text); only the multi-line fields below, the
            statement, the remark and entry texts may hold line feeds and tabs.

            ## 2. Tickets and their numbers

            A ticket is opened by one `open` op, made by the node its id names (`ticket.origin == origin`); it
            carries the intake, the status `(1, new)` and the fields every ticket must have. The ticket number
            in the intake is what a customer quotes: `CODE-YYYYMMDD-NNNN`, the opening node's branch code (1
            to 12 of `A-Z 0-9`), the day of the opening in that node's time zone (set at `branchdesk init`;
            not known to other replicas, so the day is informative), and the node's ticket counter, padded to
            four digits (`SH012-20261122-0004`, `SH012-20261122-12345`). Numbers are unique per node but
            another node may reuse one: the ticket id is the identity.

            The intake (set once, from the ticket's own origin):

            | field | rule |
            | --- | --- |
            | `number` | `CODE-YYYYMMDD-NNNN` as above |
            | `channel` | how the complaint came in: one of `Channel` |
            | `received_at_ms` | when it came in, Unix milliseconds; deadlines count from here |
            | `taken_by` | the first-contact person: text, not empty |
            | `statement` | the customer's original statement: text, lines allowed, may be empty |

            ## 3. Actions

            An op names one action and carries only the changes that action makes. A change an action does not
            list is refused, as is an action this version does not know (an implementation of a newer version
            sends new actions only to receivers that announced that version, SYNC.md §10).

            | action | what a person does | may change |
            | --- | --- | --- |

            """
        for action in OpAction.all {
            text += "| `\(action.name)` | \(action.meaning) | \(allowance(action)) |\n"
        }
        text += """

            Status changes: a transition leads to its stage in the same round, except `reopen`, which starts the
            next round (2 or more) at `investigating`: \(Transition.allCases.map { "`\($0.rawValue)` → `\($0.target.rawValue)`" }.joined(separator: ", ")).
            Only `open` sets a status without a transition, to `(1, new)`. The process's order (which
            transition is allowed when) is checked where the edit is made, never by a receiver (MERGE.md, Local
            validation). An escalation raises a round (1 or more) to level 1 (`manager`) or 2 (`hq`).

            ## 4. Fields

            Every field is a register (MERGE.md, Registers: last writer wins, concurrent writes shown as a
            conflict; `seen` names the writes of that field the writer had seen). `title`, `customer`, `phone`,
            `category` and `severity` are the fields a ticket must have: never empty, and every `open` writes
            them. Multi-line fields may hold line feeds and tabs.

            | field | holds | value | lines | written by |
            | --- | --- | --- | --- | --- |

            """
        for field in Field.allCases {
            let rule = fieldRules[field]
            let writers = OpAction.all.filter { $0.writes.contains(field) }.map { "`\($0.name)`" }.joined(separator: ", ")
            text += "| `\(field.rawValue)` | \(rule?.meaning ?? "?") | \(rule?.value ?? "?") | \(field.isMultiLine ? "yes" : "no") | \(writers) |\n"
        }
        text += """

            The register values (`Value`): `text`, `number`, `satisfaction` (`score` 1 to 5, `remark` text with
            lines) and `approval` (`round`, `decision` one of \(ApprovalRecord.Decision.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")),
            `authority` `hq`, `branch` or empty, and the `seal`: bound field → the op id of its winning write).
            A field holds only the kind of value listed.

            ## 5. Entries and sets

            Entries are append-only (`Entry`: `kind`, `text`, `via`, `score`, `subject`):

            | kind | rule |
            | --- | --- |
            | `note`, `contact`, `reply`, `rejection` | text not empty; `via` (one of `Channel`) only on `contact` and `reply` |
            | `follow-up` | `score` 1 to 5; the text is the remark, may be empty |
            | `correction` | `subject` names the intake value it corrects: \(Entry.correctable.map { "`\($0)`" }.joined(separator: ", ")) |
            | `approval` | the approver's reason, may be empty |

            Sets are add-wins (`SetAdd`, `SetRemove`): \(SetField.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")); an element is
            text of one line, not empty. `waiting-customer` in `tags` stops the ticket's resolution clock.

            ## 6. Enumerations

            """
        func list<Choice: RawRepresentable & CaseIterable>(_ name: String, _ type: Choice.Type) -> String where Choice.RawValue == String {
            "- `\(name)`: " + Choice.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ") + "\n"
        }
        text += list("Channel", Channel.self) + list("Category", Category.self) + list("Kind", ComplaintKind.self)
            + list("Stage", Stage.self) + list("Transition", Transition.self) + list("EntryKind", EntryKind.self)
        text += """

            ## 7. Examples

            One op of every action, as `ticket show` would tell it; `vectors/ops.txt` holds each as the bytes
            of its `Op` message. They were made in this order, each from the ticket as the ones before left it.


            """
        for (op, what) in examples {
            text += "### `\(op.action)`: \(what)\n\n```json\n\(Self.prettyJSON(op))\n```\n\n"
        }
        return text
    }

    static func allowance(_ action: OpAction) -> String {
        var parts: [String] = []
        if action.onCompanySettings { parts.append("on `company:0` only:") }
        if action.opens { parts.append("the intake; status `(1, new)`") }
        if !action.writes.isEmpty {
            let fields = action.writes.count > 12 ? "any field but \(Set(Field.allCases).subtracting(Field.companySettings).subtracting(action.writes).sorted().map { "`\($0.rawValue)`" }.joined(separator: ", "))"
                : action.writes.sorted().map { "`\($0.rawValue)`" }.joined(separator: ", ")
            parts.append("writes \(fields)")
        }
        if !action.transitions.isEmpty { parts.append("status by " + action.transitions.map(\.rawValue).sorted().map { "`\($0)`" }.joined(separator: ", ")) }
        if action.escalates { parts.append("escalation") }
        if !action.entries.isEmpty { parts.append("entries " + action.entries.map(\.rawValue).sorted().map { "`\($0)`" }.joined(separator: ", ")) }
        if !action.sets.isEmpty { parts.append("adds to and removes from " + action.sets.map(\.rawValue).sorted().map { "`\($0)`" }.joined(separator: ", ")) }
        return parts.joined(separator: "; ")
    }

    /// The op's wire message as protobuf JSON, keys in field order, two-space indented.
    static func prettyJSON(_ op: Op) -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        let compact = (try? op.wire.jsonUTF8Data(options: options)) ?? Data()
        guard let object = try? JSONSerialization.jsonObject(with: compact),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return String(decoding: compact, as: UTF8.self) }
        return String(decoding: pretty, as: UTF8.self)
    }

    static func vectors(_ examples: [(op: Op, what: String)]) throws -> String {
        var text = "# Branchdesk golden ops, one of every action (PAYLOAD.md §7): '# what it is', then 'action hex'.\n"
        text += "# hex is the protobuf encoding of the sync.proto Op message.\n"
        for (op, what) in examples {
            text += "\n# \(op.id.origin)#\(op.id.seq) on \(op.ticket): \(what)\n\(op.action) \(ProtocolVectorTests.hex(Array(try op.wire.serializedData())))\n"
        }
        return text
    }
}
