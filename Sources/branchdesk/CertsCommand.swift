import ArgumentParser
import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketModel
import TicketStore

/// `branchdesk certs …`: the company CA and node certificates, without any OpenSSL command line.
struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the company CA and issue node certificates.",
        subcommands: [CreateCA.self, CreateNode.self, List.self, Renew.self, Install.self, Revoke.self, Revoked.self]
    )

    struct CreateCA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-ca",
            abstract: "Create the company CA (ca.pem, and ca-key.pem readable by its owner only) in a new folder.",
            discussion: "Keep ca-key.pem offline: whoever holds it can issue certificates for any node.")

        @Option(help: ArgumentHelp("The certificates folder.", valueName: "dir"))
        var certs: String

        func run() async throws {
            try CertificateAuthority.createCA(in: certs)
            print("created the company CA in \(certs): \(CertificateAuthority.caCertificateFile) (give it to every node), \(CertificateAuthority.caKeyFile) (keep it offline)")
        }
    }

    struct CreateNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-node",
            abstract: "Issue a node's key and certificate, signed by the company CA, carrying its id and role.")

        @Option(help: ArgumentHelp("The certificates folder holding the CA.", valueName: "dir"))
        var certs: String

        @Option(name: .customLong("node-id"), help: "The node's id, e.g. sh-pudong-012 or hq.")
        var nodeID: String

        @Option(help: "hq or branch.")
        var role: NodeRole

        @Option(help: "How many days the certificate stays valid.")
        var days = 397

        func validate() throws {
            do { _ = try NodeID(nodeID) } catch { throw ValidationError(error.message) }
            guard (1...3650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
        }

        func run() async throws {
            let id = try NodeID(nodeID)
            try CertificateAuthority.issueNode(in: certs, id: id, role: role, validFor: days)
            let files = CertificateAuthority.nodeFiles(id)
            print("issued \(role.rawValue) node \(id): \(certs)/\(files.certificate) and \(certs)/\(files.key), valid for \(days) days; pass --certs \(certs) to 'branchdesk init'")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List the node certificates in a certificates folder: id, role, expiry, serial.")

        @Option(help: ArgumentHelp("The certificates folder.", valueName: "dir"))
        var certs: String

        @OptionGroup var output: OutputOptions

        struct Row: Encodable {
            let nodeID: String
            let role: String
            let notValidAfter: Date
            let daysLeft: Int
            let serial: String
        }

        func run() async throws {
            let now = Date()
            let rows = try CertificateAuthority.nodeCertificates(in: certs).map {
                Row(nodeID: $0.nodeID.rawValue, role: $0.role.rawValue, notValidAfter: $0.notValidAfter,
                    daysLeft: Int($0.notValidAfter.timeIntervalSince(now) / 86_400), serial: $0.serial)
            }
            if output.json { return try Output.json(rows) }
            guard !rows.isEmpty else { return print("no node certificates in \(certs)") }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            print(Output.table([["NODE", "ROLE", "NOT AFTER", "DAYS LEFT", "SERIAL"]] + rows.map {
                [$0.nodeID, $0.role, formatter.string(from: $0.notValidAfter), $0.daysLeft < 0 ? "expired" : String($0.daysLeft), $0.serial]
            }))
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "renew",
            abstract: "Reissue a node's key and certificate with the same id and role (the old pair is kept as *.replaced).",
            discussion: "Then install it on the node with 'branchdesk certs install' and restart its 'serve'. The node keeps its identity and data.")

        @Option(help: ArgumentHelp("The certificates folder holding the CA.", valueName: "dir"))
        var certs: String

        @Option(name: .customLong("node-id"), help: "The node whose certificate to renew.")
        var nodeID: String

        @Option(help: "How many days the new certificate stays valid.")
        var days = 397

        func validate() throws {
            do { _ = try NodeID(nodeID) } catch { throw ValidationError(error.message) }
            guard (1...3650).contains(days) else { throw ValidationError("--days must be between 1 and 3650") }
        }

        func run() async throws {
            let renewed = try CertificateAuthority.renewNode(in: certs, id: NodeID(nodeID), validFor: days)
            print("renewed \(renewed.role.rawValue) node \(renewed.nodeID): serial \(renewed.serial), valid for \(days) days; install it with 'branchdesk certs install --data DIR --certs \(certs)'")
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install this node's (renewed) certificate and key, and the CA, from a certificates folder.",
            discussion: "The certificate must carry this node's id and role. A running 'serve' uses it after a restart.")

        @OptionGroup var data: DataOptions

        @Option(help: ArgumentHelp("The certificates folder.", valueName: "dir"))
        var certs: String

        func run() async throws {
            let store = try data.openStore()
            let installed = try NodeCertificates.install(
                from: certs, nodeID: store.identity.nodeID, role: store.identity.role, into: try data.directory())
            print("installed the certificate of \(installed.identity.nodeID): serial \(installed.identity.serial), valid until \(installed.identity.notValidAfter)")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Refuse a certificate from now on: at the next handshake, and in live sessions within seconds.",
            discussion: "Run it on HQ (and on branches, to revoke an HQ certificate). --list imports serials from a file, one per line.")

        @OptionGroup var data: DataOptions

        @Option(help: "The serial to revoke, as 'certs list' shows it.") var serial: String?
        @Option(help: ArgumentHelp("The certificate file to revoke.", valueName: "file")) var certificate: String?
        @Option(help: ArgumentHelp("A file of serials to revoke, one per line ('#' starts a comment).", valueName: "file")) var list: String?
        @Option(help: "Why, for the record.") var reason = "revoked by the admin"

        func validate() throws {
            guard [serial, certificate, list].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --serial S, --certificate FILE or --list FILE")
            }
        }

        func run() async throws {
            let store = try data.openStore()
            var revoked: [(serial: String, node: String?)] = []
            if let serial { revoked = [(serial, nil)] }
            if let certificate {
                let identity = try CertificateIdentity(pemFile: certificate)
                revoked = [(identity.serial, identity.nodeID.rawValue)]
            }
            if let list {
                let text = try String(contentsOfFile: list, encoding: .utf8)
                revoked = text.split(whereSeparator: \.isNewline).compactMap { line in
                    let serial = String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]).trimmingWhitespace()
                    return serial.isEmpty ? nil : (serial, nil)
                }
            }
            for (serial, node) in revoked { try await store.revokeCertificate(serial: serial, nodeID: node, reason: reason) }
            print("revoked \(revoked.count) certificate\(revoked.count == 1 ? "" : "s") on \(store.identity.nodeID): \(revoked.map(\.serial).joined(separator: ", "))")
        }
    }

    struct Revoked: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoked", abstract: "List the certificates this node refuses.")

        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let revoked = try await data.readStore().revokedCertificates()
            if output.json { return try Output.json(revoked) }
            guard !revoked.isEmpty else { return print("no revoked certificates") }
            print(Output.table([["SERIAL", "NODE", "REVOKED", "REASON"]] + revoked.map {
                [$0.serial, $0.nodeID ?? "", Output.time(Date(timeIntervalSince1970: Double($0.revokedAt) / 1000), zone: "UTC"), $0.reason]
            }))
        }
    }
}
