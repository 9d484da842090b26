import ArgumentParser
import BranchdeskNode
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the node's database into a new file while it keeps serving (SQLite online backup).",
        discussion: """
            The copy is a consistent snapshot, checked with PRAGMA integrity_check, mode 0600 (it holds \
            customers' names and phone numbers). It holds no private key: keep the node's tls/ folder \
            (or its certificates folder) apart. Restore with 'branchdesk restore'.
            """)

    @OptionGroup var data: DataOptions
    @Option(help: ArgumentHelp("The backup file to create (never overwritten).", valueName: "file")) var to: String

    func run() async throws {
        let store = try data.openStore()
        let summary = try store.backup(toFile: to)
        print("backed up node \(summary.nodeID) (\(summary.ops) ops, \(summary.bytes / 1024) KiB) to \(summary.file)")
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Create a node in a new folder from a backup file.",
        discussion: """
            The restored node refuses edits until it has synced since the restore — a branch with HQ, \
            HQ with every branch it knew — so that it never reuses the number of an op it made after \
            the backup. Run 'branchdesk sync --once' (a branch) or 'serve' (HQ) first.
            """)

    @OptionGroup var data: DataOptions
    @Option(help: ArgumentHelp("The backup file 'branchdesk backup' wrote.", valueName: "file")) var from: String
    @Option(help: ArgumentHelp(
        "A certificates folder holding this node's certificate and the CA, installed as 'init --certs' does.", valueName: "dir"))
    var certs: String?

    func run() async throws {
        let directory = try data.directory()
        let store = try await NodeProvisioning.restore(from: from, into: directory, certificates: certs)
        let identity = store.identity
        var message = "restored \(identity.role.rawValue) node \(identity.nodeID) into \(directory) (\(try await store.opCount()) ops)"
        message += identity.role == .branch
            ? "; run 'branchdesk sync --once' before editing: HQ may hold ops this node made after the backup"
            : "; run 'serve' and let every branch connect before editing at HQ"
        if certs == nil { message += "; no certificates installed: 'branchdesk certs install --data \(directory) --certs DIR'" }
        print(message)
    }
}
