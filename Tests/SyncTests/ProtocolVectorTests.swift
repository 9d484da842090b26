import Foundation
import NIOCore
import Replication
import SwiftProtobuf
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
import WireForms

/// `Protocol/vectors/frames.txt` holds one golden frame per message kind, as another team's
/// implementation would see them on the wire. Each must decode to the frame built here and
/// re-encode to the same bytes. `BRANCHDESK_WRITE_VECTORS=1 swift test --filter ProtocolVector`
/// rewrites the file after a deliberate change of the protocol.
@Suite("Golden frames in Protocol/vectors")
struct ProtocolVectorTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../Protocol/vectors/frames.txt"
    ).standardized

    /// The canonical frames, by name, with the line that explains each.
    static func goldenFrames() throws -> [(name: String, what: String, frame: WireFrame)] {
        let branch = try NodeID("sh-012")
        let vector = VersionVector([try NodeID("hq"): 3, branch: 7])
        var draft = try Fixtures.draft()
        draft.receivedAt = 1_795_300_000_000
        let opening = Op(
            id: OpID(origin: branch, seq: 8), hlc: HLCTimestamp(rawValue: 1_795_300_000_000 << 16), ticket: TicketID(origin: branch, counter: 4),
            actor: "王芳", action: "open",
            changes: TicketDocument.opening(draft, number: "SH012-20261122-0004", receivedAt: 1_795_300_000_000))
        let forged = try refusal(of: foreignOp(), by: branch).description
        let severity9 = Op(
            id: OpID(origin: branch, seq: 9), hlc: HLCTimestamp(rawValue: 1_795_300_030_000 << 16), ticket: opening.ticket,
            actor: "王芳", action: "update", changes: [.write(field: .severity, value: .number(9), seen: [opening.id])])
        let rejection = try Self.refusal(of: severity9, by: branch)
        let feed = FeedCursor(epoch: "5f0c8e2a9b7d4c1e8a6b3d2f1e0c9b8a", position: 41)
        let hqEdit = Op(
            id: OpID(origin: try NodeID("hq"), seq: 4), hlc: HLCTimestamp(rawValue: 1_795_300_060_000 << 16),
            ticket: TicketID(origin: branch, counter: 4), actor: "总部投诉办", action: "assign",
            changes: [.write(field: .assignee, value: .text("李经理"), seen: [opening.id])])
        return [
            ("hello", "hello from branch sh-012, protocol versions \(SyncProtocol.versions.lowerBound)...\(SyncProtocol.versions.upperBound), holding {hq:3, sh-012:7}",
             .with {
                 $0.hello = .with {
                     $0.minVersion = SyncProtocol.versions.lowerBound; $0.maxVersion = SyncProtocol.versions.upperBound
                     $0.nodeID = "sh-012"; $0.role = "branch"
                     $0.vector = vector.wire; $0.software = SyncProtocol.software
                 }
             }),
            ("batch", "batch 1 with one op: sh-012#8 opens ticket sh-012:4 (SH012-20261122-0004)",
             .with { $0.batch = .with { $0.batchID = 1; $0.ops = [opening.wire] } }),
            ("ack", "ack of batch 1: the receiver now holds {hq:3, sh-012:8}, nothing refused",
             .with { $0.ack = .with { $0.batchID = 1; $0.vector = VersionVector([try! NodeID("hq"): 3, branch: 8]).wire } }),
            ("caught-up", "caught-up: the sender has sent everything above {hq:3, sh-012:8}",
             .with { $0.caughtUp = .with { $0.vector = VersionVector([try! NodeID("hq"): 3, branch: 8]).wire } }),
            ("hello-feed", "version 3: hello from branch sh-012, which holds entries 1…41 of its feed at HQ (epoch 5f0c…)",
             .with {
                 $0.hello = .with {
                     $0.minVersion = SyncProtocol.versions.lowerBound; $0.maxVersion = SyncProtocol.versions.upperBound
                     $0.nodeID = "sh-012"; $0.role = "branch"
                     $0.vector = vector.wire; $0.software = SyncProtocol.software; $0.feed = feed.wire
                 }
             }),
            ("hq-hello-feed", "version 3: HQ's hello to sh-012: only the branch's own origin in the vector; its feed has 42 entries",
             .with {
                 $0.hello = .with {
                     $0.minVersion = SyncProtocol.versions.lowerBound; $0.maxVersion = SyncProtocol.versions.upperBound
                     $0.nodeID = "hq"; $0.role = "hq"
                     $0.vector = VersionVector([branch: 8]).wire; $0.software = SyncProtocol.software
                     $0.feed = FeedCursor(epoch: feed.epoch, position: 42).wire
                 }
             }),
            ("batch-feed", "version 3: HQ's batch 1 to sh-012 with feed entry 42, hq#4 assigning ticket sh-012:4",
             .with { $0.batch = .with { $0.batchID = 1; $0.ops = [hqEdit.wire]; $0.feed = FeedCursor(epoch: feed.epoch, position: 42).wire } }),
            ("ack-feed", "version 3: sh-012 acks batch 1: it holds {hq:4, sh-012:8} and feed entries 1…42",
             .with {
                 $0.ack = .with {
                     $0.batchID = 1; $0.vector = VersionVector([try! NodeID("hq"): 4, branch: 8]).wire
                     $0.feed = FeedCursor(epoch: feed.epoch, position: 42).wire
                 }
             }),
            ("caught-up-feed", "version 3: HQ has sent sh-012 its own ops up to #8 and its feed up to entry 42",
             .with { $0.caughtUp = .with { $0.vector = VersionVector([branch: 8]).wire; $0.feed = FeedCursor(epoch: feed.epoch, position: 42).wire } }),
            ("heartbeat", "heartbeat sent at 1795300000000 ms", .with { $0.heartbeat = .with { $0.sentAtMs = 1_795_300_000_000 } }),
            ("error", "error UNAUTHORIZED with its reason, as HQ refuses sh-012 pushing an op of sh-031",
             .with {
                 $0.error = .with {
                     $0.code = .unauthorized
                     $0.reason = forged
                 }
             }),
            ("error-op-rejected", "error OP_REJECTED naming sh-012#9, as HQ refuses for good an update of the severity to 9 (SYNC.md §6.2)",
             .with {
                 $0.error = .with {
                     $0.code = .opRejected
                     $0.reason = rejection.description
                     $0.rejected = .with { $0.origin = rejection.op.origin.rawValue; $0.seq = rejection.op.seq }
                 }
             }),
        ]
    }

    /// An op of sh-031's, which no other branch may push.
    static func foreignOp() throws -> Op {
        let other = try NodeID("sh-031")
        return Op(
            id: OpID(origin: other, seq: 1), hlc: HLCTimestamp(rawValue: 1_795_300_000_000 << 16), ticket: TicketID(origin: other, counter: 1),
            actor: "李四", action: "update", changes: [.write(field: .title, value: .text("屏幕碎裂"), seen: [])])
    }

    /// The refusal HQ's rules make of branch `branch` pushing `op`: the reason the error frame
    /// carries, made by the code so that the vector cannot lag it.
    static func refusal(of op: Op, by branch: NodeID) throws -> AuthorisationRefusal {
        struct NothingHeld: AuthorisationLookup {
            mutating func document(_ id: TicketID) throws -> TicketDocument? { nil }
            mutating func op(_ id: OpID) throws -> Op? { nil }
            mutating func feedPosition(of id: OpID, for branch: NodeID) throws -> UInt64? { nil }
        }
        var authorisation = PeerAuthorisation(PeerGrant(nodeID: branch, role: .branch, holds: VersionVector()))
        var lookup = NothingHeld()
        do {
            try authorisation.check([op], in: &lookup)
        } catch let refusal as AuthorisationRefusal {
            return refusal
        }
        throw AuthorisationRefusal(op: op.id, rule: "was not refused")
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func bytes(_ hex: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    @Test("each golden frame decodes to its canonical message and re-encodes byte for byte")
    func roundTrip() throws {
        let golden = try Self.goldenFrames()
        if ProcessInfo.processInfo.environment["BRANCHDESK_WRITE_VECTORS"] == "1" {
            var text = "# Branchdesk sync protocol v\(SyncProtocol.versions.upperBound) golden frames: '# what it is', then 'name hex'.\n"
            text += "# hex is the length prefix and the Frame; the connection's magic 'BDSK' (4244534b) precedes the first frame only.\n"
            for (name, what, frame) in golden { text += "\n# \(what)\n\(name) \(Self.hex(frame.bytes))\n" }
            try text.write(to: Self.file, atomically: true, encoding: .utf8)
        }
        let lines = try String(contentsOf: Self.file, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        let recorded = Dictionary(uniqueKeysWithValues: lines.map { line in
            let parts = line.split(separator: " ")
            return (String(parts[0]), String(parts[1]))
        })
        #expect(Set(recorded.keys) == Set(golden.map(\.name)))
        for (name, _, frame) in golden {
            let hex = try #require(recorded[name], "no golden frame '\(name)'")
            var buffer = ByteBuffer(bytes: SyncFraming.magic + (try Self.bytes(hex)))
            var decoder = FrameDecoder()
            let decoded = try #require(try decoder.next(from: &buffer), "'\(name)' is not a complete frame")
            #expect(buffer.readableBytes == 0, "'\(name)' has trailing bytes")
            #expect(decoded == frame, "'\(name)' decodes to another message")
            #expect(Self.hex(decoded.bytes) == hex, "'\(name)' re-encodes to other bytes")
        }
    }

    @Test("the op in the golden batch survives the wire unchanged")
    func opRoundTrip() throws {
        let batch = try #require(try Self.goldenFrames().first { $0.name == "batch" }?.frame.batch)
        let op = try Op(wire: batch.ops[0])
        #expect(op.wire == batch.ops[0])
        #expect(op.id == OpID(origin: try NodeID("sh-012"), seq: 8))
    }
}

@Suite("Reconnect backoff")
struct BackoffTests {
    @Test("delays grow exponentially up to the maximum, jittered within [0, ceiling], and reset")
    func bounds() {
        var random = SeededRandom(seed: 11)
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        let ceilings: [Duration] = [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2)]
        var delays: [Duration] = []
        for ceiling in ceilings {
            let delay = backoff.next(using: &random)
            #expect(delay >= .zero && delay <= ceiling, "seed \(random.seed)")
            delays.append(delay)
        }
        #expect(Set(delays).count > 1, "jitter varies the delays (seed \(random.seed))")
        backoff.reset()
        #expect(backoff.next(using: &random) <= .milliseconds(100))
    }
}
