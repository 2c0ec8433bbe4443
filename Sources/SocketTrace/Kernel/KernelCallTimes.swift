/// When the kernel began and ended a call the tracer stopped at: the
/// `sys_enter` and `sys_exit` tracepoints' times (`DataCallProgram`), not
/// the tracer's. The thread reaches `sys_enter` only once it runs after
/// its entry stop: the entry leaves out the wait for a CPU. (The exit stop
/// stays the call's attribution window: work deferred to the return to
/// user mode, a close's release in task_work before 6.6, runs after
/// `sys_exit`; `SyscallInvocation.endTime`.)
public struct KernelCallTimes: Sendable, Equatable {
    public let entry: MonotonicTime
    /// The call's number as `key(of:)` gives it.
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
        guard let expected = Self.key(of: call) else { return false }
        return expected == number && call.entryTime <= entry
    }

    /// A call's number as the kernel's program keeps it: an x86-64 call's
    /// own, an i386 call's plus `DataCallProgram.i386Base` (one made
    /// through socketcall, socketcall's).
    static func key(of call: SyscallInvocation) -> UInt64? {
        switch call.architecture {
        case .x86_64:
            return call.syscall.x86_64Number.map(UInt64.init)
        case .i386:
            let entered = call.viaSocketcall ? Syscall.socketcall : call.syscall
            return entered.i386Number.map { UInt64($0 + DataCallProgram.i386Base) }
        }
    }

    /// Whether these are the times of `call`, which returned by `returnedBy`.
    public func belong(to call: SyscallInvocation, returnedBy: MonotonicTime) -> Bool {
        guard entered(call), let exit else { return false }
        return entry <= exit && exit <= returnedBy
    }
}
