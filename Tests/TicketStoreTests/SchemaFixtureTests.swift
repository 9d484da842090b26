import Foundation
import GRDB
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// Every released schema, as the released code made it (`scripts/make-schema-fixtures.sh`), opens
/// with this build, migrates, and shows what that build showed: the same tickets and conflicts, and
/// the digest of a replica rebuilt from the same ops.
@Suite struct SchemaFixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let schemas = ["schema-v1", "schema-v2-sync", "schema-v3-restore", "schema-v4-stored-forms", "schema-v5-replica-scope",
        "schema-v6-deadline-summary",
    ]

    /// A copy of the fixture's database in a new data folder (the committed file stays as made).
    static func copy(_ schema: String, into folder: TemporaryDirectory) throws -> String {
        let directory = folder.node("node")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: fixtures.appendingPathComponent("\(schema)/branchdesk.sqlite").path, toPath: NodeStore.databasePath(in: directory))
        return directory
    }

    static func recorded(_ schema: String, _ file: String) throws -> Data {
        try Data(contentsOf: fixtures.appendingPathComponent("\(schema)/\(file)"))
    }

    /// The ticket fields the JSON contract names, as the released build printed them.
    static func contractFields(_ json: Data) throws -> [[String: String]] {
        let tickets = try JSONSerialization.jsonObject(with: json) as? [[String: Any]] ?? []
        return tickets.map { ticket in
            var fields: [String: String] = [:]
            for key in ["id", "number", "title", "status", "severity", "category", "customer", "phone", "origin"] {
                fields[key] = ticket[key].map { "\($0)" }
            }
            return fields
        }
    }

    @Test(arguments: schemas)
    func aReleasedSchemaMigratesAndShowsTheSameTickets(_ schema: String) async throws {
        let folder = TemporaryDirectory()
        let directory = try Self.copy(schema, into: folder)
        let store = try NodeStore.open(in: directory)
        #expect(try NodeStore.pendingMigrations(in: directory).isEmpty)

        var filter = TicketFilter()
        filter.limit = 1_000
        let tickets = try await store.tickets(filter)
        let before = try Self.contractFields(Self.recorded(schema, "tickets.json"))
        // Later builds list phones masked unless asked not to; compare like with like.
        let masked = before.contains { $0["phone"]?.contains("*") == true }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let shown = try Self.contractFields(encoder.encode(masked ? tickets.map { $0.maskingPersonalData() } : tickets))
        #expect(!before.isEmpty)
        #expect(shown == before, "\(schema): the tickets differ from what the released build showed")

        let recordedConflicts = try JSONSerialization.jsonObject(with: Self.recorded(schema, "conflicts.json")) as? [[String: Any]] ?? []
        let conflicts = try await store.conflicts()
        #expect(conflicts.count == recordedConflicts.count, "\(schema)")
        #expect(conflicts.map(\.field) == recordedConflicts.compactMap { $0["field"] as? String }, "\(schema)")

        // The digest of the migrated database equals that of a replica that applied the same ops.
        let rebuilt = try NodeStore.inMemory(identity: store.identity, clock: ManualClock(millis: UInt64(Date().timeIntervalSince1970 * 1000)))
        let ops = try await Fixtures.allOps(of: store)
        for start in stride(from: 0, to: ops.count, by: 500) {
            _ = try await rebuilt.apply(Array(ops[start..<min(start + 500, ops.count)]))
        }
        #expect(try await store.digest() == rebuilt.digest(), "\(schema)")
        #expect(try await store.versionVector() == rebuilt.versionVector())

        // The stored forms have not changed since v4: a v4 database or later keeps its digest.
        if schema >= "schema-v4" {
            let digest = String(decoding: try Self.recorded(schema, "digest.txt"), as: UTF8.self).prefix { $0 != " " }
            #expect(try await store.digest() == String(digest), "\(schema)")
        }
        // And it goes on working: an edit, and the oversight reads of the summary rebuilt for it.
        if let first = tickets.first(where: { $0.status != "rejected" }) {
            _ = try await store.edit(first.number, actor: "王芳", action: "note") { try $0.append(Entry(kind: .note, text: "升级后继续处理")) }
        }
        let now = Date(timeIntervalSince1970: 1_797_000_000)
        let overdue = try await store.urgentTickets(dueBy: now, now: now, filter: TicketFilter())
        #expect(try await store.status(now: now).openBreaches == overdue.count)
    }

    @Test(arguments: schemas)
    func aReadOfAnOlderSchemaMigratesNothingAndSaysHowToUpgrade(_ schema: String) throws {
        let folder = TemporaryDirectory()
        let directory = try Self.copy(schema, into: folder)
        let file = NodeStore.databasePath(in: directory)
        let before = FileManager.default.contents(atPath: file)
        let error = #expect(throws: StoreError.self) { _ = try NodeStore.open(in: directory, access: .readOnly) }
        #expect(error?.code == .olderSchema)
        #expect(error?.message.contains("branchdesk upgrade --data \(directory)") == true, "\(String(describing: error))")
        #expect(FileManager.default.contents(atPath: file) == before, "a read changed the file")
        #expect(try NodeStore.pendingMigrations(in: directory).contains("v7-integrity"))
    }
}
