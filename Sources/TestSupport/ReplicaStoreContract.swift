import Replication
import Testing
import TicketModel

/// The store contract (`ReplicaStore`) as tests, written once and run by every implementation's
/// test target — the SQLite store's today, PostgreSQL's next — so that no two stores can differ
/// in what the sync layer relies on:
///
/// ```swift
/// @Test(arguments: ReplicaStoreContract.clauses)
/// func keepsTheContract(_ clause: ReplicaStoreContract.Clause) async throws {
///     try await clause.check { identity, clock in try makeStore(identity, clock) }
/// }
/// ```
public enum ReplicaStoreContract {
    /// Makes a new, empty store for a node, with its clock.
    public typealias MakeStore = @Sendable (NodeIdentity, ManualClock) async throws -> any ReplicaStore

    /// One promise of the contract, checked against fresh stores.
    public struct Clause: Sendable, CustomTestStringConvertible {
        public let name: String
        let body: @Sendable (MakeStore) async throws -> Void

        public var testDescription: String { name }

        /// Checks the promise against stores `make` creates.
        public func check(_ make: MakeStore) async throws { try await body(make) }
    }

    static let hq = Fixtures.identity("hq", role: .hq)
    static let branch = Fixtures.identity("sh-012")
    static let other = Fixtures.identity("bj-003")

    /// Every clause of the contract.
    public static let clauses: [Clause] = [
        Clause(name: "a batch applies whole and the vector advances contiguously") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let batch = ops.tickets(2, at: branch.nodeID)
            let before = try await store.opCount()
            let outcome = try await store.apply(batch, from: nil)
            #expect(outcome.applied == batch.count && outcome.duplicates == 0 && outcome.deferred.isEmpty)
            #expect(outcome.vector == (try await store.versionVector()))
            #expect(try await store.versionVector()[branch.nodeID] == UInt64(batch.count))
            #expect(try await store.opCount() > before, "the change feed's counter grows with every commit")
        },
        Clause(name: "applying an op twice is a no-op") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let batch = ops.tickets(2, at: branch.nodeID)
            _ = try await store.apply(batch, from: nil)
            let vector = try await store.versionVector()
            let count = try await store.opCount()
            let again = try await store.apply(batch, from: nil)
            #expect(again.applied == 0 && again.duplicates == batch.count)
            #expect(try await store.versionVector() == vector)
            #expect(try await store.opCount() == count)
        },
        Clause(name: "an op after a gap is deferred, never applied, until the gap fills") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let batch = ops.tickets(3, at: branch.nodeID)
            _ = try await store.apply([batch[0]], from: nil)
            let gapped = try await store.apply([batch[2]], from: nil)
            #expect(gapped.applied == 0 && gapped.deferred == [batch[2].id])
            #expect(try await store.versionVector()[branch.nodeID] == 1)
            let filled = try await store.apply([batch[2], batch[1]], from: nil)
            #expect(filled.applied == 2 && filled.vector[branch.nodeID] == 3)
        },
        Clause(name: "ops of different origins apply in any order") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let fromBranch = ops.tickets(2, at: branch.nodeID)
            let fromOther = ops.tickets(2, at: other.nodeID)
            _ = try await store.apply(fromOther.reversed(), from: nil)
            _ = try await store.apply(fromBranch, from: nil)
            let vector = try await store.versionVector()
            #expect(vector[branch.nodeID] == 2 && vector[other.nodeID] == 2)
        },
        Clause(name: "a remote op from a clock too far ahead is refused and does not move the vector") { make in
            let clock = ManualClock()
            let store = try await make(hq, clock)
            var ops = OpMaker(wallMillis: clock.nowMillis() + 3_600_000)
            let outcome = try await store.apply(ops.tickets(1, at: branch.nodeID), from: nil)
            #expect(outcome.applied == 0 && outcome.refused.count == 1)
            #expect(outcome.refused.first?.origin == branch.nodeID)
            #expect(try await store.versionVector()[branch.nodeID] == 0)
        },
        Clause(name: "opsMissing streams in (origin, seq) order and always returns at least one op") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let fromBranch = ops.tickets(3, at: branch.nodeID)
            let fromOther = ops.tickets(2, at: other.nodeID)
            _ = try await store.apply(fromBranch + fromOther, from: nil)
            let first = try await store.opsMissing(by: VersionVector(), limit: 4, origins: nil, maxBytes: .max)
            #expect(first.map(\.id) == (fromOther + fromBranch).map(\.id).sorted().prefix(4).map { $0 })
            let one = try await store.opsMissing(by: VersionVector(), limit: 10, origins: nil, maxBytes: 1)
            #expect(one.count == 1, "a byte budget smaller than one op still returns that op")
            let onlyBranch = try await store.opsMissing(by: VersionVector(), limit: 10, origins: [branch.nodeID], maxBytes: .max)
            #expect(onlyBranch == fromBranch)
            var peer = VersionVector()
            for op in first { peer.advance(to: op.id) }
            let rest = try await store.opsMissing(by: peer, limit: 10, origins: nil, maxBytes: .max)
            #expect(rest.map(\.id) == [fromBranch[2].id])
            let level = try await store.opsMissing(by: try await store.versionVector(), limit: 10, origins: nil, maxBytes: .max)
            #expect(level.isEmpty)
        },
        Clause(name: "a batch with one op outside the sender's rights is refused whole") { make in
            let store = try await make(hq, ManualClock())
            var ops = OpMaker()
            let own = ops.tickets(1, at: branch.nodeID)
            let foreign = ops.tickets(1, at: other.nodeID)
            let grant = PeerGrant(nodeID: branch.nodeID, role: .branch, holds: VersionVector())
            await #expect(throws: AuthorisationRefusal.self) { _ = try await store.apply(own + foreign, from: grant) }
            #expect(try await store.versionVector() == VersionVector(), "nothing of the batch was applied")
            let accepted = try await store.apply(own, from: grant)
            #expect(accepted.applied == own.count)
        },
        Clause(name: "a peer's record reads back as written, and a refusal counts against it") { make in
            let store = try await make(hq, ManualClock())
            var record = PeerRecord(nodeID: branch.nodeID, role: .branch, address: "10.0.0.12:51000", state: .live, stateSince: 1_000)
            record.lastSyncAt = 2_000
            record.sentVector = VersionVector([hq.nodeID: 4])
            record.ackedVector = VersionVector([hq.nodeID: 3, branch.nodeID: 7])
            record.lastError = "the peer refused ops: 断网"
            record.lastErrorAt = 1_500
            try await store.record(record)
            #expect(try await store.peers() == [record])
            try await store.recordRefusal(of: branch.nodeID, role: .branch, address: nil, message: "revoked", at: 3_000)
            let refused = try #require(try await store.peers().first)
            #expect(refused.state == .refused && refused.refusals == 1 && refused.lastError == "revoked")
            #expect(refused.ackedVector == record.ackedVector, "a refusal keeps what the peer was known to hold")
        },
        Clause(name: "a branch's replica scope holds itself and HQ") { make in
            let store = try await make(hq, ManualClock())
            let scope = try await store.replicationScope(for: branch.nodeID)
            #expect(scope.isSuperset(of: [branch.nodeID, hq.nodeID]))
            #expect(!scope.contains(other.nodeID))
        },
        Clause(name: "recovery reports the seq this node holds of its own origin") { make in
            let store = try await make(branch, ManualClock())
            #expect(try await store.beginRecovery(untilSeq: 9) == 0)
            #expect(try await store.isRevoked(serial: "0a1b2c") == false)
        },
    ]
}

/// Valid ops made without a store: tickets opened at an origin, numbered as a node numbers them.
struct OpMaker {
    private var seqs: [NodeID: UInt64] = [:]
    private var wallMillis: UInt64

    init(wallMillis: UInt64 = ManualClock().nowMillis()) {
        self.wallMillis = wallMillis
    }

    /// `count` opening ops of new tickets at `origin`, seqs following those made before.
    mutating func tickets(_ count: Int, at origin: NodeID) -> [Op] {
        (0..<count).map { _ in
            let seq = (seqs[origin] ?? 0) + 1
            seqs[origin] = seq
            wallMillis += 1
            let draft = try! Fixtures.draft(title: "投诉 \(origin)#\(seq)")
            return Op(
                id: OpID(origin: origin, seq: seq), hlc: HLCTimestamp(wallMillis: wallMillis, counter: 0),
                ticket: TicketID(origin: origin, counter: Int(seq)), actor: "王芳", action: "open",
                changes: TicketDocument.opening(draft, number: TicketNumber.make(code: BranchCode(defaultFor: origin), day: CalendarDay(year: 2026, month: 11, day: 22)!, counter: Int(seq)),
                    receivedAt: Int64(wallMillis)))
        }
    }
}
