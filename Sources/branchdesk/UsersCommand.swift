import ArgumentParser
import Foundation
import Replication
import TicketModel
import TicketStore

extension AccountRole: ExpressibleByArgument {}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "The accounts that log in to this node's web console (local to the node, never replicated).",
        discussion: "A password is read from the terminal without echo, or from standard input; never from a flag.",
        subcommands: [AddUser.self, ListUsers.self, ChangePassword.self, DisableUser.self, EnableUser.self]
    )
}

struct AddUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an account; its name is the actor on its edits.")

    @OptionGroup var data: DataOptions
    @Argument(help: "The login and the name in the history, e.g. 王芳.") var name: String
    @Option(help: "clerk, supervisor (approves), hq-officer or admin (manages accounts).") var role: AccountRole

    func run() async throws {
        let store = try data.openStore()
        let password = try PasswordInput.read(for: name)
        let account = try await store.addAccount(name, role: role, password: password)
        print("added \(account.name) (\(account.role.rawValue))")
    }
}

struct ListUsers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the accounts.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try data.readStore()
        let accounts = try await store.accounts()
        if output.json { return try Output.json(accounts) }
        guard !accounts.isEmpty else { return print("no accounts: add one with 'branchdesk users add NAME --role clerk'") }
        let zone = store.identity.timeZone
        let now = Date()
        let rows = accounts.map { account -> [String] in
            let state =
                account.disabled ? "disabled"
                : account.lockedUntil.map { $0 > now ? "locked until \(Output.time($0, zone: zone))" : "active" } ?? "active"
            return [account.name, account.role.rawValue, state, Output.time(account.createdAt, zone: zone), Output.time(account.passwordChangedAt, zone: zone)]
        }
        print(Output.table([["NAME", "ROLE", "STATE", "CREATED", "PASSWORD SET"]] + rows))
    }
}

struct ChangePassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set an account's password (it also unlocks it).")

    @OptionGroup var data: DataOptions
    @Argument(help: "The account.") var name: String

    func run() async throws {
        let store = try data.openStore()
        try await store.setPassword(of: name, to: try PasswordInput.read(for: name))
        print("password of \(name) changed")
    }
}

struct DisableUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Stop an account from logging in.")

    @OptionGroup var data: DataOptions
    @Argument(help: "The account.") var name: String

    func run() async throws {
        try await data.openStore().setAccount(name, disabled: true)
        print("\(name) is disabled")
    }
}

struct EnableUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a disabled account log in again.")

    @OptionGroup var data: DataOptions
    @Argument(help: "The account.") var name: String

    func run() async throws {
        try await data.openStore().setAccount(name, disabled: false)
        print("\(name) is enabled")
    }
}

/// A new password: typed twice on a terminal without echo, or one line of standard input.
enum PasswordInput {
    static func read(for name: String) throws -> String {
        guard isatty(STDIN_FILENO) != 0 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("no password on standard input: pipe one line, or run this on a terminal to type it")
            }
            return line
        }
        let first = try typed("password for \(name): ")
        guard try typed("again: ") == first else { throw ValidationError("the two passwords differ; nothing was changed") }
        return first
    }

    /// One line typed with echo off, restored whatever happens.
    private static func typed(_ prompt: String) throws -> String {
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password typed; nothing was changed") }
        return line
    }
}
