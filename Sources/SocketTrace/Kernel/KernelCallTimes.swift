/// When the kernel began and ended a call the tracer stopped at: the
/// `sys_enter` and `sys_exit` tracepoints' times (`DataCallProgram`), not
/// the tracer's. The thread reaches `sys_enter` only once it runs after
/// its entry stop: the entry leaves out the wait for a CPU. (The exit stop
/// stays the call's attribution window: work deferred to the return to
/// user mode, a close's release in task_work before 6.6, runs after
/// `sys_exit`; `SyscallInvocation.endTime`.)
public struct KernelCallTimes: Sendable, Equatable {
    public let entry: MonotonicTime
    /// The call's x86-64 number.
    public let number: UInt64
    /// nil while the call has not returned.
    public let exit: MonotonicTime?
    /// A close of a socket: the address of the `struct file` its
    /// descriptor held at `sys_enter`. The file's release (its last
    /// reference dropped, in this close or wherever another was held)
    /// frees it: a kmem:kmem_cache_free hit of that address in `filp`.
    public let closedFile: UInt64?

    public init(entry: MonotonicTime, number: UInt64, exit: MonotonicTime?, closedFile: UInt64? = nil) {
        self.entry = entry
        self.number = number
        self.exit = exit
        self.closedFile = closedFile
    }

    /// Whether this entry can be `call`'s, which the tracer let run at its
    /// `entryTime`: an entry of its number from after then (the thread
    /// still inside it, no other call of its can have begun).
    public func entered(_ call: SyscallInvocation) -> Bool {
        guard call.architecture == .x86_64, let expected = call.syscall.number(on: .x86_64) else { return false }
        return UInt64(expected) == number && call.entryTime <= entry
    }

    /// Whether these are the times of `call`, which returned by `returnedBy`.
    public func belong(to call: SyscallInvocation, returnedBy: MonotonicTime) -> Bool {
        guard entered(call), let exit else { return false }
        return entry <= exit && exit <= returnedBy
    }
}
