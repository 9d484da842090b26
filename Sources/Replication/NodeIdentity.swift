import TicketModel

/// Who this node is: fixed at `init`, read from the `node` table.
public struct NodeIdentity: Sendable, Equatable, Codable {
    public let nodeID: NodeID
    public let role: NodeRole
    /// The short code in this node's ticket numbers.
    public let branchCode: BranchCode
    /// The node's time zone (IANA name): ticket-number days and typed times are local to it.
    public let timeZone: String

    public init(nodeID: NodeID, role: NodeRole, branchCode: BranchCode, timeZone: String) {
        self.nodeID = nodeID
        self.role = role
        self.branchCode = branchCode
        self.timeZone = timeZone
    }
}

extension NodeIdentity {
    /// Whether this node may change a ticket handled by `node`: HQ any, a branch its own.
    public func mayChange(ticketHandledBy node: String) -> Bool { role == .hq || node == nodeID.rawValue }
}
