/// A step of the complaint process, in the order the lattice ranks them.
///
/// `rejected` and `closed` are both terminal; `closed` ranks above `rejected` so that the
/// lattice is a total order and a concurrent close and reject resolve the same way everywhere.
public enum Stage: String, Codable, Sendable, CaseIterable, Comparable {
    case new
    case accepted
    case investigating
    case awaitingApproval = "awaiting-approval"
    case approved
    case replied
    case rejected
    case closed

    /// The position of the stage in the lattice.
    public var rank: Int { Stage.allCases.firstIndex(of: self)! }

    /// Whether the ticket needs no more work in this round.
    public var isTerminal: Bool { self == .rejected || self == .closed }

    public static func < (lhs: Stage, rhs: Stage) -> Bool { lhs.rank < rhs.rank }
}

/// The lifecycle status: a max-register over `(round, stage)`.
///
/// A reopen starts round + 1 at `investigating`, so it beats a concurrent close of the previous
/// round, while within a round the further stage wins.
public struct Status: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    /// 1 for the first handling; each reopen adds one.
    public var round: Int
    public var stage: Stage

    public init(round: Int, stage: Stage) {
        self.round = round
        self.stage = stage
    }

    /// The status of a freshly opened ticket.
    public static let opened = Status(round: 1, stage: .new)

    public static func < (lhs: Status, rhs: Status) -> Bool {
        (lhs.round, lhs.stage.rank) < (rhs.round, rhs.stage.rank)
    }

    /// The lattice join.
    public func joined(with other: Status) -> Status { max(self, other) }

    public var description: String { round == 1 ? stage.rawValue : "\(stage.rawValue) (round \(round))" }
}

/// A transition a person asks for; validated where the edit is made, never at merge.
public enum Transition: String, Codable, Sendable, CaseIterable {
    case accept
    case reject
    case investigate
    /// Submit the proposed resolution for approval.
    case submit
    case approve
    case reply
    case close
    case reopen

    /// The stage the transition leads to; a reopen also starts the next round.
    public var target: Stage {
        switch self {
        case .accept: .accepted
        case .reject: .rejected
        case .investigate, .reopen: .investigating
        case .submit: .awaitingApproval
        case .approve: .approved
        case .reply: .replied
        case .close: .closed
        }
    }
}

/// The rules of the complaint process: which transitions are allowed from a status.
public enum Lifecycle {
    /// The transitions allowed now. A general (severity 1) complaint may be answered without
    /// approval; serious and major ones need `submit` then `approve` before `reply`.
    public static func allowedTransitions(from status: Status, severity: Severity) -> [Transition] {
        switch status.stage {
        case .new: return [.accept, .reject]
        case .accepted: return severity == .general ? [.investigate, .reply, .reject] : [.investigate, .reject]
        case .investigating: return severity == .general ? [.submit, .reply] : [.submit]
        case .awaitingApproval: return [.approve]
        case .approved: return [.reply]
        case .replied: return [.close, .reopen]
        case .rejected, .closed: return [.reopen]
        }
    }

    /// The status that `transition` leads to, or an error naming the transitions allowed now.
    public static func target(
        of transition: Transition,
        from status: Status,
        severity: Severity
    ) throws(DomainError) -> Status {
        let allowed = allowedTransitions(from: status, severity: severity)
        guard allowed.contains(transition) else {
            let list = allowed.map(\.rawValue).joined(separator: ", ")
            var message = "cannot \(transition.rawValue) a ticket that is \(status.stage.rawValue); allowed now: \(list)"
            if transition == .reply, severity != .general, [.accepted, .investigating].contains(status.stage) {
                message += " (severity \(severity.rawValue) needs approval before the reply: submit, then approve)"
            }
            throw DomainError(message)
        }
        return Status(round: transition == .reopen ? status.round + 1 : status.round, stage: transition.target)
    }

    /// Whether a follow-up (satisfaction check) may be recorded: only once the customer was answered.
    public static func canFollowUp(_ status: Status) -> Bool {
        status.stage == .replied || status.stage == .closed
    }
}

/// How far a ticket has been escalated: a max-register within a round.
public enum EscalationLevel: Int, Codable, Sendable, CaseIterable, Comparable {
    case none = 0
    /// Raised to the branch manager.
    case manager = 1
    /// Raised to headquarters (level-2 handling).
    case headquarters = 2

    public static func < (lhs: EscalationLevel, rhs: EscalationLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The name people use for it.
    public var name: String {
        switch self {
        case .none: "none"
        case .manager: "manager"
        case .headquarters: "hq"
        }
    }
}

/// The escalation register: the join is the max over `(round, level)`, and a level counts only in
/// the round it was raised in, so a reopened ticket starts unescalated.
public struct Escalation: Hashable, Codable, Sendable, Comparable {
    public var round: Int
    public var level: EscalationLevel

    public init(round: Int, level: EscalationLevel) {
        self.round = round
        self.level = level
    }

    public static let none = Escalation(round: 0, level: .none)

    public static func < (lhs: Escalation, rhs: Escalation) -> Bool {
        (lhs.round, lhs.level.rawValue) < (rhs.round, rhs.level.rawValue)
    }

    /// The level in force for a ticket whose status is in `round`.
    public func level(inRound round: Int) -> EscalationLevel { self.round == round ? level : .none }
}
