/// What went wrong with HQ's PostgreSQL database, said so that the operator knows what to do.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The database holds no Branchdesk node yet, or one of another company.
        case notANode
        /// The database was migrated by a newer build.
        case newerSchema
        /// A stored value does not decode.
        case corrupt
        /// A batch holds more ops than one transaction may apply.
        case batchTooLarge
        /// A branch's operation asked of HQ's database (it reads no feed).
        case wrongRole
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
