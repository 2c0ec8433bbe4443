/// strace's `-c`: per syscall, the share of time, seconds, microseconds per
/// call, calls and errors, sorted by time, with a total line. The time is
/// the calls' system time (the CPU time each spent in the kernel, as strace
/// counts it), or with `-w` the wall-clock time from entry to exit.
public final class SummaryTable: TraceSink {
    public enum Measure: Sendable { case systemTime, wallClock }

    struct Row {
        var calls = 0
        var errors = 0
        var seconds = 0.0
    }

    let output: TraceOutput
    let measure: Measure
    var rows: [String: Row] = [:]

    public init(output: TraceOutput, measure: Measure = .systemTime) {
        self.output = output
        self.measure = measure
    }

    public func handle(_ event: TraceEvent) {
        guard case let .syscallExited(call) = event else { return }
        var row = rows[call.name] ?? Row()
        row.calls += 1
        if call.result?.failed == true { row.errors += 1 }
        row.seconds += (measure == .systemTime ? call.systemTime : call.duration) ?? 0
        rows[call.name] = row
    }

    public func flush() {}

    public func finish() {
        output.write(render())
        output.flush()
    }

    public func render() -> String {
        let total = rows.values.reduce(0) { $0 + $1.seconds }
        let rule = "------ ----------- ----------- --------- --------- ----------------\n"
        var text = "% time     seconds  usecs/call     calls    errors syscall\n" + rule
        let sorted = rows.sorted { $0.value.seconds != $1.value.seconds ? $0.value.seconds > $1.value.seconds : $0.key < $1.key }
        for (name, row) in sorted {
            text += line(percent: total > 0 ? row.seconds / total * 100 : 0, seconds: row.seconds,
                         perCall: row.calls > 0 ? Int(row.seconds * 1e6 / Double(row.calls)) : 0,
                         calls: row.calls, errors: row.errors, name: name)
        }
        text += rule
        let calls = rows.values.reduce(0) { $0 + $1.calls }
        let errors = rows.values.reduce(0) { $0 + $1.errors }
        text += line(percent: 100, seconds: total, perCall: calls > 0 ? Int(total * 1e6 / Double(calls)) : 0,
                     calls: calls, errors: errors, name: "total")
        return text
    }

    func line(percent: Double, seconds: Double, perCall: Int, calls: Int, errors: Int, name: String) -> String {
        func right(_ text: String, _ width: Int) -> String {
            String(repeating: " ", count: max(0, width - text.count)) + text
        }
        let percentText = String(Int((percent * 100).rounded()) / 100) + "." + pad2(Int32(Int((percent * 100).rounded()) % 100))
        let micros = Int((seconds * 1e6).rounded())
        let secondsText = "\(micros / 1_000_000)." + pad6(micros % 1_000_000)
        return right(percentText, 6) + " " + right(secondsText, 11) + " " + right(String(perCall), 11) + " "
            + right(String(calls), 9) + " " + right(errors > 0 ? String(errors) : "", 9) + " " + name + "\n"
    }
}

/// Sends every event to several sinks (a summary and a trace file, say).
public final class FanOut: TraceSink {
    let sinks: [TraceSink]

    public init(_ sinks: [TraceSink]) { self.sinks = sinks }

    public func handle(_ event: TraceEvent) { sinks.forEach { $0.handle(event) } }
    public func flush() { sinks.forEach { $0.flush() } }
    public func finish() { sinks.forEach { $0.finish() } }
    public func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime) {
        sinks.forEach { $0.recordedCallsInFlight(since, at: time) }
    }
    public func caughtUp(to time: MonotonicTime) { sinks.forEach { $0.caughtUp(to: time) } }
}
