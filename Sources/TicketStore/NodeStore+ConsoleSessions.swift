import Crypto
import Foundation
import GRDB
import Replication
import TicketModel

/// A browser logged in to this node's console as `account`.
public struct ConsoleSession: Sendable, Equatable {
    public let account: Account
    /// The token every form of this session carries (`WebConsole.CSRF`).
    public let csrfToken: String
    public let createdAt: Date
    public let lastSeenAt: Date
}

extension NodeStore {
    /// How long a session lasts without a request, and at most.
    public static let sessionIdle: TimeInterval = 8 * 3600
    public static let sessionLifetime: TimeInterval = 7 * 86_400

    /// Starts a session for `account`: returns the token for the cookie (only its hash is kept).
    public func openSession(for account: Account) async throws -> (token: String, session: ConsoleSession) {
        let token = Self.randomToken()
        let csrf = Self.randomToken()
        let now = Int64(clock.nowMillis())
        let session = try await write { db in
            try db.execute(
                sql: "INSERT INTO consoleSession (tokenHash, account, csrfToken, createdAt, lastSeenAt) VALUES (?, ?, ?, ?, ?)",
                arguments: [Self.tokenHash(token), account.name, csrf, now, now])
            return try Self.session(token, db)
        }
        guard let session else { throw DomainError("the session could not be opened; try to log in again") }
        return (token, session)
    }

    /// The session of `token` if it is live — neither idle nor older than its lifetime, its account
    /// enabled — marked as seen now; nil otherwise (and an expired one is removed).
    public func session(_ token: String) async throws -> ConsoleSession? {
        let now = Int64(clock.nowMillis())
        let idle = Int64(Self.sessionIdle * 1000), lifetime = Int64(Self.sessionLifetime * 1000)
        return try await write { db in
            guard let session = try Self.session(token, db) else { return nil }
            let created = Int64(session.createdAt.timeIntervalSince1970 * 1000), seen = Int64(session.lastSeenAt.timeIntervalSince1970 * 1000)
            guard !session.account.disabled, now - seen <= idle, now - created <= lifetime else {
                try db.execute(sql: "DELETE FROM consoleSession WHERE tokenHash = ?", arguments: [Self.tokenHash(token)])
                return nil
            }
            try db.execute(sql: "UPDATE consoleSession SET lastSeenAt = ? WHERE tokenHash = ?", arguments: [now, Self.tokenHash(token)])
            return try Self.session(token, db)
        }
    }

    /// Ends a session (logging out).
    public func closeSession(_ token: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM consoleSession WHERE tokenHash = ?", arguments: [Self.tokenHash(token)])
        }
    }

    /// Ends every session of `account`: it was disabled or got a new password.
    static func closeSessions(of account: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM consoleSession WHERE account = ?", arguments: [account])
    }

    private static func session(_ token: String, _ db: Database) throws -> ConsoleSession? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM consoleSession WHERE tokenHash = ?", arguments: [tokenHash(token)]),
            let account = try storedAccount(row["account"], db)
        else { return nil }
        return ConsoleSession(
            account: account, csrfToken: row["csrfToken"],
            createdAt: Date(timeIntervalSince1970: Double(row["createdAt"] as Int64) / 1000),
            lastSeenAt: Date(timeIntervalSince1970: Double(row["lastSeenAt"] as Int64) / 1000))
    }

    /// 32 random bytes, base64url: unguessable, and safe in a cookie and a form.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
