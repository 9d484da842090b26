import Foundation
import GRDB
import Replication
import TicketModel

/// A certificate this node refuses.
public struct RevokedCertificate: Sendable, Equatable, Encodable {
    /// The serial number, lowercase hex.
    public let serial: String
    public let nodeID: String?
    /// Unix milliseconds.
    public let revokedAt: UInt64
    public let reason: String
}

extension NodeStore {
    /// Adds a certificate serial to this node's revocation list; a running node refuses it at the
    /// next handshake and closes its live sessions within a few seconds.
    public func revokeCertificate(serial: String, nodeID: String?, reason: String) async throws {
        let normalised = serial.lowercased().filter { $0.isHexDigit }
        guard !normalised.isEmpty, normalised.count == serial.filter({ $0 != ":" }).count else {
            throw DomainError("invalid serial '\(serial)': give the hex serial that 'branchdesk certs list' shows")
        }
        let now = clock.nowMillis()
        try await write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO revokedCertificate (serial, nodeID, revokedAt, reason) VALUES (?, ?, ?, ?)",
                arguments: [normalised, nodeID, Int64(now), reason])
        }
    }

    /// The revocation list, oldest first.
    public func revokedCertificates() async throws -> [RevokedCertificate] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM revokedCertificate ORDER BY revokedAt, serial").map {
                RevokedCertificate(
                    serial: $0["serial"], nodeID: $0["nodeID"], revokedAt: UInt64($0["revokedAt"] as Int64), reason: $0["reason"])
            }
        }
    }

    /// Whether the certificate with `serial` is revoked here.
    public func isRevoked(serial: String) async throws -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM revokedCertificate WHERE serial = ?", arguments: [serial.lowercased()]) ?? false
        }
    }
}
