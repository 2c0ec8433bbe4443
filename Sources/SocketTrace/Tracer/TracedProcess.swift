/// A traced process (thread group): its descriptor table and architecture.
final class TracedProcess {
    let pid: Int32
    var table: DescriptorTable
    var architecture: Architecture?
    var threads: Set<Int32> = []

    init(pid: Int32, table: DescriptorTable) {
        self.pid = pid
        self.table = table
    }
}

/// A traced thread: where it is in its current syscall.
final class TracedThread {
    let tid: Int32
    var process: TracedProcess
    /// The syscall the thread is inside, when sockettrace waits for its exit.
    var current: SyscallInvocation?
    /// Whether `current` is shown (or only tracked for the socket table).
    var currentShown = false
    /// Not yet past its first stop (auto-attached children start with one).
    var starting = true
    /// Whether the thread is stopped right now (and sockettrace must resume it).
    var stopped = false
    /// A signal sockettrace itself sent, delivered without being reported.
    var hiddenSignal: Int32?

    init(tid: Int32, process: TracedProcess) {
        self.tid = tid
        self.process = process
    }
}
