import NIOCore
import SwiftProtobuf
import WireForms

/// The framing of the sync protocol: the magic bytes once per direction, then frames of a 4-byte
/// big-endian length and one protobuf `Frame`.
public enum SyncFraming {
    /// "BDSK": the first bytes each side sends, so a stray client is told apart from a peer at once.
    public static let magic: [UInt8] = [0x42, 0x44, 0x53, 0x4B]
    /// The default limit on one frame's length; checked on the length prefix, before buffering.
    public static let defaultMaxFrameBytes = 4 * 1024 * 1024
}

/// Splits the inbound byte stream into `Frame`s, refusing a bad magic, an oversized length or an
/// undecodable message with a `WireError`.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Branchdesk_Sync_V1_Frame

    private let maxFrameBytes: Int
    private var sawMagic = false

    public init(maxFrameBytes: Int = SyncFraming.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// The next complete frame in `buffer`, or nil when more bytes are needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(WireError) -> Branchdesk_Sync_V1_Frame? {
        if !sawMagic {
            guard let head = buffer.getBytes(at: buffer.readerIndex, length: SyncFraming.magic.count) else { return nil }
            guard head == SyncFraming.magic else {
                throw WireError(.badFrame, "the connection did not start with the Branchdesk magic bytes: not a Branchdesk peer")
            }
            buffer.moveReaderIndex(forwardBy: SyncFraming.magic.count)
            sawMagic = true
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= maxFrameBytes else {
            throw WireError(.badFrame, "a frame of \(length) bytes exceeds the limit of \(maxFrameBytes) bytes")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let body = buffer.readSlice(length: Int(length)) else { return nil }
        do {
            return try Branchdesk_Sync_V1_Frame(serializedBytes: Array(body.readableBytesView))
        } catch {
            throw WireError(.badFrame, "a frame of \(length) bytes is not a valid protobuf Frame")
        }
    }
}

/// Writes the magic before the first frame, then each `Frame` with its length prefix.
public final class FrameEncoder: ChannelOutboundHandler {
    public typealias OutboundIn = Branchdesk_Sync_V1_Frame
    public typealias OutboundOut = ByteBuffer

    private var sentMagic = false

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        do {
            var buffer = context.channel.allocator.buffer(capacity: 256)
            if !sentMagic {
                buffer.writeBytes(SyncFraming.magic)
                sentMagic = true
            }
            try Self.encode(frame, into: &buffer)
            context.write(wrapOutboundOut(buffer), promise: promise)
        } catch {
            promise?.fail(error)
        }
    }

    /// Appends `frame` with its length prefix.
    public static func encode(_ frame: Branchdesk_Sync_V1_Frame, into buffer: inout ByteBuffer) throws {
        let bytes: [UInt8] = try frame.serializedBytes()
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }
}
