import Foundation
import SwiftProtobuf
import WireForms

/// The op payloads as schemas v1–v3 stored them — `op.changes` as the JSON that the synthesized
/// `Codable` of `[Change]` wrote then — decoded by frozen copies of those shapes, and written in
/// the stored form of `Protocol/storage.proto` (package `branchdesk.storage.v1`, which never changes
/// meaning: a new stored form is a new package). Migration v4 uses these and nothing of today's
/// model, so that later changes to `Change` cannot change what the migration reads.
enum FrozenChangesJSON {
    /// The stored form of a v3 `op.changes` value.
    static func storedForm(ofJSON data: Data) throws -> Data {
        let changes = try JSONDecoder().decode([Change].self, from: data)
        return try Branchdesk_Storage_V1_Changes.with { $0.changes = changes.map(\.wire) }.serializedBytes()
    }

    /// `{"origin": "sh-012", "seq": 3}`
    struct OpID: Decodable {
        let origin: String
        let seq: UInt64

        var wire: Branchdesk_Sync_V1_OpId { .with { $0.origin = origin; $0.seq = seq } }
    }

    struct Intake: Decodable {
        let number: String
        let channel: String
        let receivedAt: Int64
        let takenBy: String
        let statement: String

        var wire: Branchdesk_Sync_V1_Intake {
            .with {
                $0.number = number
                $0.channel = channel
                $0.receivedAtMs = receivedAt
                $0.takenBy = takenBy
                $0.statement = statement
            }
        }
    }

    struct Satisfaction: Decodable {
        let score: Int
        let remark: String
    }

    /// `{"text": {"_0": "…"}}`, `{"number": {"_0": 2}}` or `{"satisfaction": {"_0": {…}}}`.
    enum Value: Decodable {
        case text(String)
        case number(Int)
        case satisfaction(Satisfaction)

        var wire: Branchdesk_Sync_V1_Value {
            .with {
                switch self {
                case .text(let text): $0.text = text
                case .number(let number): $0.number = Int64(number)
                case .satisfaction(let value): $0.satisfaction = .with { $0.score = Int32(value.score); $0.remark = value.remark }
                }
            }
        }
    }

    struct Status: Decodable {
        let round: Int
        let stage: String
    }

    struct Escalation: Decodable {
        let round: Int
        let level: Int
    }

    struct Entry: Decodable {
        let kind: String
        let text: String
        let via: String?
        let score: Int?
        let subject: String?

        var wire: Branchdesk_Sync_V1_Entry {
            .with {
                $0.kind = kind
                $0.text = text
                $0.via = via ?? ""
                $0.score = Int32(score ?? 0)
                $0.subject = subject ?? ""
            }
        }
    }

    /// The synthesized coding of an enum with associated values: the case name as the key, its
    /// values in an object keyed by label (`_0` for an unlabelled one).
    enum Change: Decodable {
        case intake(Intake)
        case write(field: String, value: Value, seen: [OpID])
        case status(Status, transition: String?)
        case escalation(Escalation)
        case entry(Entry)
        case add(String, element: String)
        case remove(String, element: String, observed: [OpID])

        var wire: Branchdesk_Sync_V1_Change {
            .with { change in
                switch self {
                case .intake(let intake):
                    change.intake = intake.wire
                case .write(let field, let value, let seen):
                    change.write = .with { $0.field = field; $0.value = value.wire; $0.seen = seen.map(\.wire) }
                case .status(let status, let transition):
                    change.status = .with {
                        $0.round = UInt32(clamping: status.round)
                        $0.stage = status.stage
                        $0.transition = transition ?? ""
                    }
                case .escalation(let escalation):
                    change.escalation = .with { $0.round = UInt32(clamping: escalation.round); $0.level = UInt32(clamping: escalation.level) }
                case .entry(let entry):
                    change.entry = entry.wire
                case .add(let set, let element):
                    change.add = .with { $0.set = set; $0.element = element }
                case .remove(let set, let element, let observed):
                    change.remove = .with { $0.set = set; $0.element = element; $0.observed = observed.map(\.wire) }
                }
            }
        }
    }
}

extension FrozenChangesJSON.Value {
    private enum Case: String, CodingKey { case text, number, satisfaction }
    private enum Only: String, CodingKey { case value = "_0" }

    init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: Case.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a value of no known kind"))
        }
        let values = try container.nestedContainer(keyedBy: Only.self, forKey: key)
        switch key {
        case .text: self = .text(try values.decode(String.self, forKey: .value))
        case .number: self = .number(try values.decode(Int.self, forKey: .value))
        case .satisfaction: self = .satisfaction(try values.decode(FrozenChangesJSON.Satisfaction.self, forKey: .value))
        }
    }
}

extension FrozenChangesJSON.Change {
    private enum Case: String, CodingKey { case intake, write, status, escalation, entry, add, remove }
    private enum Labels: String, CodingKey {
        case first = "_0"
        case field, value, seen, transition, element, observed
    }

    init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: Case.self)
        guard let key = container.allKeys.first, container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a change of no known kind"))
        }
        let values = try container.nestedContainer(keyedBy: Labels.self, forKey: key)
        typealias Frozen = FrozenChangesJSON
        switch key {
        case .intake:
            self = .intake(try values.decode(Frozen.Intake.self, forKey: .first))
        case .write:
            self = .write(
                field: try values.decode(String.self, forKey: .field), value: try values.decode(Frozen.Value.self, forKey: .value),
                seen: try values.decode([Frozen.OpID].self, forKey: .seen))
        case .status:
            self = .status(
                try values.decode(Frozen.Status.self, forKey: .first),
                transition: try values.decodeIfPresent(String.self, forKey: .transition))
        case .escalation:
            self = .escalation(try values.decode(Frozen.Escalation.self, forKey: .first))
        case .entry:
            self = .entry(try values.decode(Frozen.Entry.self, forKey: .first))
        case .add:
            self = .add(try values.decode(String.self, forKey: .first), element: try values.decode(String.self, forKey: .element))
        case .remove:
            self = .remove(
                try values.decode(String.self, forKey: .first), element: try values.decode(String.self, forKey: .element),
                observed: try values.decode([Frozen.OpID].self, forKey: .observed))
        }
    }
}
