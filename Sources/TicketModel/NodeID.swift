/// The identity of a node, e.g. `hq` or `sh-pudong-012`.
///
/// Bound to the node's TLS certificate once sync exists; here it is validated so that it can
/// safely appear in ticket numbers, file names and log metadata.
public struct NodeID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The validated text of the id.
    public let rawValue: String

    /// Validates `rawValue` against `[a-z0-9][a-z0-9-]{0,62}`.
    public init(_ rawValue: String) throws(DomainError) {
        guard NodeID.isValid(rawValue) else {
            throw DomainError(
                "invalid node id '\(rawValue)': use 1 to 63 lowercase letters, digits or '-', starting with a letter or digit (e.g. sh-pudong-012)"
            )
        }
        self.rawValue = rawValue
    }

    /// An id the code itself names, known to be well formed.
    init(reserved rawValue: String) {
        precondition(NodeID.isValid(rawValue), "reserved node id '\(rawValue)' is malformed")
        self.rawValue = rawValue
    }

    /// Whether `text` is a well-formed node id.
    public static func isValid(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard (1...63).contains(scalars.count), let first = scalars.first else { return false }
        func isLowerAlnum(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("0"..."9").contains(s) }
        return isLowerAlnum(first) && scalars.allSatisfy { isLowerAlnum($0) || $0 == "-" }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a node is for: headquarters sees and may act on every ticket; a branch handles its own.
public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case hq
    case branch
}
