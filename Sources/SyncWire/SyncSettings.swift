import Replication
import WireForms

/// The protocol versions this build speaks. The protocol version is independent of the package
/// version: it changes only when the wire contract in `Protocol/SYNC.md` changes (§10 lists them).
public enum SyncProtocol {
    public static let versions: ClosedRange<UInt32> = 2...3
    /// The first version in which HQ replicates to a branch by ticket, through a feed (SYNC.md §5.5).
    public static let feedVersion: UInt32 = 3
    /// Sent in the hello, for the peer's logs only.
    public static let software = "branchdesk 0.5.0"
    /// The most ops one batch may hold (SYNC.md §4): a receiver refuses a larger batch.
    public static let maxBatchOps = Op.maxBatchCount
    /// The most batches a sender may have unacknowledged (SYNC.md §5.2): a receiver refuses a
    /// batch that arrives while this many of the peer's are unacknowledged.
    public static let window = 4
}

/// The tunables of sync sessions. The defaults suit a branch network over WAN links.
public struct SyncSettings: Sendable {
    /// The protocol versions this node offers; narrower than `SyncProtocol.versions` only to
    /// speak as an older build would (the upgrade tests).
    public var versions = SyncProtocol.versions
    /// Ops per batch; the receiver refuses batches above `SyncProtocol.maxBatchOps`.
    public var batchOps = 500
    /// Batches this node sends before it waits for an ack (backpressure): at most
    /// `SyncProtocol.window`, which receivers enforce.
    public var window = SyncProtocol.window
    /// A heartbeat is sent when nothing else was sent for this long.
    public var heartbeatInterval: Duration = .seconds(5)
    /// The link is declared dead when nothing was heard for this long.
    public var deadAfter: Duration = .seconds(20)
    /// A peer must complete its hello within this long after connecting.
    public var handshakeTimeout: Duration = .seconds(10)
    /// The largest frame accepted, checked on the length prefix before the frame is buffered.
    public var maxFrameBytes = SyncFraming.defaultMaxFrameBytes
    /// How long a dialler waits to connect before it gives up on one attempt.
    public var connectTimeout: Duration = .seconds(5)
    /// The dialler's reconnect delays.
    public var backoff = Backoff()
    /// The most connections a server holds at once; more are closed as they arrive.
    public var maxConnections = 2_048
    /// The most sessions a server holds with one node at once (a redialling branch may briefly
    /// have its old, not yet dead, session beside the new one).
    public var maxSessionsPerPeer = 2
    /// How long a listener's live tail (HQ's) gathers newly committed ops before it relays them:
    /// with many branches each editing, every branch then gets one batch per interval instead of
    /// one transaction per op anywhere in the company. A dialler (a branch) pushes at once.
    public var relayInterval: Duration = .milliseconds(100)

    public init() {}

    /// The longest a session sleeps between timer checks: deadlines are met exactly
    /// (`SessionStateMachine.nextDeadline`); this bounds the wait when one moved earlier meanwhile.
    public var longestTimerWait: Duration { .seconds(1) }
}

/// Exponential backoff with full jitter: attempt n waits a uniformly random time in
/// [0, min(maximum, initial · 2ⁿ)], so branches cut off together do not all redial together.
public struct Backoff: Sendable {
    public var initial: Duration = .milliseconds(250)
    public var maximum: Duration = .seconds(30)
    private var attempt = 0

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt.
    public mutating func next(using random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = min(maximum, initial * (1 << min(attempt, 30)))
        attempt += 1
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds), using: &random))
    }

    /// Starts over after a session that reached its peer.
    public mutating func reset() { attempt = 0 }
}

/// A `HOST:PORT` address; IPv6 hosts are written in brackets (`[::1]:7420`).
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public static let defaultPort = 7420
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, or returns nil when it is not one.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
