import GRDB
import Replication
import Synchronization
import TicketModel

/// Decoded ticket documents kept between write transactions, so that a ticket edited again and
/// again (the hot set of recent tickets) is not read and decoded for every batch.
///
/// Only the writer connection uses it. It holds committed documents only: a transaction stages
/// its documents, and `NodeStore.write` keeps them once its COMMIT has succeeded, still holding
/// the writer, or drops them when the transaction failed. (Not GRDB's `afterNextTransaction`: a
/// statement that fails in a way that makes SQLite roll the whole transaction back — an
/// interruption, a full disk — notifies no observer, which would then fire at the next commit
/// with documents that were never written.) The cache is emptied whenever another connection
/// (another process: a CLI command beside a running `serve`) has committed since, as
/// `PRAGMA data_version` tells. Two generations approximate least-recently-used at the cost of
/// two dictionaries.
final class DocumentCache: Sendable {
    fileprivate struct State {
        var recent: [TicketID: TicketDocument] = [:]
        var older: [TicketID: TicketDocument] = [:]
        var dataVersion: Int64?
        /// What the current transaction leaves once it commits.
        var staged = Staged.nothing
    }

    fileprivate enum Staged {
        case nothing
        case documents([TicketDocument])
        /// The transaction removed documents: the cache is emptied.
        case removal
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
            state = State(dataVersion: version, staged: state.staged)
        }
    }

    /// The ticket's committed document, from the cache or the database; nil if no op of it was applied.
    func document(_ id: TicketID, _ db: Database) throws -> TicketDocument? {
        if let cached = state.withLock({ state in state.recent[id] ?? state.older[id] }) { return cached }
        return try NodeStore.storedDocument(id, db)
    }

    /// Keeps `documents` once the current transaction commits.
    func stage(_ documents: [TicketDocument]) {
        guard !documents.isEmpty else { return }
        state.withLock { state in
            switch state.staged {
            case .nothing: state.staged = .documents(documents)
            case .documents(let earlier): state.staged = .documents(earlier + documents)
            case .removal: break
            }
        }
    }

    /// Empties the cache once the current transaction commits: it removed documents.
    func stageRemovingAll() {
        state.withLock { $0.staged = .removal }
    }

    /// The transaction committed: what it staged is now what the database holds.
    func keepStaged() {
        state.withLock { state in
            switch state.staged {
            case .nothing: break
            case .removal: state = State(dataVersion: state.dataVersion)
            case .documents(let documents):
                state.staged = .nothing
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

    /// The transaction did not commit: nothing it staged is kept.
    func dropStaged() {
        state.withLock { $0.staged = .nothing }
    }
}

extension DocumentCache {
    /// Runs `body` in one transaction on the writer's connection `db` (which must not be in one)
    /// and keeps what it staged only once its COMMIT has succeeded, before the writer runs anything else.
    func transaction<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        dropStaged()
        var result: T?
        do {
            try db.inTransaction {
                result = try body(db)
                return .commit
            }
        } catch {
            dropStaged()
            throw error
        }
        keepStaged()
        guard let result else { preconditionFailure("a committed transaction returns its body's result") }
        return result
    }
}
