import Crypto
import Foundation
import SwiftASN1
import SyncWire
import TicketModel
import X509

/// Why a certificate operation failed, said for the admin.
public struct CertificateError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The company CA and the node certificates it issues, as PEM files in one folder.
///
/// A node certificate carries the node id as its subject common name and the role as its
/// organisational unit; peers take both from the certificate, never from what a message claims.
public enum CertificateAuthority {
    public static let caCertificateFile = "ca.pem"
    public static let caKeyFile = "ca-key.pem"

    /// The certificate and key files of node `id` in a certificates folder.
    public static func nodeFiles(_ id: NodeID) -> (certificate: String, key: String) { ("\(id).pem", "\(id)-key.pem") }

    /// Creates the company CA in `directory`, refusing to replace an existing one.
    public static func createCA(in directory: String, name: String = "Branchdesk company CA", now: Date = Date()) throws {
        let folder = URL(fileURLWithPath: directory)
        guard !FileManager.default.fileExists(atPath: folder.appendingPathComponent(caKeyFile).path) else {
            throw CertificateError("\(directory) already holds a CA key; refusing to replace it (a new CA would orphan every node certificate)")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(20 * 365 * 86_400),
            issuer: subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        try write(key.pemRepresentation, to: folder.appendingPathComponent(caKeyFile), privateKey: true)
        try write(certificate.serializeAsPEM().pemString, to: folder.appendingPathComponent(caCertificateFile), privateKey: false)
    }

    /// Issues node `id`'s key and certificate, signed by the CA in `directory`.
    public static func issueNode(
        in directory: String,
        id: NodeID,
        role: NodeRole,
        validFor days: Int = 397,
        now: Date = Date()
    ) throws {
        let folder = URL(fileURLWithPath: directory)
        let (caCertificate, caKey) = try loadCA(from: directory)
        guard !FileManager.default.fileExists(atPath: folder.appendingPathComponent(nodeFiles(id).key).path) else {
            throw CertificateError("\(directory) already holds a key for \(id); refusing to replace it (remove both files to reissue)")
        }
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            CommonName(id.rawValue)
            OrganizationalUnitName(role.rawValue)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName(id.rawValue)])
            },
            issuerPrivateKey: .init(caKey))
        let files = nodeFiles(id)
        try write(key.pemRepresentation, to: folder.appendingPathComponent(files.key), privateKey: true)
        try write(certificate.serializeAsPEM().pemString, to: folder.appendingPathComponent(files.certificate), privateKey: false)
    }

    /// Reissues node `id`'s key and certificate with the same id and role, replacing the files.
    /// The node keeps its identity and data; install the new files with `certs install`.
    public static func renewNode(in directory: String, id: NodeID, validFor days: Int = 397, now: Date = Date()) throws
        -> CertificateIdentity
    {
        let folder = URL(fileURLWithPath: directory)
        let files = nodeFiles(id)
        let certificate = folder.appendingPathComponent(files.certificate)
        guard let current = try? CertificateIdentity(pemFile: certificate.path) else {
            throw CertificateError("\(directory) holds no certificate for \(id) to renew: issue one with 'branchdesk certs create-node'")
        }
        // The replaced pair is kept beside the new one until the admin removes it (its serial can still be revoked).
        let moves = [files.certificate, files.key].map {
            (folder.appendingPathComponent($0), folder.appendingPathComponent($0 + ".replaced"))
        }
        for (file, kept) in moves {
            try? FileManager.default.removeItem(at: kept)
            try FileManager.default.moveItem(at: file, to: kept)
        }
        do {
            try issueNode(in: directory, id: id, role: current.role, validFor: days, now: now)
        } catch {
            for (file, kept) in moves { try? FileManager.default.moveItem(at: kept, to: file) }
            throw error
        }
        return try CertificateIdentity(pemFile: folder.appendingPathComponent(files.certificate).path)
    }

    /// The node certificates in a certificates folder, by node id.
    public static func nodeCertificates(in directory: String) throws -> [CertificateIdentity] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        return try names.filter { $0.hasSuffix(".pem") && !$0.hasSuffix("-key.pem") && $0 != caCertificateFile }.sorted().map {
            try CertificateIdentity(pemFile: URL(fileURLWithPath: directory).appendingPathComponent($0).path)
        }
    }

    static func loadCA(from directory: String) throws -> (Certificate, P256.Signing.PrivateKey) {
        let folder = URL(fileURLWithPath: directory)
        do {
            let certificate = try Certificate(
                pemEncoded: String(contentsOf: folder.appendingPathComponent(caCertificateFile), encoding: .utf8))
            let key = try P256.Signing.PrivateKey(
                pemRepresentation: String(contentsOf: folder.appendingPathComponent(caKeyFile), encoding: .utf8))
            return (certificate, key)
        } catch {
            throw CertificateError(
                "cannot read the CA in \(directory) (\(caCertificateFile), \(caKeyFile)): run 'branchdesk certs create-ca --certs \(directory)' first")
        }
    }

    /// Writes a PEM file; private keys are readable by their owner only (0600) from the start.
    private static func write(_ text: String, to url: URL, privateKey: Bool) throws {
        let path = url.path
        guard FileManager.default.createFile(
            atPath: path, contents: Data((text.hasSuffix("\n") ? text : text + "\n").utf8),
            attributes: [.posixPermissions: privateKey ? 0o600 : 0o644])
        else { throw CertificateError("cannot write \(path): check that the folder is writable") }
    }
}

extension CertificateIdentity {
    /// Reads the node id (common name) and role (organisational unit) of a node certificate.
    public init(_ certificate: Certificate) throws {
        var commonName: String?
        var unit: String?
        for rdn in certificate.subject {
            for attribute in rdn {
                if attribute.type == .RDNAttributeType.commonName { commonName = String(attribute.value) }
                if attribute.type == .RDNAttributeType.organizationalUnitName { unit = String(attribute.value) }
            }
        }
        guard let commonName, let id = try? NodeID(commonName) else {
            throw CertificateError("the certificate's common name is not a node id")
        }
        guard let unit, let role = NodeRole(rawValue: unit) else {
            throw CertificateError("the certificate of \(commonName) names no role (hq or branch)")
        }
        self.init(
            nodeID: id, role: role, notValidAfter: certificate.notValidAfter,
            serial: certificate.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
    }

    public init(derEncoded bytes: [UInt8]) throws {
        try self.init(Certificate(derEncoded: bytes))
    }

    public init(pemFile path: String) throws {
        try self.init(Certificate(pemEncoded: String(contentsOfFile: path, encoding: .utf8)))
    }
}
