import Foundation
import Logging
import PostgresNIO
import Testing

/// A fresh database per test in the throwaway cluster that `scripts/with-postgres.sh` starts
/// (its address in `BRANCHDESK_TEST_POSTGRES`), dropped when the test is done with it.
///
/// Without that variable the PostgreSQL suites are skipped and say why — unless
/// `BRANCHDESK_REQUIRE_POSTGRES=1` (CI), when they fail instead.
enum PostgresTestDatabase {
    static let address = ProcessInfo.processInfo.environment["BRANCHDESK_TEST_POSTGRES"]
    static let required = ProcessInfo.processInfo.environment["BRANCHDESK_REQUIRE_POSTGRES"] == "1"

    /// Whether the PostgreSQL tests run: a cluster is there, or it must be.
    static let enabled = address != nil || required
    static let skipReason: Comment =
        "no PostgreSQL: run the tests through 'bash scripts/test.sh' (it starts a throwaway cluster) or set BRANCHDESK_TEST_POSTGRES"

    /// The client's background chatter (a lease asked for while `run()` is starting) stays out of
    /// the test output; errors show.
    static let logger: Logger = {
        var logger = Logger(label: "branchdesk.tests.postgres")
        logger.logLevel = .error
        return logger
    }()

    /// Runs `body` with a running client of a new, empty database and that database's address (for
    /// a second client: another gateway), then drops the database.
    static func withDatabase<T: Sendable>(
        _ body: @Sendable (PostgresClient, PostgresClient.Configuration) async throws -> T
    ) async throws -> T {
        let server = try configuration(database: nil)
        let name = "bd_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await withRunningClient(server) { admin in
            try await admin.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        }
        let result: Result<T, any Error>
        do {
            let database = try configuration(database: name)
            result = .success(try await withRunningClient(database) { client in try await body(client, database) })
        } catch {
            result = .failure(error)
        }
        try await withRunningClient(server) { admin in
            try await admin.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
        }
        return try result.get()
    }

    /// A client of `configuration`, running while `body` runs.
    static func withRunningClient<T: Sendable>(
        _ configuration: PostgresClient.Configuration, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The test cluster's address, for `database` (its own, when nil).
    static func configuration(database: String?) throws -> PostgresClient.Configuration {
        guard let address else {
            throw TestDatabaseMissing()
        }
        guard let url = URLComponents(string: address), let host = url.host, let user = url.user else {
            throw TestDatabaseMissing(address: address)
        }
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,
            database: database ?? (path.isEmpty ? "postgres" : path), tls: .disable)
    }

    struct TestDatabaseMissing: Error, CustomStringConvertible {
        var address: String?
        var description: String {
            address.map { "BRANCHDESK_TEST_POSTGRES is not a postgres:// address: \($0)" }
                ?? "BRANCHDESK_REQUIRE_POSTGRES=1 but no BRANCHDESK_TEST_POSTGRES: run the tests through 'bash scripts/test.sh'"
        }
    }
}
