import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// What HQ's dashboard shows: per branch, the open work and the month's deadlines kept, with the
/// time of the branch's last sync so that stale data is told from a real dip.
public struct Dashboard: Sendable, Equatable {
    /// Deadlines of one kind, of the tickets received in the month.
    public struct OnTime: Sendable, Equatable {
        public var met = 0
        public var late = 0
        public var breached = 0
        public var pending = 0
        /// Met on time among those decided (met, late or breached); nil before any is.
        public var rate: Double? {
            let decided = met + late + breached
            return decided == 0 ? nil : Double(met) / Double(decided)
        }

        mutating func count(due: Int64?, metAt: Int64?, now: Int64) {
            guard let due else { return }
            switch metAt {
            case .some(let met) where met <= due: self.met += 1
            case .some: late += 1
            case .none where due < now: breached += 1
            case .none: pending += 1
            }
        }
    }

    public struct Branch: Sendable, Equatable {
        public let node: String
        public var open = 0
        public var overdue = 0
        public var dueSoon = 0
        /// Tickets received in the month.
        public var received = 0
        public var firstReply = OnTime()
        public var resolution = OnTime()
        /// The last sync with this branch (nil: never, or this is a branch's own dashboard).
        public var lastSyncAt: Date?

        init(node: String) { self.node = node }
    }

    /// Open (received, not yet resolved) tickets at the end of one day.
    public struct Backlog: Sendable, Equatable {
        public let day: CalendarDay
        public let open: Int
    }

    public let month: Range<Date>
    public let branches: [Branch]
    public let company: Branch
    /// The last 30 days, oldest first.
    public let backlog: [Backlog]
    /// category → branch → tickets received in the month.
    public let volume: [String: [String: Int]]
    public let onTimeTargetPercent: Int
}

extension NodeStore {
    /// The dashboard as of `now` for the tickets received in `month` (in the company's time zone).
    /// Every count is read from a covering index (schema v9), each grouped in its index's order:
    /// no ticket's document is read.
    public func dashboard(month: Range<Date>, now: Date) async throws -> Dashboard {
        let identity = identity
        return try await read { db in
            let settings = try Self.companySettings(db)
            let (nowMillis, soon) = (Self.millis(now), Self.millis(now) + Int64(settings.policy.dueSoonHours) * 3_600_000)
            var branches: [String: Dashboard.Branch] = [:]
            func update(_ node: String, _ change: (inout Dashboard.Branch) -> Void) {
                change(&branches[node, default: Dashboard.Branch(node: node)])
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT branch, count(*) AS n FROM ticket INDEXED BY ticket_branch_stage
                    WHERE opened AND stage NOT IN ('closed', 'rejected') GROUP BY branch
                    """)
            {
                update(row["branch"]) { $0.open = row["n"] }
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT branch, sum(openDue < ?) AS overdue, sum(openDue >= ?) AS soon FROM deadlineSummary INDEXED BY deadlineSummary_branch
                    WHERE openDue IS NOT NULL AND openDue <= ? GROUP BY branch
                    """,
                arguments: [nowMillis, nowMillis, soon])
            {
                update(row["branch"]) { $0.overdue = row["overdue"]; $0.dueSoon = row["soon"] }
            }
            var volume: [String: [String: Int]] = [:]
            let monthRows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT t.branch, t.category, d.firstReplyDue, d.firstReplyMetAt, d.resolutionDue, d.resolutionMetAt
                    FROM ticket t INDEXED BY ticket_month LEFT JOIN deadlineSummary d ON d.ticket = t.id
                    WHERE t.opened AND t.receivedAt >= ? AND t.receivedAt < ?
                    """,
                arguments: [Self.millis(month.lowerBound), Self.millis(month.upperBound)])
            while let row = try monthRows.next() {
                let (branch, category) = (row[0] as String, row[1] as String)
                volume[category, default: [:]][branch, default: 0] += 1
                update(branch) { entry in
                    entry.received += 1
                    entry.firstReply.count(due: row[2], metAt: row[3], now: nowMillis)
                    entry.resolution.count(due: row[4], metAt: row[5], now: nowMillis)
                }
            }
            if identity.role == .hq {
                for peer in try Self.peerRecords(db) where peer.role == .branch {
                    update(peer.nodeID.rawValue) { $0.lastSyncAt = peer.lastSyncAt.map { Date(timeIntervalSince1970: Double($0) / 1000) } }
                }
            } else {
                branches = branches.filter { $0.key == identity.nodeID.rawValue }
            }
            let zone = TimeZone(identifier: settings.calendar.timeZone) ?? .gmt
            let ordered = branches.values.sorted { $0.node < $1.node }
            return Dashboard(
                month: month, branches: ordered, company: Self.total(ordered), backlog: try Self.backlog(until: now, in: zone, db),
                volume: volume, onTimeTargetPercent: settings.policy.onTimeTargetPercent)
        }
    }

    private static func total(_ branches: [Dashboard.Branch]) -> Dashboard.Branch {
        var company = Dashboard.Branch(node: "company")
        for branch in branches {
            company.open += branch.open
            company.overdue += branch.overdue
            company.dueSoon += branch.dueSoon
            company.received += branch.received
            for (total, part) in [(\Dashboard.Branch.firstReply, branch.firstReply), (\Dashboard.Branch.resolution, branch.resolution)] {
                company[keyPath: total].met += part.met
                company[keyPath: total].late += part.late
                company[keyPath: total].breached += part.breached
                company[keyPath: total].pending += part.pending
            }
        }
        return company
    }

    /// The tickets received and not resolved at the end of each of the last 30 days: today's
    /// count, walked back through each day's arrivals and resolutions (index ranges).
    private static func backlog(until now: Date, in zone: TimeZone, _ db: Database) throws -> [Dashboard.Backlog] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let today = calendar.startOfDay(for: now)
        let ends = (0..<30).reversed().map { calendar.date(byAdding: .day, value: 1 - $0, to: today)! }
        let unresolved = try Int.fetchOne(db, sql: "SELECT count(*) FROM deadlineSummary WHERE resolutionMetAt IS NULL") ?? 0
        // Each day's arrivals and resolutions are counted in their index ranges: the engine counts,
        // no row is handed over.
        let arrivals = try db.cachedStatement(
            sql: "SELECT count(*) FROM ticket INDEXED BY ticket_month WHERE opened AND receivedAt >= ? AND receivedAt < ?")
        let resolutions = try db.cachedStatement(
            sql: "SELECT count(*) FROM deadlineSummary INDEXED BY deadlineSummary_resolved WHERE resolutionMetAt >= ? AND resolutionMetAt < ?")
        var backlog: [Dashboard.Backlog] = []
        // From the end of today back: a day's end had that day's arrivals fewer, and its resolutions more.
        var open = unresolved
        var later = Int64.max
        for end in ends.reversed() {
            let cut = millis(end)
            open += try Int.fetchOne(resolutions, arguments: [cut, later])! - Int.fetchOne(arrivals, arguments: [cut, later])!
            backlog.append(Dashboard.Backlog(day: DeadlineClock.day(of: end - 1, in: zone), open: open))
            later = cut
        }
        return backlog.reversed()
    }

}
