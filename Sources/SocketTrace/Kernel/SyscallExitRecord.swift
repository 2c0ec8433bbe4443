/// A syscall's return in a traced thread, from the kernel's own
/// `syscalls:sys_exit_NAME` tracepoint: what a ptrace exit stop would have
/// said of a call whose exit reads nothing but its result (a write, a send),
/// learnt without stopping the thread a second time.
public struct SyscallExitRecord: Sendable, Equatable {
    public let tid: Int32
    public let time: MonotonicTime
    /// The syscall's number in the thread's native table.
    public let number: Int64
    /// The raw return value: a negative errno on failure.
    public let returned: Int64

    public init(tid: Int32, time: MonotonicTime, number: Int64, returned: Int64) {
        self.tid = tid
        self.time = time
        self.number = number
        self.returned = returned
    }

    /// As PTRACE_GET_SYSCALL_INFO's exit fields would give it.
    public var result: SyscallResult {
        SyscallResult(rval: returned, isError: returned < 0 && returned >= -4095)
    }
}
