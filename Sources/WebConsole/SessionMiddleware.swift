import Foundation
import Hummingbird
import TicketModel
import TicketStore

/// Finds the request's session from its cookie, refuses pages to a browser that is not logged
/// in, and refuses every state-changing request whose CSRF token is not its session's.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = ConsoleContext
    let store: NodeStore
    let pages: Pages

    /// Paths a browser may ask for before logging in.
    static let publicPaths: Set<String> = ["/login", "/favicon.ico", "/static/console.css", "/static/console.js"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let token = request.cookies[SessionCookie.name]?.value, let session = try await store.session(token) {
            context.session = session
            context.sessionToken = token
        }
        guard context.session != nil || Self.publicPaths.contains(request.uri.path) else {
            guard request.method == .get else {
                return pages.render(
                    "message", title: Strings.table(context.language)["sessionExpired"]!,
                    values: ["message": Strings.table(context.language)["sessionExpired"]!, "login": true], context: context,
                    status: .unauthorized)
            }
            return Response.redirect(to: "/login", type: .normal)
        }
        return try await next(request, context)
    }
}

/// The session cookie: only for this node's pages, never readable by scripts, never sent with a
/// request from another site, and only over HTTPS when the console is served so.
enum SessionCookie {
    static let name = "bd_session"
    static let loginName = "bd_login"

    static func cookie(_ name: String, _ value: String, secure: Bool, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }
}

/// Cross-site request forgery: every form carries its session's random token, compared in
/// constant time (the libraries have none). A form from another site cannot know it.
enum CSRF {
    static let field = "_csrf"

    static func matches(_ given: String?, _ expected: String) -> Bool {
        guard let given, !expected.isEmpty else { return false }
        let (a, b) = (Array(given.utf8), Array(expected.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
