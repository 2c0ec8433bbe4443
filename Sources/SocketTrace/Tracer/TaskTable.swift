/// Every task the tracer follows: threads by id, the processes (thread
/// groups) they belong to, and the names they had. Where a thread is in its
/// syscall is on the thread (`TracedThread.current`); calls let run to
/// their exit are in `AwaitedExits`, which the output settles.
///
/// A class: the stops' handlers read it while they change it (unwinding
/// `--functions` looks for a stopped thread of the process being emptied).
final class TaskTable {
    private(set) var threads: [Int32: TracedThread] = [:]
    private(set) var processes: [Int32: TracedProcess] = [:]
    /// The tracees' names (comm), read when they start or exec, so that
    /// events after they are gone still name them.
    private var names: [Int32: String] = [:]

    /// Tasks whose first stop came before their creator's fork or clone
    /// event, until that event comes; and those of them that ended first
    /// (a short-lived child, its exit stop and status all before the
    /// parent's event): the event must not make them anew.
    var awaitingCreatorEvent: Set<Int32> = []
    var endedBeforeCreatorEvent: Set<Int32> = []

    /// When threads no longer followed ended (or were let go): their
    /// samples drained after that are still theirs. Bounded.
    private var endedAt: [Int32: MonotonicTime] = [:]
    static let endedLimit = 4096

    /// Whether `tid` was a traced thread when a sample of it was taken at
    /// `time`: followed now, or until it ended after `time`.
    func wasTraced(_ tid: Int32, at time: MonotonicTime) -> Bool {
        threads[tid] != nil || endedAt[tid].map { time <= $0 } == true
    }

    private func noteEnded(_ tid: Int32) {
        if endedAt.count >= Self.endedLimit {
            let oldest = endedAt.sorted { $0.value < $1.value }.prefix(endedAt.count / 2)
            for (tid, _) in oldest { endedAt[tid] = nil }
        }
        endedAt[tid] = .now()
    }

    var isEmpty: Bool { threads.isEmpty }
    var count: Int { threads.count }

    subscript(tid: Int32) -> TracedThread? { threads[tid] }

    @discardableResult
    func add(_ tid: Int32, to process: TracedProcess, starting: Bool) -> TracedThread {
        let thread = TracedThread(tid: tid, process: process)
        thread.starting = starting
        threads[tid] = thread
        process.threads.insert(tid)
        processes[process.pid] = process
        return thread
    }

    /// A new process, with a copy of its parent's descriptor table (fork
    /// copies it) and its architecture, when the parent is traced.
    func newProcess(_ pid: Int32, parent: TracedProcess?) -> TracedProcess {
        let process = TracedProcess(pid: pid, table: (parent?.table ?? DescriptorTable()).copy())
        process.architecture = parent?.architecture
        process.descriptorsChangeUnseen = parent?.descriptorsChangeUnseen ?? false
        return process
    }

    /// A thread that ended: out of the table and its process, and the
    /// process out of the table when it was its last. Returns the thread
    /// and whether its process ended with it.
    func remove(ended tid: Int32) -> (thread: TracedThread, processEnded: Bool)? {
        guard let thread = threads.removeValue(forKey: tid) else { return nil }
        noteEnded(tid)
        thread.process.threads.remove(tid)
        guard thread.process.threads.isEmpty else { return (thread, false) }
        processes[thread.process.pid] = nil
        return (thread, true)
    }

    /// A thread no longer followed (detached, or gone in its process's exec),
    /// its process left as it is.
    func forget(_ tid: Int32) {
        if threads.removeValue(forKey: tid) != nil { noteEnded(tid) }
    }

    /// The name of a task, read again (`read`) when asked to or not known.
    func name(of tid: Int32, reading read: Bool, from ptrace: any PtraceBackend) -> String? {
        if read || names[tid] == nil { names[tid] = ptrace.name(of: tid) }
        return names[tid]
    }

    /// The name a task had, forgotten now that it is gone.
    func takeName(of tid: Int32) -> String? { names.removeValue(forKey: tid) }

    /// A stopped thread of `process`, to write its memory through.
    func stoppedThread(of process: TracedProcess) -> Int32? {
        process.threads.first { threads[$0]?.stopped == true }
    }
}
