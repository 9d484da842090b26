import Foundation
import Replication
import Testing
import TicketModel
import TicketStore

/// Long text, nameless clerks and hostile text, at the command line.
@Suite struct IntegrityCommandLineTests {
    let node = CommandLineTests()

    @Test func longTextComesFromAFileOrStandardInputWithinOneEditsLimit() throws {
        let cli = try node.initialisedNode()
        let statement = String(repeating: "客户来电反映手机频繁死机。", count: 6_000)  // about 230 KiB: no command line takes it
        let file = cli.folder.appendingPathComponent("statement.txt")
        try statement.write(to: file, atomically: true, encoding: .utf8)
        var arguments = CommandLineTests.openArguments
        let body = try #require(arguments.firstIndex(of: "--body"))
        arguments.removeSubrange(body...(body + 1))
        let opened = try cli.run(arguments + ["--body-file", file.path, "--json"])
        #expect(opened.status == 0, "\(opened.stderr)")
        #expect(try opened.object()["statement"] as? String == statement)
        let number = try #require(try opened.object()["number"] as? String)

        let noted = try cli.run(["ticket", "note", number, "--body-file", "-"], input: Data("客户补充：\n发票已寄出".utf8))
        #expect(noted.status == 0, "\(noted.stderr)")
        let shown = try cli.run("ticket", "show", number)
        #expect(shown.stdout.contains("客户补充：\n      发票已寄出"), "a multi-line note is indented, not raw")

        try String(repeating: "很长的说明", count: 20_000).write(to: file, atomically: true, encoding: .utf8)  // 300 KiB
        let tooLong = try cli.run(["ticket", "note", number, "--body-file", file.path])
        #expect(tooLong.status == 2 && tooLong.stderr.contains("one edit may carry at most 256 KiB"), "\(tooLong.stderr)")
        let both = try cli.run(["ticket", "note", number, "文字", "--body-file", file.path])
        #expect(both.status == 64 && both.stderr.contains("once"))
        let missing = try cli.run(["ticket", "reply", number, "--via", "phone", "--body-file", "/nonexistent/reply.txt"])
        #expect(missing.status == 64 && missing.stderr.contains("no such readable file"), "\(missing.stderr)")
    }

    @Test func anEditByNobodyInParticularIsRecordedWithAWarningOnce() throws {
        let cli = try node.initialisedNode()
        let opened = try cli.run(CommandLineTests.openArguments, environment: ["BRANCHDESK_USER": "", "USER": ""])
        #expect(opened.status == 0, "\(opened.stderr)")
        let warnings = opened.stderr.components(separatedBy: "warning: no --by NAME and no BRANCHDESK_USER").count - 1
        #expect(warnings == 1 && opened.stderr.contains("'unknown'") && opened.stderr.contains("BRANCHDESK_USER"))
        let named = try cli.run(CommandLineTests.openArguments + ["--by", "李四"], environment: ["BRANCHDESK_USER": ""])
        #expect(named.status == 0 && named.stderr.isEmpty)
    }

    /// Tickets written before control characters were refused (or by a build that let them through)
    /// still never reach the terminal raw.
    @Test func noControlCharacterFromDataIsEverPrinted() async throws {
        let cli = try node.initialisedNode()
        let number = try #require(try cli.run(CommandLineTests.openArguments + ["--json"]).object()["number"] as? String)
        do {
            let store = try NodeStore.open(in: cli.data)
            let ticket = try await store.ticket(number)
            let old = Op(
                id: OpID(origin: try NodeID("hq"), seq: 1), hlc: HLCTimestamp(wallMillis: 1_795_400_000_000, counter: 0),
                ticket: try #require(TicketID(ticket.id)), actor: "旧版\u{1B}[31m", action: "update",
                changes: [.write(field: .title, value: .text("死机\u{1B}]0;pwned\u{07}\n第二行"), seen: [OpID(origin: try NodeID("sh-pudong-012"), seq: 1)])])
            _ = try await store.apply([old])  // no grant: as a restore or an old build would have
        }
        for arguments in [["ticket", "show", number], ["ticket", "list"], ["ticket", "search", "死机"]] {
            let result = try cli.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(!result.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(arguments) printed a control character")
            #expect(result.stdout.contains("␛]0;pwned␇"), "\(arguments): \(result.stdout)")
        }
        let list = try cli.run("ticket", "list")
        #expect(list.stdout.split(separator: "\n").count == 2, "one header and one row: the title's line break is shown, not obeyed")
    }

    @Test func showSaysWhichBranchHandlesTheTicketAndSlaWhichPolicyJudgesIt() throws {
        let cli = try node.initialisedNode()
        let number = try #require(try cli.run(CommandLineTests.openArguments + ["--json"]).object()["number"] as? String)
        let shown = try cli.run("ticket", "show", number)
        #expect(shown.stdout.split(separator: "\n").dropFirst().first?.contains("handled by sh-pudong-012") == true, "\(shown.stdout)")
        #expect(try cli.run("ticket", "show", number, "--json").object()["handledBy"] as? String == "sh-pudong-012")
        let sla = try cli.run("ticket", "sla", number)
        #expect(sla.stdout.contains("policy: the standard setting (HQ had set none), recorded with the ticket"), "\(sla.stdout)")
    }
}

/// `branchdesk users`: accounts made from the command line, passwords from standard input.
@Suite struct UsersCommandLineTests {
    @Test func anAdministratorAddsListsAndDisablesAccounts() throws {
        let cli = try CommandLineTests().initialisedNode()
        let added = try cli.run(["users", "add", "王芳", "--role", "supervisor"], input: Data("门店密码2026\n".utf8))
        #expect(added.status == 0 && added.stdout.contains("added 王芳 (supervisor)"), "\(added.stderr)")
        let noPassword = try cli.run(["users", "add", "李四", "--role", "clerk"], input: Data())
        #expect(noPassword.status == 64 && noPassword.stderr.contains("no password on standard input"))
        let weak = try cli.run(["users", "add", "李四", "--role", "clerk"], input: Data("123\n".utf8))
        #expect(weak.status == 2 && weak.stderr.contains("too short"))
        #expect(try cli.run("users", "disable", "王芳").status == 0)
        let listed = try cli.run("users", "list")
        #expect(listed.stdout.contains("王芳") && listed.stdout.contains("disabled") && !listed.stdout.contains("李四"))
        let json = try cli.run("users", "list", "--json").stdout
        #expect(json.contains("\"role\" : \"supervisor\"") && !json.contains("门店密码") && !json.contains("$2"), "no password or hash is shown")
        let unknown = try cli.run("users", "disable", "张伟")
        #expect(unknown.status == 2 && unknown.stderr.contains("no account '张伟'"))
    }
}
