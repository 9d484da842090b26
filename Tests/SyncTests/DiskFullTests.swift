import Foundation
import Replication
import SyncTransport
import SyncWire
import Testing
import TestSupport
import TicketModel
import TicketStore

/// HQ's disk fills during a catch-up: a clear error, nothing corrupt, and the sync resumes once
/// there is room again.
@Suite("A full disk during a remote apply")
struct DiskFullTests {
    @Test("the batch that does not fit is refused whole; the database stays sound; the next round completes")
    func diskFillsDuringApply() async throws {
        let company = try Company(batchOps: 50, window: 2)
        let hq = try company.node("hq", role: .hq)
        let branch = try company.node("sh-012")
        let statement = String(repeating: "顾客详细陈述了事情经过。", count: 200)  // about 7 KiB a ticket
        for _ in 1...150 { _ = try await branch.store.openTicket(Fixtures.draft(statement: statement), actor: "王芳") }
        // Room for about half of what the branch holds.
        try await hq.store.limitDatabaseSize(toBytes: try await hq.store.databaseBytes() + branch.store.databaseBytes() / 2)
        let server = try await company.serve(hq)

        let error = await #expect(throws: SyncError.self) { _ = try await company.dialler(branch, to: server.address).syncOnce() }
        #expect(error?.kind == .linkLost, "\(String(describing: error))")
        let partial = try await hq.store.opCount()
        #expect(partial > 0 && partial < 150, "the limit should fall inside the catch-up: \(partial)")
        #expect(try await hq.store.integrityCheck() == ["ok"])
        try await eventually("HQ recording why") {
            try await hq.store.peers().first?.lastError?.contains("is full") == true
        }

        try await hq.store.limitDatabaseSize(toBytes: 1 << 30)  // space is freed
        _ = try await company.dialler(branch, to: server.address).syncOnce()
        #expect(try await hq.store.versionVector() == branch.store.versionVector())
        #expect(try await hq.store.digest() == branch.store.digest())
        #expect(try await hq.store.integrityCheck() == ["ok"])
        await server.stop()
    }
}
