import Foundation
import Testing

@Suite struct CommandLineTests {
    static let openArguments = [
        "ticket", "open", "--customer", "张三", "--phone", "138 0013 8000", "--channel", "phone", "--category", "product",
        "--severity", "2", "--title", "手机频繁死机", "--body", "买了三天就频繁死机，要求换货", "--kind", "claim",
        "--received-at", "2026-11-21 18:30", "--department", "售后部",
    ]

    func initialisedNode() throws -> CommandLineRunner {
        let cli = CommandLineRunner()
        let result = try cli.run("init", "--node-id", "sh-pudong-012", "--role", "branch", "--code", "SH012", "--time-zone", "Asia/Shanghai")
        #expect(result.status == 0, "\(result.stderr)")
        return cli
    }

    @Test func aComplaintGoesThroughTheWholeProcessAndIsReopened() throws {
        let cli = try initialisedNode()
        let opened = try cli.run(Self.openArguments + ["--json"])
        #expect(opened.status == 0, "\(opened.stderr)")
        let ticket = try opened.object()
        for key in ["id", "number", "title", "status", "severity", "category", "customer", "phone", "origin", "notes", "tags", "history"] {
            #expect(ticket[key] != nil, "ticket JSON lacks \(key)")
        }
        let number = try #require(ticket["number"] as? String)
        #expect(number.hasPrefix("SH012-") && ticket["origin"] as? String == "sh-pudong-012")
        #expect(ticket["receivedAt"] as? String == "2026-11-21T10:30:00Z")

        let steps: [[String]] = [
            ["ticket", "transition", number, "accept"],
            ["ticket", "assign", number, "--to", "李四", "--department", "售后部"],
            ["ticket", "investigate", number, "--cause", "固件缺陷", "--conclusion", "属实", "--countermeasure", "换新机"],
            ["ticket", "note", number, "已致电客户说明进度", "--kind", "contact", "--via", "phone"],
            ["ticket", "tag", number, "--add", "重复投诉"],
            ["ticket", "escalate", number, "--to", "manager"],
            ["ticket", "transition", number, "submit"],
            ["ticket", "transition", number, "approve", "--reason", "同意换新"],
            ["ticket", "reply", number, "--message", "为您免费更换新机", "--via", "phone", "--promised-date", "2026-11-30"],
            ["ticket", "follow-up", number, "--score", "4", "--remark", "满意", "--close"],
        ]
        for step in steps {
            let result = try cli.run(step)
            #expect(result.status == 0, "\(step): \(result.stderr)")
        }
        let closed = try cli.run("ticket", "show", number, "--json").object()
        #expect(closed["status"] as? String == "closed")
        #expect(closed["assignee"] as? String == "李四")
        #expect(closed["tags"] as? [String] == ["重复投诉"])
        #expect((closed["history"] as? [Any])?.count == steps.count + 1)
        #expect((closed["notes"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["contact", "approval", "reply", "follow-up"])

        let reopened = try cli.run("ticket", "transition", number, "reopen", "--json").object()
        #expect(reopened["status"] as? String == "investigating" && reopened["round"] as? Int == 2)

        let text = try cli.run("ticket", "show", number)
        #expect(text.stdout.contains("investigating (round 2)") && text.stdout.contains("为您免费更换新机"))
    }

    @Test func anIllegalTransitionSaysWhatIsAllowedExitsTwoAndWritesNothing() throws {
        let cli = try initialisedNode()
        let number = try cli.run(Self.openArguments).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try cli.run("digest").stdout
        let close = try cli.run("ticket", "transition", number, "close")
        #expect(close.status == 2)
        #expect(close.stderr == "error: cannot close a ticket that is new; allowed now: accept, reject\n")
        #expect(close.stdout.isEmpty)
        let followUp = try cli.run("ticket", "follow-up", number, "--score", "5")
        #expect(followUp.status == 2 && followUp.stderr.contains("not been replied to"))
        #expect(try cli.run("digest").stdout == before)
    }

    @Test func badInputGetsOneClearLineAndANonZeroExit() throws {
        let cli = try initialisedNode()
        func expectFailure(_ arguments: [String], status: Int32, mentioning text: String) throws {
            let result = try cli.run(arguments)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(text), "\(arguments): \(result.stderr)")
        }
        func replacing(_ flag: String, with value: String) -> [String] {
            var arguments = Self.openArguments
            arguments[arguments.firstIndex(of: flag)! + 1] = value
            return arguments
        }
        try expectFailure(replacing("--phone", with: "call me"), status: 2, mentioning: "invalid phone 'call me'")
        try expectFailure(replacing("--customer", with: " "), status: 2, mentioning: "customer's name must not be empty")
        try expectFailure(replacing("--severity", with: "5"), status: 64, mentioning: "--severity")
        try expectFailure(replacing("--category", with: "food"), status: 64, mentioning: "--category")
        try expectFailure(replacing("--received-at", with: "yesterday"), status: 2, mentioning: "invalid time 'yesterday'")
        try expectFailure(["ticket", "show", "SH012-20260101-9999"], status: 3, mentioning: "no ticket 'SH012-20260101-9999'")
        try expectFailure(["ticket", "update", "SH012-20260101-9999", "--severity", "2"], status: 3, mentioning: "ticket list")
        try expectFailure(["init", "--node-id", "other", "--role", "hq"], status: 4, mentioning: "refusing to overwrite")
        try expectFailure(["init", "--node-id", "Bad_ID", "--role", "hq", "--data", cli.folder.appendingPathComponent("x").path],
                          status: 64, mentioning: "invalid node id")
        try expectFailure(["ticket", "list", "--data", cli.folder.appendingPathComponent("missing").path],
                          status: 4, mentioning: "is not a Branchdesk node")
        #expect(try cli.run("ticket", "list").stdout == "no tickets\n")
    }

    @Test func theDataDirectoryMustBeGiven() throws {
        let cli = CommandLineRunner()
        let result = try cli.run(["status"], environment: ["BRANCHDESK_DATA": ""])
        #expect(result.status == 64 && result.stderr.contains("give --data DIR, set BRANCHDESK_DATA, or 'data' in the --config file"), "\(result.stderr)")
    }

    @Test func listSearchAndConflictsWorkInChinese() throws {
        let cli = try initialisedNode()
        let number = try cli.run(Self.openArguments).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try cli.run("ticket", "search", "死机").stdout.contains(number))
        #expect(try cli.run("ticket", "search", "价格").stdout == "no tickets\n")
        let list = try cli.run("ticket", "list", "--open", "--json")
        let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        #expect(rows?.map { $0["number"] as? String } == [number])
        #expect(try cli.run("conflicts").stdout == "no conflicts\n")
        let status = try cli.run("status", "--json").object()["node"] as? [String: Any]
        #expect(status?["tickets"] as? Int == 1 && status?["nodeID"] as? String == "sh-pudong-012")
    }

    @Test func helpNamesTheContractFlags() throws {
        let help = try CommandLineRunner().run("ticket", "open", "--help").stdout
        for flag in ["--customer", "--phone", "--channel", "--category", "--severity", "--title", "--body", "--kind",
                     "--received-at", "--department", "walk-in", "non-quality"] {
            #expect(help.contains(flag), "ticket open --help lacks \(flag)")
        }
    }
}
