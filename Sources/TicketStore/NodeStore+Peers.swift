import Foundation
import GRDB
import Replication
import TicketModel

/// How the link to a peer stands, as the running node last recorded it.
public enum PeerState: String, Sendable, Codable {
    /// Handshaking or catching up.
    case connecting
    /// Caught up both ways; new ops flow as they commit.
    case live
    /// The last session ended; the dialler waits before it tries again.
    case backingOff = "backing-off"
    /// The peer refused us or we refused it (certificate, identity, version, authorisation).
    case refused
    /// No session and none being attempted (the node stopped, or a one-off sync ended).
    case offline
}

/// The replication state of one peer, for the admin.
public struct PeerRecord: Sendable, Equatable, Encodable {
    public var nodeID: NodeID
    public var role: NodeRole
    /// The address this node dials, or the address the peer last connected from.
    public var address: String?
    public var state: PeerState
    /// Unix milliseconds since the state was entered.
    public var stateSince: UInt64
    /// Unix milliseconds of the last time both sides held each other's ops.
    public var lastSyncAt: UInt64?
    /// What this node has sent the peer (the peer's vector plus the batches in flight).
    public var sentVector: VersionVector
    /// What the peer acknowledged having committed.
    public var ackedVector: VersionVector
    public var lastError: String?
    public var lastErrorAt: UInt64?
    /// Sessions with this peer that ended in a refusal, either way (certificate, identity,
    /// version, authorisation).
    public var refusals: UInt64 = 0

    public init(nodeID: NodeID, role: NodeRole, address: String?, state: PeerState, stateSince: UInt64) {
        self.nodeID = nodeID
        self.role = role
        self.address = address
        self.state = state
        self.stateSince = stateSince
        sentVector = VersionVector()
        ackedVector = VersionVector()
    }
}

extension PeerRecord {
    /// Ops this node holds that the peer has not acknowledged, of the origins it sends the peer
    /// (all when nil): a branch sends its own, HQ a branch's replica scope.
    public func opsWaitingToSend(from local: VersionVector, only origins: Set<NodeID>?) -> UInt64 {
        local.seqs.reduce(0) { sum, entry in
            guard origins?.contains(entry.key) ?? true else { return sum }
            return sum + (entry.value > ackedVector[entry.key] ? entry.value - ackedVector[entry.key] : 0)
        }
    }

    /// Ops the peer last said it holds and this node lacks.
    public func opsWaitingToReceive(into local: VersionVector) -> UInt64 {
        ackedVector.seqs.reduce(0) { sum, entry in sum + (entry.value > local[entry.key] ? entry.value - local[entry.key] : 0) }
    }
}

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
                    ackedVector, lastError, lastErrorAt, refusals)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                peer.nodeID.rawValue, peer.role.rawValue, peer.address, peer.state.rawValue, Int64(peer.stateSince),
                peer.lastSyncAt.map(Int64.init), try Self.encodeVector(peer.sentVector),
                try Self.encodeVector(peer.ackedVector), peer.lastError, peer.lastErrorAt.map(Int64.init),
                Int64(peer.refusals),
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
