import TicketModel

/// What the sync layer needs from a replica: the contract every store keeps (SQLite at every
/// node, PostgreSQL behind HQ's gateways). The sync layer knows nothing else of a store.
///
/// The promises, which `ReplicaStoreContract` (TestSupport) checks for every implementation:
/// - `apply` commits a batch whole or not at all, in one transaction, and returns only after the
///   commit: a sync acknowledgement built from its outcome follows the receiver's commit.
/// - Applying an op twice is a no-op; ops of different origins may arrive in any order; an op after
///   a gap in its origin's seqs is deferred, never applied, so the vector only advances contiguously.
/// - `opsMissing` returns at least one op whenever the peer lacks one (of the origins asked for),
///   in `(origin, seq)` order, so a sender streaming from the peer's vector always makes progress.
/// - A peer's record reads back as it was written.
public protocol ReplicaStore: Sendable {
    /// Who this node is.
    var identity: NodeIdentity { get }

    /// The highest seq applied contiguously, per origin.
    func versionVector() async throws -> VersionVector

    /// The next at most `limit` ops that a peer whose vector is `peer` lacks, in `(origin, seq)`
    /// order, of `origins` only (all when nil), stopping before their stored size passes
    /// `maxBytes` — but at least one op whenever the peer lacks any.
    func opsMissing(by peer: VersionVector, limit: Int, origins: Set<NodeID>?, maxBytes: Int) async throws -> [Op]

    /// Applies a batch of remote ops in one transaction; with `grant`, every op must be within the
    /// sending peer's rights, else the whole batch is refused with an `AuthorisationRefusal`. With
    /// `feed`, the batch comes from HQ's feed for this branch: its place in the feed is stored with
    /// the batch (SYNC.md §5.5).
    func apply(_ batch: [Op], from grant: PeerGrant?, feed: FeedCursor?) async throws -> BatchOutcome

    /// The origins whose ops HQ relays to `node` over protocol version 2 (SYNC.md §5.5).
    func replicationScope(for node: NodeID) async throws -> Set<NodeID>

    /// HQ: the feed of `branch` — its epoch and last position — built from the log the first time.
    func openFeed(for branch: NodeID) async throws -> FeedCursor

    /// HQ: the next ops for `branch`: its own above `ownAfter`, then its feed's entries after
    /// `position`; at most `limit`, and within `maxBytes` but for the first.
    func feedOps(for branch: NodeID, ownAfter: UInt64, after position: UInt64, limit: Int, maxBytes: Int) async throws -> FeedRead

    /// A branch: its place in HQ's feed, nil before its first version-3 session.
    func feedCursor() async throws -> FeedCursor?

    /// A branch: starts reading HQ's feed `epoch` (from 0 if it is new to it); the first time,
    /// removes the tickets it never handled. Returns where to read from.
    func adoptFeed(epoch: String) async throws -> FeedCursor

    /// Every peer this node has exchanged a session with, by node id.
    func peers() async throws -> [PeerRecord]

    /// Inserts or replaces the record of one peer.
    func record(_ peer: PeerRecord) async throws

    /// Whether the certificate with this serial (lowercase hex) was revoked.
    func isRevoked(serial: String) async throws -> Bool

    /// A peer holds this node's own ops up to `seq`, more than this node does (it was restored from
    /// a backup): refuse local edits until they are back. Returns the seq this node holds.
    @discardableResult
    func beginRecovery(untilSeq seq: UInt64) async throws -> UInt64

    /// A number that grows whenever an op is committed, by any process: the change feed polls it.
    func opCount() async throws -> UInt64
}

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
    /// A branch's place in HQ's feed after the batch, when it reads one.
    public var feed: FeedCursor?

    public init(
        applied: Int, duplicates: Int, deferred: [OpID], refused: [ClockSkewRefusal], vector: VersionVector, feed: FeedCursor? = nil
    ) {
        self.applied = applied
        self.duplicates = duplicates
        self.deferred = deferred
        self.refused = refused
        self.vector = vector
        self.feed = feed
    }
}

extension ReplicaStore {
    /// Applies a batch that comes from no feed (SYNC.md §5.2).
    public func apply(_ batch: [Op], from grant: PeerGrant? = nil) async throws -> BatchOutcome {
        try await apply(batch, from: grant, feed: nil)
    }

    /// Counts a refused session against `node` (starting its record if it has none) and marks it
    /// refused with `message`, so that `status` shows why on this side.
    public func recordRefusal(of node: NodeID, role: NodeRole, address: String?, message: String, at millis: UInt64) async throws {
        var record = try await peers().first { $0.nodeID == node }
            ?? PeerRecord(nodeID: node, role: role, address: address, state: .refused, stateSince: millis)
        record.address = record.address ?? address
        record.state = .refused
        record.stateSince = millis
        record.refusals += 1
        record.lastError = message
        record.lastErrorAt = millis
        try await self.record(record)
    }
}
