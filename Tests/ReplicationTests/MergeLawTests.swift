import Replication
import TestSupport
import Testing
import TicketModel

@Suite struct MergeLawTests {
    /// Applies `ops` in the given order to a fresh document.
    static func fold(_ ops: [Op], into id: TicketID) -> (TicketDocument, Set<EntryRecord>) {
        var document = TicketDocument(id: id)
        var entries: Set<EntryRecord> = []
        for op in ops { entries.formUnion(document.apply(op)) }
        return (document, entries)
    }

    @Test(arguments: 0..<200)
    func anyDeliveryOrderWithDuplicatesGivesTheNaiveMergeOfTheSet(seed: UInt64) {
        var generator = TicketHistoryGenerator(seed: seed)
        let ops = generator.generate(replicas: 2 + Int(seed % 4), steps: 40)
        let expected = NaiveTicket(Set(ops))
        var random = SeededRandom(seed: seed ^ 0xD1CE)
        for _ in 0..<5 {
            var delivery = ops.shuffled(using: &random)
            delivery += delivery.filter { _ in random.chance(0.3) }  // duplicates, late
            let (document, entries) = Self.fold(delivery, into: generator.ticket)
            #expect(NaiveTicket(document, entries: entries) == expected, "seed \(seed)")
            #expect(document == Self.fold(ops, into: generator.ticket).0, "seed \(seed): documents differ by order")
        }
    }

    @Test(arguments: 0..<100)
    func registerMergeIsCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let origins = try! ["a", "b", "c"].map { try NodeID($0) }
        // Writes with random (possibly dangling) seen-sets.
        let writes: [(Register.Write, [OpID])] = (1...8).map { index in
            let op = OpID(origin: random.pick(origins), seq: UInt64(index))
            let stamp = Stamp(hlc: HLCTimestamp(wallMillis: UInt64(index * 10), counter: 0), op: op)
            let seen = (1..<index).filter { _ in random.chance(0.3) }.map { OpID(origin: random.pick(origins), seq: UInt64($0)) }
            return (.init(stamp: stamp, value: .number(index)), seen)
        }
        func merged(_ list: [(Register.Write, [OpID])]) -> Register {
            var register = Register()
            for (write, seen) in list { register.apply(write, seen: seen) }
            return register
        }
        let reference = merged(writes)
        #expect(merged(writes.shuffled(using: &random)) == reference, "seed \(seed): not commutative")
        #expect(merged(writes + writes.shuffled(using: &random)) == reference, "seed \(seed): not idempotent")
        let split = Int.random(in: 0...writes.count, using: &random)
        let (left, right) = (Array(writes[..<split]), Array(writes[split...]))
        #expect(merged(right + left) == merged(left + right), "seed \(seed): grouping changes the result")
    }

    @Test(arguments: 0..<100)
    func latticeJoinsAreCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        func status() -> Status { Status(round: Int.random(in: 1...3, using: &random), stage: random.pick(Stage.allCases)) }
        let (a, b, c) = (status(), status(), status())
        #expect(a.joined(with: b) == b.joined(with: a))
        #expect(a.joined(with: b).joined(with: c) == a.joined(with: b.joined(with: c)))
        #expect(a.joined(with: a) == a)
    }

    @Test func concurrentCloseAndReopenResolveToReopen() throws {
        let id = TicketID(origin: try NodeID("a"), counter: 1)
        let stamp = { (origin: String, wall: UInt64) in
            (OpID(origin: try! NodeID(origin), seq: 9), HLCTimestamp(wallMillis: wall, counter: 0))
        }
        let (closeID, closeHLC) = stamp("a", 200)
        let (reopenID, reopenHLC) = stamp("b", 100)
        let close = Op(id: closeID, hlc: closeHLC, ticket: id, actor: "a", action: "close",
                       changes: [.status(Status(round: 1, stage: .closed), transition: .close)])
        let reopen = Op(id: reopenID, hlc: reopenHLC, ticket: id, actor: "b", action: "reopen",
                        changes: [.status(Status(round: 2, stage: .investigating), transition: .reopen)])
        #expect(Self.fold([close, reopen], into: id).0.status == Status(round: 2, stage: .investigating))
        #expect(Self.fold([reopen, close], into: id).0.status == Status(round: 2, stage: .investigating))
    }

    @Test func concurrentTagAddSurvivesARemoveThatDidNotSeeIt() throws {
        var set = ORSet()
        let (a, b) = (OpID(origin: try NodeID("a"), seq: 1), OpID(origin: try NodeID("b"), seq: 1))
        set.add("vip", by: a)
        let observed = set.liveAdds(of: "vip")
        set.add("vip", by: b)  // concurrent with the remove below
        set.remove(observed: observed)
        #expect(set.elements == ["vip"])
        set.remove(observed: set.liveAdds(of: "vip"))
        #expect(set.elements.isEmpty)
    }

    @Test func aConcurrentWriteIsAConflictUntilAWriteThatSawBothResolvesIt() throws {
        let id = TicketID(origin: try NodeID("a"), counter: 1)
        var document = TicketDocument(id: id)
        func op(_ origin: String, _ seq: UInt64, _ wall: UInt64, _ change: Change) -> Op {
            Op(id: OpID(origin: try! NodeID(origin), seq: seq), hlc: HLCTimestamp(wallMillis: wall, counter: 0),
               ticket: id, actor: origin, action: "update", changes: [change])
        }
        let open = op("a", 1, 10, .write(field: .severity, value: .number(1), seen: []))
        document.apply(open)
        let branch = op("a", 2, 20, .write(field: .severity, value: .number(2), seen: [open.id]))
        let hq = op("hq", 1, 30, .write(field: .severity, value: .number(3), seen: [open.id]))
        document.apply(branch)
        document.apply(hq)
        let conflict = try #require(document.conflicts.first)
        #expect(conflict.field == .severity && conflict.winner.value == .number(3))
        #expect(conflict.overridden.map(\.value) == [.number(2)])
        let resolution = try document.resolve(.severity, choosing: .number(2))
        document.apply(Op(id: OpID(origin: try NodeID("a"), seq: 3), hlc: HLCTimestamp(wallMillis: 40, counter: 0),
                          ticket: id, actor: "a", action: "resolve", changes: resolution))
        #expect(document.conflicts.isEmpty)
        #expect(document.severity == .serious)
    }
}

@Suite struct GeneratorCoverageTests {
    /// The order-independence tests above only mean something if the histories are concurrent.
    @Test func generatedHistoriesHoldConflictsAndReopens() {
        var conflicts = 0, reopens = 0
        for seed in UInt64(0)..<200 {
            var generator = TicketHistoryGenerator(seed: seed)
            let ops = generator.generate(replicas: 2 + Int(seed % 4), steps: 40)
            let (document, _) = MergeLawTests.fold(ops, into: generator.ticket)
            if !document.conflicts.isEmpty { conflicts += 1 }
            if document.status.round > 1 { reopens += 1 }
        }
        #expect(conflicts >= 20, "only \(conflicts) of 200 histories end in a conflict")
        #expect(reopens >= 20, "only \(reopens) of 200 histories reopen")
    }
}

@Suite struct SetAndEscalationLawTests {
    @Test(arguments: 0..<100)
    func addWinsSetMergeIsCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let origins = try! ["a", "b", "c"].map { try NodeID($0) }
        enum Event { case add(String, OpID), remove([OpID]) }
        var events: [Event] = []
        var issued: [OpID] = []
        for seq in 1...12 {
            let id = OpID(origin: random.pick(origins), seq: UInt64(seq))
            if random.chance(0.6) || issued.isEmpty {
                events.append(.add(random.pick(["vip", "media", "repeat"]), id))
                issued.append(id)
            } else {
                events.append(.remove(issued.filter { _ in random.chance(0.5) }))  // what that writer had observed
            }
        }
        func merged(_ list: [Event]) -> ORSet {
            var set = ORSet()
            for event in list {
                switch event {
                case .add(let element, let id): set.add(element, by: id)
                case .remove(let observed): set.remove(observed: observed)
                }
            }
            return set
        }
        let reference = merged(events)
        #expect(merged(events.shuffled(using: &random)) == reference, "seed \(seed): not commutative")
        #expect(merged(events + events.shuffled(using: &random)) == reference, "seed \(seed): not idempotent")
        let split = Int.random(in: 0...events.count, using: &random)
        #expect(merged(Array(events[split...]) + events[..<split]) == reference, "seed \(seed): grouping matters")
    }

    @Test(arguments: 0..<100)
    func escalationJoinIsCommutativeAssociativeAndIdempotent(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        func escalation() -> Escalation {
            Escalation(round: Int.random(in: 1...3, using: &random), level: random.pick(EscalationLevel.allCases))
        }
        let (a, b, c) = (escalation(), escalation(), escalation())
        #expect(max(a, b) == max(b, a) && max(max(a, b), c) == max(a, max(b, c)) && max(a, a) == a)
    }
}
