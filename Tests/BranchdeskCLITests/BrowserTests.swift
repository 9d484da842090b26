import Foundation
import Testing

/// The web console in a real browser (Chromium driven by Selenium, `Tests/Browser`) against real
/// nodes: HQ over HTTPS and a branch, syncing over mutual TLS on 127.0.0.1. Needs Debian's
/// `chromium`, `chromium-driver` and `fonts-wqy-microhei` and `pip install selenium==4.51.0`,
/// which `.ci/run` installs.
@Suite struct BrowserTests {
    @Test func theConsoleWorksInARealBrowser() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Browser/console_browser_test.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        process.environment = ProcessInfo.processInfo.environment.merging(["BRANCHDESK_BIN": CommandLineRunner.binary.path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(
            process.terminationStatus == 0,
            "the browser tests failed (install chromium, chromium-driver, fonts-wqy-microhei and selenium 4.51.0 as .ci/run does):\n\(text)")
    }
}
