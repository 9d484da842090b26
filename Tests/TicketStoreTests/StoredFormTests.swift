import Foundation
import GRDB
import Replication
import Testing
import TestSupport
import TicketModel
@testable import TicketStore
import WireForms

@Suite struct StoredFormTests {
    /// A branch with a conflict, tags, entries and a transfer between two nodes.
    private func busyBranch(in folder: TemporaryDirectory) async throws -> (NodeStore, TicketView) {
        let branch = try NodeStore.create(in: folder.node("branch"), identity: Fixtures.identity("sh-012"), clock: ManualClock())
        let hqClock = ManualClock()
        let hq = try Fixtures.memoryStore("hq", role: .hq, clock: hqClock)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        _ = try await branch.edit(ticket.id, actor: "王芳", action: "tag") { try $0.tag(add: ["vip", "复诉"], remove: []) }
        _ = try await branch.edit(ticket.id, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: "已致电顾客")) }
        try await Fixtures.sync(branch, to: hq)
        hqClock.advance(byMillis: 1_000)
        _ = try await branch.edit(ticket.id, actor: "王芳", action: "update") { try $0.update([.severity: .number(2)]) }
        _ = try await hq.edit(ticket.id, actor: "总部", action: "update") { try $0.update([.severity: .number(3)]) }
        _ = try await branch.openTicket(Fixtures.draft(title: "第二张"), actor: "李四")
        try await Fixtures.sync(hq, to: branch)
        return (branch, try await branch.ticket(ticket.id))
    }

    @Test func aNodeStoredInJSONMigratesToTheStoredFormsWithNothingChanged() async throws {
        let folder = TemporaryDirectory()
        let (branch, ticket) = try await busyBranch(in: folder)
        #expect(!ticket.conflicts.isEmpty && ticket.tags == ["vip", "复诉"] && !ticket.notes.isEmpty)
        let digest = try await branch.digest()
        let conflicts = try await branch.conflicts()
        let tickets = try await branch.tickets(TicketFilter())

        // Put every stored value back into the JSON of schema v3, as an older release left it.
        let queue = try DatabaseQueue(path: NodeStore.databasePath(in: folder.node("branch")))
        try await queue.write { db in
            for row in try Row.fetchAll(db, sql: "SELECT id, document FROM ticket") {
                let document = try StoredForm.document(try #require(TicketID(row["id"] as String)), from: row["document"])
                try db.execute(
                    sql: "UPDATE ticket SET document = ? WHERE id = ?", arguments: [try Coding.encode(document), row["id"]])
            }
            for row in try Row.fetchAll(db, sql: "SELECT origin, seq, changes FROM op") {
                let id = OpID(origin: try NodeID(row["origin"]), seq: UInt64(row["seq"] as Int64))
                try db.execute(
                    sql: "UPDATE op SET changes = ? WHERE origin = ? AND seq = ?",
                    arguments: [try Coding.encode(StoredForm.changes(from: row["changes"], of: id)), row["origin"], row["seq"]])
            }
            for row in try Row.fetchAll(db, sql: "SELECT rowID, origin, seq, body FROM entry") {
                let id = OpID(origin: try NodeID(row["origin"]), seq: UInt64(row["seq"] as Int64))
                try db.execute(
                    sql: "UPDATE entry SET body = ? WHERE rowID = ?",
                    arguments: [try Coding.encode(StoredForm.entry(from: row["body"], of: id)), row["rowID"]])
            }
            for row in try Row.fetchAll(db, sql: "SELECT ticket, field, winner, overridden FROM conflict") {
                let ticket = try #require(TicketID(row["ticket"] as String))
                try db.execute(
                    sql: "UPDATE conflict SET winner = ?, overridden = ? WHERE ticket = ? AND field = ?",
                    arguments: [
                        try Coding.encode(StoredForm.write(from: row["winner"], of: ticket)),
                        try Coding.encode(StoredForm.writes(from: row["overridden"], of: ticket)), row["ticket"], row["field"],
                    ])
            }
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-stored-forms'")
        }
        try queue.close()

        let migrated = try NodeStore.open(in: folder.node("branch"))
        #expect(try await migrated.ticket(ticket.id) == ticket)
        #expect(try await migrated.conflicts() == conflicts)
        #expect(try await migrated.tickets(TicketFilter()) == tickets)
        #expect(try await migrated.digest() == digest)
        // And it goes on working: the conflict can be resolved.
        _ = try await migrated.edit(ticket.id, actor: "店长", action: "resolve") { try $0.resolve(.severity, choosing: .number(2)) }
        #expect(try await migrated.conflicts().isEmpty)
    }

    /// The cache of decoded documents must never hide what another process committed: a command
    /// run beside `serve` edits the same file through its own connection.
    @Test func anEditCommittedByAnotherConnectionIsSeenByTheNextEdit() async throws {
        let folder = TemporaryDirectory()
        let serving = try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("sh-012"))
        let ticket = try await serving.openTicket(Fixtures.draft(), actor: "王芳")
        _ = try await serving.edit(ticket.id, actor: "王芳", action: "tag") { try $0.tag(add: ["vip"], remove: []) }

        let command = try NodeStore.open(in: folder.node("a"))
        _ = try await command.edit(ticket.id, actor: "李四", action: "update") { try $0.update([.severity: .number(3)]) }
        _ = try await command.edit(ticket.id, actor: "李四", action: "tag") { try $0.tag(add: ["复诉"], remove: []) }

        // Had the serving store used its cached document, this write would not have seen the
        // other one (a conflict), and saving the stale document would have dropped the tag.
        let edited = try await serving.edit(ticket.id, actor: "王芳", action: "update") { try $0.update([.severity: .number(2)]) }
        #expect(edited.conflicts.isEmpty)
        #expect(edited.severity == 2 && edited.tags == ["vip", "复诉"])
        #expect(try await serving.digest() == (try await command.digest()))
    }
}
