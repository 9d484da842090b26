import Foundation
import PostgresNIO
import Replication
import TicketModel

extension PostgresStore {
    /// Every peer a gateway of this HQ exchanged a session with, by node id.
    public func peers() async throws -> [PeerRecord] {
        let rows = try await client.query(
            """
            SELECT node_id, role, address, state, state_since, last_sync_at, sent_vector, acked_vector, last_error,
                last_error_at, refusals, feed_acked, feed_end, stuck_origin, stuck_seq, stuck_reason, stuck_since
            FROM peer ORDER BY node_id COLLATE "C"
            """, logger: logger)
        var records: [PeerRecord] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            var record = PeerRecord(
                nodeID: try NodeID(r[0].decode(String.self)), role: NodeRole(rawValue: try r[1].decode(String.self)) ?? .branch,
                address: try r[2].decode(String?.self), state: PeerState(rawValue: try r[3].decode(String.self)) ?? .offline,
                stateSince: UInt64(try r[4].decode(Int64.self)))
            record.lastSyncAt = try r[5].decode(Int64?.self).map(UInt64.init)
            record.sentVector = try Self.decodeVector(r[6].decode(String.self))
            record.ackedVector = try Self.decodeVector(r[7].decode(String.self))
            record.lastError = try r[8].decode(String?.self)
            record.lastErrorAt = try r[9].decode(Int64?.self).map(UInt64.init)
            record.refusals = UInt64(try r[10].decode(Int64.self))
            record.feedAcked = try r[11].decode(Int64?.self).map(UInt64.init)
            record.feedEnd = try r[12].decode(Int64?.self).map(UInt64.init)
            if let origin = try r[13].decode(String?.self), let seq = try r[14].decode(Int64?.self), let since = try r[16].decode(Int64?.self) {
                record.stuckOp = StuckOp(
                    op: OpID(origin: try NodeID(origin), seq: UInt64(seq)), reason: try r[15].decode(String?.self) ?? "", since: UInt64(since))
            }
            records.append(record)
        }
        return records
    }

    /// Inserts or replaces the record of one peer.
    public func record(_ peer: PeerRecord) async throws {
        try await client.query(
            """
            INSERT INTO peer (node_id, role, address, state, state_since, last_sync_at, sent_vector, acked_vector, last_error,
                last_error_at, refusals, feed_acked, feed_end, stuck_origin, stuck_seq, stuck_reason, stuck_since)
            VALUES (\(peer.nodeID.rawValue), \(peer.role.rawValue), \(peer.address), \(peer.state.rawValue), \(Int64(peer.stateSince)),
                \(peer.lastSyncAt.map(Int64.init)), \(try Self.encodeVector(peer.sentVector)), \(try Self.encodeVector(peer.ackedVector)),
                \(peer.lastError), \(peer.lastErrorAt.map(Int64.init)), \(Int64(peer.refusals)), \(peer.feedAcked.map(Int64.init)),
                \(peer.feedEnd.map(Int64.init)), \(peer.stuckOp?.op.origin.rawValue), \(peer.stuckOp.map { Int64($0.op.seq) }),
                \(peer.stuckOp?.reason), \(peer.stuckOp.map { Int64($0.since) }))
            ON CONFLICT (node_id) DO UPDATE SET
                role = excluded.role, address = excluded.address, state = excluded.state, state_since = excluded.state_since,
                last_sync_at = excluded.last_sync_at, sent_vector = excluded.sent_vector, acked_vector = excluded.acked_vector,
                last_error = excluded.last_error, last_error_at = excluded.last_error_at, refusals = excluded.refusals,
                feed_acked = excluded.feed_acked, feed_end = excluded.feed_end, stuck_origin = excluded.stuck_origin,
                stuck_seq = excluded.stuck_seq, stuck_reason = excluded.stuck_reason, stuck_since = excluded.stuck_since
            """, logger: logger)
    }

    /// Vectors are kept as the SQLite store keeps them: sorted-key JSON.
    private static func encodeVector(_ vector: VersionVector) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(vector), as: UTF8.self)
    }

    private static func decodeVector(_ text: String) throws -> VersionVector {
        try JSONDecoder().decode(VersionVector.self, from: Data(text.utf8))
    }
}
