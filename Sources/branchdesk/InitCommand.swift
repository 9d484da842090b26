import ArgumentParser
import BranchdeskNode
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node in a new data directory (refuses to overwrite an existing node)."
    )

    @OptionGroup var data: DataOptions

    @Option(name: .customLong("node-id"), help: "The node's id, e.g. sh-pudong-012 or hq.")
    var nodeID: String

    @Option(help: "hq or branch.")
    var role: NodeRole

    @Option(help: "The branch code in ticket numbers, e.g. SH012 (default: the node id in capitals, without dashes).")
    var code: String?

    @Option(name: .customLong("time-zone"), help: "The branch's time zone, e.g. Asia/Shanghai (default: this machine's).")
    var timeZone: String?

    @Option(help: ArgumentHelp(
        "The certificates folder holding this node's certificate and the company CA (from 'branchdesk certs create-node'); needed to sync.",
        valueName: "dir"))
    var certs: String?

    @Option(help: ArgumentHelp("Where this branch dials headquarters.", valueName: "host:port"))
    var hq: HostPort?

    func validate() throws {
        do {
            _ = try NodeID(nodeID)
            if let code { _ = try BranchCode(code) }
        } catch {
            throw ValidationError(error.message)
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            throw ValidationError("unknown time zone '\(timeZone)': use an IANA name such as Asia/Shanghai")
        }
        if hq != nil {
            guard role == .branch else { throw ValidationError("--hq is for branches: headquarters does not dial itself") }
            guard certs != nil else { throw ValidationError("--hq needs --certs DIR: a branch syncs only over mutual TLS") }
        }
    }

    func run() async throws {
        let node = try NodeID(nodeID)
        let identity = NodeIdentity(
            nodeID: node, role: role, branchCode: try code.map { try BranchCode($0) } ?? BranchCode(defaultFor: node),
            timeZone: timeZone ?? TimeZone.current.identifier)
        let directory = try data.directory()
        _ = try await NodeProvisioning.create(in: directory, identity: identity, certificates: certs, hq: hq)
        var message = "initialised \(role.rawValue) node \(node) in \(directory); ticket numbers look like \(identity.branchCode.rawValue)-YYYYMMDD-0001"
        if let hq { message += "; it syncs with headquarters at \(hq)" }
        print(message)
    }
}
