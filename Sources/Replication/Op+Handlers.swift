import TicketModel

extension Op {
    /// The nodes this op hands its ticket to: the values it writes to the `branch` register (an
    /// empty value hands the ticket back to the node that opened it).
    ///
    /// A ticket's **handlers** are the node that opened it and every node a transfer named, won or
    /// not: they are the nodes that receive the ticket's ops (SYNC.md §5.5). Like every derived
    /// state they follow from the set of ops alone, so every replica agrees on them.
    public var transferTargets: Set<NodeID> {
        var targets: Set<NodeID> = []
        for case .write(.branch, let value, _) in changes {
            guard case .text(let text) = value else { continue }
            targets.insert(text.isEmpty ? ticket.origin : (try? NodeID(text)) ?? ticket.origin)
        }
        return targets
    }
}
