import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A browser for in-process tests: keeps its cookies, and fills each form's CSRF token from the
/// last page it read, as a real browser submitting that page's form would.
final class Browser: @unchecked Sendable {
    let client: any TestClientProtocol
    var cookies: [String: String] = [:]
    var language = "zh-CN,zh;q=0.9"
    private(set) var lastPage = ""

    init(_ client: any TestClientProtocol) {
        self.client = client
    }

    struct Page {
        let status: HTTPResponse.Status
        let html: String
        let location: String?
    }

    @discardableResult
    func get(_ path: String) async throws -> Page {
        try await send(path, method: .get, body: nil)
    }

    /// Posts `fields` as a form, with the CSRF token of the last page read unless `csrf` says otherwise.
    @discardableResult
    func post(_ path: String, _ fields: [String: String], csrf: String? = nil) async throws -> Page {
        var fields = fields
        if fields["_csrf"] == nil { fields["_csrf"] = csrf ?? token(in: lastPage) }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = fields.sorted { $0.key < $1.key }.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed)!)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }.joined(separator: "&")
        return try await send(path, method: .post, body: ByteBuffer(string: body))
    }

    /// Logs in as `name`.
    func logIn(_ name: String, _ password: String) async throws -> Page {
        try await get("/login")
        return try await post("/login", ["name": name, "password": password])
    }

    /// The hidden `_csrf` value of `html`'s first form.
    func token(in html: String) -> String {
        guard let range = html.range(of: #"name="_csrf" value=""#) else { return "" }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    /// The headers this browser sends: its language and cookies.
    func headers() -> HTTPFields {
        var headers: HTTPFields = [.acceptLanguage: language]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        return headers
    }

    private func send(_ path: String, method: HTTPRequest.Method, body: ByteBuffer?) async throws -> Page {
        var headers = headers()
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            if pair[1].isEmpty || header.contains("Max-Age=0") { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair[1] }
        }
        let html = String(buffer: response.body)
        if method == .get { lastPage = html }
        return Page(status: response.status, html: html, location: response.headers[.location])
    }
}
