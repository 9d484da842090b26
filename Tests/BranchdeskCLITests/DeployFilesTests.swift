import BranchdeskNode
import ChildProcesses
import Foundation
import Testing

/// The files an operator copies from `deploy/` stay valid as the code changes.
@Suite struct DeployFilesTests {
    static let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy")

    @Test(arguments: ["hq.conf", "branch.conf"])
    func theExampleConfigurationsParse(name: String) throws {
        let file = try ConfigFile(path: Self.deploy.appendingPathComponent("config/\(name)").path)
        #expect(file.values[.data] == "/var/lib/branchdesk")
        #expect(file.values[.metrics] == "127.0.0.1:9420")
    }

    @Test(arguments: ["branchdesk-hq.service", "branchdesk-branch.service", "branchdesk-backup.service", "branchdesk-backup.timer"])
    func theSystemdUnitsVerify(name: String) throws {
        let unit = Self.deploy.appendingPathComponent("systemd/\(name)").path
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        if name.hasSuffix(".service") {
            for setting in ["User=branchdesk", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet="] {
                #expect(text.contains("\n\(setting)\n"), "\(name) lacks \(setting)")
            }
        }
        if name.hasSuffix("-hq.service") || name.hasSuffix("-branch.service") {
            #expect(text.contains("\nRestart=on-failure\n") && text.contains("serve --config /etc/branchdesk/branchdesk.conf"))
        }
        let analyzer = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: analyzer), "systemd-analyze checks the units; install systemd")
        let errors = Pipe()
        let process = try ChildProcess(
            executable: analyzer, arguments: ["verify", "--man=no", unit], environment: ProcessInfo.processInfo.environment,
            stdin: nil, stdout: errors.fileHandleForWriting.fileDescriptor, stderr: errors.fileHandleForWriting.fileDescriptor)
        try errors.fileHandleForWriting.close()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.awaitExit()
        // The binary is not installed on a build machine; anything else is a mistake in the unit.
        let problems = output.split(separator: "\n").filter { !$0.contains("/usr/local/bin/branchdesk is not executable") }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
}
