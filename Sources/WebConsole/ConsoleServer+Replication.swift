import Foundation
import Hummingbird
import Replication
import ServiceLevels
import TicketStore

extension ConsoleServer {
    /// Replication: the `status` view per peer, troubled peers first, refreshing itself.
    func addReplication(to router: Router<ConsoleContext>) {
        router.get("/replication") { _, context in
            let strings = Strings.table(context.language)
            let status = try await store.status(now: Date())
            let zone = TimeZone(identifier: store.identity.timeZone) ?? .gmt
            let time = { (date: Date?) in date.map { DeadlineClock.format($0, in: zone) } ?? "–" }
            let peers = status.peers.map { peer -> [String: Any] in
                var row: [String: Any] = [
                    "node": peer.nodeID, "role": peer.role, "address": peer.address ?? "",
                    "state": strings["PeerState.\(peer.state)"] ?? peer.state,
                    "stateSince": time(peer.stateSince), "lastSync": time(peer.lastSyncAt), "toSend": peer.opsToSend,
                    "toReceive": peer.opsToReceive, "oldestUnacked": time(peer.oldestUnackedAt), "refusals": peer.refusals,
                    "breaches": peer.openBreaches, "troubled": !peer.troubles.isEmpty,
                    "troubles": peer.troubles.map { strings["PeerTrouble.\($0)"] ?? $0.name },
                ]
                if let error = peer.lastError { row["lastError"] = "\(error) (\(time(peer.lastErrorAt)))" }
                if let diagnosis = peer.diagnosis { row["diagnosis"] = diagnosis }
                row["hasDetail"] = peer.lastError != nil || peer.diagnosis != nil
                return row
            }
            var values: [String: Any] = [
                "node": status.node.nodeID, "role": status.node.role, "tickets": status.node.tickets, "open": status.node.openTickets,
                "conflicts": status.node.conflicts, "ops": status.node.ops, "breaches": status.openBreaches, "peers": peers,
                "hasPeers": !peers.isEmpty, "refreshSeconds": 10,
            ]
            if let warning = status.timeZoneWarning { values["warning"] = warning }
            return pages.render("replication", title: strings["replication"]!, values: values, context: context)
        }
    }
}
