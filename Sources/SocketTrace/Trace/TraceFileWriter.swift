import Foundation

/// Writes the trace as JSON Lines while tracing: a header, then one record
/// per event, flushed whenever the tracer waits, so a tracer that is killed
/// leaves every complete record readable.
public final class TraceFileWriter: TraceSink {
    let output: TraceOutput
    let encoder: JSONEncoder
    var syscalls = 0
    /// Pairs connect with accept as calls finish; written before the end record.
    let connections = ConnectionTracker()
    let kernelCounts: () -> (samples: UInt64, lost: UInt64)
    /// Samples taken and not written, by why (`TraceSummary.leftOutKernelSamples`).
    let leftOut: () -> [String: UInt64]

    public init(output: TraceOutput, header: TraceHeader,
                kernelCounts: @escaping () -> (samples: UInt64, lost: UInt64) = { (0, 0) },
                leftOut: @escaping () -> [String: UInt64] = { [:] }) {
        self.output = output
        self.kernelCounts = kernelCounts
        self.leftOut = leftOut
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        write(.header(header))
        output.flush()
    }

    let chains = ChainInterner()

    func write(_ record: TraceRecord) {
        // The frequent records are written directly; the rest through Codable.
        var direct = RecordEncoder(chains: chains)
        if direct.record(record) {
            for chain in chains.takeNew() {
                var line = RecordEncoder()
                line.object { o in
                    o.member("type", "chain")
                    o.member("id", chain.id)
                    o.member("frames", strings: chain.frames)
                    o.member("symbols", strings: chain.symbols)
                }
                output.writeLine(line.bytes)
            }
            for shared in chains.takeNewAlignments() {
                var line = RecordEncoder()
                line.object { o in
                    o.member("type", "alignment")
                    o.member("id", shared.id)
                    RecordEncoder.steps(shared.alignment, into: &o)
                }
                output.writeLine(line.bytes)
            }
            output.writeLine(direct.bytes)
            return
        }
        guard let data = try? encoder.encode(record) else { return }
        output.write(String(decoding: data, as: UTF8.self) + "\n")
    }

    public func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime) {
        writePendingEntry()
        write(.inFlight(time: time, since: since))
    }

    /// A call's start, not written yet: when its end is the next thing
    /// written, its `syscall` record says all the entry would, and the
    /// entry is left out (format 1.16). Anything else, a flush (the tracer
    /// waits: the call may block) or the end writes it first. Not while
    /// `report` writes a file again: it writes the records it reads.
    var pendingEntry: SyscallInvocation?
    public var leavesOutEntriesEndedNext = true

    func writePendingEntry() {
        guard let call = pendingEntry else { return }
        pendingEntry = nil
        write(.syscallEntry(call))
    }

    public func handle(_ event: TraceEvent) {
        if case let .syscallExited(call) = event, let pending = pendingEntry, pending.tid == call.tid, pending.entryTime == call.entryTime {
            pendingEntry = nil
        } else {
            writePendingEntry()
        }
        switch event {
        case let .syscallEntered(call):
            if leavesOutEntriesEndedNext { pendingEntry = call } else { write(.syscallEntry(call)) }
        case let .syscallExited(call):
            syscalls += 1
            write(.syscall(call))
            connections.observe(call)
        case let .syscallAbandoned(call): write(.syscallAbandoned(call))
        case let .process(event): write(.process(event))
        case let .kernelEvent(sample): write(.kernelEvent(sample))
        case let .function(event): write(.function(event))
        }
    }

    public func flush() {
        writePendingEntry()
        output.flush()
    }

    public func finish() {
        writePendingEntry()
        let counts = kernelCounts()
        for connection in connections.connections where connection.isTraced {
            write(.connection(connection))
        }
        let leftOut = leftOut()
        write(.end(TraceSummary(syscalls: syscalls, kernelSamples: counts.samples, lostKernelSamples: counts.lost, endMonotonic: .now(),
                                leftOutKernelSamples: leftOut.isEmpty ? nil : leftOut)))
        output.flush()
    }
}
