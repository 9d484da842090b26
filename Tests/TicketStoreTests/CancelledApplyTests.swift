import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// A remote apply whose caller is cancelled (a session cut mid-batch) is interrupted and rolled back
/// whole, and nothing of it survives in memory either: the store afterwards is the same as one
/// that was never interrupted, whatever commits between the interruption and the batch's return.
@Suite struct CancelledApplyTests {
    @Test("applies cancelled at random moments leave the same tickets as uninterrupted ones", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func cancelledApplies(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let branch = try Fixtures.memoryStore("sh-012")
        // Long statements make the search index's inserts slow enough for a cancellation to land inside one.
        let statement = String(repeating: "买了三天就频繁死机，要求换货。", count: 100)
        for index in 1...30 {
            let ticket = try await branch.openTicket(Fixtures.draft(title: "投诉 \(index)", statement: statement), actor: "王芳")
            _ = try await branch.edit(ticket.id, actor: "王芳", action: "update") { try $0.update([.title: .text("改过的投诉 \(index)")]) }
        }
        let reference = try Fixtures.memoryStore("hq", role: .hq)
        try await Fixtures.sync(branch, to: reference)

        let folder = TemporaryDirectory()
        let hq = try NodeStore.create(in: folder.node("hq"), identity: Fixtures.identity("hq", role: .hq), clock: ManualClock())
        var cancelled = 0
        while true {
            let batch = try await branch.opsMissing(by: hq.versionVector(), limit: Int.random(in: 1...30, using: &random))
            if batch.isEmpty { break }
            let apply = Task { try await hq.apply(batch) }
            let delay = Int.random(in: 0...3_000, using: &random)
            if delay > 0 { try await Task.sleep(for: .microseconds(delay)) }
            apply.cancel()
            if (try? await apply.value) == nil {
                cancelled += 1
                // Another write commits before the batch is sent again, as a session's peer record does.
                try await hq.record(PeerRecord(nodeID: branch.identity.nodeID, role: .branch, address: nil, state: .offline, stateSince: 0))
            }
        }
        #expect(cancelled > 0, "seed \(seed): no apply was cut short")
        #expect(try await hq.versionVector() == reference.versionVector(), "seed \(seed)")
        #expect(try await hq.digest() == reference.digest(), "seed \(seed), \(cancelled) applies ended cancelled")
    }
}
