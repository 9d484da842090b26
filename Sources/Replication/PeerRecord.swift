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
    /// At HQ, of a branch reading its feed (SYNC.md §5.5): the entries it acknowledged holding.
    public var feedAcked: UInt64?
    /// At a branch reading HQ's feed: how many entries the feed had when HQ last said.
    public var feedEnd: UInt64?
    /// An op the peer refuses for good (`OP_REJECTED`, SYNC.md §6.2): every session stops at
    /// it until its origin withdraws it.
    public var stuckOp: StuckOp?

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

/// An op a peer refused for good, as the node that sent it recorded the refusal.
public struct StuckOp: Sendable, Equatable, Encodable {
    public var op: OpID
    /// The peer's reason: the field and the rule the op breaks.
    public var reason: String
    /// Unix milliseconds of the first refusal of this op.
    public var since: UInt64

    public init(op: OpID, reason: String, since: UInt64) {
        self.op = op
        self.reason = reason
        self.since = since
    }

    /// What the admin of `node` does about it (SYNC.md §6.2): withdraw it there when it is that
    /// node's own op, else have its origin withdraw it or upgrade the node whose rules are older.
    public func wayOut(at node: NodeID) -> String {
        op.origin == node
            ? "withdraw it with 'branchdesk withdraw-op \(op)'"
            : "\(op.origin) must withdraw it, or this node's software be upgraded"
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
