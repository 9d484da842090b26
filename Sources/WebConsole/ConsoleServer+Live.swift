import Foundation
import Hummingbird
import ServiceLifecycle
import TicketStore

extension ConsoleServer {
    /// Live updates as Server-Sent Events, woken by the change feed that sync uses: `/events?since=N`
    /// says `change` once the node's op count is past `N` (the queue), `/events?ticket=T&since=V`
    /// once that ticket's version is past `V` (its page). A comment every 20 s keeps the
    /// connection open through proxies and finds browsers that left.
    func addLiveUpdates(to router: Router<ConsoleContext>) {
        router.get("/events") { request, context in
            _ = try session(context)
            let query = request.uri.queryParameters
            let since = query["since"].flatMap { Int64(String($0)) } ?? 0
            let ticket = query["ticket"].map(String.init)
            let store = store
            let version: @Sendable () async throws -> Int64 = {
                if let ticket { return try await store.version(of: ticket) }
                return Int64(try await store.opCount())
            }
            let wakeUps = changes()
            let body = ResponseBody { writer in
                var seen = since
                try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
                // Wake at each commit, and every 20 s to keep the connection alive.
                let ticks = AsyncStream<Void> { continuation in
                    let task = Task {
                        // The stream ends when the node stops (its feed ends, or its graceful shutdown
                        // begins), so that the shutdown does not wait on a connection that never
                        // ends; the browser reconnects to whatever serves next.
                        await withTaskGroup(of: Void.self) { group in
                            group.addTask { for await _ in wakeUps { continuation.yield() } }
                            group.addTask { try? await gracefulShutdown() }
                            group.addTask {
                                while (try? await Task.sleep(for: .seconds(20))) != nil { continuation.yield() }
                            }
                            await group.next()
                            group.cancelAll()
                        }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in task.cancel() }
                }
                try await writer.write(ByteBuffer(string: try await Self.event(version(), seen: &seen)))
                for await _ in ticks {
                    try await writer.write(ByteBuffer(string: try await Self.event(version(), seen: &seen)))
                }
                try await writer.finish(nil)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    /// A `change` event when `current` is past what the page showed, else a keep-alive comment.
    private static func event(_ current: Int64, seen: inout Int64) -> String {
        guard current > seen else { return ": idle\n\n" }
        seen = current
        return "event: change\ndata: \(current)\n\n"
    }
}
