import Foundation
import NIOCore
import Replication
import SwiftProtobuf
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
import TicketStore
import WireForms

/// The frame and message decoders against bytes no honest peer sends.
@Suite("Hostile bytes")
struct HostileBytesTests {
    /// Seeded random mutation of valid frames: bit flips, byte overwrites, truncation, insertion,
    /// duplicated ranges and forged lengths, fed to the decoder in random chunks. Every outcome
    /// must be a frame or a `WireError`, never a crash, a hang, or a buffer past the frame limit.
    @Test("100,000 mutated frames decode to a frame or a clear error", arguments: 0..<4)
    func mutatedFrames(shard: UInt64) throws {
        let seed = (ProcessInfo.processInfo.environment["BRANCHDESK_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_122) &+ shard
        var random = SeededRandom(seed: seed)
        let corpus = try ProtocolVectorTests.goldenFrames().map { SyncFraming.magic + $0.frame.bytes }
        let maxFrameBytes = 64 * 1024
        var outcomes = (frames: 0, errors: 0, ops: 0, opErrors: 0)
        for _ in 0..<25_000 {
            var bytes = corpus[Int.random(in: 0..<corpus.count, using: &random)]
            Self.mutate(&bytes, using: &random)
            var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
            var buffer = ByteBuffer()
            var offset = 0
            do {
                while offset < bytes.count {
                    let chunk = Int.random(in: 1...max(1, bytes.count - offset), using: &random)
                    buffer.writeBytes(bytes[offset..<(offset + chunk)])
                    offset += chunk
                    while let frame = try decoder.next(from: &buffer) {
                        outcomes.frames += 1
                        // The message layer must refuse made-up values with an error, too.
                        for op in frame.batch.ops {
                            do {
                                _ = try Op(wire: op)
                                outcomes.ops += 1
                            } catch { outcomes.opErrors += 1 }
                        }
                        _ = try? VersionVector(wire: frame.hello.vector)
                    }
                    #expect(buffer.readableBytes <= maxFrameBytes + 8, "seed \(seed): buffered past the frame limit")
                }
            } catch {
                outcomes.errors += 1
            }
        }
        #expect(outcomes.frames > 0 && outcomes.errors > 0, "seed \(seed): the mutations reach both outcomes")
        #expect(outcomes.opErrors > 0, "seed \(seed): some mutated ops are refused by validation")
    }

    static func mutate(_ bytes: inout [UInt8], using random: inout SeededRandom) {
        for _ in 0...Int.random(in: 0...3, using: &random) {
            guard !bytes.isEmpty else { return }
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.removeLast(Int.random(in: 0...(bytes.count - at), using: &random))
            case 3: bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
            case 4: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 32)], at: at)
            case 5:
                // A forged length prefix just after the magic.
                guard bytes.count >= 8 else { return }
                let length = [0, 1, 0x7F, 0xFFFF, 0xFF_FFFF, 0xFFFF_FFFF].randomElement(using: &random)!
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: length).bigEndian) { bytes.replaceSubrange(4..<8, with: $0) }
            default: bytes.append(contentsOf: bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            }
        }
    }

    @Test("a 4 GiB length prefix is refused before a byte of the frame is buffered")
    func fourGiBLength() throws {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: SyncFraming.magic + [0xFF, 0xFF, 0xFF, 0xFF, 0x0A])
        #expect(throws: WireError.self) { _ = try decoder.next(from: &buffer) }
    }

    @Test("a frame split across a thousand reads decodes once it is complete")
    func thousandReads() throws {
        var hello = WireFrame.hello("sh-012", role: .branch)
        hello.hello.software = String(repeating: "x", count: 1_000)
        let bytes = SyncFraming.magic + hello.bytes
        #expect(bytes.count >= 1_000)
        var decoder = FrameDecoder()
        var buffer = ByteBuffer()
        var decoded: [WireFrame] = []
        for byte in bytes {
            buffer.writeInteger(byte)
            if let frame = try decoder.next(from: &buffer) { decoded.append(frame) }
        }
        #expect(decoded == [hello])
    }
}

/// The same over the network: each case is followed by a good peer being served.
@Suite("Hostile bytes over TLS")
struct HostileBytesOverTLSTests {
    let company: Company
    let hq: Company.Node

    init() throws {
        company = try Company()
        hq = try company.node("hq", role: .hq)
    }

    var caFile: String { company.certs + "/" + CertificateAuthority.caCertificateFile }

    func expectGoodPeerServed(by server: Company.RunningServer) async throws {
        let good = try company.node("sh-good-\(UInt32.random(in: 0...UInt32.max))")
        try await company.openTicket(at: good, title: "正常的投诉")
        _ = try await company.syncOnceAsAGoodPeer(good, to: server.address)
        #expect(try await hq.store.versionVector()[good.store.identity.nodeID] == 2)
    }

    @Test("a hello written one byte at a time, in a thousand TLS records, is answered")
    func helloInAThousandWrites() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        var bytes = WireFrame.hello("sh-012", role: .branch).bytesWithMagic
        // A heartbeat after the hello brings the byte count past a thousand.
        while bytes.count < 1_000 { bytes += WireFrame.with { $0.heartbeat = .with { $0.sentAtMs = 1 } }.bytes }
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange(bytes.map { [$0] }, until: { $0.contains { $0.isCaughtUp } })
        #expect(frames.first?.hello.nodeID == "hq")
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a slow-loris peer that trickles its hello is closed at the handshake timeout")
    func slowLoris() async throws {
        let server = try await company.serve(hq, settings: company.impatient)
        let branch = try company.node("sh-012")
        let hello = WireFrame.hello("sh-012", role: .branch).bytesWithMagic
        let started = ContinuousClock.now
        let peer = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
        let frames: [WireFrame] = try await peer.channel.executeThenClose { inbound, outbound in
            // One byte every 100 ms: the whole hello would take several seconds.
            let trickle = Task {
                for byte in hello.dropLast() {
                    try await outbound.write(ByteBuffer(bytes: [byte]))
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { trickle.cancel() }
            var received: [WireFrame] = []
            var buffer = ByteBuffer()
            var decoder = FrameDecoder()
            do {
                for try await var chunk in inbound {
                    buffer.writeBuffer(&chunk)
                    while let frame = try decoder.next(from: &buffer) { received.append(frame) }
                }
            } catch {}
            return received
        }
        #expect(frames.map(\.error.code) == [.timeout], "told why before the close")
        let waited = ContinuousClock.now - started
        #expect(waited >= company.impatient.handshakeTimeout, "closed before the handshake timeout")
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a batch of a million ops cannot even be framed; one of 5,001 small ops is refused as too large")
    func oversizedBatches() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        let minimal = Branchdesk_Sync_V1_Op.with { $0.origin = "sh-012"; $0.seq = 1; $0.ticket = "sh-012:1" }
        // A million ops: the length prefix alone exceeds the frame limit.
        let million = WireFrame.with { $0.batch = .with { $0.batchID = 1; $0.ops = Array(repeating: minimal, count: 1_000_000) } }
        let millionBytes = million.bytes
        #expect(millionBytes.count > SyncFraming.defaultMaxFrameBytes)
        let hello = WireFrame.hello("sh-012", role: .branch).bytesWithMagic
        let refused = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([hello, Array(millionBytes.prefix(64 * 1024))])
        #expect(refused.last?.error.code == .badFrame)

        let many = WireFrame.with {
            $0.batch = .with { batch in
                batch.batchID = 1
                batch.ops = (1...5_001).map { seq in .with { $0.origin = "sh-012"; $0.seq = UInt64(seq); $0.ticket = "sh-012:1" } }
            }
        }
        let tooMany = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile).exchange([hello, many.bytes])
        #expect(tooMany.last?.error.code == .batchTooLarge)
        #expect(try await hq.store.opCount() == 0)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a replayed old batch is acknowledged and changes nothing")
    func replayedBatch() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        try await company.openTicket(at: branch, title: "已同步的投诉")
        _ = try await company.dialler(branch, to: server.address).syncOnce()
        let before = try await hq.store.digest()
        let ops = try await branch.store.opsMissing(by: VersionVector(), limit: 10)
        let replay = WireFrame.with { $0.batch = .with { $0.batchID = 1; $0.ops = ops.map(\.wire) } }
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([WireFrame.hello("sh-012", role: .branch).bytesWithMagic, replay.bytes], until: { $0.contains { $0.isAck } })
        #expect(frames.contains { $0.ack.batchID == 1 && $0.ack.refused.isEmpty })
        #expect(try await hq.store.digest() == before)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }
}
