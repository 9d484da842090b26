import TicketModel

/// A hybrid logical clock reading: 48 bits of wall milliseconds and a 16-bit counter.
///
/// Packed into one `UInt64` (`wall << 16 | counter`) so that it sorts as a number in SQLite.
public struct HLCTimestamp: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The packed value.
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(wallMillis: UInt64, counter: UInt16) {
        precondition(wallMillis < 1 << 48, "wall time \(wallMillis) ms does not fit in 48 bits")
        rawValue = wallMillis << 16 | UInt64(counter)
    }

    /// The physical part, Unix milliseconds.
    public var wallMillis: UInt64 { rawValue >> 16 }
    /// The logical part.
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static let zero = HLCTimestamp(rawValue: 0)

    /// The next reading after this one with no newer wall time: counter + 1, carrying into the
    /// milliseconds when the counter is full, so the clock never stalls or wraps.
    public var successor: HLCTimestamp { HLCTimestamp(rawValue: rawValue + 1) }

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "\(wallMillis).\(counter)" }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A source of wall-clock time in Unix milliseconds; injected so tests control time.
public protocol WallClock: Sendable {
    func nowMillis() -> UInt64
}

/// A remote timestamp too far ahead of the local clock: refused so a bad clock cannot win every
/// future conflict.
public struct ClockSkewRefusal: Hashable, Sendable, CustomStringConvertible {
    public let origin: NodeID
    public let seq: UInt64
    /// How far ahead of the local clock the op's physical time is, in milliseconds.
    public let aheadMillis: UInt64
    public let maxSkewMillis: UInt64

    public init(origin: NodeID, seq: UInt64, aheadMillis: UInt64, maxSkewMillis: UInt64) {
        self.origin = origin
        self.seq = seq
        self.aheadMillis = aheadMillis
        self.maxSkewMillis = maxSkewMillis
    }

    public var description: String {
        "op \(origin)#\(seq) is \(aheadMillis / 1000)s ahead of this node's clock (max skew \(maxSkewMillis / 1000)s): "
            + "check the clock of \(origin) (and of this node); the op stays in \(origin)'s log and is retried"
    }
}

/// The hybrid logical clock of a node.
///
/// A pure value: the caller supplies the wall time and persists `last`. Readings never go
/// backwards, whatever the wall clock does, and every reading after `receive` is greater than
/// the received timestamp, so a write that saw another write always carries a greater HLC.
public struct HybridLogicalClock: Sendable, Equatable {
    /// The greatest reading issued or received so far.
    public private(set) var last: HLCTimestamp
    /// How far ahead of the local wall clock a remote reading may be.
    public let maxSkewMillis: UInt64

    /// The default bound on remote clock skew: 5 minutes.
    public static let defaultMaxSkewMillis: UInt64 = 5 * 60 * 1000

    public init(last: HLCTimestamp, maxSkewMillis: UInt64 = HybridLogicalClock.defaultMaxSkewMillis) {
        self.last = last
        self.maxSkewMillis = maxSkewMillis
    }

    /// A new reading for a local event at wall time `wallMillis`.
    public mutating func tick(wallMillis: UInt64) -> HLCTimestamp {
        let physical = HLCTimestamp(wallMillis: wallMillis, counter: 0)
        last = physical > last ? physical : last.successor
        return last
    }

    /// Checks that a remote reading is within the skew bound of `wallMillis`.
    public func check(_ remote: HLCTimestamp, origin: NodeID, seq: UInt64, wallMillis: UInt64) -> ClockSkewRefusal? {
        guard remote.wallMillis > wallMillis, remote.wallMillis - wallMillis > maxSkewMillis else { return nil }
        return ClockSkewRefusal(
            origin: origin, seq: seq, aheadMillis: remote.wallMillis - wallMillis, maxSkewMillis: maxSkewMillis)
    }

    /// Merges a remote reading that passed `check`: later local readings are greater than it.
    public mutating func receive(_ remote: HLCTimestamp) {
        if remote > last { last = remote }
    }
}
