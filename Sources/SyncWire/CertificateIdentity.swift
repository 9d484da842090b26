import Foundation
import TicketModel

/// Who a peer's TLS certificate (signed by the company CA) says its holder is: the only source of
/// a peer's identity and rights.
public struct CertificateIdentity: Sendable, Equatable {
    public let nodeID: NodeID
    public let role: NodeRole
    public let notValidAfter: Date
    /// The certificate's serial number in lowercase hex, as revocations name it.
    public let serial: String

    public init(nodeID: NodeID, role: NodeRole, notValidAfter: Date, serial: String) {
        self.nodeID = nodeID
        self.role = role
        self.notValidAfter = notValidAfter
        self.serial = serial
    }
}
