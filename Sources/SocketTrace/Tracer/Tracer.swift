import CPtrace
import CSpawn
import Foundation
import Glibc

/// The ptrace engine: launches or attaches to programs, follows their
/// children and threads, stops them only on the syscalls that matter, decodes
/// those, passes every signal through, and reports it all to a sink.
///
/// All ptrace requests come from the thread that calls `launch`/`attach` and
/// `run`, as the kernel requires.
public final class Tracer {
    public let configuration: TracerConfiguration
    let sink: TraceSink

    var threads: [Int32: TracedThread] = [:]
    var processes: [Int32: TracedProcess] = [:]
    /// The launched program, whose exit status becomes the tracer's.
    var launchedPid: Int32?
    var launchedStatus: ExitStatus?
    var attachedMode = false
    var seccompActive = false
    /// Parents of children whose first stop came before the fork event.
    var pendingParents: [Int32: Int32] = [:]

    /// Kernel chains and events, when observation is on.
    let kernel: KernelObserver?

    /// Output waiting for a moment when no tracee waits for the tracer.
    var output = DeferredOutput()
    /// When the output last began reading the sampler's rings.
    var drainedAt = MonotonicTime(nanoseconds: 0)
    /// Calls let run to their exit, whose result the kernel's exit records give.
    var awaitedExits = AwaitedExits()
    /// How often an idle tracer looks for those records while it waits.
    static let awaitedExitPoll: Int32 = 20
    /// How often an idle tracer looks whether the kernel's symbols are read.
    static let symbolsPoll: Int32 = 2

    /// Whether the output may run: it names kernel frames, so not before the
    /// kernel's symbols are read (`KernelObserver.symbolsRead`).
    var outputCanRun: Bool { kernel?.symbolsRead ?? true }

    /// Unwinds user stacks for `-k`.
    let unwinder: UserStackUnwinder?

    /// Breakpoints on the program's own functions (`--functions`).
    let functionTracing: FunctionTracing?

    /// Where the tracer says what it could not do (a program whose
    /// functions cannot be read); the CLI prints it to stderr.
    public var diagnostic: ((String) -> Void)?

    public init(configuration: TracerConfiguration, sink: TraceSink, kernel: KernelObserver? = nil) {
        self.configuration = configuration
        self.sink = sink
        self.kernel = kernel
        unwinder = configuration.stackTraces == .off ? nil : UserStackUnwinder(withLines: configuration.stackTraces == .lines)
        functionTracing = configuration.functionPatterns.isEmpty ? nil : FunctionTracing(patterns: configuration.functionPatterns)
    }

    /// How the traced program ended.
    public enum ExitStatus: Sendable, Equatable {
        case exited(Int32)
        case killed(signal: Int32, coreDumped: Bool)

        /// What a shell reports: the code, or 128 + the signal.
        public var shellStatus: Int32 {
            switch self {
            case let .exited(code): code
            case let .killed(signal, _): 128 + signal
            }
        }
    }

    // MARK: starting

    /// Runs `arguments[0]` (found through PATH) under trace, stopped at
    /// nothing until `run` is called.
    public func launch(_ arguments: [String]) throws {
        guard let program = arguments.first else { throw TraceError(.usage, operation: "must have PROG [ARGS] or -p PID") }
        let path = try ProgramLocator.resolve(program)
        cs_install_interrupt_handlers()
        seccompActive = configuration.useSeccomp && configuration.followForks
        let launched = try ProgramLauncher.spawn(
            path: path, arguments: arguments,
            stopSyscalls: seccompActive ? configuration.stopSyscalls : nil, alsoStopAt: configuration.memoryMapCalls)
        var status: Int32 = 0
        guard cs_wait_pid(launched.pid, &status, false) == launched.pid, Stop(waitStatus: status).isStopped else {
            throw TraceError.system("waitpid", pid: launched.pid)
        }
        let options = cs_ptrace_option_flags(configuration.followForks, seccompActive, true)
        guard cs_ptrace_seize(launched.pid, options) == 0 else {
            let error = TraceError.system("PTRACE_SEIZE", pid: launched.pid)
            kill(launched.pid, SIGKILL)
            throw error
        }
        launchedPid = launched.pid
        do {
            try kernel?.follow(launched.pid)
        } catch {
            kill(launched.pid, SIGKILL)
            throw error
        }
        let process = TracedProcess(pid: launched.pid, table: DescriptorTable())
        let thread = addThread(launched.pid, process: process, starting: true)
        thread.hiddenSignal = SIGCONT
        emit(.process(processEvent(.started, tid: launched.pid, pid: launched.pid)))
        // The child is in group-stop from its own SIGSTOP; SIGCONT lets it exec.
        kill(launched.pid, SIGCONT)
        execErrorPipe = launched.execErrorPipe
    }

    var execErrorPipe: Int32 = -1

    /// Attaches to running processes and all their threads (PTRACE_SEIZE).
    /// They keep running; detaching leaves them as they were.
    public func attach(_ pids: [Int32]) throws {
        attachedMode = true
        seccompActive = false
        let options = cs_ptrace_option_flags(configuration.followForks, false, false)
        for pid in pids {
            guard kill(pid, 0) == 0 || errno == EPERM else {
                throw TraceError(operation: "attach: ptrace(PTRACE_SEIZE, \(pid))", errno: ESRCH)
            }
            let process = TracedProcess(pid: pid, table: DescriptorTable())
            let tids = Self.threadIDs(of: pid)
            for tid in tids.isEmpty ? [pid] : tids where threads[tid] == nil {
                guard cs_ptrace_seize(tid, options) == 0 else {
                    let code = errno
                    if tid == pid {
                        throw TraceError(operation: "attach: ptrace(PTRACE_SEIZE, \(pid))", errno: code)
                    }
                    continue
                }
                addThread(tid, process: process, starting: false)
                try kernel?.follow(tid)
                cs_ptrace_interrupt(tid)
                emit(.process(processEvent(.attached, tid: tid, pid: pid)))
            }
        }
    }

    /// The tracees' names (comm), read when they start or exec, so that
    /// events after they are gone still name them.
    var names: [Int32: String] = [:]

    /// An event about a tracee, with its current name.
    func processEvent(_ kind: ProcessEvent.Kind, tid: Int32, pid: Int32, parent: Int32? = nil) -> ProcessEvent {
        var event = ProcessEvent(kind, tid: tid, pid: pid)
        event.parent = parent
        if kind == .started || kind == .attached || kind == .exec || names[tid] == nil {
            names[tid] = Self.comm(of: tid)
        }
        event.name = names[tid]
        return event
    }

    static func comm(of tid: Int32) -> String {
        (ProcFile.text("/proc/\(tid)/comm") ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func commandLine(of pid: Int32) -> [String] {
        (ProcFile.text("/proc/\(pid)/cmdline") ?? "").split(separator: "\0").map(String.init)
    }

    static func threadIDs(of pid: Int32) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(directory) }
        var tids: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    @discardableResult
    func addThread(_ tid: Int32, process: TracedProcess, starting: Bool) -> TracedThread {
        let thread = TracedThread(tid: tid, process: process)
        thread.starting = starting
        threads[tid] = thread
        process.threads.insert(tid)
        processes[process.pid] = process
        return thread
    }

    // MARK: the loop

    /// Traces until every tracee is gone (or, after SIGINT/SIGTERM with `-p`,
    /// detached). Returns how the launched program ended, if one was launched.
    public func run() throws -> ExitStatus? {
        cs_install_interrupt_handlers()
        defer {
            // Left by an error: what was submitted is still written.
            performOutput(limit: .max)
        }
        var interrupts = 0
        while !threads.isEmpty {
            let signal = cs_take_interrupt_signal()
            if signal != 0 {
                interrupts += 1
                if attachedMode || interrupts > 1 {
                    detachAll()
                    break
                }
                // The launched program gets the signal too, as it would without us.
                if let pid = launchedPid { kill(pid, signal) }
            }
            if let stop = functionTracing?.stashed.first {
                functionTracing?.stashed.removeFirst()
                handle(tid: stop.tid, status: stop.status)
                continue
            }
            var status: Int32 = 0
            var tid = cs_wait_any(&status, true)
            let outputReady = outputCanRun
            while tid == 0 && !output.isEmpty && outputReady {
                // No tracee waits: write what waits, an item at a time, looking for stops between.
                performOutput(limit: 1)
                tid = cs_wait_any(&status, true)
            }
            if tid == 0 && !outputReady {
                // The output waits for the kernel's symbols; stops do not.
                tid = cs_wait_any_for(&status, Self.symbolsPoll)
                if tid == 0 { continue }
            }
            if tid == 0 {
                emitStrayKernelSamples()
                if !awaitedExits.isEmpty { submit(.settledExits) }
                submit(.flush)
                performOutput(limit: .max)
                // A call let run to its exit is written when the kernel's record
                // of it comes, not only at its thread's next stop.
                tid = awaitedExits.isEmpty ? cs_wait_any(&status, false) : cs_wait_any_for(&status, Self.awaitedExitPoll)
                if tid == 0 { continue }
            }
            if tid < 0 {
                if errno == EINTR { continue }
                if errno == ECHILD { break }
                throw TraceError.system("waitpid")
            }
            handle(tid: tid, status: status)
            checkExecError()
        }
        if !awaitedExits.isEmpty {
            // Every thread is gone or detached: this drain settles their calls.
            submit(.settledExits)
            performOutput(limit: .max)
            for call in awaitedExits.takeAll() { emit(.syscallAbandoned(call)) }
        }
        submit(.strayKernelSamples(before: [:], otherwise: nil))
        performOutput(limit: .max)
        kernel?.close()
        if let functionTracing, functionTracing.placed == 0, functionTracing.complaints.isEmpty {
            diagnostic?("--functions \(functionTracing.patterns.joined(separator: ",")): no function of the traced programs matches")
        }
        sink.finish()
        return launchedStatus
    }

    // MARK: kernel samples

    /// Queues output for the next moment no tracee waits (see
    /// `DeferredOutput`); a tracer that never has one writes in batches.
    func submit(_ item: DeferredOutput.Item) {
        output.append(item)
        if output.count > DeferredOutput.backlogLimit { performOutput(limit: DeferredOutput.backlogLimit / 4) }
    }

    /// Handles deferred output, oldest first, `limit` items at most.
    func performOutput(limit: Int) {
        var done = 0
        while done < limit, let item = output.popFirst() {
            performOutput(item)
            done += 1
        }
    }

    func emit(_ event: TraceEvent) { submit(.event(event)) }

    /// Everything that touches the sink, the sampler's rings and the
    /// correlator while tracing goes through here.
    func performOutput(_ item: DeferredOutput.Item) {
        switch item {
        case let .event(event):
            sink.handle(event)
        case var .finishedCall(call):
            attachKernelActivity(&call)
            sink.handle(.syscallExited(call))
        case let .strayKernelSamples(before, otherwise):
            guard let kernel, let sampler = kernel.sampler else { return }
            drainKernelSamples(sampler, into: kernel.correlator)
            for tid in kernel.correlator.waitingThreads {
                for sample in kernel.correlator.takeStray(tid: tid, before: before[tid] ?? otherwise) {
                    sink.handle(.kernelEvent(sample))
                }
            }
            for sample in kernel.correlator.takeBackground(upTo: otherwise) { sink.handle(.kernelEvent(sample)) }
        case let .awaitedExits(tid, seen):
            if awaitedExits.isWaiting(tid, seen: seen), let kernel, let sampler = kernel.sampler {
                drainKernelSamples(sampler, into: kernel.correlator)
            }
            for outcome in awaitedExits.takeSettled(of: tid, seen: seen) { performOutput(outcome) }
        case .settledExits:
            if let kernel, let sampler = kernel.sampler { drainKernelSamples(sampler, into: kernel.correlator) }
            for outcome in awaitedExits.takeSettled() { performOutput(outcome) }
        case .flush:
            sink.flush()
        }
    }

    func performOutput(_ outcome: AwaitedExits.Outcome) {
        switch outcome {
        case let .returned(call): performOutput(.finishedCall(returned(call)))
        case let .unknown(call): sink.handle(.syscallAbandoned(call))
        }
    }

    func drainKernelSamples(_ sampler: KernelSampler, into correlator: KernelCorrelator) {
        var paired = false
        repeat {
            drainedAt = .now()
            let drained = sampler.drain()
            // A probe sampled everywhere also hits untraced tasks: their hits
            // are kept only for traced flows.
            let (elsewhere, mine) = drained.samples.partitioned { $0.everywhere && threads[$0.tid] == nil }
            correlator.add(mine)
            if !elsewhere.isEmpty { correlator.addBackground(elsewhere) }
            // A call's samples on another CPU can reach their ring after this
            // drain read it and before its exit record reached its own: one
            // more drain, begun after the exit, has them all.
            paired = !awaitedExits.isEmpty && awaitedExits.match(drained.exits, drainBegan: drainedAt)
        } while paired
    }

    /// A call let run to its exit, with the result from the kernel's record.
    func returned(_ call: SyscallInvocation) -> SyscallInvocation {
        var call = call
        let context = DecodingContext(memory: MemoryImage(), architecture: call.architecture,
                                      options: configuration.decodeOptions)
        let text = SyscallDecoder(context).returnText(call)
        call.returnText = text
        if call.plainText != nil { call.plainText?.returnText = text }
        return call
    }

    /// Samples that no traced call can claim any more: taken while their
    /// thread was outside a traced call (up to now), or before its call began.
    func emitStrayKernelSamples() {
        guard kernel?.sampler != nil else { return }
        var before: [Int32: MonotonicTime] = [:]
        for (tid, thread) in threads {
            if let entry = awaitedExits.earliestEntry(of: tid) ?? thread.current?.entryTime { before[tid] = entry }
        }
        submit(.strayKernelSamples(before: before, otherwise: .now()))
    }

    /// The bytes sendmmsg or recvmmsg moved: the msg_len the kernel wrote
    /// into each of the `result` mmsghdrs (64 bytes each on x86-64, with
    /// msg_len after the 56-byte msghdr; 32 and 28 on i386).
    static func messageBytes(of call: SyscallInvocation, memory: any TraceeMemory) -> Int64? {
        guard [.sendmmsg, .recvmmsg, .recvmmsg_time64].contains(call.syscall), let result = call.result, !result.failed,
              result.value > 0 else { return nil }
        let (size, lengthOffset): (UInt64, UInt64) = call.architecture == .i386 ? (32, 28) : (64, 56)
        var total: Int64 = 0
        for index in 0..<UInt64(min(result.value, 1024)) {
            guard let length = memory.readUInt32(call.argument(1) + index * size + lengthOffset) else { return nil }
            total += Int64(length)
        }
        return total
    }

    /// How many descriptors of the traced processes, other than `fd` of
    /// `process`, refer to `socket` (dup, fork and SCM_RIGHTS copies alike:
    /// a received descriptor was looked up anew, so it is the same socket by
    /// its inode).
    func otherReferences(to socket: SocketInfo, besides fd: Int32, in process: TracedProcess) -> Int {
        var seen: Set<ObjectIdentifier> = []
        var count = 0
        for other in processes.values where seen.insert(ObjectIdentifier(other.table)).inserted {
            count += other.table.entries.filter { entry in
                let same = entry.value.socket === socket || (socket.inode != nil && entry.value.socket.inode == socket.inode)
                return same && !(other.table === process.table && entry.key == fd)
            }.count
        }
        return count
    }

    /// The socket a finished call acted on: the one it created or accepted,
    /// else its descriptor argument's (sendfile's and splice's socket end).
    func socketSnapshot(for call: SyscallInvocation, tracker: SocketTracker) -> SocketSnapshot? {
        let returned = Int32(truncatingIfNeeded: call.result?.value ?? -1)
        var candidates: [Int32]
        switch call.syscall {
        case .socket, .accept, .accept4: candidates = call.result?.failed == false ? [returned] : []
        case .sendfile, .sendfile64: candidates = [Int32(truncatingIfNeeded: call.argument(0)), Int32(truncatingIfNeeded: call.argument(1))]
        case .splice: candidates = [Int32(truncatingIfNeeded: call.argument(2)), Int32(truncatingIfNeeded: call.argument(0))]
        case .socketpair, .close_range: candidates = []
        default: candidates = [Int32(truncatingIfNeeded: call.argument(0))]
        }
        for fd in candidates {
            if let socket = tracker.socket(fd) { return SocketSnapshot(fd: fd, socket: socket) }
        }
        return nil
    }

    /// Attaches the kernel's activity to a finished call.
    func attachKernelActivity(_ call: inout SyscallInvocation) {
        guard let kernel else { return }
        if let sampler = kernel.sampler {
            // The call's samples were in the rings before its exit stop: a
            // drain begun after that has them (output lagging behind drains
            // once for many calls).
            if call.exitTime.map({ $0 >= drainedAt }) ?? true { drainKernelSamples(sampler, into: kernel.correlator) }
            for sample in kernel.correlator.takeStray(tid: call.tid, before: call.entryTime) {
                sink.handle(.kernelEvent(sample))
            }
        }
        var activity = kernel.correlator.activity(for: call)
        if let graphs = kernel.functionGraph { activity.functionGraph = graphs.graph(for: call) }
        call.kernel = activity
        for sample in kernel.correlator.takeOtherFlows() { sink.handle(.kernelEvent(sample)) }
    }

    /// After the launched child is resumed, its exec either succeeds (the pipe
    /// closes) or fails (the child wrote errno and exits 127).
    func checkExecError() {
        guard execErrorPipe >= 0 else { return }
        var code: Int32 = 0
        var pollRequest = pollfd(fd: execErrorPipe, events: Int16(POLLIN), revents: 0)
        guard poll(&pollRequest, 1, 0) > 0 else { return }
        let got = read(execErrorPipe, &code, MemoryLayout<Int32>.size)
        close(execErrorPipe)
        execErrorPipe = -1
        if got == MemoryLayout<Int32>.size {
            execFailure = TraceError(code == ENOENT ? .programNotFound : .programNotExecutable,
                                     operation: "exec", pid: launchedPid, errno: code)
        }
    }

    /// Set when the launched program could not be executed.
    public private(set) var execFailure: TraceError?

    /// The loop's dispatch: one wait status, as a `Stop`, to its handler.
    func handle(tid: Int32, status: Int32) {
        settleAwaitedExits(tid)
        let stop = Stop(waitStatus: status)
        if stop.isEnd {
            threadGone(tid, stop: stop)
            return
        }
        guard stop.isStopped else { return }
        let thread = threads[tid] ?? newTracee(tid)
        thread.stopped = true
        thread.listening = false

        if tracesFunctions {
            if let setup = functionTracing?.pendingChildren.removeValue(forKey: tid) {
                adoptParentBreakpoints(setup, child: thread)
            } else if thread.awaitingParent {
                // Held until the parent's fork event says what its memory holds.
                return
            } else if attachedMode && !thread.process.functionsPlaced {
                placeFunctionBreakpoints(thread.process, tid: tid)
            }
        }
        if thread.starting {
            thread.starting = false
            if case .eventStop = stop {
                resume(thread)
                return
            }
            if case .groupStop = stop {
                resume(thread)
                return
            }
        }
        switch stop {
        case .seccomp, .syscall:
            syscallStop(thread)
        case let .created(creation):
            var message: UInt64 = 0
            if cs_ptrace_get_event_message(tid, &message) == 0 {
                childCreated(Int32(truncatingIfNeeded: message), by: thread, vfork: creation == .vfork)
            }
            resume(thread)
        case .exec:
            execed(thread)
            resume(thread)
        case let .groupStop(signal):
            var event = processEvent(.stopped, tid: tid, pid: thread.process.pid)
            event.signal = signal
            emit(.process(event))
            // Stay stopped as the signal asked, without blocking other events.
            cs_ptrace_listen(tid)
            thread.stopped = false
            thread.listening = true
        case .signal(SIGTRAP) where functionBreakpointHit(thread):
            break
        case let .signal(signal) where thread.hiddenSignal == signal:
            // The SIGCONT that started the launched program is ours, not the program's.
            thread.hiddenSignal = nil
            resume(thread, signal: signal)
        case let .signal(signal):
            signalStop(thread, signal: signal)
        case .eventStop, .otherEvent, .exited, .killed, .other:
            resume(thread)
        }
    }

    // MARK: syscalls

    func syscallStop(_ thread: TracedThread) {
        var info = cs_syscall_info()
        guard cs_ptrace_get_syscall_info(thread.tid, &info) == 0 else {
            resume(thread)
            return
        }
        switch Int32(info.op) {
        case Int32(CS_SYSCALL_INFO_ENTRY), Int32(CS_SYSCALL_INFO_SECCOMP):
            syscallEntry(thread, info)
        case Int32(CS_SYSCALL_INFO_EXIT):
            syscallExit(thread, info)
        default:
            resume(thread)
        }
    }

    /// `marking`: decorations marked (`DecorationMarks`), for calls whose
    /// plain text is kept too.
    func context(for process: TracedProcess, architecture: Architecture, style: DescriptorStyle? = nil,
                 memory: any TraceeMemory, marking: Bool = false) -> (DecodingContext, SocketTracker) {
        let tracker = SocketTracker(pid: process.pid, table: process.table, memory: memory,
                                    resolveAddresses: configuration.resolveAddresses)
        var renderer = DescriptorRenderer(style: style ?? configuration.descriptorStyle, tracker: tracker)
        renderer.marksDecorations = marking
        let context = DecodingContext(memory: memory, architecture: architecture, options: configuration.decodeOptions,
                                      describeDescriptor: renderer.render, socket: tracker.socket)
        return (context, tracker)
    }

    func syscallEntry(_ thread: TracedThread, _ info: cs_syscall_info) {
        thread.current = nil
        guard let architecture = Architecture(auditArch: info.arch),
              var syscall = Syscall(number: info.nr, architecture: architecture) else {
            if let unwinder, let calls = configuration.memoryMapCalls, let architecture = Architecture(auditArch: info.arch),
               calls.contains(info.nr, architecture: architecture) {
                // Its mappings are about to change: the next stack reads them again.
                unwinder.mappingsChanged(thread.process.pid)
            }
            resume(thread)
            return
        }
        let process = thread.process
        if process.architecture != architecture {
            // Said when a process starts running in another mode (exec of a
            // 32-bit program), not when a child inherits its parent's.
            if process.architecture != nil || architecture == .i386 {
                var event = processEvent(.personality, tid: thread.tid, pid: process.pid)
                event.architecture = architecture
                emit(.process(event))
            }
            process.architecture = architecture
        }
        var arguments = withUnsafeBytes(of: info.args) { raw in Array(raw.bindMemory(to: UInt64.self)) }
        var viaSocketcall = false
        if syscall == .socketcall {
            let memory = ProcessMemory(pid: process.pid)
            guard let sub = Syscall(socketcallNumber: arguments[0] & 0xffff_ffff) else {
                resume(thread)
                return
            }
            let base = arguments[1] & 0xffff_ffff
            arguments = (0..<sub.argumentCount).map { memory.readUInt32(base + UInt64($0 * 4)).map(UInt64.init) ?? 0 }
            syscall = sub
            viaSocketcall = true
        }
        var call = SyscallInvocation(pid: process.pid, tid: thread.tid, architecture: architecture, syscall: syscall,
                                     arguments: arguments, viaSocketcall: viaSocketcall, entryTime: .now())
        if tracesFunctions && !thread.functionStack.isEmpty { call.functions = thread.functionStack.map(\.function.name) }
        let memory = StopMemory(pid: process.pid)
        let (context, tracker) = self.context(for: process, architecture: architecture, memory: memory, marking: needsPlainText)
        let selection = configuration.selection
        var shown = selection.contains(syscall)
        if shown && selection.onlySocketDescriptors && syscall.isDescriptorCall {
            shown = involvesSocket(call, tracker: tracker)
        }
        let tracked = syscall.changesDescriptors && needsTableUpdate(call, tracker: tracker)
        guard shown || tracked else {
            if syscall == .close { process.table.remove(Int32(truncatingIfNeeded: call.argument(0))) }
            resume(thread)
            return
        }
        if shown {
            call.wallClock = WallClock.now()
            SyscallDecoder(context).enter(&call)
            if needsPlainText {
                // Decoded once: strace's plain text is the marked text without its decorations.
                call.plainText = PlainText(entryText: DecorationMarks.plain(call.entryText), exitText: DecorationMarks.plain(call.exitText))
                call.entryText = DecorationMarks.decorated(call.entryText)
                call.exitText = DecorationMarks.decorated(call.exitText)
            }
            if syscall == .close {
                // close removes the descriptor: remember its socket now, and
                // whether other descriptors still hold it (then nothing is released).
                call.socket = socketSnapshot(for: call, tracker: tracker)
                if configuration.followForks, let fd = call.socket?.fd, let socket = process.table[fd]?.socket {
                    call.socket?.otherReferences = otherReferences(to: socket, besides: fd, in: process)
                    // The descriptor is gone as soon as close begins (even when it
                    // fails): another process's close that follows counts without it.
                    process.table.remove(fd)
                }
            }
        }
        if shown && letsRunToExit(call) {
            // Its exit gives nothing but the result, which the kernel's exit
            // record has: no second stop. What the exit stop would read of the
            // thread is read now (its stack is the same at both).
            if call.socket == nil { call.socket = socketSnapshot(for: call, tracker: tracker) }
            if let unwinder { call.userStack = unwinder.stack(pid: process.pid, tid: thread.tid, bits32: false) }
            resume(thread, sealing: memory)
            awaitedExits.add(call)
            emit(.syscallEntered(call))
            return
        }
        if configuration.measuresSystemTime { call.cpuTimeAtEntry = ThreadCPUTime.nanoseconds(tid: thread.tid) }
        // Everything read from the stopped thread is in `call` (and `memory`):
        // let it run while the entry is written.
        resume(thread, toSyscallExit: true, sealing: memory)
        thread.current = call
        thread.currentShown = shown
        if shown { emit(.syscallEntered(call)) }
    }

    func resume(_ thread: TracedThread, toSyscallExit: Bool = false, sealing memory: StopMemory) {
        resume(thread, toSyscallExit: toSyscallExit)
        memory.seal()
    }

    /// The thread is seen again: the calls it was let run through have
    /// returned, and are written before anything of this stop.
    func settleAwaitedExits(_ tid: Int32) {
        guard !awaitedExits.isEmpty, awaitedExits.holds(tid) else { return }
        let now = MonotonicTime.now()
        awaitedExits.threadSeen(tid, at: now)
        submit(.awaitedExits(tid: tid, seen: now))
    }

    /// Whether a call's result can come from the kernel's exit record (`ExitStopPolicy`).
    func letsRunToExit(_ call: SyscallInvocation) -> Bool {
        ExitStopPolicy(records: kernel?.sampler, seccompActive: seccompActive).letsRunToExit(call, tracedThreads: threads.count)
    }

    var needsPlainText: Bool { configuration.recordPlainText && configuration.descriptorStyle != .number }

    /// Whether a descriptor call acts on a socket (so it is shown by default).
    func involvesSocket(_ call: SyscallInvocation, tracker: SocketTracker) -> Bool {
        let fd = { Int32(truncatingIfNeeded: call.argument($0)) }
        switch call.syscall {
        case .sendfile, .sendfile64, .splice:
            return tracker.socket(fd(0)) != nil || tracker.socket(fd(call.syscall == .splice ? 2 : 1)) != nil
        case .close_range:
            return false
        default:
            return tracker.socket(fd(0)) != nil
        }
    }

    /// Whether a descriptor-changing call can change the socket table.
    func needsTableUpdate(_ call: SyscallInvocation, tracker: SocketTracker) -> Bool {
        switch call.syscall {
        case .close, .dup, .dup2, .dup3, .fcntl, .fcntl64:
            let fd = Int32(truncatingIfNeeded: call.argument(0))
            if call.syscall == .dup2 || call.syscall == .dup3 {
                let target = Int32(truncatingIfNeeded: call.argument(1))
                return tracker.table[fd] != nil || tracker.table[target] != nil || tracker.socket(fd) != nil
            }
            return tracker.socket(fd) != nil
        default:
            return true
        }
    }

    func syscallExit(_ thread: TracedThread, _ info: cs_syscall_info) {
        guard var call = thread.current else {
            resume(thread)
            return
        }
        thread.current = nil
        call.exitTime = .now()
        if let start = call.cpuTimeAtEntry, let end = ThreadCPUTime.nanoseconds(tid: thread.tid), end >= start {
            call.systemTime = Double(end - start) / 1e9
        }
        call.result = SyscallResult(rval: info.rval, isError: info.is_error != 0)
        let memory = StopMemory(pid: thread.process.pid)
        let (context, tracker) = self.context(for: thread.process, architecture: call.architecture, memory: memory,
                                              marking: thread.currentShown && needsPlainText)
        tracker.apply(call)
        if thread.currentShown {
            call.transferredBytes = Self.messageBytes(of: call, memory: memory)
            let exitTextAtEntry = call.exitText
            let decoder = SyscallDecoder(context)
            decoder.exit(&call)
            call.returnText = decoder.returnText(call)
            if needsPlainText {
                let entry = call.plainText
                let exitText = call.exitText == exitTextAtEntry ? (entry?.exitText ?? exitTextAtEntry) : DecorationMarks.plain(call.exitText)
                call.plainText = PlainText(entryText: entry?.entryText ?? call.entryText, exitText: exitText,
                                           returnText: DecorationMarks.plain(call.returnText))
                call.exitText = DecorationMarks.decorated(call.exitText)
                call.returnText = DecorationMarks.decorated(call.returnText)
            }
            if call.socket == nil { call.socket = socketSnapshot(for: call, tracker: tracker) }
            if let unwinder { call.userStack = unwinder.stack(pid: thread.process.pid, tid: thread.tid, bits32: thread.process.architecture == .i386) }
            // Nothing below reads the thread: it runs on while the kernel's
            // samples (already in the rings) are attributed and the call written.
            resume(thread, sealing: memory)
            submit(.finishedCall(call))
            return
        }
        resume(thread)
    }

    // MARK: processes

    func newTracee(_ tid: Int32) -> TracedThread {
        let (tgid, parentPid) = Self.ids(of: tid)
        if tgid != tid, let process = processes[tgid] {
            // A new thread whose first stop came before its creator's clone
            // event: said now (the clone event then finds it known), so its
            // lines are its process's.
            let thread = addThread(tid, process: process, starting: true)
            emit(.process(processEvent(.started, tid: tid, pid: tgid, parent: tgid)))
            return thread
        }
        let parent = pendingParents.removeValue(forKey: tid) ?? parentPid
        let table = (parent.flatMap { threads[$0]?.process.table } ?? DescriptorTable()).copy()
        let process = TracedProcess(pid: tgid, table: table)
        process.architecture = parent.flatMap { threads[$0]?.process.architecture }
        let thread = addThread(tid, process: process, starting: true)
        thread.awaitingParent = tracesFunctions && parent.flatMap { threads[$0]?.process.breakpoints } != nil
        emit(.process(processEvent(.started, tid: tid, pid: tgid, parent: parent)))
        return thread
    }

    /// The thread group and parent of a task, from /proc/TID/status.
    static func ids(of tid: Int32) -> (tgid: Int32, parent: Int32?) {
        guard let file = fopen("/proc/\(tid)/status", "r") else { return (tid, nil) }
        defer { fclose(file) }
        var tgid = tid
        var parent: Int32?
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cBuffer: line)
            if text.hasPrefix("Tgid:") { tgid = Int32(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) ?? tid }
            if text.hasPrefix("PPid:") { parent = Int32(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return (tgid, parent)
    }

    func childCreated(_ child: Int32, by parent: TracedThread, vfork: Bool) {
        let (tgid, _) = Self.ids(of: child)
        if tracesFunctions && tgid == child, let setup = childBreakpoints(of: parent, vfork: vfork) {
            if let early = threads[child], early.awaitingParent {
                // Its first stop came first and it was held there.
                early.awaitingParent = false
                adoptParentBreakpoints(setup, child: early)
                resume(early)
            } else if threads[child] == nil {
                functionTracing?.pendingChildren[child] = setup
            }
        }
        // If the child's first stop came first, it copied the table then, before the parent ran on.
        guard threads[child] == nil else { return }
        if tgid != child, let process = processes[tgid] {
            addThread(child, process: process, starting: true)
            emit(.process(processEvent(.started, tid: child, pid: tgid, parent: parent.tid)))
            return
        }
        let process = TracedProcess(pid: child, table: parent.process.table.copy())
        process.architecture = parent.process.architecture
        addThread(child, process: process, starting: true)
        emit(.process(processEvent(.started, tid: child, pid: child, parent: parent.process.pid)))
    }

    func execed(_ thread: TracedThread) {
        var message: UInt64 = 0
        let former = cs_ptrace_get_event_message(thread.tid, &message) == 0 ? Int32(truncatingIfNeeded: message) : thread.tid
        let process = thread.process
        // Every other thread of the process is gone; a non-leader that execs takes the leader's id.
        for tid in process.threads where tid != thread.tid {
            if tid == former { continue }
            if let gone = threads[tid] { unwindAllFunctions(gone) }
            threads[tid] = nil
        }
        if former != thread.tid {
            if let gone = threads[former] { unwindAllFunctions(gone) }
            threads[former] = nil
        }
        process.threads = [thread.tid]
        thread.current = nil
        if tracesFunctions {
            unwindAllFunctions(thread)
            process.breakpoints = nil
            placeFunctionBreakpoints(process, tid: thread.tid)
        }
        process.table.applyExec()
        unwinder?.forget(process.pid)
        var event = processEvent(.exec, tid: thread.tid, pid: process.pid)
        event.formerTid = former
        event.command = Self.commandLine(of: process.pid)
        emit(.process(event))
    }

    func threadGone(_ tid: Int32, stop: Stop) {
        guard let thread = threads.removeValue(forKey: tid) else { return }
        thread.stopped = false
        unwindAllFunctions(thread)
        thread.process.threads.remove(tid)
        if thread.process.threads.isEmpty {
            processes[thread.process.pid] = nil
            unwinder?.forget(thread.process.pid)
        }
        if let call = thread.current, thread.currentShown {
            emit(.syscallAbandoned(call))
        }
        var event: ProcessEvent
        switch stop {
        case let .killed(signal, coreDumped):
            event = ProcessEvent(.killed, tid: tid, pid: thread.process.pid)
            event.signal = signal
            event.coreDumped = coreDumped
            if tid == launchedPid { launchedStatus = .killed(signal: signal, coreDumped: coreDumped) }
        case let .exited(status):
            event = ProcessEvent(.exited, tid: tid, pid: thread.process.pid)
            event.status = status
            if tid == launchedPid { launchedStatus = .exited(status) }
        default:
            return
        }
        event.name = names[tid]
        names[tid] = nil
        emit(.process(event))
    }

    // MARK: signals and resuming

    func signalStop(_ thread: TracedThread, signal: Int32) {
        var signo: Int32 = 0, code: Int32 = 0, errnoValue: Int32 = 0, sender: Int32 = 0, uid: Int32 = 0, status: Int32 = 0
        var utime: Int64 = 0, stime: Int64 = 0, address: UInt64 = 0, value: UInt64 = 0
        if cs_ptrace_get_siginfo(thread.tid, &signo, &code, &errnoValue, &sender, &uid, &status, &utime, &stime, &address, &value) == 0 {
            var event = processEvent(.signal, tid: thread.tid, pid: thread.process.pid)
            event.signal = signo
            event.signalInfo = SignalInfo(signal: signo, code: code, errno: errnoValue, senderPid: sender, senderUid: uid,
                                          status: status, userTime: utime, systemTime: stime, address: address, value: value)
            if let unwinder { event.userStack = unwinder.stack(pid: thread.process.pid, tid: thread.tid, bits32: thread.process.architecture == .i386) }
            emit(.process(event))
        }
        resume(thread, signal: signal)
    }

    /// Lets a stopped thread run on: to the next traced syscall (seccomp), or
    /// to the next syscall stop (without seccomp, or to see this one's exit).
    func resume(_ thread: TracedThread, toSyscallExit: Bool = false, signal requested: Int32 = 0) {
        thread.stopped = false
        var signal = requested
        if signal == 0 && thread.deferredSignal != 0 {
            signal = thread.deferredSignal
            thread.deferredSignal = 0
        }
        let wantSyscallStops = !seccompActive || toSyscallExit
        let result = wantSyscallStops ? cs_ptrace_syscall(thread.tid, signal) : cs_ptrace_cont(thread.tid, signal)
        if result != 0 && errno == ESRCH {
            // Killed meanwhile (SIGKILL, exit_group): its exit status is on its way.
            return
        }
    }

    /// Detaches from every tracee, leaving them running: each is interrupted
    /// into a ptrace-stop first, as PTRACE_DETACH requires.
    func detachAll() {
        // Stops already collected (and, with --functions, every thread's) go first, with their signals.
        for stop in removeFunctionBreakpointsForDetach() {
            detach(tid: stop.tid, after: stop.status)
        }
        for thread in threads.values where !thread.stopped {
            cs_ptrace_interrupt(thread.tid)
        }
        for thread in threads.values where thread.stopped {
            cs_ptrace_detach(thread.tid, 0)
            threads[thread.tid] = nil
            emit(.process(processEvent(.detached, tid: thread.tid, pid: thread.process.pid)))
        }
        while !threads.isEmpty {
            var status: Int32 = 0
            let tid = cs_wait_any(&status, false)
            if tid < 0 {
                if errno == EINTR { continue }
                break
            }
            detach(tid: tid, after: status)
        }
    }

    /// Detaches a thread from the stop `status` reported (or records its end).
    func detach(tid: Int32, after status: Int32) {
        guard let thread = threads[tid] else { return }
        settleAwaitedExits(tid)
        let stop = Stop(waitStatus: status)
        if stop.isEnd {
            threadGone(tid, stop: stop)
            return
        }
        // A signal that was about to be delivered is delivered on detach.
        var pending = stop.pendingSignal ?? 0
        if pending == 0 { pending = thread.deferredSignal }
        cs_ptrace_detach(tid, pending)
        threads[tid] = nil
        emit(.process(processEvent(.detached, tid: thread.tid, pid: thread.process.pid)))
    }
}
