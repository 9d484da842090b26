import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// Deterministic simulation: replicas on real (in-memory SQLite) stores edit tickets while a
/// faulty network delays, reorders, duplicates, drops and partitions their batches; then the
/// network heals, anti-entropy runs to quiescence, and every replica must hold the same state.
///
/// `BRANCHDESK_SIM_SEEDS=10000` runs the long mode; `BRANCHDESK_SIM_SEED=N` replays one seed.
@Suite struct ConvergenceSimulationTests {
    static let environment = ProcessInfo.processInfo.environment
    static let totalSeeds = UInt64(environment["BRANCHDESK_SIM_SEEDS"] ?? "") ?? 1_000
    static let shards: [UInt64] = Array(0..<10)

    @Test(arguments: shards)
    func replicasConvergeUnderEveryFault(shard: UInt64) async throws {
        let seeds: [UInt64]
        if let replay = UInt64(Self.environment["BRANCHDESK_SIM_SEED"] ?? "") {
            seeds = shard == 0 ? [replay] : []
        } else {
            seeds = Array(stride(from: shard, to: Self.totalSeeds, by: Self.shards.count))
        }
        var withConflicts = 0, withReopens = 0, withApprovals = 0, withApprovalIssues = 0
        for seed in seeds {
            var simulation = try Simulation(seed: seed)
            try await simulation.run()
            let views = try await simulation.expectConvergence()
            if views.contains(where: { !$0.conflicts.isEmpty }) { withConflicts += 1 }
            if views.contains(where: { $0.round > 1 }) { withReopens += 1 }
            if views.contains(where: { $0.approval != nil }) { withApprovals += 1 }
            if views.contains(where: { !$0.approvalIssues.isEmpty }) { withApprovalIssues += 1 }
        }
        // Convergence only means something if the histories were concurrent.
        if seeds.count >= 50 {
            #expect(withConflicts * 20 >= seeds.count, "only \(withConflicts) of \(seeds.count) runs ended with a conflict")
            #expect(withReopens * 10 >= seeds.count, "only \(withReopens) of \(seeds.count) runs reopened a ticket")
            #expect(withApprovals * 10 >= seeds.count, "only \(withApprovals) of \(seeds.count) runs approved a ticket")
            // Approvals contested by concurrent edits of what they bound, flagged alike everywhere.
            #expect(withApprovalIssues * 50 >= seeds.count, "only \(withApprovalIssues) of \(seeds.count) runs flagged an approval")
        }
    }
}

struct Simulation {
    struct Message {
        let from: Int
        let to: Int
        let ops: [Op]
    }

    let seed: UInt64
    var random: SeededRandom
    let nodes: [NodeStore]
    let clocks: [ManualClock]
    /// What each node last heard each peer acknowledge: where it resumes sending.
    var acknowledged: [[VersionVector]]
    var inFlight: [Message] = []
    var partitioned: Set<[Int]> = []
    var localOps = 0
    /// The ticket a branch changed last and how, which HQ is likely to look at next.
    var lastBranchEdit: (ticket: String, choice: Int)?

    init(seed: UInt64) throws {
        self.seed = seed
        random = SeededRandom(seed: seed)
        let count = Int.random(in: 3...8, using: &random)
        var clocks: [ManualClock] = []
        var nodes: [NodeStore] = []
        for index in 0..<count {
            // Clocks disagree by up to a minute: inside the skew bound, so every op is accepted.
            let clock = ManualClock(millis: 1_795_305_600_000 + UInt64.random(in: 0...60_000, using: &random))
            clocks.append(clock)
            nodes.append(try Fixtures.memoryStore(index == 0 ? "hq" : "b\(index)", role: index == 0 ? .hq : .branch, clock: clock))
        }
        self.clocks = clocks
        self.nodes = nodes
        acknowledged = Array(repeating: Array(repeating: VersionVector(), count: count), count: count)
    }

    mutating func run(steps: Int = 80) async throws {
        for _ in 0..<steps {
            for clock in clocks {
                // Mostly forwards, sometimes a correction backwards.
                if random.chance(0.05) { clock.set(clock.nowMillis() - 500) } else { clock.advance(byMillis: UInt64.random(in: 0...2_000, using: &random)) }
            }
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45: try await edit()
            case 45..<70: try await send()
            case 70..<92: try await deliver()
            default:
                let pair = [Int.random(in: 0..<nodes.count, using: &random), Int.random(in: 0..<nodes.count, using: &random)].sorted()
                if partitioned.remove(pair) == nil { partitioned.insert(pair) }
            }
        }
    }

    private mutating func edit() async throws {
        // HQ (node 0) acts on every branch's tickets — escalations, replies — so it makes a third of the edits.
        let index = random.chance(0.33) ? 0 : Int.random(in: 1..<nodes.count, using: &random)
        let node = nodes[index]
        var filter = TicketFilter()
        filter.limit = 1_000
        let tickets = try await node.tickets(filter)
        if tickets.isEmpty || random.chance(0.06) {
            // Half are serious (severity 2): they go through submit and approve before the reply.
            let severity: Severity = random.chance(0.5) ? .serious : .general
            _ = try await node.openTicket(Fixtures.draft(title: "t\(random.next() % 1000)", severity: severity), actor: "n\(index)")
            localOps += 1
            return
        }
        // A branch changes the tickets it handles (those it opened, unless HQ transferred them away);
        // HQ changes any, and now and then transfers one to a branch.
        // HQ often follows up a ticket a branch is working on right now, which makes concurrent edits of one
        // ticket (and so conflicts) frequent.
        let own = node.identity.role == .hq ? tickets : tickets.filter { $0.origin == node.identity.nodeID.rawValue }
        guard !own.isEmpty else { return }
        // HQ follows the ticket a branch works on; a branch often goes on with it, as a clerk does.
        let follows = random.chance(0.7)
        let followed = follows ? own.first { $0.id == lastBranchEdit?.ticket } : nil
        let ticket = followed ?? random.pick(own)
        if node.identity.role == .hq, random.chance(0.05) {
            let branch = nodes[Int.random(in: 1..<nodes.count, using: &random)].identity.nodeID
            if (try? await node.edit(ticket.id, actor: "hq", action: "transfer") { try $0.transfer(to: branch) }) != nil { localOps += 1 }
            return
        }
        // Following a ticket up, HQ often changes what the branch just changed, or rewrites the
        // report and resolution while the branch moves the ticket on (approves, replies).
        let hqFollows = followed != nil && node.identity.role == .hq
        let repeated = hqFollows ? (random.chance(0.7) ? lastBranchEdit?.choice : 9) : nil
        let (choice, pick) = (repeated ?? Int.random(in: 0..<12, using: &random), random.next())
        if node.identity.role == .branch { lastBranchEdit = (ticket.id, choice) }
        let role = node.identity.role
        do {
            _ = try await node.edit(ticket.id, actor: "n\(index)") { document in try Simulation.change(choice, pick, of: document, by: role) }
            localOps += 1
        } catch is DomainError {
            // Not allowed from this state (e.g. nothing to change): a person would pick another action.
        }
    }

    /// A realistic local edit by a node of `role` with its action, chosen by `choice` and made concrete by `pick`.
    static func change(_ choice: Int, _ pick: UInt64, of document: TicketDocument, by role: NodeRole) throws -> (action: String, changes: [Change]) {
        switch choice {
        case 0: return ("update", try document.update([.severity: .number(Int(pick % 3) + 1)]))
        case 1: return ("update", try document.update([[Field.title, .assignee, .department][Int(pick % 3)]: .text("v\(pick % 4)")]))
        case 2, 3, 10, 11:
            let allowed = document.allowedTransitions
            guard !allowed.isEmpty else { throw DomainError("nothing allowed") }
            // Mostly the process's next step forward (the first allowed), sometimes any.
            let transition = pick % 10 < 7 ? allowed[0] : allowed[Int(pick / 10 % UInt64(allowed.count))]
            if transition == .reply { return ("reply", try document.reply(message: "答复 \(pick % 10)", via: .phone, promisedDate: nil)) }
            return (transition.rawValue, try document.transition(transition, reason: "原因", authority: role))
        case 9:
            // Content an approval binds: the report's countermeasure, the resolution, the facts.
            return ("update", try document.update([[Field.countermeasure, .resolution, .facts][Int(pick % 3)]: .text("内容 \(pick % 5)")]))
        case 4: return ("note", try document.append(Entry(kind: .note, text: "备注 \(pick % 100)")))
        case 5: return ("tag", try document.tag(add: pick % 2 == 0 ? ["vip"] : [], remove: pick % 2 == 0 ? [] : ["vip"]))
        case 6: return ("escalate", try document.escalate())
        case 7:
            guard let field = document.conflicts.first?.field else { return ("update", try document.update([.facts: .text("f\(pick % 3)")])) }
            return ("resolve", try document.resolve(field))
        default:
            return ("follow-up", try document.followUp(Satisfaction(score: Int(pick % 5) + 1, remark: ""), then: pick % 2 == 0 ? .close : .reopen))
        }
    }

    private mutating func send() async throws {
        let from = Int.random(in: 0..<nodes.count, using: &random)
        let to = (from + Int.random(in: 1..<nodes.count, using: &random)) % nodes.count
        guard !partitioned.contains([from, to].sorted()) else { return }
        let ops = try await nodes[from].opsMissing(by: acknowledged[from][to], limit: Int.random(in: 1...20, using: &random))
        if !ops.isEmpty { inFlight.append(Message(from: from, to: to, ops: ops)) }
    }

    private mutating func deliver() async throws {
        guard !inFlight.isEmpty else { return }
        let index = Int.random(in: 0..<inFlight.count, using: &random)  // any order
        let message = random.chance(0.15) ? inFlight[index] : inFlight.remove(at: index)  // or duplicated
        guard !random.chance(0.1), !partitioned.contains([message.from, message.to].sorted()) else { return }  // or lost
        let outcome = try await nodes[message.to].apply(message.ops)
        #expect(outcome.refused.isEmpty, "seed \(seed): clocks inside the bound must never be refused")
        acknowledged[message.from][message.to] = outcome.vector
    }

    /// Heals the network and runs anti-entropy between every pair until nothing moves.
    mutating func heal() async throws {
        partitioned.removeAll()
        inFlight.removeAll()
        var moved = true
        while moved {
            moved = false
            for from in nodes.indices {
                for to in nodes.indices where from != to {
                    while true {
                        let ops = try await nodes[from].opsMissing(by: nodes[to].versionVector(), limit: 25)
                        if ops.isEmpty { break }
                        let outcome = try await nodes[to].apply(ops)
                        #expect(outcome.applied > 0, "seed \(seed): anti-entropy made no progress")
                        if outcome.applied == 0 { return }
                        moved = true
                    }
                }
            }
        }
    }

    /// Checks every replica against the first and returns the converged tickets.
    mutating func expectConvergence() async throws -> [TicketView] {
        try await heal()
        let reference = nodes[0]
        let vector = try await reference.versionVector()
        #expect(vector.total == UInt64(localOps), "seed \(seed): \(vector.total) ops present, \(localOps) committed")
        let digest = try await reference.digest()
        let conflicts = try await reference.conflicts()
        var filter = TicketFilter()
        filter.limit = 10_000
        let tickets = try await reference.tickets(filter)
        var views: [TicketView] = []
        for ticket in tickets {
            let view = try await reference.ticket(ticket.id)
            #expect(view.round >= 1 && Stage(rawValue: view.status) != nil, "seed \(seed): \(view.id) outside the lattice")
            #expect(view.history.count >= 1 && view.history.first?.action == "open", "seed \(seed): \(view.id) lost its opening")
            views.append(view)
        }
        for node in nodes.dropFirst() {
            #expect(try await node.versionVector() == vector, "seed \(seed): vectors differ at \(node.identity.nodeID)")
            #expect(try await node.digest() == digest, "seed \(seed): digest differs at \(node.identity.nodeID)")
            #expect(try await node.conflicts() == conflicts, "seed \(seed): conflicts differ at \(node.identity.nodeID)")
            for view in views {
                #expect(
                    try Self.replicated(await node.ticket(view.id)) == Self.replicated(view),
                    "seed \(seed): ticket \(view.id) differs at \(node.identity.nodeID)")
            }
        }
        return views
    }

    /// What of a ticket view every replica must agree on: all of it but what depends on who looks
    /// (whether this node may change the ticket, and so what it may do next).
    static func replicated(_ view: TicketView) throws -> String {
        var fields = try JSONSerialization.jsonObject(with: JSONEncoder().encode(view)) as? [String: Any] ?? [:]
        fields["readOnly"] = nil
        fields["allowedTransitions"] = nil
        return String(decoding: try JSONSerialization.data(withJSONObject: fields, options: .sortedKeys), as: UTF8.self)
    }
}
