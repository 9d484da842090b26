import Replication
import SwiftProtobuf
import TicketModel

/// Conversions between the merge core's ops and their wire form. Decoding checks every value a
/// hostile peer could make up (ids, enum names, ranges) and says which op was malformed.
public typealias WireFrame = Branchdesk_Sync_V1_Frame

extension Op {
    /// The wire form of the op.
    public var wire: Branchdesk_Sync_V1_Op {
        .with {
            $0.origin = id.origin.rawValue
            $0.seq = id.seq
            $0.hlc = hlc.rawValue
            $0.ticket = ticket.description
            $0.actor = actor
            $0.action = action
            $0.changes = changes.map(\.wire)
        }
    }

    /// Decodes and validates a wire op.
    public init(wire: Branchdesk_Sync_V1_Op) throws(WireError) {
        let label = "op \(wire.origin)#\(wire.seq)"
        guard let origin = try? NodeID(wire.origin), wire.seq > 0 else { throw WireError(.badFrame, "\(label): bad origin or seq") }
        guard let ticket = TicketID(wire.ticket) else { throw WireError(.badFrame, "\(label): bad ticket id '\(wire.ticket)'") }
        var changes: [Change] = []
        for change in wire.changes { changes.append(try Change(wire: change, in: label)) }
        self.init(
            id: OpID(origin: origin, seq: wire.seq), hlc: HLCTimestamp(rawValue: wire.hlc), ticket: ticket, actor: wire.actor,
            action: wire.action, changes: changes)
    }
}

extension OpID {
    var wire: Branchdesk_Sync_V1_OpId { .with { $0.origin = origin.rawValue; $0.seq = seq } }

    init(wire: Branchdesk_Sync_V1_OpId, in label: String) throws(WireError) {
        guard let origin = try? NodeID(wire.origin), wire.seq > 0 else {
            throw WireError(.badFrame, "\(label): bad op id \(wire.origin)#\(wire.seq)")
        }
        self.init(origin: origin, seq: wire.seq)
    }
}

extension VersionVector {
    /// The wire form, sorted by origin.
    public var wire: Branchdesk_Sync_V1_VersionVector {
        .with {
            $0.entries = seqs.sorted { $0.key < $1.key }.map { entry in
                .with { $0.origin = entry.key.rawValue; $0.seq = entry.value }
            }
        }
    }

    public init(wire: Branchdesk_Sync_V1_VersionVector) throws(WireError) {
        var seqs: [NodeID: UInt64] = [:]
        for entry in wire.entries {
            guard let origin = try? NodeID(entry.origin) else { throw WireError(.badFrame, "bad origin '\(entry.origin)' in a vector") }
            seqs[origin] = max(seqs[origin] ?? 0, entry.seq)
        }
        self.init(seqs)
    }
}

extension Change {
    var wire: Branchdesk_Sync_V1_Change {
        .with { change in
            switch self {
            case .intake(let intake):
                change.intake = intake.wire
            case .write(let field, let value, let seen):
                change.write = .with {
                    $0.field = field.rawValue
                    $0.value = value.wire
                    $0.seen = seen.map(\.wire)
                }
            case .status(let status, let transition):
                change.status = .with {
                    $0.round = UInt32(clamping: status.round)
                    $0.stage = status.stage.rawValue
                    $0.transition = transition?.rawValue ?? ""
                }
            case .escalation(let escalation):
                change.escalation = .with {
                    $0.round = UInt32(clamping: escalation.round)
                    $0.level = UInt32(escalation.level.rawValue)
                }
            case .entry(let entry):
                change.entry = entry.wire
            case .add(let set, let element):
                change.add = .with { $0.set = set.rawValue; $0.element = element }
            case .remove(let set, let element, let observed):
                change.remove = .with { $0.set = set.rawValue; $0.element = element; $0.observed = observed.map(\.wire) }
            }
        }
    }

    init(wire: Branchdesk_Sync_V1_Change, in label: String) throws(WireError) {
        func named<T: RawRepresentable>(_ type: T.Type, _ text: String, _ what: String) throws(WireError) -> T
        where T.RawValue == String {
            try WireError.named(type, text, what, in: label)
        }
        switch wire.kind {
        case .intake(let intake):
            self = .intake(try Intake(wire: intake, in: label))
        case .write(let write):
            var seen: [OpID] = []
            for id in write.seen { seen.append(try OpID(wire: id, in: label)) }
            self = .write(
                field: try named(Field.self, write.field, "field"), value: try RegisterValue(wire: write.value, in: label),
                seen: seen)
        case .status(let status):
            guard status.round >= 1 else { throw WireError(.badFrame, "\(label): status round must be at least 1") }
            let transition = status.transition.isEmpty ? nil : try named(Transition.self, status.transition, "transition")
            self = .status(
                Status(round: Int(status.round), stage: try named(Stage.self, status.stage, "stage")), transition: transition)
        case .escalation(let escalation):
            guard let level = EscalationLevel(rawValue: Int(escalation.level)) else {
                throw WireError(.badFrame, "\(label): unknown escalation level \(escalation.level)")
            }
            self = .escalation(Escalation(round: Int(escalation.round), level: level))
        case .entry(let entry):
            self = .entry(try Entry(wire: entry, in: label))
        case .add(let add):
            self = .add(try named(SetField.self, add.set, "set"), element: add.element)
        case .remove(let remove):
            var observed: [OpID] = []
            for id in remove.observed { observed.append(try OpID(wire: id, in: label)) }
            self = .remove(try named(SetField.self, remove.set, "set"), element: remove.element, observed: observed)
        case nil:
            throw WireError(.badFrame, "\(label): a change of an unknown kind")
        }
    }
}

extension Intake {
    var wire: Branchdesk_Sync_V1_Intake {
        .with {
            $0.number = number
            $0.channel = channel.rawValue
            $0.receivedAtMs = receivedAt
            $0.takenBy = takenBy
            $0.statement = statement
        }
    }

    init(wire: Branchdesk_Sync_V1_Intake, in label: String) throws(WireError) {
        self.init(
            number: wire.number, channel: try WireError.named(Channel.self, wire.channel, "channel", in: label),
            receivedAt: wire.receivedAtMs, takenBy: wire.takenBy, statement: wire.statement)
    }
}

extension Entry {
    var wire: Branchdesk_Sync_V1_Entry {
        .with {
            $0.kind = kind.rawValue
            $0.text = text
            $0.via = via?.rawValue ?? ""
            $0.score = Int32(score ?? 0)
            $0.subject = subject ?? ""
        }
    }

    init(wire: Branchdesk_Sync_V1_Entry, in label: String) throws(WireError) {
        self.init(
            kind: try WireError.named(EntryKind.self, wire.kind, "entry kind", in: label), text: wire.text,
            via: wire.via.isEmpty ? nil : try WireError.named(Channel.self, wire.via, "channel", in: label),
            score: wire.score == 0 ? nil : Int(wire.score), subject: wire.subject.isEmpty ? nil : wire.subject)
    }
}

extension WireError {
    /// The case of `type` named `text`, or a bad-frame error naming `what` was unknown.
    static func named<T: RawRepresentable>(_ type: T.Type, _ text: String, _ what: String, in label: String) throws(WireError) -> T
    where T.RawValue == String {
        guard let value = T(rawValue: text) else { throw WireError(.badFrame, "\(label): unknown \(what) '\(text)'") }
        return value
    }
}

extension RegisterValue {
    var wire: Branchdesk_Sync_V1_Value {
        .with {
            switch self {
            case .text(let text): $0.text = text
            case .number(let number): $0.number = Int64(number)
            case .satisfaction(let satisfaction):
                $0.satisfaction = .with { $0.score = Int32(satisfaction.score); $0.remark = satisfaction.remark }
            case .approval(let record):
                $0.approval = .with { wire in
                    wire.round = UInt32(clamping: record.round)
                    wire.decision = record.decision.rawValue
                    wire.authority = record.authority?.rawValue ?? ""
                    wire.seal = record.seal.map { sealed in .with { $0.field = sealed.field.rawValue; $0.write = sealed.write.wire } }
                }
            }
        }
    }

    init(wire: Branchdesk_Sync_V1_Value, in label: String) throws(WireError) {
        switch wire.kind {
        case .text(let text): self = .text(text)
        case .number(let number): self = .number(Int(clamping: number))
        case .satisfaction(let satisfaction):
            guard let value = try? Satisfaction(score: Int(satisfaction.score), remark: satisfaction.remark) else {
                throw WireError(.badFrame, "\(label): satisfaction score \(satisfaction.score) outside 1–5")
            }
            self = .satisfaction(value)
        case .approval(let approval):
            let decision = try WireError.named(ApprovalRecord.Decision.self, approval.decision, "approval decision", in: label)
            let authority = approval.authority.isEmpty ? nil : try WireError.named(NodeRole.self, approval.authority, "authority", in: label)
            var seal: [ApprovalRecord.SealedWrite] = []
            for sealed in approval.seal {
                let field = try WireError.named(Field.self, sealed.field, "field", in: label)
                guard Field.boundByApproval.contains(field), !seal.contains(where: { $0.field == field }) else {
                    throw WireError(.badFrame, "\(label): an approval seals '\(field.rawValue)', which approvals do not bind or which it names twice")
                }
                seal.append(.init(field: field, write: try OpID(wire: sealed.write, in: label)))
            }
            guard approval.round > 0 else { throw WireError(.badFrame, "\(label): an approval of round 0") }
            self = .approval(ApprovalRecord(round: Int(approval.round), decision: decision, authority: authority, seal: seal))
        case nil:
            throw WireError(.badFrame, "\(label): a value of an unknown kind")
        }
    }
}

extension FeedCursor {
    public var wire: Branchdesk_Sync_V1_FeedCursor { .with { $0.epoch = epoch; $0.position = position } }

    public init(wire: Branchdesk_Sync_V1_FeedCursor) {
        self.init(epoch: wire.epoch, position: wire.position)
    }
}
