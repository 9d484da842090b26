import Crypto
import Foundation
import GRDB
import Replication
import TicketModel

/// What applying a remote batch did. Refusals are outcomes, not errors: the rest of the batch
/// still applies, and the refused ops stay in their sender's log to be retried.
public struct BatchOutcome: Sendable, Equatable {
    public var applied: Int
    public var duplicates: Int
    /// Ops left out because an earlier seq of their origin is missing.
    public var deferred: [OpID]
    /// Ops refused because their clock is too far ahead of ours.
    public var refused: [ClockSkewRefusal]
    /// This node's vector after the batch: what the sender should ack against.
    public var vector: VersionVector
}

extension NodeStore {
    /// The highest seq applied contiguously, per origin.
    public func versionVector() async throws -> VersionVector {
        try await read(Self.vector)
    }

    static func vector(_ db: Database) throws -> VersionVector {
        var seqs: [NodeID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT origin, seq FROM versionVector") {
            seqs[try NodeID(row["origin"])] = UInt64(row["seq"] as Int64)
        }
        return VersionVector(seqs)
    }

    /// The next at most `limit` ops that a peer whose vector is `peer` lacks, in `(origin, seq)`
    /// order. Call again with the peer's vector advanced past them to stream the rest: nothing
    /// beyond one batch is ever loaded.
    public func opsMissing(by peer: VersionVector, limit: Int) async throws -> [Op] {
        precondition(limit > 0, "a batch holds at least one op")
        return try await read { db in
            var batch: [Op] = []
            for (origin, seq) in try Self.vector(db).seqs.sorted(by: { $0.key < $1.key }) where seq > peer[origin] {
                let rows = try Row.fetchAll(
                    db,
                    sql: "SELECT * FROM op WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?",
                    arguments: [origin.rawValue, Int64(peer[origin]), limit - batch.count])
                batch += try rows.map(Self.op(from:))
                if batch.count == limit { break }
            }
            return batch
        }
    }

    /// Applies a batch of remote ops in one transaction through the same merge as local edits.
    ///
    /// Idempotent (duplicates are skipped), order-free across origins, and bounded: a batch may
    /// hold at most `maxBatchOps` ops so that it never blocks local writers for long.
    public func apply(_ batch: [Op]) async throws -> BatchOutcome {
        guard batch.count <= Self.maxBatchOps else {
            throw StoreError(.batchTooLarge, "a batch of \(batch.count) ops exceeds the limit of \(Self.maxBatchOps)")
        }
        let now = clock.nowMillis()
        let selfID = identity.nodeID
        return try await write { db in
            var counters = try Counters.load(db)
            let admission = BatchAdmission(batch: batch, vector: try Self.vector(db), clock: counters.hlc, wallMillis: now)
            var merge = MergeTransaction(db)
            for op in admission.accepted {
                try merge.apply(op)
                counters.hlc.receive(op.hlc)
            }
            try merge.finish()
            let vector = try Self.vector(db)
            // Our own ops may come back from a peer (after a restore): never reuse their seqs.
            counters.lastSeq = max(counters.lastSeq, vector[selfID])
            try counters.save(db)
            return BatchOutcome(
                applied: admission.accepted.count, duplicates: admission.duplicates, deferred: admission.deferred,
                refused: admission.refused, vector: vector)
        }
    }

    /// A canonical SHA-256 of the materialised state: tickets in id order with their entries.
    /// Two replicas that applied the same set of ops have the same digest.
    public func digest() async throws -> String {
        try await read { db in
            var hash = SHA256()
            let tickets = try Row.fetchCursor(db, sql: "SELECT id, document FROM ticket ORDER BY id")
            while let row = try tickets.next() {
                hash.update(data: Data((row["id"] as String).utf8))
                hash.update(data: row["document"] as Data)
            }
            let entries = try Row.fetchCursor(
                db, sql: "SELECT origin, seq, position, ticket, body FROM entry ORDER BY origin, seq, position")
            while let row = try entries.next() {
                let key = "\(row["origin"] as String)#\(row["seq"] as Int64).\(row["position"] as Int)@\(row["ticket"] as String)"
                hash.update(data: Data(key.utf8))
                hash.update(data: row["body"] as Data)
            }
            return hash.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }

    static func op(from row: Row) throws -> Op {
        guard let ticket = TicketID(row["ticket"] as String) else {
            throw StoreError(.corrupt, "the op log holds a malformed ticket id; restore the node from a backup")
        }
        return Op(
            id: OpID(origin: try NodeID(row["origin"]), seq: UInt64(row["seq"] as Int64)),
            hlc: HLCTimestamp(rawValue: UInt64(bitPattern: row["hlc"])), ticket: ticket, actor: row["actor"],
            action: row["action"], changes: try Coding.decode([Change].self, from: row["changes"]))
    }
}
