import Foundation
import Replication
import TestSupport
import Testing
import TicketModel
import TicketStore

/// A remote op passes the rules a local edit passes, at the receiver: a refusal names the op,
/// the field and the rule, and nothing of the batch is applied.
@Suite struct RemoteValueTests {
    let hq: NodeStore
    let pudong: NodeStore

    init() throws {
        hq = try Fixtures.memoryStore("hq", role: .hq)
        pudong = try Fixtures.memoryStore("sh-012")
    }

    func op(_ seq: UInt64, on ticket: TicketID, action: String = "update", _ changes: [Change]) -> Op {
        Op(id: OpID(origin: pudong.identity.nodeID, seq: seq), hlc: HLCTimestamp(rawValue: UInt64(Date().timeIntervalSince1970 * 1000) << 16 + seq),
           ticket: ticket, actor: "王芳", action: action, changes: changes)
    }

    func grant() -> PeerGrant { PeerGrant(nodeID: pudong.identity.nodeID, role: .branch, holds: VersionVector()) }

    @Test(arguments: [
        (Change.write(field: .category, value: .text("weather"), seen: []), "category holds 'weather': use one of product"),
        (Change.write(field: .severity, value: .number(9), seen: []), "severity holds 9: use 1, 2 or 3"),
        (Change.write(field: .severity, value: .text("2"), seen: []), "severity holds '2': it is a number"),
        (Change.write(field: .kind, value: .text("rant"), seen: []), "kind holds 'rant'"),
        (Change.write(field: .phone, value: .text("call me"), seen: []), "phone holds 'call me'"),
        (Change.write(field: .title, value: .text("  "), seen: []), "title must not be empty"),
        (Change.write(field: .promisedDate, value: .text("next week"), seen: []), "promised-date holds 'next week'"),
    ])
    func anOutOfRangeValueIsRefusedNamingTheOpTheFieldAndTheRule(change: Change, rule: String) async throws {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        let opened = try #require(try await pudong.opsMissing(by: VersionVector(), limit: 10).first)
        let bad = op(2, on: opened.ticket, [change])
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply([opened, bad], from: grant()) }
        #expect(refusal?.op == bad.id && refusal?.rule.hasPrefix(rule) == true, "\(refusal?.rule ?? "")")
        #expect(try await hq.versionVector()[pudong.identity.nodeID] == 0, "nothing of the batch was applied")
        _ = ticket
    }

    @Test func anOpeningWithOnlyTheIntakeIsRefused() async throws {
        let intake = Intake(number: "SH012-20261202-0009", channel: .phone, receivedAt: 0, takenBy: "王芳", statement: "")
        let bare = op(1, on: TicketID(origin: pudong.identity.nodeID, counter: 9), action: "open", [.intake(intake), .status(.opened, transition: nil)])
        let refusal = await #expect(throws: AuthorisationRefusal.self) { _ = try await hq.apply([bare], from: grant()) }
        #expect(refusal?.rule == "an opening must write category, customer, phone, severity, title; it writes none of these")
        #expect(try await hq.tickets(TicketFilter()).isEmpty)
    }

    @Test func aLocalEditMeetsTheSameRules() async throws {
        let ticket = try await pudong.openTicket(Fixtures.draft(), actor: "王芳")
        let error = await #expect(throws: DomainError.self) {
            _ = try await pudong.edit(ticket.number, actor: "王芳", action: "update") { _ in [.write(field: .severity, value: .number(9), seen: [])] }
        }
        #expect(error?.message == "severity holds 9: use 1, 2 or 3")
    }
}
