import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

/// What `withdraw` did: the ops as they were, now notes saying so.
public struct WithdrawnOps: Sendable {
    /// The ops as they were before: the one named, and when it opened its ticket, this node's
    /// later edits of that ticket.
    public let ops: [Op]
    /// The reason the notes give.
    public let reason: String
}

extension NodeStore {
    /// Withdraws `id`, an op of this node's that a peer refuses for good (`OP_REJECTED`,
    /// SYNC.md §6.2), so that sync passes it: the op keeps its id, clock and ticket, but its
    /// changes become one note saying it was withdrawn and why. When it opened its ticket, the
    /// ticket never opened anywhere else, so this node's later edits of it are withdrawn too.
    ///
    /// Only an op no other node may hold can be rewritten: no peer acknowledged it, none but the
    /// one that refused it was sent it, and no branch's feed holds it. Nothing else is changed
    /// when one of these fails. The tickets are derived again from the log before it returns
    /// (a crash meanwhile leaves that rebuild pending for the next open). Run it with the node
    /// not served: `branchdesk withdraw-op` holds the serve lock.
    public func withdraw(_ id: OpID, actor: String, reason: String?) async throws -> WithdrawnOps {
        let identity = identity
        let documents = documents
        let withdrawn = try await write { db in
            guard id.origin == identity.nodeID else {
                throw DomainError(
                    "op \(id) was made at \(id.origin), not at \(identity.nodeID): only the node that made an op may withdraw it; run this there")
            }
            guard let op = try Self.storedOp(id, db) else {
                throw DomainError("this node holds no op \(id): 'branchdesk status' names the op a peer rejects")
            }
            if op.action == "note", op.changes.contains(where: { if case .entry(let entry) = $0 { entry.text.hasPrefix(Self.withdrawnNote) } else { false } }) {
                throw DomainError("op \(id) is withdrawn already: run 'branchdesk sync --once' (or serve) to pass it to headquarters")
            }
            var ops = [op]
            if OpAction.named(op.action)?.opens == true {
                ops += try Row.fetchAll(
                    db, sql: "SELECT * FROM op WHERE origin = ? AND ticket = ? AND seq > ? ORDER BY seq",
                    arguments: [id.origin.rawValue, op.ticket.description, Int64(id.seq)]
                ).map(Self.op(from:))
            }
            let peers = try Self.peerRecords(db)
            for op in ops { try Self.checkNoPeerMayHold(op.id, peers: peers, db) }
            let reason = reason ?? peers.lazy.compactMap(\.stuckOp).first { $0.op == id }?.reason ?? "withdrawn by the admin"
            for op in ops {
                let note = "\(Self.withdrawnNote)（\(op.action)，\(op.id)）：\(reason)"
                let changes = [Change.entry(Entry(kind: .note, text: note))]
                if let invalid = Op.forbiddenText(actor: actor, action: "note", changes: changes) ?? Op.invalidValue(in: changes) {
                    throw DomainError("\(invalid): give another --actor or --reason")
                }
                try db.execute(
                    sql: "UPDATE op SET actor = ?, action = 'note', changes = ? WHERE origin = ? AND seq = ?",
                    arguments: [actor, try StoredForm.encode(changes), op.id.origin.rawValue, Int64(op.id.seq)])
            }
            // Withdrawn: the peer is no longer stuck on it, as far as this node can tell.
            try db.execute(
                sql: "UPDATE peer SET stuckOrigin = NULL, stuckSeq = NULL, stuckReason = NULL, stuckSince = NULL WHERE stuckOrigin = ? AND stuckSeq = ?",
                arguments: [id.origin.rawValue, Int64(id.seq)])
            try DerivedData.mark(.documents, db)
            documents.stageRemovingAll()
            return WithdrawnOps(ops: ops, reason: reason)
        }
        do {
            try DerivedData.rebuildPending(writer)
        } catch {
            throw StoreError.translating(error, path: path)
        }
        return withdrawn
    }

    /// How the note that replaces a withdrawn op begins ("withdrew an edit that was refused").
    static let withdrawnNote = "撤回了被拒收的编辑"

    /// Throws unless no peer may hold op `id`: the peer that refused it did not take it since,
    /// and no other peer acknowledged it, was sent it or has it in its feed.
    private static func checkNoPeerMayHold(_ id: OpID, peers: [PeerRecord], _ db: Database) throws {
        for peer in peers {
            if peer.ackedVector.contains(id) {
                throw DomainError("\(peer.nodeID) holds op \(id) already: an op another node holds cannot be withdrawn, only edited over")
            }
            if peer.stuckOp?.op == id { continue }
            if peer.sentVector.contains(id) {
                throw DomainError(
                    "op \(id) was sent to \(peer.nodeID), which did not refuse it and may hold it: sync with it first ('branchdesk status' then shows which op it refuses)"
                )
            }
            let fed = try Bool.fetchOne(
                db, sql: "SELECT 1 FROM feedEntry WHERE node = ? AND origin = ? AND seq = ?",
                arguments: [peer.nodeID.rawValue, id.origin.rawValue, Int64(id.seq)]) ?? false
            if fed {
                throw DomainError(
                    "op \(id) is in the feed of \(peer.nodeID), which may hold it already: an op sent to other branches cannot be withdrawn; upgrade the branch that refuses it instead"
                )
            }
        }
    }
}
