import Foundation
import Hummingbird
import Mustache
import TicketModel
import TicketStore

/// The console's pages: Mustache templates shipped with the binary, each rendered inside the
/// layout, with the string table of the page's language. Mustache escapes every `{{value}}`, so
/// whatever a person typed anywhere is shown as text.
struct Pages: Sendable {
    let library: MustacheLibrary

    /// The templates of the `Templates` resource folder.
    static func load() async throws -> Pages {
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent("Templates").path else {
            throw ConsoleError(.internalServerError, "the console's templates are missing from this build")
        }
        return Pages(library: try await MustacheLibrary(directory: folder))
    }

    /// `template` filled with `values`, in the layout, as an HTML response.
    func render(
        _ template: String, title: String, values: [String: Any], context: ConsoleContext, status: HTTPResponse.Status = .ok
    ) -> Response {
        var values = values
        let strings = Strings.table(context.language)
        values["t"] = strings
        values["csrf"] = context.session?.csrfToken ?? ""
        var page: [String: Any] = [
            "t": strings, "lang": context.language == .chinese ? "zh-CN" : "en", "title": title, "csrf": values["csrf"]!,
        ]
        // A live page names its event stream and what to do on a change (`console.js`).
        for key in ["live", "liveMode", "refreshSeconds"] where values[key] != nil { page[key] = values[key] }
        // Only a logged-in page has an account: an absent key, not an empty optional, hides the section.
        if let session = context.session {
            values["account"] = ["name": session.account.name, "role": strings["role.\(session.account.role.rawValue)"] ?? session.account.role.rawValue]
            page["account"] = values["account"]
        }
        page["body"] = library.render(values, withTemplate: template) ?? ""
        let body = page["body"] as? String ?? ""
        return Self.html(library.render(page, withTemplate: "layout") ?? body, status: status)
    }

    /// An HTML response with the headers every page carries: no script or style from anywhere
    /// but this node, no framing, no caching of customers' data.
    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        headers[.init("Referrer-Policy")!] = "same-origin"
        headers[.init("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// A request the console refuses: the status and what the page says (in the page's language
/// where the message is a label of the string table).
struct ConsoleError: Error {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}
