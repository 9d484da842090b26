import Foundation
import GRDB
import HummingbirdBcrypt
import Replication
import TicketModel

/// A person's account on this node: local to it, never replicated (DESIGN §7).
public struct Account: Sendable, Equatable, Encodable {
    /// The login, and the actor on every op the person makes.
    public let name: String
    public let role: AccountRole
    public let disabled: Bool
    /// Until when logins are refused after too many wrong passwords; nil when not locked.
    public let lockedUntil: Date?
    public let createdAt: Date
    public let passwordChangedAt: Date
}

/// Why a login was refused. Wrong names and wrong passwords say the same, so that logins do not
/// tell which accounts exist.
public enum LoginRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongNameOrPassword
    case disabled
    case locked(until: Date)

    public var description: String {
        switch self {
        case .wrongNameOrPassword: "wrong name or password"
        case .disabled: "this account is disabled; ask the node's administrator"
        case .locked(let until): "too many wrong passwords: this account is locked until \(ISO8601DateFormatter().string(from: until))"
        }
    }
}

extension NodeStore {
    /// Wrong passwords in a row after which an account is locked, and for how long.
    public static let loginAttempts = 5
    public static let lockout: TimeInterval = 15 * 60

    /// The bcrypt work factor: about a quarter of a second per password on a small server.
    static let passwordCost: UInt8 = 12

    /// Adds an account; the password is hashed with bcrypt and never stored.
    public func addAccount(_ name: String, role: AccountRole, password: String) async throws -> Account {
        let name = try Self.accountName(name)
        let hash = try await Self.hash(Self.checkedPassword(password))
        let now = Int64(clock.nowMillis())
        return try await write { db in
            guard try Self.accountRow(name, db) == nil else {
                throw DomainError("there is already an account '\(name)' on this node; change its password with 'users passwd \(name)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO account (name, role, passwordHash, disabled, failedLogins, createdAt, passwordChangedAt)
                    VALUES (?, ?, ?, 0, 0, ?, ?)
                    """,
                arguments: [name, role.rawValue, hash, now, now])
            return try Self.account(name, db)
        }
    }

    /// Sets a new password; it also unlocks the account and ends its sessions.
    public func setPassword(of name: String, to password: String) async throws {
        let hash = try await Self.hash(Self.checkedPassword(password))
        let now = Int64(clock.nowMillis())
        try await write { db in
            _ = try Self.account(name, db)
            try db.execute(
                sql: "UPDATE account SET passwordHash = ?, passwordChangedAt = ?, failedLogins = 0, lockedUntil = NULL WHERE name = ?",
                arguments: [hash, now, name])
            try Self.closeSessions(of: name, db)
        }
    }

    /// Disables (or enables again) an account: a disabled account cannot log in, and its sessions end.
    public func setAccount(_ name: String, disabled: Bool) async throws {
        try await write { db in
            _ = try Self.account(name, db)
            try db.execute(sql: "UPDATE account SET disabled = ? WHERE name = ?", arguments: [disabled, name])
            if disabled { try Self.closeSessions(of: name, db) }
        }
    }

    /// Every account, by name.
    public func accounts() async throws -> [Account] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY name").map(Self.account(from:)) }
    }

    /// The account `name` logs in to with `password`, or why not. Wrong passwords are counted:
    /// the `loginAttempts`-th in a row locks the account for `lockout`; a right one resets the count.
    public func logIn(_ name: String, password: String) async throws -> Account {
        let stored = try await read { db in
            try Self.accountRow(name.trimmingWhitespace(), db).map { (Self.account(from: $0), $0["passwordHash"] as String) }
        }
        let now = Int64(clock.nowMillis())
        guard let (account, passwordHash) = stored else {
            // As slow as a real check, so that timing does not tell which names exist.
            _ = await Self.verify(password, hash: Self.unknownAccountHash)
            throw LoginRefusal.wrongNameOrPassword
        }
        if let until = account.lockedUntil, Int64(until.timeIntervalSince1970 * 1000) > now { throw LoginRefusal.locked(until: until) }
        guard await Self.verify(password, hash: passwordHash) else {
            let lockedUntil: Int64? = try await write { db in
                try db.execute(sql: "UPDATE account SET failedLogins = failedLogins + 1 WHERE name = ?", arguments: [account.name])
                let failed = try Int.fetchOne(db, sql: "SELECT failedLogins FROM account WHERE name = ?", arguments: [account.name]) ?? 0
                guard failed >= Self.loginAttempts else { return nil }
                let until = now + Int64(Self.lockout * 1000)
                try db.execute(sql: "UPDATE account SET failedLogins = 0, lockedUntil = ? WHERE name = ?", arguments: [until, account.name])
                return until
            }
            if let lockedUntil { throw LoginRefusal.locked(until: Date(timeIntervalSince1970: Double(lockedUntil) / 1000)) }
            throw LoginRefusal.wrongNameOrPassword
        }
        guard !account.disabled else { throw LoginRefusal.disabled }
        try await write { db in
            try db.execute(sql: "UPDATE account SET failedLogins = 0, lockedUntil = NULL WHERE name = ?", arguments: [account.name])
        }
        return try await read { db in try Self.account(account.name, db) }
    }

    /// A name fit to be a login and an op's actor: 1 to 64 characters, no control characters.
    static func accountName(_ name: String) throws -> String {
        let name = try TypedText.checked(name.trimmingWhitespace(), "the account name", multiLine: false)
        guard (1...64).contains(name.count) else { throw DomainError("an account name has 1 to 64 characters, e.g. 王芳") }
        return name
    }

    /// Bcrypt reads at most 72 bytes; a shorter minimum than 8 characters is guessed in hours.
    static func checkedPassword(_ password: String) throws -> String {
        guard password.count >= 8 else { throw DomainError("the password is too short: use at least 8 characters") }
        guard password.utf8.count <= 72 else {
            throw DomainError("the password is too long: at most 72 bytes (24 Chinese characters, or 72 Latin letters)")
        }
        guard TypedText.forbiddenCharacter(in: password, multiLine: false) == nil else {
            throw DomainError("the password holds a control character: type it again")
        }
        return password
    }

    private static func account(_ name: String, _ db: Database) throws -> Account {
        guard let row = try accountRow(name, db) else {
            throw DomainError("no account '\(name)' on this node; see 'branchdesk users list'")
        }
        return account(from: row)
    }

    /// The account `name`, if there is one.
    static func storedAccount(_ name: String, _ db: Database) throws -> Account? {
        try accountRow(name, db).map(account(from:))
    }

    private static func accountRow(_ name: String, _ db: Database) throws -> Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM account WHERE name = ?", arguments: [name])
    }

    private static func account(from row: Row) -> Account {
        Account(
            name: row["name"], role: AccountRole(rawValue: row["role"]) ?? .clerk, disabled: row["disabled"],
            lockedUntil: (row["lockedUntil"] as Int64?).map { Date(timeIntervalSince1970: Double($0) / 1000) },
            createdAt: Date(timeIntervalSince1970: Double(row["createdAt"] as Int64) / 1000),
            passwordChangedAt: Date(timeIntervalSince1970: Double(row["passwordChangedAt"] as Int64) / 1000))
    }

    /// A hash no password matches in practice, checked for unknown names.
    private static let unknownAccountHash = Bcrypt.hash(UUID().uuidString, cost: passwordCost)

    /// Bcrypt off the cooperative threads: it takes a quarter of a second by design.
    private static func hash(_ password: String) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Bcrypt.hash(password, cost: passwordCost)) }
        }
    }

    private static func verify(_ password: String, hash: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Bcrypt.verify(password, hash: hash)) }
        }
    }
}
