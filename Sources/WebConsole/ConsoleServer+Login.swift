import Foundation
import Hummingbird
import Logging
import TicketModel
import TicketStore

extension ConsoleServer {
    /// Logging in and out. The login form is protected from forgery by a token in its own
    /// cookie (there is no session yet); each address and each account is throttled.
    func addLogin(to router: Router<ConsoleContext>) {
        router.get("/login") { request, context in
            // One token per browser: a second tab (or the favicon's redirect) must not void the first form.
            let token = request.cookies[SessionCookie.loginName]?.value ?? NodeStore.randomToken()
            var response = pages.render("login", title: Strings.table(context.language)["login"]!, values: ["loginToken": token], context: context)
            response.setCookie(SessionCookie.cookie(SessionCookie.loginName, token, secure: secure, maxAge: 3600))
            return response
        }
        router.post("/login") { request, context in
            let fields = try await Self.form(request, context: context)
            let strings = Strings.table(context.language)
            guard CSRF.matches(fields[CSRF.field], request.cookies[SessionCookie.loginName]?.value ?? "") else {
                throw ConsoleError(.forbidden, strings["csrfFailed"]!)
            }
            let address = context.remoteAddress?.ipAddress ?? "unknown"
            let now = Date()
            if let until = await throttle.waitUntil(for: address, now: now) {
                return loginPage(error: "\(strings["tooManyAttempts"]!) (\(ISO8601DateFormatter().string(from: until)))", context: context, status: .tooManyRequests)
            }
            let name = fields["name"] ?? ""
            do {
                let account = try await store.logIn(name, password: fields["password"] ?? "")
                await throttle.succeeded(address)
                let (token, _) = try await store.openSession(for: account)
                context.logger.info("login", metadata: ["account": .string(account.name)])
                var response = Response.redirect(to: "/", type: .normal)
                response.setCookie(SessionCookie.cookie(SessionCookie.name, token, secure: secure))
                return response
            } catch let refusal as LoginRefusal {
                await throttle.failed(address, at: now)
                context.logger.notice("login refused", metadata: ["account": .string(name), "reason": .string(refusal.description)])
                let status: HTTPResponse.Status = if case .locked = refusal { .tooManyRequests } else { .unauthorized }
                return loginPage(error: "\(strings["loginFailed"]!): \(refusal.description)", context: context, status: status)
            }
        }
        router.post("/logout") { request, context in
            _ = try await Self.checkedForm(request, context: context)
            if let token = context.sessionToken { try await store.closeSession(token) }
            var response = Response.redirect(to: "/login", type: .normal)
            response.setCookie(SessionCookie.cookie(SessionCookie.name, "", secure: secure, maxAge: 0))
            return response
        }
    }

    private func loginPage(error: String, context: ConsoleContext, status: HTTPResponse.Status) -> Response {
        let token = NodeStore.randomToken()  // a new one after each attempt
        var response = pages.render(
            "login", title: Strings.table(context.language)["login"]!, values: ["loginToken": token, "error": error], context: context,
            status: status)
        response.setCookie(SessionCookie.cookie(SessionCookie.loginName, token, secure: secure, maxAge: 3600))
        return response
    }
}
