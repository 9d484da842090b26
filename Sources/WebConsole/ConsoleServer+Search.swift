import Foundation
import Hummingbird
import TicketModel
import TicketStore

extension ConsoleServer {
    /// Search: any substring in any language (the FTS5 trigram index), the match marked in each title.
    func addSearch(to router: Router<ConsoleContext>) {
        router.get("/search") { request, context in
            let strings = Strings.table(context.language)
            let account = try session(context).account
            let needle = request.uri.queryParameters["q"].map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            var values: [String: Any] = ["q": needle]
            if !needle.isEmpty {
                let found = try await store.search(needle)
                values["results"] = found.map { ticket -> [String: Any] in
                    [
                        "number": ticket.number, "title": Self.marked(ticket.title, needle), "customer": ticket.customer,
                        "phone": account.role.maySeePhones ? ticket.phone : PhoneNumber.masked(ticket.phone),
                        "status": strings["stage.\(ticket.status)"] ?? ticket.status,
                    ]
                }
                values["none"] = found.isEmpty
                values["hasResults"] = !found.isEmpty
            }
            return pages.render("search", title: strings["search"]!, values: values, context: context)
        }
    }

    /// `text` cut into pieces, those equal to `needle` (ignoring case) marked: the template shows
    /// each piece escaped, so the highlight never turns data into markup.
    static func marked(_ text: String, _ needle: String) -> [[String: Any]] {
        guard !needle.isEmpty else { return [["text": text, "match": false]] }
        var pieces: [[String: Any]] = []
        var rest = text[...]
        while let range = rest.range(of: needle, options: [.caseInsensitive]) {
            if range.lowerBound > rest.startIndex { pieces.append(["text": String(rest[..<range.lowerBound]), "match": false]) }
            pieces.append(["text": String(rest[range]), "match": true])
            rest = rest[range.upperBound...]
        }
        if !rest.isEmpty { pieces.append(["text": String(rest), "match": false]) }
        return pieces
    }
}
