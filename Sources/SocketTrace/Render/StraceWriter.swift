/// Writes the trace as strace writes it, line for line: the same leaders
/// (`[pid N] ` or `N  `), column-40 results, `<unfinished ...>`/`resumed`,
/// signals, exits.
public final class StraceWriter: TraceSink {
    public struct Options: Sendable {
        public var timestamps: TimestampStyle = .none
        public var showDuration = false
        /// strace prints `%-5d ` pid prefixes with -o and -f, `[pid %5u] ` on
        /// stderr when several tracees are alive.
        public var writingToFile = false
        public var followFlagGiven = false
        public init() {}
    }

    let lines: LineAssembler
    let output: TraceOutput
    let diagnostics: TraceOutput
    let options: Options
    var liveTracees = 0
    var previousTimestamp: MonotonicTime?
    /// Threads whose call's start was written and whose end was not.
    var entered: Set<Int32> = []

    public init(output: TraceOutput, diagnostics: TraceOutput = .standardError, options: Options) {
        self.output = output
        self.lines = LineAssembler(output: output)
        self.diagnostics = diagnostics
        self.options = options
    }

    func leader(_ tid: Int32, wall: WallClock = .now(), monotonic: MonotonicTime = .now()) -> String {
        var text = ""
        if options.writingToFile && (options.followFlagGiven || liveTracees > 1) {
            let pid = String(tid)
            text = pid + String(repeating: " ", count: max(0, 5 - pid.count)) + " "
        } else if !options.writingToFile && liveTracees > 1 {
            let pid = String(tid)
            text = "[pid " + String(repeating: " ", count: max(0, 5 - pid.count)) + pid + "] "
        }
        return text + options.timestamps.text(wall: wall, monotonic: monotonic, previous: &previousTimestamp)
    }

    func finishResult(_ call: SyscallInvocation) {
        lines.write(")")
        lines.padToResultColumn()
        lines.write("= " + call.returnText)
        if options.showDuration, let duration = call.duration {
            lines.write(" <" + Self.seconds(duration) + ">")
        }
        lines.end()
        for frame in call.userStack ?? [] { output.write(frame.straceText + "\n") }
    }

    static func seconds(_ value: Double) -> String {
        let micros = Int((value * 1e6).rounded())
        return "\(micros / 1_000_000)." + pad6(micros % 1_000_000)
    }

    public func handle(_ event: TraceEvent) {
        switch event {
        case let .syscallEntered(call):
            lines.begin(call.tid, leader: leader(call.tid, wall: call.wallClock ?? .now(), monotonic: call.entryTime))
            lines.write(call.entryText)
            lines.keepOpen(for: call.tid)
            entered.insert(call.tid)
        case let .syscallExited(call):
            if entered.remove(call.tid) == nil {
                // Its start was not given (a trace file from 1.16 leaves out an
                // entry its end follows): the whole line at once.
                lines.begin(call.tid, leader: leader(call.tid, wall: call.wallClock ?? .now(), monotonic: call.entryTime))
                lines.write(call.entryText + call.exitText)
            } else if lines.openTid == call.tid {
                lines.write(call.exitText)
            } else {
                lines.begin(call.tid, leader: leader(call.tid))
                lines.write("<... \(call.name) resumed>" + call.exitText)
            }
            finishResult(call)
        case let .syscallAbandoned(call):
            entered.remove(call.tid)
            if lines.openTid != call.tid {
                lines.begin(call.tid, leader: leader(call.tid))
                lines.write("<... \(call.name) resumed>")
            }
            lines.write(" <unfinished ...>)")
            lines.padToResultColumn()
            lines.write("= ?")
            lines.end()
        case let .process(event):
            handle(event)
        case .kernelEvent, .function:
            // strace has no kernel or function events; its lines stay strace's.
            break
        }
    }

    func handle(_ event: ProcessEvent) {
        let tid = event.tid
        switch event.kind {
        case .started, .attached:
            liveTracees += 1
            if event.kind == .attached {
                diagnostics.write("sockettrace: Process \(tid) attached\n")
                diagnostics.flush()
            }
        case .signal:
            guard let info = event.signalInfo else { return }
            lines.begin(tid, leader: leader(tid))
            lines.write("--- " + SignalName.name(info.signal) + " " + info.straceText + " ---")
            lines.end()
            for frame in event.userStack ?? [] { output.write(frame.straceText + "\n") }
        case .stopped:
            lines.begin(tid, leader: leader(tid))
            lines.write("--- stopped by " + SignalName.name(event.signal ?? 0) + " ---")
            lines.end()
        case .exec:
            break
        case .exited:
            lines.begin(tid, leader: leader(tid))
            lines.write("+++ exited with \(event.status ?? 0) +++")
            lines.end()
            liveTracees -= 1
        case .killed:
            lines.begin(tid, leader: leader(tid))
            lines.write("+++ killed by " + SignalName.name(event.signal ?? 0) + (event.coreDumped == true ? " (core dumped)" : "") + " +++")
            lines.end()
            liveTracees -= 1
        case .detached:
            lines.closeOpenLine()
            liveTracees -= 1
            diagnostics.write("sockettrace: Process \(tid) detached\n")
            diagnostics.flush()
        case .personality:
            diagnostics.write("[ Process PID=\(tid) runs in \(event.architecture == .i386 ? 32 : 64) bit mode. ]\n")
            diagnostics.flush()
        }
    }

    public func flush() { output.flush() }

    public func finish() {
        lines.closeOpenLine()
        output.flush()
    }
}
