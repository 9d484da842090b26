import Foundation
import Replication
import ServiceLevels
import TestSupport
import Testing
import TicketModel
import TicketStore

/// The deadline summary the merge keeps agrees, at every moment, with the deadlines computed from
/// each ticket's ops; and it follows HQ's policy changes.
@Suite struct DeadlineSummaryTests {
    let clock = ManualClock()
    let branchClock = ManualClock()

    /// Every ticket's earliest open due time, computed the long way from its ops, soonest first.
    static func openDeadlinesTheLongWay(_ store: NodeStore, numbers: [String], now: Date) async throws -> [(due: Date, number: String)] {
        var open: [(due: Date, number: String)] = []
        for number in numbers {
            let deadlines = try await store.deadlines(of: number, now: now).deadlines
            if let due = deadlines.filter({ $0.metAt == nil }).compactMap(\.due).min() { open.append((due, number)) }
        }
        return open.sorted { ($0.due, $0.number) < ($1.due, $1.number) }
    }

    @Test(arguments: [3, 17, 2026])
    func theOverdueListAndStatusAgreeWithEveryTicketsDeadlines(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        let branch = try Fixtures.memoryStore("sh-012", clock: branchClock)
        var numbers: [String] = []
        for index in 0..<40 {
            branchClock.advance(byMillis: UInt64.random(in: 0...6 * 3_600_000, using: &random))
            let number = try await branch.openTicket(Fixtures.draft(title: "投诉 \(index)", severity: index % 3 == 0 ? .serious : .general), actor: "王芳").number
            numbers.append(number)
            switch Int.random(in: 0..<5, using: &random) {
            case 0: _ = try await branch.edit(number, actor: "王芳", action: "contact") { try $0.append(Entry(kind: .contact, text: "已回电", via: .phone)) }
            case 1: _ = try await branch.edit(number, actor: "王芳", action: "wait") { try $0.tag(add: [Tag.waitingForCustomer], remove: []) }
            case 2: _ = try await branch.edit(number, actor: "王芳", action: "reject") { try $0.transition(.reject, reason: "不属于受理范围") }
            case 3:
                // Edits that move no deadline, then one that does: the severity.
                _ = try await branch.edit(number, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: "内部备注")) }
                _ = try await branch.edit(number, actor: "王芳", action: "update") { try $0.update([.severity: .number(index % 3 == 0 ? 1 : 2)]) }
            default: break
            }
        }
        clock.set(branchClock.nowMillis())
        try await Fixtures.sync(branch, to: hq)
        let start = Date(timeIntervalSince1970: Double(branchClock.nowMillis()) / 1000)
        for hours in [0, 12, 30, 80, 200] {
            let now = start.addingTimeInterval(Double(hours) * 3600)
            for store in [branch, hq] {
                let open = try await Self.openDeadlinesTheLongWay(store, numbers: numbers, now: now)
                let fast = try await store.urgentTickets(dueBy: now, now: now, filter: TicketFilter()).map(\.deadlines.number)
                let slow = open.filter { $0.due <= now }.map(\.number)
                #expect(fast == slow, "seed \(seed), \(hours) h: the summary disagrees")
                let within = now.addingTimeInterval(4 * 3600)
                let soon = try await store.urgentTickets(dueBy: within, now: now, filter: TicketFilter()).map(\.deadlines.number)
                #expect(soon == open.filter { $0.due <= within }.map(\.number), "seed \(seed), \(hours) h")
                let status = try await store.status(now: now)
                #expect(status.openBreaches == slow.count, "seed \(seed), \(hours) h")
            }
        }
    }

    @Test func aPolicyHQReappliesToOpenTicketsSummarisesThemAgain() async throws {
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: clock)
        let number = try await hq.openTicket(Fixtures.draft(), actor: "总部").number
        let now = Date(timeIntervalSince1970: Double(clock.nowMillis()) / 1000).addingTimeInterval(5 * 86_400)
        #expect(try await hq.urgentTickets(dueBy: now, now: now, filter: TicketFilter()).map(\.deadlines.number) == [number])
        var policy = ServicePolicy.standard
        policy.rules[1] = .init(firstReply: .days(10), resolution: .days(30))
        try await hq.setPolicy(policy, actor: "总部")
        // The ticket keeps the policy it was recorded under…
        #expect(try await hq.urgentTickets(dueBy: now, now: now, filter: TicketFilter()).map(\.deadlines.number) == [number])
        // …until HQ re-applies the new one to the open tickets.
        policy.reappliesToOpenTickets = true
        try await hq.setPolicy(policy, actor: "总部")
        #expect(try await hq.urgentTickets(dueBy: now, now: now, filter: TicketFilter()).isEmpty)
        #expect(try await hq.status(now: now).openBreaches == 0)
    }
}
