import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Replication

/// The baseline for sync transfers: the same number of bytes over a TLS 1.3 connection on
/// loopback with the nodes' certificates, and nothing else.
enum RawTLS {
    /// Seconds to send `bytes` from a client to a server that reads them all and answers one byte.
    static func transfer(bytes: Int, server: NIOSSLContext, client: NIOSSLContext) async throws -> Double {
        let group = MultiThreadedEventLoopGroup.singleton
        let listener = try await ServerBootstrap(group: group)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: server))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = listener.channel.localAddress?.port ?? 0
        let receiving = Task {
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    try await connection.executeThenClose { inbound, outbound in
                        var received = 0
                        for try await buffer in inbound {
                            received += buffer.readableBytes
                            if received >= bytes { break }
                        }
                        try await outbound.write(ByteBuffer(bytes: [1]))
                    }
                    return
                }
            }
        }
        let connection = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: client, serverHostname: nil))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let chunk = ByteBuffer(repeating: 0x5A, count: 64 * 1024)
        let start = ContinuousClock.now
        try await connection.executeThenClose { inbound, outbound in
            var sent = 0
            while sent < bytes {
                let size = min(chunk.readableBytes, bytes - sent)
                try await outbound.write(chunk.getSlice(at: 0, length: size)!)
                sent += size
            }
            for try await _ in inbound { break }
        }
        let seconds = (ContinuousClock.now - start).seconds
        try await receiving.value
        return seconds
    }
}
