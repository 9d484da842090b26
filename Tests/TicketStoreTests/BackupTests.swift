import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// Online backup of a node in use, and restores that never reuse an op number.
@Suite struct BackupTests {
    let folder = TemporaryDirectory()

    func create(_ id: String, role: NodeRole = .branch) throws -> NodeStore {
        try NodeStore.create(in: folder.node(id), identity: Fixtures.identity(id, role: role))
    }

    @Test func aBackupTakenWhileClerksEditIsAConsistentSnapshot() async throws {
        let branch = try create("sh-012")
        for index in 0..<20 { _ = try await branch.openTicket(Fixtures.draft(title: "投诉 \(index)"), actor: "王芳") }
        // Edits keep committing while the backup copies the pages.
        let editing = Task {
            for index in 0..<200 { _ = try await branch.openTicket(Fixtures.draft(title: "备份时的投诉 \(index)"), actor: "王芳") }
        }
        let summary = try branch.backup(toFile: folder.node("sh-012.backup"))
        try await editing.value
        #expect(summary.ops >= 20 && summary.ops <= 220 && summary.bytes > 0)
        let mode = try FileManager.default.attributesOfItem(atPath: summary.file)[.posixPermissions] as? Int
        #expect(mode == 0o600, "a backup holds customers' data")

        // The snapshot's tickets are exactly what its op log makes: replaying the log elsewhere agrees.
        let restored = try NodeStore.restore(from: summary.file, into: folder.node("restored"))
        #expect(try await restored.opCount() == summary.ops)
        let replica = try Fixtures.memoryStore("hq", role: .hq, clock: ManualClock(millis: SystemClock().nowMillis()))
        try await Fixtures.sync(restored, to: replica)
        #expect(try await replica.digest() == restored.digest())
    }

    @Test func backupsAndRestoresNeverOverwrite() async throws {
        let branch = try create("sh-012")
        let file = folder.node("sh-012.backup")
        _ = try branch.backup(toFile: file)
        #expect(throws: StoreError.self) { _ = try branch.backup(toFile: file) }
        #expect(throws: StoreError.self) { _ = try NodeStore.restore(from: file, into: folder.node("sh-012")) }
        #expect(throws: StoreError.self) { _ = try NodeStore.restore(from: folder.node("missing.backup"), into: folder.node("x")) }

        let garbage = folder.node("garbage.backup")
        try Data(repeating: 0x42, count: 8192).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: StoreError.self) { _ = try NodeStore.restore(from: garbage, into: folder.node("y")) }
        #expect(!FileManager.default.fileExists(atPath: NodeStore.databasePath(in: folder.node("y"))), "nothing partial")
    }

    @Test func aRestoredHQEditsOnlyOnceEveryBranchItKnewHasSynced() async throws {
        let hq = try create("hq", role: .hq)
        for id in ["sh-012", "sh-031"] { _ = try await hq.addPeer(try NodeID(id), address: nil) }
        let file = folder.node("hq.backup")
        _ = try hq.backup(toFile: file)

        let restored = try NodeStore.restore(from: file, into: folder.node("hq-restored"))
        let draft = try Fixtures.draft()
        let refused = await #expect(throws: DomainError.self) { _ = try await restored.openTicket(draft, actor: "总部") }
        #expect(refused?.message.contains("has not synced since with sh-012, sh-031") == true)

        let now = UInt64(Date().timeIntervalSince1970 * 1000) + 1000
        var pudong = try #require(try await restored.peers().first { $0.nodeID.rawValue == "sh-012" })
        pudong.lastSyncAt = now
        try await restored.record(pudong)
        let stillRefused = await #expect(throws: DomainError.self) { _ = try await restored.openTicket(draft, actor: "总部") }
        #expect(stillRefused?.message.contains("with sh-031:") == true)

        _ = try await restored.removePeer(try NodeID("sh-031"))  // a branch closed for good is not awaited
        _ = try await restored.openTicket(draft, actor: "总部")
    }
}
