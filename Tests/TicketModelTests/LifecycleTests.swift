import Testing
import TicketModel

@Suite struct LifecycleTests {
    static let statuses = [1, 2].flatMap { round in Stage.allCases.map { Status(round: round, stage: $0) } }

    @Test(arguments: Severity.allCases)
    func everyTransitionIsAllowedExactlyWhenListedAndMovesUpTheLattice(severity: Severity) throws {
        for status in Self.statuses {
            let allowed = Lifecycle.allowedTransitions(from: status, severity: severity)
            for transition in Transition.allCases {
                if allowed.contains(transition) {
                    let target = try Lifecycle.target(of: transition, from: status, severity: severity)
                    #expect(target > status, "\(transition) from \(status) must move up the lattice")
                    #expect(target.round == (transition == .reopen ? status.round + 1 : status.round))
                } else {
                    let error = #expect(throws: DomainError.self) {
                        try Lifecycle.target(of: transition, from: status, severity: severity)
                    }
                    #expect(error?.message.contains("allowed now: \(allowed.map(\.rawValue).joined(separator: ", "))") == true)
                }
            }
        }
    }

    @Test func closingATicketNeverRepliedToIsRefused() {
        for stage in [Stage.new, .accepted, .investigating, .awaitingApproval, .approved] {
            #expect(throws: DomainError.self) {
                try Lifecycle.target(of: .close, from: Status(round: 1, stage: stage), severity: .general)
            }
        }
        #expect((try? Lifecycle.target(of: .close, from: Status(round: 1, stage: .replied), severity: .general))
            == Status(round: 1, stage: .closed))
    }

    @Test func seriousComplaintsNeedApprovalBeforeTheReply() throws {
        let investigating = Status(round: 1, stage: .investigating)
        let error = #expect(throws: DomainError.self) {
            try Lifecycle.target(of: .reply, from: investigating, severity: .serious)
        }
        #expect(error?.message.contains("submit, then approve") == true)
        #expect(try Lifecycle.target(of: .reply, from: investigating, severity: .general).stage == .replied)
        #expect(try Lifecycle.target(of: .reply, from: Status(round: 1, stage: .approved), severity: .major).stage == .replied)
    }

    @Test func reopenStartsTheNextRoundAtInvestigatingAndBeatsAClose() throws {
        for stage in [Stage.replied, .closed, .rejected] {
            let reopened = try Lifecycle.target(of: .reopen, from: Status(round: 1, stage: stage), severity: .general)
            #expect(reopened == Status(round: 2, stage: .investigating))
            #expect(reopened.joined(with: Status(round: 1, stage: .closed)) == reopened)
        }
    }

    @Test func closedOutranksRejectedSoTheJoinIsTotal() {
        let closed = Status(round: 1, stage: .closed), rejected = Status(round: 1, stage: .rejected)
        #expect(closed.joined(with: rejected) == closed)
        #expect(rejected.joined(with: closed) == closed)
    }

    @Test func everyStageIsReachableAndEveryOpenTicketCanBeClosed() throws {
        for severity in Severity.allCases {
            var reached: Set<Stage> = [.new]
            var frontier: [Status] = [.opened]
            while let status = frontier.popLast() {
                for transition in Lifecycle.allowedTransitions(from: status, severity: severity) where transition != .reopen {
                    let next = try Lifecycle.target(of: transition, from: status, severity: severity)
                    if reached.insert(next.stage).inserted { frontier.append(next) }
                }
            }
            #expect(reached == Set(Stage.allCases), "severity \(severity): unreachable \(Set(Stage.allCases).subtracting(reached))")
        }
    }

    @Test func followUpOnlyAfterTheReply() {
        #expect(Stage.allCases.filter { Lifecycle.canFollowUp(Status(round: 1, stage: $0)) } == [.replied, .closed])
    }

    @Test func escalationCountsOnlyInTheRoundItWasRaised() {
        let escalation = Escalation(round: 1, level: .headquarters)
        #expect(escalation.level(inRound: 1) == .headquarters)
        #expect(escalation.level(inRound: 2) == EscalationLevel.none)
        #expect(max(escalation, Escalation(round: 2, level: .manager)) == Escalation(round: 2, level: .manager))
    }
}
