import BranchdeskNode
import Foundation
import SyncTransport
import SyncWire
import Testing

/// The oversight commands as people use them: policy, calendar, deadlines, the report, peers, status.
@Suite struct OversightCommandLineTests {
    let cli = CommandLineRunner()

    func data(_ node: String) -> String { cli.folder.appendingPathComponent(node).path }

    @discardableResult
    func ok(_ arguments: String...) throws -> String {
        let result = try cli.run(arguments)
        #expect(result.status == 0, "branchdesk \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    func initialise(_ node: String, role: String, code: String) throws {
        try ok("init", "--data", data(node), "--node-id", node, "--role", role, "--code", code, "--time-zone", "Asia/Shanghai")
    }

    func open(at node: String, received: String? = nil) throws -> String {
        var arguments = [
            "ticket", "open", "--data", data(node), "--customer", "张三", "--phone", "138 0013 8000", "--channel", "phone",
            "--category", "product", "--severity", "1", "--title", "手机频繁死机", "--body", "买了三天就频繁死机", "--by", "王芳",
        ]
        if let received { arguments += ["--received-at", received] }
        let result = try cli.run(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func hqSetsThePolicyAndCalendarAndABranchMayNot() throws {
        try initialise("hq", role: "hq", code: "HQ")
        try initialise("sh-012", role: "branch", code: "SH012")
        try ok("policy", "set", "--data", data("hq"), "--severity", "1", "--first-reply", "12h", "--resolution", "2wd", "--by", "总部")
        let policy = try cli.run(["policy", "show", "--data", data("hq"), "--json"]).object()
        let rules = try #require(policy["rules"] as? [String: [String: String]])
        #expect(rules["1"] == ["firstReply": "12h", "resolution": "2wd"])

        try ok("calendar", "set", "--data", data("hq"), "--holiday", "2027-01-01:元旦", "--working-day", "2027-01-04:调休", "--by", "总部")
        let january = try ok("calendar", "show", "--data", data("hq"), "--month", "2027-01")
        #expect(january.contains("元旦") && january.contains("调休"))

        let refused = try cli.run(["policy", "set", "--data", data("sh-012"), "--severity", "1", "--first-reply", "1h"])
        #expect(refused.status == 2 && refused.stderr.contains("only HQ"), "\(refused.stderr)")
        let badPeriod = try cli.run(["policy", "set", "--data", data("hq"), "--severity", "1", "--resolution", "3 weeks"])
        #expect(badPeriod.status != 0 && badPeriod.stderr.contains("e.g. 24h, 7d or 3wd"), "\(badPeriod.stderr)")
        let badZone = try cli.run(["calendar", "set", "--data", data("hq"), "--time-zone", "Mars/Olympus"])
        #expect(badZone.status != 0 && badZone.stderr.contains("unknown time zone"), "\(badZone.stderr)")
    }

    @Test func overdueAndDueSoonTicketsAreListedAndExplained() throws {
        try initialise("sh-012", role: "branch", code: "SH012")
        let late = try open(at: "sh-012", received: "2026-11-02 10:00")
        let fresh = try open(at: "sh-012")

        let overdue = try ok("ticket", "list", "--data", data("sh-012"), "--overdue")
        #expect(overdue.contains(late) && !overdue.contains(fresh) && overdue.contains("breached"))
        // A first reply due within 24 hours (or at the end of the next working day): within 5 days.
        // What is already breached needs action too, and comes first.
        let dueSoon = try ok("ticket", "list", "--data", data("sh-012"), "--due-within", "5d")
        let lateAt = try #require(dueSoon.range(of: late)), freshAt = try #require(dueSoon.range(of: fresh))
        #expect(lateAt.lowerBound < freshAt.lowerBound)
        #expect(!(try ok("ticket", "list", "--data", data("sh-012"), "--due-within", "1h")).contains(fresh))

        let explained = try ok("ticket", "sla", "--data", data("sh-012"), late)
        #expect(explained.contains("received 2026-11-02 10:00 (Asia/Shanghai)"))
        #expect(explained.contains("3 working days counted from the day after receipt: 2026-11-03, 2026-11-04, 2026-11-05"))
        #expect(explained.contains("breached while held by sh-012 (王芳)"))

        try ok("ticket", "wait", "--data", data("sh-012"), fresh, "--reason", "等客户提供发票")
        #expect(try ok("ticket", "sla", "--data", data("sh-012"), fresh).contains("the clock is stopped"))
        try ok("ticket", "resume", "--data", data("sh-012"), fresh)
        let bad = try cli.run(["ticket", "list", "--data", data("sh-012"), "--due-within", "soon"])
        #expect(bad.status == 64 && bad.stderr.contains("4h or 2d"), "\(bad.stderr)")
    }

    @Test func theMonthlyReportPrintsAsTextJSONAndSpreadsheetCSV() throws {
        try initialise("sh-012", role: "branch", code: "SH012")
        let late = try open(at: "sh-012", received: "2026-11-02 10:00")
        _ = try open(at: "sh-012", received: "2026-11-03 09:00")

        let report = try cli.run(["report", "--data", data("sh-012"), "--month", "2026-11", "--json"]).object()
        #expect(report["total"] as? Int == 2 && report["scope"] as? String == "sh-012")
        let repeats = try #require(report["repeatCustomers"] as? [[String: Any]])
        #expect(repeats.first?["phone"] as? String == "138 **** 8000")
        #expect((report["breaches"] as? [[String: Any]])?.first?["number"] as? String == late)

        let text = try ok("report", "--data", data("sh-012"), "--month", "2026-11")
        #expect(text.contains("Complaint statistics 2026-11 — branch sh-012") && text.contains("repeat complaints"))
        let csv = try cli.run(["report", "--data", data("sh-012"), "--month", "2026-11", "--csv"])
        #expect(csv.stdout.hasPrefix("\u{FEFF}Complaint statistics,2026-11"))
        #expect(csv.stdout.contains("\r\nby branch,tickets\r\nsh-012,2\r\n"))

        let badMonth = try cli.run(["report", "--data", data("sh-012"), "--month", "11/2026"])
        #expect(badMonth.status == 2 && badMonth.stderr.contains("use YYYY-MM"), "\(badMonth.stderr)")
        let both = try cli.run(["report", "--data", data("sh-012"), "--json", "--csv"])
        #expect(both.status == 64 && both.stderr.contains("--json and --csv"), "\(both.stderr)")
    }

    @Test func peersAreAddedListedAndRemovedAndStatusShowsTheirTrouble() throws {
        try initialise("hq", role: "hq", code: "HQ")
        try ok("peers", "add", "--data", data("hq"), "sh-044", "--address", "10.0.44.1:7420")
        let status = try ok("status", "--data", data("hq"))
        #expect(status.contains("sh-044") && status.contains("never synced"))
        #expect(!status.contains("\u{1B}["), "no colour when stdout is not a terminal")
        #expect(try ok("peers", "--data", data("hq")).contains("10.0.44.1:7420"))

        let badAddress = try cli.run(["peers", "add", "--data", data("hq"), "sh-045", "--address", "nowhere"])
        #expect(badAddress.status == 64 && badAddress.stderr.contains("HOST:PORT"), "\(badAddress.stderr)")
        #expect(try ok("peers", "remove", "--data", data("hq"), "sh-044").contains("certs revoke"))
        let unknown = try cli.run(["peers", "remove", "--data", data("hq"), "sh-044"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no peer 'sh-044'"), "\(unknown.stderr)")

        try initialise("sh-012", role: "branch", code: "SH012")
        let noAddress = try cli.run(["peers", "add", "--data", data("sh-012"), "hq"])
        #expect(noAddress.status == 2 && noAddress.stderr.contains("--address HOST:PORT"), "\(noAddress.stderr)")
        try ok("peers", "add", "--data", data("sh-012"), "hq", "--address", "127.0.0.1:7420")
        let branchStatus = try cli.run(["status", "--data", data("sh-012"), "--json"]).object()
        #expect(branchStatus["hqAddress"] as? String == "127.0.0.1:7420")
        let peers = try #require(branchStatus["peers"] as? [[String: Any]])
        #expect(peers.first?["troubles"] as? [String] == ["never synced"])
    }
}

/// The `sync --once` progress bar's line.
@Suite struct ProgressBarTests {
    @Test func theLineShowsTheShareDoneTheCountsAndTheRate() {
        let progress = SyncProgress(opsSent: 0, opsReceived: 4_000, opsToSend: 0, opsToReceive: 10_000)
        #expect(
            ProgressBar.line(progress, elapsed: .seconds(2), width: 10)
                == "[####------]  40% 4,000/10,000 ops  2,000 ops/s  sent 0/0 received 4,000/10,000")
        let nothing = SyncProgress(opsSent: 0, opsReceived: 0, opsToSend: 0, opsToReceive: 0)
        #expect(ProgressBar.line(nothing, elapsed: .zero, width: 4) == "[####] 100% 0/0 ops  0 ops/s  sent 0/0 received 0/0")
    }
}
