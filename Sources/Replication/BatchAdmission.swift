import TicketModel

/// Which ops of a remote batch a replica applies now, and why it leaves the others.
///
/// Gaps are *refused, not held*: an op whose origin has a missing seq before it is left out and
/// will be sent again, because senders always stream from the receiver's version vector. The
/// vector therefore stays the only replication state, and a lost batch can never strand ops.
public struct BatchAdmission: Sendable, Equatable {
    /// The ops to apply, in `(origin, seq)` order, each the next seq of its origin.
    public var accepted: [Op] = []
    /// Ops already applied (at or below the vector, or repeated in the batch).
    public var duplicates = 0
    /// Ops after a gap in their origin's seqs; they come again once the gap is filled.
    public var deferred: [OpID] = []
    /// Ops whose physical time is too far ahead of this node's clock, with later ops of that origin.
    public var refused: [ClockSkewRefusal] = []

    /// Where a batch from HQ's feed (SYNC.md §5.5) holds a branch's ops: of every origin but the
    /// branch's own, the feed carries only the ops of the branch's tickets, so their seqs have
    /// gaps by design; they are told apart from held ones by id.
    public struct Feed: Sendable, Equatable {
        /// The receiving branch: its own ops must still follow each other.
        public var own: NodeID
        /// The ops of the batch the receiver already holds.
        public var held: Set<OpID>

        public init(own: NodeID, held: Set<OpID>) {
            self.own = own
            self.held = held
        }
    }

    /// Sorts the batch into accepted, duplicate, deferred and refused ops.
    public init(batch: [Op], vector: VersionVector, clock: HybridLogicalClock, wallMillis: UInt64, feed: Feed? = nil) {
        var next: [NodeID: UInt64] = [:]
        var blocked: Set<NodeID> = []
        var seen: Set<OpID> = []
        for op in batch.sorted(by: { $0.id < $1.id }) {
            let origin = op.id.origin
            let duplicate: Bool
            let followsGap: Bool
            if let feed, origin != feed.own {
                duplicate = feed.held.contains(op.id) || !seen.insert(op.id).inserted
                followsGap = false
            } else {
                let expected = next[origin] ?? vector[origin] + 1
                duplicate = op.id.seq < expected
                followsGap = op.id.seq > expected
            }
            if duplicate {
                duplicates += 1
            } else if blocked.contains(origin) || followsGap {
                deferred.append(op.id)
            } else if let refusal = clock.check(op.hlc, origin: origin, seq: op.id.seq, wallMillis: wallMillis) {
                refused.append(refusal)
                blocked.insert(origin)
            } else {
                accepted.append(op)
                next[origin] = op.id.seq + 1
            }
        }
    }
}
