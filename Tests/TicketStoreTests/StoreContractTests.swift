import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The SQLite store keeps the store contract, on a real file and in memory.
@Suite struct StoreContractTests {
    @Test(arguments: ReplicaStoreContract.clauses)
    func theSQLiteStoreKeepsTheContract(_ clause: ReplicaStoreContract.Clause) async throws {
        let folder = TemporaryDirectory()
        let path = folder.path
        try await clause.check { identity, clock in
            try NodeStore.create(in: path + "/" + identity.nodeID.rawValue, identity: identity, clock: clock)
        }
        withExtendedLifetime(folder) {}
    }

    @Test func everyClauseOfTheContractHasItsOwnName() {
        let names = ReplicaStoreContract.clauses.map(\.name)
        #expect(names.count >= 10)
        #expect(Set(names).count == names.count, "a clause named twice hides one of them in the report")
    }

    @Test(arguments: ReplicaStoreContract.clauses)
    func theInMemoryStoreKeepsTheContract(_ clause: ReplicaStoreContract.Clause) async throws {
        try await clause.check { identity, clock in try NodeStore.inMemory(identity: identity, clock: clock) }
    }
}
