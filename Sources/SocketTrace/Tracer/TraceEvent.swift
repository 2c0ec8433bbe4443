/// What the tracer reports, in the order it happens.
public enum TraceEvent: Sendable {
    /// A shown syscall started; its `entryText` is decoded.
    case syscallEntered(SyscallInvocation)
    /// A shown syscall finished; `exitText`, `result` and `returnText` are set.
    case syscallExited(SyscallInvocation)
    /// A thread ended while inside a shown syscall (exit_group from another
    /// thread, a fatal signal): the call never returns.
    case syscallAbandoned(SyscallInvocation)
    /// A new tracee: a launched program, an attached process, a forked child or a thread.
    case traceeStarted(tid: Int32, pid: Int32, parent: Int32?, attached: Bool)
    case signalDelivered(tid: Int32, SignalInfo)
    /// Group-stop (`--- stopped by SIGSTOP ---`).
    case stopped(tid: Int32, signal: Int32)
    case execed(tid: Int32, formerTid: Int32)
    case exited(tid: Int32, status: Int32)
    case killed(tid: Int32, signal: Int32, coreDumped: Bool)
    case detached(tid: Int32)
    /// A kernel sample taken outside any traced call (a timer, an
    /// interrupt, an untraced syscall): a state change, a packet, a drop.
    case kernelEvent(KernelSample)
    /// A 32-bit program on a 64-bit kernel, said once per process as strace does.
    case personalityChanged(tid: Int32, Architecture)
}

/// Where trace events go: a renderer, a trace file writer, a test's collector.
public protocol TraceSink: AnyObject {
    func handle(_ event: TraceEvent)
    /// The tracer is about to wait for its tracees: write what is buffered.
    func flush()
    /// Called once when tracing ends.
    func finish()
}
