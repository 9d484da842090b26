import ArgumentParser
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

struct PeersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peers", abstract: "List, add or remove the nodes this node syncs with.",
        subcommands: [ListPeers.self, AddPeer.self, RemovePeer.self], defaultSubcommand: ListPeers.self)
}

struct ListPeers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the peers and their addresses.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let store = try data.readStore()
        let peers = try await store.status(now: Date()).peers
        if output.json {
            try Output.json(peers)
        } else if peers.isEmpty {
            print(store.identity.role == .hq ? "no peers: branches appear when they first connect" : "no peers: add headquarters with 'branchdesk peers add hq --address HOST:PORT'")
        } else {
            var rows = [["PEER", "ROLE", "ADDRESS", "STATE", "LAST SYNC"]]
            for peer in peers {
                let lastSync = peer.lastSyncAt.map { Output.time($0, zone: store.identity.timeZone) } ?? "never"
                rows.append([peer.nodeID, peer.role, peer.address ?? "-", peer.state, lastSync])
            }
            print(Output.table(rows))
        }
    }
}

struct AddPeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "At HQ: register a branch expected to connect. At a branch: set the HQ it dials.",
        discussion: """
            A branch added at HQ shows in 'status' as never synced until its first session, so a branch \
            that never comes up is noticed. At a branch, the address takes effect at the next dial \
            (restart 'serve', or run 'sync --once'). The peer's certificate, not this list, decides \
            whether it is admitted.
            """)

    @OptionGroup var data: DataOptions
    @Argument(help: "The peer's node id (as in its certificate), e.g. sh-pudong-012 or hq.") var nodeID: String
    @Option(help: "HOST:PORT where the peer listens (required at a branch: where HQ is).") var address: String?

    func validate() throws {
        if let address, HostPort(address) == nil {
            throw ValidationError("--address '\(address)' is not HOST:PORT, e.g. hq.example.com:7420")
        }
    }

    func run() async throws {
        let store = try data.openStore()
        let record = try await store.addPeer(try NodeID(nodeID), address: address)
        print("peer \(record.nodeID) (\(record.role.rawValue))\(record.address.map { " at \($0)" } ?? "") added")
    }
}

struct RemovePeer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Forget a peer (at a branch: stop dialling HQ).",
        discussion: "A removed branch with a valid certificate reappears when it next connects: 'certs revoke' keeps it out.")

    @OptionGroup var data: DataOptions
    @Argument(help: "The peer's node id.") var nodeID: String

    func run() async throws {
        let store = try data.openStore()
        let record = try await store.removePeer(try NodeID(nodeID))
        var message = "peer \(record.nodeID) removed"
        if record.role == .branch { message += "; its certificate still admits it: 'branchdesk certs revoke' keeps it out" }
        print(message)
    }
}
