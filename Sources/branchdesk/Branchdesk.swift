import ArgumentParser
import BranchdeskNode
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

/// The `branchdesk` command line.
@main
struct Branchdesk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "branchdesk",
        abstract: "Complaint tickets for branch offices: works offline, replicates to headquarters.",
        discussion: """
            The data directory comes from --data DIR, the BRANCHDESK_DATA environment variable, or the \
            'data' key of the --config file.

            Exit codes: 0 success, 2 not allowed now or invalid value, 3 unknown ticket, 4 not a node \
            (or already one), 5 database locked, 6 disk read-only or full or failing, 7 damaged database or one \
            written by a newer branchdesk, 8 sync failed (link lost or incomplete), 9 refused (certificate, identity, version or \
            authorisation), 10 the node is already served by another process or its address is in use, \
            11 database of an older schema opened to read (run 'branchdesk upgrade'), 64 bad command-line usage, \
            78 bad configuration file or variable.
            """,
        version: "\(SyncProtocol.software) (sync protocol \(SyncProtocol.versions.lowerBound)…\(SyncProtocol.versions.upperBound))",
        subcommands: [
            InitCommand.self, CertsCommand.self, ServeCommand.self, SyncCommand.self, TicketCommand.self,
            ConflictsCommand.self, StatusCommand.self, PeersCommand.self, DigestCommand.self, PolicyCommand.self,
            CalendarCommand.self, ReportCommand.self, BackupCommand.self, RestoreCommand.self, UpgradeCommand.self, UsersCommand.self,
            WithdrawOpCommand.self,
        ]
    )

    /// Runs the command, turning our errors into one readable line on stderr and a specific exit code.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as DomainError {
            fail(error.message, code: 2)
        } catch let error as StoreError {
            fail(error.message, code: exitCode(for: error.code))
        } catch let error as CertificateError {
            fail(error.message, code: 9)
        } catch let error as ConfigError {
            fail(error.message, code: 78)
        } catch let error as SyncError {
            fail("sync failed: \(error.message)", code: error.kind == .refused ? 9 : 8)
        } catch let error as NodeError {
            fail(error.message, code: error.code == .nothingToServe ? 64 : error.code == .badConfiguration ? 78 : 10)
        } catch {
            exit(withError: error)
        }
    }

    private static func exitCode(for code: StoreError.Code) -> Int32 {
        switch code {
        case .unknownTicket, .ambiguousTicket: 3
        case .notANode, .alreadyANode: 4
        case .locked: 5
        case .readOnly, .diskFull, .io: 6
        case .corrupt, .newerSchema: 7
        case .olderSchema: 11
        case .batchTooLarge, .fileExists: 2
        }
    }

    private static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("error: \(TypedText.printable(message, multiLine: true))\n".utf8))
        Foundation.exit(code)
    }
}
