import BranchdeskNode
import Foundation
import Testing

/// The node configuration file: documented keys only, every error with its line, overridden by
/// environment variables and flags.
@Suite struct ConfigFileTests {
    @Test func keysValuesAndCommentsParse() throws {
        let file = try ConfigFile(
            parsing: """
                # Branchdesk at HQ
                data = "/var/lib/branchdesk"   # the node's folder
                listen = 0.0.0.0:7420
                metrics = "127.0.0.1:9420"
                log_level = "notice"

                batch_ops = 1000
                """, path: "hq.conf")
        #expect(file.values == [.data: "/var/lib/branchdesk", .listen: "0.0.0.0:7420", .metrics: "127.0.0.1:9420", .logLevel: "notice", .batchOps: "1000"])
    }

    @Test(arguments: [
        ("data = \"/srv\"\nlisen = \"0.0.0.0:7420\"", "hq.conf:2: unknown key 'lisen'; the keys are data, listen"),
        ("data = \"/srv\"\n\ndata = \"/other\"", "hq.conf:3: 'data' is set a second time (first on line 1)"),
        ("listen 0.0.0.0:7420", "hq.conf:1: expected 'key = value'"),
        ("batch_ops = 0", "hq.conf:1: batch_ops must be a whole number from 1 to 5000, not '0'"),
        ("metrics = \"localhost\"", "hq.conf:1: metrics 'localhost' is not HOST:PORT"),
        ("log_level = \"loud\"", "hq.conf:1: unknown log level 'loud'"),
        ("data = \"/srv", "hq.conf:1: the string is not closed"),
        ("data = /my data", "hq.conf:1: put a value with spaces or quotes in double quotes"),
    ])
    func mistakesAreRefusedWithTheirLine(text: String, message: String) {
        let error = #expect(throws: ConfigError.self) { try ConfigFile(parsing: text, path: "hq.conf") }
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func aHashInsideQuotesIsText() throws {
        let file = try ConfigFile(parsing: #"data = "/srv/branch#12" # comment"#, path: "b.conf")
        #expect(file.values[.data] == "/srv/branch#12")
    }
}

/// The configuration file as `serve`, `status` and the other commands read it.
@Suite struct ConfigFileCommandLineTests {
    let cli = CommandLineRunner()

    func write(_ text: String) throws -> String {
        try FileManager.default.createDirectory(at: cli.folder, withIntermediateDirectories: true)
        let path = cli.folder.appendingPathComponent("node.conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theFileNamesTheDataAndTheEnvironmentAndFlagsOverrideIt() throws {
        let node = cli.folder.appendingPathComponent("sh-012").path
        let config = try write("data = \"\(node)\"\nlog_level = \"info\"\n")
        let created = try cli.run(["init", "--config", config, "--node-id", "sh-012", "--role", "branch"], environment: ["BRANCHDESK_DATA": ""])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(FileManager.default.fileExists(atPath: node + "/branchdesk.sqlite"))
        let status = try cli.run(["status", "--json"], environment: ["BRANCHDESK_DATA": "", "BRANCHDESK_CONFIG": config])
        #expect(try status.object()["node"].flatMap { ($0 as? [String: Any])?["nodeID"] as? String } == "sh-012")

        // BRANCHDESK_DATA (set by the runner to its own folder) wins over the file, --data over both.
        let fromEnvironment = try cli.run(["status", "--config", config])
        #expect(fromEnvironment.status == 4 && fromEnvironment.stderr.contains(cli.data), "\(fromEnvironment.stderr)")
        #expect(try cli.run(["status", "--config", config, "--data", node]).status == 0)
    }

    @Test func aBadFileStopsTheCommandWithItsLineAndExitCode78() throws {
        let config = try write("data = \"/tmp/x\"\nlisten = \"0.0.0.0:7420\"\nmetric = \"127.0.0.1:9420\"\n")
        let result = try cli.run(["serve", "--config", config])
        #expect(result.status == 78 && result.stderr.contains("node.conf:3: unknown key 'metric'"), "\(result.stderr)")
        let missing = try cli.run(["status", "--config", "/nonexistent/branchdesk.conf"])
        #expect(missing.status == 78 && missing.stderr.contains("cannot read the configuration file"), "\(missing.stderr)")
        let badVariable = try cli.run(["serve", "--config", try write("data = \"/tmp/x\"\n")], environment: ["BRANCHDESK_WINDOW": "many"])
        #expect(badVariable.status == 78 && badVariable.stderr.contains("BRANCHDESK_WINDOW: window must be a whole number"), "\(badVariable.stderr)")
    }
}
