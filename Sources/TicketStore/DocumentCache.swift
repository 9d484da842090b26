import GRDB
import Replication
import Synchronization
import TicketModel

/// Decoded ticket documents kept between write transactions, so that a ticket edited again and
/// again (the hot set of recent tickets) is not read and decoded for every batch.
///
/// Only the writer connection uses it. It holds committed documents only — a transaction's
/// documents are stored after its commit — and it is emptied whenever another connection (another
/// process: a CLI command beside a running `serve`) has committed since, as `PRAGMA data_version`
/// tells. Two generations approximate least-recently-used at the cost of two dictionaries.
final class DocumentCache: Sendable {
    fileprivate struct State {
        var recent: [TicketID: TicketDocument] = [:]
        var older: [TicketID: TicketDocument] = [:]
        var dataVersion: Int64?
    }

    /// How many documents one generation holds; the cache holds up to twice as many.
    let generationSize: Int
    fileprivate let state = Mutex(State())

    init(generationSize: Int = 8_192) {
        self.generationSize = generationSize
    }

    /// Empties the cache if another connection committed since the last call. Call it first in
    /// every write transaction that uses the cache.
    func validate(_ db: Database) throws {
        let version = try Int64.fetchOne(db.cachedStatement(sql: "PRAGMA data_version"))
        state.withLock { state in
            guard state.dataVersion != version else { return }
            state = State(dataVersion: version)
        }
    }

    /// The ticket's committed document, from the cache or the database; nil if no op of it was applied.
    func document(_ id: TicketID, _ db: Database) throws -> TicketDocument? {
        if let cached = state.withLock({ state in state.recent[id] ?? state.older[id] }) { return cached }
        return try NodeStore.storedDocument(id, db)
    }

    /// Keeps `documents` once the current transaction commits; a rollback leaves the cache as it was.
    func storeAfterCommit(_ documents: [TicketDocument], _ db: Database) {
        guard !documents.isEmpty else { return }
        db.afterNextTransaction { [self] _ in
            state.withLock { state in
                for document in documents {
                    if state.recent.count >= generationSize {
                        state.older = state.recent
                        state.recent = [:]
                        state.recent.reserveCapacity(generationSize)
                    }
                    state.recent[document.id] = document
                    state.older[document.id] = nil
                }
            }
        }
    }
}

extension DocumentCache {
    /// Empties the cache once the current transaction commits: it removed documents.
    func removeAllAfterCommit(_ db: Database) {
        db.afterNextTransaction { [self] _ in state.withLock { $0 = State(dataVersion: $0.dataVersion) } }
    }
}
