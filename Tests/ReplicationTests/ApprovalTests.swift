import Replication
import Testing
import TicketModel

/// One ticket at one node, edited the way people do it there: each edit an op.
private struct Replica {
    let origin: NodeID
    let role: NodeRole
    var document: TicketDocument
    var ops: [Op] = []
    private var seq: UInt64 = 0
    private var clock = HybridLogicalClock(last: .zero)
    private var wall: UInt64 = 1_795_305_600_000

    init(_ origin: String, role: NodeRole, ticket: TicketID) {
        self.origin = try! NodeID(origin)
        self.role = role
        document = TicketDocument(id: ticket)
    }

    @discardableResult
    mutating func edit(_ action: String, _ make: (TicketDocument) throws -> [Change]) throws -> Op {
        let changes = try make(document)
        seq += 1
        wall += 1_000
        let op = Op(
            id: OpID(origin: origin, seq: seq), hlc: clock.tick(wallMillis: wall), ticket: document.id, actor: "\(origin) clerk",
            action: action, changes: changes)
        document.apply(op)
        ops.append(op)
        return op
    }

    mutating func receive(_ others: [Op]) {
        for op in others {
            clock.receive(op.hlc)
            document.apply(op)
        }
    }

    /// Opens a complaint of `severity` and takes it through to the investigation report.
    static func investigated(severity: Severity) throws -> (branch: Replica, hq: Replica) {
        let ticket = TicketID(origin: try NodeID("sh-012"), counter: 1)
        var branch = Replica("sh-012", role: .branch, ticket: ticket)
        var hq = Replica("hq", role: .hq, ticket: ticket)
        let draft = try TicketDraft(
            channel: .phone, takenBy: "王芳", customer: "张三", phone: "138 0013 8000", title: "手机频繁死机", category: .product,
            severity: severity)
        try branch.edit("open") { _ in TicketDocument.opening(draft, number: "SH012-20261122-0001", receivedAt: 1_795_305_600_000) }
        try branch.edit("accept") { try $0.transition(.accept) }
        try branch.edit("investigate") { try $0.investigate([.cause: "主板虚焊", .countermeasure: "更换新机"]) }
        try branch.edit("update") { try $0.update([.resolution: .text("更换新机并赔偿路费50元")]) }
        hq.receive(branch.ops)
        return (branch, hq)
    }
}

/// MERGE.md "Approvals": an approval binds the content it approved, on every replica alike.
@Suite struct ApprovalTests {
    @Test func editingBoundContentAfterApprovalSendsTheTicketBackForApproval() throws {
        var (branch, _) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        #expect(branch.document.processStage == .approved && branch.document.approval.approvalInForce)
        try branch.edit("investigate") { try $0.investigate([.countermeasure: "退款"]) }
        #expect(branch.document.processStage == .awaitingApproval)
        #expect(branch.document.approval.decision?.decision == .withdrawn && branch.document.approval.issues.isEmpty)
        let error = #expect(throws: DomainError.self) {
            try branch.document.reply(message: "为您退款", via: .phone, promisedDate: nil)
        }
        #expect(error?.message.contains("allowed now: approve") == true)
        try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        try branch.edit("reply") { try $0.reply(message: "为您退款", via: .phone, promisedDate: nil) }
        #expect(branch.document.approval.issues.isEmpty && branch.document.processStage == .replied)
        // After the reply what was answered is the record: changing it needs a reopen.
        #expect(throws: DomainError.self) { try branch.document.update([.resolution: .text("改为换货")]) }
    }

    @Test func anApprovalAlwaysLeavesAnEntryNamingTheApprover() throws {
        var (branch, _) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        let op = try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        #expect(op.changes.contains { if case .entry(let entry) = $0 { entry.kind == .approval } else { false } })
    }

    /// The issue's case: HQ rewrote the countermeasure and resolution while the offline branch
    /// approved and replied. Both replicas end flagged alike, whatever the order ops arrive in.
    @Test func contentChangedConcurrentlyWithAnApprovalIsFlaggedEverywhere() throws {
        var (branch, hq) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        try branch.edit("reply") { try $0.reply(message: "为您更换新机", via: .phone, promisedDate: nil) }
        let hqEdits = hq.ops.count
        try hq.edit("investigate") { try $0.investigate([.countermeasure: "退款处理"]) }
        try hq.edit("update") { try $0.update([.resolution: .text("全额退款")]) }
        let branchOps = branch.ops
        branch.receive(Array(hq.ops[hqEdits...]))
        hq.receive(branchOps.reversed())
        #expect(branch.document == hq.document)
        let issues = branch.document.approval.issues
        #expect(issues == hq.document.approval.issues)
        #expect(issues.contains(.changedBehindDecision(fields: [.countermeasure, .resolution])))
        #expect(issues.contains(.replyWithoutApproval))
        // A supervisor settles it by approving what stands now, with the reason.
        #expect(throws: DomainError.self) { try branch.document.transition(.approve, authority: .branch) }
        try branch.edit("approve") { try $0.transition(.approve, reason: "总部改为退款，已电话告知客户", authority: .branch) }
        #expect(branch.document.approval.issues.isEmpty)
    }

    @Test func concurrentApprovalAndWithdrawalAreAConflictOfTheApproval() throws {
        var (branch, hq) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        hq.receive(branch.ops)
        let seen = branch.ops.count
        try hq.edit("update") { try $0.update([.severity: .number(3)]) }  // withdraws the approval HQ saw
        try branch.edit("reply") { try $0.reply(message: "为您更换新机", via: .phone, promisedDate: nil) }
        hq.receive(Array(branch.ops[seen...]))
        branch.receive(hq.ops.suffix(1))
        #expect(branch.document == hq.document)
        #expect(hq.document.approval.issues.contains(.concurrentDecisions))
        #expect(hq.document.conflicts.contains { $0.field == .approval })
    }

    @Test func aSubmittedSeriousComplaintKeepsTheApprovalItNeeds() throws {
        var (branch, _) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        let error = #expect(throws: DomainError.self) { try branch.document.update([.severity: .number(1)]) }
        #expect(error?.message.contains("keeps the approval it needs") == true)
        #expect(branch.document.allowedTransitions == [.approve])
    }

    @Test func aMajorComplaintIsApprovedByHQNotByTheBranch() throws {
        var (branch, hq) = try Replica.investigated(severity: .major)
        try branch.edit("escalate") { try $0.escalate(to: .headquarters) }
        try branch.edit("submit") { try $0.transition(.submit) }
        let error = #expect(throws: DomainError.self) { try branch.document.transition(.approve, authority: .branch) }
        #expect(error?.message.contains("approved by HQ") == true)
        hq.receive(Array(branch.ops.suffix(2)))
        try hq.edit("approve") { try $0.transition(.approve, reason: "同意更换并赔偿", authority: .hq) }
        branch.receive(hq.ops.suffix(1))
        try branch.edit("reply") { try $0.reply(message: "为您更换新机并赔偿", via: .phone, promisedDate: nil) }
        #expect(branch.document.approval.issues.isEmpty)
        #expect(branch.document.approval.decision?.authority == .hq)
    }

    @Test func aBranchApprovalOfAComplaintHQMadeMajorIsFlagged() throws {
        var (branch, hq) = try Replica.investigated(severity: .serious)
        try branch.edit("submit") { try $0.transition(.submit) }
        try hq.edit("update") { try $0.update([.severity: .number(3)]) }  // HQ raises it, concurrently
        try branch.edit("approve") { try $0.transition(.approve, authority: .branch) }
        try branch.edit("reply") { try $0.reply(message: "为您更换新机", via: .phone, promisedDate: nil) }
        branch.receive(hq.ops.suffix(1))
        #expect(branch.document.approval.issues.contains(.majorWithoutHQ))
        #expect(branch.document.approval.issues.contains(.changedBehindDecision(fields: [.severity])))
    }

    @Test func reAddingATagSurvivesAConcurrentRemove() throws {
        var (branch, hq) = try Replica.investigated(severity: .general)
        try branch.edit("tag") { try $0.tag(add: ["vip"], remove: []) }
        hq.receive(branch.ops.suffix(1))
        try hq.edit("tag") { try $0.tag(add: [], remove: ["vip"]) }
        try branch.edit("tag") { try $0.tag(add: ["vip"], remove: []) }  // already there: a new add all the same
        hq.receive(branch.ops.suffix(1))
        branch.receive(hq.ops.suffix(1))
        #expect(branch.document.elements(of: .tags) == ["vip"] && hq.document == branch.document)
    }
}
