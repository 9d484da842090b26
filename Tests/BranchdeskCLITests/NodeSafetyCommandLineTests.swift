import ChildProcesses
import Foundation
import GRDB
import TestSupport
import Testing

/// What the command line does with a data directory it must not harm: one serving process per
/// node, reads that never write, damaged and newer databases refused with nothing written.
@Suite("Node safety from the command line")
struct NodeSafetyCommandLineTests {
    let sync = SyncCommandLineTests()
    var cli: CommandLineRunner { sync.cli }

    @Test("a second serve on one data directory is refused, naming the process that serves it")
    func oneServingProcessPerNode() throws {
        let port = try freeLoopbackPort()
        try sync.company(branches: [], port: port)
        let hq = try sync.serveHQ(port: port)
        defer { hq.stop() }
        let second = try cli.run(["serve", "--data", sync.data("hq"), "--listen", "127.0.0.1:0"])
        #expect(second.status == 10, "\(second.stderr)")
        #expect(second.stderr.contains("already served by process \(hq.process.processIdentifier)"), "\(second.stderr)")
        #expect(second.stderr.split(separator: "\n").count == 1)
    }

    @Test("a port in use is one line with its own exit code")
    func portInUse() throws {
        let port = try freeLoopbackPort()
        try sync.company(branches: ["sh-012"], port: port)
        let hq = try sync.serveHQ(port: port)
        defer { hq.stop() }
        let taken = try cli.run(["serve", "--data", sync.data("sh-012"), "--listen", "127.0.0.1:\(port)"])
        #expect(taken.status == 10, "\(taken.stderr)")
        #expect(taken.stderr == "error: cannot listen on 127.0.0.1:\(port): the address is in use by another process; stop it, or choose another address\n")
    }

    @Test("an empty or damaged database is reported damaged, and a read leaves it as it was")
    func damagedDatabases() throws {
        try sync.ok("init", "--node-id", "sh-012", "--role", "branch")
        let file = URL(fileURLWithPath: cli.data).appendingPathComponent("branchdesk.sqlite").path
        for damage in [Data(), Data("not a database at all, just a text file".utf8)] {
            try? FileManager.default.removeItem(atPath: file + "-wal")
            try? FileManager.default.removeItem(atPath: file + "-shm")
            #expect(FileManager.default.createFile(atPath: file, contents: damage))
            for command in [["status"], ["ticket", "list"], ["digest"], ["ticket", "open", "--customer", "张三", "--phone", "1", "--channel", "phone", "--category", "product", "--severity", "1", "--title", "x"]] {
                let result = try cli.run(command)
                #expect(result.status == 7, "\(command): \(result.stderr)")
                #expect(result.stderr.contains("restore the node from a backup"), "\(result.stderr)")
                #expect(FileManager.default.contents(atPath: file) == damage, "\(command) rewrote the damaged file")
            }
        }
    }

    @Test("a data directory that is a file is named as one")
    func dataDirectoryIsAFile() throws {
        let file = cli.folder.appendingPathComponent("a-file").path
        try FileManager.default.createDirectory(at: cli.folder, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let result = try cli.run(["status", "--data", file])
        #expect(result.status == 4 && result.stderr.contains("is a file, not a folder"), "\(result.stderr)")
    }

    @Test("a database written by a newer branchdesk is refused by reads and writes alike, and left alone")
    func newerSchemaIsRefused() throws {
        try sync.ok("init", "--node-id", "sh-012", "--role", "branch")
        let file = URL(fileURLWithPath: cli.data).appendingPathComponent("branchdesk.sqlite").path
        let queue = try DatabaseQueue(path: file)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()
        let before = FileManager.default.contents(atPath: file)
        for command in [["status"], ["upgrade"], ["ticket", "open", "--customer", "张三", "--phone", "1", "--channel", "phone", "--category", "product", "--severity", "1", "--title", "x"]] {
            let result = try cli.run(command)
            #expect(result.status == 7, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("written by a newer branchdesk") && result.stderr.contains("v99-from-the-future"), "\(result.stderr)")
        }
        #expect(FileManager.default.contents(atPath: file) == before)
    }

    @Test("a backup into an existing file is refused as a bad target, not as 'already a node'")
    func backupIntoAnExistingFile() throws {
        try sync.ok("init", "--node-id", "sh-012", "--role", "branch")
        let target = cli.folder.appendingPathComponent("backup.sqlite").path
        #expect(FileManager.default.createFile(atPath: target, contents: Data("keep me".utf8)))
        let result = try cli.run(["backup", "--to", target])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("already exists; back up into a new file"), "\(result.stderr)")
        #expect(FileManager.default.contents(atPath: target) == Data("keep me".utf8))
    }

    @Test("a refused sync --once is recorded, so status shows HQ refused with the reason")
    func refusedOneOffRoundIsRecorded() throws {
        let port = try freeLoopbackPort()
        try sync.company(branches: ["sh-012"], port: port)
        let hq = try sync.serveHQ(port: port)
        defer { hq.stop() }
        try sync.ok("sync", "--data", sync.data("sh-012"), "--once")
        let serial = try #require(
            try cli.run(["status", "--data", sync.data("sh-012"), "--json"]).object()["certificate"] as? [String: Any])["serial"] as? String
        try sync.ok("certs", "revoke", "--data", sync.data("hq"), "--serial", try #require(serial), "--reason", "stolen laptop")
        let refused = try cli.run(["sync", "--data", sync.data("sh-012"), "--once"])
        #expect(refused.status == 9, "\(refused.stderr)")
        let status = try cli.run(["status", "--data", sync.data("sh-012"), "--json"]).object()
        let peer = try #require((status["peers"] as? [[String: Any]])?.first)
        #expect(peer["state"] as? String == "refused", "\(peer)")
        #expect((peer["lastError"] as? String)?.contains("revoked") == true, "\(peer)")
        let atHQ = try #require((try cli.run(["status", "--data", sync.data("hq"), "--json"]).object()["peers"] as? [[String: Any]])?.first)
        #expect(atHQ["state"] as? String == "refused" && (atHQ["refusals"] as? Int ?? 0) >= 1, "\(atHQ)")
    }
}

/// `--help` is part of the contract: argument-parser wraps the prose, so the source must not.
@Suite("Help text")
struct HelpTextTests {
    let cli = CommandLineRunner()

    @Test("overviews wrap evenly: no paragraph has a short line before its last", arguments: [
        [], ["serve"], ["status"], ["report"], ["backup"], ["restore"], ["peers", "add"], ["upgrade"],
    ])
    func overviewsWrapEvenly(_ command: [String]) throws {
        let help = try cli.run(command + ["--help"])
        #expect(help.status == 0)
        let overview = help.stdout.components(separatedBy: "\nUSAGE:")[0]
        for paragraph in overview.components(separatedBy: "\n\n") {
            let lines = paragraph.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            for line in lines.dropLast() where !line.hasPrefix("branchdesk ") && !line.hasSuffix(":") {
                #expect(line.count >= 50, "a ragged line in the help of \(command): '\(line)'")
            }
        }
    }
}
