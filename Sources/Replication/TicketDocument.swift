import TicketModel

/// The replicated state of one ticket: every field with the metadata its merge rule needs.
///
/// `apply(_:)` is *the* merge function: local edits and remote ops both go through it, and the
/// document it yields is a function of the set of ops applied, whatever their order or repetition.
public struct TicketDocument: Hashable, Codable, Sendable {
    public let id: TicketID
    /// The stamp of the opening op; nil while only later edits have arrived.
    public private(set) var opening: Stamp?
    /// The set-once intake record, written by the opening op only.
    public private(set) var intake: Intake?
    public private(set) var registers: [Field: Register] = [:]
    public private(set) var status: Status = .opened
    public private(set) var escalation: Escalation = .none
    public private(set) var sets: [SetField: ORSet] = [:]
    /// The greatest HLC of any op applied: when the ticket last changed.
    public private(set) var lastChange: HLCTimestamp = .zero

    public init(id: TicketID) {
        self.id = id
    }

    /// A document from its stored parts, as `apply(_:)` left them (the store's binary form).
    public init(
        id: TicketID, opening: Stamp?, intake: Intake?, registers: [Field: Register], status: Status,
        escalation: Escalation, sets: [SetField: ORSet], lastChange: HLCTimestamp
    ) {
        self.id = id
        self.opening = opening
        self.intake = intake
        self.registers = registers
        self.status = status
        self.escalation = escalation
        self.sets = sets
        self.lastChange = lastChange
    }

    /// Whether the opening op has arrived; a ticket is shown to people only once it has.
    public var isOpened: Bool { intake != nil }

    /// The value in force for `field`.
    public subscript(field: Field) -> RegisterValue? { registers[field]?.winner?.value }

    /// The text value of `field`, or "" when unset.
    public func text(_ field: Field) -> String { self[field]?.text ?? "" }

    public var severity: Severity { self[.severity]?.number.flatMap(Severity.init(rawValue:)) ?? .general }

    /// The escalation level in force in the current round.
    public var escalationLevel: EscalationLevel { escalation.level(inRound: status.round) }

    /// The node that handles the ticket: the one HQ transferred it to, else the one that opened it.
    public var owner: NodeID { (try? NodeID(text(.branch))) ?? id.origin }

    /// The elements of a set, sorted.
    public func elements(of set: SetField) -> [String] { sets[set]?.elements ?? [] }

    /// Whether some field's frontier holds concurrent writes (cheaper than `conflicts`).
    public var hasConflicts: Bool { registers.values.contains { $0.frontier.count > 1 } }

    /// The fields whose frontier holds concurrent writes, each with its winner and the overridden writes.
    public var conflicts: [FieldConflict] {
        registers.keys.sorted().compactMap { field in
            guard let register = registers[field], let winner = register.winner, !register.overridden.isEmpty
            else { return nil }
            return FieldConflict(ticket: id, field: field, winner: winner, overridden: register.overridden)
        }
    }

    /// Merges one op into the document and returns the append-only entries it carries.
    ///
    /// Structural checks that a hostile or buggy sender could break (an intake from a node that
    /// did not open the ticket) are resolved deterministically here, so every replica agrees.
    @discardableResult
    public mutating func apply(_ op: Op) -> [EntryRecord] {
        precondition(op.ticket == id, "op \(op.id) for ticket \(op.ticket) applied to ticket \(id)")
        var entries: [EntryRecord] = []
        lastChange = max(lastChange, op.hlc)
        for (index, change) in op.changes.enumerated() {
            switch change {
            case .intake(let intake):
                // Only the node that opened the ticket writes its intake; the earliest opening wins
                // should a misbehaving node ever send two.
                guard op.id.origin == id.origin, opening.map({ op.stamp <= $0 }) ?? true else { continue }
                opening = op.stamp
                self.intake = intake
            case .write(let field, let value, let seen):
                registers[field, default: Register()].apply(.init(stamp: op.stamp, value: value), seen: seen)
            case .status(let status, _):
                self.status = self.status.joined(with: status)
            case .escalation(let escalation):
                self.escalation = max(self.escalation, escalation)
            case .entry(let entry):
                entries.append(EntryRecord(op: op.id, index: index, hlc: op.hlc, actor: op.actor, entry: entry))
            case .add(let set, let element):
                sets[set, default: ORSet()].add(element, by: op.id)
            case .remove(let set, _, let observed):
                sets[set, default: ORSet()].remove(observed: observed)
            }
        }
        return entries
    }

    // MARK: Building local changes

    /// A write of `field` that has seen the whole current frontier, so it resolves any conflict.
    public func write(_ field: Field, _ value: RegisterValue) -> Change {
        .write(field: field, value: value, seen: registers[field]?.frontierIDs ?? [])
    }

    /// A remove of `element` that removes every add of it seen here.
    public func remove(_ element: String, from set: SetField) -> Change? {
        let observed = sets[set]?.liveAdds(of: element) ?? []
        return observed.isEmpty ? nil : .remove(set, element: element, observed: observed)
    }
}

/// A concurrent write to a field that lost to another without its writer having seen it.
public struct FieldConflict: Hashable, Sendable {
    public let ticket: TicketID
    public let field: Field
    public let winner: Register.Write
    public let overridden: [Register.Write]

    public init(ticket: TicketID, field: Field, winner: Register.Write, overridden: [Register.Write]) {
        self.ticket = ticket
        self.field = field
        self.winner = winner
        self.overridden = overridden
    }
}

/// An append-only entry as stored: keyed by its op and position in that op.
public struct EntryRecord: Hashable, Codable, Sendable {
    public let op: OpID
    public let index: Int
    public let hlc: HLCTimestamp
    public let actor: String
    public let entry: Entry

    public init(op: OpID, index: Int, hlc: HLCTimestamp, actor: String, entry: Entry) {
        self.op = op
        self.index = index
        self.hlc = hlc
        self.actor = actor
        self.entry = entry
    }
}
