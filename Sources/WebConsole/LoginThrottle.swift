import Foundation

/// Wrong logins per address in a sliding window: past the limit the address waits, whichever
/// accounts it tries (the store locks each account on its own).
actor LoginThrottle {
    let limit: Int
    let window: TimeInterval
    private var failures: [String: [Date]] = [:]

    init(limit: Int = 10, window: TimeInterval = 15 * 60) {
        self.limit = limit
        self.window = window
    }

    /// When `address` may try again, if it must wait.
    func waitUntil(for address: String, now: Date) -> Date? {
        let recent = (failures[address] ?? []).filter { now.timeIntervalSince($0) < window }
        failures[address] = recent.isEmpty ? nil : recent
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        return oldest.addingTimeInterval(window)
    }

    func failed(_ address: String, at now: Date) { failures[address, default: []].append(now) }

    func succeeded(_ address: String) { failures[address] = nil }
}
