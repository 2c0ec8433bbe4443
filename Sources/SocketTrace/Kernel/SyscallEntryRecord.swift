/// A syscall's entry in a traced thread, from the kernel's own
/// `syscalls:sys_enter_NAME` tracepoint, sampled beside its exit
/// (`SyscallExitRecord`) for a call let run without an exit stop: when the
/// kernel began it, which can be well after the tracer let the thread go
/// from its entry stop (the thread waits for a CPU on a busy machine).
public struct SyscallEntryRecord: Sendable, Equatable {
    public let tid: Int32
    public let time: MonotonicTime
    /// The syscall's number in the thread's native table.
    public let number: Int64
}
