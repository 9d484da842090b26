import BranchdeskNode
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Replication
import SwiftProtobuf
import SyncTransport
import SyncWire
import TestSupport
import TicketModel
import TicketStore
import WireForms

/// A company on loopback: a CA in a temporary folder, nodes with real certificates and stores,
/// and an HQ server on 127.0.0.1 with an ephemeral port. Timers are short so that dead links and
/// handshake timeouts show within a second.
final class Company: @unchecked Sendable {
    let folder = TemporaryDirectory()
    var certs: String { folder.node("certs") }
    let settings: SyncSettings
    let logger: Logger
    /// Every line the nodes logged.
    let log = CapturedLog()

    /// Timeouts are generous by default: the tests share two cores with the simulation, and a
    /// starved task must not look like a dead peer. Tests of the timeouts themselves pass short
    /// ones to `serve`.
    init(batchOps: Int = 100, window: Int = 2, deadAfter: Duration = .seconds(15), handshakeTimeout: Duration = .seconds(15)) throws {
        var settings = SyncSettings()
        settings.batchOps = batchOps
        settings.window = window
        settings.heartbeatInterval = .milliseconds(100)
        settings.deadAfter = deadAfter
        settings.handshakeTimeout = handshakeTimeout
        settings.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        self.settings = settings
        // Logs are kept at serve's default level and checked by the tests; BRANCHDESK_TEST_LOG=1 prints them.
        let log = log
        var logger = Logger(label: "sync-tests") { _ in log }
        logger.logLevel = .info
        self.logger = logger
        try CertificateAuthority.createCA(in: certs)
    }

    /// A node with its own data folder, certificate and store.
    struct Node {
        let store: NodeStore
        let certificates: NodeCertificates
        let directory: String
    }

    func node(_ id: String, role: NodeRole = .branch) throws -> Node {
        let directory = folder.node(id)
        try CertificateAuthority.issueNode(in: certs, id: NodeID(id), role: role)
        let certificates = try NodeCertificates.install(from: certs, nodeID: NodeID(id), role: role, into: directory)
        let store = try NodeStore.create(in: directory, identity: Fixtures.identity(id, role: role))
        return Node(store: store, certificates: certificates, directory: directory)
    }

    /// A running server; `stop()` cancels it and waits until every session closed.
    /// A node served through the composition root, as `branchdesk serve` serves it.
    struct RunningServer {
        let node: ServedNode
        let task: Task<Void, any Error>
        var port: Int { node.syncAddress?.port ?? 0 }
        var address: HostPort { HostPort(host: "127.0.0.1", port: port) }
        var feed: ChangeFeed { node.feed }

        func stop() async {
            task.cancel()
            _ = await task.result
        }
    }

    var impatient: SyncSettings {
        var settings = settings
        settings.handshakeTimeout = .seconds(2)
        settings.deadAfter = .seconds(2)
        return settings
    }

    func serve(_ node: Node, port: Int = 0, settings: SyncSettings? = nil) async throws -> RunningServer {
        var configuration = NodeConfiguration(dataDirectory: node.directory)
        configuration.listen = HostPort(host: "127.0.0.1", port: port)
        configuration.sync = settings ?? self.settings
        configuration.changePollInterval = .milliseconds(10)
        let served = try await ServedNode.start(configuration, store: node.store, logger: logger)
        return RunningServer(node: served, task: Task { try await served.run() })
    }

    /// A branch served as `serve` serves it: a live session to HQ at `hq`, redialled with backoff.
    func serveBranch(_ node: Node, hq: HostPort) async throws -> RunningServer {
        var configuration = NodeConfiguration(dataDirectory: node.directory)
        configuration.hq = hq
        configuration.sync = settings
        configuration.changePollInterval = .milliseconds(10)
        let served = try await ServedNode.start(configuration, store: node.store, logger: logger)
        return RunningServer(node: served, task: Task { try await served.run() })
    }

    func dialler(_ node: Node, to address: HostPort, feed: ChangeFeed? = nil) -> SyncDialler {
        SyncDialler(address: address, store: node.store, certificates: node.certificates, settings: settings, feed: feed, logger: logger)
    }

    /// A one-off round that tries again, up to three times, when the link is lost: a server with
    /// the impatient two-second timeouts may drop a good peer that the loaded machine starves (the
    /// suite shares two cores with a two-minute soak); a server that stopped serving fails every try.
    func syncOnceAsAGoodPeer(_ node: Node, to address: HostPort) async throws -> SyncSummary {
        var attempt = 1
        while true {
            do {
                return try await dialler(node, to: address).syncOnce()
            } catch let error as SyncError where error.kind == .linkLost && attempt < 3 {
                attempt += 1
            }
        }
    }

    /// Opens a ticket at `node` and edits it, returning its number.
    @discardableResult
    func openTicket(at node: Node, title: String) async throws -> String {
        let ticket = try await node.store.openTicket(Fixtures.draft(title: title), actor: "王芳")
        _ = try await node.store.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        return ticket.number
    }
}

/// Waits until `condition` holds, polling; fails the wait after `timeout`, which is generous: the
/// whole suite shares two cores, and a starved task is slow, not wrong.
func eventually(
    timeout: Duration = .seconds(30), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimeoutError(what: what, timeout: timeout)
}

/// Runs `body`; when it throws, prints what `diagnose` gathers (vectors, records, the log's tail)
/// first, so that a failure seen once in CI can be understood from its output.
func withDiagnostics(_ diagnose: () async throws -> [String], _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        let lines = (try? await diagnose()) ?? ["(the diagnostics could not be read)"]
        print("--- diagnostics for: \(error)\n" + lines.joined(separator: "\n") + "\n---")
        throw error
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    let timeout: Duration
    var description: String { "\(what) did not happen within \(timeout)" }
}

/// A TLS client that speaks raw bytes, for sending what a hostile or broken peer would.
struct RawPeer {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Connects with `node`'s certificate (or with none when nil), trusting the CA in `caFile`.
    static func connect(to address: HostPort, as node: Company.Node?, caFile: String) async throws -> RawPeer {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        configuration.certificateVerification = .noHostnameVerification
        if let node {
            let tls = URL(fileURLWithPath: node.directory).appendingPathComponent(NodeCertificates.folder)
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(tls.appendingPathComponent("node.pem").path)
                .map { .certificate($0) }
            configuration.privateKey = .privateKey(
                try NIOSSLPrivateKey(file: tls.appendingPathComponent("node-key.pem").path, format: .pem))
        }
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(120))  // a flood of handshakes on two busy cores is slow, not refused
            .connect(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawPeer(channel: channel)
    }

    /// Writes `chunks` in order, then reads until the server closes or the frames received so far
    /// satisfy `enough`; then waits for `hold` before closing. Returns the frames the server sent.
    func exchange(
        _ chunks: [[UInt8]], halfClose: Bool = false, until enough: @Sendable ([WireFrame]) -> Bool = { _ in false },
        hold: @Sendable ([WireFrame]) async -> Void = { _ in }
    ) async throws -> [WireFrame] {
        try await channel.executeThenClose { inbound, outbound in
            for chunk in chunks { try await outbound.write(ByteBuffer(bytes: chunk)) }
            if halfClose { outbound.finish() }
            var received = ByteBuffer()
            var decoder = FrameDecoder()
            var frames: [WireFrame] = []
            do {
                for try await var buffer in inbound {
                    received.writeBuffer(&buffer)
                    while let frame = try decoder.next(from: &received) { frames.append(frame) }
                    if enough(frames) { break }
                }
            } catch is WireError {
                throw TimeoutError(what: "a well-formed reply", timeout: .zero)
            } catch {
                // The server may close without a TLS close_notify after an error frame: keep what arrived.
            }
            await hold(frames)
            return frames
        }
    }
}

extension WireFrame {
    var isCaughtUp: Bool { if case .caughtUp = body { true } else { false } }
    var isAck: Bool { if case .ack = body { true } else { false } }

    /// A frame as a client sends it first: magic, length, body.
    var bytesWithMagic: [UInt8] { SyncFraming.magic + bytes }

    /// The length-prefixed frame.
    var bytes: [UInt8] {
        var buffer = ByteBuffer()
        try! FrameEncoder.encode(self, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func hello(_ id: String, role: NodeRole, versions: ClosedRange<UInt32> = SyncProtocol.versions) -> WireFrame {
        .with {
            $0.hello = .with {
                $0.minVersion = versions.lowerBound
                $0.maxVersion = versions.upperBound
                $0.nodeID = id
                $0.role = role.rawValue
            }
        }
    }
}

/// A log handler that keeps every message (with its metadata) for the tests to inspect.
final class CapturedLog: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    private let echo = ProcessInfo.processInfo.environment["BRANCHDESK_TEST_LOG"] != nil
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = "\(event.level) \(event.message) \((event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))"
        lock.withLock { entries.append(line) }
        if echo { print(line) }
    }

    var lines: [String] { lock.withLock { entries } }
}
