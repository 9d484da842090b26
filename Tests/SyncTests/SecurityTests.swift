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

@Suite("Certificates, limits, restore and confidentiality")
struct SecurityTests {
    let company: Company
    let hq: Company.Node

    init() throws {
        company = try Company()
        hq = try company.node("hq", role: .hq)
    }

    var caFile: String { company.certs + "/" + CertificateAuthority.caCertificateFile }

    @Test("a renewed certificate keeps the node's identity and data, and syncs")
    func renewal() async throws {
        let branch = try company.node("sh-012")
        try await company.openTicket(at: branch, title: "续期前的投诉")
        let before = branch.certificates.identity
        let renewed = try CertificateAuthority.renewNode(in: company.certs, id: before.nodeID, validFor: 30)
        #expect(renewed.nodeID == before.nodeID && renewed.role == before.role && renewed.serial != before.serial)
        let listed = try CertificateAuthority.nodeCertificates(in: company.certs).map(\.serial)
        #expect(listed.contains(renewed.serial) && !listed.contains(before.serial))

        let installed = try NodeCertificates.install(from: company.certs, nodeID: before.nodeID, role: .branch, into: branch.directory)
        #expect(installed.identity.serial == renewed.serial)
        let reopened = Company.Node(store: try NodeStore.open(in: branch.directory), certificates: installed, directory: branch.directory)
        let server = try await company.serve(hq)
        #expect(try await company.dialler(reopened, to: server.address).syncOnce().opsSent == 2)
        await server.stop()
    }

    @Test("a revoked certificate is refused at its next handshake and its live session is closed")
    func revocation() async throws {
        let branch = try company.node("sh-012")
        let good = try company.node("sh-good")
        let server = try await company.serve(hq)
        let link = Task { try await company.dialler(branch, to: server.address).run() }
        try await eventually("the branch going live") { try await hq.store.peers().first?.state == .live }

        try await hq.store.revokeCertificate(serial: branch.certificates.identity.serial, nodeID: "sh-012", reason: "laptop stolen")
        try await eventually("HQ closing the revoked branch's live session") {
            let record = try await hq.store.peers().first { $0.nodeID.rawValue == "sh-012" }
            return record?.state == .refused && record?.lastError?.contains("revoked") == true
        }
        link.cancel()
        _ = await link.result
        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(branch, to: server.address).syncOnce() }
        #expect(error?.kind == .refused && error?.message.contains("revoked") == true, "\(String(describing: error))")
        // Each refusal is counted in the peer's record, which status shows.
        try await eventually("HQ counting the refusals") {
            try await hq.store.peers().first { $0.nodeID.rawValue == "sh-012" }?.refusals ?? 0 >= 2
        }
        _ = try await company.dialler(good, to: server.address).syncOnce()
        await server.stop()
    }

    @Test("a peer opening a thousand connections gets two sessions; the rest are refused and a good peer is served")
    func connectionFlood() async throws {
        // Admitted sessions must not die of silence while the test holds them open, and a thousand
        // TLS handshakes on two cores shared with other tests may take a while to reach their hello.
        let company = try Company(deadAfter: .seconds(300), handshakeTimeout: .seconds(120))
        let hq = try company.node("hq", role: .hq)
        let flooder = try company.node("sh-flood")
        let good = try company.node("sh-good")
        let server = try await company.serve(hq)
        let hello = WireFrame.hello("sh-flood", role: .branch).bytesWithMagic
        let caFile = caFile(company)
        let (release, released) = AsyncStream.makeStream(of: Void.self)
        let (answers, answered) = AsyncStream.makeStream(of: Outcome.self)
        // Each connection reports once how the server answered its hello, then stays open until released.
        let flood = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<1_000 {
                    group.addTask {
                        do {
                            let peer = try await RawPeer.connect(to: server.address, as: flooder, caFile: caFile)
                            _ = try await peer.exchange(
                                [hello], until: { $0.contains { $0.hello.nodeID == "hq" || $0.error.code != .unspecified } },
                                hold: { frames in
                                    answered.yield(frames.contains { $0.hello.nodeID == "hq" } ? .admitted : frames.isEmpty ? .failed : .refused)
                                    for await _ in release {}
                                })
                        } catch {
                            answered.yield(.failed)
                        }
                    }
                }
            }
        }
        var outcomes: [Outcome] = []
        for await outcome in answers {
            outcomes.append(outcome)
            if outcomes.count == 1_000 { break }
        }
        // The good branch is served while the flood holds its connections open.
        _ = try await company.dialler(good, to: server.address).syncOnce()
        released.finish()
        await flood.value
        #expect(outcomes.filter { $0 == .admitted }.count == 2)
        #expect(outcomes.filter { $0 == .refused }.count + outcomes.filter { $0 == .failed }.count == 998)
        #expect(outcomes.filter { $0 == .failed }.isEmpty, "connections that failed before the server answered")
        await server.stop()
    }

    @Test("connections over the server's limit are closed, and the server keeps serving")
    func connectionLimit() async throws {
        var settings = company.settings
        settings.maxConnections = 3
        let good = try company.node("sh-good")
        let server = try await company.serve(hq, settings: settings)
        let caFile = caFile(company)
        // Three connections hold every slot; the next ones are closed at once.
        var held: [RawPeer] = []
        for _ in 0..<3 { held.append(try await RawPeer.connect(to: server.address, as: good, caFile: caFile)) }
        try await Task.sleep(for: .milliseconds(200))
        for _ in 0..<5 {
            let extra = try await RawPeer.connect(to: server.address, as: good, caFile: caFile)
            #expect(try await extra.exchange([]).isEmpty, "a connection over the limit gets nothing")
        }
        for peer in held { _ = try? await peer.exchange([]) }  // closes them
        try await eventually("the server serving again") {
            (try? await company.dialler(good, to: server.address).syncOnce()) != nil
        }
        await server.stop()
    }

    enum Outcome: Sendable { case admitted, refused, failed }

    func caFile(_ company: Company) -> String { company.certs + "/" + CertificateAuthority.caCertificateFile }

    @Test("a node restored from an old backup pulls its own ops back and numbers new ones after them")
    func restoreFromBackup() async throws {
        let branch = try company.node("sh-012")
        try await company.openTicket(at: branch, title: "备份前的投诉")  // ops 1-2
        let backupFile = company.folder.node("sh-012.backup")
        let summary = try branch.store.backup(toFile: backupFile)
        #expect(summary.ops == 2 && summary.nodeID == branch.store.identity.nodeID)
        try await company.openTicket(at: branch, title: "备份后的投诉")  // ops 3-4, sent to HQ
        let server = try await company.serve(hq)
        _ = try await company.dialler(branch, to: server.address).syncOnce()

        // The disk dies; the node comes back from the backup, which lacks ops 3 and 4.
        let backup = company.folder.node("sh-012-restored")
        let store = try NodeStore.restore(from: backupFile, into: backup)
        try FileManager.default.copyItem(
            atPath: branch.directory + "/" + NodeCertificates.folder, toPath: backup + "/" + NodeCertificates.folder)
        let restored = Company.Node(store: store, certificates: try NodeCertificates.load(from: backup), directory: backup)
        #expect(try await restored.store.versionVector()[restored.store.identity.nodeID] == 2)
        // Before it has synced, it does not know that HQ holds ops 3 and 4: it must not number a new op 3.
        let early = await #expect(throws: DomainError.self) { try await company.openTicket(at: restored, title: "太早") }
        #expect(early?.message.contains("has not synced since with headquarters") == true)
        _ = try await company.dialler(restored, to: server.address).syncOnce()
        #expect(try await restored.store.versionVector()[restored.store.identity.nodeID] == 4)
        #expect(company.log.lines.contains { $0.contains("restored from a backup") })

        let number = try await company.openTicket(at: restored, title: "恢复后的投诉")
        let newOps = try await restored.store.opsMissing(by: hq.store.versionVector(), limit: 10)
        #expect(newOps.map(\.id.seq) == [5, 6], "new ops continue after the ones pulled back")
        _ = try await company.dialler(restored, to: server.address).syncOnce()
        #expect(try await hq.store.ticket(number).title == "恢复后的投诉")
        #expect(try await hq.store.digest() == restored.store.digest())
        await server.stop()
    }

    @Test("while its own ops are not back, a restored node refuses edits")
    func editsWaitForRecovery() async throws {
        let branch = try company.node("sh-012")
        try await company.openTicket(at: branch, title: "投诉")
        try await branch.store.beginRecovery(untilSeq: 9)
        let error = await #expect(throws: DomainError.self) { try await company.openTicket(at: branch, title: "恢复中") }
        #expect(error?.message.contains("restored from a backup") == true)
        #expect(try await branch.store.opCount() == 2)
    }

    @Test("logs at the default level name nodes and ops, never customers, phones or ticket text")
    func logsCarryNoPersonalData() async throws {
        let branch = try company.node("sh-012")
        _ = try await branch.store.openTicket(
            try Fixtures.draft(title: "手机频繁死机", customer: "张三", statement: "买了三天就频繁死机，要求换货"), actor: "王芳")
        let server = try await company.serve(hq)
        _ = try await company.dialler(branch, to: server.address).syncOnce()
        // A refused batch is logged too: its reason names the op, not its content.
        let victim = try Fixtures.memoryStore("sh-victim")
        _ = try await victim.openTicket(Fixtures.draft(), actor: "王芳")
        let forged = try await victim.opsMissing(by: VersionVector(), limit: 1)
        _ = try await RawPeer.connect(to: server.address, as: branch, caFile: caFile).exchange([
            WireFrame.hello("sh-012", role: .branch).bytesWithMagic,
            WireFrame.with { $0.batch = .with { $0.batchID = 1; $0.ops = forged.map(\.wire) } }.bytes,
        ])
        await server.stop()
        let lines = company.log.lines
        #expect(lines.contains { $0.contains("session established") })
        #expect(lines.contains { $0.contains("sh-victim#1") })
        for secret in ["张三", "138 0013 8000", "13800138000", "手机", "死机", "换货", "王芳"] {
            #expect(!lines.contains { $0.contains(secret) }, "a log line contains '\(secret)'")
        }
    }
}
