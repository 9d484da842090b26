import Foundation
import Prometheus
import TicketStore

/// The node's metrics in Prometheus' text format. Counters and histograms of the sync sessions
/// arrive through swift-metrics (bootstrapped with this registry); gauges of the replicated state
/// are read from the store's status at each scrape, so they are never stale.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Sets the gauges from `status` (as of `now`) and renders every metric.
    public func exposition(of status: NodeStatus, now: Date) -> String {
        let node = status.node
        gauge("branchdesk_ops", "Ops in this node's log.").set(Double(node.ops))
        gauge("branchdesk_tickets_open", "Tickets not closed or rejected.").set(Double(node.openTickets))
        gauge("branchdesk_conflicts", "Fields whose concurrent edits await a person's resolution.").set(Double(node.conflicts))
        gauge("branchdesk_sla_breaches_open", "Tickets handled here with a deadline breached and not yet met.")
            .set(Double(status.openBreaches))
        for peer in status.peers {
            let labels = [("peer", peer.nodeID)]
            gauge("branchdesk_peer_live", "1 while a live session with the peer is caught up.", labels)
                .set(peer.state == "live" ? 1.0 : 0.0)
            gauge("branchdesk_peer_in_trouble", "1 while the peer is refused, never synced, silent or far behind.", labels)
                .set(peer.troubles.isEmpty ? 0.0 : 1.0)
            gauge("branchdesk_replication_lag_ops", "Ops waiting to be sent to or received from the peer.", labels)
                .set(Double(peer.opsToSend + peer.opsToReceive))
            gauge("branchdesk_replication_oldest_unacked_seconds", "Age of the oldest op the peer has not acknowledged.", labels)
                .set(peer.oldestUnackedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
            gauge("branchdesk_peer_last_sync_age_seconds", "Seconds since the last completed sync (-1: never).", labels)
                .set(peer.lastSyncAt.map { max(0, now.timeIntervalSince($0)) } ?? -1)
            gauge("branchdesk_peer_refusals", "Sessions with the peer that ended in a refusal.", labels).set(Double(peer.refusals))
        }
        return registry.emitToString()
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        labels.isEmpty ? registry.makeGauge(name: name, help: help) : registry.makeGauge(name: name, labels: labels, help: help)
    }
}
