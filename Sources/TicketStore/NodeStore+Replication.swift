import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

extension NodeStore {
    /// The highest seq applied contiguously, per origin.
    public func versionVector() async throws -> VersionVector {
        try await read(Self.vector)
    }

    static func vector(_ db: Database) throws -> VersionVector {
        var seqs: [NodeID: UInt64] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT origin, seq FROM versionVector")) {
            seqs[try NodeID(row["origin"])] = UInt64(row["seq"] as Int64)
        }
        return VersionVector(seqs)
    }

    /// The next at most `limit` ops that a peer whose vector is `peer` lacks, in `(origin, seq)`
    /// order, from the given origins only (all when nil), and stopping before their stored size
    /// passes `maxBytes` (at least one op is always returned). Call again with the peer's vector
    /// advanced past them to stream the rest: nothing beyond one batch is ever loaded.
    public func opsMissing(
        by peer: VersionVector, limit: Int, origins: Set<NodeID>? = nil, maxBytes: Int = .max
    ) async throws -> [Op] {
        precondition(limit > 0, "a batch holds at least one op")
        return try await read { db in
            var batch: [Op] = []
            var bytes = 0
            for (origin, seq) in try Self.vector(db).seqs.sorted(by: { $0.key < $1.key })
            where seq > peer[origin] && origins?.contains(origin) ?? true {
                let rows = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT *, length(changes) + length(actor) + length(action) + 64 AS size FROM op WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ?"
                    ),
                    arguments: [origin.rawValue, Int64(peer[origin]), limit - batch.count])
                while let row = try rows.next() {
                    bytes += row["size"] as Int
                    if bytes > maxBytes, !batch.isEmpty { return batch }
                    batch.append(try Self.op(from: row))
                }
                if batch.count == limit { break }
            }
            return batch
        }
    }

    /// Applies a batch of remote ops in one transaction through the same merge as local edits.
    ///
    /// Idempotent (duplicates are skipped), order-free across origins, and bounded: a batch may
    /// hold at most `maxBatchOps` ops so that it never blocks local writers for long.
    /// With `grant`, every op must be within the sending peer's rights (`PeerAuthorisation`);
    /// otherwise the whole batch is refused with an `AuthorisationRefusal` and nothing is applied.
    /// With `feed`, the batch comes from HQ's feed for this branch and completes its entries up to
    /// that cursor, which is stored in the same transaction — unless an op of the feed was left
    /// out (clock skew), when the cursor stays and the entries come again.
    public func apply(_ batch: [Op], from grant: PeerGrant? = nil, feed: FeedCursor? = nil) async throws -> BatchOutcome {
        guard batch.count <= Self.maxBatchOps else {
            throw StoreError(.batchTooLarge, "a batch of \(batch.count) ops exceeds the limit of \(Self.maxBatchOps)")
        }
        let now = clock.nowMillis()
        let selfID = identity.nodeID
        let documents = documents
        return try await write { db in
            var merge = try MergeTransaction(db, cache: documents)
            if let grant {
                var authorisation = PeerAuthorisation(grant)
                var lookup = StoredLookup(db: db, documents: documents)
                try authorisation.check(batch, in: &lookup)
            }
            var counters = try Counters.load(db)
            let admission = BatchAdmission(
                batch: batch, vector: try Self.vector(db), clock: counters.hlc, wallMillis: now,
                feed: try feed.map { _ in BatchAdmission.Feed(own: selfID, held: try Self.held(batch, except: selfID, db)) })
            for op in admission.accepted {
                try merge.apply(op)
                counters.hlc.receive(op.hlc)
                // Our own tickets may come back too: never reuse their counters either.
                if op.ticket.origin == selfID { counters.ticketCounter = max(counters.ticketCounter, op.ticket.counter) }
            }
            try merge.finish()
            let vector = try Self.vector(db)
            // Our own ops may come back from a peer (after a restore): never reuse their seqs.
            counters.lastSeq = max(counters.lastSeq, vector[selfID])
            try counters.save(db)
            var held = try Self.feedCursor(db)
            let feedComplete = !(admission.refused.map(\.origin) + admission.deferred.map(\.origin)).contains { $0 != selfID }
            if let feed, feedComplete, held?.epoch == feed.epoch, feed.position > held?.position ?? 0 {
                try db.execute(sql: "UPDATE feedCursor SET position = ?", arguments: [Int64(feed.position)])
                held = feed
            }
            return BatchOutcome(
                applied: admission.accepted.count, duplicates: admission.duplicates, deferred: admission.deferred,
                refused: admission.refused, vector: vector, feed: held)
        }
    }

    /// The ops of `batch` not made by `node` that this replica holds.
    private static func held(_ batch: [Op], except node: NodeID, _ db: Database) throws -> Set<OpID> {
        var held: Set<OpID> = []
        for op in batch where op.id.origin != node {
            if try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM op WHERE origin = ? AND seq = ?"),
                arguments: [op.id.origin.rawValue, Int64(op.id.seq)]) == true
            {
                held.insert(op.id)
            }
        }
        return held
    }

    /// The origins whose ops HQ relays to `node`: the node's own, this node's (HQ's), and those of
    /// every origin that wrote on a ticket `node` handles or handled (SYNC.md §5.5).
    public func replicationScope(for node: NodeID) async throws -> Set<NodeID> {
        let me = identity.nodeID
        return try await read { db in try Self.replicationScope(for: node, hq: me, db) }
    }

    static func replicationScope(for node: NodeID, hq: NodeID, _ db: Database) throws -> Set<NodeID> {
        var scope: Set<NodeID> = [node, hq]
        let origins = try String.fetchAll(
            db.cachedStatement(sql: "SELECT origin FROM replicaScope WHERE node = ?"), arguments: [node.rawValue])
        for origin in origins { scope.insert(try NodeID(origin)) }
        return scope
    }

    /// A canonical SHA-256 of the materialised state: tickets in id order with their entries.
    /// Two replicas that applied the same set of ops have the same digest. With `handledBy`, only
    /// the tickets that node handles count: HQ's digest for a branch then equals the branch's own,
    /// which holds those tickets whole but not the rest of the company.
    public func digest(handledBy node: NodeID? = nil) async throws -> String {
        try await read { db in
            var digest = ReplicaDigest()
            var included: Set<String> = []
            let tickets = try Row.fetchCursor(db, sql: "SELECT id, document FROM ticket ORDER BY id")
            while let row = try tickets.next() {
                let id: String = row["id"]
                if let node {
                    guard try Self.storedDocument(from: row).owner == node else { continue }
                    included.insert(id)
                }
                digest.addTicket(id: id, document: row["document"])
            }
            let entries = try Row.fetchCursor(
                db, sql: "SELECT origin, seq, position, ticket, body FROM entry ORDER BY origin, seq, position")
            while let row = try entries.next() {
                if node != nil, !included.contains(row["ticket"]) { continue }
                digest.addEntry(origin: row["origin"], seq: row["seq"], position: row["position"], ticket: row["ticket"], body: row["body"])
            }
            return digest.finalize()
        }
    }

    static func op(from row: Row) throws -> Op {
        let ticket = try storedTicketID(row["ticket"], in: "op log")
        let id = OpID(origin: try NodeID(row["origin"]), seq: UInt64(row["seq"] as Int64))
        return Op(
            id: id, hlc: HLCTimestamp(rawValue: UInt64(bitPattern: row["hlc"])), ticket: ticket, actor: row["actor"],
            action: row["action"], changes: try readStored { try StoredForm.changes(from: row["changes"], of: id) })
    }
}

extension NodeStore {
    /// A number that grows whenever an op is committed here, by any process: the sum of the
    /// vector. Cheap enough to poll many times a second.
    public func opCount() async throws -> UInt64 {
        try await read { db in UInt64(try Int64.fetchOne(db, sql: "SELECT total(seq) FROM versionVector") ?? 0) }
    }
}

extension NodeStore {
    /// Called when a peer holds more of this node's own ops than this node does: the node was
    /// restored from an old backup. Local edits are refused until the node holds its own ops up
    /// to `seq` again (pulled back from the peer); new ops then continue numbering after them.
    /// Returns the seq this node holds of its own origin.
    @discardableResult
    public func beginRecovery(untilSeq seq: UInt64) async throws -> UInt64 {
        let origin = identity.nodeID
        return try await write { db in
            try db.execute(sql: "UPDATE node SET recoverUntilSeq = max(recoverUntilSeq, ?)", arguments: [Int64(seq)])
            return try Self.vector(db)[origin]
        }
    }
}

/// What the authorisation rules read, from the transaction applying the batch.
private struct StoredLookup: AuthorisationLookup {
    let db: Database
    let documents: DocumentCache

    func document(_ id: TicketID) throws -> TicketDocument? { try documents.document(id, db) }
    func op(_ id: OpID) throws -> Op? { try NodeStore.storedOp(id, db) }
    func feedPosition(of id: OpID, for branch: NodeID) throws -> UInt64? { try NodeStore.feedPosition(of: id, for: branch, db) }
}
