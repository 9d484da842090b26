import Foundation
import Replication
import TicketModel
import TicketStore

/// A fresh temporary folder per test, removed when the test is done with it.
public final class TemporaryDirectory {
    public let path: String

    public init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("branchdesk-\(UUID().uuidString)").path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func node(_ name: String) -> String { URL(fileURLWithPath: path).appendingPathComponent(name).path }
}

public enum Fixtures {
    public static func identity(_ id: String, role: NodeRole = .branch) -> NodeIdentity {
        let node = try! NodeID(id)
        return NodeIdentity(nodeID: node, role: role, branchCode: BranchCode(defaultFor: node), timeZone: "Asia/Shanghai")
    }

    public static func memoryStore(_ id: String, role: NodeRole = .branch, clock: ManualClock = ManualClock()) throws -> NodeStore {
        try NodeStore.inMemory(identity: identity(id, role: role), clock: clock)
    }

    public static func draft(
        title: String = "手机频繁死机", customer: String = "张三", statement: String = "买了三天就频繁死机，要求换货",
        severity: Severity = .general
    ) throws -> TicketDraft {
        try TicketDraft(
            channel: .phone, takenBy: "王芳", customer: customer, phone: "138 0013 8000", title: title,
            statement: statement, request: "换货", category: .product, severity: severity)
    }

    /// Every op a store holds.
    public static func allOps(of store: NodeStore) async throws -> [Op] {
        var ops: [Op] = []
        var vector = VersionVector()
        while true {
            let batch = try await store.opsMissing(by: vector, limit: 7)
            if batch.isEmpty { return ops }
            for op in batch { vector.advance(to: op.id) }
            ops += batch
        }
    }

    /// Sends everything `from` has that `to` lacks, in bounded batches. Throws, rather than
    /// looping for ever, when a batch makes no progress (ops refused for clock skew, say).
    public static func sync(_ from: NodeStore, to: NodeStore, batchSize: Int = 50) async throws {
        while true {
            let batch = try await from.opsMissing(by: to.versionVector(), limit: batchSize)
            if batch.isEmpty { return }
            let outcome = try await to.apply(batch)
            guard outcome.applied + outcome.duplicates > 0 else { throw StalledSync(outcome: outcome) }
        }
    }

    /// A fixture sync whose batch was applied in no part.
    public struct StalledSync: Error, CustomStringConvertible {
        public let outcome: BatchOutcome
        public var description: String { "sync stalled: \(outcome)" }
    }
}
