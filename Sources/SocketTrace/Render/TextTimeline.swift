import Glibc

/// sockettrace's own live output: one line per call, written when it
/// returns and stamped with the time it began (since the trace began), the process (name and pid, thread id when it differs) in its own
/// colour, the call with socket descriptors shown as what they are, the
/// result and how long the call took.
public final class TextTimeline: TraceSink {
    public struct Options: Sendable {
        public var colour = false
        public var showDuration = true
        public init() {}
    }

    let output: OutputStream
    let lines: LineAssembler
    let options: Options
    var start: MonotonicTime?
    var names: [Int32: String] = [:]
    var pids: [Int32: Int32] = [:]
    var colours: [Int32: String] = [:]
    static let palette = ["\u{1B}[36m", "\u{1B}[33m", "\u{1B}[35m", "\u{1B}[32m", "\u{1B}[34m", "\u{1B}[96m"]

    public init(output: OutputStream, options: Options) {
        self.output = output
        self.lines = LineAssembler(output: output)
        self.options = options
    }

    /// Colour on a terminal, never when NO_COLOR is set (https://no-color.org).
    public static func wantsColour(_ output: OutputStream) -> Bool {
        output.isTerminal && getenv("NO_COLOR") == nil
    }

    func paint(_ text: String, _ code: String) -> String {
        options.colour ? code + text + "\u{1B}[0m" : text
    }

    func processName(_ pid: Int32) -> String {
        if let name = names[pid] { return name }
        let name = Self.comm(of: pid)
        names[pid] = name
        return name
    }

    static func comm(of pid: Int32) -> String {
        guard let file = fopen("/proc/\(pid)/comm", "r") else { return "?" }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, 64, file) != nil else { return "?" }
        return String(cBuffer: buffer).trimmingNewline()
    }

    /// The program and arguments of a process, from /proc/PID/cmdline.
    static func commandLine(of pid: Int32) -> String {
        guard let text = KernelSocketLookup.readSmallFile("/proc/\(pid)/cmdline") else { return "?" }
        return text.split(separator: "\0").joined(separator: " ")
    }

    func leader(_ tid: Int32, at time: MonotonicTime) -> String {
        let origin = start ?? time
        if start == nil { start = time }
        let elapsed = Double(time.nanoseconds &- origin.nanoseconds) / 1e9
        let pid = pids[tid] ?? tid
        var who = "\(processName(pid))[\(pid)"
        if tid != pid { who += "/\(tid)" }
        who += "]"
        let padded = who + String(repeating: " ", count: max(1, 22 - who.count))
        return formatSeconds(elapsed) + "  " + paint(padded, colours[pid] ?? "")
    }

    func formatSeconds(_ value: Double) -> String {
        let micros = Int((value * 1e6).rounded())
        let whole = String(micros / 1_000_000)
        return String(repeating: " ", count: max(0, 4 - whole.count)) + whole + "." + pad6(micros % 1_000_000)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1e-3 { return "\(Int((seconds * 1e6).rounded())) µs" }
        if seconds < 1 { return String(Int((seconds * 1e5).rounded()) / 100) + "." + pad2(Int32(Int((seconds * 1e5).rounded()) % 100)) + " ms" }
        return String(Int((seconds * 100).rounded()) / 100) + "." + pad2(Int32(Int((seconds * 100).rounded()) % 100)) + " s"
    }

    func result(_ call: SyscallInvocation) {
        lines.write(")")
        lines.padToResultColumn()
        let failed = call.result?.failed ?? false
        lines.write(paint("= " + call.returnText, failed ? "\u{1B}[31m" : "\u{1B}[1m"))
        if options.showDuration, let duration = call.duration {
            lines.write("  " + paint("<" + Self.duration(duration) + ">", "\u{1B}[2m"))
        }
        lines.end()
    }

    public func handle(_ event: TraceEvent) {
        switch event {
        case .syscallEntered:
            // A call is written whole when it returns, stamped with its entry time.
            break
        case let .syscallExited(call):
            lines.begin(call.tid, leader: leader(call.tid, at: call.entryTime))
            lines.write(call.entryText + call.exitText)
            result(call)
        case let .syscallAbandoned(call):
            lines.begin(call.tid, leader: leader(call.tid, at: call.entryTime))
            lines.write(call.entryText + " … never returned")
            lines.end()
        case let .traceeStarted(tid, pid, parent, attached):
            pids[tid] = pid
            if colours[pid] == nil { colours[pid] = Self.palette[colours.count % Self.palette.count] }
            if attached {
                note(tid, "attached")
            } else if tid == pid, let parent {
                note(tid, "forked from \(parent)")
            } else if tid != pid {
                note(tid, "thread started")
            }
        case let .signalDelivered(tid, info):
            note(tid, "--- " + SignalName.name(info.signal) + " " + info.straceText + " ---")
        case let .stopped(tid, signal):
            note(tid, "--- stopped by " + SignalName.name(signal) + " ---")
        case let .execed(tid, _):
            names[pids[tid] ?? tid] = nil
            note(tid, "exec " + Self.commandLine(of: pids[tid] ?? tid))
        case let .exited(tid, status):
            note(tid, "+++ exited with \(status) +++")
        case let .killed(tid, signal, core):
            note(tid, "+++ killed by " + SignalName.name(signal) + (core ? " (core dumped)" : "") + " +++")
        case let .detached(tid):
            note(tid, "detached")
        case let .personalityChanged(tid, architecture):
            note(tid, "runs in \(architecture == .i386 ? 32 : 64)-bit mode")
        }
    }

    func note(_ tid: Int32, _ text: String) {
        lines.begin(tid, leader: leader(tid, at: .now()))
        lines.write(paint(text, "\u{1B}[2m"))
        lines.end()
    }

    public func flush() { output.flush() }

    public func finish() {
        lines.closeOpenLine()
        output.flush()
    }
}

extension String {
    func trimmingNewline() -> String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}
