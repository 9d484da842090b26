import Foundation
import Logging
import PostgresNIO

/// The versioned schema of HQ's PostgreSQL database, migrated once by the first gateway of a new
/// build (under an advisory lock, so two gateways starting together migrate it once). A database
/// holding a migration this build does not know was written by a newer build: it is refused
/// before anything is written.
enum PostgresSchema {
    /// The migrations in order; never edit one that has shipped, add the next.
    static let migrations: [(name: String, sql: String)] = [
        (
            "v1-replica",
            """
            -- Who this database is: one HQ node, whatever the number of gateways serving it.
            CREATE TABLE node (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                node_id text NOT NULL,
                role text NOT NULL,
                branch_code text NOT NULL,
                time_zone text NOT NULL,
                created_at bigint NOT NULL,
                -- HQ's own counters: the clock and numbers of the ops it makes.
                hlc bigint NOT NULL,
                last_seq bigint NOT NULL,
                ticket_counter bigint NOT NULL,
                max_skew_millis bigint NOT NULL,
                recover_until_seq bigint NOT NULL DEFAULT 0
            );
            -- The source of truth: every op ever applied, keyed by its id.
            CREATE TABLE op (
                origin text NOT NULL,
                seq bigint NOT NULL,
                hlc bigint NOT NULL,
                ticket text NOT NULL,
                actor text NOT NULL,
                action text NOT NULL,
                changes bytea NOT NULL,
                PRIMARY KEY (origin, seq)
            );
            CREATE INDEX op_ticket ON op (ticket);
            -- The highest seq applied contiguously, per origin: only ever advanced, never past a gap.
            CREATE TABLE version_vector (
                origin text PRIMARY KEY,
                seq bigint NOT NULL
            );
            -- The materialised tickets: each one's merge document in its stored form.
            CREATE TABLE ticket (
                id text PRIMARY KEY,
                owner text NOT NULL,
                updated_hlc bigint NOT NULL,
                document bytea NOT NULL
            );
            CREATE INDEX ticket_owner ON ticket (owner);
            -- The append-only entries of every ticket's history, keyed by their op and position in it.
            CREATE TABLE entry (
                origin text NOT NULL,
                seq bigint NOT NULL,
                position integer NOT NULL,
                ticket text NOT NULL,
                hlc bigint NOT NULL,
                actor text NOT NULL,
                kind text NOT NULL,
                text text NOT NULL,
                body bytea NOT NULL,
                PRIMARY KEY (origin, seq, position)
            );
            CREATE INDEX entry_ticket ON entry (ticket);
            -- Concurrent writes that lost, as `conflicts` lists them.
            CREATE TABLE conflict (
                ticket text NOT NULL,
                field text NOT NULL,
                winner bytea NOT NULL,
                overridden bytea NOT NULL
            );
            CREATE INDEX conflict_ticket ON conflict (ticket);
            -- The nodes that handle or handled each ticket: they receive its ops (SYNC.md §5.5).
            CREATE TABLE ticket_handler (
                ticket text NOT NULL,
                node text NOT NULL,
                PRIMARY KEY (ticket, node)
            );
            CREATE INDEX ticket_handler_node ON ticket_handler (node);
            -- The origins whose ops a version-2 branch receives.
            CREATE TABLE replica_scope (
                node text NOT NULL,
                origin text NOT NULL,
                PRIMARY KEY (node, origin)
            );
            -- Each branch's feed: the ops HQ sends it, numbered in commit order.
            CREATE TABLE feed_head (
                node text PRIMARY KEY,
                epoch text NOT NULL,
                last_position bigint NOT NULL
            );
            CREATE TABLE feed_entry (
                node text NOT NULL,
                position bigint NOT NULL,
                origin text NOT NULL,
                seq bigint NOT NULL,
                PRIMARY KEY (node, position)
            );
            CREATE INDEX feed_entry_op ON feed_entry (node, origin, seq);
            -- Every peer a gateway exchanged a session with.
            CREATE TABLE peer (
                node_id text PRIMARY KEY,
                role text NOT NULL,
                address text,
                state text NOT NULL,
                state_since bigint NOT NULL,
                last_sync_at bigint,
                sent_vector text NOT NULL,
                acked_vector text NOT NULL,
                last_error text,
                last_error_at bigint,
                refusals bigint NOT NULL,
                feed_acked bigint,
                feed_end bigint,
                stuck_origin text,
                stuck_seq bigint,
                stuck_reason text,
                stuck_since bigint
            );
            CREATE TABLE revoked_certificate (
                serial text PRIMARY KEY,
                node_id text,
                revoked_at bigint NOT NULL,
                reason text NOT NULL
            );
            """
        )
    ]

    /// The key of the advisory lock that serialises migrations across gateways.
    private static let migrationLock: Int64 = 0x4244_5343_4845_4d41  // "BDSCHEMA"

    /// Brings the database to this build's schema; refuses one written by a newer build.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await PostgresStore.transaction(client, logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS branchdesk_schema (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied: Set<String> = []
            for try await version in try await connection.query("SELECT version FROM branchdesk_schema", logger: logger).decode(String.self) {
                applied.insert(version)
            }
            if let unknown = applied.subtracting(migrations.map(\.name)).sorted().first {
                throw PostgresStoreError(
                    .newerSchema,
                    "the database was migrated by a newer branchdesk (its schema has '\(unknown)', which this build does not know); run the newer branchdesk on every gateway — this one writes nothing to it")
            }
            for migration in migrations where !applied.contains(migration.name) {
                // One statement per query: the extended protocol runs no more.
                for statement in migration.sql.components(separatedBy: ";\n") where statement.contains(where: { !$0.isWhitespace }) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO branchdesk_schema (version) VALUES (\(migration.name))", logger: logger)
                logger.info("migrated the database", metadata: ["postgres.migration": "\(migration.name)"])
            }
        }
    }
}
