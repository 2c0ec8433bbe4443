import Foundation
import Glibc

/// The ptrace engine: launches or attaches to programs, follows their
/// children and threads, stops them only on the syscalls that matter, decodes
/// those, passes every signal through, and reports it all to a sink.
///
/// The loop is strace's: wait for the next stop, read its status as a
/// `Stop`, dispatch it (`handle`) to the syscall phases (SyscallStops), the
/// task events (TaskEvents) or the signal stops (SignalStops); output waits
/// for a moment no tracee does (TracerOutput). Every ptrace request goes
/// through `ptrace`, so the loop runs on scripted stops in tests.
///
/// All ptrace requests come from the thread that calls `launch`/`attach` and
/// `run`, as the kernel requires.
public final class Tracer {
    public let configuration: TracerConfiguration
    let sink: TraceSink
    let ptrace: any PtraceBackend

    /// Every traced thread and process.
    let tasks = TaskTable()
    /// The launched program, whose exit status becomes the tracer's.
    var launchedPid: Int32?
    var launchedStatus: ExitStatus?
    var attachedMode = false
    var seccompActive = false
    /// Kernel chains and events, when observation is on.
    let kernel: KernelObserver?
    /// Gives finished calls their samples (`AttributionStage`), on this thread.
    let attribution: AttributionStage?

    /// Output waiting for a moment when no tracee waits for the tracer.
    var output = DeferredOutput()
    /// When the output last began reading the sampler's rings.
    var drainedAt = MonotonicTime(nanoseconds: 0)
    /// Calls let run to their exit, whose result the kernel's exit records give.
    var awaitedExits = AwaitedExits()
    /// Where those records come from (the kernel sampler, when there is one).
    var exitRecords: (any ExitRecordSource)?
    /// What captures a process's exit's work in the kernel (the kernel
    /// sampler, when there is one): threads then stop at their exit.
    var exitCaptures: (any ExitCaptureSource)?
    /// Reads and writes on sockets recorded by the kernel, not stopped at.
    var dataCalls: DataCallCapture?
    /// The sockets whose SCM_RIGHTS references the call being applied
    /// dropped (`tookRights`), for its `rightsDropped`.
    var rightsDropped: [UInt64] = []
    /// SCM_RIGHTS messages traced processes sent, by the inode of the
    /// socket they wait at, oldest first (kept past their senders' ends).
    var rightsWaiting: [UInt64: [RightsMessage]] = [:]
    /// The recorder when reads and writes run without a stop.
    var recordedCalls: DataCallCapture? { dataCalls?.recordsData == true ? dataCalls : nil }
    /// No stop since the idle loop last judged samples stray (`nextStop`).
    var quietSinceLastLook = false
    /// When the idle loop last flushed the sinks (`nextStop`).
    var lastIdleFlush = MonotonicTime(nanoseconds: 0)
    /// A thread was just let go from a call's entry to its exit stop, and
    /// no stop came since (`nextStop` waits a moment for that exit).
    var exitStopDue = false
    /// Recorded calls decoded but not yet written (`takeRecordedCalls`).
    var heldCalls: [HeldCall] = []
    /// How many of them wait to learn whether they returned (`HeldCall.awaitsThread`).
    var interruptedHeld = 0
    /// The output's length past which `submit` writes a batch: the limit,
    /// or more while the batch's first item waits for its thread.
    var outputBacklogThreshold = DeferredOutput.backlogLimit
    /// The running calls last told to the sinks (`takeRecordedCalls`).
    var lastInFlightSent: [Int32: MonotonicTime] = [:]
    /// The threads whose shown stopped call has run long enough to be
    /// looked at for a return before its exit stop (`returnedBeforeTheirStop`),
    /// each with its call's entry, and when they were last listed.
    var returnCandidates: (time: MonotonicTime, threads: [(tid: Int32, entry: MonotonicTime)]) = (MonotonicTime(nanoseconds: 0), [])
    /// The destination port each thread's connect under way is watched
    /// by (`ElsewhereTransmits.watch(destination:)`), until its exit.
    var connectDestinations: [Int32: UInt16] = [:]
    /// How often an idle tracer takes those records while it waits.
    static let dataCallPoll: Int32 = 10
    /// The longest a tracer busy with recorded calls leaves the sample rings undrained (ns).
    static let ringDrainInterval: UInt64 = 2_000_000
    /// How often an idle tracer looks for those records while it waits.
    static let awaitedExitPoll: Int32 = 20
    /// How often an idle tracer looks whether the kernel's symbols are read.
    static let symbolsPoll: Int32 = 2
    /// How often an idle tracer flushes the sinks while a shown call runs:
    /// a call blocked longer than `TimelineOrder.holdLimit` is then written
    /// unfinished while it waits, as strace writes a blocked call's entry
    /// at once (audit 87 F2: a server's blocked accept not shown until it
    /// returned).
    static let idleFlushInterval: Int32 = 50
    /// Whether a thread is inside a shown call (the idle loop then flushes
    /// the sinks every `idleFlushInterval`).
    var shownCallRunning: Bool { tasks.threads.values.contains { $0.current != nil && $0.currentShown } }
    /// How long the tracer waits for the exit stop of a call it just let
    /// go before it turns to its output (ms).
    static let exitStopGrace: Int32 = 1

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

    public convenience init(configuration: TracerConfiguration, sink: TraceSink, kernel: KernelObserver? = nil) {
        self.init(configuration: configuration, sink: sink, kernel: kernel, ptrace: LinuxPtrace())
    }

    init(configuration: TracerConfiguration, sink: TraceSink, kernel: KernelObserver? = nil, ptrace: any PtraceBackend) {
        self.configuration = configuration
        self.sink = sink
        self.kernel = kernel
        attribution = kernel.map { AttributionStage(correlator: $0.correlator) }
        self.ptrace = ptrace
        exitRecords = kernel?.sampler
        exitCaptures = configuration.capturesExits ? kernel?.sampler : nil
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
        ptrace.installInterruptHandlers()
        seccompActive = configuration.useSeccomp && configuration.followForks
        startDataCallCapture()
        let launched = try ProgramLauncher.spawn(
            path: path, arguments: arguments,
            stopSyscalls: seccompActive ? configuration.stopSyscalls : nil, alsoStopAt: configuration.memoryMapCalls,
            runFree: recordedCalls == nil ? [] : DataCallCapture.syscalls)
        guard let status = ptrace.waitStatus(of: launched.pid, allThreads: false), Stop(waitStatus: status).isStopped else {
            throw TraceError.system("waitpid", pid: launched.pid)
        }
        let options = ptrace.optionFlags(followForks: configuration.followForks, seccomp: seccompActive, exitKill: true,
                                         traceExit: stopsAtExits)
        let seized = ptrace.seize(launched.pid, options: options)
        guard seized == 0 else {
            kill(launched.pid, SIGKILL)
            throw TraceError(operation: "PTRACE_SEIZE", pid: launched.pid, errno: seized)
        }
        do {
            try kernel?.follow(launched.pid)
        } catch {
            kill(launched.pid, SIGKILL)
            throw error
        }
        traceLaunched(launched.pid)
        // The child is in group-stop from its own SIGSTOP; SIGCONT lets it exec.
        kill(launched.pid, SIGCONT)
        execErrorPipe = launched.execErrorPipe
    }

    /// Follows the launched program, seized in its group-stop: the SIGCONT
    /// that lets it go on is the tracer's, not reported.
    func traceLaunched(_ pid: Int32) {
        launchedPid = pid
        let thread = tasks.add(pid, to: TracedProcess(pid: pid, table: DescriptorTable()), starting: true)
        // Before it execs: the program it runs is checked then (`execed`).
        dataCalls?.follow(pid)
        kernel?.sampler?.elsewhereTransmits?.follow(pid)
        thread.hiddenSignal = SIGCONT
        emit(.process(processEvent(.started, tid: pid, pid: pid)))
    }

    var execErrorPipe: Int32 = -1

    /// Attaches to running processes and all their threads (PTRACE_SEIZE).
    /// They keep running; detaching leaves them as they were.
    public func attach(_ pids: [Int32]) throws {
        attachedMode = true
        seccompActive = false
        let options = ptrace.optionFlags(followForks: configuration.followForks, seccomp: false, exitKill: false,
                                         traceExit: stopsAtExits)
        for pid in pids {
            guard ptrace.exists(pid) else {
                throw TraceError(operation: "attach: ptrace(PTRACE_SEIZE, \(pid))", errno: ESRCH)
            }
            let process = TracedProcess(pid: pid, table: DescriptorTable())
            process.descriptorsChangeUnseen = RingSetupCall.held(by: pid)
            let tids = ptrace.threadIDs(of: pid)
            for tid in tids.isEmpty ? [pid] : tids where tasks[tid] == nil {
                let seized = ptrace.seize(tid, options: options)
                guard seized == 0 else {
                    if tid == pid {
                        throw TraceError(operation: "attach: ptrace(PTRACE_SEIZE, \(pid))", errno: seized)
                    }
                    continue
                }
                tasks.add(tid, to: process, starting: false)
                try kernel?.follow(tid)
                kernel?.sampler?.elsewhereTransmits?.follow(pid)
                _ = ptrace.interrupt(tid)
                emit(.process(processEvent(.attached, tid: tid, pid: pid)))
            }
        }
    }

    // MARK: the loop

    /// Traces until every tracee is gone (or, after SIGINT/SIGTERM with `-p`,
    /// detached). Returns how the launched program ended, if one was launched.
    public func run() throws -> ExitStatus? {
        ptrace.installInterruptHandlers()
        defer {
            // Left by an error: what was submitted is still written.
            performOutput(limit: .max)
        }
        var interrupts = 0
        waiting: while !tasks.isEmpty {
            let signal = ptrace.takeInterruptSignal()
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
            switch nextStop() {
            case let .stop(tid, status):
                handle(tid: tid, status: status)
                checkExecError()
            case .nothing, .failed(EINTR):
                continue
            case .failed(ECHILD):
                break waiting
            case let .failed(code):
                throw TraceError(operation: "waitpid", errno: code)
            }
        }
        takeRecordedCalls()
        releaseHeldCalls(before: nil)
        if !awaitedExits.isEmpty {
            // Every thread is gone or detached: this drain settles their calls.
            submit(.settledExits)
            performOutput(limit: .max)
            for call in awaitedExits.takeAll() { emit(.syscallAbandoned(call)) }
        }
        submit(.strayKernelSamples(before: [:], otherwise: nil))
        performOutput(limit: .max)
        // Processes detached or left while exiting: their captures end unwritten.
        if let exitCaptures { for pid in exitCaptures.capturedExits { _ = exitCaptures.endExitCapture(of: pid) } }
        endDataCallCapture()
        kernel?.close()
        if let functionTracing, functionTracing.placed == 0, functionTracing.complaints.isEmpty {
            diagnostic?("--functions \(functionTracing.patterns.joined(separator: ",")): no function of the traced programs matches")
        }
        sink.finish()
        return launchedStatus
    }

    /// The loop's wait: a stop already there, else the output's turn (it
    /// runs while no tracee waits), else a wait that blocks.
    func nextStop() -> WaitResult {
        var waited = ptrace.waitAny(.poll)
        let outputReady = outputCanRun
        if waited == .nothing && exitStopDue && !output.isEmpty && outputReady {
            // Most calls return within microseconds of their entry stop: the
            // output (a first chain's alignment can take tens of ms) waits
            // that long, so that the exit stop is seen when it comes and no
            // call's duration holds the tracer's work on earlier ones (a
            // recvfrom of ready data shown <44.94 ms>, its exit seen late).
            // A call that blocks longer costs the output one wait.
            waited = ptrace.waitAny(.upTo(milliseconds: Self.exitStopGrace))
        }
        exitStopDue = false
        while waited == .nothing && !output.isEmpty && outputReady {
            // No tracee waits: write what waits, an item at a time, looking
            // for stops between (until an entry waits for its thread).
            if performOutput(limit: 1, force: false) { break }
            waited = ptrace.waitAny(.poll)
        }
        if waited == .nothing && !outputReady {
            // The output waits for the kernel's symbols; stops do not, nor
            // calls the kernel records, whose samples are kept meanwhile.
            if recordedCalls != nil { kernel?.sampler?.stash() }
            waited = ptrace.waitAny(.upTo(milliseconds: Self.symbolsPoll))
            if waited == .nothing { return .nothing }
        }
        if waited == .nothing && recordedCalls != nil && quietSinceLastLook && awaitedExits.isEmpty {
            // Nothing stopped since the last look: only the kernel's records
            // are taken. Samples are judged stray, and other tasks' work
            // handed out, once per quiet spell, as when the tracer blocks:
            // a call in flight (a connect refused in another task's softirq,
            // audit 20) claims that work when it returns.
            // (Once in a while the whole idle look, and a flush, while a
            // shown call runs.)
            let flushDue = MonotonicTime.now().nanoseconds &- lastIdleFlush.nanoseconds >= UInt64(Self.idleFlushInterval) * 1_000_000
            if takeRecordedCalls() == 0 && !(flushDue && shownCallRunning) {
                performOutput(limit: .max, force: false)
                return ptrace.waitAny(.upTo(milliseconds: Self.dataCallPoll))
            }
        }
        if waited == .nothing {
            quietSinceLastLook = true
            // Everything before this moment is taken (no stop waits, the
            // kernel's records and rings are read just below).
            let idle = MonotonicTime.now()
            emitStrayKernelSamples()
            if !awaitedExits.isEmpty { submit(.settledExits) }
            submit(.flush(caughtUp: idle))
            lastIdleFlush = idle
            performOutput(limit: .max, force: false)
            // A call let run to its exit is written when the kernel's record
            // of it comes, not only at its thread's next stop.
            // Calls the kernel records are taken while no tracee stops.
            waited = ptrace.waitAny(recordedCalls != nil ? .upTo(milliseconds: Self.dataCallPoll)
                                    : !awaitedExits.isEmpty ? .upTo(milliseconds: Self.awaitedExitPoll)
                                    : shownCallRunning ? .upTo(milliseconds: Self.idleFlushInterval) : .block)
        }
        return waited
    }

    /// The loop's dispatch: one wait status, as a `Stop`, to its handler.
    func handle(tid: Int32, status: Int32) {
        quietSinceLastLook = false
        let stop = Stop(waitStatus: status)
        // The calls that ran without a stop before this one come first.
        let alive = stop.isStopped && { if case .exiting = stop { return false } else { return true } }()
        takeRecordedCalls(stopped: (tid, alive))
        settleAwaitedExits(tid)
        if stop.isEnd {
            threadGone(tid, stop: stop)
            return
        }
        guard stop.isStopped else { return }
        let thread = tasks[tid] ?? newTracee(tid)
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
            switch stop {
            case .eventStop, .groupStop:
                // A new task's first stop (PTRACE_EVENT_STOP, with SIGSTOP
                // for auto-attached children, so read as a group-stop):
                // nothing to report.
                resume(thread)
                return
            default:
                break
            }
        }
        switch stop {
        case .seccomp, .syscall:
            syscallStop(thread)
        case let .created(creation):
            if let message = ptrace.eventMessage(tid) {
                childCreated(Int32(truncatingIfNeeded: message), by: thread, vfork: creation == .vfork)
            }
            resume(thread)
        case .exec:
            execed(thread)
            resume(thread)
        case .exiting:
            // Before it runs on to let go of its files.
            threadExiting(thread)
            resume(thread)
        case let .groupStop(signal):
            groupStop(thread, signal: signal)
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
}
