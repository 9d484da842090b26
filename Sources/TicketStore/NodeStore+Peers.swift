import Foundation
import GRDB
import Replication
import TicketModel

extension NodeStore {
    /// The address a branch dials to reach HQ, if set.
    public func hqAddress() async throws -> String? {
        try await read { db in try String.fetchOne(db, sql: "SELECT hqAddress FROM node") }
    }

    /// Sets (or clears) the address of HQ.
    public func setHQAddress(_ address: String?) async throws {
        try await write { db in try db.execute(sql: "UPDATE node SET hqAddress = ?", arguments: [address]) }
    }

    /// Every peer this node has exchanged a session with, by node id.
    public func peers() async throws -> [PeerRecord] {
        try await read(Self.peerRecords)
    }

    static func peerRecords(_ db: Database) throws -> [PeerRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM peer ORDER BY nodeID").map { row in
            var record = PeerRecord(
                nodeID: try NodeID(row["nodeID"]), role: NodeRole(rawValue: row["role"]) ?? .branch,
                address: row["address"], state: PeerState(rawValue: row["state"]) ?? .offline,
                stateSince: UInt64(row["stateSince"] as Int64))
            record.lastSyncAt = (row["lastSyncAt"] as Int64?).map(UInt64.init)
            record.sentVector = try Self.decodeVector(row["sentVector"])
            record.ackedVector = try Self.decodeVector(row["ackedVector"])
            record.lastError = row["lastError"]
            record.lastErrorAt = (row["lastErrorAt"] as Int64?).map(UInt64.init)
            record.refusals = UInt64(row["refusals"] as Int64)
            record.feedAcked = (row["feedAcked"] as Int64?).map(UInt64.init)
            record.feedEnd = (row["feedEnd"] as Int64?).map(UInt64.init)
            if let origin = row["stuckOrigin"] as String?, let seq = row["stuckSeq"] as Int64?, let since = row["stuckSince"] as Int64? {
                record.stuckOp = StuckOp(op: OpID(origin: try NodeID(origin), seq: UInt64(seq)), reason: row["stuckReason"] ?? "", since: UInt64(since))
            }
            return record
        }
    }

    /// Registers a peer the admin expects, so that `status` shows it (as never synced until it
    /// is): at HQ a branch that will connect, `address` being a note of where it is; at a branch
    /// the HQ it dials, at `address`. Returns the peer's record.
    public func addPeer(_ nodeID: NodeID, address: String?) async throws -> PeerRecord {
        let identity = identity
        guard nodeID != identity.nodeID else { throw DomainError("'\(nodeID)' is this node itself: name another node") }
        let now = clock.nowMillis()
        return try await write { db in
            let records = try Self.peerRecords(db)
            if identity.role == .branch {
                guard let address else {
                    throw DomainError("a branch dials headquarters: give its address with --address HOST:PORT")
                }
                if let other = records.first(where: { $0.role == .hq && $0.nodeID != nodeID }) {
                    throw DomainError(
                        "this branch already syncs with headquarters '\(other.nodeID)': remove it first with 'branchdesk peers remove \(other.nodeID)'")
                }
                try db.execute(sql: "UPDATE node SET hqAddress = ?", arguments: [address])
            }
            var record = records.first { $0.nodeID == nodeID }
                ?? PeerRecord(
                    nodeID: nodeID, role: identity.role == .hq ? .branch : .hq, address: nil, state: .offline, stateSince: now)
            record.address = address ?? record.address
            try Self.insert(record, db)
            return record
        }
    }

    /// Forgets a peer: its record, and at a branch the HQ address it dials. A branch removed at HQ
    /// that still holds a valid certificate reappears when it next connects: revoke it to keep it out.
    public func removePeer(_ nodeID: NodeID) async throws -> PeerRecord {
        let identity = identity
        return try await write { db in
            let records = try Self.peerRecords(db)
            guard let record = records.first(where: { $0.nodeID == nodeID }) else {
                let known = records.map(\.nodeID.rawValue).joined(separator: ", ")
                throw DomainError("no peer '\(nodeID)'\(known.isEmpty ? ": this node has none" : "; the peers are \(known)")")
            }
            try db.execute(sql: "DELETE FROM peer WHERE nodeID = ?", arguments: [nodeID.rawValue])
            if identity.role == .branch, record.role == .hq {
                try db.execute(sql: "UPDATE node SET hqAddress = NULL")
            }
            return record
        }
    }

    /// Inserts or replaces the record of one peer.
    public func record(_ peer: PeerRecord) async throws {
        try await write { db in try Self.insert(peer, db) }
    }

    private static func insert(_ peer: PeerRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO peer (nodeID, role, address, state, stateSince, lastSyncAt, sentVector,
                    ackedVector, lastError, lastErrorAt, refusals, feedAcked, feedEnd, stuckOrigin, stuckSeq, stuckReason, stuckSince)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                peer.nodeID.rawValue, peer.role.rawValue, peer.address, peer.state.rawValue, Int64(peer.stateSince),
                peer.lastSyncAt.map(Int64.init), try Self.encodeVector(peer.sentVector),
                try Self.encodeVector(peer.ackedVector), peer.lastError, peer.lastErrorAt.map(Int64.init),
                Int64(peer.refusals), peer.feedAcked.map(Int64.init), peer.feedEnd.map(Int64.init),
                peer.stuckOp?.op.origin.rawValue, peer.stuckOp.map { Int64($0.op.seq) }, peer.stuckOp?.reason,
                peer.stuckOp.map { Int64($0.since) },
            ])
    }

    /// Marks every peer offline: a node that starts has no sessions yet, whatever it recorded before it stopped.
    public func markPeersOffline() async throws {
        let now = clock.nowMillis()
        try await write { db in
            try db.execute(
                sql: "UPDATE peer SET state = ?, stateSince = ? WHERE state <> ?",
                arguments: [PeerState.offline.rawValue, Int64(now), PeerState.offline.rawValue])
        }
    }

    private static func encodeVector(_ vector: VersionVector) throws -> String {
        String(decoding: try Coding.encode(vector), as: UTF8.self)
    }

    private static func decodeVector(_ text: String) throws -> VersionVector {
        try Coding.decode(VersionVector.self, from: Data(text.utf8))
    }
}
