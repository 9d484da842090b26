import Replication
import Testing
import TicketModel

@Suite struct BatchAdmissionTests {
    let ticket = TicketID(origin: try! NodeID("a"), counter: 1)

    func op(_ origin: String, _ seq: UInt64, wall: UInt64 = 1_000) -> Op {
        Op(id: OpID(origin: try! NodeID(origin), seq: seq), hlc: HLCTimestamp(wallMillis: wall, counter: 0),
           ticket: ticket, actor: "x", action: "note", changes: [.entry(Entry(kind: .note, text: "n"))])
    }

    @Test func duplicatesGapsAndOrderAreSortedOutPerOrigin() throws {
        let vector = VersionVector([try NodeID("a"): 2])
        let batch = [op("b", 2), op("a", 4), op("a", 2), op("a", 3), op("b", 1), op("b", 1), op("c", 2)]
        let admission = BatchAdmission(batch: batch, vector: vector, clock: HybridLogicalClock(last: .zero), wallMillis: 1_000)
        #expect(admission.accepted.map(\.id.description) == ["a#3", "a#4", "b#1", "b#2"])
        #expect(admission.duplicates == 2)
        #expect(admission.deferred.map(\.description) == ["c#2"])
        #expect(admission.refused.isEmpty)
    }

    @Test func aFarFutureOpIsRefusedWithTheRestOfItsOriginOnly() throws {
        let skewed = HybridLogicalClock.defaultMaxSkewMillis + 60_000
        let batch = [op("a", 1), op("b", 1, wall: 1_000 + skewed), op("b", 2), op("c", 1)]
        let admission = BatchAdmission(batch: batch, vector: VersionVector(), clock: HybridLogicalClock(last: .zero), wallMillis: 1_000)
        #expect(admission.accepted.map(\.id.description) == ["a#1", "c#1"])
        #expect(admission.refused.map(\.origin.rawValue) == ["b"])
        #expect(admission.refused.first?.aheadMillis == skewed)
        #expect(admission.deferred.map(\.description) == ["b#2"])
    }
}
