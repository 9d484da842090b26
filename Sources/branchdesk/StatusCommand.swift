import ArgumentParser
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the node and its replication: peers in trouble first, open SLA breaches, conflicts.",
        discussion: """
            Reads the database, so it works beside a running 'serve' without stopping it. A peer is in \
            trouble when it was refused, never synced, has been silent for over an hour, or is far \
            behind (an op unacknowledged for 15 minutes, or 10,000 ops waiting); the TROUBLE column \
            says which and why. Colour only when stdout is a terminal (and NO_COLOR is unset).
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    /// This node's own certificate.
    struct CertificateStatus: Encodable {
        let serial: String
        let notValidAfter: Date
        let daysLeft: Int
        /// Set when it expires within 30 days (or has expired).
        let warning: String?
    }

    struct Status: Encodable {
        let generatedAt: Date
        let node: NodeOverview
        let certificate: CertificateStatus?
        let hqAddress: String?
        let openBreaches: Int
        let timeZoneWarning: String?
        let peers: [PeerStatus]
    }

    static func certificateStatus(in directory: String, now: Date) -> CertificateStatus? {
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
        let store = try data.readStore()
        let now = Date()
        let node = try await store.status(now: now)
        let status = Status(
            generatedAt: now, node: node.node, certificate: Self.certificateStatus(in: try data.directory(), now: now),
            hqAddress: node.hqAddress, openBreaches: node.openBreaches, timeZoneWarning: node.timeZoneWarning, peers: node.peers)
        if output.json {
            try Output.json(status)
        } else {
            print(Self.render(status, zone: store.identity.timeZone, colour: Terminal.wantsColour))
        }
    }

    /// The status for a person: the node's facts, warnings, then one line per peer.
    static func render(_ status: Status, zone: String, colour: Bool) -> String {
        let overview = status.node
        let vector = overview.vector.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        var rows = [
            ["node", "\(overview.nodeID) (\(overview.role), ticket code \(overview.branchCode))"],
            ["vector", vector.isEmpty ? "{}" : vector],
            ["ops", String(overview.ops)],
            ["tickets", "\(overview.tickets) (\(overview.openTickets) open)"],
            ["conflicts", String(overview.conflicts) + (overview.conflicts > 0 ? "  (see 'branchdesk conflicts')" : "")],
            [
                "approval flags",
                String(overview.approvalIssues) + (overview.approvalIssues > 0 ? "  (replies or approvals to settle: 'branchdesk conflicts')" : ""),
            ],
            ["SLA breaches", String(status.openBreaches) + (status.openBreaches > 0 ? " open  (see 'branchdesk ticket list --overdue')" : " open")],
        ]
        if let certificate = status.certificate {
            rows.append([
                "certificate",
                "serial \(certificate.serial), valid until \(Output.time(certificate.notValidAfter, zone: zone)) (\(certificate.daysLeft) days)",
            ])
        }
        if let hq = status.hqAddress { rows.append(["headquarters", hq]) }
        var lines = [Output.table(rows)]
        for warning in [status.certificate?.warning, status.timeZoneWarning].compactMap({ $0 }) {
            lines.append(Terminal.paint("warning: \(warning)", .yellow, when: colour))
        }
        guard !status.peers.isEmpty else {
            lines.append(
                status.node.role == "hq"
                    ? "\nno branches yet: they appear when they first connect, or add them with 'branchdesk peers add NODE-ID'"
                    : "\nno headquarters: set its address with 'branchdesk peers add hq --address HOST:PORT'")
            return lines.joined(separator: "\n")
        }
        let now = status.generatedAt
        let age = { (date: Date?) in date.map { "\(NodeStore.duration(Self.millis(now, since: $0))) ago" } ?? "never" }
        var table = [["PEER", "ROLE", "STATE", "LAST SYNC", "TO SEND", "TO RECEIVE", "OLDEST UNACKED", "BREACHES", "TROUBLE"]]
        for peer in status.peers {
            table.append([
                peer.nodeID, peer.role, peer.state, age(peer.lastSyncAt), String(peer.opsToSend), String(peer.opsToReceive),
                peer.oldestUnackedAt.map { NodeStore.duration(Self.millis(now, since: $0)) } ?? "-",
                String(peer.openBreaches), peer.diagnosis ?? (peer.lastError.map { "last error: \($0)" } ?? ""),
            ])
        }
        let peerLines = Output.table(table).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.append("")
        lines.append(peerLines[0])
        for (peer, line) in zip(status.peers, peerLines.dropFirst()) {
            let tint: Terminal.Colour? =
                switch peer.troubles.first {
                case .stuckOp, .refused, .neverSynced, .silent: .red
                case .farBehind, .backingOff: .yellow
                case nil: peer.state == "live" ? .green : nil
                }
            lines.append(tint.map { Terminal.paint(line, $0, when: colour) } ?? line)
        }
        return lines.joined(separator: "\n")
    }

    private static func millis(_ now: Date, since then: Date) -> UInt64 {
        UInt64(max(0, now.timeIntervalSince(then) * 1000))
    }
}

/// What the terminal we print to can do.
enum Terminal {
    enum Colour: String {
        case red = "31", yellow = "33", green = "32"
    }

    /// Colour when stdout is a terminal and the user has not asked for none (https://no-color.org).
    static var wantsColour: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
    }

    static func paint(_ text: String, _ colour: Colour, when enabled: Bool) -> String {
        enabled ? "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m" : text
    }
}
