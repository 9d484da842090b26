import Foundation
import GRDB
import Monitoring
import Replication
import TicketModel
import TicketStore

extension Benchmarks {
    /// (7) The oversight reads at an HQ holding `tickets` open tickets — `status`, a `/metrics`
    /// scrape and `ticket list --overdue` — against one indexed `SELECT` over the same table.
    /// The tickets were received over the last 30 days at 50 branches and none is answered yet,
    /// so most of them are breached: the reads have every deadline to judge.
    func oversight(tickets: Int) async throws -> [Figure] {
        let now = Date()
        let nowMillis = UInt64(now.timeIntervalSince1970 * 1000)
        let store = try await busyHQ(named: "oversight", tickets: tickets, now: now)
        let metrics = NodeMetrics()
        let status = try await Self.percentiles { _ = try await store.status(now: now) }
        let scrape = try await Self.percentiles { _ = metrics.exposition(of: try await store.status(now: now), now: now) }
        var overdue = TicketFilter()
        overdue.limit = 100
        let filter = overdue
        let list = try await Self.percentiles { _ = try await store.urgentTickets(dueBy: now, now: now, filter: filter) }
        var readOnly = Configuration()
        readOnly.readonly = true
        let database = try DatabaseQueue(path: store.path, configuration: readOnly)
        let since = Int64(nowMillis) - 7 * 86_400_000
        let select = try await Self.percentiles {
            _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ticket WHERE receivedAt < ?", arguments: [since]) }
        }
        let baseline = "one indexed SELECT, same table"
        return [
            Figure(
                name: "status at HQ, \(tickets) open tickets, p50 / p99", value: status.p50, baselineName: baseline,
                baseline: select.p50, unit: "ms", target: "< 100 ms (p99 \(Self.milliseconds(status.p99)))"),
            Figure(
                name: "/metrics scrape, same HQ, p50", value: scrape.p50, baselineName: baseline, baseline: select.p50, unit: "ms",
                target: "< 100 ms (p99 \(Self.milliseconds(scrape.p99)))"),
            Figure(
                name: "ticket list --overdue (100), same HQ, p50", value: list.p50, baselineName: baseline, baseline: select.p50,
                unit: "ms", target: "< 100 ms (p99 \(Self.milliseconds(list.p99)))"),
        ]
    }

    /// An HQ holding `tickets` open tickets received over the last 30 days at 50 branches, none
    /// answered yet (so most are breached): the oversight and console benchmarks read it.
    func busyHQ(named name: String, tickets: Int, now: Date) async throws -> NodeStore {
        let store = try NodeStore.create(in: path(name), identity: Self.identity("hq", role: .hq))
        let nowMillis = UInt64(now.timeIntervalSince1970 * 1000)
        var random = SplitMix64(seed: 11)
        var seqs: [NodeID: UInt64] = [:]
        let origins = (0..<50).map { try! NodeID(String(format: "br-%03d", $0)) }
        var batch: [Op] = []
        for index in 0..<tickets {
            let origin = origins[index % origins.count]
            let seq = (seqs[origin] ?? 0) + 1
            seqs[origin] = seq
            let received = Int64(nowMillis) - Int64(random.next(below: 30 * 86_400_000))
            batch.append(
                Op(
                    id: OpID(origin: origin, seq: seq), hlc: HLCTimestamp(wallMillis: nowMillis - 60_000, counter: UInt16(index % 60_000)),
                    ticket: TicketID(origin: origin, counter: Int(seq)), actor: "王芳", action: "open",
                    changes: TicketDocument.opening(try Self.draft(index), number: TicketNumber.make(
                        code: BranchCode(defaultFor: origin), day: CalendarDay(year: 2026, month: 11, day: 22)!, counter: Int(seq)),
                        receivedAt: received)))
            if batch.count == NodeStore.maxBatchOps || index == tickets - 1 {
                _ = try await store.apply(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        return store
    }

    /// The median and the worst of 51 runs of `body`, in milliseconds, after one warm-up run.
    static func percentiles(_ body: () async throws -> Void) async throws -> (p50: Double, p99: Double) {
        try await body()
        var times: [Double] = []
        for _ in 0..<51 { times.append(try await time(body) * 1000) }
        times.sort()
        return (times[times.count / 2], times[times.count * 99 / 100])
    }

    static func milliseconds(_ value: Double) -> String { String(format: "%.1f ms", value) }
}
