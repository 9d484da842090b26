import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Replication
import ServiceLifecycle
import TicketModel
import TicketStore

/// A small HTTP/1.1 endpoint beside a running node: `GET /metrics` (Prometheus text format) and
/// `GET /health` (200 with a JSON summary while the database answers, 503 when it does not).
/// Bind it to loopback or a management network: it needs no certificate and shows no tickets.
public final class MonitoringServer: Service, Sendable {
    public let port: Int
    private let listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let store: NodeStore
    private let metrics: NodeMetrics
    private let logger: Logger

    public static func bind(host: String, port: Int, store: NodeStore, metrics: NodeMetrics, logger: Logger) async throws
        -> MonitoringServer
    {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(
                            inboundType: HTTPServerRequestPart.self, outboundType: HTTPServerResponsePart.self))
                }
            }
        return MonitoringServer(listener: listener, store: store, metrics: metrics, logger: logger)
    }

    private init(
        listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
        store: NodeStore, metrics: NodeMetrics, logger: Logger
    ) {
        self.listener = listener
        port = listener.channel.localAddress?.port ?? 0
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    /// Serves until the service group shuts down.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await self.listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await connection in connections {
                            group.addTask { await self.serve(connection) }
                        }
                    }
                }
            }
        } catch is CancellationError {
            logger.debug("monitoring endpoint stopped")
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let head): request = head
                    case .body: break
                    case .end:
                        guard let head = request else { continue }
                        let (status, type, body) = await respond(to: head)
                        var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", String(body.utf8.count))])
                        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
                        try await outbound.write(.end(nil))
                        if !head.isKeepAlive { return }
                        request = nil
                    }
                }
            }
        } catch {
            logger.debug("monitoring request failed", metadata: ["http.error": "\(error)"])
        }
    }

    /// The response to one request: status, content type and body.
    func respond(to head: HTTPRequestHead) async -> (HTTPResponseStatus, String, String) {
        guard head.method == .GET else { return (.methodNotAllowed, "text/plain", "only GET\n") }
        let now = Date()
        switch head.uri.split(separator: "?").first.map(String.init) ?? "" {
        case "/metrics":
            do {
                let status = try await store.status(now: now)
                return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition(of: status, now: now))
            } catch {
                return (.serviceUnavailable, "text/plain", "the database cannot be read: \(error)\n")
            }
        case "/health":
            // Cheap enough to poll often: it reads the peer records, not every ticket's deadlines.
            do {
                let live = try await store.peers().filter { $0.state == .live }.count
                let identity = store.identity
                return (
                    .ok, "application/json",
                    #"{"status":"ok","node":"\#(identity.nodeID)","role":"\#(identity.role.rawValue)","peersLive":\#(live)}"#
                        + "\n"
                )
            } catch {
                return (.serviceUnavailable, "application/json", #"{"status":"failing","reason":"the database cannot be read"}"# + "\n")
            }
        default:
            return (.notFound, "text/plain", "try /metrics or /health\n")
        }
    }
}
