/// A decision about a round's content, the value of a ticket's `approval` register (MERGE.md,
/// "Approvals"): an approval, the withdrawal of one, or the reply made on the content.
///
/// Each carries the *seal* of what it was made on: the write in force of every field an approval
/// binds. Comparing a seal with the writes in force now is a function of the op set, so every
/// replica finds the same content changed behind an approval's back.
public struct ApprovalRecord: Hashable, Codable, Sendable, CustomStringConvertible {
    public enum Decision: String, Codable, Sendable, CaseIterable {
        /// A supervisor approved the content in the seal.
        case approved
        /// Bound content was edited after the approval: the ticket needs approval again.
        case withdrawn
        /// The customer was replied to on the content in the seal.
        case replied
    }

    /// The write in force of one bound field.
    public struct SealedWrite: Hashable, Codable, Sendable {
        public let field: Field
        public let write: OpID

        public init(field: Field, write: OpID) {
            self.field = field
            self.write = write
        }
    }

    /// The round of the status the decision belongs to; other rounds' decisions do not count.
    public let round: Int
    public let decision: Decision
    /// Who stands behind the content: for `approved` the role of the approving node, for `replied`
    /// that of the approval the reply rested on (nil: it rested on none); nil for `withdrawn`.
    public let authority: NodeRole?
    /// The bound fields' writes in force, sorted by field; an unset field is absent.
    public let seal: [SealedWrite]

    public init(round: Int, decision: Decision, authority: NodeRole?, seal: [SealedWrite]) {
        self.round = round
        self.decision = decision
        self.authority = authority
        self.seal = seal.sorted { $0.field < $1.field }
    }

    public var description: String {
        let by = authority.map { " by \($0 == .hq ? "HQ" : "the branch")" } ?? ""
        switch decision {
        case .approved: return "approved\(by) (round \(round))"
        case .withdrawn: return "approval withdrawn (round \(round))"
        case .replied: return authority == nil ? "replied without approval (round \(round))" : "replied on the content approved\(by) (round \(round))"
        }
    }
}

extension Field {
    /// The content an approval binds: what the decision to answer the customer this way rests on —
    /// the facts and the customer's request, the kind and severity of the complaint, the
    /// investigation report and the proposed resolution. Editing any of them after an approval
    /// sends the ticket back for approval.
    public static let boundByApproval: [Field] =
        [.request, .facts, .kind, .severity] + investigation + [.resolution]
}
