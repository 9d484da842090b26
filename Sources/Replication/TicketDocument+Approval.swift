import TicketModel

/// Something wrong with a round's approval, found from the op set alone (MERGE.md, "Approvals"):
/// every replica holding the same ops finds the same issues.
public enum ApprovalIssue: Hashable, Sendable, CustomStringConvertible {
    /// Decisions made without seeing each other (e.g. an approval and a withdrawal on two nodes).
    case concurrentDecisions
    /// Bound content in force is not what the decision sealed: written by someone who had not seen
    /// the decision (an edit made concurrently with it).
    case changedBehindDecision(fields: [Field])
    /// The customer was replied to on content no approval covers, though the round needs one.
    case replyWithoutApproval
    /// A major (severity 3) complaint approved or replied on without HQ's approval.
    case majorWithoutHQ

    /// The short name stored and shown in lists, e.g. `reply-without-approval`.
    public var code: String {
        switch self {
        case .concurrentDecisions: "concurrent-decisions"
        case .changedBehindDecision: "changed-behind-approval"
        case .replyWithoutApproval: "reply-without-approval"
        case .majorWithoutHQ: "major-without-hq"
        }
    }

    public var description: String {
        switch self {
        case .concurrentDecisions:
            "approval decisions were made concurrently on different nodes"
        case .changedBehindDecision(let fields):
            "\(fields.map(\.rawValue).joined(separator: ", ")) changed concurrently with the approval: the content in force is not what was approved"
        case .replyWithoutApproval:
            "the customer was replied to on content no approval covers"
        case .majorWithoutHQ:
            "a major complaint (severity 3) went ahead without HQ's approval"
        }
    }
}

/// Where a round's approval stands.
public struct ApprovalStanding: Hashable, Sendable {
    /// The decision in force this round (the latest, when several were made concurrently).
    public let decision: ApprovalRecord?
    /// The op that made it.
    public let madeBy: Stamp?
    /// Whether an approval covers the content in force now, with the authority the severity needs.
    public let approvalInForce: Bool
    /// Whether this round must be approved before its reply.
    public let needsApproval: Bool
    public let issues: [ApprovalIssue]
}

extension TicketDocument {
    /// The writes in force of the bound fields now: what an approval made now would seal.
    public var boundSeal: [ApprovalRecord.SealedWrite] {
        Field.boundByApproval.sorted().compactMap { field in
            registers[field]?.winner.map { ApprovalRecord.SealedWrite(field: field, write: $0.stamp.op) }
        }
    }

    /// The bound fields whose writes now differ from `seal`, or that are in conflict.
    func fieldsChanged(since seal: [ApprovalRecord.SealedWrite]) -> [Field] {
        let sealed = Dictionary(uniqueKeysWithValues: seal.map { ($0.field, $0.write) })
        return Field.boundByApproval.sorted().filter { field in
            let register = registers[field]
            return register?.winner?.stamp.op != sealed[field] || register?.overridden.isEmpty == false
        }
    }

    /// The round's approval: the decision in force, whether it covers the content, and what is wrong.
    ///
    /// A round without any decision was handled before approvals were sealed (branchdesk 0.3): its
    /// `approved` status stands as it is, and its reply is not judged.
    public var approval: ApprovalStanding {
        let decisions = (registers[.approval]?.frontier ?? []).filter { $0.value.approval?.round == status.round }
        guard let latest = decisions.last, let decision = latest.value.approval else {
            return ApprovalStanding(
                decision: nil, madeBy: nil, approvalInForce: status.stage == .approved, needsApproval: severity >= .serious,
                issues: [])
        }
        let changed = decision.decision == .withdrawn ? [] : fieldsChanged(since: decision.seal)
        let authorised = severity < .major || decision.authority == .hq
        let needsApproval = severity >= .serious || decision.decision != .replied || decision.authority != nil
        var issues: [ApprovalIssue] = []
        if decisions.count > 1 { issues.append(.concurrentDecisions) }
        if !changed.isEmpty { issues.append(.changedBehindDecision(fields: changed)) }
        let replied = [.replied, .closed].contains(status.stage)
        if replied, needsApproval, decision.decision != .replied || decision.authority == nil || !changed.isEmpty {
            issues.append(.replyWithoutApproval)
        }
        if severity == .major, decision.decision != .withdrawn, decision.authority != .hq { issues.append(.majorWithoutHQ) }
        return ApprovalStanding(
            decision: decision, madeBy: latest.stamp,
            approvalInForce: decision.decision == .approved && decisions.count == 1 && changed.isEmpty && authorised,
            needsApproval: needsApproval, issues: issues)
    }

    /// The stage a person works from: `approved` counts only while its approval is in force; an
    /// approval withdrawn, overtaken or contested sends the ticket back to `awaiting-approval`.
    public var processStage: Stage {
        status.stage == .approved && !approval.approvalInForce ? .awaitingApproval : status.stage
    }

    /// The status with `processStage`.
    public var processStatus: Status { Status(round: status.round, stage: processStage) }

    /// A decision of this round, written so that it sees every decision in force.
    func decide(_ decision: ApprovalRecord.Decision, authority: NodeRole?) -> Change {
        write(.approval, .approval(ApprovalRecord(round: status.round, decision: decision, authority: authority, seal: boundSeal)))
    }
}
