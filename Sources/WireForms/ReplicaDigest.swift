import Crypto
import Foundation

/// The canonical SHA-256 of a replica's materialised state, as `branchdesk digest` prints it:
/// every ticket in id order (bytewise) with its stored document, then every entry in
/// `(origin, seq, position)` order with its stored body. Every store feeds it the same way, so
/// two replicas that applied the same ops have the same digest, whatever engine holds them.
public struct ReplicaDigest {
    private var hash = SHA256()

    public init() {}

    /// Adds one ticket: call in id order, before any entry.
    public mutating func addTicket(id: String, document: Data) {
        hash.update(data: Data(id.utf8))
        hash.update(data: document)
    }

    /// Adds one entry: call in `(origin, seq, position)` order, after every ticket.
    public mutating func addEntry(origin: String, seq: Int64, position: Int, ticket: String, body: Data) {
        hash.update(data: Data("\(origin)#\(seq).\(position)@\(ticket)".utf8))
        hash.update(data: body)
    }

    /// The digest in lowercase hex.
    public func finalize() -> String {
        hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
