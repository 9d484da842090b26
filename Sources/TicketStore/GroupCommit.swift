import Foundation
import GRDB
import Replication
import Synchronization
import TicketModel
import WireForms

/// Local edits made at the same moment — many clerks at HQ — committed in one transaction.
///
/// A caller's edit waits while the transaction before it commits, then joins the next group with
/// every edit that arrived meanwhile; each caller returns only once the transaction holding its
/// op has committed, so one fsync serves the whole group and nothing that returned is lost. An
/// edit refused for a reason of its own (a rule, an unknown ticket) fails alone; a failure of the
/// database fails the whole group, and none of its edits is written.
final class GroupCommit: Sendable {
    /// One edit: reads the documents as the group has them so far and records at most one op.
    typealias Edit = @Sendable (Database, inout LocalTransaction) throws -> TicketID

    private struct Waiting: Sendable {
        let edit: Edit
        let continuation: CheckedContinuation<TicketID, any Error>
    }

    private struct Queue {
        var waiting: [Waiting] = []
        var committing = false
    }

    private let queue = Mutex(Queue())

    /// Runs `edit` in the next group and returns once that group has committed.
    func commit(_ edit: @escaping Edit, in store: NodeStore) async throws -> TicketID {
        try await withCheckedThrowingContinuation { continuation in
            let startsCommitting = queue.withLock { queue in
                queue.waiting.append(Waiting(edit: edit, continuation: continuation))
                guard !queue.committing else { return false }
                queue.committing = true
                return true
            }
            if startsCommitting { Task { await self.commitWaiting(in: store) } }
        }
    }

    /// Commits group after group until no edit waits.
    private func commitWaiting(in store: NodeStore) async {
        while true {
            let group = queue.withLock { queue in
                let group = queue.waiting
                queue.waiting = []
                if group.isEmpty { queue.committing = false }
                return group
            }
            guard !group.isEmpty else { return }
            do {
                let results = try await Self.commit(group.map(\.edit), in: store)
                for (waiting, result) in zip(group, results) { waiting.continuation.resume(with: result) }
            } catch {
                for waiting in group { waiting.continuation.resume(throwing: error) }
            }
        }
    }

    private static func commit(_ edits: [Edit], in store: NodeStore) async throws -> [Result<TicketID, any Error>] {
        let identity = store.identity, documents = store.documents, now = store.clock.nowMillis()
        return try await store.write { db in
            var local = try LocalTransaction(db, identity: identity, documents: documents, now: now)
            var results: [Result<TicketID, any Error>] = []
            for edit in edits {
                let recorded = local.recordedOps
                do {
                    results.append(.success(try edit(db, &local)))
                } catch {
                    // An edit that failed after recording its op failed in the database: the group fails.
                    guard local.recordedOps == recorded else { throw error }
                    results.append(.failure(error))
                }
            }
            try local.finish()
            return results
        }
    }
}

/// What the local edits of one group commit share inside its transaction: the merge (so that an
/// edit sees the edits before it), the node's clock and counters.
struct LocalTransaction {
    let db: Database
    let identity: NodeIdentity
    /// The wall clock when the group began, in Unix milliseconds.
    let now: UInt64
    var counters: NodeStore.Counters
    private var merge: MergeTransaction
    /// How many ops the group's edits recorded so far.
    private(set) var recordedOps = 0
    /// Whether the node may number ops, checked once per group (nothing in it can change that).
    private var numbering: Result<Void, any Error>?

    init(_ db: Database, identity: NodeIdentity, documents: DocumentCache, now: UInt64) throws {
        self.db = db
        self.identity = identity
        self.now = now
        counters = try NodeStore.Counters.load(db)
        merge = try MergeTransaction(db, cache: documents)
    }

    /// The ticket's document with every op recorded so far; empty if none was applied here.
    mutating func document(_ id: TicketID) throws -> TicketDocument {
        try merge.document(id)
    }

    /// Records `changes` as this node's next op on `ticket` and merges it.
    mutating func record(ticket: TicketID, actor: String, action: String, changes: [Change]) throws {
        let origin = identity.nodeID
        if numbering == nil { numbering = Result { try NodeStore.checkMayNumberOps(db, origin: origin) } }
        try numbering?.get()
        let encoded = try StoredForm.encode(changes)
        guard encoded.count <= Op.maxChangesBytes else {
            throw DomainError(
                "this edit carries \(encoded.count / 1024) KiB of text; one edit may carry at most \(Op.maxChangesBytes / 1024) KiB: shorten it, or split it into several notes"
            )
        }
        if let forbidden = Op.forbiddenText(actor: actor, action: action, changes: changes) {
            throw DomainError("\(forbidden): remove control characters (and line breaks from one-line fields) and try again")
        }
        if let invalid = Op.invalidValue(in: changes) ?? Op.invalidAction(action, ticket: ticket, origin: origin, changes: changes) {
            throw DomainError(invalid)
        }
        counters.lastSeq += 1
        recordedOps += 1
        let op = Op(
            id: OpID(origin: origin, seq: counters.lastSeq), hlc: counters.hlc.tick(wallMillis: now), ticket: ticket,
            actor: actor, action: action, changes: changes)
        try merge.apply(op, encodedChanges: encoded)
    }

    /// Saves the touched tickets and the counters; the transaction may then commit.
    func finish() throws {
        try merge.finish()
        try counters.save(db)
    }
}
