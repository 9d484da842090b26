import ArgumentParser
import Foundation
import Replication
import SyncTransport
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
        let conflicts = try await data.openStore().conflicts()
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

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the node and its replication state.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    /// One peer as `status` shows it.
    struct PeerStatus: Encodable {
        let record: PeerRecord
        let opsWaitingToSend: UInt64
        let opsWaitingToReceive: UInt64
    }

    /// This node's own certificate.
    struct CertificateStatus: Encodable {
        let serial: String
        let notValidAfter: Date
        let daysLeft: Int
        /// Set when it expires within 30 days (or has expired).
        let warning: String?
    }

    struct Status: Encodable {
        let node: NodeOverview
        let certificate: CertificateStatus?
        let hqAddress: String?
        let peers: [PeerStatus]
    }

    static func certificateStatus(in directory: String, now: Date = Date()) -> CertificateStatus? {
        guard let identity = try? NodeCertificates.load(from: directory).identity else { return nil }
        let daysLeft = Int(identity.notValidAfter.timeIntervalSince(now) / 86_400)
        let warning: String? =
            identity.notValidAfter < now
            ? "this node's certificate has expired: peers refuse it; renew it ('branchdesk certs renew' where the CA is, then 'branchdesk certs install')"
            : daysLeft < 30
                ? "this node's certificate expires in \(daysLeft) days: renew it ('branchdesk certs renew' where the CA is, then 'branchdesk certs install')"
                : nil
        return CertificateStatus(serial: identity.serial, notValidAfter: identity.notValidAfter, daysLeft: daysLeft, warning: warning)
    }

    func run() async throws {
        let store = try data.openStore()
        let overview = try await store.overview()
        let local = try await store.versionVector()
        let ownOrigin = store.identity.role == .branch ? store.identity.nodeID : nil
        let peers = try await store.peers().map { peer in
            PeerStatus(
                record: peer, opsWaitingToSend: peer.opsWaitingToSend(from: local, only: ownOrigin),
                opsWaitingToReceive: peer.opsWaitingToReceive(into: local))
        }
        let certificate = Self.certificateStatus(in: try data.directory())
        let status = Status(node: overview, certificate: certificate, hqAddress: try await store.hqAddress(), peers: peers)
        if output.json {
            try Output.json(status)
            return
        }
        let vector = overview.vector.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        var rows = [
            ["node", "\(overview.nodeID) (\(overview.role), ticket code \(overview.branchCode))"],
            ["vector", vector.isEmpty ? "{}" : vector],
            ["ops", String(overview.ops)],
            ["tickets", "\(overview.tickets) (\(overview.openTickets) open)"],
            ["conflicts", String(overview.conflicts)],
        ]
        if let certificate {
            rows.append(["certificate", "serial \(certificate.serial), valid until \(Output.time(certificate.notValidAfter, zone: store.identity.timeZone)) (\(certificate.daysLeft) days)"])
        }
        if let hq = status.hqAddress { rows.append(["headquarters", hq]) }
        print(Output.table(rows))
        if let warning = certificate?.warning { print("warning: \(warning)") }
        guard !peers.isEmpty else {
            print(status.hqAddress == nil ? "\nno peers yet" : "\nno peers yet: this branch has not reached headquarters")
            return
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        var table = [["PEER", "ROLE", "STATE", "SINCE", "LAST SYNC", "TO SEND", "TO RECEIVE", "REFUSED", "LAST ERROR"]]
        for peer in peers {
            let record = peer.record
            table.append([
                record.nodeID.rawValue, record.role.rawValue, record.state.rawValue, Self.age(now, record.stateSince),
                record.lastSyncAt.map { Self.age(now, $0) } ?? "never", String(peer.opsWaitingToSend),
                String(peer.opsWaitingToReceive), String(record.refusals), record.lastError ?? "",
            ])
        }
        print("")
        print(Output.table(table))
    }

    /// "12s ago", "5m ago", "3h ago", "2d ago".
    static func age(_ now: UInt64, _ then: UInt64) -> String {
        let seconds = now > then ? (now - then) / 1000 : 0
        switch seconds {
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        case ..<86_400: return "\(seconds / 3600)h ago"
        default: return "\(seconds / 86_400)d ago"
        }
    }
}

struct DigestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "Print a digest of the materialised tickets: equal on replicas that hold the same ops.")

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    struct Digest: Encodable {
        let digest: String
        let vector: [String: UInt64]
    }

    func run() async throws {
        let store = try data.openStore()
        let digest = try await store.digest()
        let vector = try await store.versionVector()
        if output.json {
            try Output.json(Digest(digest: digest, vector: Dictionary(uniqueKeysWithValues: vector.seqs.map { ($0.key.rawValue, $0.value) })))
        } else {
            print("\(digest)  \(vector)")
        }
    }
}
