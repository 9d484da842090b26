import TicketModel

/// For each origin, the highest seq applied contiguously from 1.
///
/// What a peer lacks is every op above its vector; an op at or below the vector is a duplicate.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
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

    /// Raises each origin to at least `other`'s seq: what a peer holds after it showed us `other`.
    public mutating func formMaximum(with other: VersionVector) {
        seqs.merge(other.seqs.filter { $0.value > 0 }, uniquingKeysWith: max)
    }

    /// The vector of `origins` only.
    public func restricted(to origins: Set<NodeID>) -> VersionVector {
        VersionVector(seqs.filter { origins.contains($0.key) })
    }

    /// The total number of ops the vector covers.
    public var total: UInt64 { seqs.values.reduce(0, +) }

    public var description: String {
        seqs.isEmpty ? "{}" : "{" + seqs.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ", ") + "}"
    }
}

/// Coded as a JSON object `{"origin": seq}`, sorted by origin under sorted-key encoders.
extension VersionVector: Codable {
    public init(from decoder: any Decoder) throws {
        let object = try decoder.singleValueContainer().decode([String: UInt64].self)
        var seqs: [NodeID: UInt64] = [:]
        for (origin, seq) in object { seqs[try NodeID(origin)] = seq }
        self.init(seqs)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: seqs.map { ($0.key.rawValue, $0.value) }))
    }
}
