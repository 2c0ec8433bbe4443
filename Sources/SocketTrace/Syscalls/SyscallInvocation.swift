/// One system call made by one thread, from its entry to its exit: the raw
/// arguments and result, the decoded text split where strace splits it
/// (what is known at entry, what only the exit can tell), and its timing.
public struct SyscallInvocation: Sendable, Codable {
    public let pid: Int32
    public let tid: Int32
    public let architecture: Architecture
    public let syscall: Syscall
    /// The raw arguments (for a socketcall sub-call, the ones read from its array).
    public let arguments: [UInt64]
    public let viaSocketcall: Bool
    /// When the thread went into the call: let go from its entry stop
    /// (what the tracer did while it held the thread there is not the call's).
    public internal(set) var entryTime: MonotonicTime
    /// When the kernel began the call (its `sys_enter` tracepoint), for a
    /// call the tracer stopped at and whose times the kernel kept
    /// (`KernelCallTimes`). A busy
    /// machine can leave a thread waiting for a CPU for milliseconds after
    /// its entry stop; this is when it ran. `entryTime` stays the call's
    /// identity (its entry and exit records are paired by it).
    public internal(set) var kernelEntryTime: MonotonicTime?
    /// When the call began: the kernel's entry where known, else the
    /// moment the tracer let the thread go (strace's -T starts there too).
    public var startTime: MonotonicTime { kernelEntryTime ?? entryTime }
    /// The kernel's `sys_exit` of a call with a `kernelEntryTime`. Its
    /// exit stop (`exitTime`) can come later by the tracer's own wait for a
    /// CPU, and by work deferred to the return to user mode (a close's
    /// release in task_work before Linux 6.6, which runs after `sys_exit`).
    public internal(set) var kernelExitTime: MonotonicTime?
    /// A close of a socket: the address of the `struct file` it closed,
    /// as the kernel had it at `sys_enter` (`KernelCallTimes`). The file's
    /// release frees it: in this close, or later where another reference
    /// was dropped (`FileRelease`).
    public internal(set) var closedFile: UInt64?
    /// The inode of the socket its first argument named when the call
    /// began (the tracer's table at the entry stop; not written): a call
    /// whose descriptor a close took away meanwhile has no socket at its
    /// exit (`FileRelease`: the release of a file the close left to it).
    public internal(set) var inodeAtEntry: UInt64?
    /// A receive that took an SCM_RIGHTS message with no room for its
    /// descriptors (MSG_CTRUNC, or no control buffer): the inodes of the
    /// sockets whose references in it the kernel closed (the tracer's
    /// count of messages; not written).
    public internal(set) var rightsDropped: [UInt64]?
    /// A close of a UNIX socket's last reference (format 1.24): the
    /// sockets released with it, held only by SCM_RIGHTS messages waiting
    /// at it, which the kernel drops with it (their release runs as the
    /// close returns: the message's reference is the file's last).
    public internal(set) var releasedInMessages: [CarriedSocket]?
    /// A call that held sockets another thread's close, dup2 or
    /// close_range took the descriptors of: their files' last references
    /// went as it returned (not written; audit 82 P2: their frees left out).
    public internal(set) var releasesHeldSockets: Bool?
    /// When the call returned: the kernel's `sys_exit`, or the last of its
    /// kernel work sampled after it (deferred to the return to user mode);
    /// where the kernel's time is not known, the exit stop.
    public var endTime: MonotonicTime? {
        guard let exitTime else { return nil }
        guard let kernelExit = kernelExitTime else { return exitTime }
        return max(kernelExit, kernel?.samples.lazy.map { min($0.time, exitTime) }.max() ?? kernelExit)
    }
    /// Wall-clock time at entry, for `-t`, `-tt` and `-ttt`.
    public var wallClock: WallClock?

    /// `name(` and the arguments decodable at entry.
    public var entryText: String = ""
    /// The arguments decodable only at exit (printed after `<... resumed>`).
    public var exitText: String = ""
    /// Values read at entry that the exit needs (in-lengths of value-result args).
    public var saved: [Int64] = []

    public var exitTime: MonotonicTime?
    public var result: SyscallResult?
    /// `= 3`, `= -1 ECONNREFUSED (Connection refused)`, `= 0x2 (flags O_RDWR)`.
    public var returnText: String = ""
    /// strace's own text (plain descriptors) when the main text is decorated
    /// and a trace file needs both.
    public var plainText: PlainText?
    /// The thread's user stack at the call, innermost first (`-k`).
    public var userStack: [UserFrame]?
    /// The program's own functions the thread was inside (`--functions`), outermost first.
    public var functions: [String]?
    /// What the kernel did for the call, when kernel observation is on.
    public var kernel: KernelActivity?
    /// "kernel" when the call ran without a stop and the kernel recorded it
    /// (`DataCallCapture`): its times are its sys_enter and sys_exit tracepoints'.
    public var recordedBy: String?
    public var recordedByKernel: Bool { recordedBy == "kernel" }
    /// The socket the call acted on (for accept, the one it returned), as
    /// the table knew it when the call returned.
    public var socket: SocketSnapshot?
    /// For a connect: the state its socket was in when the call began (a
    /// second connect sends no SYN) and the family of the address it gave
    /// (AF_UNSPEC disconnects; then `socket` is as the call found it).
    public var connectStart: ConnectStart?

    public init(pid: Int32, tid: Int32, architecture: Architecture, syscall: Syscall,
                arguments: [UInt64], viaSocketcall: Bool = false, entryTime: MonotonicTime) {
        self.pid = pid
        self.tid = tid
        self.architecture = architecture
        self.syscall = syscall
        self.arguments = arguments
        self.viaSocketcall = viaSocketcall
        self.entryTime = entryTime
    }

    public func argument(_ index: Int) -> UInt64 {
        guard index < arguments.count else { return 0 }
        let value = arguments[index]
        return architecture == .i386 ? value & 0xffff_ffff : value
    }

    /// The syscall's name as strace shows it.
    public var name: String { syscall.rawValue }

    /// sendto with MSG_FASTOPEN and a destination: TCP Fast Open's connect,
    /// its data in the SYN when the peer's cookie is cached (otherwise the
    /// SYN asks for one and the data follows the handshake).
    public var isFastOpen: Bool {
        syscall == .sendto && arguments.count > 4 && arguments[3] & 0x2000_0000 != 0 && arguments[4] != 0
    }

    /// A connect the kernel's samples show TCP Fast Open deferred: its
    /// operation is the deferred connect's (tcp_connect_deferred or
    /// tcp6_, chosen only when the connect left its socket in TCP_SYN_SENT
    /// with no SYN on tcp_connect's path).
    public var connectDeferredByFastOpen: Bool {
        kernel?.operation?.hasSuffix("connect_deferred") == true
    }

    /// The address (pointer and length) a call connects its socket to:
    /// connect's, or a Fast Open sendto's; nil for any other call.
    public var connectAddress: (address: UInt64, length: UInt64)? {
        if syscall == .connect { return (argument(1), argument(2)) }
        return isFastOpen ? (argument(4), argument(5)) : nil
    }

    public var duration: Double? {
        endTime.map { $0.seconds - startTime.seconds }
    }

    /// With `-c`: the CPU time the thread spent between its entry and exit
    /// stops, in seconds. No user code runs in between, so this is the
    /// call's system time, what strace's -c counts (not written to trace files).
    public var systemTime: Double?
    /// The thread's CPU time at the entry stop, in nanoseconds.
    var cpuTimeAtEntry: UInt64?
    /// sendmmsg and recvmmsg: the bytes of all their messages (their
    /// result counts messages), read from each mmsghdr's msg_len at exit.
    public var transferredBytes: Int64?
}

/// What a connect found when it began: what its kernel work depends on
/// besides its socket's kind.
public struct ConnectStart: Sendable, Codable, Equatable {
    public var state: SocketInfo.State?
    /// The `sa_family` of the address given (0: AF_UNSPEC); nil when unreadable.
    public var addressFamily: UInt64?

    public init(state: SocketInfo.State?, addressFamily: UInt64?) {
        self.state = state
        self.addressFamily = addressFamily
    }

    /// connect(AF_UNSPEC): the socket's association is dissolved (a TCP
    /// connection reset or dropped, tcp_disconnect), nothing connected.
    public var disconnects: Bool { addressFamily == 0 }
}

/// A socket at one moment: what the trace file keeps of `SocketInfo`.
public struct SocketSnapshot: Sendable, Codable, Equatable {
    public var fd: Int32
    /// The socket's inode (its identity while it lives): what pairs a
    /// connection's calls whatever descriptor numbers they used. Absent in
    /// trace files before version 1.4.
    public var inode: UInt64?
    public var family: UInt64
    public var type: UInt64
    public var protocolLabel: String
    public var local: SocketEndpoint?
    public var peer: SocketEndpoint?
    public var state: SocketInfo.State
    /// For a close: how many other descriptors of traced processes held the
    /// socket (a close that leaves one releases nothing); nil when not known
    /// (children not followed).
    public var otherReferences: Int?
    /// Of `otherReferences`, those in SCM_RIGHTS messages a traced process
    /// sent that no traced process was seen to take in: still queued, or
    /// taken in by a task not traced (audit 100 F1: all were said to be
    /// the traced processes' own).
    public var otherReferencesInMessages: Int?
    /// For a close, when the kernel showed it: whether the close released
    /// the file (dropped its last reference, so the socket was released),
    /// by the free of the file in it or not (`FileRelease`). It
    /// outranks `otherReferences`: a call of another thread in flight on
    /// the socket, or a poll waiting on it, holds a reference no
    /// descriptor table shows (audit 69 M1).
    public var releasedByClose: Bool?
    /// Whether a close leaves the socket to another reference: the
    /// kernel's answer where known, else the traced descriptors' count.
    public var isShared: Bool { releasedByClose.map { !$0 } ?? ((otherReferences ?? 0) > 0) }
    /// For a close of a TCP socket the calls left connected, with kernel
    /// observation: the state the kernel gave it at the call's entry
    /// (TCP_INFO's `tcpi_state`, read on a copy of the descriptor), so a
    /// connection the kernel closed with no call there to see it (a reset
    /// taken in by another task) is known closed (format 1.10).
    public var tcpState: Int64?
    /// The network namespace it was made in (format 1.13), when read.
    public var netns: UInt64?

    public init(fd: Int32, family: UInt64, type: UInt64, protocolLabel: String, local: SocketEndpoint?,
                peer: SocketEndpoint?, state: SocketInfo.State, inode: UInt64? = nil) {
        self.fd = fd
        self.inode = inode
        self.family = family
        self.type = type
        self.protocolLabel = protocolLabel
        self.local = local
        self.peer = peer
        self.state = state
    }

    public init(fd: Int32, socket: SocketInfo) {
        self.fd = fd
        inode = socket.inode
        family = socket.family
        type = socket.type
        protocolLabel = socket.protocolLabel
        local = socket.local
        peer = socket.peer
        state = socket.state
        netns = socket.netns
    }
}

extension SocketSnapshot {
    public var isTCP: Bool { (family == 2 || family == 10) && type == 1 }
    /// An IPv4 or IPv6 datagram socket (UDP).
    public var isUDP: Bool { (family == 2 || family == 10) && type == 2 }
    /// A socket whose family is known and that is not TCP (UNIX, UDP,
    /// netlink): never the one a TCP segment or tracepoint is for.
    public var isKnownNotTCP: Bool { family != 0 && !isTCP }
}

/// A call's text with plain descriptor numbers, as strace prints it.
public struct PlainText: Sendable, Codable {
    public var entryText: String
    public var exitText: String
    public var returnText: String = ""
}

/// What a syscall returned: a value, or an errno (including the kernel's
/// internal restart codes, which strace shows as `= ?`).
public struct SyscallResult: Sendable, Equatable, Codable {
    public let value: Int64
    public let errno: Int32?

    public init(value: Int64, errno: Int32?) {
        self.value = value
        self.errno = errno
    }

    /// From PTRACE_GET_SYSCALL_INFO's exit fields.
    public init(rval: Int64, isError: Bool) {
        if isError {
            self.value = -1
            self.errno = Int32(truncatingIfNeeded: -rval)
        } else {
            self.value = rval
            self.errno = nil
        }
    }

    public var failed: Bool { errno != nil }

    /// True for ERESTARTSYS and friends: the call did not complete and will be
    /// restarted (or fail with EINTR) after a signal.
    public var isRestart: Bool {
        guard let errno else { return false }
        return (512...516).contains(errno)
    }
}

/// A CLOCK_MONOTONIC instant, the clock perf samples also use.
public struct MonotonicTime: Sendable, Comparable, Hashable, Codable {
    public let nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// Written as a plain number of nanoseconds.
    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanoseconds)
    }

    public static func now() -> MonotonicTime {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicTime(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public static func < (a: MonotonicTime, b: MonotonicTime) -> Bool { a.nanoseconds < b.nanoseconds }
}

/// A CLOCK_REALTIME instant in seconds and microseconds, as strace prints it.
public struct WallClock: Sendable, Codable {
    public let seconds: Int
    public let microseconds: Int

    public static func now() -> WallClock {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClock(seconds: spec.tv_sec, microseconds: spec.tv_nsec / 1000)
    }

    /// The wall-clock time it was at a monotonic instant of the past (a
    /// call the kernel recorded), as far as the clocks have not been set since.
    public static func at(_ time: MonotonicTime) -> WallClock {
        let (now, monotonic) = (WallClock.now(), MonotonicTime.now())
        let ago = Int(min(monotonic.nanoseconds &- time.nanoseconds, monotonic.nanoseconds) / 1000)
        let total = now.seconds * 1_000_000 + now.microseconds - ago
        return WallClock(seconds: total / 1_000_000, microseconds: total % 1_000_000)
    }
}

import Glibc
