import Synchronization
import SyncWire
import TicketModel
import WireForms

/// Counts a server's connections and its sessions per peer, refusing what is over the limits, so
/// that one peer opening connections in a loop cannot crowd out the others.
final class SessionRegistry: Sendable {
    private let maxConnections: Int
    private let maxSessionsPerPeer: Int
    private let counts = Mutex<(connections: Int, sessions: [NodeID: Int])>((0, [:]))

    init(maxConnections: Int, maxSessionsPerPeer: Int) {
        self.maxConnections = maxConnections
        self.maxSessionsPerPeer = maxSessionsPerPeer
    }

    /// Takes a connection slot; false when the server is full.
    func connect() -> Bool {
        counts.withLock { state in
            guard state.connections < maxConnections else { return false }
            state.connections += 1
            return true
        }
    }

    func disconnect() { counts.withLock { $0.connections -= 1 } }

    /// Admits an identified peer's session.
    func enter(_ peer: CertificateIdentity) throws(WireError) {
        let admitted = counts.withLock { state in
            guard state.sessions[peer.nodeID, default: 0] < maxSessionsPerPeer else { return false }
            state.sessions[peer.nodeID, default: 0] += 1
            return true
        }
        // Not a refusal of the peer: a branch that crashed and redials may find its old session not
        // yet noticed as closed. It is told to try again, and its dialler does, with backoff.
        guard admitted else {
            throw WireError(
                .internal,
                "\(peer.nodeID) already has \(maxSessionsPerPeer) sessions open here (an earlier one may not be noticed as closed yet); try again shortly")
        }
    }

    func leave(_ peer: CertificateIdentity) {
        counts.withLock { state in
            state.sessions[peer.nodeID, default: 1] -= 1
            if state.sessions[peer.nodeID] == 0 { state.sessions[peer.nodeID] = nil }
        }
    }
}
