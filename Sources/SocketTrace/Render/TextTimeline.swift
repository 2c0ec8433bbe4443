import Foundation
import Glibc

/// sockettrace's own live output: one line per call, stamped with the time
/// it began (since the trace began), the process (name and pid, thread id
/// when it differs) in its own colour, the call with socket descriptors
/// shown as what they are, the result and how long the call took.
///
/// Lines come in the order things began, across processes: a finished call
/// waits until every call that began before it has finished too. A call
/// still running `TimelineOrder.holdLimit` after it began (a blocked accept) is written
/// as strace writes it, `accept(3, <unfinished ...>`, and its end later as
/// `<... accept resumed>…`, so that nothing waits behind it for long.
public final class TextTimeline: TraceSink {
    public struct Options: Sendable {
        public var colour = false
        public var showDuration = true
        /// Wrap chains and stacks to this many columns (a terminal's width).
        public var width: Int?
        /// A command line's arguments, as strace abbreviates execve's
        /// (-s): each to this many characters, then `...`.
        public var stringLimit = 32
        /// At most this many arguments, then how many more.
        public var arrayLimit = 32
        /// At most this many lines of a call's function graph, then how many more calls.
        public var graphLines = 40
        /// Each kernel event's stack under it (`--event-stacks`): events are
        /// sampled for their fields, and their stacks only kept in the trace file otherwise.
        public var eventStacks = false
        /// The `-e` expressions of the run: the connections' byte counts are
        /// of the calls they keep (audit 31 M4: "client sent 0 B" with its
        /// sends filtered out, not said).
        public var selection: [String] = []
        public init() {}
    }

    let output: TraceOutput
    let lines: LineAssembler
    let options: Options
    var start: MonotonicTime?
    var names: [Int32: String] = [:]
    var pids: [Int32: Int32] = [:]
    var colours: [Int32: String] = [:]
    let connections = ConnectionTracker()
    /// Missing model functions whose evidence was written out: later
    /// chains mark them without repeating it.
    var explained: Set<ChainAlignment.Step> = []
    /// A part's lines as `annotated` wrote them, once nothing new was
    /// explained in them: a busy connection shows the same few chains for
    /// every call (text mode spent 40% of its time rewriting them). Bounded.
    var annotatedLines: [AnnotatedKey: String] = [:]
    static let annotatedLinesLimit = 1024
    /// Stacks' parts by chain serial (`parts(of:)`).
    var partsBySerial: [Int: (ChainAligner.Parts, (syscall: [String], softirq: [String]))] = [:]
    /// While set, `put` collects here instead of writing.
    var captured: String?
    /// Softirq work a traced thread ran between its calls for packets not
    /// known to be the traced program's: counted, not shown (the trace
    /// file keeps each, with why).

    /// The order lines are written in (a pure stage).
    var order = TimelineOrder()
    static let palette = ["\u{1B}[36m", "\u{1B}[33m", "\u{1B}[35m", "\u{1B}[32m", "\u{1B}[34m", "\u{1B}[96m"]

    public init(output: TraceOutput, options: Options) {
        self.output = output
        self.lines = LineAssembler(output: output)
        self.options = options
    }

    /// Colour on a terminal, never when NO_COLOR is set (https://no-color.org).
    public static func wantsColour(_ output: TraceOutput) -> Bool {
        output.isTerminal && getenv("NO_COLOR") == nil
    }

    func paint(_ text: String, _ code: String) -> String {
        options.colour ? code + text + "\u{1B}[0m" : text
    }

    func processName(_ pid: Int32) -> String { names[pid] ?? "?" }

    /// `task`: a task outside the traced ones, named as the kernel names it.
    func leader(_ tid: Int32, at time: MonotonicTime, task: String? = nil) -> String {
        let origin = start ?? time
        if start == nil { start = time }
        let elapsed = Double(time.nanoseconds &- origin.nanoseconds) / 1e9
        let pid = pids[tid] ?? tid
        let name = task == nil ? processName(pid) : nil
        let colour = colours[pid] ?? ""
        // The same few tasks lead every line: made once each (while the
        // process, its name and colour hold: an exec renames it).
        if task == nil, let known = leaders[tid], known.pid == pid, known.name == name, known.colour == colour {
            return formatSeconds(elapsed) + "  " + known.text
        }
        var who = task ?? "\(name!)[\(pid)"
        if task == nil {
            if tid != pid { who += "/\(tid)" }
            who += "]"
        }
        let padded = paint(who + String(repeating: " ", count: max(1, 22 - who.count)), colour)
        if task == nil, let name { leaders[tid] = (pid, name, colour, padded) }
        return formatSeconds(elapsed) + "  " + padded
    }
    /// Each thread's part of its lines' leader, with what it was made from.
    var leaders: [Int32: (pid: Int32, name: String, colour: String, text: String)] = [:]

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

    public func handle(_ event: __owned TraceEvent) { write(order.take(event)) }

    public func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime) { write(order.hold(since)) }

    /// Lines the order let go, in order (read in place, not copied out).
    func write(_ lines: [TimelineOrder.Line]) {
        for index in lines.indices { write(lines[index]) }
    }

    /// For a call its thread ended in: when the kernel had ended it (its
    /// `sys_exit`), the program never seeing the result.
    static func endedByKernel(_ call: SyscallInvocation) -> String {
        guard let entry = call.kernelEntryTime, let exit = call.kernelExitTime else { return "" }
        return " (the kernel ended it \(duration(Double(exit.nanoseconds &- entry.nanoseconds) / 1e9)) after its entry, at its sys_exit; "
            + "its thread ended before the program saw the result)"
    }

    func write(_ line: TimelineOrder.Line) {
        switch line {
        case let .call(call, resumed): render(call, resumed: resumed)
        case let .unfinished(call): renderUnfinished(call)
        case let .abandoned(call, resumed, time):
            lines.begin(call.tid, leader: leader(call.tid, at: time))
            lines.write((resumed ? "<... \(call.name) resumed>" : call.entryText) + " … never returned" + Self.endedByKernel(call))
            lines.end()
        case let .process(event): handle(event)
        case let .kernel(sample): render(sample)
        case let .function(event): render(event)
        }
    }

    func renderUnfinished(_ call: SyscallInvocation) {
        lines.begin(call.tid, leader: leader(call.tid, at: call.startTime))
        lines.write(call.entryText + (call.entryText.hasSuffix(" ") ? "" : " ") + "<unfinished ...>")
        lines.end()
    }

    func render(_ call: SyscallInvocation, resumed: Bool) {
        if resumed {
            lines.begin(call.tid, leader: leader(call.tid, at: call.endTime ?? call.startTime))
            lines.write("<... \(call.name) resumed>" + call.exitText)
        } else {
            lines.begin(call.tid, leader: leader(call.tid, at: call.startTime))
            lines.write(call.entryText + call.exitText)
        }
        result(call)
        if let stack = call.userStack, !stack.isEmpty {
            writeWrapped(["↳ user stack: " + (stack.first?.shortText ?? "")] + stack.dropFirst().map(\.shortText),
                         separator: " ← ", colour: "\u{1B}[2m")
        }
        if let carried = call.releasedInMessages {
            let line: String
            if call.syscall != .close {
                line = Self.carriedLine(carried, by: call.syscall == .dup2 || call.syscall == .dup3 || call.syscall == .close_range
                    ? "the last reference to the UNIX socket it closed," : "the last reference to the UNIX socket another thread's close, dup2 or close_range left to it,",
                                        when: "as this call returns")
            } else if call.kernel?.operation == "socket_reference_dropped" {
                // The kernel's word (the tracer counted no other reference):
                // the close freed no file (a poll, a call not stopped, held
                // it; audit 78 F1).
                line = "↳ the SCM_RIGHTS messages waiting at it, with the last reference to " + Self.carriedText(carried, waitingAt: nil)
                    + ", go where the socket's last reference goes: not in this close, which released nothing"
            } else {
                line = Self.carriedLine(carried, by: "it", when: "as this close returns")
            }
            writeWrapped([paint(line, Self.dim)], separator: " ", continuation: "  ")
        }
        let userChain = Self.userChain(call)
        if let activity = call.kernel {
            kernelLines(activity, userChain: userChain, failure: call.result?.errno.map { ErrnoName.name(Int($0)) ?? String($0) },
                        architecture: call.architecture)
            if let graph = activity.functionGraph { graphLines(graph, activity: activity) }
        } else if call.functions != nil {
            writeWrapped(["↳ in " + (userChain.first ?? "")] + userChain.dropFirst(), separator: " → ", colour: "\u{1B}[2m")
        }
        if let paired = connections.observe(call) { connectionLine(paired) }
    }

    func render(_ sample: KernelSample) {
        // A traced task's hit is under its own name (the timeline followed its execs).
        lines.begin(sample.tid, leader: leader(sample.tid, at: sample.time, task: sample.inTracedTask == nil ? sample.task : nil))
        // A chain's frames and alignment follow, as a call's would, and its
        // `flow:` line says whose it was (audits 19 and 20: hidden); an
        // event's stack with --event-stacks, as any event's.
        let withStack = sample.role == .chain && !sample.chain.isEmpty
        var text = "kernel " + sample.heading
        if let task = sample.task {
            // Work for a traced connection outside the calls that hold
            // theirs (another task, or a traced one between its calls).
            if let context = sample.inTracedTask {
                text += " (in this traced thread, \(context), on CPU \(sample.cpu))"
            } else {
                text += " (outside the traced tasks: \(task) on CPU \(sample.cpu))"
            }
        } else if let context = sample.inTracedTask, KernelCorrelator.isInAbandonedCall(context) {
            // In a call its thread ended in (audit 80 F1: "between its calls").
            text += " (in this traced thread, \(context))"
        } else if withStack, let context = sample.inTracedTask, context.hasPrefix(sample.outsideCallsContext + ":") {
            // At a stop, with what more is known there (a held file's
            // release as the call holding it returned, FileRelease).
            text += " (in this traced thread, \(context))"
        } else if withStack, let side = sample.atSyscallStop {
            // Work an interrupt ran while the thread was held for the tracer
            // at a call's entry (seccomp's or PTRACE_SYSCALL's stop), before
            // the kernel began the call, or at its exit stop, after the
            // kernel ended it: the same words whether the tracer counted the
            // stop in the call (a stop it kept) or not (a call the kernel
            // records, timed from its sys_enter). Audit 64 M1: one was
            // "between its calls", the other "during a call"; audit 62 O2.
            text += (side == .entry ? " (in this traced thread, at a call's entry stop, before the kernel began the call"
                                    : " (in this traced thread, at a call's exit stop, after the kernel ended the call")
                + (sample.flow?.owner == .otherFlow && sample.inTracedTask == nil ? ": another connection's than that call's)" : ")")
        } else if let flow = sample.flow, sample.inTracedTask != nil {
            // Softirq work run in this thread between its calls: a traced
            // socket's packet, or one not known to be (never said to be the
            // thread's, audit 11).
            text += withStack ? " (" + sample.timelinePlace + ")" : " (" + flow.evidence + ")"
        } else if let flow = sample.flow {
            // Taken out of the call it was sampled in.
            text += !withStack ? " (during a call: " + flow.description + ")"
                : flow.owner == .otherFlow ? " (during a call, taken out of it: another connection's work)" : " (during a call)"
        } else if withStack {
            // A traced thread's own work between its calls whose flow is not
            // told (a FIN a file's release sent as an untraced call
            // returned): said where it was, as the rest (audit 72 c).
            text += " (" + sample.timelinePlace + ")"
        }
        lines.write(paint(text, "\u{1B}[2m"))
        lines.end()
        guard withStack else { return eventStack(sample) }
        kernelLines(KernelActivity(operation: nil, source: .observed, expected: [], samples: [sample], alignments: sample.alignments ?? []),
                    outsideCalls: true)
    }

    func render(_ event: FunctionEvent) {
        lines.begin(event.tid, leader: leader(event.tid, at: event.time))
        let indent = String(repeating: "  ", count: event.depth)
        switch event.kind {
        case .entry:
            lines.write(indent + paint("→ " + event.text, "\u{1B}[36m"))
        case .exit:
            var text = "← " + event.text
            if options.showDuration, let duration = event.duration { text += "  <" + Self.duration(duration) + ">" }
            lines.write(indent + paint(text, "\u{1B}[36m"))
        }
        lines.end()
    }

    /// The user side of a call's chain, outermost first, ending in the call:
    /// the traced functions it was made in (`--functions`), else the named
    /// frames of its stack from `main` on (`-k`).
    static func userChain(_ call: SyscallInvocation) -> [String] {
        if let functions = call.functions { return functions + [call.name] }
        return (call.userStack ?? []).fromMain.compactMap(\.function)
    }

    func handle(_ event: ProcessEvent) {
        let tid = event.tid
        pids[tid] = event.pid
        if let name = event.name, event.kind != .exited, event.kind != .killed { names[event.pid] = name }
        if colours[event.pid] == nil { colours[event.pid] = Self.palette[colours.count % Self.palette.count] }
        switch event.kind {
        case .attached:
            note(event, "attached")
        case .started:
            if tid != event.pid {
                note(event, "thread started")
            } else if let parent = event.parent {
                note(event, "forked from \(parent)")
            }
        case .signal:
            guard let info = event.signalInfo else { return }
            note(event, "--- " + SignalName.name(info.signal) + " " + info.straceText + " ---")
        case .stopped:
            note(event, "--- stopped by " + SignalName.name(event.signal ?? 0) + " ---")
        case .exec:
            note(event, "exec " + abbreviated(event.command ?? [event.name ?? "?"]))
            if let carried = event.releasedInMessages {
                writeWrapped([paint(Self.carriedLine(carried, by: "the last references to the UNIX sockets its close-on-exec descriptors held,",
                                                     when: "as the exec ran"), Self.dim)], separator: " ", continuation: "  ")
            }
        case .exited:
            note(event, "+++ exited with \(event.status ?? 0) +++")
            releaseLines(event)
        case .killed:
            note(event, "+++ killed by " + SignalName.name(event.signal ?? 0) + (event.coreDumped == true ? " (core dumped)" : "") + " +++")
            releaseLines(event)
        case .detached:
            note(event, "detached")
        case .personality:
            note(event, "runs in \(event.architecture == .i386 ? 32 : 64)-bit mode")
        }
    }

    /// Under a process's end: the sockets it released and what their
    /// release did in the kernel, sampled from its exit stop on (the
    /// exit's frames, do_exit → task_work_run → __fput → …, aligned with
    /// the close operation); without a capture, that it is not observed.
    func releaseLines(_ event: ProcessEvent) {
        guard event.releasedSockets != nil || event.perhapsReleasedSockets != nil else { return }
        func named(_ sockets: [SocketSnapshot]) -> String {
            sockets.map { socket in
                // fd -1: its descriptor was closed while a call of a thread the exit ended held it.
                (socket.fd >= 0 ? "\(socket.fd)" : "") + "<\(socket.protocolLabel)" + (socket.local.map { " \($0)" } ?? "")
                    + (socket.peer.map { "->\($0)" } ?? "") + ">" + (socket.fd >= 0 ? "" : " (its last descriptor closed while a call the exit ended held it)")
            }.joined(separator: ", ")
        }
        // Sockets held besides only by SCM_RIGHTS references a receive may
        // have closed: perhaps released here, said so (audit 76 F1).
        let perhaps = event.perhapsReleasedSockets.map {
            "perhaps also " + named($0) + " (held besides only by SCM_RIGHTS messages a receive with no room for their descriptors may have taken)"
        }
        // Those only SCM_RIGHTS messages waiting at a released UNIX socket
        // held: the kernel drops the messages with it (audit 77 F2).
        let carried = event.releasedInMessages ?? []
        let waitingAt = { (fd: Int32) in event.releasedSockets?.first { $0.fd == fd }.map { named([$0]) } ?? "\(fd)" }
        let alsoCarried = carried.contains { !$0.perhapsEarlier }
            ? "with them " + Self.carriedText(carried.filter { !$0.perhapsEarlier }, waitingAt: waitingAt) : nil
        let perhapsCarried = carried.contains(where: \.perhapsEarlier)
            ? "perhaps also " + Self.carriedText(carried.filter(\.perhapsEarlier), waitingAt: waitingAt) : nil
        let sockets = [event.releasedSockets.map(named), alsoCarried, perhaps, perhapsCarried].compactMap { $0 }.joined(separator: "; ")
        guard let activity = event.exitKernel else {
            // Files older than 1.13 give no reason: the kernel stops sampling an exiting task's own events before its files go.
            let why = event.exitNotObserved ?? "the kernel detaches an exiting task's perf events before it lets go of its files"
            writeWrapped([paint("↳ released by the exit: \(sockets); what their release sends (a FIN) is not observed: " + why, Self.dim)],
                         separator: " ", continuation: "  ")
            return
        }
        let from = event.exitCaptureOpened.map { $0 == "at the exit stop" ? "from their exit stop on" : "from the moment " + $0.dropFirst("when ".count) + " on" }
            ?? "from their exit stop on"
        if activity.samples.isEmpty {
            writeWrapped([paint("↳ released by the exit: \(sockets); sampled on the exiting threads \(from): "
                + "nothing was sent, no state changed" + (activity.operation.map { " (\($0))" } ?? ""), Self.dim)],
                         separator: " ", continuation: "  ")
            return
        }
        // When it ran: the exit's end, this line's time, is seen later
        // (audit 95 F4: a release 3.3 ms before it read as after the peer's
        // state change it set off, written above).
        let times = activity.samples.map(\.time)
        var when = ""
        if let first = times.min(), let last = times.max(), let origin = start, first >= origin {
            func at(_ time: MonotonicTime) -> String { formatSeconds(Double(time.nanoseconds - origin.nanoseconds) / 1e9).trimmingCharacters(in: .whitespaces) }
            when = first == last ? " at \(at(first))" : " from \(at(first)) to \(at(last))"
            if first < event.time { when += ", before the exit's end (this line's time)" }
        }
        writeWrapped([paint("↳ released by the exit: \(sockets); their release, sampled on the exiting threads \(from)\(when)"
            + (activity.operation.map { " (\($0))" } ?? "") + ":", Self.dim)], separator: " ", continuation: "  ")
        kernelLines(activity, entry: "exit")
    }

    /// Sockets released with a UNIX socket whose queue held their last
    /// reference (`CarriedSocket`): "<TCP a->b> (its last reference was in
    /// an SCM_RIGHTS message waiting at 3<UNIX>, which the kernel drops
    /// with it)". `waitingAt` names that socket's descriptor; nil: the
    /// sockets' names alone (a close's own queue).
    static func carriedText(_ carried: [CarriedSocket], waitingAt: ((Int32) -> String)?) -> String {
        carried.map { carried in
            let socket = carried.socket
            let name = "<\(socket.protocolLabel)" + (socket.local.map { " \($0)" } ?? "") + (socket.peer.map { "->\($0)" } ?? "") + ">"
            let unless = "unless a receive with no room for its descriptors took that message earlier (it was then released where its last reference went)"
            guard let waitingAt else { return name }
            let at = carried.waitingAt.map(waitingAt) ?? "a socket released with it"
            return name + " (its last reference was in an SCM_RIGHTS message waiting at \(at), which the kernel drops with it"
                + (carried.perhapsEarlier ? ", \(unless))" : ")")
        }.joined(separator: ", ")
    }

    /// "↳ with `released` the kernel drops the SCM_RIGHTS messages waiting
    /// at it, and with them the last reference to <TCP a->b>: released
    /// too, `when`"; a message a receive may have taken before, "perhaps".
    static func carriedLine(_ carried: [CarriedSocket], by released: String, when: String) -> String {
        let sure = carried.filter { !$0.perhapsEarlier }, perhaps = carried.filter(\.perhapsEarlier)
        var parts: [String] = []
        if !sure.isEmpty { parts.append("the last reference to " + carriedText(sure, waitingAt: nil) + ": released too, \(when)") }
        if !perhaps.isEmpty {
            parts.append("perhaps the last reference to " + perhaps.map { carriedText([$0], waitingAt: nil) }.joined(separator: ", ")
                + " (a receive with no room for its descriptors may have taken that message earlier: it was then released where its "
                + "last reference went): perhaps released too, \(when)")
        }
        return "↳ with \(released) the kernel drops the SCM_RIGHTS messages waiting there, and with them " + parts.joined(separator: "; ")
    }

    /// A command line as strace shortens execve's arguments: each but the
    /// program cut at the string limit (`...`), the list at the array limit
    /// (a 1 MB argv is one line of a few kilobytes).
    func abbreviated(_ command: [String]) -> String {
        Self.abbreviated(command, stringLimit: options.stringLimit, arrayLimit: options.arrayLimit)
    }

    static func abbreviated(_ command: [String], stringLimit: Int = 32, arrayLimit: Int = 32) -> String {
        // The program (argv[0]) in full, as strace prints execve's path.
        var parts = command.prefix(arrayLimit).enumerated().map { index, argument in
            index > 0 && argument.count > stringLimit ? String(argument.prefix(stringLimit)) + "..." : argument
        }
        if command.count > arrayLimit { parts.append("... (\(command.count - arrayLimit) more)") }
        return parts.joined(separator: " ")
    }

    func note(_ event: ProcessEvent, _ text: String) {
        lines.begin(event.tid, leader: leader(event.tid, at: event.time))
        lines.write(paint(text, "\u{1B}[2m"))
        lines.end()
    }

    /// The indent under a call's line where its kernel activity goes.
    var kernelIndent: String { Self.kernelIndentText }
    static let kernelIndentText = String(repeating: " ", count: 35)

    /// No space at either end, none doubled: the words of `text` joined
    /// by single spaces are `text` itself.
    static func singleSpaced(_ text: String) -> Bool {
        var previous: UInt8 = 0x20
        for byte in text.utf8 {
            if byte == 0x20 && previous == 0x20 { return false }
            previous = byte
        }
        return previous != 0x20
    }

    /// Words of `text` (split at single spaces) under a call, wrapped as
    /// `writeWrapped` wraps them; a line that fits is written as it is,
    /// without being taken apart (most are: a timeline writes several
    /// for every call).
    func writeWords(_ text: String, continuation: String = "", colour: String? = nil) {
        let plain = Self.singleSpaced(text)
        if plain && (options.width.map { Self.kernelIndentText.count + Self.visibleWidth(text) <= $0 } ?? true) {
            put(Self.kernelIndentText + (colour.map { paint(text, $0) } ?? text) + "\n")
            return
        }
        writeWrapped(text.split(separator: " ").map(String.init), separator: " ", continuation: continuation, colour: colour)
    }

    /// Parts joined by `separator` under a call, broken into lines that fit
    /// the terminal (parts are kept whole; colour codes take no columns).
    func writeWrapped(_ parts: [String], separator: String, extraIndent: String = "", continuation: String = "", colour: String? = nil) {
        var indent = kernelIndent + extraIndent
        let painted = { (text: String) in colour.map { self.paint(text, $0) } ?? text }
        guard let width = options.width, width > indent.count + 20 else {
            put(indent + painted(parts.joined(separator: separator)) + "\n")
            return
        }
        var line = ""
        var columns = 0
        for (index, part) in parts.enumerated() {
            let visible = Self.visibleWidth(part) + (index == 0 ? 0 : separator.count)
            if columns > 0 && indent.count + columns + visible > width {
                put(indent + painted(line) + "\n")
                indent = kernelIndent + extraIndent + continuation
                line = ""
                columns = 0
            }
            let piece = (index == 0 ? "" : (columns == 0 ? separator.trimmingCharacters(in: .whitespaces) + " " : separator)) + part
            line += piece
            columns += Self.visibleWidth(piece)
        }
        if !line.isEmpty { put(indent + painted(line) + "\n") }
    }

    /// Writes `text`, or collects it while `annotated` captures.
    func put(_ text: String) {
        if captured != nil { captured! += text } else { output.write(text) }
    }

    /// Columns a string takes on screen, ANSI colour sequences left out.
    static func visibleWidth(_ text: String) -> Int {
        var count = 0
        var inEscape = false
        for character in text {
            if character == "\u{1B}" { inEscape = true; continue }
            if inEscape { if character == "m" { inEscape = false }; continue }
            count += 1
        }
        return count
    }

    /// Said under whichever of connect and accept finished second.
    func connectionLine(_ connection: Connection) {
        var text = "↳ connection \(connection.title)"
        if let client = connection.clientPid, let server = connection.serverPid {
            text += ": \(processName(client))[\(client)] → \(processName(server))[\(server)]"
        }
        text += Self.handshakeText(connection, separator: ", ")
        output.write(kernelIndent + paint(text, "\u{1B}[36m") + "\n")
    }

    public func flush() { output.flush() }

    /// The tracer was idle at `time`, everything before it handed over: a
    /// call running past the hold limit by then is written unfinished
    /// while it waits (`TimelineOrder.tick`).
    public func caughtUp(to time: MonotonicTime) { write(order.tick(time)) }

    /// The time from connect's entry to accept's return, named so (audit
    /// 26 F3: "handshake 58 ms" read as the kernel's, which took 125 µs),
    /// and the kernel's handshake when its state changes were sampled.
    static func handshakeText(_ connection: Connection, separator: String) -> String {
        var text = ""
        if let handshake = connection.handshake { text += separator + "\(connection.openedBy) → accept " + duration(handshake) }
        if let kernel = connection.kernelHandshake { text += separator + "kernel handshake (\(connection.kernelHandshakeStart) → ESTABLISHED) " + duration(kernel) }
        return text
    }

    /// Bytes each way as the traced ends' calls moved them: an end no
    /// traced program holds is said to be untraced, not to have moved
    /// nothing (audit 14: "server received 0 B" of an untraced echo server);
    /// an untraced server only where the client's calls showed the
    /// connection made, and none where a traced program listened.
    public static func bytesLine(_ connection: Connection) -> String {
        bytes(connection) + (connection.aborted.map { "; ended by the kernel: \($0)" } ?? "")
    }

    static func bytes(_ connection: Connection) -> String {
        // No server: a reset answered the SYN.
        if let refused = connection.refused, connection.serverPid == nil, connection.receivedByClient == 0 {
            return "refused (\(refused)): no connection"
        }
        if let timedOut = connection.timedOut, connection.serverPid == nil, connection.receivedByClient == 0 {
            return "timed out (\(timedOut)): no connection"
        }
        switch (connection.clientPid != nil, connection.serverPid != nil) {
        case (true, false):
            let bytes = "client sent \(connection.sentByClient) B, received \(connection.receivedByClient) B"
            // Said of the server only what the trace shows (audit 17).
            if connection.tracedListener == true { return bytes + " (a traced program listened there; it accepted none of this)" }
            // Bytes sent say nothing alone (Fast Open's go in the SYN); bytes received do.
            if connection.established == true || connection.receivedByClient > 0 {
                return bytes + " (server not traced)"
            }
            return bytes + " (not seen established; no traced program accepted it)"
        case (false, true):
            return "server sent \(connection.sentByServer) B, received \(connection.receivedByServer) B (client not traced)"
        default:
            return "client sent \(connection.sentByClient) B (server received \(connection.receivedByServer) B"
                + unrecorded(received: connection.receivedByServer, sent: connection.sentByClient, end: "client's")
                + "), server sent \(connection.sentByServer) B (client received \(connection.receivedByClient) B"
                + unrecorded(received: connection.receivedByClient, sent: connection.sentByServer, end: "server's") + ")"
        }
    }

    /// When one end received more than the other's traced calls sent, what
    /// the difference is (audit 100 F4: "client sent 0 B (server received
    /// 30 B)" of a socket passed to a task not traced, which sent them).
    static func unrecorded(received: Int64, sent: Int64, end: String) -> String {
        guard received > sent else { return "" }
        return "; \(received - sent) B of them sent by no call the trace counts: a task not traced holding the \(end) socket, io_uring, or a call not recorded"
    }

    /// What a connection summary's counts leave out, when `-e` chose the calls.
    public static func selectionNote(_ selection: [String]) -> String {
        selection.isEmpty ? "" : " (bytes of the traced calls only: " + selection.map { "-e \($0)" }.joined(separator: " ") + ")"
    }

    public func finish() {
        write(order.finish())
        lines.closeOpenLine()
        let paired = connections.connections.filter(\.isTraced)
        if !paired.isEmpty {
            output.write("\nconnections:" + Self.selectionNote(options.selection) + "\n")
            for connection in paired {
                var text = "  #\(connection.id) \(connection.title)"
                text += Self.handshakeText(connection, separator: "  ")
                text += "  " + Self.bytesLine(connection)
                output.write(text + "\n")
            }
        }
        output.flush()
    }
}
