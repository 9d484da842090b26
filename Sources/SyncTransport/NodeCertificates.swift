import Foundation
import NIOSSL
import SyncWire
import TicketModel

/// A node's TLS material, kept in its data directory (`tls/`) so the directory is the whole node:
/// the company CA certificate, the node's certificate and its private key (mode 0600).
public struct NodeCertificates: Sendable {
    public static let folder = "tls"
    static let caFile = "ca.pem"
    static let certificateFile = "node.pem"
    static let keyFile = "node-key.pem"

    /// Who the node's own certificate says it is.
    public let identity: CertificateIdentity
    let caPath: String
    let certificatePath: String
    let keyPath: String

    /// Copies node `id`'s certificate, key and the CA certificate from a certificates folder made
    /// by `certs create-node` into `dataDirectory/tls`, checking that they belong together.
    @discardableResult
    public static func install(from certificatesDirectory: String, nodeID id: NodeID, role: NodeRole, into dataDirectory: String)
        throws -> NodeCertificates
    {
        let source = URL(fileURLWithPath: certificatesDirectory)
        let names = CertificateAuthority.nodeFiles(id)
        let files = [
            (source.appendingPathComponent(CertificateAuthority.caCertificateFile), caFile, false),
            (source.appendingPathComponent(names.certificate), certificateFile, false),
            (source.appendingPathComponent(names.key), keyFile, true),
        ]
        for (url, _, _) in files where !FileManager.default.fileExists(atPath: url.path) {
            throw CertificateError(
                "\(url.path) is missing: run 'branchdesk certs create-node --certs \(certificatesDirectory) --node-id \(id) --role \(role)' first")
        }
        let identity = try CertificateIdentity(pemFile: source.appendingPathComponent(names.certificate).path)
        guard identity.nodeID == id, identity.role == role else {
            throw CertificateError(
                "the certificate in \(certificatesDirectory) is for \(identity.nodeID) (\(identity.role)), not \(id) (\(role))")
        }
        let target = URL(fileURLWithPath: dataDirectory).appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for (url, name, isKey) in files {
            let data = try Data(contentsOf: url)
            let path = target.appendingPathComponent(name).path
            guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: isKey ? 0o600 : 0o644])
            else { throw CertificateError("cannot write \(path): check that the data folder is writable") }
        }
        let installed = try load(from: dataDirectory)
        _ = try installed.serverContext()  // the key must match the certificate: fail now, not at the first connection
        return installed
    }

    /// The TLS material of the node in `dataDirectory`.
    public static func load(from dataDirectory: String) throws -> NodeCertificates {
        let folder = URL(fileURLWithPath: dataDirectory).appendingPathComponent(Self.folder)
        let certificates = NodeCertificates(
            identity: try {
                let path = folder.appendingPathComponent(certificateFile).path
                guard FileManager.default.fileExists(atPath: path) else {
                    throw CertificateError(
                        "this node has no certificate (\(path)): issue one with 'branchdesk certs create-node' and give the folder to 'branchdesk init --certs DIR'"
                    )
                }
                return try CertificateIdentity(pemFile: path)
            }(),
            caPath: folder.appendingPathComponent(caFile).path,
            certificatePath: folder.appendingPathComponent(certificateFile).path,
            keyPath: folder.appendingPathComponent(keyFile).path)
        return certificates
    }

    init(identity: CertificateIdentity, caPath: String, certificatePath: String, keyPath: String) {
        self.identity = identity
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }

    /// TLS 1.3 only; the peer must present a certificate signed by the company CA (and no other),
    /// valid now. Host names are not checked: the peer's identity is its certificate's node id.
    private func configure(_ configuration: inout TLSConfiguration) throws {
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
        configuration.certificateVerification = .noHostnameVerification
    }

    /// The TLS context for accepting peers.
    public func serverContext() throws -> NIOSSLContext {
        do {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
            try configure(&configuration)
            return try NIOSSLContext(configuration: configuration)
        } catch let error as CertificateError {
            throw error
        } catch {
            throw CertificateError("cannot use the TLS files in \(URL(fileURLWithPath: keyPath).deletingLastPathComponent().path): \(error)")
        }
    }

    /// The TLS context for dialling a peer.
    public func clientContext() throws -> NIOSSLContext {
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
            try configure(&configuration)
            return try NIOSSLContext(configuration: configuration)
        } catch let error as CertificateError {
            throw error
        } catch {
            throw CertificateError("cannot use the TLS files in \(URL(fileURLWithPath: keyPath).deletingLastPathComponent().path): \(error)")
        }
    }
}
