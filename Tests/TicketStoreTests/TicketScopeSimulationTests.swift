import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// Deterministic simulation of hub and spoke over version 3 (SYNC.md §5.5): branches open and
/// edit tickets, HQ edits and transfers them at random, batches are lost or repeated; after any
/// such history no branch holds a document of a ticket it never handled, and every branch's
/// tickets equal HQ's (`digest --branch`). `BRANCHDESK_SIM_SEED=N` replays one seed.
@Suite struct TicketScopeSimulationTests {
    static let seeds: [UInt64] =
        UInt64(ProcessInfo.processInfo.environment["BRANCHDESK_SIM_SEED"] ?? "").map { [$0] } ?? Array(0..<120)

    @Test func branchesHoldExactlyTheTicketsTheyHandled() async throws {
        var transfers = 0
        for seed in Self.seeds {
            var simulation = try HubSimulation(seed: seed)
            do {
                try await simulation.run()
            } catch {
                Issue.record("seed \(seed): \(error)")
                throw error
            }
            transfers += simulation.transfers
            try await simulation.expectScopedConvergence()
        }
        #expect(Self.seeds.count < 50 || transfers >= Self.seeds.count, "only \(transfers) transfers in \(Self.seeds.count) runs")
    }
}

struct HubSimulation {
    let seed: UInt64
    var random: SeededRandom
    let hq: NodeStore
    let branches: [NodeStore]
    var transfers = 0
    /// One clock, moving on: an op made before another node's op arrived is older than it.
    let clock = ManualClock(millis: 1_795_305_600_000)

    init(seed: UInt64) throws {
        self.seed = seed
        random = SeededRandom(seed: seed)
        let clock = clock
        hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        branches = try (1...Int.random(in: 2...4, using: &random)).map { try Fixtures.memoryStore("b\($0)", clock: clock) }
    }

    mutating func run(steps: Int = 60) async throws {
        for _ in 0..<steps {
            clock.advance(byMillis: UInt64.random(in: 1...2_000, using: &random))
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<30: try await branchEdits()
            case 30..<45: try await hqEdits()
            default: try await session(of: random.pick(branches), cut: random.chance(0.2))
            }
        }
    }

    private mutating func branchEdits() async throws {
        let branch = random.pick(branches)
        let mine = try await branch.tickets(TicketFilter()).filter { $0.handledBy == branch.identity.nodeID.rawValue }
        if mine.isEmpty || random.chance(0.3) {
            _ = try await branch.openTicket(Fixtures.draft(title: "t\(random.next() % 100)"), actor: "clerk")
        } else {
            let ticket = random.pick(mine)
            _ = try await branch.edit(ticket.id, actor: "clerk", action: "note") { try $0.append(Entry(kind: .note, text: "备注")) }
        }
    }

    private mutating func hqEdits() async throws {
        let tickets = try await hq.tickets(TicketFilter())
        guard !tickets.isEmpty else { return }
        let ticket = random.pick(tickets)
        if random.chance(0.5) {
            let to = random.pick(branches).identity.nodeID
            guard to.rawValue != ticket.handledBy else { return }
            _ = try await hq.edit(ticket.id, actor: "hq", action: "transfer") { try $0.transfer(to: to) }
            transfers += 1
        } else {
            let assignee = "经理\(random.next() % 1000)"
            _ = try? await hq.edit(ticket.id, actor: "hq", action: "assign") { try $0.assign(to: assignee) }
        }
    }

    /// A session of a branch with HQ: the branch pushes its own ops, judged by what it held when
    /// the session began, then reads its feed; a cut link ends it after the push, or anywhere in
    /// the feed (a lost batch is sent again next time).
    private mutating func session(of branch: NodeStore, cut: Bool) async throws {
        let held = try await branch.feedCursor()?.position
        while try await push(from: branch, holding: held) {}
        if cut, random.chance(0.5) { return }
        while try await feed(branch, losing: cut && random.chance(0.3)) {}
    }

    /// A branch pushes its next own ops to HQ, which checks them as it checks a peer's; false
    /// when there were none.
    private mutating func push(from branch: NodeStore, holding held: UInt64?) async throws -> Bool {
        let id = branch.identity.nodeID
        let ops = try await branch.opsMissing(by: hq.versionVector(), limit: Int.random(in: 1...8, using: &random), origins: [id])
        guard !ops.isEmpty else { return false }
        _ = try await hq.apply(ops, from: PeerGrant(nodeID: id, role: .branch, holds: VersionVector(), feedPosition: held))
        return true
    }

    /// HQ sends a branch the next entries of its feed; false when there were none, or the batch
    /// was lost (it is sent again next time).
    private mutating func feed(_ branch: NodeStore, losing: Bool) async throws -> Bool {
        let id = branch.identity.nodeID
        let head = try await hq.openFeed(for: id)
        let place = try await branch.adoptFeed(epoch: head.epoch)
        let read = try await hq.feedOps(
            for: id, ownAfter: branch.versionVector()[id], after: place.position, limit: Int.random(in: 1...8, using: &random), maxBytes: .max)
        guard !read.ops.isEmpty, !losing else { return false }
        let outcome = try await branch.apply(read.ops, feed: FeedCursor(epoch: head.epoch, position: read.position))
        #expect(outcome.refused.isEmpty && outcome.deferred.isEmpty, "seed \(seed): a feed batch left ops out")
        if random.chance(0.2) { _ = try await branch.apply(read.ops, feed: FeedCursor(epoch: head.epoch, position: read.position)) }
        return true
    }

    mutating func expectScopedConvergence() async throws {
        for _ in 0..<200 {
            var moved = false
            for branch in branches {
                let id = branch.identity.nodeID
                let before = try await (hq.versionVector()[id], branch.feedCursor()?.position)
                try await session(of: branch, cut: false)
                let after = try await (hq.versionVector()[id], branch.feedCursor()?.position)
                if before != after { moved = true }
            }
            if !moved { break }
        }
        for branch in branches {
            let id = branch.identity.nodeID
            #expect(try await hq.versionVector()[id] == branch.versionVector()[id], "seed \(seed): HQ lacks ops of \(id)")
            #expect(try await hq.digest(handledBy: id) == branch.digest(handledBy: id), "seed \(seed): \(id)'s tickets differ from HQ's")
            for ticket in try await branch.heldTickets() {
                #expect(try await hq.handlers(of: ticket).contains(id), "seed \(seed): \(id) holds \(ticket), which it never handled")
                #expect(try await hq.ticket(ticket.description).history == branch.ticket(ticket.description).history,
                    "seed \(seed): \(id) holds \(ticket) other than HQ")
            }
        }
    }
}
