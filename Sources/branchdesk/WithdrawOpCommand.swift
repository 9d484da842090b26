import ArgumentParser
import BranchdeskNode
import Replication
import TicketModel
import TicketStore

/// `branchdesk withdraw-op ORIGIN#SEQ`: the way out of an op a peer refuses for good.
struct WithdrawOpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw-op",
        abstract: "Withdraw an op of this node's that headquarters refuses for good, so that sync passes it.",
        discussion: """
            'branchdesk status' names such an op as a stuck op (OP_REJECTED, Protocol/SYNC.md §6.2): nothing this node \
            made after it reaches headquarters until it is withdrawn. The op keeps its number, but its changes become \
            one note saying it was withdrawn and why; if it opened a ticket, this node's later edits of that ticket \
            are withdrawn too, and the ticket is gone. Only an op no other node holds can be withdrawn. Stop 'serve' \
            first, withdraw, then sync.
            """)

    @OptionGroup var data: DataOptions
    @OptionGroup var actor: ActorOptions

    @Argument(help: ArgumentHelp("The op, as status names it.", valueName: "origin#seq"))
    var op: String

    @Option(help: "The reason the note gives (default: the peer's).")
    var reason: String?

    func run() async throws {
        let parts = op.split(separator: "#", omittingEmptySubsequences: false)
        guard parts.count == 2, let seq = UInt64(parts[1]), seq > 0, let origin = try? NodeID(String(parts[0])) else {
            throw ValidationError("'\(op)' is not an op: give it as status names it, ORIGIN#SEQ (e.g. sh-pudong-012#57)")
        }
        let directory = try data.directory()
        // The op must not be sent while it is rewritten: no serve may run on this node meanwhile.
        let lock = try ServeLock(directory: directory)
        defer { lock.release() }
        let store = try data.openStore()
        let withdrawn = try await store.withdraw(OpID(origin: origin, seq: seq), actor: actor.actor, reason: reason)
        let listed = withdrawn.ops.map { "\($0.id) (\($0.action))" }.joined(separator: ", ")
        print("withdrew \(listed): each is now a note saying why (\(withdrawn.reason)); run 'branchdesk sync --once' or 'serve' to pass it to headquarters")
    }
}
