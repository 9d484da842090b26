import Foundation
import Replication
import TicketModel

/// A week of complaint handling at many branches, as ops: each branch opens tickets and works
/// on them — accept, assign, investigate, notes, contacts, replies, follow-ups — mostly on its
/// recent tickets (a hot set), sometimes on an old one. Seeded, so every run is the same trace.
struct EditTrace {
    let ops: [Op]

    /// `count` ops from `branches` branches, interleaved in HLC order as HQ would receive them.
    init(count: Int, branches: Int, seed: UInt64 = 42) {
        var random = SplitMix64(seed: seed)
        let origins = (0..<branches).map { try! NodeID(String(format: "br-%03d", $0)) }
        var documents: [[TicketDocument]] = Array(repeating: [], count: branches)
        var seqs = [UInt64](repeating: 0, count: branches)
        var wall: UInt64 = 1_795_305_600_000  // 2026-11-22
        var ops: [Op] = []
        ops.reserveCapacity(count)
        let people = ["王芳", "李四", "张伟", "刘洋", "陈静"]
        while ops.count < count {
            wall += random.next(below: 40)
            let branch = Int(random.next(below: UInt64(branches)))
            // Read in place: a copy of the branch's tickets per op would make the trace quadratic.
            let count = documents[branch].count
            let origin = origins[branch]
            let actor = people[Int(random.next(below: UInt64(people.count)))]
            let (action, changes): (String, [Change])
            let index: Int
            if count == 0 || random.next(below: 100) < 8 {
                let draft = try! TicketDraft(
                    channel: .phone, takenBy: actor, customer: "顾客\(random.next(below: 100_000))",
                    phone: "138\(10_000_000 + random.next(below: 89_999_999))", title: "商品质量问题 \(count)",
                    statement: "顾客反映购买的商品出现故障，要求退换。", request: "换货", category: .product)
                documents[branch].append(TicketDocument(id: TicketID(origin: origin, counter: count + 1)))
                index = count
                let number = TicketNumber.make(code: BranchCode(defaultFor: origin), day: CalendarDay(year: 2026, month: 11, day: 22)!, counter: count + 1)
                (action, changes) = ("open", TicketDocument.opening(draft, number: number, receivedAt: Int64(wall)))
            } else {
                // 90% of edits touch the 200 most recent tickets of the branch.
                let hot = random.next(below: 100) < 90
                let window = hot ? min(200, count) : count
                index = count - 1 - Int(random.next(below: UInt64(window)))
                (action, changes) = Self.edit(documents[branch][index], actor: actor, random: &random)
            }
            seqs[branch] += 1
            let op = Op(
                id: OpID(origin: origin, seq: seqs[branch]), hlc: HLCTimestamp(wallMillis: wall, counter: 0),
                ticket: documents[branch][index].id, actor: actor, action: action, changes: changes)
            documents[branch][index].apply(op)
            ops.append(op)
        }
        self.ops = ops
    }

    /// A plausible next step on a ticket, with its action: its next transition, or a note, contact or assignment.
    private static func edit(_ document: TicketDocument, actor: String, random: inout SplitMix64) -> (String, [Change]) {
        let allowed = Lifecycle.allowedTransitions(from: document.status, severity: document.severity).filter { $0 != .reopen }
        switch random.next(below: 10) {
        case 0..<4 where !allowed.isEmpty:
            let transition = allowed[Int(random.next(below: UInt64(allowed.count)))]
            if transition == .reply, let changes = try? document.reply(message: "已为您办理换货，请到店领取。", via: .phone, promisedDate: nil) {
                return ("reply", changes)
            }
            if let changes = try? document.transition(transition, reason: "处理意见") { return (transition.rawValue, changes) }
            return ("note", [.entry(Entry(kind: .note, text: "跟进中"))])
        case 4..<6:
            return ("contact", [.entry(Entry(kind: .contact, text: "已致电顾客说明处理进度", via: .phone))])
        case 6:
            return (try? document.assign(to: "李四", department: "售后部")).map { ("assign", $0) } ?? ("note", [.entry(Entry(kind: .note, text: "转交售后部"))])
        default:
            return ("note", [.entry(Entry(kind: .note, text: "门店核实情况：顾客所述属实，已登记。"))])
        }
    }
}

/// A small, fast, seeded generator (SplitMix64).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
