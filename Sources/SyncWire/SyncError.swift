import TicketModel
import WireForms

/// Why a sync session ended before it finished, said for the admin.
public struct SyncError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// One side refused the other: certificate, identity, protocol version or authorisation.
        case refused
        /// The peer broke the protocol, or we did and the peer said so.
        case protocolViolation
        /// The connection failed, closed or went silent.
        case linkLost
        /// The round ended but the peers do not yet hold each other's ops (e.g. clock skew refusals).
        case incomplete
    }

    public let kind: Kind
    public let message: String
    /// Whether the session had brought both sides level before it ended (the dialler then
    /// starts its backoff over).
    public internal(set) var hadSynced = false
    /// Whether the session already recorded this failure in the peer's record.
    public internal(set) var recorded = false
    /// The peer as its certificate names it, when the session got that far: for the log.
    public internal(set) var peer: NodeID?

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// What a log line of the session's end names: the address, the peer once known, the reason.
    public func logMetadata(address: String) -> [String: String] {
        var metadata = ["peer.address": address, "sync.error": message]
        if let peer { metadata["peer.id"] = peer.rawValue }
        return metadata
    }

    /// The kind of a wire error code, whichever side detected it.
    public static func kind(of code: Branchdesk_Sync_V1_ErrorCode) -> Kind {
        switch code {
        case .unsupportedVersion, .identityMismatch, .unauthorized, .opRejected: .refused
        case .shuttingDown, .internal, .timeout: .linkLost
        default: .protocolViolation
        }
    }
}
