import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
@testable import TicketStore

@Suite struct GroupCommitTests {
    /// Twenty clerks edit one ticket at the same moment: their edits share commits, and yet each
    /// one sees the edits committed before it in its group, exactly as if they had come one by one.
    @Test func clerksEditingOneTicketAtOnceEachSeeTheEditsBeforeThem() async throws {
        let folder = TemporaryDirectory()
        let store = try NodeStore.create(in: folder.node("hq"), identity: Fixtures.identity("hq", role: .hq))
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        let clerks = (1...20).map { "clerk-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for clerk in clerks {
                group.addTask {
                    _ = try await store.edit(ticket.id, actor: clerk, action: "update") { try $0.update([.assignee: .text(clerk)]) }
                    _ = try await store.edit(ticket.id, actor: clerk, action: "tag") { try $0.tag(add: [clerk], remove: []) }
                    _ = try await store.edit(ticket.id, actor: clerk, action: "note") { try $0.append(Entry(kind: .note, text: clerk)) }
                }
            }
            try await group.waitForAll()
        }
        let edited = try await store.ticket(ticket.id)
        #expect(edited.conflicts.isEmpty, "an edit in a group did not see the one before it")
        #expect(Set(edited.tags) == Set(clerks) && edited.notes.count == 20)
        #expect(clerks.contains(edited.assignee))
        // Ops numbered 1…61 without a gap, each on disk: a fresh store on the file sees them all.
        let reopened = try NodeStore.open(in: folder.node("hq"))
        let ops = try await Fixtures.allOps(of: reopened)
        #expect(ops.map(\.id.seq) == Array(1...61))
        #expect(try await reopened.digest() == (try await store.digest()))
    }

    /// An edit refused by a rule fails alone; the edits committed with it are written.
    @Test func aRefusedEditFailsAloneAndTheRestOfItsGroupCommits() async throws {
        let store = try Fixtures.memoryStore("sh-012")
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<30 {
                group.addTask {
                    do {
                        // Every third edit is an empty note, which the merge core refuses.
                        let text = index % 3 == 0 ? " " : "第\(index)条"
                        _ = try await store.edit(ticket.id, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: text)) }
                        return true
                    } catch is DomainError {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 20)
        #expect(try await store.ticket(ticket.id).notes.count == 20)
        #expect(try await Fixtures.allOps(of: store).map(\.id.seq) == Array(1...21))
    }
}
