import GRDB
import TicketModel

/// Why the store could not do what was asked. The message says what is wrong and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, for callers that branch on it (and for exit codes).
    public enum Code: Sendable, Equatable {
        case notANode
        case alreadyANode
        case unknownTicket
        case ambiguousTicket
        case locked
        case readOnly
        case diskFull
        case corrupt
        /// Written by a newer build: this one refuses to touch it.
        case newerSchema
        /// Written by an older build, and only to be read: `branchdesk upgrade` migrates it.
        case olderSchema
        /// A file that must be new exists already.
        case fileExists
        case batchTooLarge
        case io
    }

    public let code: Code
    public let message: String
    /// The error that caused this one, if any.
    public let underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { message }

    /// Translates SQLite failures by result code (never by message text) into readable errors.
    public static func translating(_ error: any Error, path: String) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError(
                .locked,
                "the database \(path) is locked by another process; wait for it to finish (or stop it) and try again",
                underlying: error)
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN:
            return StoreError(
                .readOnly,
                "cannot write \(path): the file or its folder is read-only; check permissions or the mount",
                underlying: error)
        case .SQLITE_FULL:
            return StoreError(
                .diskFull, "the disk holding \(path) is full; free some space and try again (nothing was written)",
                underlying: error)
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return StoreError(
                .corrupt, "\(path) is not a readable Branchdesk database (\(error.resultCode)); restore it from a backup",
                underlying: error)
        case .SQLITE_IOERR:
            return StoreError(.io, "disk I/O error on \(path); check the disk and try again", underlying: error)
        default:
            return error
        }
    }
}

/// The ticket id a row of `table` holds; one that does not parse is a damaged database.
func storedTicketID(_ text: String, in table: String) throws -> TicketID {
    guard let id = TicketID(text) else {
        throw StoreError(.corrupt, "the \(table) holds a malformed ticket id; restore the node from a backup")
    }
    return id
}

/// Reads a value in its stored form (`StoredForm`); one that does not decode is a damaged database.
func readStored<T>(_ decode: () throws -> T) throws -> T {
    do {
        return try decode()
    } catch {
        throw StoreError(.corrupt, "the database holds a damaged value (\(error)); restore the node from a backup", underlying: error)
    }
}
