import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// When a peer counts as in trouble, for `branchdesk status`.
public struct TroubleThresholds: Sendable {
    /// No sync for this long (milliseconds) is a long silence.
    public var silentAfterMillis: UInt64
    /// An op the peer has not acknowledged for this long (milliseconds) puts it far behind…
    public var behindAfterMillis: UInt64
    /// …as do this many ops waiting either way.
    public var behindAfterOps: UInt64

    public init(silentAfterMillis: UInt64, behindAfterMillis: UInt64, behindAfterOps: UInt64) {
        self.silentAfterMillis = silentAfterMillis
        self.behindAfterMillis = behindAfterMillis
        self.behindAfterOps = behindAfterOps
    }

    /// Silent after an hour; behind when an op waits 15 minutes or 10,000 ops wait.
    public static let standard = TroubleThresholds(
        silentAfterMillis: 3_600_000, behindAfterMillis: 900_000, behindAfterOps: 10_000)
}

/// What is wrong with a peer, worst first.
public enum PeerTrouble: Int, Sendable, Comparable, Encodable {
    /// It refuses one of the ops sent to it for good (`OP_REJECTED`): nothing after that op of
    /// its origin reaches it until the op is withdrawn.
    case stuckOp
    /// Its certificate, identity or version was refused, or it refused ours.
    case refused
    /// Known (added by an admin, or the HQ a branch dials) but no round ever completed.
    case neverSynced
    /// No completed sync for longer than the threshold.
    case silent
    /// Ops wait too long or too many to be acknowledged or received.
    case farBehind
    /// The last session failed; the dialler is waiting to try again.
    case backingOff

    public static func < (lhs: PeerTrouble, rhs: PeerTrouble) -> Bool { lhs.rawValue < rhs.rawValue }

    public var name: String {
        switch self {
        case .stuckOp: "stuck op"
        case .refused: "refused"
        case .neverSynced: "never synced"
        case .silent: "silent"
        case .farBehind: "far behind"
        case .backingOff: "backing off"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// One peer's replication as `status` shows it.
public struct PeerStatus: Sendable, Encodable, Equatable {
    public let nodeID: String
    public let role: String
    public let address: String?
    public let state: String
    public let stateSince: Date?
    public let lastSyncAt: Date?
    /// Ops this node holds that the peer has not acknowledged.
    public let opsToSend: UInt64
    /// Ops the peer last said it holds that this node lacks.
    public let opsToReceive: UInt64
    /// When the oldest op the peer has not acknowledged was made.
    public let oldestUnackedAt: Date?
    public let refusals: UInt64
    public let lastError: String?
    public let lastErrorAt: Date?
    /// SLA breaches open on the tickets the peer handles (HQ's view of a branch).
    public let openBreaches: Int
    /// The op the peer refuses for good, if any (SYNC.md §6.2).
    public let stuckOp: StuckOp?
    /// What is wrong, worst first; empty when the peer is fine.
    public let troubles: [PeerTrouble]
    /// The troubles in a sentence, with the figures behind them.
    public let diagnosis: String?
}

/// A node's replication at a glance: its counts, open SLA breaches and every peer, worst first.
public struct NodeStatus: Sendable, Encodable, Equatable {
    public let node: NodeOverview
    public let hqAddress: String?
    /// SLA breaches open now on the tickets this node handles (all tickets, at HQ).
    public let openBreaches: Int
    public let peers: [PeerStatus]
    /// A branch's time zone disagreeing with the one the company calendar judges its deadlines in.
    public let timeZoneWarning: String?
}

extension NodeStore {
    /// The replication state as of `now`, read from the database: a running node records its
    /// sessions there, so this works beside it without stopping it.
    public func status(now: Date, thresholds: TroubleThresholds = .standard) async throws -> NodeStatus {
        let overview = try await overview()
        let identity = identity
        return try await read { db in
            let breachesByBranch = try Self.openBreaches(now: now, db)
            let local = try Self.vector(db)
            let hqAddress = try String.fetchOne(db, sql: "SELECT hqAddress FROM node")
            var records = try Self.peerRecords(db)
            if identity.role == .branch, let hqAddress, !records.contains(where: { $0.role == .hq }) {
                // The HQ this branch dials but has never reached: its node id is not known yet.
                records.append(PeerRecord(nodeID: try NodeID("hq"), role: .hq, address: hqAddress, state: .offline, stateSince: 0))
            }
            let peers = try records.map { record in
                // A branch sends its own ops; HQ sends a branch its feed and the branch's own ops it
                // lacks (version 3), or the origins of its replica scope (version 2).
                let sending: Set<NodeID>? =
                    identity.role == .branch || record.feedAcked != nil
                    ? [record.feedAcked != nil ? record.nodeID : identity.nodeID]
                    : record.role == .branch ? try Self.replicationScope(for: record.nodeID, hq: identity.nodeID, db) : nil
                return try Self.peerStatus(
                    record, node: identity.nodeID, local: local, sending: sending, breaches: breachesByBranch[record.nodeID.rawValue] ?? 0,
                    now: now, thresholds: thresholds, db)
            }
            let settings = try Self.companySettings(db)
            let judgedIn = settings.calendar.timeZoneName(forBranch: identity.nodeID.rawValue)
            let zoneWarning =
                identity.role == .branch && judgedIn != identity.timeZone
                ? "this node shows times in \(identity.timeZone) but the company calendar judges its deadlines in \(judgedIn); ask HQ to run 'branchdesk calendar set --branch-time-zone \(identity.nodeID)=\(identity.timeZone)' if the branch is there"
                : nil
            let handled =
                identity.role == .hq ? breachesByBranch.values.reduce(0, +) : breachesByBranch[identity.nodeID.rawValue] ?? 0
            return NodeStatus(
                node: overview, hqAddress: hqAddress, openBreaches: handled, peers: peers.sorted(by: Self.worseFirst),
                timeZoneWarning: zoneWarning)
        }
    }

    private static func peerStatus(
        _ record: PeerRecord, node: NodeID, local: VersionVector, sending origins: Set<NodeID>?, breaches: Int, now: Date,
        thresholds: TroubleThresholds, _ db: Database
    ) throws -> PeerStatus {
        let nowMillis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var toSend = record.opsWaitingToSend(from: local, only: origins)
        var toReceive = record.opsWaitingToReceive(into: local)
        // Ticket-scoped replication (SYNC.md §5.5) counts feed entries.
        if let acked = record.feedAcked,
            let end = try Int64.fetchOne(db, sql: "SELECT lastPosition FROM feedHead WHERE node = ?", arguments: [record.nodeID.rawValue])
        {
            toSend += UInt64(end) > acked ? UInt64(end) - acked : 0
        }
        if let end = record.feedEnd {
            let held = try Self.feedCursor(db)?.position ?? 0
            toReceive += end > held ? end - held : 0
        }
        // The oldest unacknowledged op is the first one above the acked seq of some origin.
        var oldest: UInt64?
        for (source, seq) in local.seqs where (origins?.contains(source) ?? true) && seq > record.ackedVector[source] {
            let hlc = try Int64.fetchOne(
                db, sql: "SELECT hlc FROM op WHERE origin = ? AND seq = ?",
                arguments: [source.rawValue, Int64(record.ackedVector[source] + 1)])
            if let millis = hlc.map({ HLCTimestamp(rawValue: UInt64(bitPattern: $0)).wallMillis }) { oldest = min(oldest ?? millis, millis) }
        }
        var troubles: [PeerTrouble] = []
        var reasons: [String] = []
        let age = { (then: UInt64) in Self.duration(nowMillis > then ? nowMillis - then : 0) }
        if let stuck = record.stuckOp {
            troubles.append(.stuckOp)
            reasons.append(
                "\(record.nodeID) rejects op \(stuck.op) for good since \(age(stuck.since)) ago (\(stuck.reason)); nothing after it syncs: \(stuck.wayOut(at: node))")
        } else if record.state == .refused {
            troubles.append(.refused)
            reasons.append("refused: \(record.lastError ?? "no reason recorded")")
        }
        if let last = record.lastSyncAt {
            if nowMillis > last, nowMillis - last > thresholds.silentAfterMillis {
                troubles.append(.silent)
                reasons.append("no sync for \(age(last))")
            }
        } else {
            troubles.append(.neverSynced)
            reasons.append("never synced")
        }
        let waitingTooLong = oldest.map { nowMillis > $0 && nowMillis - $0 > thresholds.behindAfterMillis } ?? false
        if waitingTooLong || toSend + toReceive >= thresholds.behindAfterOps {
            troubles.append(.farBehind)
            var behind = "\(toSend) ops to send, \(toReceive) to receive"
            if let oldest { behind += ", the oldest unacknowledged made \(age(oldest)) ago" }
            reasons.append(behind)
        }
        if record.state == .backingOff {
            troubles.append(.backingOff)
            reasons.append("retrying after: \(record.lastError ?? "the link dropped")")
        }
        let date = { (millis: UInt64?) in millis.map { Date(millis: Int64($0)) } }
        return PeerStatus(
            nodeID: record.nodeID.rawValue, role: record.role.rawValue, address: record.address, state: record.state.rawValue,
            stateSince: record.stateSince == 0 ? nil : date(record.stateSince), lastSyncAt: date(record.lastSyncAt),
            opsToSend: toSend, opsToReceive: toReceive, oldestUnackedAt: date(oldest), refusals: record.refusals,
            lastError: record.lastError, lastErrorAt: date(record.lastErrorAt), openBreaches: breaches, stuckOp: record.stuckOp,
            troubles: troubles.sorted(), diagnosis: reasons.isEmpty ? nil : reasons.joined(separator: "; "))
    }

    /// Peers in trouble first (worst trouble, then longest silent), then by node id.
    private static func worseFirst(_ lhs: PeerStatus, _ rhs: PeerStatus) -> Bool {
        let left = lhs.troubles.first?.rawValue ?? Int.max, right = rhs.troubles.first?.rawValue ?? Int.max
        if left != right { return left < right }
        let leftSync = lhs.lastSyncAt ?? .distantPast, rightSync = rhs.lastSyncAt ?? .distantPast
        if leftSync != rightSync { return leftSync < rightSync }
        return lhs.nodeID < rhs.nodeID
    }

    /// "45s", "12m", "3h", "2d".
    public static func duration(_ millis: UInt64) -> String {
        let seconds = millis / 1000
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86_400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }
}
