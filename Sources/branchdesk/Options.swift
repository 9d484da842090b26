import ArgumentParser
import BranchdeskNode
import Foundation
import Logging
import Replication
import SyncWire
import TicketModel
import TicketStore

/// `--data DIR`, falling back to `BRANCHDESK_DATA`, then to the configuration file's `data`.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The node's data directory (default: $BRANCHDESK_DATA).", valueName: "dir"))
    var data: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A node configuration file (default: $BRANCHDESK_CONFIG); flags and environment override it.", valueName: "file"))
    var config: String?

    /// The node's configuration: the --config file (or `BRANCHDESK_CONFIG`), the environment, then
    /// `flags` with this group's --data, resolved once.
    func configuration(_ flags: NodeConfiguration.Flags = .init()) throws -> NodeConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["BRANCHDESK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let file = try path.map { path throws(ConfigError) in try ConfigFile(path: path) }
        var flags = flags
        flags.data = data
        return try NodeConfiguration(file: file, environment: environment, flags: flags)
    }

    /// The directory, or a usage error that says how to give one.
    func directory() throws -> String {
        guard let directory = try configuration().dataDirectory else {
            throw ValidationError("no data directory: give --data DIR, set BRANCHDESK_DATA, or 'data' in the --config file")
        }
        return directory
    }

    /// The node, opened to change it: an older schema is migrated first.
    func openStore() throws -> NodeStore { try NodeStore.open(in: directory()) }

    /// The node, opened only to read it: nothing is created, migrated or rewritten.
    func readStore() throws -> NodeStore { try NodeStore.open(in: directory(), access: .readOnly) }
}

/// `--by NAME`: who is making the change, for the history.
struct ActorOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Who is doing this (default: $BRANCHDESK_USER, else $USER).", valueName: "name"))
    var by: String?

    var actor: String {
        let environment = ProcessInfo.processInfo.environment
        if let named = [by, environment["BRANCHDESK_USER"]].compactMap({ $0?.trimmingWhitespace() }).first(where: { !$0.isEmpty }) {
            return named
        }
        _ = Self.unnamedActorWarning
        return Self.fallbackActor
    }

    /// The name an edit is recorded under when no one said who makes it: the login, else `unknown`.
    private static let fallbackActor: String = {
        let login = ProcessInfo.processInfo.environment["USER"]?.trimmingWhitespace() ?? ""
        return login.isEmpty ? "unknown" : login
    }()

    /// Said once per command, on stderr: the history would otherwise name nobody in particular.
    private static let unnamedActorWarning: Void = {
        FileHandle.standardError.write(
            Data(
                "warning: no --by NAME and no BRANCHDESK_USER: this is recorded as done by '\(fallbackActor)'; set BRANCHDESK_USER to the clerk's name (e.g. in their shell profile) or pass --by NAME\n"
                    .utf8))
    }()
}

/// `--show-personal`: lists mask customers' phone numbers unless asked not to.
struct PersonalDataOptions: ParsableArguments {
    @Flag(name: .customLong("show-personal"), help: "Show customers' phone numbers in full (they are masked by default).")
    var showPersonal = false

    func apply(to tickets: [TicketSummary]) -> [TicketSummary] {
        showPersonal ? tickets : tickets.map { $0.maskingPersonalData() }
    }
}

/// `--json` for machine output.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}

extension Channel: ExpressibleByArgument {}
extension Category: ExpressibleByArgument {}
extension ComplaintKind: ExpressibleByArgument {}
extension Severity: ExpressibleByArgument {}
extension Stage: ExpressibleByArgument {}
extension Transition: ExpressibleByArgument {}
extension NodeRole: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

extension HostPort: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension EscalationLevel: ExpressibleByArgument {
    public init?(argument: String) {
        guard let level = EscalationLevel.allCases.first(where: { $0.name == argument }) else { return nil }
        self = level
    }

    public static var allValueStrings: [String] { allCases.filter { $0 != .none }.map(\.name) }
}

extension Field: ExpressibleByArgument {}

extension CalendarDay: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// `--body-file FILE`, or `-` for standard input: text too long for a command line (which the
/// shell limits to about 128 KiB), read up to the limit of one edit.
struct BodyFileOptions: ParsableArguments {
    @Option(
        name: .customLong("body-file"),
        help: ArgumentHelp("Read the text from this file ('-' reads standard input) instead of the command line.", valueName: "file"))
    var bodyFile: String?

    /// The file's text, or a clear error: missing, not UTF-8, or over one edit's limit.
    func read() throws -> String? {
        guard let path = bodyFile else { return nil }
        let name = path == "-" ? "standard input" : path
        guard let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path) else {
            throw ValidationError("cannot read --body-file \(path): no such readable file; give the path of a text file, or - for standard input")
        }
        let data = try handle.readToEnd(upToCount: Op.maxChangesBytes + 1)
        guard data.count <= Op.maxChangesBytes else {
            throw DomainError(
                "\(name) holds more than \(Op.maxChangesBytes / 1024) KiB of text; one edit may carry at most \(Op.maxChangesBytes / 1024) KiB: shorten it, or split it into several notes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DomainError("\(name) is not UTF-8 text: save it as UTF-8 (e.g. iconv -f GB18030 -t UTF-8) and try again")
        }
        return text
    }
}

extension FileHandle {
    /// Reads until end of file or `limit` bytes, whichever comes first.
    func readToEnd(upToCount limit: Int) throws -> Data {
        var data = Data()
        while data.count < limit, let chunk = try read(upToCount: limit - data.count), !chunk.isEmpty { data += chunk }
        return data
    }
}
