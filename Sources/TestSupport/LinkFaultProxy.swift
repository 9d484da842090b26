import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on 127.0.0.1 that tests put between two nodes to break the link on purpose:
/// delay every chunk, stall (hold bytes until resumed), cut a connection after a number of
/// bytes, or drop every connection now (a flap).
public final class LinkFaultProxy: Sendable {
    /// What the proxy does to the traffic from now on.
    public struct Faults: Sendable {
        /// Added before each chunk is forwarded, either way.
        public var delay: Duration = .zero
        /// While set, bytes are held (not forwarded, not dropped) until it is cleared.
        public var stalled = false
        /// Close each new connection once it has carried this many bytes (both ways together).
        public var cutAfterBytes: Int?

        public init() {}
    }

    /// The port to dial instead of the target's.
    public let port: Int
    private let target: (host: String, port: Int)
    private let listener: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let shared = Shared()
    private let accepting: Task<Void, Never>

    /// The state the relaying tasks share with the test.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private struct State {
        var faults = Faults()
        var connections: [Int: any Channel] = [:]
        var nextID = 0
        /// Connections accepted so far, and how many the proxy cut.
        var accepted = 0
        var cut = 0
    }

    /// Starts a proxy on an ephemeral loopback port forwarding to `host:port`.
    public init(forwardingTo host: String = "127.0.0.1", port targetPort: Int) async throws {
        target = (host, targetPort)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        self.listener = listener
        port = listener.channel.localAddress?.port ?? 0
        let shared = shared
        let target = target
        accepting = Task {
            try? await listener.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await Self.relay(connection, to: target, shared: shared) }
                        }
                    } catch {}
                }
            }
        }
    }

    /// Changes the faults, for connections from now on (a stall and a delay also for open ones).
    public func set(_ change: (inout Faults) -> Void) {
        shared.state.withLock { change(&$0.faults) }
    }

    /// Closes every open connection now, as a link flap does; new ones are accepted as before.
    public func dropConnections() {
        for channel in shared.state.withLock({ Array($0.connections.values) }) { channel.close(promise: nil) }
    }

    /// Connections accepted so far, and how many were cut after `cutAfterBytes`.
    public var counts: (accepted: Int, cut: Int) { shared.state.withLock { ($0.accepted, $0.cut) } }

    public func stop() async {
        listener.channel.close(promise: nil)
        dropConnections()
        await accepting.value
    }

    private static func relay(
        _ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, to target: (host: String, port: Int), shared: Shared
    ) async {
        let id = shared.state.withLock { state in
            state.accepted += 1
            state.nextID += 1
            return state.nextID
        }
        guard
            let server = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: target.host, port: target.port, channelInitializer: { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                })
        else {
            try? await client.channel.close()
            return
        }
        shared.state.withLock { state in
            state.connections[id * 2] = client.channel
            state.connections[id * 2 + 1] = server.channel
        }
        let budget = Budget(limit: shared.state.withLock { $0.faults.cutAfterBytes })
        try? await client.executeThenClose { clientIn, clientOut in
            try await server.executeThenClose { serverIn, serverOut in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await pump(clientIn, into: serverOut, budget: budget, shared: shared) }
                    group.addTask { await pump(serverIn, into: clientOut, budget: budget, shared: shared) }
                    await group.next()
                    group.cancelAll()
                    client.channel.close(promise: nil)
                    server.channel.close(promise: nil)
                }
            }
        }
        shared.state.withLock { state in
            state.connections[id * 2] = nil
            state.connections[id * 2 + 1] = nil
            if budget.wasCut { state.cut += 1 }
        }
    }

    /// Forwards one direction until either side ends or the budget runs out.
    private static func pump(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, into outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        budget: Budget, shared: Shared
    ) async {
        do {
            for try await var buffer in inbound {
                while shared.state.withLock({ $0.faults.stalled }) { try await Task.sleep(for: .milliseconds(5)) }
                let delay = shared.state.withLock { $0.faults.delay }
                if delay > .zero { try await Task.sleep(for: delay) }
                let allowed = budget.take(buffer.readableBytes)
                if allowed < buffer.readableBytes {
                    if allowed > 0, let prefix = buffer.readSlice(length: allowed) { try await outbound.write(prefix) }
                    return
                }
                try await outbound.write(buffer)
            }
        } catch {}
    }

    /// The bytes a connection may still carry, shared by both directions.
    private final class Budget: Sendable {
        /// Bytes left (nil: no limit), and whether the limit cut the connection.
        private let state: Mutex<(remaining: Int?, cut: Bool)>

        init(limit: Int?) { state = Mutex((limit, false)) }

        /// Takes up to `count` bytes; returns how many may pass.
        func take(_ count: Int) -> Int {
            state.withLock { state in
                guard let left = state.remaining else { return count }
                let allowed = min(left, count)
                state.remaining = left - allowed
                if allowed < count { state.cut = true }
                return allowed
            }
        }

        var wasCut: Bool { state.withLock { $0.cut } }
    }
}
