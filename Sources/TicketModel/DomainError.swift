/// A domain rule was broken by input (a bad value, a transition not allowed now).
///
/// The message is written for the person at the keyboard: it says what is wrong and what to do.
public struct DomainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A readable sentence saying what is wrong and what to do.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
