import Replication
import TicketModel
import WireForms

/// A reading of the session's clock, injected into every event of `SessionStateMachine`.
public struct SessionTime: Sendable, Equatable {
    /// A monotonic reading: only differences between two readings mean anything (timers).
    public var monotonic: Duration
    /// Unix milliseconds, for the peer record that an admin reads.
    public var wallMillis: UInt64

    public init(monotonic: Duration, wallMillis: UInt64) {
        self.monotonic = monotonic
        self.wallMillis = wallMillis
    }
}

/// What the shell carries out for the state machine. Actions that ask for a result (`admit`,
/// `readOps`, `checkRevocation`) are answered by the matching event method before any other
/// event is given to the machine. An `apply` runs beside the session, which goes on reading
/// frames meanwhile (that is how a receiver sees a sender over the window): its answer is an
/// event of its own, and the machine asks for at most one apply at a time.
public enum SessionAction: Sendable, Equatable {
    /// Write a frame to the peer.
    case send(WireFrame.OneOf_Body)
    /// Read what deciding on this identified peer needs; answer with `admitted(_:now:)`.
    case admit(AdmissionRequest)
    /// The peer holds more of this node's own ops than it does (a restore): refuse local edits
    /// until they are back.
    case beginRecovery(untilSeq: UInt64)
    /// Read the ops the peer lacks; answer with `opsRead(_:now:)`.
    case readOps(OpsRequest)
    /// Apply the peer's batch in one transaction (from HQ's feed: storing the place it reaches);
    /// answer with `applied(_:now:)` or `applyRefused(_:now:)`.
    case apply([Op], PeerGrant, feed: FeedCursor?)
    /// Ops were newly applied: wake the node's other sessions.
    case notifyChange
    /// Ask whether the peer's certificate was revoked meanwhile; answer with `revocationChecked(_:now:)`.
    case checkRevocation(serial: String)
    /// Write the peer's record for `status`.
    case record(PeerRecord)
    /// Count a refusal against a peer whose stored record the machine has not read: the shell
    /// reads it (or starts one), sets it refused with `message`, and writes it back.
    case recordRefusal(CertificateIdentity, address: String, message: String, at: UInt64)
    /// Log a line. Messages are constant; what varies is in the metadata.
    case log(SessionLog)
    /// The round is over (a one-off session): close the connection, report the summary.
    case finish(SyncSummary)
    /// The session failed: close the connection and report the error.
    case fail(SyncError)
    /// The node is shutting down and the peer was told: close the connection.
    case stopForShutdown
}

/// What the machine needs read before it admits an identified peer.
public struct AdmissionRequest: Sendable, Equatable {
    public var peer: CertificateIdentity
    /// Set when this node (HQ) relays to the peer (a branch) only its replica scope (version 2).
    public var scopeOf: NodeID?
    /// Set when this node (HQ) sends the peer (a branch) its feed: open it (version 3).
    public var feedOf: NodeID?
    /// Set when this node (a branch) reads HQ's feed with this epoch: adopt it (version 3).
    public var adoptFeed: String?

    public init(peer: CertificateIdentity, scopeOf: NodeID?, feedOf: NodeID? = nil, adoptFeed: String? = nil) {
        self.peer = peer
        self.scopeOf = scopeOf
        self.feedOf = feedOf
        self.adoptFeed = adoptFeed
    }
}

/// The answer to an `AdmissionRequest`.
public struct PeerFacts: Sendable, Equatable {
    /// This node's vector now.
    public var localVector: VersionVector
    /// The peer's replica scope, when asked for.
    public var scope: Set<NodeID>?
    /// The peer's stored record, if it has one.
    public var record: PeerRecord?
    /// Whether the peer's certificate was revoked.
    public var revoked: Bool
    /// Why the server cannot take another session of this peer now (its session limit), if so.
    public var overLimit: String?
    /// HQ: the branch's feed as opened (its epoch and end); a branch: its place in HQ's feed.
    public var feed: FeedCursor?

    public init(
        localVector: VersionVector, scope: Set<NodeID>? = nil, record: PeerRecord? = nil, revoked: Bool = false,
        overLimit: String? = nil, feed: FeedCursor? = nil
    ) {
        self.localVector = localVector
        self.scope = scope
        self.feed = feed
        self.record = record
        self.revoked = revoked
        self.overLimit = overLimit
    }
}

/// Which ops the peer lacks, for a `readOps` action.
public struct OpsRequest: Sendable, Equatable {
    public enum Origins: Sendable, Equatable {
        case all
        case only(Set<NodeID>)
        /// The replica scope of this peer, read anew for this batch (a transfer may widen it).
        case scopeOf(NodeID)
        /// The branch's own ops above the cursor, then its feed's entries after the position.
        case feed(NodeID, after: UInt64)
    }

    /// The peer's vector as this session has fed it.
    public var after: VersionVector
    public var origins: Origins
    public var limit: Int
    public var maxBytes: Int

    public init(after: VersionVector, origins: Origins, limit: Int, maxBytes: Int) {
        self.after = after
        self.origins = origins
        self.limit = limit
        self.maxBytes = maxBytes
    }
}

/// A log line of the session.
public struct SessionLog: Sendable, Equatable {
    public enum Level: Sendable, Equatable { case debug, info, warning }

    public var level: Level
    public var message: String
    public var metadata: [String: String]

    public init(_ level: Level, _ message: String, _ metadata: [String: String] = [:]) {
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}

/// What one finished sync round did.
public struct SyncSummary: Sendable, Equatable {
    /// Who the peer's certificate says it is.
    public let peer: CertificateIdentity
    public let opsSent: Int
    public let opsReceived: Int
    /// This node's vector at the end of the round.
    public let vector: VersionVector

    public init(peer: CertificateIdentity, opsSent: Int, opsReceived: Int, vector: VersionVector) {
        self.peer = peer
        self.opsSent = opsSent
        self.opsReceived = opsReceived
        self.vector = vector
    }
}

/// How far a round has got: ops sent and newly applied so far, beside what each side lacked
/// when the session began (ops committed during the round may push the counts past them).
public struct SyncProgress: Sendable, Equatable {
    public let opsSent: Int
    public let opsReceived: Int
    public let opsToSend: Int
    public let opsToReceive: Int

    public init(opsSent: Int, opsReceived: Int, opsToSend: Int, opsToReceive: Int) {
        self.opsSent = opsSent
        self.opsReceived = opsReceived
        self.opsToSend = opsToSend
        self.opsToReceive = opsToReceive
    }
}
