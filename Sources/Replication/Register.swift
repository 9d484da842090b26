import TicketModel

/// A last-writer-wins register that keeps the writes nobody has seen yet, so conflicts show.
///
/// Every write names the writes of the field its writer had seen. Over all writes this forms a
/// DAG; the *frontier* is the writes no other write has seen; the value is the greatest write of
/// the frontier by `(hlc, origin)`; while the frontier holds more than one write there is a
/// conflict. All three are functions of the *set* of writes, so delivery order does not matter.
public struct Register: Hashable, Codable, Sendable {
    /// One write of the register.
    public struct Write: Hashable, Codable, Sendable {
        public let stamp: Stamp
        public let value: RegisterValue

        public init(stamp: Stamp, value: RegisterValue) {
            self.stamp = stamp
            self.value = value
        }
    }

    /// The writes no other write has seen, in ascending stamp order.
    public private(set) var frontier: [Write] = []
    /// Every write some write has seen, sorted: knowing them lets a late-arriving, already
    /// superseded write be recognised as such.
    public private(set) var seen: [OpID] = []

    public init() {}

    /// A register from its stored parts, as `apply(_:seen:)` left them: both sorted.
    public init(frontier: [Write], seen: [OpID]) {
        self.frontier = frontier
        self.seen = seen
    }

    /// The value in force: the greatest write of the frontier.
    public var winner: Write? { frontier.last }

    /// The writes that lost to `winner` without their writers having seen it: a conflict when not empty.
    public var overridden: [Write] { Array(frontier.dropLast()) }

    /// The op ids a new write must name to resolve any conflict: the whole frontier.
    public var frontierIDs: [OpID] { frontier.map(\.stamp.op) }

    /// Merges one write; applying the same write again changes nothing.
    public mutating func apply(_ write: Write, seen writesSeen: [OpID]) {
        for id in writesSeen { seen.insertSorted(id) }
        frontier.removeAll { seen.containsSorted($0.stamp.op) }
        guard !seen.containsSorted(write.stamp.op), !frontier.contains(where: { $0.stamp == write.stamp }) else { return }
        let index = frontier.firstIndex { $0.stamp > write.stamp } ?? frontier.endIndex
        frontier.insert(write, at: index)
    }
}

/// An add-wins set: an element is present while some add of it has not been removed, and a
/// remove only removes the adds its writer had observed.
public struct ORSet: Hashable, Codable, Sendable {
    /// For each element, the ids of the ops that added it, sorted.
    public private(set) var adds: [String: [OpID]] = [:]
    /// The add ids removed so far, sorted.
    public private(set) var removed: [OpID] = []

    public init() {}

    /// A set from its stored parts, as `add` and `remove` left them: every id list sorted.
    public init(adds: [String: [OpID]], removed: [OpID]) {
        self.adds = adds
        self.removed = removed
    }

    /// The elements present, sorted.
    public var elements: [String] { adds.keys.filter { !liveAdds(of: $0).isEmpty }.sorted() }

    /// The adds of `element` not yet removed: what a remove made now must name.
    public func liveAdds(of element: String) -> [OpID] {
        (adds[element] ?? []).filter { !removed.containsSorted($0) }
    }

    public mutating func add(_ element: String, by op: OpID) {
        adds[element, default: []].insertSorted(op)
    }

    public mutating func remove(observed: [OpID]) {
        for id in observed { removed.insertSorted(id) }
    }
}

extension Array where Element: Comparable {
    /// Inserts into a sorted array, keeping it sorted and free of duplicates.
    mutating func insertSorted(_ element: Element) {
        let index = lowerBound(of: element)
        if index == endIndex || self[index] != element { insert(element, at: index) }
    }

    func containsSorted(_ element: Element) -> Bool {
        let index = lowerBound(of: element)
        return index < endIndex && self[index] == element
    }

    private func lowerBound(of element: Element) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < element { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
