import Foundation
import GRDB
import Replication
import TestSupport
import Testing
import TicketModel
@testable import TicketStore

@Suite struct LocalEditTests {
    @Test func anEditIsOneOpCommittedWithItsEffect() async throws {
        let store = try Fixtures.memoryStore("sh-012")
        let opened = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        #expect(opened.number == "SH012-20261122-0001")
        #expect(opened.status == "new" && opened.origin == "sh-012" && opened.customer == "张三")
        let accepted = try await store.edit(opened.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
        #expect(accepted.status == "accepted")
        #expect(accepted.history.map(\.action) == ["open", "accept"])
        #expect(try await store.versionVector()[NodeID("sh-012")] == 2)
    }

    @Test func aRefusedEditWritesNothing() async throws {
        let store = try Fixtures.memoryStore("sh-012")
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        let before = try await store.digest()
        await #expect(throws: DomainError.self) {
            _ = try await store.edit(ticket.number, actor: "王芳", action: "close") { try $0.transition(.close) }
        }
        #expect(try await store.digest() == before)
        #expect(try await store.versionVector().total == 1)
    }

    @Test func anEditTooLargeForOneOpIsRefusedWithNothingWritten() async throws {
        let store = try Fixtures.memoryStore("sh-012")
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        let huge = String(repeating: "投诉内容", count: Op.maxChangesBytes / 8)
        let error = await #expect(throws: DomainError.self) {
            _ = try await store.edit(ticket.number, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: huge)) }
        }
        #expect(error?.message.contains("at most 256 KiB") == true)
        #expect(try await store.versionVector().total == 1)
    }

    @Test func theClockAndCountersSurviveARestartEvenWhenTheWallClockGoesBack() async throws {
        let folder = TemporaryDirectory()
        let clock = ManualClock()
        let first = try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("a"), clock: clock)
        let ticket = try await first.openTicket(Fixtures.draft(), actor: "p")
        let lastBefore = try #require(try await first.ticket(ticket.number).history.last)
        clock.set(clock.nowMillis() - 3_600_000)  // the wall clock is corrected an hour back
        let reopened = try NodeStore.open(in: folder.node("a"), clock: clock)
        let edited = try await reopened.edit(ticket.number, actor: "p", action: "note") {
            try $0.append(Entry(kind: .note, text: "after restart"))
        }
        let ops = try await Fixtures.allOps(of: reopened)
        #expect(ops.map(\.id.seq) == [1, 2])
        #expect(ops[1].hlc > ops[0].hlc)
        #expect(edited.history.last?.seq == 2 && lastBefore.seq == 1)
        let second = try await reopened.openTicket(Fixtures.draft(title: "second"), actor: "p")
        #expect(second.number.hasSuffix("-0002"))
    }

    @Test func initRefusesToOverwriteAnExistingNode() throws {
        let folder = TemporaryDirectory()
        _ = try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("a"))
        let error = #expect(throws: StoreError.self) {
            try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("b"))
        }
        #expect(error?.code == .alreadyANode)
        #expect(try NodeStore.open(in: folder.node("a")).identity.nodeID.rawValue == "a")
    }

    @Test func aFolderThatIsNotANodeIsReported() throws {
        let folder = TemporaryDirectory()
        #expect(throws: StoreError.self) { try NodeStore.open(in: folder.node("nothing")) }
        try FileManager.default.createDirectory(atPath: folder.node("junk"), withIntermediateDirectories: true)
        try Data("not a database, just text that is long enough to be read".utf8)
            .write(to: URL(fileURLWithPath: NodeStore.databasePath(in: folder.node("junk"))))
        let error = #expect(throws: StoreError.self) { try NodeStore.open(in: folder.node("junk")) }
        #expect(error?.code == .corrupt)
    }

    @Test func aDatabaseLockedByAnotherProcessIsReportedNotHung() async throws {
        let folder = TemporaryDirectory()
        let store = try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("a"))
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "p")
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: NodeStore.databasePath(in: folder.node("a")), configuration: configuration)
        // Another process holds the write lock, as a long-running writer would.
        try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        let error = await #expect(throws: StoreError.self) {
            _ = try await store.edit(ticket.number, actor: "p", action: "accept") { try $0.transition(.accept) }
        }
        #expect(error?.code == .locked)
        #expect(error?.message.contains("locked by another process") == true)
        try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        #expect(try await store.ticket(ticket.number).status == "new")
    }

    @Test func searchFindsChineseSubstringsOfAnyLength() async throws {
        let store = try Fixtures.memoryStore("a")
        let phone = try await store.openTicket(Fixtures.draft(), actor: "p")
        _ = try await store.openTicket(Fixtures.draft(title: "价格不透明", customer: "李四", statement: "标价和结账价格不一致"), actor: "p")
        _ = try await store.edit(phone.number, actor: "p", action: "note") {
            try $0.append(Entry(kind: .note, text: "客户情绪激动"))
        }
        #expect(try await store.search("死机").map(\.number) == [phone.number])
        #expect(try await store.search("频繁死机").map(\.number) == [phone.number])
        #expect(try await store.search("情绪激").map(\.number) == [phone.number])
        #expect(try await store.search("价格").map(\.customer) == ["李四"])
        #expect(try await store.search("不存在的").isEmpty)
        #expect(try await store.search("100%").isEmpty)
    }

    @Test func listFiltersByStatusAndOpenness() async throws {
        let store = try Fixtures.memoryStore("a")
        let first = try await store.openTicket(Fixtures.draft(), actor: "p")
        _ = try await store.openTicket(Fixtures.draft(title: "b", severity: .major), actor: "p")
        _ = try await store.edit(first.number, actor: "p", action: "reject") {
            try $0.transition(.reject, reason: "不属于受理范围")
        }
        var filter = TicketFilter()
        filter.openOnly = true
        #expect(try await store.tickets(filter).map(\.title) == ["b"])
        filter = TicketFilter()
        filter.stage = .rejected
        #expect(try await store.tickets(filter).map(\.number) == [first.number])
        filter = TicketFilter()
        filter.severity = .major
        #expect(try await store.tickets(filter).count == 1)
    }

    @Test func migrationsRunOnceAndAreRecorded() throws {
        let folder = TemporaryDirectory()
        _ = try NodeStore.create(in: folder.node("a"), identity: Fixtures.identity("a"))
        _ = try NodeStore.open(in: folder.node("a"))  // migrating again is a no-op
        let applied = try DatabaseQueue(path: NodeStore.databasePath(in: folder.node("a"))).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(applied == ["v1", "v2-sync", "v3-restore", "v4-stored-forms", "v5-replica-scope", "v6-deadline-summary", "v7-integrity", "v8-accounts", "v9-dashboard", "v10-feeds", "v11-stuck-ops"])
    }

    @Test func aNodeCreatedWithTheFirstReleasedSchemaOpensAndMigrates() async throws {
        let folder = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.node("a"), withIntermediateDirectories: true)
        let pool = try DatabasePool(path: NodeStore.databasePath(in: folder.node("a")))
        try Schema.migrator.migrate(pool, upTo: "v1")
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO node (singleton, nodeID, role, branchCode, timeZone, createdAt, hlc, lastSeq, ticketCounter, maxSkewMillis)
                    VALUES (1, 'sh-012', 'branch', 'SH012', 'Asia/Shanghai', 0, 0, 0, 0, 300000)
                    """)
        }
        try pool.close()
        let store = try NodeStore.open(in: folder.node("a"))
        #expect(try await store.hqAddress() == nil)
        #expect(try await store.peers().isEmpty)
        let ticket = try await store.openTicket(Fixtures.draft(), actor: "王芳")
        #expect(ticket.number.hasPrefix("SH012-"))
    }
}

@Suite struct StoreErrorTests {
    /// A full or read-only disk cannot be produced for root in a test folder, so the translation
    /// by result code is checked directly; the locked case above runs for real.
    @Test func sqliteFailuresBecomeReadableErrorsByResultCode() {
        let cases: [(ResultCode, StoreError.Code, String)] = [
            (.SQLITE_FULL, .diskFull, "is full"), (.SQLITE_READONLY, .readOnly, "read-only"),
            (.SQLITE_BUSY, .locked, "locked by another process"), (.SQLITE_NOTADB, .corrupt, "restore it from a backup"),
            (.SQLITE_IOERR, .io, "disk I/O error"),
        ]
        for (code, expected, text) in cases {
            let translated = StoreError.translating(DatabaseError(resultCode: code), path: "/data/branchdesk.sqlite")
            let error = translated as? StoreError
            #expect(error?.code == expected, "\(code)")
            #expect(error?.message.contains(text) == true && error?.message.contains("/data/branchdesk.sqlite") == true)
        }
    }
}
