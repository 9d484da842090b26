import Foundation
import SwiftProtobuf
import WireForms

/// What migration v5 reads of a stored document (`branchdesk.storage.v1.Document`, the form of
/// schemas v4 and v5): the node handling the ticket, with the rule of that time — the `branch`
/// register's winning write (the greatest stamp of its frontier), else the node that opened the
/// ticket. Frozen here so that changes to `TicketDocument` cannot change what the migration reads.
enum FrozenStoredDocument {
    static func owner(ofStored data: Data, ticket: String) throws -> String {
        let document = try Branchdesk_Storage_V1_Document(serializedBytes: data)
        let opener = String(ticket.prefix { $0 != ":" })
        guard let branch = document.registers.first(where: { $0.field == "branch" }),
            let winner = branch.frontier.max(by: { isBefore($0.stamp, $1.stamp) })
        else { return opener }
        guard case .text(let node) = winner.value.kind, !node.isEmpty else { return opener }
        return node
    }

    /// The total order of writes: (hlc, origin, seq).
    private static func isBefore(_ one: Branchdesk_Storage_V1_Stamp, _ other: Branchdesk_Storage_V1_Stamp) -> Bool {
        (one.hlc, one.op.origin, one.op.seq) < (other.hlc, other.op.origin, other.op.seq)
    }
}
