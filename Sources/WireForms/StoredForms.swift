import Foundation
import Replication
import SwiftProtobuf
import TicketModel

/// The stored forms of the merge state (`Protocol/storage.proto`): the compact binary a node's
/// database holds for documents, op changes, entries and conflicting writes. Canonical — equal
/// values have equal bytes — so replica digests compare. Decoding checks what it reads as the
/// wire does, and a damaged value throws instead of being trusted.
public enum StoredForm {
    public static func encode(_ document: TicketDocument) throws -> Data {
        try Branchdesk_Storage_V1_Document.with { stored in
            if let opening = document.opening { stored.opening = opening.stored }
            if let intake = document.intake { stored.intake = intake.wire }
            stored.registers = document.registers.sorted { $0.key.rawValue < $1.key.rawValue }.map { field, register in
                .with {
                    $0.field = field.rawValue
                    $0.frontier = register.frontier.map(\.stored)
                    $0.seen = register.seen.map(\.wire)
                }
            }
            stored.statusRound = UInt32(clamping: document.status.round)
            stored.statusStage = document.status.stage.rawValue
            stored.escalationRound = UInt32(clamping: document.escalation.round)
            stored.escalationLevel = UInt32(document.escalation.level.rawValue)
            stored.sets = document.sets.sorted { $0.key.rawValue < $1.key.rawValue }.map { set, elements in
                .with {
                    $0.set = set.rawValue
                    $0.elements = elements.adds.sorted { $0.key < $1.key }.map { element, adds in
                        .with { $0.element = element; $0.adds = adds.map(\.wire) }
                    }
                    $0.removed = elements.removed.map(\.wire)
                }
            }
            stored.lastChange = document.lastChange.rawValue
        }.serializedBytes()
    }

    public static func document(_ id: TicketID, from data: Data) throws -> TicketDocument {
        let stored = try Branchdesk_Storage_V1_Document(serializedBytes: data)
        let label = "the document of \(id)"
        var registers: [Field: Register] = [:]
        for register in stored.registers {
            var frontier: [Register.Write] = []
            for write in register.frontier { frontier.append(try Register.Write(stored: write, in: label)) }
            registers[try WireError.named(Field.self, register.field, "field", in: label)] = Register(
                frontier: frontier, seen: try register.seen.map { id throws(WireError) in try OpID(wire: id, in: label) })
        }
        var sets: [SetField: ORSet] = [:]
        for set in stored.sets {
            var adds: [String: [OpID]] = [:]
            for element in set.elements {
                adds[element.element] = try element.adds.map { id throws(WireError) in try OpID(wire: id, in: label) }
            }
            sets[try WireError.named(SetField.self, set.set, "set", in: label)] = ORSet(
                adds: adds, removed: try set.removed.map { id throws(WireError) in try OpID(wire: id, in: label) })
        }
        guard let level = EscalationLevel(rawValue: Int(stored.escalationLevel)) else {
            throw WireError(.badFrame, "\(label): unknown escalation level \(stored.escalationLevel)")
        }
        return TicketDocument(
            id: id, opening: stored.hasOpening ? try Stamp(stored: stored.opening, in: label) : nil,
            intake: stored.hasIntake ? try Intake(wire: stored.intake, in: label) : nil, registers: registers,
            status: Status(
                round: Int(stored.statusRound), stage: try WireError.named(Stage.self, stored.statusStage, "stage", in: label)),
            escalation: Escalation(round: Int(stored.escalationRound), level: level), sets: sets,
            lastChange: HLCTimestamp(rawValue: stored.lastChange))
    }

    public static func encode(_ changes: [Change]) throws -> Data {
        try Branchdesk_Storage_V1_Changes.with { $0.changes = changes.map(\.wire) }.serializedBytes()
    }

    public static func changes(from data: Data, of op: OpID) throws -> [Change] {
        let label = "op \(op)"
        var changes: [Change] = []
        for change in try Branchdesk_Storage_V1_Changes(serializedBytes: data).changes {
            changes.append(try Change(wire: change, in: label))
        }
        return changes
    }

    public static func encode(_ entry: Entry) throws -> Data {
        try entry.wire.serializedBytes()
    }

    public static func entry(from data: Data, of op: OpID) throws -> Entry {
        try Entry(wire: Branchdesk_Sync_V1_Entry(serializedBytes: data), in: "an entry of op \(op)")
    }

    public static func encode(_ write: Register.Write) throws -> Data {
        try write.stored.serializedBytes()
    }

    public static func write(from data: Data, of ticket: TicketID) throws -> Register.Write {
        try Register.Write(stored: Branchdesk_Storage_V1_Write(serializedBytes: data), in: "a conflict of \(ticket)")
    }

    public static func encode(_ writes: [Register.Write]) throws -> Data {
        try Branchdesk_Storage_V1_Writes.with { $0.writes = writes.map(\.stored) }.serializedBytes()
    }

    public static func writes(from data: Data, of ticket: TicketID) throws -> [Register.Write] {
        let label = "a conflict of \(ticket)"
        var writes: [Register.Write] = []
        for write in try Branchdesk_Storage_V1_Writes(serializedBytes: data).writes {
            writes.append(try Register.Write(stored: write, in: label))
        }
        return writes
    }
}

extension Stamp {
    fileprivate var stored: Branchdesk_Storage_V1_Stamp {
        .with { $0.hlc = hlc.rawValue; $0.op = op.wire }
    }

    fileprivate init(stored: Branchdesk_Storage_V1_Stamp, in label: String) throws(WireError) {
        self.init(hlc: HLCTimestamp(rawValue: stored.hlc), op: try OpID(wire: stored.op, in: label))
    }
}

extension Register.Write {
    fileprivate var stored: Branchdesk_Storage_V1_Write {
        .with { $0.stamp = stamp.stored; $0.value = value.wire }
    }

    fileprivate init(stored: Branchdesk_Storage_V1_Write, in label: String) throws(WireError) {
        self.init(stamp: try Stamp(stored: stored.stamp, in: label), value: try RegisterValue(wire: stored.value, in: label))
    }
}
