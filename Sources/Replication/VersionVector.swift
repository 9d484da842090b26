import TicketModel

/// For each origin, the highest seq applied contiguously from 1.
///
/// What a peer lacks is every op above its vector; an op at or below the vector is a duplicate.
public struct VersionVector: Hashable, Codable, Sendable, CustomStringConvertible {
    public private(set) var seqs: [NodeID: UInt64]

    public init(_ seqs: [NodeID: UInt64] = [:]) {
        self.seqs = seqs.filter { $0.value > 0 }
    }

    public subscript(origin: NodeID) -> UInt64 { seqs[origin] ?? 0 }

    /// Whether the op has been applied.
    public func contains(_ id: OpID) -> Bool { id.seq <= self[id.origin] }

    /// Records that `id` was applied; only the next seq of its origin may be recorded.
    public mutating func advance(to id: OpID) {
        precondition(id.seq == self[id.origin] + 1, "vector \(self) cannot advance to \(id): seqs must be contiguous")
        seqs[id.origin] = id.seq
    }

    /// The total number of ops the vector covers.
    public var total: UInt64 { seqs.values.reduce(0, +) }

    public var description: String {
        seqs.isEmpty ? "{}" : "{" + seqs.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ") + "}"
    }
}
