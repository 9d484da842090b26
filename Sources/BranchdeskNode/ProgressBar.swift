import Foundation
import Synchronization
import SyncWire

/// A one-line progress bar for `sync --once` on a terminal: ops moved of those each side lacked,
/// and the rate. Redrawn at most ten times a second; cleared when the round ends.
public final class ProgressBar: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var drawn = false
    }

    private let started = ContinuousClock.now
    private let state = Mutex(State())

    /// Shows `progress`, unless the last redraw was under 100 ms ago.
    public init() {}

    public func update(_ progress: SyncProgress) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            if let last = state.lastDrawn, now - last < .milliseconds(100) { return nil }
            state.lastDrawn = now
            state.drawn = true
            return Self.line(progress, elapsed: now - started)
        }
        if let line { FileHandle.standardError.write(Data("\r\(line)\u{1B}[K".utf8)) }
    }

    /// Clears the bar, so that the summary or the error prints on a clean line.
    public func finish() {
        let drawn = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// `[########------------]  40% 4,000/10,000 ops  2,000 ops/s  sent 0/0 received 4,000/10,000`.
    public static func line(_ progress: SyncProgress, elapsed: Duration, width: Int = 24) -> String {
        let done = progress.opsSent + progress.opsReceived
        let total = max(progress.opsToSend + progress.opsToReceive, done)
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let filled = Int((fraction * Double(width)).rounded(.down))
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(done) / seconds) : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return "[\(bar)] \(String(format: "%3d", Int(fraction * 100)))% \(grouped(done))/\(grouped(total)) ops  \(grouped(rate)) ops/s"
            + "  sent \(grouped(progress.opsSent))/\(grouped(progress.opsToSend))"
            + " received \(grouped(progress.opsReceived))/\(grouped(progress.opsToReceive))"
    }

    private static func grouped(_ number: Int) -> String {
        let digits = String(number)
        return digits.enumerated().map { index, digit in
            index > 0 && (digits.count - index) % 3 == 0 ? ",\(digit)" : String(digit)
        }.joined()
    }
}
