import Foundation
import Replication
import Testing
import TicketModel

/// `Op.invalidValue`: the rules a received value must meet, and MERGE.md "Values" saying the
/// same as the code's own tables, so the document cannot drift from them.
@Suite struct ValueRulesTests {
    func invalid(_ field: Field, _ value: RegisterValue) -> String? {
        Op.invalidValue(in: [.write(field: field, value: value, seen: [])])
    }

    @Test func everyValueALocalEditCanMakeIsAccepted() throws {
        for category in Category.allCases { #expect(invalid(.category, .text(category.rawValue)) == nil) }
        for kind in ComplaintKind.allCases { #expect(invalid(.kind, .text(kind.rawValue)) == nil) }
        for channel in Channel.allCases { #expect(invalid(.replyVia, .text(channel.rawValue)) == nil) }
        for severity in Severity.allCases { #expect(invalid(.severity, .number(severity.rawValue)) == nil) }
        for phone in ["138 0013 8000", "021-6234 5678", "+86 (21) 6234 5678", "１３８００１３８０００"] {
            #expect(invalid(.phone, try Field.phone.parse(phone)) == nil, "\(phone)")
        }
        #expect(invalid(.satisfaction, .satisfaction(try Satisfaction(score: 5, remark: "满意"))) == nil)
        #expect(invalid(.promisedDate, .text("")) == nil && invalid(.promisedDate, .text("2026-12-10")) == nil)
        #expect(invalid(.branch, .text("bj-chaoyang-003")) == nil && invalid(.branch, .text("")) == nil)
        #expect(invalid(.cause, .text("")) == nil, "optional text may be emptied")
        let draft = try TicketDraft(
            channel: .phone, takenBy: "王芳", customer: "张三", phone: "138 0013 8000", title: "手机死机", statement: "", request: "",
            category: .product, severity: .general)
        #expect(Op.invalidValue(in: TicketDocument.opening(draft, number: "SH012-20261202-0001", receivedAt: 0)) == nil)
    }

    @Test func valuesOutOfTheirFieldsRulesAreNamed() {
        #expect(invalid(.severity, .number(0)) == "severity holds 0: use 1, 2 or 3")
        #expect(invalid(.category, .text("Product")) == "category holds 'Product': use one of product, service, price, policy, other")
        #expect(invalid(.customer, .text("")) == "customer must not be empty")
        #expect(invalid(.title, .number(3)) == "title holds '3': it is text")
        #expect(invalid(.branch, .text("Shanghai HQ")) == "branch holds 'Shanghai HQ': it is a node id such as sh-pudong-012")
    }

    @Test func mergeDocumentListsTheCodesEnumerations() throws {
        let merge = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/MERGE.md")
        let text = try String(contentsOf: merge, encoding: .utf8)
        let section = try #require(text.range(of: "## Values").map { String(text[$0.upperBound...].prefix { $0 != "#" }) })
        func listed<Choice: RawRepresentable & CaseIterable>(_ type: Choice.Type, after label: String) -> [String] where Choice.RawValue == String {
            guard let start = section.range(of: "`\(label)`: ") else { return [] }
            let line = section[start.upperBound...].prefix { $0 != "." }
            return line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "`")) }
        }
        #expect(listed(Category.self, after: "category") == Category.allCases.map(\.rawValue))
        #expect(listed(ComplaintKind.self, after: "kind") == ComplaintKind.allCases.map(\.rawValue))
        #expect(listed(Channel.self, after: "reply-via") == Channel.allCases.map(\.rawValue))
        for field in Field.required { #expect(section.contains("`\(field.rawValue)`"), "\(field.rawValue) is listed as required") }
    }
}
