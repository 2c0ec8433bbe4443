/// What the tracer reports, in the order it happens.
public enum TraceEvent: Sendable {
    /// A shown syscall started; its `entryText` is decoded.
    case syscallEntered(SyscallInvocation)
    /// A shown syscall finished; `exitText`, `result`, `returnText` and, with
    /// kernel observation, `kernel` are set.
    case syscallExited(SyscallInvocation)
    /// A thread ended while inside a shown syscall (exit_group from another
    /// thread, a fatal signal): the call never returns.
    case syscallAbandoned(SyscallInvocation)
    /// A tracee started, execed, got a signal, stopped, ended.
    case process(ProcessEvent)
    /// A kernel sample taken outside any traced call (a timer, an
    /// interrupt, an untraced syscall): a state change, a packet, a drop.
    case kernelEvent(KernelSample)
    /// One of the program's own functions entered or left (`--functions`).
    case function(FunctionEvent)
}

/// Something that happened to a traced process or thread.
public struct ProcessEvent: Sendable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Launched, forked, cloned (a thread), or attached with -p.
        case started, attached
        case exec
        /// A signal about to be delivered (`--- SIGCHLD {…} ---`).
        case signal
        /// Group-stop (`--- stopped by SIGSTOP ---`).
        case stopped
        case exited, killed, detached
        /// Runs in another mode now (a 32-bit program).
        case personality
    }

    public var kind: Kind
    public var tid: Int32
    public var pid: Int32
    public var time: MonotonicTime
    public var parent: Int32?
    /// The process's name (comm) at this point.
    public var name: String?
    /// For exec: the new program's command line.
    public var command: [String]?
    public var formerTid: Int32?
    public var status: Int32?
    public var signal: Int32?
    public var coreDumped: Bool?
    public var signalInfo: SignalInfo?
    public var architecture: Architecture?
    /// For a signal with `-k`: the thread's user stack where it was interrupted.
    public var userStack: [UserFrame]?
    /// At a process's end (format 1.7): the sockets it releases (no other
    /// traced process holds them).
    public var releasedSockets: [SocketSnapshot]?
    /// The sockets it may release (format 1.23): held besides only by
    /// SCM_RIGHTS references a receive without room for them may have
    /// closed (`SocketInfo.inFlightUnsure`). Not said released, nor not.
    public var perhapsReleasedSockets: [SocketSnapshot]?
    /// The sockets released with a UNIX socket it released (format 1.24):
    /// held only by SCM_RIGHTS messages waiting at it, which the kernel
    /// drops with it.
    public var releasedInMessages: [CarriedSocket]?
    /// What that release did in the kernel (format 1.9): the samples taken
    /// on the exiting threads from their exit stop on (`ExitCaptureSource`:
    /// the kernel detaches a task's own perf events before its exit lets go
    /// of its files), their chains aligned with the model's close
    /// operations (entry `exit`). Absent when nothing was captured (kernel
    /// observation off, or the capture could not be opened).
    public var exitKernel: KernelActivity?
    /// When the capture of that release opened (format 1.13): "at the
    /// exit stop", or when another traced process's close left the exit to
    /// release them ("when 4242's close(4) let go of the last other reference").
    public var exitCaptureOpened: String?
    /// Why that release was not sampled (format 1.13), when it was not.
    public var exitNotObserved: String?

    public init(_ kind: Kind, tid: Int32, pid: Int32, time: MonotonicTime = .now()) {
        self.kind = kind
        self.tid = tid
        self.pid = pid
        self.time = time
    }
}

/// Where trace events go: a renderer, a trace file writer, a test's collector.
public protocol TraceSink: AnyObject {
    func handle(_ event: __owned TraceEvent)
    /// The tracer is about to wait for its tracees: write what is buffered.
    func flush()
    /// Called once when tracing ends.
    func finish()
    /// Threads inside calls the kernel records (`DataCallCapture`), and
    /// since when: their calls, not yet known, began then. A sink that
    /// orders lines by when they began holds later ones back.
    /// `time`: when the tracer looked.
    func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime)
    /// Everything that began before `time` has been handed over: the tracer
    /// was idle then, with no stop, record or sample it had not taken. A
    /// sink that orders lines by when they began may let go of lines held
    /// for calls running since long before (a blocked accept is written
    /// unfinished while it waits). Not the clock at delivery: the tracer's
    /// output can lag behind it (a batch held at an entry waiting for its
    /// thread), and lines then known would go before earlier ones to come.
    func caughtUp(to time: MonotonicTime)
}

extension TraceSink {
    public func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime) {}
    public func caughtUp(to time: MonotonicTime) {}

    /// A trace file's record given again to a sink (`report`): its event,
    /// or the calls then in flight.
    public func replay(_ record: TraceRecord) {
        if case let .inFlight(time, since) = record {
            recordedCallsInFlight(since, at: time)
        } else if let event = record.event {
            handle(event)
        }
    }
}
