import Dispatch
import Foundation
import Glibc

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
