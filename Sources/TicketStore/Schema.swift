import Foundation
import GRDB
import Replication
import TicketModel
import WireForms

/// The versioned schema. Shipped migrations are never edited: a change is a new migration.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // The node's identity and the durable part of its clocks and counters (one row).
            try db.execute(
                sql: """
                    CREATE TABLE node (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        nodeID TEXT NOT NULL,
                        role TEXT NOT NULL,
                        branchCode TEXT NOT NULL,
                        timeZone TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        hlc INTEGER NOT NULL,
                        lastSeq INTEGER NOT NULL,
                        ticketCounter INTEGER NOT NULL,
                        maxSkewMillis INTEGER NOT NULL
                    );
                    -- The source of truth: every op ever applied here, local or remote.
                    CREATE TABLE op (
                        origin TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        hlc INTEGER NOT NULL,
                        ticket TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        changes BLOB NOT NULL,
                        PRIMARY KEY (origin, seq)
                    ) WITHOUT ROWID;
                    CREATE INDEX op_ticket ON op (ticket, hlc);
                    -- Per origin, the highest seq applied contiguously.
                    CREATE TABLE versionVector (
                        origin TEXT PRIMARY KEY,
                        seq INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    -- Materialised tickets: query columns plus the merge document they derive from.
                    CREATE TABLE ticket (
                        rowID INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        origin TEXT NOT NULL,
                        opened INTEGER NOT NULL,
                        number TEXT,
                        title TEXT NOT NULL,
                        customer TEXT NOT NULL,
                        phone TEXT NOT NULL,
                        channel TEXT,
                        category TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        severity INTEGER NOT NULL,
                        department TEXT NOT NULL,
                        assignee TEXT NOT NULL,
                        round INTEGER NOT NULL,
                        stage TEXT NOT NULL,
                        escalation INTEGER NOT NULL,
                        receivedAt INTEGER,
                        updatedHLC INTEGER NOT NULL,
                        document BLOB NOT NULL
                    );
                    CREATE INDEX ticket_number ON ticket (number);
                    CREATE INDEX ticket_received ON ticket (receivedAt);
                    CREATE INDEX ticket_phone ON ticket (phone);
                    -- Append-only notes, contacts, replies, follow-ups, keyed by op id and position.
                    CREATE TABLE entry (
                        rowID INTEGER PRIMARY KEY,
                        origin TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        position INTEGER NOT NULL,
                        ticket TEXT NOT NULL,
                        hlc INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        text TEXT NOT NULL,
                        body BLOB NOT NULL,
                        UNIQUE (origin, seq, position)
                    );
                    CREATE INDEX entry_ticket ON entry (ticket, hlc);
                    -- Fields whose frontier holds concurrent writes; derived from the documents.
                    CREATE TABLE conflict (
                        ticket TEXT NOT NULL,
                        field TEXT NOT NULL,
                        winner BLOB NOT NULL,
                        overridden BLOB NOT NULL,
                        PRIMARY KEY (ticket, field)
                    ) WITHOUT ROWID;
                    -- Substring search in any language: a ticket's text at rowid = ticket.rowID,
                    -- each entry's at rowid = -entry.rowID.
                    CREATE VIRTUAL TABLE ticketSearch USING fts5(ticket UNINDEXED, text, tokenize = 'trigram');
                    """)
        }
        migrator.registerMigration("v2-sync") { db in
            try db.execute(
                sql: """
                    -- Where a branch dials HQ (HOST:PORT); NULL at HQ and at a node that never syncs.
                    ALTER TABLE node ADD COLUMN hqAddress TEXT;
                    -- Set when a peer showed this node's own ops above its log (it was restored from a
                    -- backup): local edits wait until the node holds its own ops up to this seq again.
                    ALTER TABLE node ADD COLUMN recoverUntilSeq INTEGER NOT NULL DEFAULT 0;
                    -- Certificates this node refuses at every handshake (serial: lowercase hex).
                    CREATE TABLE revokedCertificate (
                        serial TEXT PRIMARY KEY,
                        nodeID TEXT,
                        revokedAt INTEGER NOT NULL,
                        reason TEXT NOT NULL
                    ) WITHOUT ROWID;
                    -- Replication state per peer node, written by the running sessions, read by status.
                    -- Vectors are JSON objects {origin: seq}; times are Unix milliseconds.
                    CREATE TABLE peer (
                        nodeID TEXT PRIMARY KEY,
                        role TEXT NOT NULL,
                        address TEXT,
                        state TEXT NOT NULL,
                        stateSince INTEGER NOT NULL,
                        lastSyncAt INTEGER,
                        sentVector TEXT NOT NULL DEFAULT '{}',
                        ackedVector TEXT NOT NULL DEFAULT '{}',
                        lastError TEXT,
                        lastErrorAt INTEGER,
                        refusals INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3-restore") { db in
            // Unix milliseconds of the restore that created this node from a backup, 0 if none: local
            // edits wait until the node has synced since (NodeStore.restore).
            try db.execute(sql: "ALTER TABLE node ADD COLUMN restoredAt INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v4-stored-forms") { db in
            // Op payloads move from sorted-key JSON to the binary stored forms (Protocol/storage.proto):
            // JSON coding took half the time of every apply. The JSON of schemas v1–v3 is read by
            // frozen code; the tables derived from the ops are rebuilt from the log afterwards.
            try rewrite(db, table: "op", key: ["origin", "seq"], columns: ["changes"]) { row in
                [try FrozenChangesJSON.storedForm(ofJSON: row["changes"])]
            }
            try DerivedData.mark(.documents, db)
        }
        migrator.registerMigration("v5-replica-scope") { db in
            // HQ relays to a branch only the ops of the origins its tickets need (SYNC.md §5.5).
            try db.execute(
                sql: """
                    -- Origins that wrote on a ticket a node handles (or handled), besides the node itself:
                    -- HQ relays their ops to that node. Only grows; kept on every node, used by HQ.
                    CREATE TABLE replicaScope (
                        node TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        PRIMARY KEY (node, origin)
                    ) WITHOUT ROWID;
                    """)
            // Documents about to be rebuilt from the log bring their scope with them.
            guard try !DerivedData.pending(db).contains(.documents) else { return }
            try forEachRow(db, table: "ticket", key: ["rowID"], columns: ["id", "document"]) { row in
                let ticket: String = row["id"]
                let owner = try FrozenStoredDocument.owner(ofStored: row["document"], ticket: ticket)
                try db.execute(
                    sql: "INSERT OR IGNORE INTO replicaScope (node, origin) SELECT DISTINCT ?, origin FROM op WHERE ticket = ? AND origin != ?",
                    arguments: [owner, ticket, owner])
            }
        }
        migrator.registerMigration("v6-deadline-summary") { db in
            try db.execute(
                sql: """
                    -- Each ticket's deadlines as due and met times (Unix milliseconds), kept by the merge,
                    -- so oversight reads an index instead of replaying ops. openDue is the earliest
                    -- due time of a deadline not yet met (NULL: none, or the clock is paused).
                    CREATE TABLE deadlineSummary (
                        ticket TEXT PRIMARY KEY,
                        branch TEXT NOT NULL,
                        firstReplyDue INTEGER,
                        firstReplyMetAt INTEGER,
                        resolutionDue INTEGER,
                        resolutionMetAt INTEGER,
                        openDue INTEGER
                    ) WITHOUT ROWID;
                    CREATE INDEX deadlineSummary_open ON deadlineSummary (openDue, branch) WHERE openDue IS NOT NULL;
                    -- status counts the tickets and the open ones from this index, not from the rows
                    -- (which hold the documents: a scan of them reads the whole table).
                    CREATE INDEX ticket_stage ON ticket (opened, stage);
                    """)
            try DerivedData.mark(.deadlines, db)
        }
        migrator.registerMigration("v7-integrity") { db in
            try db.execute(
                sql: """
                    -- The customer's phone in one form however it was typed (PhoneNumber.normalised),
                    -- the node handling the ticket, and the approval issue it has (NULL: none).
                    ALTER TABLE ticket ADD COLUMN phoneKey TEXT NOT NULL DEFAULT '';
                    ALTER TABLE ticket ADD COLUMN branch TEXT NOT NULL DEFAULT '';
                    ALTER TABLE ticket ADD COLUMN approvalIssue TEXT;
                    DROP INDEX ticket_phone;
                    CREATE INDEX ticket_phoneKey ON ticket (phoneKey);
                    CREATE INDEX ticket_approvalIssue ON ticket (approvalIssue) WHERE approvalIssue IS NOT NULL;
                    """)
            // The new columns, approvals and deadline rounds come from this build's merge.
            try DerivedData.mark(.documents, db)
        }
        migrator.registerMigration("v8-accounts") { db in
            try db.execute(
                sql: """
                    -- The people who log in to this node's console: local, never replicated. The
                    -- name is the actor on their ops; only a bcrypt hash of the password is kept.
                    CREATE TABLE account (
                        name TEXT PRIMARY KEY,
                        role TEXT NOT NULL,
                        passwordHash TEXT NOT NULL,
                        disabled INTEGER NOT NULL,
                        failedLogins INTEGER NOT NULL,
                        lockedUntil INTEGER,
                        createdAt INTEGER NOT NULL,
                        passwordChangedAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    -- Logged-in browsers, kept across restarts: the SHA-256 of the cookie's token
                    -- (so the file holds no usable session), the CSRF token of its forms, and its times.
                    CREATE TABLE consoleSession (
                        tokenHash TEXT PRIMARY KEY,
                        account TEXT NOT NULL REFERENCES account (name) ON DELETE CASCADE,
                        csrfToken TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        lastSeenAt INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX consoleSession_account ON consoleSession (account);
                    """)
        }
        migrator.registerMigration("v9-dashboard") { db in
            try db.execute(
                sql: """
                    -- HQ's dashboard counts per branch: covering indexes, so that counting a month's
                    -- tickets per branch and category, the open ones per branch, or the resolved ones
                    -- per day never reads the rows that hold the documents.
                    CREATE INDEX ticket_branch_stage ON ticket (opened, branch, stage);
                    CREATE INDEX ticket_month ON ticket (receivedAt, branch, category, id) WHERE opened;
                    CREATE INDEX deadlineSummary_branch ON deadlineSummary (branch, openDue) WHERE openDue IS NOT NULL;
                    CREATE INDEX deadlineSummary_resolved ON deadlineSummary (resolutionMetAt);
                    """)
        }
        migrator.registerMigration("v10-feeds") { db in
            // Replication to a branch scoped by ticket, not by origin (SYNC.md §5.5, version 3).
            try db.execute(
                sql: """
                    -- The nodes that handle or handled each ticket: the node that opened it and every
                    -- node a transfer named. Kept by the merge on every node, from the ops alone.
                    CREATE TABLE ticketHandler (
                        ticket TEXT NOT NULL,
                        node TEXT NOT NULL,
                        PRIMARY KEY (ticket, node)
                    ) WITHOUT ROWID;
                    CREATE INDEX ticketHandler_node ON ticketHandler (node, ticket);
                    -- At HQ, the feed of each branch that asked for one: the ops of the tickets it
                    -- handles or handled and the company settings, but its own, numbered from 1 in the
                    -- order HQ committed them. Built from the log at the branch's first version-3
                    -- session, then appended to by the merge.
                    CREATE TABLE feedHead (
                        node TEXT PRIMARY KEY,
                        epoch TEXT NOT NULL,
                        lastPosition INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE feedEntry (
                        node TEXT NOT NULL,
                        position INTEGER NOT NULL,
                        origin TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        PRIMARY KEY (node, position)
                    ) WITHOUT ROWID;
                    CREATE INDEX feedEntry_op ON feedEntry (node, origin, seq);
                    -- At a branch, its place in the feed HQ keeps for it.
                    CREATE TABLE feedCursor (
                        epoch TEXT NOT NULL,
                        position INTEGER NOT NULL
                    );
                    -- HQ: the feed entries a branch acknowledged; a branch: the feed's end HQ last told.
                    ALTER TABLE peer ADD COLUMN feedAcked INTEGER;
                    ALTER TABLE peer ADD COLUMN feedEnd INTEGER;
                    """)
            // The handlers derive from the ops: replay the log through this build's merge.
            try DerivedData.mark(.documents, db)
        }
        migrator.registerMigration("v11-stuck-ops") { db in
            try db.execute(
                sql: """
                    -- An op the peer refuses for good (OP_REJECTED, SYNC.md §6.2), for status and withdraw-op.
                    ALTER TABLE peer ADD COLUMN stuckOrigin TEXT;
                    ALTER TABLE peer ADD COLUMN stuckSeq INTEGER;
                    ALTER TABLE peer ADD COLUMN stuckReason TEXT;
                    ALTER TABLE peer ADD COLUMN stuckSince INTEGER;
                    """)
        }
        return migrator
    }

    /// The migrations this database lacks, in order, then the rebuilds of derived data pending. Throws when it is no Branchdesk database or
    /// was written by a newer build (one that knows migrations this build does not).
    static func pendingMigrations(_ db: Database, path: String) throws -> [String] {
        let known = migrator.migrations
        guard try db.tableExists("grdb_migrations"), try db.tableExists("node") else {
            throw StoreError(
                .corrupt, "\(path) holds no Branchdesk schema: it is damaged or not a node's database; restore the node from a backup")
        }
        let applied = try migrator.appliedIdentifiers(db)
        let rebuilds = try DerivedData.pending(db).map { "rebuild of \($0.rawValue)" }.sorted()
        if let unknown = applied.subtracting(known).sorted().first {
            throw StoreError(
                .newerSchema,
                "\(path) was written by a newer branchdesk (its schema has '\(unknown)', which this build does not know); run the newer branchdesk, or upgrade this one — this build writes nothing to it"
            )
        }
        return known.filter { !applied.contains($0) } + rebuilds
    }

    /// Rewrites `columns` of every row of `table` with `transform`'s values (in the order of `columns`).
    private static func rewrite(
        _ db: Database, table: String, key: [String], columns: [String], _ transform: (Row) throws -> [Data]
    ) throws {
        let update = """
            UPDATE \(table) SET \(columns.map { "\($0) = ?" }.joined(separator: ", "))
            WHERE \(key.map { "\($0) = ?" }.joined(separator: " AND "))
            """
        try forEachRow(db, table: table, key: key, columns: columns) { row in
            let values: [any DatabaseValueConvertible] = try transform(row)
            try db.execute(sql: update, arguments: StatementArguments(values + key.map { row[$0] as DatabaseValue }))
        }
    }

    /// Calls `body` with every row of `table` (its `key` and `columns`), a thousand rows at a time
    /// in primary-key order, so that a large table never sits in memory whole.
    private static func forEachRow(
        _ db: Database, table: String, key: [String], columns: [String], _ body: (Row) throws -> Void
    ) throws {
        let keyList = key.joined(separator: ", ")
        let select = "SELECT \((key + columns).joined(separator: ", ")) FROM \(table)"
        let after = " WHERE (\(keyList)) > (\(key.map { _ in "?" }.joined(separator: ", ")))"
        var last: [DatabaseValue]?
        while true {
            let rows = try Row.fetchAll(
                db, sql: select + (last == nil ? "" : after) + " ORDER BY \(keyList) LIMIT 1000",
                arguments: StatementArguments(last ?? []))
            guard let final = rows.last else { return }
            for row in rows { try body(row) }
            last = key.map { final[$0] as DatabaseValue }
        }
    }
}
