import Dispatch
import Foundation
import Glibc

/// One line of the function_graph tracer's text (`trace_pipe`), with the
/// options this run sets (funcgraph-abstime, -proc, -tail):
///
///     26.415785 |   1)   server-270   |               |          tcp_sendmsg() {
///     26.423264 |   1)   server-270   | + 21.928 us   |                                        loopback_xmit();
///     26.426101 |   1)   server-270   | * 10316.22 us |          } /* tcp_sendmsg */
public struct FunctionGraphLine: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `f() {`: entered, its return comes later.
        case entry
        /// `f();`: entered and returned, nothing it called was recorded.
        case leaf
        /// `} /* f */`: returned.
        case exit
    }

    public let kind: Kind
    /// `""` for an exit without funcgraph-tail's comment.
    public let function: String
    public let depth: Int
    public let time: MonotonicTime
    public let cpu: Int
    public let tid: Int32
    /// Nanoseconds, on leaves and exits.
    public let duration: UInt64?

    /// A line of the trace, or nil for headers, context switches (`=>`),
    /// comments and anything else.
    public static func parse(_ line: Substring) -> FunctionGraphLine? {
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBufferPointer { parse($0) }
    }

    static let bar = UInt8(ascii: "|"), space = UInt8(ascii: " "), dot = UInt8(ascii: ".")

    /// A range of a line's bytes (no generics and no slices: a trace holds
    /// thousands of lines per call, and debug builds do not specialise).
    struct Span {
        var from: Int
        var to: Int
        var isEmpty: Bool { from >= to }
        var count: Int { to - from }
    }

    /// The same from the line's bytes (no newline).
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> FunctionGraphLine? {
        guard let p = line.baseAddress else { return nil }
        let n = line.count
        // TIME | CPU) TASK-TID | DURATION | FUNCTION (a task's name may hold a `|`).
        var first = 0
        while first < n && p[first] != bar { first += 1 }
        var last = n - 1
        while last > first && p[last] != bar { last -= 1 }
        var secondLast = last - 1
        while secondLast > first && p[secondLast] != bar { secondLast -= 1 }
        guard first < n, last > first, secondLast > first, let time = abstime(p, Span(from: 0, to: first)) else { return nil }
        var close = first + 1
        while close < secondLast && p[close] != UInt8(ascii: ")") { close += 1 }
        guard close < secondLast, let cpu = number(p, trimmed(p, Span(from: first + 1, to: close))) else { return nil }
        let task = trimmed(p, Span(from: close + 1, to: secondLast))
        var dash = task.to - 1
        while dash > task.from && p[dash] != UInt8(ascii: "-") { dash -= 1 }
        guard dash > task.from, let tid = number(p, Span(from: dash + 1, to: task.to)) else { return nil }
        let duration = Self.duration(p, Span(from: secondLast + 1, to: last))
        var bodyStart = last + 1
        while bodyStart < n && p[bodyStart] == space { bodyStart += 1 }
        let depth = max(0, (bodyStart - last - 1 - 2) / 2)
        let body = trimmed(p, Span(from: bodyStart, to: n))
        guard !body.isEmpty else { return nil }
        if p[body.from] == UInt8(ascii: "}") {
            var name = ""
            // `} /* f */`
            if let open = find(p, body, 0x2f, 0x2a), let end = find(p, Span(from: open + 2, to: body.to), 0x2a, 0x2f) {
                name = baseName(p, Span(from: open + 2, to: end))
            }
            return FunctionGraphLine(kind: .exit, function: name, depth: depth, time: time, cpu: cpu, tid: Int32(tid), duration: duration)
        }
        if body.count > 4 && p[body.to - 4] == UInt8(ascii: "(") && p[body.to - 3] == UInt8(ascii: ")")
            && p[body.to - 2] == space && p[body.to - 1] == UInt8(ascii: "{") {
            return FunctionGraphLine(kind: .entry, function: baseName(p, Span(from: body.from, to: body.to - 4)), depth: depth, time: time,
                                     cpu: cpu, tid: Int32(tid), duration: nil)
        }
        if body.count > 3 && p[body.to - 3] == UInt8(ascii: "(") && p[body.to - 2] == UInt8(ascii: ")") && p[body.to - 1] == UInt8(ascii: ";") {
            return FunctionGraphLine(kind: .leaf, function: baseName(p, Span(from: body.from, to: body.to - 3)), depth: depth, time: time,
                                     cpu: cpu, tid: Int32(tid), duration: duration)
        }
        return nil
    }

    static func trimmed(_ p: UnsafePointer<UInt8>, _ span: Span) -> Span {
        var span = span
        while span.from < span.to && p[span.from] == space { span.from += 1 }
        while span.to > span.from && p[span.to - 1] == space { span.to -= 1 }
        return span
    }

    static func number(_ p: UnsafePointer<UInt8>, _ span: Span) -> Int? {
        guard !span.isEmpty, span.count <= 18 else { return nil }
        var value = 0
        var at = span.from
        while at < span.to {
            let digit = p[at]
            guard digit >= 0x30 && digit <= 0x39 else { return nil }
            value = value * 10 + Int(digit - 0x30)
            at += 1
        }
        return value
    }

    /// Where the two bytes `a b` first are in the span.
    static func find(_ p: UnsafePointer<UInt8>, _ span: Span, _ a: UInt8, _ b: UInt8) -> Int? {
        var at = span.from
        while at + 1 < span.to {
            if p[at] == a && p[at + 1] == b { return at }
            at += 1
        }
        return nil
    }

    /// `ovl_flush [overlay]` → `ovl_flush`: a module's function, by its name.
    static func baseName(_ p: UnsafePointer<UInt8>, _ span: Span) -> String {
        var name = trimmed(p, span)
        if let bracket = find(p, name, space, UInt8(ascii: "[")) { name.to = bracket }
        return String(decoding: UnsafeBufferPointer(start: p + name.from, count: name.count), as: UTF8.self)
    }

    /// `   26.415785 ` (seconds, microseconds) as nanoseconds.
    static func abstime(_ p: UnsafePointer<UInt8>, _ field: Span) -> MonotonicTime? {
        let text = trimmed(p, field)
        var point = text.from
        while point < text.to && p[point] != dot { point += 1 }
        let fraction = Span(from: point + 1, to: text.to)
        guard point < text.to, let seconds = number(p, Span(from: text.from, to: point)), !fraction.isEmpty, fraction.count <= 9,
              var nanos = number(p, fraction) else { return nil }
        for _ in fraction.count..<9 { nanos *= 10 }
        return MonotonicTime(nanoseconds: UInt64(seconds) * 1_000_000_000 + UInt64(nanos))
    }

    /// `+ 21.928 us`, `* 10316.22 us`, `$ 3000000 us` (the marks say how
    /// long, by threshold) as nanoseconds; nil for an empty column.
    static func duration(_ p: UnsafePointer<UInt8>, _ field: Span) -> UInt64? {
        var text = trimmed(p, field)
        while text.from < text.to, [0x2b, 0x21, 0x23, 0x2a, 0x40, 0x24].contains(p[text.from]) { text = trimmed(p, Span(from: text.from + 1, to: text.to)) }
        guard text.count > 3, p[text.to - 3] == space, p[text.to - 2] == UInt8(ascii: "u"), p[text.to - 1] == UInt8(ascii: "s") else { return nil }
        let value = Span(from: text.from, to: text.to - 3)
        var point = value.from
        while point < value.to && p[point] != dot { point += 1 }
        guard let micros = number(p, Span(from: value.from, to: point)) else { return nil }
        var nanos = 0
        if point < value.to {
            let digits = Span(from: point + 1, to: min(point + 4, value.to))
            if !digits.isEmpty {
                guard let parsed = number(p, digits) else { return nil }
                nanos = parsed * [1, 100, 10, 1][digits.count]
            }
        }
        return UInt64(micros) * 1000 + UInt64(nanos)
    }

    static func abstime(_ field: Substring) -> MonotonicTime? {
        Array(field.utf8).withUnsafeBufferPointer { abstime($0.baseAddress!, Span(from: 0, to: $0.count)) }
    }

    static func duration(_ field: Substring) -> UInt64? {
        Array(field.utf8).withUnsafeBufferPointer { duration($0.baseAddress!, Span(from: 0, to: $0.count)) }
    }
}

/// Builds each traced thread's graphs from the tracer's lines: a graph
/// begins at a depth-0 entry (a syscall's entry function, the only
/// functions `set_graph_function` lets begin one) and ends at its return.
/// Depths come from the lines themselves (the kernel records each entry's
/// depth in the task's own call stack), so a thread's lines may come from
/// several CPUs.
public struct FunctionGraphAssembler: @unchecked Sendable {
    /// A class: a graph grows a call at a time, in place.
    final class Building {
        var graph: FunctionGraph
        var open: [Int] = []

        init(maxDepth: Int) { graph = FunctionGraph(calls: [], maxDepth: maxDepth) }
    }

    let maxDepth: Int
    let callLimit: Int
    var building: [Int32: Building] = [:]
    /// Finished graphs by thread, oldest first (at most `keptPerThread`: the output may lag the calls by a few hundred).
    var finished: [Int32: [FunctionGraph]] = [:]
    static let keptPerThread = 512
    /// `[LOST N EVENTS]` lines seen.
    public private(set) var lostEvents = 0

    public init(maxDepth: Int, callLimit: Int = 20_000) {
        self.maxDepth = maxDepth
        self.callLimit = callLimit
    }

    public mutating func add(text: Substring) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { add(lines: $0) }
    }

    /// Whole lines, each ending with a newline (a last one without is taken too).
    mutating func add(lines bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && p[end] != 0x0a { end += 1 }
            let line = UnsafeBufferPointer(start: p + start, count: end - start)
            let span = FunctionGraphLine.Span(from: start, to: end)
            start = end + 1
            if let parsed = FunctionGraphLine.parse(line) {
                add(parsed)
            } else if let lost = FunctionGraphLine.find(p, span, UInt8(ascii: "["), UInt8(ascii: "L")) {
                // `CPU:1 [LOST 123 EVENTS]`: which thread's is unknown.
                var digits = FunctionGraphLine.Span(from: lost + 6, to: lost + 6)
                while digits.to < span.to && p[digits.to] >= 0x30 && p[digits.to] <= 0x39 { digits.to += 1 }
                lostEvents += FunctionGraphLine.number(p, digits) ?? 1
                for current in building.values { current.graph.lost = true }
            }
        }
    }

    public mutating func add(_ line: FunctionGraphLine) {
        switch line.kind {
        case .entry, .leaf:
            if line.depth == 0 {
                if let unfinished = building.removeValue(forKey: line.tid) { finish(unfinished.graph, tid: line.tid) }
                building[line.tid] = Building(maxDepth: maxDepth)
            }
            // Below a graph begun before tracing did: nothing to hang it on.
            guard let current = building[line.tid] else { return }
            // A deeper line than the open calls allow: frames the tracer does
            // not record (an interrupt's, funcgraph-irqs off) sit between.
            if current.open.count > line.depth { current.open.removeLast(current.open.count - line.depth) }
            if current.graph.calls.count >= callLimit {
                current.graph.omitted += 1
            } else {
                current.graph.calls.append(.init(function: line.function, depth: line.depth, time: line.time, duration: line.duration))
                if line.kind == .entry { current.open.append(current.graph.calls.count - 1) }
            }
            if line.depth == 0 && line.kind == .leaf {
                building[line.tid] = nil
                finish(current.graph, tid: line.tid)
            }
        case .exit:
            guard let current = building[line.tid] else { return }
            if current.open.count > line.depth + 1 { current.open.removeLast(current.open.count - line.depth - 1) }
            if current.open.count == line.depth + 1 {
                let index = current.open.removeLast()
                if line.function.isEmpty || current.graph.calls[index].function == line.function {
                    current.graph.calls[index].duration = line.duration
                }
            }
            if line.depth == 0 {
                building[line.tid] = nil
                finish(current.graph, tid: line.tid)
            }
        }
    }

    mutating func finish(_ graph: FunctionGraph, tid: Int32) {
        guard !graph.calls.isEmpty else { return }
        if finished[tid, default: []].count >= Self.keptPerThread { finished[tid]!.removeFirst() }
        finished[tid, default: []].append(graph)
    }

    /// The graph of the call on `tid` between `entry` and `exit`: its root
    /// was entered in between (the tracer's time is cut to microseconds, so
    /// up to 1 µs before `entry`). Earlier graphs of the thread (calls not
    /// shown) are dropped. A graph whose return was not seen yet is given
    /// as it is.
    public mutating func take(tid: Int32, entry: MonotonicTime, exit: MonotonicTime) -> FunctionGraph? {
        let earliest = entry.nanoseconds &- 1000
        var found: FunctionGraph?
        if var list = finished.removeValue(forKey: tid) {
            while let first = list.first, let root = first.calls.first, root.time.nanoseconds <= exit.nanoseconds {
                list.removeFirst()
                if found == nil && root.time.nanoseconds >= earliest { found = first }
            }
            finished[tid] = list.isEmpty ? nil : list
        }
        if found == nil, let current = building[tid], let root = current.graph.calls.first,
           root.time.nanoseconds >= earliest, root.time.nanoseconds <= exit.nanoseconds {
            found = current.graph
        }
        return found
    }
}

/// Reads `trace_pipe` (non-blocking): on a thread of its own while
/// tracing, which only moves the kernel's text into memory (so the
/// kernel's buffer does not fill while the tracer waits), and on the
/// tracer's thread before each call is given its graph (whose lines were
/// in the kernel's buffer before its exit stop), which also reads the text
/// into graphs. Each lock is held for little: a few reads, or the parse
/// of what was read.
final class FunctionGraphReader: @unchecked Sendable {
    let fd: Int32
    /// Held for `read` and for appending to `raw`, so the text stays in order.
    let pipeLock = NSLock()
    var raw: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var stopping = false
    /// Held while text is taken from `raw` and parsed.
    let parseLock = NSLock()
    var assembler: FunctionGraphAssembler
    /// A line cut by a read's end.
    var partial: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
    /// Text kept unparsed before the thread parses it itself.
    static let rawLimit = 8 << 20

    init(fd: Int32, assembler: FunctionGraphAssembler) {
        self.fd = fd
        self.assembler = assembler
    }

    func start() {
        let thread = Thread { [self] in
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while true {
                _ = poll(&request, 1, 50)
                pipeLock.lock()
                let stop = stopping
                if !stop { readAvailable(limit: 16) }
                let backlog = raw.count
                pipeLock.unlock()
                if stop { break }
                if backlog > Self.rawLimit { update() }
            }
            done.signal()
        }
        thread.name = "st-fgraph"
        thread.start()
    }

    /// Up to `limit` reads of what the kernel has (under `pipeLock`).
    func readAvailable(limit: Int) {
        var reads = 0
        while reads < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            raw.append(contentsOf: chunk[0..<count])
            reads += 1
        }
    }

    /// Everything the kernel has now, read and parsed into graphs.
    func update() {
        parseLock.lock()
        defer { parseLock.unlock() }
        pipeLock.lock()
        // What the kernel has (bounded, should a traced thread never stop producing).
        readAvailable(limit: 256)
        var text = raw
        raw = []
        pipeLock.unlock()
        guard text.contains(0x0a) else {
            partial += text
            return
        }
        if !partial.isEmpty {
            text = partial + text
            partial = []
        }
        let end = text.lastIndex(of: 0x0a)!
        partial = Array(text[(end + 1)...])
        text.withUnsafeBufferPointer { assembler.add(lines: UnsafeBufferPointer(rebasing: $0[..<end])) }
    }

    func take(tid: Int32, entry: MonotonicTime, exit: MonotonicTime) -> FunctionGraph? {
        update()
        parseLock.lock()
        defer { parseLock.unlock() }
        return assembler.take(tid: tid, entry: entry, exit: exit)
    }

    var lostEvents: Int {
        parseLock.lock()
        defer { parseLock.unlock() }
        return assembler.lostEvents
    }

    func stop() {
        pipeLock.lock()
        stopping = true
        pipeLock.unlock()
        done.wait()
    }
}

/// `--function-graph`: the kernel's function_graph tracer on the traced
/// threads (`set_ftrace_pid` with `function-fork`), each graph begun at a
/// traced syscall's entry function (`set_graph_function`), `max_graph_depth`
/// deep, stamped on CLOCK_MONOTONIC (`trace_clock` mono). It runs in a
/// tracefs instance of this run's own, `instances/sockettrace_PID`, where
/// the kernel allows the tracer in instances; Debian's 6.1 does not (an
/// instance's `available_tracers` is `function nop`), so there it runs in
/// the top level: one run at a time (`topLevelLock`, which the kernel
/// releases whenever the run ends), only when that is idle (`current_tracer`
/// nop), its settings written back at the end; the instance is made all
/// the same, to say which run holds the top level. At the end the
/// tracer is set to nop, the settings are put back and the instance is
/// removed; the next run removes the instance of a run that is gone (and,
/// if that run held the top level, resets it).
public final class FunctionGraphTracer: @unchecked Sendable {
    public static let tracerName = "function_graph"
    static let instancePrefix = "sockettrace_"

    let tracefs: Tracefs
    /// Whether `close` releases `tracefs` (no sampler shares it).
    let releasesTracefs: Bool
    public let maxDepth: Int
    let bufferKilobytes: Int
    let syscalls: [Syscall]
    /// This run's instance, once made.
    var instance: String?
    /// Where the tracer runs: the instance, or the top level.
    public private(set) var directory: String?
    /// The top level's settings this run changed, with their former values.
    var restore: [(file: String, value: String)] = []
    var reader: FunctionGraphReader?
    var pipe: Int32 = -1
    var closed = false
    /// The syscalls' entry functions the kernel took in `set_graph_function`.
    public private(set) var entryFunctions: [String] = []

    public init(tracefs: Tracefs, releasesTracefs: Bool, syscalls: [Syscall], maxDepth: Int = 20, bufferKilobytes: Int = 4096) {
        self.tracefs = tracefs
        self.releasesTracefs = releasesTracefs
        self.syscalls = syscalls
        self.maxDepth = maxDepth
        self.bufferKilobytes = bufferKilobytes
    }

    /// Why the kernel cannot give function graphs, or nil when it can.
    public static func unavailableReason(_ tracefs: Tracefs) -> String? {
        let path = tracefs.path + "/available_tracers"
        guard let text = ProcFile.text(path) else {
            return "this kernel has no ftrace tracers (no \(path))"
        }
        let tracers = text.split(whereSeparator: \.isWhitespace)
        if tracers.contains(Substring(tracerName)) { return nil }
        return "this kernel has no function_graph tracer (CONFIG_FUNCTION_GRAPH_TRACER is off; \(path): \(tracers.joined(separator: " ")))"
    }

    /// Traces `pid` (and, through function-fork, the tasks it creates from
    /// now on); the first call sets the tracer up.
    public func follow(_ pid: Int32) throws {
        guard !closed else { return }
        if let directory {
            try write(directory + "/set_ftrace_pid", String(pid), truncate: false)
            return
        }
        do {
            try start(pid)
        } catch {
            close()
            throw error
        }
    }

    /// Held (flock) by the run that uses the top level, released by the
    /// kernel when that run ends however it ends.
    static let topLevelLock = Tracefs.privateMounts + "/function-graph.lock"
    var lockFD: Int32 = -1

    /// The top level's lock, or a usage error naming the run that holds it.
    func lockTopLevel() throws {
        mkdir(Tracefs.privateMounts, 0o700)
        let fd = Glibc.open(Self.topLevelLock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw TraceError(operation: "--function-graph: opening \(Self.topLevelLock)", errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (ProcFile.text(Self.topLevelLock) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            Glibc.close(fd)
            throw TraceError(.usage, operation: "--function-graph: another sockettrace run (pid \(holder.isEmpty ? "?" : holder)) has the function_graph tracer, "
                + "which this kernel runs only in tracefs' top level")
        }
        ftruncate(fd, 0)
        let pid = String(getpid()) + "\n"
        _ = Glibc.write(fd, pid, pid.utf8.count)
        lockFD = fd
    }

    func start(_ pid: Int32) throws {
        // A kernel whose instances cannot run the tracer: one run at a time in the top level.
        let probe = "\(tracefs.path)/instances/\(Self.instancePrefix)\(getpid())"
        let instancesAllowGraph = mkdir(probe, 0o755) == 0 && Self.allowsGraph(probe)
        rmdir(probe)
        if !instancesAllowGraph { try lockTopLevel() }
        removeAbandoned()
        let instance = "\(tracefs.path)/instances/\(Self.instancePrefix)\(getpid())"
        if access(instance, F_OK) == 0 { rmdir(instance) }
        guard mkdir(instance, 0o755) == 0 else {
            throw TraceError(operation: "--function-graph: creating the tracefs instance \(instance)", errno: errno)
        }
        self.instance = instance
        let directory: String
        if Self.allowsGraph(instance) {
            directory = instance
        } else {
            directory = tracefs.path
            let current = (ProcFile.text(directory + "/current_tracer") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard current == "nop" else {
                throw TraceError(.usage, operation: "--function-graph: this kernel runs function_graph only in tracefs' top level (not in instances), "
                    + "and that is in use (\(directory)/current_tracer: \(current))")
            }
            for file in ["tracing_on", "max_graph_depth", "buffer_size_kb"] + Self.options.map({ "options/" + $0.name }) {
                if let value = ProcFile.text(directory + "/" + file)?.trimmingCharacters(in: .whitespacesAndNewlines) {
                    restore.append((file, Self.setting(value)))
                }
            }
            if let clock = ProcFile.text(directory + "/trace_clock"),
               let open = clock.firstIndex(of: "["), let end = clock.firstIndex(of: "]") {
                restore.append(("trace_clock", String(clock[clock.index(after: open)..<end])))
            }
        }
        self.directory = directory
        try write(directory + "/tracing_on", "0")
        try write(directory + "/set_ftrace_pid", String(pid))
        try write(directory + "/trace_clock", "mono")
        if access(directory + "/max_graph_depth", F_OK) == 0 { try write(directory + "/max_graph_depth", String(maxDepth)) }
        try write(directory + "/buffer_size_kb", String(bufferKilobytes))
        for option in Self.options { try write(directory + "/options/" + option.name, option.value ? "1" : "0") }
        entryFunctions = try setGraphFunctions(directory + "/set_graph_function")
        guard !entryFunctions.isEmpty else {
            throw TraceError(operation: "--function-graph: no entry function of the traced syscalls can begin a graph in this kernel")
        }
        try write(directory + "/current_tracer", Self.tracerName)
        pipe = Glibc.open(directory + "/trace_pipe", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard pipe >= 0 else { throw TraceError(operation: "--function-graph: opening \(directory)/trace_pipe", errno: errno) }
        let reader = FunctionGraphReader(fd: pipe, assembler: FunctionGraphAssembler(maxDepth: maxDepth))
        self.reader = reader
        reader.start()
        try write(directory + "/tracing_on", "1")
    }

    /// A setting as it can be written back: `7 (expanded: 1408)` (a buffer
    /// not yet grown to its size) is 1408.
    static func setting(_ value: String) -> String {
        if let expanded = value.range(of: "(expanded: ") {
            return String(value[expanded.upperBound...].prefix { $0.isNumber })
        }
        return value.split(separator: " ").first.map(String.init) ?? value
    }

    /// What each line must say: the task and its thread id, the time, the
    /// name of each function returned from; no hard interrupts' functions;
    /// children traced as they are created.
    static let options: [(name: String, value: Bool)] = [
        ("funcgraph-proc", true), ("funcgraph-abstime", true), ("funcgraph-tail", true), ("funcgraph-irqs", false),
        ("funcgraph-cpu", true), ("funcgraph-duration", true), ("funcgraph-overhead", true), ("function-fork", true),
    ]

    /// Whether an instance can run the graph tracer on its own functions.
    static func allowsGraph(_ instance: String) -> Bool {
        let tracers = ProcFile.text(instance + "/available_tracers") ?? ""
        return tracers.split(whereSeparator: \.isWhitespace).contains(Substring(tracerName))
            && access(instance + "/set_graph_function", F_OK) == 0
    }

    /// Every traced syscall's entry functions (x86-64 and i386) that the
    /// kernel has, written to `set_graph_function`; those it took.
    func setGraphFunctions(_ path: String) throws -> [String] {
        let fd = Glibc.open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw TraceError(operation: "--function-graph: opening \(path)", errno: errno) }
        defer { Glibc.close(fd) }
        var taken: [String] = []
        for syscall in syscalls.map(\.rawValue).sorted() {
            for name in ["__x64_sys_" + syscall, "__ia32_sys_" + syscall] {
                let line = name + "\n"
                if Glibc.write(fd, line, line.utf8.count) == line.utf8.count { taken.append(name) }
            }
        }
        return taken
    }

    func write(_ path: String, _ value: String, truncate: Bool = true) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND))
        guard fd >= 0 else { throw TraceError(operation: "--function-graph: opening \(path)", errno: errno) }
        defer { Glibc.close(fd) }
        let line = value + "\n"
        guard Glibc.write(fd, line, line.utf8.count) == line.utf8.count else {
            throw TraceError(operation: "--function-graph: writing '\(value)' to \(path)", errno: errno)
        }
    }

    /// The graph of a finished call (what the kernel had by its exit is read first).
    public func graph(for call: SyscallInvocation) -> FunctionGraph? {
        guard let reader, let exit = call.exitTime else { return nil }
        return reader.take(tid: call.tid, entry: call.entryTime, exit: exit)
    }

    /// How many events the kernel said it lost (its buffer was full).
    public var lostEvents: Int {
        reader?.lostEvents ?? 0
    }

    /// The instances of runs that are gone, removed; a top level such a run
    /// held (its instance cannot run the tracer) reset.
    func removeAbandoned() {
        let directory = tracefs.path + "/instances"
        guard let listing = opendir(directory) else { return }
        var stale: [String] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix(Self.instancePrefix), let pid = Int32(name.dropFirst(Self.instancePrefix.count)),
                  pid != getpid(), kill(pid, 0) != 0 && errno == ESRCH else { continue }
            stale.append(directory + "/" + name)
        }
        closedir(listing)
        for path in stale {
            let current = (ProcFile.text(tracefs.path + "/current_tracer") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if !Self.allowsGraph(path) && current == Self.tracerName {
                Self.reset(tracefs.path, restore: [("tracing_on", "1"), ("trace_clock", "local"), ("max_graph_depth", "0")]
                    + Self.options.map { ("options/" + $0.name, ["funcgraph-irqs", "funcgraph-cpu", "funcgraph-duration", "funcgraph-overhead"].contains($0.name) ? "1" : "0") })
            }
            rmdir(path)
        }
    }

    /// The tracer off, its filters emptied, `restore` written back.
    static func reset(_ directory: String, restore: [(file: String, value: String)]) {
        func put(_ file: String, _ value: String) {
            let fd = Glibc.open(directory + "/" + file, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else { return }
            let line = value + "\n"
            _ = Glibc.write(fd, line, value.isEmpty ? 0 : line.utf8.count)
            Glibc.close(fd)
        }
        put("tracing_on", "0")
        put("current_tracer", "nop")
        put("set_ftrace_pid", "")
        put("set_graph_function", "")
        for (file, value) in restore { put(file, value) }
    }

    /// Tracer off (nop), settings put back, the instance removed; the
    /// reader stops first (the kernel keeps the tracer while trace_pipe is open).
    public func close() {
        guard !closed else { return }
        closed = true
        reader?.stop()
        if pipe >= 0 { Glibc.close(pipe) }
        pipe = -1
        if let directory { Self.reset(directory, restore: directory == instance ? [] : restore) }
        if let instance { rmdir(instance) }
        if lockFD >= 0 { Glibc.close(lockFD) }
        lockFD = -1
        if releasesTracefs { tracefs.release() }
    }

    deinit { close() }
}
