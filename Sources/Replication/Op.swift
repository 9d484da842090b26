import TicketModel

/// One atomic change made by a person at one node: the unit of replication.
///
/// An op carries the person's action (for the history) and the changes it makes, each of which
/// the merge rules apply independently of delivery order.
public struct Op: Hashable, Codable, Sendable {
    /// The most an op's changes may take, encoded: one edit carries at most this much text, so
    /// that every op fits in a sync frame with room to spare.
    public static let maxChangesBytes = 256 * 1024
    /// The most ops one batch may hold, on the wire (SYNC.md §4) and in one apply: it bounds how
    /// long a remote batch holds the write lock.
    public static let maxBatchCount = 5_000

    public let id: OpID
    public let hlc: HLCTimestamp
    public let ticket: TicketID
    /// Who did it (the clerk's name), for the history.
    public let actor: String
    /// What the person asked for, e.g. `open`, `update`, `reply`.
    public let action: String
    public let changes: [Change]

    public init(id: OpID, hlc: HLCTimestamp, ticket: TicketID, actor: String, action: String, changes: [Change]) {
        self.id = id
        self.hlc = hlc
        self.ticket = ticket
        self.actor = actor
        self.action = action
        self.changes = changes
    }

    /// The total order of last-writer-wins: HLC, ties broken by origin (then seq, never needed in
    /// practice but it keeps the order total even for a misbehaving node).
    public var stamp: Stamp { Stamp(hlc: hlc, op: id) }
}

/// The total order of writes: `(hlc, origin, seq)`.
public struct Stamp: Hashable, Comparable, Codable, Sendable {
    public let hlc: HLCTimestamp
    public let op: OpID

    public init(hlc: HLCTimestamp, op: OpID) {
        self.hlc = hlc
        self.op = op
    }

    public static func < (lhs: Stamp, rhs: Stamp) -> Bool { (lhs.hlc, lhs.op) < (rhs.hlc, rhs.op) }
}

/// One effect of an op on its ticket, each with its own merge rule (DESIGN §3).
public enum Change: Hashable, Codable, Sendable {
    /// The set-once intake record; only the opening op carries it.
    case intake(Intake)
    /// A last-writer-wins register write that names the writes of that field it had seen.
    case write(field: Field, value: RegisterValue, seen: [OpID])
    /// The lifecycle max-register, with the transition that led there (for the history).
    case status(Status, transition: Transition?)
    /// The escalation max-register.
    case escalation(Escalation)
    /// An append-only entry, keyed by the op id and its position in the op.
    case entry(Entry)
    /// An add to an add-wins set.
    case add(SetField, element: String)
    /// A remove from an add-wins set: removes the adds it had observed, never a concurrent one.
    case remove(SetField, element: String, observed: [OpID])
}
