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

    /// Sorts the batch into accepted, duplicate, deferred and refused ops.
    public init(batch: [Op], vector: VersionVector, clock: HybridLogicalClock, wallMillis: UInt64) {
        var next: [NodeID: UInt64] = [:]
        var blocked: Set<NodeID> = []
        for op in batch.sorted(by: { $0.id < $1.id }) {
            let origin = op.id.origin
            let expected = next[origin] ?? vector[origin] + 1
            if op.id.seq < expected {
                duplicates += 1
            } else if blocked.contains(origin) || op.id.seq > expected {
                deferred.append(op.id)
            } else if let refusal = clock.check(op.hlc, origin: origin, seq: op.id.seq, wallMillis: wallMillis) {
                refused.append(refusal)
                blocked.insert(origin)
            } else {
                accepted.append(op)
                next[origin] = expected + 1
            }
        }
    }
}
