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

/// Every refusal is followed by a good branch syncing with the same server: one bad peer never
/// takes the service down for the others.
@Suite("Hostile and broken peers are refused; the server keeps serving")
struct HostilePeerTests {
    let company: Company
    let hq: Company.Node
    let good: Company.Node

    init() throws {
        company = try Company()
        hq = try company.node("hq", role: .hq)
        good = try company.node("sh-good")
    }

    /// A good branch opens one more ticket and completes a round with the server.
    func expectGoodPeerServed(by server: Company.RunningServer) async throws {
        try await company.openTicket(at: good, title: "正常的投诉")
        _ = try await company.syncOnceAsAGoodPeer(good, to: server.address)
        #expect(try await hq.store.versionVector()[good.store.identity.nodeID] == good.store.versionVector()[good.store.identity.nodeID])
    }

    var caFile: String { company.certs + "/" + CertificateAuthority.caCertificateFile }

    @Test("a peer without a certificate fails the TLS handshake and gets no data")
    func noCertificate() async throws {
        let server = try await company.serve(hq)
        try await company.openTicket(at: hq, title: "总部的工单")
        let peer = try await RawPeer.connect(to: server.address, as: nil, caFile: caFile)
        let frames = try? await peer.exchange([WireFrame.hello("sh-anon", role: .branch).bytesWithMagic])
        #expect(frames?.isEmpty ?? true)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a certificate from another company's CA is refused at the handshake")
    func foreignCA() async throws {
        let server = try await company.serve(hq)
        let other = try Company()
        let intruder = try other.node("sh-012")
        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(intruder, to: server.address).syncOnce() }
        #expect(error?.kind == .refused, "\(String(describing: error))")
        #expect(try await hq.store.peers().isEmpty)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("an expired certificate is refused at the handshake")
    func expiredCertificate() async throws {
        let server = try await company.serve(hq)
        let id = try NodeID("sh-expired")
        let directory = company.folder.node("sh-expired")
        try CertificateAuthority.issueNode(in: company.certs, id: id, role: .branch, validFor: 1, now: Date().addingTimeInterval(-10 * 86_400))
        let certificates = try NodeCertificates.install(from: company.certs, nodeID: id, role: .branch, into: directory)
        let store = try NodeStore.create(in: directory, identity: Fixtures.identity("sh-expired"))
        let expired = Company.Node(store: store, certificates: certificates, directory: directory)
        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(expired, to: server.address).syncOnce() }
        #expect(error?.kind == .refused, "\(String(describing: error))")
        #expect(try await hq.store.peers().isEmpty)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a hello whose node id disagrees with the certificate is refused before any data")
    func helloDisagreesWithCertificate() async throws {
        let server = try await company.serve(hq)
        try await company.openTicket(at: hq, title: "总部的工单")
        let liar = try company.node("sh-liar")
        let peer = try await RawPeer.connect(to: server.address, as: liar, caFile: caFile)
        let frames = try await peer.exchange([WireFrame.hello("sh-other", role: .branch).bytesWithMagic])
        #expect(frames.map(\.error.code) == [.identityMismatch])
        #expect(frames.allSatisfy { $0.error.reason.contains("sh-liar") })
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a node that claims the other role in its hello is refused")
    func roleDisagreesWithCertificate() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        let peer = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
        let frames = try await peer.exchange([WireFrame.hello("sh-012", role: .hq).bytesWithMagic])
        #expect(frames.map(\.error.code) == [.identityMismatch])
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a branch dialling a node whose certificate is not HQ's refuses it")
    func diallerChecksHQRole() async throws {
        let impostor = try company.node("sh-impostor")
        let server = try await company.serve(impostor)
        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(good, to: server.address).syncOnce() }
        #expect(error?.kind == .refused, "\(String(describing: error))")
        #expect(try await impostor.store.opCount() == 0)
        await server.stop()
    }

    @Test("a protocol version range this node does not speak gets an error frame")
    func wrongVersion() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        let peer = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
        let frames = try await peer.exchange([WireFrame.hello("sh-012", role: .branch, versions: 7...9).bytesWithMagic])
        #expect(frames.map(\.error.code) == [.unsupportedVersion])
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a version refusal is in status on both sides, and both sides' log lines name the node")
    func versionRefusalRecordedOnBothSides() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        var settings = company.settings
        settings.versions = 9...9  // a build from the future
        let dialler = SyncDialler(
            address: server.address, store: branch.store, certificates: branch.certificates, settings: settings, feed: nil,
            logger: company.logger)
        let error = await #expect(throws: SyncError.self) { _ = try await dialler.syncOnce() }
        #expect(error?.kind == .refused)
        try await eventually("HQ recording the refusal") {
            try await hq.store.status(now: Date()).peers.first { $0.nodeID == "sh-012" }?.troubles.first == .refused
        }
        let atHQ = try #require(try await hq.store.status(now: Date()).peers.first { $0.nodeID == "sh-012" })
        #expect(atHQ.diagnosis?.contains("9...9") == true, "\(String(describing: atHQ.diagnosis))")
        let recorded = try await branch.store.peers()
        let atBranch = try #require(try await branch.store.status(now: Date()).peers.first { $0.nodeID == "hq" }, "\(String(describing: error)) \(recorded)")
        #expect(atBranch.troubles.first == .refused)
        #expect(atBranch.diagnosis?.contains("9...9") == true, "\(String(describing: atBranch.diagnosis))")
        #expect(atBranch.address == server.address.description)
        try await eventually("HQ's log line naming the branch") {
            company.log.lines.contains { $0.contains("session ended") && $0.contains("peer.id=sh-012") && $0.contains("9...9") }
        }
        await server.stop()
    }

    @Test("an identity refusal is in status at HQ against the node the certificate names")
    func identityRefusalRecorded() async throws {
        let server = try await company.serve(hq)
        let liar = try company.node("sh-liar")
        let peer = try await RawPeer.connect(to: server.address, as: liar, caFile: caFile)
        _ = try await peer.exchange([WireFrame.hello("sh-other", role: .branch).bytesWithMagic])
        try await eventually("HQ recording the refusal") {
            try await hq.store.status(now: Date()).peers.first { $0.nodeID == "sh-liar" }?.troubles.first == .refused
        }
        let record = try #require(try await hq.store.peers().first { $0.nodeID.rawValue == "sh-liar" })
        #expect(record.lastError?.contains("claims sh-other") == true, "\(String(describing: record.lastError))")
        #expect(record.refusals == 1)
        #expect(try await hq.store.peers().allSatisfy { $0.nodeID.rawValue != "sh-other" }, "never counted against the name it claims")
        await server.stop()
    }

    @Test("garbage bytes instead of the magic get an error frame and a close")
    func garbage() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        var random = SeededRandom(seed: 4)
        let garbage = (0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile).exchange([garbage])
        #expect(frames.map(\.error.code) == [.badFrame])
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a length prefix over the limit is refused before the frame is buffered")
    func oversizedLength() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([SyncFraming.magic + [0xFF, 0xFF, 0xFF, 0xF0]])
        #expect(frames.map(\.error.code) == [.badFrame])
        #expect(frames.first?.error.reason.contains("exceeds the limit") == true)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a truncated frame followed by a close ends only that session")
    func truncatedFrame() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        let hello = WireFrame.hello("sh-012", role: .branch).bytesWithMagic
        _ = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([Array(hello.prefix(hello.count - 3))], halfClose: true)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a frame of an unknown kind gets an error frame")
    func unknownMessage() async throws {
        let server = try await company.serve(hq)
        let branch = try company.node("sh-012")
        // Field 15, varint 1: a well-formed protobuf message that is no Frame body this version knows.
        let unknown: [UInt8] = [0, 0, 0, 2, 0x78, 0x01]
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([SyncFraming.magic + unknown])
        #expect(frames.map(\.error.code) == [.unexpectedMessage])
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a peer that connects and never says hello is closed after the handshake timeout")
    func silentBeforeHello() async throws {
        let server = try await company.serve(hq, settings: company.impatient)
        let branch = try company.node("sh-012")
        let started = ContinuousClock.now
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile).exchange([])
        #expect(frames.map(\.error.code) == [.timeout], "told why before the close")
        #expect(ContinuousClock.now - started >= company.impatient.handshakeTimeout)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a peer that goes silent after its hello is declared dead and recorded so")
    func silentAfterHello() async throws {
        // Quick to declare a silent link dead, but patient with a handshake the loaded machine slows,
        // and with timer ticks it starves: sixty heartbeat intervals before the link counts as dead.
        var settings = company.impatient
        settings.handshakeTimeout = .seconds(30)
        settings.deadAfter = .seconds(6)
        let server = try await company.serve(hq, settings: settings)
        let branch = try company.node("sh-012")
        let frames = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile)
            .exchange([WireFrame.hello("sh-012", role: .branch).bytesWithMagic])
        #expect(frames.first?.hello.nodeID == "hq")
        #expect(frames.contains { $0.heartbeat.sentAtMs > 0 }, "the server sent heartbeats while it waited")
        // The server records the end just after it closed the connection.
        try await eventually("HQ recording the dead link") { try await hq.store.peers().first?.state == .offline }
        #expect(try await hq.store.peers().first?.lastError?.contains("nothing heard from the peer") == true)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a branch sending more batches than the window allows is refused with WINDOW_EXCEEDED")
    func overTheWindow() async throws {
        let server = try await company.serve(hq)
        let flooder = try company.node("sh-flood")
        let maker = try Fixtures.memoryStore("sh-flood")
        let perBatch = 100
        let batches = SyncProtocol.window * 2
        for index in 0..<(perBatch * batches) { _ = try await maker.openTicket(Fixtures.draft(title: "第\(index)张投诉单"), actor: "王芳") }
        let ops = try await maker.opsMissing(by: VersionVector(), limit: perBatch * batches)
        // Every batch at once, waiting for no ack: each takes the server far longer to apply than
        // the rest take to arrive.
        let frames = (0..<batches).map { index in
            WireFrame.with {
                $0.batch = .with { $0.batchID = UInt64(index + 1); $0.ops = ops[index * perBatch..<(index + 1) * perBatch].map(\.wire) }
            }.bytes
        }
        let received = try await RawPeer.connect(to: server.address, as: flooder, caFile: caFile)
            .exchange([WireFrame.hello("sh-flood", role: .branch).bytesWithMagic] + frames)
        let error = try #require(received.last?.error)
        #expect(error.code == .windowExceeded, "\(error)")
        #expect(error.reason.contains("the window is \(SyncProtocol.window)"))
        #expect(received.filter(\.isAck).count < SyncProtocol.window, "acks only for batches within the window")
        #expect(try await hq.store.opCount() <= perBatch * SyncProtocol.window)
        let record = try await hq.store.peers().first { $0.nodeID.rawValue == "sh-flood" }
        #expect(record?.lastError?.contains("the window is") == true)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }

    @Test("a branch pushing another node's ops is refused whole: nothing of the batch is applied")
    func forgedOrigin() async throws {
        let server = try await company.serve(hq)
        let forger = try company.node("sh-forger")
        let victim = try Fixtures.memoryStore("sh-victim")
        _ = try await victim.openTicket(Fixtures.draft(), actor: "王芳")
        _ = try await forger.store.openTicket(Fixtures.draft(), actor: "王芳")
        // One op of its own and one forged op under the victim's origin, in one batch.
        let own = try await forger.store.opsMissing(by: VersionVector(), limit: 1)
        let forged = try await victim.opsMissing(by: VersionVector(), limit: 1)
        let batch = WireFrame.with { $0.batch = .with { $0.batchID = 1; $0.ops = (own + forged).map(\.wire) } }
        let frames = try await RawPeer.connect(to: server.address, as: forger, caFile: caFile)
            .exchange([WireFrame.hello("sh-forger", role: .branch).bytesWithMagic, batch.bytes])
        let error = try #require(frames.last?.error)
        #expect(error.code == .unauthorized)
        #expect(error.reason.contains("sh-victim#1"))
        #expect(try await hq.store.opCount() == 0)
        try await expectGoodPeerServed(by: server)
        await server.stop()
    }
}
