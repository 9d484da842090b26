

/// A protocol violation or unusable frame. It closes the one connection it happened on.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The code sent to the peer in the error frame.
    public let code: Branchdesk_Sync_V1_ErrorCode
    /// A readable reason, for the peer's logs and ours.
    public let message: String

    public init(_ code: Branchdesk_Sync_V1_ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
