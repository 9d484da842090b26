import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The lock a serving process holds on its data directory for as long as it runs, so that one
/// node is served by one process: a second `serve` (or a second HQ, or two branches dialling as
/// one node) is refused, naming the process that holds it. The kernel releases it when the
/// process ends, however it ends.
public final class ServeLock: Sendable {
    /// The lock file inside the data directory; it holds the serving process's id.
    public static let fileName = "serve.lock"
    private let descriptor: Mutex<Int32?>

    /// Takes the lock on `directory`, or throws `NodeError.alreadyServed` naming its holder.
    public init(directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw NodeError(.alreadyServed, "cannot open \(path) (\(String(cString: strerror(errno)))); check the data folder's permissions")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(of: descriptor)
            close(descriptor)
            throw NodeError(
                .alreadyServed,
                "the node in \(directory) is already served by process \(holder ?? "unknown"); a node is served by one process: stop that one first, or serve another --data folder"
            )
        }
        let pid = Data("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.descriptor = Mutex(descriptor)
    }

    /// Gives the directory up: the node is no longer served by this process.
    public func release() {
        descriptor.withLock { descriptor in
            guard let open = descriptor else { return }
            _ = flock(open, LOCK_UN)
            close(open)
            descriptor = nil
        }
    }

    deinit { release() }

    private static func holder(of descriptor: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
