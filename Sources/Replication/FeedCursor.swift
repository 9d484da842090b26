/// A place in the feed HQ keeps for one branch (SYNC.md §5.5): the feed's name and how many of
/// its entries are held — or, said by HQ, how many exist.
public struct FeedCursor: Sendable, Hashable, CustomStringConvertible {
    /// Names one feed. A branch holding a cursor of another epoch (HQ was restored from a backup
    /// and built the feed again) starts the new feed from 0.
    public var epoch: String
    public var position: UInt64

    public init(epoch: String, position: UInt64) {
        self.epoch = epoch
        self.position = position
    }

    public var description: String { "\(epoch.prefix(8))@\(position)" }
}

/// What HQ read of a branch's feed for one batch.
public struct FeedRead: Sendable, Equatable {
    /// The branch's own ops above what it holds of them (a restored branch pulls them back), then
    /// the feed's next entries.
    public var ops: [Op]
    /// The feed's position after these ops.
    public var position: UInt64

    public init(ops: [Op], position: UInt64) {
        self.ops = ops
        self.position = position
    }
}
