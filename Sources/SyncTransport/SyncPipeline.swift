import NIOCore
import NIOSSL
import SyncWire
import WireForms

/// The channel pipeline both sides use: TLS, then the frame codec, wrapped for async/await.
enum SyncPipeline {
    /// Adds the framing handlers after TLS and wraps the channel. Runs on the channel's event loop.
    static func wrap(_ channel: any NIOCore.Channel, tls: NIOSSLHandler, settings: SyncSettings) throws
        -> NIOAsyncChannel<WireFrame, WireFrame>
    {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(tls)
        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: settings.maxFrameBytes)))
        try pipeline.addHandler(FrameEncoder())
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
    }
}
