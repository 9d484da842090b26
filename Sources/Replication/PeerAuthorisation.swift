import TicketModel

/// The rights a peer's certificate grants, and what the peer is known to hold.
public struct PeerGrant: Sendable, Equatable {
    public let nodeID: NodeID
    public let role: NodeRole
    /// The ops the peer has acknowledged holding (its hello vector, then its acks).
    public let holds: VersionVector
    /// A branch reading HQ's feed: the entries of it acknowledged so far; the ops they name are
    /// held too.
    public let feedPosition: UInt64?

    public init(nodeID: NodeID, role: NodeRole, holds: VersionVector, feedPosition: UInt64? = nil) {
        self.nodeID = nodeID
        self.role = role
        self.holds = holds
        self.feedPosition = feedPosition
    }

    /// Whether the peer is known to hold op `id`.
    func holds(_ id: OpID, in lookup: inout some AuthorisationLookup) throws -> Bool {
        if holds.contains(id) { return true }
        guard let feedPosition, let position = try lookup.feedPosition(of: id, for: nodeID) else { return false }
        return position <= feedPosition
    }
}

/// A batch refused because one op is outside the sending peer's rights; nothing of it is applied.
public struct AuthorisationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let op: OpID
    public let rule: String
    /// Whether the op claims an origin the peer may not push for: the peer is at fault
    /// (`UNAUTHORIZED`). Otherwise the op itself breaks a rule and never will pass as it is
    /// (`OP_REJECTED`, SYNC.md §6.2): its origin withdraws it.
    public let forgesOrigin: Bool

    public init(op: OpID, rule: String, forgesOrigin: Bool = false) {
        self.op = op
        self.rule = rule
        self.forgesOrigin = forgesOrigin
    }

    public var description: String { "op \(op.origin)#\(op.seq) refused: \(rule); the batch was refused and nothing of it applied" }
}

/// What the authorisation rules read of the receiving replica, inside the transaction that applies
/// the batch. Each store gives its own.
public protocol AuthorisationLookup {
    /// The ticket's committed document; nil if no op of it was applied here.
    mutating func document(_ id: TicketID) throws -> TicketDocument?
    /// An op this replica holds; nil if it holds none with that id.
    mutating func op(_ id: OpID) throws -> Op?
    /// Where op `id` stands in the feed HQ keeps for `branch`; nil if the feed does not hold it.
    mutating func feedPosition(of id: OpID, for branch: NodeID) throws -> UInt64?
}

/// The receiver's rules, checked for every op of a batch inside the transaction that applies it,
/// by every store alike:
///
/// - No op may carry a control character in its text (`TypedText`), nor a value its field's
///   rules refuse (`Op.invalidValue`: the rules a local edit passes), nor a change its action
///   does not make (`Op.invalidAction`, the table of PAYLOAD.md).
/// - HQ may write anything else, and only HQ writes the company settings (policy, calendar) and
///   decisions with HQ's authority (the approval of a major complaint).
/// - A branch may push only ops it made itself, only for tickets it handles (opened there, or
///   transferred to it by HQ), and may not transfer tickets.
/// - One grace: an edit of a ticket the branch handled until HQ transferred it away is accepted
///   while the branch has not yet received that transfer (by its vector, or its place in HQ's
///   feed). The branch made it in good faith, and
///   since its later ops cannot skip it, refusing it would stop the branch's sync for good.
public struct PeerAuthorisation {
    public let grant: PeerGrant
    private var owners: [TicketID: TicketDocument?] = [:]

    public init(_ grant: PeerGrant) {
        self.grant = grant
    }

    /// Throws for the first op of `batch` outside the grant.
    public mutating func check(_ batch: [Op], in lookup: inout some AuthorisationLookup) throws {
        for op in batch {
            if grant.role == .branch, op.id.origin != grant.nodeID {
                throw AuthorisationRefusal(
                    op: op.id, rule: "its origin is \(op.id.origin), but branch \(grant.nodeID) may push only its own ops", forgesOrigin: true)
            }
            if let forbidden = op.forbiddenText ?? op.invalidValue ?? op.invalidAction { throw AuthorisationRefusal(op: op.id, rule: forbidden) }
        }
        guard grant.role == .branch else { return }
        for op in batch {
            if op.changes.contains(where: { if case .write(.branch, _, _) = $0 { true } else { false } }) {
                throw AuthorisationRefusal(op: op.id, rule: "only HQ may transfer a ticket to another branch")
            }
            if op.changes.contains(where: { if case .write(.approval, .approval(let record), _) = $0 { record.authority == .hq } else { false } }) {
                throw AuthorisationRefusal(op: op.id, rule: "a branch may not record a decision with HQ's authority")
            }
            if op.ticket == .companySettings {
                throw AuthorisationRefusal(op: op.id, rule: "only HQ sets the company's service-level policy and calendar")
            }
            try checkTicket(of: op, &lookup)
        }
    }

    private mutating func checkTicket(of op: Op, _ lookup: inout some AuthorisationLookup) throws {
        if owners[op.ticket] == nil { owners[op.ticket] = try lookup.document(op.ticket) }
        guard let document = owners[op.ticket] ?? nil else {
            // A ticket this node has not seen: the branch may only be opening one of its own.
            guard op.ticket.origin == grant.nodeID else {
                throw AuthorisationRefusal(op: op.id, rule: "ticket \(op.ticket) was not opened at \(grant.nodeID)")
            }
            return
        }
        if document.owner == grant.nodeID { return }
        if try transferNotYetReceived(op, document, &lookup) { return }
        throw AuthorisationRefusal(
            op: op.id,
            rule: "ticket \(document.intake?.number ?? op.ticket.description) is handled by \(document.owner), not \(grant.nodeID)")
    }

    /// Whether the branch made `op` without having received the ticket's current transfer, and
    /// handled the ticket before it: the transfer is not among what it acknowledged holding, or
    /// `op` is older than the transfer by its clock (a node that receives an op moves its clock
    /// past it, so an op made after receiving the transfer is later than it).
    private func transferNotYetReceived(_ op: Op, _ document: TicketDocument, _ lookup: inout some AuthorisationLookup) throws -> Bool {
        guard let register = document.registers[.branch] else { return false }
        var unseen = false
        for id in register.frontierIDs {
            if try !grant.holds(id, in: &lookup) { unseen = true }
            if !unseen, let transfer = try lookup.op(id), op.hlc < transfer.hlc { unseen = true }
        }
        guard unseen else { return false }
        if document.id.origin == grant.nodeID { return true }
        for id in register.seen {
            for case .write(.branch, let value, _) in try lookup.op(id)?.changes ?? [] where value.text == grant.nodeID.rawValue {
                return true
            }
        }
        return false
    }
}
