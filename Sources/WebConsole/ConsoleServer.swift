import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import TicketModel
import TicketStore

/// The web console of one node, served from its own replica (DESIGN §7): a branch's clerks work
/// in it with HQ unreachable; HQ's shows every branch.
public struct ConsoleServer: Sendable {
    let store: NodeStore
    let pages: Pages
    let throttle = LoginThrottle()
    /// Whether the console is served over HTTPS, so that its cookies are marked `Secure`.
    let secure: Bool
    /// Wake-ups when ops are committed here (the node's change feed), for live pages.
    let changes: @Sendable () -> AsyncStream<Void>

    /// A console of `store`; `changes` gives a stream that yields whenever ops are committed.
    public init(store: NodeStore, secure: Bool = false, changes: @escaping @Sendable () -> AsyncStream<Void>) async throws {
        self.store = store
        self.secure = secure
        self.changes = changes
        pages = try await Pages.load()
    }

    /// The console as a service, listening on `host:port`, for the node's ServiceGroup: over HTTPS
    /// when given a TLS configuration, else plain HTTP.
    public func application(host: String, port: Int, tls: TLSConfiguration? = nil, logger: Logger) throws -> some ApplicationProtocol {
        Application(
            router: router(), server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "branchdesk"), logger: logger)
    }

    /// Every route of the console.
    public func router() -> Router<ConsoleContext> {
        let router = Router(context: ConsoleContext.self)
        // Errors become pages twice over: inside the session, so that a refused request's page
        // keeps the logged-in header, and outside it, for what the session layer itself throws.
        router.add(middleware: ErrorPageMiddleware(pages: pages))
        router.add(middleware: SessionMiddleware(store: store, pages: pages))
        router.add(middleware: ErrorPageMiddleware(pages: pages))
        addStatic(to: router)
        addLogin(to: router)
        addQueue(to: router)
        addTicket(to: router)
        addIntake(to: router)
        addSearch(to: router)
        addDashboard(to: router)
        addReport(to: router)
        addLiveUpdates(to: router)
        addReplication(to: router)
        addSettings(to: router)
        return router
    }

    private func addStatic(to router: Router<ConsoleContext>) {
        // No icon: said plainly, so that browsers stop asking (and are not sent to the login page).
        router.get("/favicon.ico") { _, _ in Response(status: .noContent) }
        for (name, type) in [("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8")] {
            let data = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Static").flatMap { try? Data(contentsOf: $0) } ?? Data()
            router.get("/static/\(name)") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: type, .cacheControl: "max-age=3600"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }

    /// The form fields of a POST, read up to the console's limit (a larger body is refused before it is read whole).
    static func form(_ request: Request, context: ConsoleContext) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: ConsoleContext.maxBody)
        let text = String(buffer: buffer)
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// The form of a state-changing request, once its CSRF token is the session's.
    static func checkedForm(_ request: Request, context: ConsoleContext) async throws -> [String: String] {
        let fields = try await form(request, context: context)
        guard let session = context.session, CSRF.matches(fields[CSRF.field], session.csrfToken) else {
            throw ConsoleError(.forbidden, Strings.table(context.language)["csrfFailed"]!)
        }
        return fields
    }
}

/// Turns what a route throws into a page that says what is wrong, with the matching status:
/// nothing a refused request asked for was written.
struct ErrorPageMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let pages: Pages

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.language = Language(acceptLanguage: request.headers[.acceptLanguage])
        do {
            return try await next(request, context)
        } catch let error as ConsoleError {
            return page(error.status, error.message, context)
        } catch let error as DomainError {
            return page(.unprocessableContent, error.message, context)
        } catch let error as StoreError where error.code == .unknownTicket {
            // The store's message points to the CLI; a person at the console is pointed to its pages.
            return page(.notFound, Strings.table(context.language)["ticketNotFound"]!, context)
        } catch let error as StoreError where error.code == .ambiguousTicket {
            return page(.notFound, error.message, context)
        } catch let error as HTTPError {
            return page(error.status, error.body ?? error.status.reasonPhrase, context)
        }
    }

    private func page(_ status: HTTPResponse.Status, _ message: String, _ context: Context) -> Response {
        pages.render("message", title: message, values: ["message": message], context: context, status: status)
    }
}
