import Logging
import Replication
import ServiceLifecycle
import Synchronization

/// Tells a node's sessions that new ops were committed, so the live tail pushes them at once.
///
/// Sessions in this process call `notify()` after they apply a batch; edits made by other
/// processes (the command line) are noticed by polling the store's op count, which is cheap.
public final class ChangeFeed: Service, Sendable {
    private let store: any ReplicaStore
    private let pollInterval: Duration
    private let subscribers = Mutex<(next: Int, continuations: [Int: AsyncStream<Void>.Continuation])>((0, [:]))

    public init(store: any ReplicaStore, pollInterval: Duration = .milliseconds(20)) {
        self.store = store
        self.pollInterval = pollInterval
    }

    /// A stream that yields whenever ops were committed since the subscriber last looked.
    /// Wake-ups coalesce: a slow subscriber sees one, not a backlog.
    public func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = subscribers.withLock { state in
            state.next += 1
            state.continuations[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Wakes every subscriber.
    public func notify() {
        for continuation in subscribers.withLock({ Array($0.continuations.values) }) { continuation.yield() }
    }

    /// Polls the store for commits by other processes until cancelled or shut down.
    public func run() async throws {
        var seen = try await store.opCount()
        while !Task.isCancelledOrShuttingDown {
            try? await Task.sleep(for: pollInterval)
            let count = try await store.opCount()
            if count != seen {
                seen = count
                notify()
            }
        }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Whether the current task was cancelled or its service group is shutting down.
    static var isCancelledOrShuttingDown: Bool { isCancelled || Task<Never, Never>.isShuttingDownGracefully }
}
