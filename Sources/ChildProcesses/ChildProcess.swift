import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn`, for the tests and benchmarks that run `branchdesk`.
///
/// Not Foundation's `Process`: in Swift 6.3.1 its `run()` reads `/proc/self/fd` with a 256-byte
/// over-read and crashes the whole test process now and then when many descriptors are open (as
/// when the security tests hold a thousand connections; swift-corelibs-foundation#5472, fixed
/// after 6.3.1). The child gets the given stdin, stdout and stderr and no other descriptor of ours.
public final class ChildProcess: @unchecked Sendable {
    public let processIdentifier: pid_t
    public let arguments: [String]
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments` and `environment`; the descriptors become the child's
    /// 0, 1 and 2 (nil: /dev/null).
    public init(executable: String, arguments: [String], environment: [String: String], stdin: Int32?, stdout: Int32?, stderr: Int32?) throws {
        self.arguments = arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (source, target) in [(stdin, Int32(0)), (stdout, 1), (stderr, 2)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        guard Self.closeFrom(&actions, 3) == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cannot keep our descriptors from \(executable)"])
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable): \(String(cString: strerror(result)))"])
        }
        processIdentifier = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which the Glibc module
    /// does not import: closes every descriptor from the given one in the child.
    private static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            preconditionFailure("glibc 2.34 or later is needed: posix_spawn_file_actions_addclosefrom_np is missing")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Whether the child still runs; reaps it once it has ended.
    public var isRunning: Bool {
        lock.withLock {
            guard exitStatus == nil else { return false }
            var status: Int32 = 0
            guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
            // Exited: its code; killed by a signal: 128 + the signal, as a shell reports it.
            let signal = status & 0x7f
            exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return false
        }
    }

    /// The exit status, once the child has ended.
    public var terminationStatus: Int32 { lock.withLock { exitStatus ?? -1 } }

    /// Sends `signal` to the child if it still runs.
    public func send(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Waits for the child to end by polling; returns its exit status.
    @discardableResult
    public func awaitExit() -> Int32 {
        while isRunning { Thread.sleep(forTimeInterval: 0.005) }
        return terminationStatus
    }
}
