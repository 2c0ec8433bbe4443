import Glibc

/// What a wait status says happened to a traced task: strace's
/// `next_event`, as a value. Built from the status alone, by a pure
/// function (the <sys/wait.h> macros and ptrace's event bits written out),
/// so the loop's dispatch can be tested with statuses of any kind.
public enum Stop: Equatable, Sendable {
    /// The task ended with this exit status.
    case exited(status: Int32)
    /// The task was killed by a signal.
    case killed(signal: Int32, coreDumped: Bool)
    /// A syscall-stop (SIGTRAP | 0x80, with PTRACE_O_TRACESYSGOOD).
    case syscall
    /// A seccomp filter's SECCOMP_RET_TRACE: a traced syscall's entry.
    case seccomp
    /// fork, vfork or clone made a task; its id is the event message.
    case created(Creation)
    /// A successful execve (the task may have a new id: the event message).
    case exec
    /// A group-stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) under PTRACE_SEIZE.
    case groupStop(signal: Int32)
    /// PTRACE_EVENT_STOP for another reason: a new task's first stop, or
    /// PTRACE_INTERRUPT (then the signal is SIGTRAP).
    case eventStop(signal: Int32)
    /// PTRACE_EVENT_EXIT (with PTRACE_O_TRACEEXIT): the thread has begun
    /// to exit (do_exit, before its files are let go), whatever ends it:
    /// exit, exit_group, a fatal signal, SIGKILL (measured on 6.18: every
    /// thread of a SIGKILLed process stops here too).
    case exiting
    /// Another ptrace event (vfork-done): nothing to do but resume.
    case otherEvent(Int32)
    /// A signal about to be delivered (signal-delivery-stop), breakpoint
    /// SIGTRAPs included.
    case signal(Int32)
    /// Anything else wait may report (continued, a status not understood).
    case other(Int32)

    public enum Creation: Equatable, Sendable { case fork, vfork, clone }

    /// ptrace's event numbers, in the status's bits 16–23.
    enum Event: Int32 {
        case fork = 1, vfork = 2, clone = 3, exec = 4, vforkDone = 5, exit = 6, seccomp = 7, stop = 128
    }

    static let syscallTrap = SIGTRAP | 0x80
    static let groupStopSignals: Set<Int32> = [SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]

    public init(waitStatus status: Int32) {
        let low = status & 0x7f
        if low == 0 {
            self = .exited(status: (status >> 8) & 0xff)
            return
        }
        if status & 0xff == 0x7f {
            let signal = (status >> 8) & 0xff
            let event = Int32(bitPattern: UInt32(bitPattern: status) >> 16)
            switch Event(rawValue: event) {
            case nil where event == 0:
                self = signal == Self.syscallTrap ? .syscall : .signal(signal)
            case .fork?: self = .created(.fork)
            case .vfork?: self = .created(.vfork)
            case .clone?: self = .created(.clone)
            case .exec?: self = .exec
            case .exit?: self = .exiting
            case .seccomp?: self = .seccomp
            case .stop?: self = Self.groupStopSignals.contains(signal) ? .groupStop(signal: signal) : .eventStop(signal: signal)
            default: self = .otherEvent(event)
            }
            return
        }
        if low != 0x7f {
            self = .killed(signal: low, coreDumped: status & 0x80 != 0)
            return
        }
        self = .other(status)
    }

    /// The task is gone (exited or killed).
    public var isEnd: Bool {
        switch self {
        case .exited, .killed: true
        default: false
        }
    }

    /// The task is in a ptrace stop, waiting to be resumed.
    public var isStopped: Bool {
        switch self {
        case .exited, .killed, .other: false
        default: true
        }
    }

    /// The stop PTRACE_INTERRUPT makes.
    public var isInterrupt: Bool { self == .eventStop(signal: SIGTRAP) }

    /// The signal a detach should deliver: one that was about to be (a
    /// signal-delivery-stop's), none for ptrace's own stops.
    public var pendingSignal: Int32? {
        if case let .signal(signal) = self { return signal }
        return nil
    }
}
