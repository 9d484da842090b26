import Foundation
import Replication
import TicketModel

/// (6) The in-memory merge core on a trace of field writes (`Benchmarks/pycrdt_compare.py` makes
/// the trace and runs pycrdt on it too): each write becomes a register write of its ticket's
/// document — with the frontier it has seen — in an op, and is applied.
enum MergeCore {
    /// Writes applied per second.
    static func apply(traceAt path: String) throws -> (writes: Int, rate: Double) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let writes: [(ticket: Int, field: Field, value: String)] = try lines.map { line in
            let parts = line.split(separator: "\t", maxSplits: 2).map(String.init)
            guard parts.count == 3, let ticket = Int(parts[0]), let field = Field(rawValue: parts[1]) else {
                throw BenchError("a malformed trace line: \(line)")
            }
            return (ticket, field, parts[2])
        }
        let origin = try NodeID("n0")
        var documents: [Int: TicketDocument] = [:]
        var clock = HybridLogicalClock(last: .zero)
        var seq: UInt64 = 0
        let start = ContinuousClock.now
        for write in writes {
            var document = documents[write.ticket] ?? TicketDocument(id: TicketID(origin: origin, counter: write.ticket + 1))
            seq += 1
            let op = Op(
                id: OpID(origin: origin, seq: seq), hlc: clock.tick(wallMillis: 1_795_305_600_000 + seq), ticket: document.id,
                actor: "王芳", action: "update", changes: [document.write(write.field, .text(write.value))])
            _ = document.apply(op)
            documents[write.ticket] = document
        }
        return (writes.count, Double(writes.count) / (ContinuousClock.now - start).seconds)
    }
}
