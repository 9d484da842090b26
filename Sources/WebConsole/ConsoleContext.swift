import Hummingbird
import NIOCore
import TicketStore

/// What the console knows of one request: where it came from, and who is logged in.
public struct ConsoleContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The session of the request's cookie, once `SessionMiddleware` has found it live.
    var session: ConsoleSession?
    /// The cookie's token, to end the session at logout.
    var sessionToken: String?
    /// The language of the page: the browser's choice among those the string table has.
    var language: Language = .chinese

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Forms are small; the longest text one edit may carry is 256 KiB.
    public var maxUploadSize: Int { Self.maxBody }
    static let maxBody = 300 * 1024
}
