import Foundation
import Logging
import PostgresStore
import Replication
import SyncTransport
import SyncWire
import TestSupport
import Testing
import TicketModel
import TicketStore

/// A branch on SQLite syncing with an HQ in PostgreSQL through the real sync server, over mutual
/// TLS on loopback: the branch sees nothing but a headquarters.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresSyncTests {
    @Test("a branch catches up with an HQ in PostgreSQL, then receives HQ's edit of its ticket, and holds its tickets as HQ does")
    func branchSyncsWithPostgresHQ() async throws {
        let company = try TwoNodes()
        let (hqID, branchID, branch) = (company.hq, company.branchID, company.branch)
        let (hqCertificates, branchCertificates) = (company.hqCertificates, company.branchCertificates)
        var numbers: [String] = []
        for index in 1...120 {
            let ticket = try await branch.openTicket(Fixtures.draft(title: "投诉 \(index)"), actor: "王芳")
            _ = try await branch.edit(ticket.number, actor: "王芳", action: "accept") { try $0.transition(.accept) }
            numbers.append(ticket.number)
        }
        // HQ's edit of one of the branch's tickets, made where HQ's ops are made (a replica of HQ).
        let madeAtHQ = try Fixtures.memoryStore("hq", role: .hq, clock: ManualClock(millis: SystemClock().nowMillis()))
        try await Fixtures.sync(branch, to: madeAtHQ)
        _ = try await madeAtHQ.edit(numbers[5], actor: "总部投诉办", action: "update") { try $0.update([.severity: .number(3)]) }
        let hqEdit = try await Fixtures.allOps(of: madeAtHQ).filter { $0.id.origin == hqID }
        let edited = numbers[5]

        let settings = {
            var settings = SyncSettings()
            settings.batchOps = 50
            return settings
        }()
        let logger = Logger(label: "branchdesk.tests.postgres-sync")
        try await PostgresTestDatabase.withDatabase { client, _ in
            let hq = try await PostgresStore.create(client: client, identity: Fixtures.identity("hq", role: .hq), clock: SystemClock(), logger: logger)
            let feed = ChangeFeed(store: hq, pollInterval: .milliseconds(20))
            let server = try await SyncServer.bind(
                HostPort(host: "127.0.0.1", port: 0), store: hq, certificates: hqCertificates, settings: settings, feed: feed, logger: logger)
            let serving = Task { try await server.run() }
            let feeding = Task { try await feed.run() }
            let result = await outcome {
                let dialler = SyncDialler(
                    address: HostPort(host: "127.0.0.1", port: server.port), store: branch, certificates: branchCertificates,
                    settings: settings, feed: nil, logger: logger)
                _ = try await dialler.syncOnce()
                #expect(try await hq.versionVector()[branchID] == 240, "every op of the branch reached HQ")
                _ = try await hq.apply(hqEdit)
                _ = try await dialler.syncOnce()
                #expect(try await branch.ticket(edited).severity == Severity.major.rawValue, "HQ's edit reached the branch through its feed")
                #expect(try await hq.digest(handledBy: branchID) == branch.digest(handledBy: branchID))
                #expect(try await hq.digest() == madeAtHQ.digest())
            }
            serving.cancel()
            feeding.cancel()
            _ = await (serving.result, feeding.result)
            try result.get()
        }
        withExtendedLifetime(company) {}
    }
}

extension PostgresSyncTests {
    @Test("an edit committed through gateway B reaches a branch live on gateway A, without a restart")
    func liveTailAcrossGateways() async throws {
        let company = try TwoNodes()
        let (hqID, branchID, branch) = (company.hq, company.branchID, company.branch)
        let (hqCertificates, branchCertificates) = (company.hqCertificates, company.branchCertificates)
        let ticket = try await branch.openTicket(Fixtures.draft(), actor: "王芳")
        let madeAtHQ = try Fixtures.memoryStore("hq", role: .hq, clock: ManualClock(millis: SystemClock().nowMillis()))
        try await Fixtures.sync(branch, to: madeAtHQ)
        _ = try await madeAtHQ.edit(ticket.number, actor: "总部投诉办", action: "update") { try $0.update([.severity: .number(3)]) }
        let hqEdit = try await Fixtures.allOps(of: madeAtHQ).filter { $0.id.origin == hqID }

        let logger = Logger(label: "branchdesk.tests.postgres-live")
        try await PostgresTestDatabase.withDatabase { client, database in
            let gatewayA = try await PostgresStore.create(client: client, identity: Fixtures.identity("hq", role: .hq), clock: SystemClock(), logger: logger)
            try await PostgresTestDatabase.withRunningClient(database) { otherClient in
                let gatewayB = try await PostgresStore.open(client: otherClient, clock: SystemClock(), logger: logger)
                let feed = ChangeFeed(store: gatewayA, pollInterval: .milliseconds(20))
                let server = try await SyncServer.bind(
                    HostPort(host: "127.0.0.1", port: 0), store: gatewayA, certificates: hqCertificates, feed: feed, logger: logger)
                let dialler = SyncDialler(
                    address: HostPort(host: "127.0.0.1", port: server.port), store: branch, certificates: branchCertificates,
                    settings: SyncSettings(), feed: ChangeFeed(store: branch, pollInterval: .milliseconds(20)), logger: logger)
                let tasks = [Task { try await server.run() }, Task { try await feed.run() }, Task { try await dialler.run() }]
                let result = await outcome {
                    try await waitFor("the branch's ticket at HQ") { try await gatewayB.versionVector()[branchID] == 1 }
                    _ = try await gatewayB.apply(hqEdit)
                    try await waitFor("HQ's edit through gateway B at the branch on gateway A") {
                        try await branch.ticket(ticket.number).severity == Severity.major.rawValue
                    }
                }
                for task in tasks { task.cancel() }
                for task in tasks { _ = await task.result }
                try result.get()
            }
        }
        withExtendedLifetime(company) {}
    }

    /// Polls `condition` until it holds, failing after 30 s (the suite shares two cores).
    private func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TimedOut(what: what)
    }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out after 30 s waiting for \(what)" }
    }
}

/// A CA in a temporary folder with HQ's certificate and a branch on SQLite with its own.
struct TwoNodes {
    let folder = TemporaryDirectory()
    let hq = try! NodeID("hq")
    let branchID = try! NodeID("sh-012")
    let hqCertificates: NodeCertificates
    let branchCertificates: NodeCertificates
    let branch: NodeStore

    init() throws {
        let certs = folder.node("certs")
        try CertificateAuthority.createCA(in: certs)
        try CertificateAuthority.issueNode(in: certs, id: hq, role: .hq)
        try CertificateAuthority.issueNode(in: certs, id: branchID, role: .branch)
        hqCertificates = try NodeCertificates.install(from: certs, nodeID: hq, role: .hq, into: folder.node("hq"))
        branchCertificates = try NodeCertificates.install(from: certs, nodeID: branchID, role: .branch, into: folder.node("sh-012"))
        branch = try NodeStore.create(in: folder.node("sh-012"), identity: Fixtures.identity("sh-012"))
    }
}

/// The outcome of `body`, so that what must follow it (stopping a server) runs either way.
func outcome<T>(of body: () async throws -> T) async -> Result<T, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
