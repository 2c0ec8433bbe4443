/// A traced process (thread group): its descriptor table and architecture.
final class TracedProcess {
    let pid: Int32
    var table: DescriptorTable
    /// Sockets a thread's call held when the process's end took the thread
    /// (`TracedThread.releasesOnReturn`): released by its exit (audit 79 B:
    /// the carried socket's release said nowhere).
    var heldByEndedCalls: [SocketInfo] = []
    var architecture: Architecture?
    var threads: Set<Int32> = []
    /// The breakpoints of `--functions` in its memory, once placed.
    var breakpoints: Breakpoints?
    /// Whether sockettrace looked for the functions of its current program.
    var functionsPlaced = false
    /// Its threads that stopped at their exit (PTRACE_EVENT_EXIT) while it
    /// held sockets its end releases, and whether the sampler captures
    /// what they do (`ExitCaptureSource`).
    var exitingThreads: Set<Int32> = []
    var exitCaptured = false
    /// Its threads that stopped at their exit while another traced process
    /// still held its sockets: no capture then, but that holder's close may
    /// leave the exit to release them (`captureExitsLeftHolding`).
    var exitStoppedSharing: Set<Int32> = []
    /// Whose close opened its capture after its exit stop, when one did.
    var exitCaptureOpenedBy: String?
    /// Whether its descriptors may change out of the traced calls' sight:
    /// it made an io_uring instance (`RingSetupCall`), or held one when
    /// attached to, or its parent did when it forked. Its calls' descriptors
    /// are then checked against /proc (`Tracer.forgetChangedDescriptors`).
    var descriptorsChangeUnseen = false

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
    /// The socket of a close in flight (entered, its exit stop not yet
    /// seen): until the kernel's close has run, its reference may still
    /// be the one another task's close leaves behind (`references(to:)`).
    var closing: SocketInfo?
    /// The socket the current call's descriptor named at its entry stop:
    /// its socket at the exit stop when another thread's close took the
    /// descriptor away meanwhile (audit 72 e: such a recv had none, and no
    /// operation).
    var socketAtEntry: SocketInfo?
    /// UNIX sockets another thread's close left to the current call (its
    /// file held from its entry): their last reference goes as it returns,
    /// and with it the SCM_RIGHTS messages waiting at them (audit 78 F1:
    /// dropped at the close, which released nothing).
    var releasesOnReturn: [SocketInfo] = []
    /// Not yet past its first stop (auto-attached children start with one).
    var starting = true
    /// Whether the thread is stopped right now (and sockettrace must resume it).
    var stopped = false
    /// A signal sockettrace itself sent, delivered without being reported.
    var hiddenSignal: Int32?
    /// Kept in group-stop with PTRACE_LISTEN.
    var listening = false
    /// The traced functions it is inside, outermost first (`--functions`).
    var functionStack: [ActiveFunction] = []
    /// A new child process held at its first stop until its parent's fork
    /// event tells which breakpoints its memory holds.
    var awaitingParent = false
    /// A signal that arrived while stepping over a breakpoint, delivered at
    /// the next resume.
    var deferredSignal: Int32 = 0
    /// A breakpoint the thread was stopped at before its step ran: hitting
    /// it again is not a new entry.
    var repeatedBreakpoint: UInt64?

    init(tid: Int32, process: TracedProcess) {
        self.tid = tid
        self.process = process
    }
}
