import ArgumentParser
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "List concurrent edits that overrode each other, or resolve one.",
        subcommands: [ListConflicts.self, ResolveConflict.self], defaultSubcommand: ListConflicts.self)
}

struct ListConflicts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List open conflicts.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let conflicts = try await data.readStore().conflicts()
        if output.json {
            try Output.json(conflicts)
        } else if conflicts.isEmpty {
            print("no conflicts")
        } else {
            for conflict in conflicts { print("\(conflict.number)  \(conflict.sentence)") }
        }
    }
}

struct ResolveConflict: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve a conflict: confirm the winning value, or choose another with --value.")

    @OptionGroup var edit: EditOptions
    @Argument(help: "The field in conflict, e.g. severity.") var field: Field
    @Option(help: "The value to keep (default: the current winner).") var value: String?

    func run() async throws {
        let field = field
        let chosen = try value.map { try field.parse($0) }
        try await edit.commit("resolve") { try $0.resolve(field, choosing: chosen) }
    }
}

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "Print a digest of the materialised tickets: equal on replicas that hold the same ops.",
        discussion: """
            A branch holds only the tickets it handles, so compare a branch with HQ on those: \
            'digest --branch sh-012' at HQ and at sh-012.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only the tickets this node handles.") var branch: String?

    func validate() throws {
        if let branch { do { _ = try NodeID(branch) } catch { throw ValidationError(error.message) } }
    }

    struct Digest: Encodable {
        let digest: String
        let vector: [String: UInt64]
    }

    func run() async throws {
        let store = try data.readStore()
        let digest = try await store.digest(handledBy: try branch.map(NodeID.init))
        let vector = try await store.versionVector()
        if output.json {
            try Output.json(Digest(digest: digest, vector: Dictionary(uniqueKeysWithValues: vector.seqs.map { ($0.key.rawValue, $0.value) })))
        } else {
            print("\(digest)  \(vector)")
        }
    }
}

struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Migrate the node's database to this build's schema.",
        discussion: """
            Commands that change the node migrate it on their own; commands that only read it \
            (status, ticket show, digest, …) never do, and say to run this. Back up first: a migrated \
            database cannot be opened by an older build.
            """)

    @OptionGroup var data: DataOptions

    func run() async throws {
        let directory = try data.directory()
        let pending = try NodeStore.pendingMigrations(in: directory)
        _ = try NodeStore.open(in: directory)
        if pending.isEmpty {
            print("\(directory) is already at this build's schema (\(NodeStore.schemaVersion)); nothing to do")
        } else {
            print("upgraded \(directory) to schema \(NodeStore.schemaVersion) (applied \(pending.joined(separator: ", ")))")
        }
    }
}
