import Replication
import Testing
import TicketModel

@Suite struct HybridLogicalClockTests {
    @Test func readingsNeverGoBackwardsWhenTheWallClockDoes() {
        var clock = HybridLogicalClock(last: .zero)
        var readings = [clock.tick(wallMillis: 10_000)]
        for wall: UInt64 in [10_000, 9_000, 5, 10_001, 10_001, 2_000] { readings.append(clock.tick(wallMillis: wall)) }
        #expect(readings == readings.sorted() && Set(readings).count == readings.count)
        #expect(readings.last?.wallMillis == 10_001)
    }

    @Test func aFullCounterCarriesIntoTheMillisecondsInsteadOfWrapping() {
        var clock = HybridLogicalClock(last: HLCTimestamp(wallMillis: 500, counter: .max))
        let next = clock.tick(wallMillis: 100)
        #expect(next == HLCTimestamp(wallMillis: 501, counter: 0))
    }

    @Test func aReceivedReadingIsExceededByTheNextLocalOne() throws {
        var clock = HybridLogicalClock(last: HLCTimestamp(wallMillis: 1_000, counter: 0))
        let remote = HLCTimestamp(wallMillis: 60_000, counter: 7)
        #expect(clock.check(remote, origin: try NodeID("b"), seq: 1, wallMillis: 1_000) == nil)
        clock.receive(remote)
        #expect(clock.tick(wallMillis: 1_001) > remote)
    }

    @Test func aFarFutureReadingIsRefusedNamingOriginAndSkewAndLeavesTheClockAlone() throws {
        let clock = HybridLogicalClock(last: HLCTimestamp(wallMillis: 1_000_000, counter: 0))
        let ahead = HybridLogicalClock.defaultMaxSkewMillis + 1_000
        let refusal = try #require(
            clock.check(HLCTimestamp(wallMillis: 1_000_000 + ahead, counter: 0), origin: try NodeID("sh-9"), seq: 4, wallMillis: 1_000_000))
        #expect(refusal.aheadMillis == ahead)
        #expect(refusal.description.contains("sh-9#4 is 301s ahead"))
        #expect(clock.last == HLCTimestamp(wallMillis: 1_000_000, counter: 0))
        let withinBound = HLCTimestamp(wallMillis: 1_000_000 + HybridLogicalClock.defaultMaxSkewMillis, counter: 0)
        #expect(clock.check(withinBound, origin: try NodeID("sh-9"), seq: 4, wallMillis: 1_000_000) == nil)
    }
}
