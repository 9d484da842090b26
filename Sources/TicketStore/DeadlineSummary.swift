import Foundation
import GRDB
import Replication
import ServiceLevels
import TicketModel

/// A ticket's deadlines reduced to what oversight asks of them — each due time and when it was
/// met — in the `deadlineSummary` table, kept by the merge in the transaction that changes the
/// ticket. `status`, `/metrics` and `ticket list --overdue|--due-within` read its index instead
/// of replaying every open ticket's ops; when HQ changes the policy or the calendar, every ticket
/// with a deadline still open is summarised again.
///
/// It is derived data: rebuilt whole, with this build's rules, after a migration that adds or
/// changes it (`DerivedData`).
enum DeadlineSummary {
    /// Whether `change` may move a deadline or its summary: what `TicketTimeline` and the policy
    /// read (the receipt, the stage, the first contact, waits for the customer, severity,
    /// departments) and the branch whose calendar judges it. Notes, other fields and escalations
    /// do not, and a transaction of only those leaves the summary alone.
    static func depends(on change: Change) -> Bool {
        switch change {
        case .intake, .status: true
        case .write(let field, _, _): field == .branch || field == .severity || field == .department
        case .escalation: false
        case .entry(let entry): entry.kind == .contact || entry.kind == .reply || entry.kind == .rejection
        case .add(let set, let element), .remove(let set, let element, _):
            set == .departments || (set == .tags && element == Tag.waitingForCustomer)
        }
    }

    /// Summarises `documents` (the tickets a transaction changed in what their deadlines depend
    /// on) under the settings in force; all open tickets when the settings themselves changed.
    static func refresh(_ documents: [TicketDocument], _ db: Database) throws {
        if documents.contains(where: { $0.id == .companySettings }) { return try refreshOpen(db) }
        let opened = documents.filter { $0.intake != nil }
        guard !opened.isEmpty else { return }
        let settings = try NodeStore.companySettings(db)
        for document in opened { try refresh(document, settings: settings, db) }
    }

    /// Summarises again every ticket with a deadline not yet met: the policy or calendar changed.
    static func refreshOpen(_ db: Database) throws {
        let settings = try NodeStore.companySettings(db)
        let ids = try String.fetchAll(
            db,
            sql: """
                SELECT t.id FROM ticket t LEFT JOIN deadlineSummary d ON d.ticket = t.id
                WHERE t.opened AND (d.ticket IS NULL OR d.firstReplyMetAt IS NULL OR d.resolutionMetAt IS NULL)
                """)
        for id in ids {
            guard let id = TicketID(id), let document = try NodeStore.storedDocument(id, db) else { continue }
            try refresh(document, settings: settings, db)
        }
    }

    /// Rebuilds the whole table, a thousand tickets a transaction.
    static func rebuild(_ writer: any DatabaseWriter) throws {
        var after = ""
        while true {
            let last: String? = try writer.write { db in
                let settings = try NodeStore.companySettings(db)
                let rows = try Row.fetchAll(
                    db, sql: "SELECT id, document FROM ticket WHERE opened AND id > ? ORDER BY id LIMIT 1000", arguments: [after])
                for row in rows { try refresh(NodeStore.storedDocument(from: row), settings: settings, db) }
                return rows.last?["id"]
            }
            guard let last else { return }
            after = last
        }
    }

    private static func refresh(_ document: TicketDocument, settings: CompanySettings, _ db: Database) throws {
        // The due times do not depend on the time they are read at; only the states do.
        let deadlines = try NodeStore.deadlines(of: document, settings: settings, now: .distantPast, db).deadlines.deadlines.currentRound
        let reply = deadlines.first { $0.kind == .firstReply }
        let resolution = deadlines.first { $0.kind == .resolution }
        let openDue = deadlines.filter { $0.metAt == nil }.compactMap(\.due).min()
        try db.cachedStatement(
            sql: """
                INSERT INTO deadlineSummary (ticket, branch, firstReplyDue, firstReplyMetAt, resolutionDue, resolutionMetAt, openDue)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (ticket) DO UPDATE SET
                    branch = excluded.branch, firstReplyDue = excluded.firstReplyDue,
                    firstReplyMetAt = excluded.firstReplyMetAt, resolutionDue = excluded.resolutionDue,
                    resolutionMetAt = excluded.resolutionMetAt, openDue = excluded.openDue
                """
        ).execute(arguments: [
            document.id.description, document.owner.rawValue, millis(reply?.due), millis(reply?.metAt), millis(resolution?.due),
            millis(resolution?.metAt), millis(openDue),
        ])
    }

    private static func millis(_ date: Date?) -> Int64? { date.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } }
}
