import Replication
import TestSupport
import TicketModel

/// Generates the ops of one ticket edited concurrently at several in-memory replicas that
/// exchange ops at random: realistic causal histories with concurrent writes.
struct TicketHistoryGenerator {
    var random: SeededRandom
    let ticket = TicketID(origin: try! NodeID("n0"), counter: 1)
    private(set) var ops: [Op] = []

    init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    mutating func generate(replicas: Int, steps: Int) -> [Op] {
        let origins = (0..<replicas).map { try! NodeID("n\($0)") }
        var documents = origins.map { _ in TicketDocument(id: ticket) }
        var clocks = origins.map { _ in HybridLogicalClock(last: .zero) }
        var seqs = origins.map { _ in UInt64(0) }
        var wall: UInt64 = 1_000_000
        func commit(_ replica: Int, _ changes: [Change], action: String) {
            seqs[replica] += 1
            let op = Op(
                id: OpID(origin: origins[replica], seq: seqs[replica]), hlc: clocks[replica].tick(wallMillis: wall),
                ticket: ticket, actor: "p\(replica)", action: action, changes: changes)
            documents[replica].apply(op)
            ops.append(op)
        }
        let draft = try! TicketDraft(
            channel: .phone, takenBy: "p0", customer: "张三", phone: "13800138000", title: "死机", category: .product)
        commit(0, TicketDocument.opening(draft, number: "N0-20261122-0001", receivedAt: 1), action: "open")
        for _ in 0..<steps {
            wall += UInt64.random(in: 0...50, using: &random)
            let replica = Int.random(in: 0..<replicas, using: &random)
            if random.chance(0.35) {
                // Receive a random subset of all ops so far (any order, duplicates harmless).
                for op in ops where random.chance(0.5) {
                    documents[replica].apply(op)
                    clocks[replica].receive(op.hlc)
                }
                continue
            }
            let document = documents[replica]
            let changes: [Change]?
            switch Int.random(in: 0..<7, using: &random) {
            case 0:
                let field = random.pick([Field.severity, .title, .assignee, .department])
                let value: RegisterValue = field == .severity ? .number(Int.random(in: 1...3, using: &random)) : .text("v\(random.next() % 5)")
                changes = [document.write(field, value)]
            case 1:
                let allowed = Lifecycle.allowedTransitions(from: document.status, severity: document.severity)
                changes = allowed.isEmpty ? nil : try? document.transition(random.pick(allowed), reason: "r")
            case 2: changes = [.entry(Entry(kind: .note, text: "note \(random.next() % 100)"))]
            case 3: changes = [.add(.tags, element: random.pick(["vip", "repeat", "media"]))]
            case 4: changes = document.remove(random.pick(["vip", "repeat", "media"]), from: .tags).map { [$0] }
            case 5: changes = try? document.escalate()
            default:
                let conflicted = document.conflicts.first?.field
                changes = conflicted.flatMap { try? document.resolve($0) }
            }
            if let changes { commit(replica, changes, action: "edit") }
        }
        return ops
    }
}

/// The merge rules computed the dumbest way, from the whole set of ops at once, to check the
/// incremental `TicketDocument.apply` against.
struct NaiveTicket: Equatable {
    var intake: Intake?
    var frontiers: [Field: [Register.Write]] = [:]
    var status = Status.opened
    var escalation = Escalation.none
    var tags: [String] = []
    var entries: Set<EntryRecord> = []

    init(_ ops: Set<Op>) {
        let ordered = ops.sorted { $0.stamp < $1.stamp }
        var writes: [Field: [Register.Write]] = [:]
        var seen: [Field: Set<OpID>] = [:]
        var adds: [String: Set<OpID>] = [:]
        var removed: Set<OpID> = []
        for op in ordered {
            for (index, change) in op.changes.enumerated() {
                switch change {
                case .intake(let value) where op.id.origin == op.ticket.origin && intake == nil: intake = value
                case .intake: break
                case .write(let field, let value, let seenIDs):
                    writes[field, default: []].append(.init(stamp: op.stamp, value: value))
                    seen[field, default: []].formUnion(seenIDs)
                case .status(let value, _): status = max(status, value)
                case .escalation(let value): escalation = max(escalation, value)
                case .entry(let entry):
                    entries.insert(EntryRecord(op: op.id, index: index, hlc: op.hlc, actor: op.actor, entry: entry))
                case .add(.tags, let element): adds[element, default: []].insert(op.id)
                case .remove(.tags, _, let observed): removed.formUnion(observed)
                case .add, .remove: break
                }
            }
        }
        for (field, all) in writes {
            frontiers[field] = all.filter { !(seen[field] ?? []).contains($0.stamp.op) }.sorted { $0.stamp < $1.stamp }
        }
        tags = adds.filter { !$0.value.subtracting(removed).isEmpty }.keys.sorted()
    }

    init(_ document: TicketDocument, entries: Set<EntryRecord>) {
        intake = document.intake
        frontiers = document.registers.mapValues(\.frontier)
        status = document.status
        escalation = document.escalation
        tags = document.elements(of: .tags)
        self.entries = entries
    }
}
