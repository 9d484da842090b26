

/// Why a node cannot be served or set up as asked. The message says what is wrong and what to do.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// Another process serves this data directory.
        case alreadyServed
        /// The address to listen on is taken by another process.
        case addressInUse
        /// Configured to neither listen nor dial.
        case nothingToServe
        /// A file the configuration names cannot be used (the console's HTTPS certificate or key).
        case badConfiguration
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
