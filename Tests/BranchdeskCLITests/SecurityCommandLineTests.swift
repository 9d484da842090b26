import Foundation
import Testing

/// Certificates, transfers and personal data from the command line.
@Suite("Security from the command line")
struct SecurityCommandLineTests {
    let sync = SyncCommandLineTests()
    var cli: CommandLineRunner { sync.cli }

    @Test("certs list, renew, install, revoke and revoked; status warns of a certificate about to expire")
    func certificateLifecycle() throws {
        try sync.ok("certs", "create-ca", "--certs", sync.certs)
        try sync.ok("certs", "create-node", "--certs", sync.certs, "--node-id", "hq", "--role", "hq")
        try sync.ok("certs", "create-node", "--certs", sync.certs, "--node-id", "sh-012", "--role", "branch", "--days", "10")
        let again = try cli.run(["certs", "create-node", "--certs", sync.certs, "--node-id", "sh-012", "--role", "branch"])
        #expect(again.status == 9 && again.stderr.contains("refusing to replace"))

        let listed = try sync.ok("certs", "list", "--certs", sync.certs)
        #expect(listed.contains("sh-012") && listed.contains("branch") && listed.contains("hq"))
        try sync.ok("init", "--data", sync.data("sh-012"), "--node-id", "sh-012", "--role", "branch", "--certs", sync.certs)
        let status = try sync.ok("status", "--data", sync.data("sh-012"))
        #expect(status.contains("warning: this node's certificate expires in"), "\(status)")

        let oldSerial = try #require(try certificate("sh-012")["serial"] as? String)
        try sync.ok("certs", "renew", "--certs", sync.certs, "--node-id", "sh-012")
        try sync.ok("certs", "install", "--data", sync.data("sh-012"), "--certs", sync.certs)
        #expect(!(try sync.ok("status", "--data", sync.data("sh-012"))).contains("certificate expires"))
        #expect(try certificate("sh-012")["serial"] as? String != oldSerial)

        try sync.ok("init", "--data", sync.data("hq"), "--node-id", "hq", "--role", "hq", "--certs", sync.certs)
        try sync.ok("certs", "revoke", "--data", sync.data("hq"), "--serial", oldSerial, "--reason", "replaced")
        let revoked = try sync.ok("certs", "revoked", "--data", sync.data("hq"))
        #expect(revoked.contains(oldSerial) && revoked.contains("replaced"))
        let empty = cli.folder.appendingPathComponent("no-certs").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let wrong = try cli.run(["certs", "install", "--data", sync.data("hq"), "--certs", empty])
        #expect(wrong.status == 9 && wrong.stderr.contains("certs create-node"), "\(wrong.stderr)")
    }

    /// The certificate block of `status --json` for a node.
    func certificate(_ node: String) throws -> [String: Any] {
        try cli.run(["status", "--data", sync.data(node), "--json"]).object()["certificate"] as? [String: Any] ?? [:]
    }

    @Test("only HQ transfers a ticket; the branch it leaves may read it but not change it")
    func transfer() throws {
        let port = try freeLoopbackPort()
        try sync.company(branches: ["sh-012", "sh-031"], port: port)
        let number = try sync.open(at: "sh-012", "手机频繁死机")
        let hq = try sync.serveHQ(port: port)
        defer { hq.stop() }
        try sync.ok("sync", "--data", sync.data("sh-012"), "--once")
        let byBranch = try cli.run(["ticket", "transfer", "--data", sync.data("sh-012"), number, "--to", "sh-031"])
        #expect(byBranch.status == 2 && byBranch.stderr.contains("only HQ"), "\(byBranch.stderr)")
        try sync.ok("ticket", "transfer", "--data", sync.data("hq"), number, "--to", "sh-031")
        try sync.ok("sync", "--data", sync.data("sh-012"), "--once")
        try sync.ok("sync", "--data", sync.data("sh-031"), "--once")
        let refused = try cli.run(["ticket", "transition", "--data", sync.data("sh-012"), number, "accept"])
        #expect(refused.status == 2 && refused.stderr.contains("handled by sh-031"), "\(refused.stderr)")
        try sync.ok("ticket", "transition", "--data", sync.data("sh-031"), number, "accept")
        try sync.ok("sync", "--data", sync.data("sh-031"), "--once")
        #expect(try sync.ok("ticket", "show", "--data", sync.data("hq"), number).contains("accepted"))
    }

    @Test("lists mask phone numbers unless --show-personal is given")
    func maskedPhones() throws {
        try sync.ok("init", "--data", sync.data("sh-012"), "--node-id", "sh-012", "--role", "branch")
        let number = try sync.open(at: "sh-012", "手机频繁死机")
        let list = try sync.ok("ticket", "list", "--data", sync.data("sh-012"))
        #expect(list.contains("138****8000") && !list.contains("13800138000"))
        let json = try sync.ok("ticket", "search", "--data", sync.data("sh-012"), "死机", "--json")
        #expect(json.contains("138****8000"))
        #expect(try sync.ok("ticket", "list", "--data", sync.data("sh-012"), "--show-personal").contains("13800138000"))
        // The ticket itself shows the number in full: the clerk calls the customer back.
        #expect(try sync.ok("ticket", "show", "--data", sync.data("sh-012"), number).contains("13800138000"))
    }
}
