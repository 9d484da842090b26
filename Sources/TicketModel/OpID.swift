/// Identifies an op: its origin node and its sequence number there (1, 2, 3 … with no gaps).
public struct OpID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let origin: NodeID
    public let seq: UInt64

    public init(origin: NodeID, seq: UInt64) {
        self.origin = origin
        self.seq = seq
    }

    public static func < (lhs: OpID, rhs: OpID) -> Bool { (lhs.origin, lhs.seq) < (rhs.origin, rhs.seq) }

    public var description: String { "\(origin)#\(seq)" }
}
