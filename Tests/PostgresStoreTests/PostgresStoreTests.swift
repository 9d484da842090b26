import Foundation
import PostgresNIO
import PostgresStore
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// HQ's store over PostgreSQL keeps the store contract as the SQLite store does, ends at the same
/// digest from the same ops, and stays correct when two gateways apply at the same moment.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresStoreTests {
    static let hq = Fixtures.identity("hq", role: .hq)

    @Test(arguments: ReplicaStoreContract.clauses)
    func thePostgresStoreKeepsTheContract(_ clause: ReplicaStoreContract.Clause) async throws {
        try await PostgresTestDatabase.withDatabase { client, _ in
            try await clause.check { identity, clock in
                try await PostgresStore.create(client: client, identity: identity, clock: clock, logger: PostgresTestDatabase.logger)
            }
        }
    }

    @Test("the same ops, in batches of any order, give the SQLite store's digest, whole and per branch")
    func sameOpsSameDigest() async throws {
        let trace = try await Trace.make()
        let expected = try await (trace.hq.digest(), trace.hq.digest(handledBy: trace.branches[0]), trace.hq.digest(handledBy: trace.branches[1]))
        for order in [trace.ops, Array(trace.ops.reversed())] {
            try await PostgresTestDatabase.withDatabase { client, _ in
                let store = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
                try await Self.applyAll(order, to: store, batch: 23)
                #expect(try await store.versionVector() == trace.hq.versionVector())
                #expect(try await store.digest() == expected.0)
                #expect(try await store.digest(handledBy: trace.branches[0]) == expected.1)
                #expect(try await store.digest(handledBy: trace.branches[1]) == expected.2)
            }
        }
    }

    @Test("a schema newer than this build is refused before anything is written")
    func newerSchemaRefused() async throws {
        try await PostgresTestDatabase.withDatabase { client, _ in
            _ = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            try await client.query("INSERT INTO branchdesk_schema (version) VALUES ('v99-from-the-future')")
            let error = await #expect(throws: PostgresStoreError.self) {
                _ = try await PostgresStore.open(client: client, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            }
            #expect(error?.kind == .newerSchema && error?.message.contains("v99-from-the-future") == true, "\(String(describing: error))")
            let again = await #expect(throws: PostgresStoreError.self) {
                _ = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            }
            #expect(again?.kind == .newerSchema)
        }
    }

    @Test("two gateways applying the same batches and overlapping tickets at once: every op once, no deadlock, equal digests")
    func twoGatewaysAtOnce() async throws {
        let trace = try await Trace.make()
        try await PostgresTestDatabase.withDatabase { client, database in
            let first = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            try await PostgresTestDatabase.withRunningClient(database) { otherClient in
                let second = try await PostgresStore.open(client: otherClient, clock: ManualClock(), logger: PostgresTestDatabase.logger)
                // The same ops through both, one in order and one reversed by origin: the same
                // tickets are touched in different orders at the same moment.
                async let one: Void = Self.applyAll(trace.ops, to: first, batch: 17)
                async let two: Void = Self.applyAll(Array(trace.ops.reversed()), to: second, batch: 29)
                _ = try await (one, two)
                #expect(try await first.versionVector() == trace.hq.versionVector())
                #expect(try await second.opCount() == first.opCount())
                #expect(try await first.digest() == trace.hq.digest())
            }
        }
    }

    @Test("HQ's and a branch's edits of the same tickets through two gateways at once both survive")
    func sameTicketsDifferentOrigins() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let branch = try Fixtures.memoryStore("sh-012")
        var numbers: [String] = []
        for index in 1...30 { numbers.append(try await branch.openTicket(Fixtures.draft(title: "投诉 \(index)"), actor: "王芳").number) }
        try await Fixtures.sync(branch, to: hq)
        let opens = try await Fixtures.allOps(of: hq)
        for number in numbers {
            _ = try await hq.edit(number, actor: "总部投诉办", action: "update") { try $0.update([.severity: .number(3)]) }
            _ = try await branch.edit(number, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: "已回电顾客")) }
        }
        try await Fixtures.sync(branch, to: hq)
        let all = try await Fixtures.allOps(of: hq)
        let fromHQ = all.filter { $0.id.origin == hq.identity.nodeID }
        let fromBranch = all.filter { $0.id.origin == branch.identity.nodeID && !opens.contains($0) }
        try await PostgresTestDatabase.withDatabase { client, database in
            let first = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            _ = try await first.apply(opens)
            try await PostgresTestDatabase.withRunningClient(database) { otherClient in
                let second = try await PostgresStore.open(client: otherClient, clock: ManualClock(), logger: PostgresTestDatabase.logger)
                // Small batches, so that the two gateways' transactions overlap again and again.
                async let one: Void = Self.applyAll([fromBranch], to: first, batch: 3)
                async let two: Void = Self.applyAll([fromHQ], to: second, batch: 3)
                _ = try await (one, two)
            }
            #expect(try await first.versionVector() == hq.versionVector())
            #expect(try await first.digest() == hq.digest(), "an edit was lost: two gateways merged the same ticket from the same base")
        }
    }

    @Test("ops after a gap leave the vector where it was until the gap is filled, whichever gateway fills it")
    func gapsAreNeverAcknowledged() async throws {
        let trace = try await Trace.make()
        let branch = trace.branches[0]
        let own = trace.ops.flatMap { $0 }.filter { $0.id.origin == branch }
        try #require(own.count >= 30)
        try await PostgresTestDatabase.withDatabase { client, database in
            let first = try await PostgresStore.create(client: client, identity: Self.hq, clock: ManualClock(), logger: PostgresTestDatabase.logger)
            try await PostgresTestDatabase.withRunningClient(database) { otherClient in
                let second = try await PostgresStore.open(client: otherClient, clock: ManualClock(), logger: PostgresTestDatabase.logger)
                _ = try await first.apply(Array(own[0..<10]))
                let gapped = try await second.apply(Array(own[20..<30]))
                #expect(gapped.applied == 0 && gapped.deferred.count == 10)
                #expect(try await first.versionVector()[branch] == 10)
                _ = try await second.apply(Array(own[10..<20]))
                _ = try await first.apply(Array(own[20..<30]))
                #expect(try await second.versionVector()[branch] == 30)
            }
        }
    }

    /// Applies every batch of `ops` (grouped by origin as senders stream them) in batches of `batch`.
    static func applyAll(_ ops: [[Op]], to store: PostgresStore, batch: Int) async throws {
        for origin in ops {
            var start = 0
            while start < origin.count {
                let end = min(start + batch, origin.count)
                let outcome = try await store.apply(Array(origin[start..<end]))
                #expect(outcome.deferred.isEmpty && outcome.refused.isEmpty, "\(outcome)")
                start = end
            }
        }
    }
}

/// A seeded week at two branches and HQ, made with the SQLite store: opens, accepts, tags, notes,
/// severity edits made concurrently at a branch and at HQ (a conflict), and a transfer.
struct Trace {
    let hq: NodeStore
    let branches: [NodeID]
    /// Every op HQ holds, per origin, in seq order.
    let ops: [[Op]]

    static func make() async throws -> Trace {
        let hq = try Fixtures.memoryStore("hq", role: .hq)
        let stores = try ["sh-012", "bj-003"].map { try Fixtures.memoryStore($0) }
        var random = SeededRandom(seed: 20_261_204)
        var numbers: [[String]] = [[], []]
        for (index, store) in stores.enumerated() {
            for count in 1...25 {
                let ticket = try await store.openTicket(Fixtures.draft(title: "投诉 \(store.identity.nodeID) \(count)"), actor: "王芳")
                numbers[index].append(ticket.number)
                _ = try await store.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
                if Bool.random(using: &random) {
                    _ = try await store.edit(ticket.number, actor: "王芳", action: "tag") { try $0.tag(add: ["回访"], remove: []) }
                }
                if Bool.random(using: &random) {
                    _ = try await store.edit(ticket.number, actor: "李娜", action: "note") { try $0.append(Entry(kind: .note, text: "已致电顾客，约定周五回访")) }
                }
            }
            try await Fixtures.sync(store, to: hq)
        }
        // HQ and the first branch edit one ticket's severity concurrently; HQ transfers another.
        let contested = numbers[0][3], moved = numbers[0][7]
        _ = try await hq.edit(contested, actor: "总部投诉办", action: "update") { try $0.update([.severity: .number(3)]) }
        _ = try await stores[0].edit(contested, actor: "王芳", action: "update") { try $0.update([.severity: .number(2)]) }
        _ = try await hq.edit(moved, actor: "总部投诉办", action: "transfer") { try $0.transfer(to: stores[1].identity.nodeID) }
        try await Fixtures.sync(stores[0], to: hq)
        let all = try await Fixtures.allOps(of: hq)
        let byOrigin = Dictionary(grouping: all, by: \.id.origin).sorted { $0.key < $1.key }.map { $0.value.sorted { $0.id < $1.id } }
        return Trace(hq: hq, branches: stores.map(\.identity.nodeID), ops: byOrigin)
    }
}
