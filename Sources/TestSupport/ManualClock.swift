import Replication
import Synchronization

/// A wall clock that tests set and advance by hand, so nothing depends on real time.
public final class ManualClock: WallClock {
    private let millis: Mutex<UInt64>

    /// Starts at `millis` (default: 2026-11-22 00:00 UTC).
    public init(millis: UInt64 = 1_795_305_600_000) {
        self.millis = Mutex(millis)
    }

    public func nowMillis() -> UInt64 { millis.withLock { $0 } }

    public func advance(byMillis delta: UInt64) { millis.withLock { $0 += delta } }

    /// Sets the time, also backwards (a clock correction).
    public func set(_ value: UInt64) { millis.withLock { $0 = value } }
}
