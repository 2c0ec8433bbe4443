import ArgumentParser
import Foundation
import SocketTrace

/// `sockettrace compare FILE...`: expected against observed, per operation.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise, per socket operation, how the observed kernel chains compare with the model.")

    @Argument(help: "Trace files written with --format jsonl or --save.") var files: [String]
    @Flag(help: "JSON for scripts.") var json = false

    func run() throws {
        let readers = try readTraces(files)
        var calls: [SyscallInvocation] = []
        var strayEvents: [KernelSample] = []
        var exits: [ProcessEvent] = []
        for record in TraceFileReader.merged(readers) {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .process(event) = record, event.exitKernel != nil { exits.append(event) }
            if case let .kernelEvent(sample) = record { strayEvents.append(sample) }
        }
        let summaries = OperationSummary.summarize(calls, exits: exits)
        let kernel = KernelComparison(calls: calls, strayEvents: strayEvents, exits: exits)
        let tracker = ConnectionTracker()
        calls.forEach { tracker.observe($0) }
        let connections = tracker.connections.filter(\.isTraced)
        let samples = SampleAccount(summaries: readers.map(\.summary), calls: calls, events: strayEvents, exits: exits)
        if json {
            struct Output: Encodable {
                let operations: [OperationSummary]
                let kernel: KernelComparison
                let samples: SampleAccount
                let connections: [Connection]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(Output(operations: summaries, kernel: kernel, samples: samples, connections: connections)), as: UTF8.self))
        } else {
            defer {
                if !connections.isEmpty { print("\nconnections" + TextTimeline.selectionNote(readers.flatMap { $0.header?.selection ?? [] })) }
                for connection in connections {
                    var line = "  #\(connection.id) \(connection.title)"
                    if let handshake = connection.handshake { line += ", \(connection.openedBy) → accept \(Int((handshake * 1e6).rounded())) µs" }
                    if let kernel = connection.kernelHandshake { line += ", kernel handshake \(Int((kernel * 1e6).rounded())) µs" + (connection.kernelHandshakeFrom.map { " (from the \($0))" } ?? "") }
                    // As the timeline says it: an untraced end is said to be
                    // untraced, not to have sent nothing (audit 34 F1).
                    line += ", " + TextTimeline.bytesLine(connection)
                    print(line)
                }
            }
            if let header = readers.first?.header {
                print("kernel \(header.kernelRelease), kernel observation: \(header.kernelObservation)"
                      + (header.kernelObservationNote.map { " (\($0))" } ?? ""))
            }
            if summaries.isEmpty { print("no socket operations with a model in this trace") }
            for summary in summaries { print("\n" + summary.text, terminator: "") }
            print(kernel.text, terminator: "")
            if readers.contains(where: { $0.header?.kernelObservation == "observed" }) { print(samples.text, terminator: "") }
        }
        try reportTruncation(readers.map(TraceFileStatus.init))
    }
}

