import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

@Suite struct RemoteApplyTests {
    @Test func opsMissingStopsAtTheByteBudgetButAlwaysReturnsOneOp() async throws {
        let store = try Fixtures.memoryStore("sh-012")
        let long = String(repeating: "很长的陈述", count: 2_000)  // about 30 KB of UTF-8 per op
        for _ in 1...10 { _ = try await store.openTicket(Fixtures.draft(statement: long), actor: "王芳") }
        let budgeted = try await store.opsMissing(by: VersionVector(), limit: 100, maxBytes: 100_000)
        #expect(budgeted.count == 3)
        let tiny = try await store.opsMissing(by: VersionVector(), limit: 100, maxBytes: 10)
        #expect(tiny.count == 1)
        #expect(try await store.opsMissing(by: VersionVector(), limit: 100).count == 10)
    }

    @Test func applyingABatchTwiceChangesNothing() async throws {
        let branch = try Fixtures.memoryStore("sh-012")
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "p")
        _ = try await branch.edit(ticket.number, actor: "p", action: "accept") { try $0.transition(.accept) }
        let ops = try await Fixtures.allOps(of: branch)
        let first = try await hq.apply(ops)
        let digest = try await hq.digest()
        let second = try await hq.apply(ops)
        #expect(first.applied == 2 && second.applied == 0 && second.duplicates == 2)
        #expect(try await hq.digest() == digest)
        #expect(digest == (try await branch.digest()))
    }

    @Test func replicasThatExchangedOpsInOppositeOrdersHaveEqualDigests() async throws {
        let (a, b, c) = (try Fixtures.memoryStore("a"), try Fixtures.memoryStore("b"), try Fixtures.memoryStore("c"))
        let fromA = try await a.openTicket(Fixtures.draft(title: "from a"), actor: "p")
        let fromB = try await b.openTicket(Fixtures.draft(title: "from b"), actor: "q")
        _ = try await a.edit(fromA.number, actor: "p", action: "tag") { try $0.tag(add: ["vip"], remove: []) }
        let opsA = try await Fixtures.allOps(of: a), opsB = try await Fixtures.allOps(of: b)
        _ = try await c.apply(opsB)
        _ = try await c.apply(opsA)
        _ = try await b.apply(opsA)
        _ = try await a.apply(opsB)
        let digests = [try await a.digest(), try await b.digest(), try await c.digest()]
        #expect(Set(digests).count == 1)
        #expect(try await c.ticket(fromB.id).title == "from b")
    }

    @Test func aConcurrentSeverityEditIsTheSameVisibleConflictOnBothReplicas() async throws {
        let branch = try Fixtures.memoryStore("sh-012")
        let hqClock = ManualClock()
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: hqClock)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        try await Fixtures.sync(branch, to: hq)
        hqClock.advance(byMillis: 1_000)  // HQ's edit is the later one, so it wins
        _ = try await branch.edit(ticket.id, actor: "王芳", action: "update") { try $0.update([.severity: .number(2)]) }
        _ = try await hq.edit(ticket.id, actor: "总部", action: "update") { try $0.update([.severity: .number(3)]) }
        try await Fixtures.sync(branch, to: hq)
        try await Fixtures.sync(hq, to: branch)
        let atBranch = try await branch.conflicts(), atHQ = try await hq.conflicts()
        #expect(atBranch == atHQ)
        let conflict = try #require(atBranch.first)
        #expect(conflict.field == "severity" && conflict.winner.value == "3" && conflict.overridden.map(\.value) == ["2"])
        #expect(conflict.sentence == "sh-012 set severity to '2' while hq set it to '3'; hq's value won")
        #expect(try await branch.ticket(ticket.id).conflicts == [conflict])

        // A person at the branch resolves it; the resolution replicates and clears it at HQ too.
        _ = try await branch.edit(ticket.id, actor: "店长", action: "resolve") { try $0.resolve(.severity, choosing: .number(2)) }
        try await Fixtures.sync(branch, to: hq)
        #expect(try await hq.conflicts().isEmpty)
        #expect(try await hq.ticket(ticket.id).severity == 2)
        #expect(try await hq.digest() == (try await branch.digest()))
    }

    @Test func aConcurrentCloseAndReopenResolveToReopenEverywhere() async throws {
        let branch = try Fixtures.memoryStore("sh-012")
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "p")
        for transition in [Transition.accept, .investigate] {
            _ = try await branch.edit(ticket.id, actor: "p", action: transition.rawValue) { try $0.transition(transition) }
        }
        _ = try await branch.edit(ticket.id, actor: "p", action: "reply") {
            try $0.reply(message: "已换货", via: .phone, promisedDate: nil)
        }
        try await Fixtures.sync(branch, to: hq)
        _ = try await branch.edit(ticket.id, actor: "p", action: "close") { try $0.transition(.close) }
        _ = try await hq.edit(ticket.id, actor: "hq", action: "reopen") { try $0.transition(.reopen) }
        try await Fixtures.sync(branch, to: hq)
        try await Fixtures.sync(hq, to: branch)
        for store in [branch, hq] {
            let view = try await store.ticket(ticket.id)
            #expect(view.status == "investigating" && view.round == 2)
            #expect(view.history.map(\.action).suffix(2).sorted() == ["close", "reopen"])
        }
    }

    @Test func aFarFutureOpIsRefusedAndTheLocalClockIsNotMoved() async throws {
        let farClock = ManualClock(millis: ManualClock().nowMillis() + 3_600_000)  // an hour fast
        let skewed = try Fixtures.memoryStore("sh-bad", clock: farClock)
        let clock = ManualClock()
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        _ = try await skewed.openTicket(Fixtures.draft(), actor: "p")
        let outcome = try await hq.apply(Fixtures.allOps(of: skewed))
        #expect(outcome.applied == 0)
        let refusal = try #require(outcome.refused.first)
        #expect(refusal.origin.rawValue == "sh-bad" && refusal.aheadMillis == 3_600_000)
        #expect(refusal.description.contains("3600s ahead"))
        // HQ's next local op is stamped by its own clock, not dragged an hour ahead.
        let local = try await hq.openTicket(Fixtures.draft(), actor: "hq")
        let stamped = try #require(try await Fixtures.allOps(of: hq).first { $0.ticket.description == local.id })
        #expect(stamped.hlc.wallMillis == clock.nowMillis())
    }

    @Test func opsAfterAGapAreDeferredUntilTheGapIsFilled() async throws {
        let branch = try Fixtures.memoryStore("sh-012")
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "p")
        for index in 1...3 {
            _ = try await branch.edit(ticket.id, actor: "p", action: "note") { try $0.append(Entry(kind: .note, text: "n\(index)")) }
        }
        let ops = try await Fixtures.allOps(of: branch)
        let early = try await hq.apply([ops[2], ops[3]])
        #expect(early.applied == 0 && early.deferred.map(\.seq) == [3, 4])
        let filled = try await hq.apply([ops[0], ops[1], ops[2], ops[3]])
        let branchID = try NodeID("sh-012")
        #expect(filled.applied == 4 && filled.vector[branchID] == 4)
        #expect(try await hq.digest() == (try await branch.digest()))
    }

    @Test func missingOpsStreamInBoundedBatchesAcrossOrigins() async throws {
        let (a, b, hq) = (try Fixtures.memoryStore("a"), try Fixtures.memoryStore("b"), try Fixtures.memoryStore("hq", role: .hq))
        for index in 0..<5 { _ = try await a.openTicket(Fixtures.draft(title: "a\(index)"), actor: "p") }
        for index in 0..<4 { _ = try await b.openTicket(Fixtures.draft(title: "b\(index)"), actor: "q") }
        try await Fixtures.sync(a, to: hq, batchSize: 2)
        try await Fixtures.sync(b, to: hq, batchSize: 3)
        var peer = VersionVector([try NodeID("a"): 2])
        var sizes: [Int] = []
        while true {
            let batch = try await hq.opsMissing(by: peer, limit: 3)
            if batch.isEmpty { break }
            sizes.append(batch.count)
            for op in batch { peer.advance(to: op.id) }
        }
        #expect(sizes == [3, 3, 1])
        #expect(peer == (try await hq.versionVector()))
    }

    @Test func anOversizedBatchIsRefusedWhole() async throws {
        let store = try Fixtures.memoryStore("a")
        let ticket = TicketID(origin: try NodeID("b"), counter: 1)
        let ops = (1...UInt64(NodeStore.maxBatchOps + 1)).map {
            Op(id: OpID(origin: try! NodeID("b"), seq: $0), hlc: HLCTimestamp(wallMillis: 1, counter: 0), ticket: ticket,
               actor: "x", action: "note", changes: [])
        }
        let error = await #expect(throws: StoreError.self) { _ = try await store.apply(ops) }
        #expect(error?.code == .batchTooLarge)
        #expect(try await store.versionVector().total == 0)
    }

    @Test(arguments: 0..<20)
    func replayingTheLogInAnyOrderRebuildsExactlyTheSameTickets(seed: UInt64) async throws {
        // Build a log with three origins that edited the same tickets concurrently.
        let nodes = try ["a", "b", "hq"].map { try Fixtures.memoryStore($0, role: $0 == "hq" ? .hq : .branch) }
        var random = SeededRandom(seed: seed)
        let first = try await nodes[0].openTicket(Fixtures.draft(), actor: "p")
        for node in nodes.dropFirst() { try await Fixtures.sync(nodes[0], to: node) }
        for step in 0..<24 {
            let node = random.pick(nodes)
            let value = Int.random(in: 1...3, using: &random)
            let next = try await node.ticket(first.id).allowedTransitions.first ?? "accept"
            _ = try? await node.edit(first.id, actor: "p", action: ["update", "note", "tag", next][step % 4]) { document in
                switch step % 4 {
                case 0: try document.update([.severity: .number(value)])
                case 1: try document.append(Entry(kind: .note, text: "n\(step)"))
                case 2: try document.tag(add: ["t\(value)"], remove: ["t\(4 - value)"])
                default: try document.transition(Transition(rawValue: next)!, reason: "r")
                }
            }
            if random.chance(0.3) { try await Fixtures.sync(random.pick(nodes), to: random.pick(nodes)) }
        }
        for node in nodes { for other in nodes where other !== node { try await Fixtures.sync(node, to: other) } }
        let expected = try await nodes[0].digest()
        let log = try await Fixtures.allOps(of: nodes[0])

        let replay = try Fixtures.memoryStore("replay")
        var pending = log.shuffled(using: &random)
        while !pending.isEmpty {
            // One op at a time in shuffled order; ops refused for a gap come around again.
            let op = pending.removeFirst()
            if try await replay.apply([op]).applied == 0 { pending.append(op) }
        }
        #expect(try await replay.digest() == expected, "seed \(seed)")
        #expect(try await replay.conflicts() == (try await nodes[0].conflicts()), "seed \(seed)")
    }
}
