import Foundation
import Replication
import SyncTransport
import SyncWire
import TicketStore

/// Setting up a node's data directory — from nothing (`init`) or from a backup (`restore`) — all or
/// nothing: a node that could not be set up completely, with the certificates it was asked to
/// install, leaves nothing behind.
public enum NodeProvisioning {
    /// Creates a node in `directory`, which must not hold one: the certificates from
    /// `certificates` (checked against `identity` first: a node that cannot sync as configured is
    /// not created), the database, and the address of headquarters for a branch.
    public static func create(
        in directory: String, identity: NodeIdentity, certificates: String?, hq: HostPort?
    ) async throws -> NodeStore {
        // Before the certificates: those of an existing node are not to be overwritten either.
        try NodeStore.refuseExistingNode(in: directory)
        return try await allOrNothing(in: directory) {
            if let certificates {
                try NodeCertificates.install(from: certificates, nodeID: identity.nodeID, role: identity.role, into: directory)
            }
            let store = try NodeStore.create(in: directory, identity: identity)
            if let hq { try await store.setHQAddress(hq.description) }
            return store
        }
    }

    /// Creates a node in `directory` (which must not hold one) from a backup file, installing the
    /// certificates from `certificates` when given.
    public static func restore(from file: String, into directory: String, certificates: String?) async throws -> NodeStore {
        try await allOrNothing(in: directory) {
            let store = try NodeStore.restore(from: file, into: directory)
            if let certificates {
                try NodeCertificates.install(
                    from: certificates, nodeID: store.identity.nodeID, role: store.identity.role, into: directory)
            }
            return store
        }
    }

    /// Runs `body`; if it throws, removes what it wrote into `directory` — the database, the
    /// certificates, the folder itself — except what was there before.
    private static func allOrNothing<T>(in directory: String, _ body: () async throws -> T) async throws -> T {
        let files = FileManager.default
        let certificates = URL(fileURLWithPath: directory).appendingPathComponent(NodeCertificates.folder).path
        let folderExisted = files.fileExists(atPath: directory)
        let certificatesExisted = files.fileExists(atPath: certificates)
        do {
            return try await body()
        } catch {
            NodeStore.removeDatabase(in: directory)
            if !certificatesExisted { try? files.removeItem(atPath: certificates) }
            if !folderExisted { try? files.removeItem(atPath: directory) }
            throw error
        }
    }
}
