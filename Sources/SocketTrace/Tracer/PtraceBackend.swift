import CPtrace
import CSpawn
import Glibc
import Foundation

/// The kernel's side of tracing, as the tracer uses it: ptrace requests,
/// wait, and what /proc says about a task. `LinuxPtrace` makes the calls;
/// a test's backend replays a script of stops, so that the loop runs
/// without ptrace (as swift-system mocks its syscalls).
///
/// Requests return 0 or an errno value rather than setting errno, so that a
/// scripted backend can fail them too.
protocol PtraceBackend {
    // MARK: waiting

    /// The next stop of any tracee (waitpid(-1, __WALL)).
    func waitAny(_ mode: WaitMode) -> WaitResult
    /// The next stop of one task; nil when wait failed.
    func waitStatus(of tid: Int32, allThreads: Bool) -> Int32?

    // MARK: starting and ending

    /// The ptrace options sockettrace sets. `traceExit`: PTRACE_O_TRACEEXIT,
    /// a stop at each thread's exit (only while the kernel's work is sampled).
    func optionFlags(followForks: Bool, seccomp: Bool, exitKill: Bool, traceExit: Bool) -> UInt64
    func seize(_ tid: Int32, options: UInt64) -> Int32
    func interrupt(_ tid: Int32) -> Int32
    func detach(_ tid: Int32, signal: Int32) -> Int32

    // MARK: resuming

    func resume(_ tid: Int32, _ mode: Resumption, signal: Int32) -> Int32
    /// Keeps a thread in its group-stop while other events still come.
    func listen(_ tid: Int32) -> Int32

    // MARK: reading a stop

    /// PTRACE_GETEVENTMSG: a new task's id, the id an exec came from.
    func eventMessage(_ tid: Int32) -> UInt64?
    func syscallInfo(_ tid: Int32) -> SyscallStopInfo?
    /// The siginfo of a signal-delivery-stop; nil in a group-stop.
    func signalInfo(_ tid: Int32) -> SignalInfo?

    // MARK: breakpoints (`--functions`)

    func registers(_ tid: Int32) -> Registers?
    func setInstructionPointer(_ tid: Int32, to address: UInt64) -> Int32
    func peekWord(_ tid: Int32, at address: UInt64) -> UInt64?
    func pokeWord(_ tid: Int32, at address: UInt64, _ word: UInt64) -> Int32

    // MARK: reading memory

    /// A stopped process's memory (its arguments' buffers, its strings).
    func memory(of pid: Int32) -> any TraceeMemory

    // MARK: the tracer's own signals

    /// SIGINT, SIGTERM, SIGHUP and SIGQUIT make a blocked wait return EINTR.
    func installInterruptHandlers()
    /// The last interrupting signal since the previous call, or 0.
    func takeInterruptSignal() -> Int32

    // MARK: tasks, as /proc tells them

    /// The thread group and parent of a task.
    func ids(of tid: Int32) -> (tgid: Int32, parent: Int32?)
    /// A task's name (comm).
    func name(of tid: Int32) -> String
    func commandLine(of pid: Int32) -> [String]
    /// The threads of a process, ascending.
    func threadIDs(of pid: Int32) -> [Int32]
    /// Whether the process exists (even when not ours to signal).
    func exists(_ pid: Int32) -> Bool
}

/// How long a wait may block.
enum WaitMode: Equatable {
    /// Not at all (WNOHANG).
    case poll
    case block
    /// Up to this many milliseconds.
    case upTo(milliseconds: Int32)
}

/// What a wait found.
enum WaitResult: Equatable {
    case stop(tid: Int32, status: Int32)
    /// No tracee waits (a poll, or the time ran out).
    case nothing
    /// wait failed with this errno (EINTR for the tracer's own signals,
    /// ECHILD when no tracee is left).
    case failed(errno: Int32)
}

/// How a stopped thread runs on.
enum Resumption: Equatable {
    /// To the next syscall-entry or -exit stop (PTRACE_SYSCALL).
    case toSyscall
    /// To the next seccomp stop or signal (PTRACE_CONT).
    case toSeccompStop
    /// One instruction (PTRACE_SINGLESTEP).
    case singleStep
}

/// What PTRACE_GET_SYSCALL_INFO says of a syscall stop.
enum SyscallStopInfo: Equatable {
    /// An entry, or a seccomp stop (which is one): the AUDIT_ARCH_* value,
    /// the number and the six argument registers.
    case entry(auditArch: UInt32, number: UInt64, arguments: [UInt64])
    case exit(rval: Int64, isError: Bool)
    /// Neither (the kernel reports no syscall for this stop).
    case none
}

/// The registers a function breakpoint reads: where the thread is, its
/// stack, the return value and the six integer argument registers.
struct Registers: Equatable {
    var ip: UInt64
    var sp: UInt64
    var ret: UInt64
    var arguments: [UInt64]
}

/// The real backend: the C wrappers of CSupport, and /proc.
struct LinuxPtrace: PtraceBackend {
    /// errno after a wrapper's -1, else 0.
    private static func outcome(_ result: Int32) -> Int32 { result == 0 ? 0 : errno }

    func waitAny(_ mode: WaitMode) -> WaitResult {
        var status: Int32 = 0
        let tid: Int32
        switch mode {
        case .poll: tid = cs_wait_any(&status, true)
        case .block: tid = cs_wait_any(&status, false)
        case let .upTo(milliseconds): tid = cs_wait_any_for(&status, milliseconds)
        }
        if tid > 0 { return .stop(tid: tid, status: status) }
        return tid == 0 ? .nothing : .failed(errno: errno)
    }

    func waitStatus(of tid: Int32, allThreads: Bool) -> Int32? {
        var status: Int32 = 0
        return cs_wait_pid(tid, &status, allThreads) == tid ? status : nil
    }

    /// PTRACE_O_TRACEEXIT (<linux/ptrace.h>).
    static let traceExitOption: UInt64 = 0x40

    func optionFlags(followForks: Bool, seccomp: Bool, exitKill: Bool, traceExit: Bool) -> UInt64 {
        cs_ptrace_option_flags(followForks, seccomp, exitKill) | (traceExit ? Self.traceExitOption : 0)
    }

    func seize(_ tid: Int32, options: UInt64) -> Int32 { Self.outcome(cs_ptrace_seize(tid, options)) }
    func interrupt(_ tid: Int32) -> Int32 { Self.outcome(cs_ptrace_interrupt(tid)) }
    func detach(_ tid: Int32, signal: Int32) -> Int32 { Self.outcome(cs_ptrace_detach(tid, signal)) }

    func resume(_ tid: Int32, _ mode: Resumption, signal: Int32) -> Int32 {
        switch mode {
        case .toSyscall: Self.outcome(cs_ptrace_syscall(tid, signal))
        case .toSeccompStop: Self.outcome(cs_ptrace_cont(tid, signal))
        case .singleStep: Self.outcome(cs_ptrace_singlestep(tid, signal))
        }
    }

    func listen(_ tid: Int32) -> Int32 { Self.outcome(cs_ptrace_listen(tid)) }

    func eventMessage(_ tid: Int32) -> UInt64? {
        var message: UInt64 = 0
        return cs_ptrace_get_event_message(tid, &message) == 0 ? message : nil
    }

    func syscallInfo(_ tid: Int32) -> SyscallStopInfo? {
        var info = cs_syscall_info()
        guard cs_ptrace_get_syscall_info(tid, &info) == 0 else { return nil }
        switch Int32(info.op) {
        case Int32(CS_SYSCALL_INFO_ENTRY), Int32(CS_SYSCALL_INFO_SECCOMP):
            let arguments = withUnsafeBytes(of: info.args) { raw in Array(raw.bindMemory(to: UInt64.self)) }
            return .entry(auditArch: info.arch, number: info.nr, arguments: arguments)
        case Int32(CS_SYSCALL_INFO_EXIT):
            return .exit(rval: info.rval, isError: info.is_error != 0)
        default:
            return SyscallStopInfo.none
        }
    }

    func signalInfo(_ tid: Int32) -> SignalInfo? {
        var signo: Int32 = 0, code: Int32 = 0, errnoValue: Int32 = 0, sender: Int32 = 0, uid: Int32 = 0, status: Int32 = 0
        var utime: Int64 = 0, stime: Int64 = 0, address: UInt64 = 0, value: UInt64 = 0
        guard cs_ptrace_get_siginfo(tid, &signo, &code, &errnoValue, &sender, &uid, &status, &utime, &stime, &address, &value) == 0
        else { return nil }
        return SignalInfo(signal: signo, code: code, errno: errnoValue, senderPid: sender, senderUid: uid,
                          status: status, userTime: utime, systemTime: stime, address: address, value: value)
    }

    func registers(_ tid: Int32) -> Registers? {
        var registers = cs_user_regs()
        guard cs_ptrace_get_regs(tid, &registers) == 0 else { return nil }
        let arguments = withUnsafeBytes(of: registers.args) { Array($0.bindMemory(to: UInt64.self)) }
        return Registers(ip: registers.ip, sp: registers.sp, ret: registers.ret, arguments: arguments)
    }

    func setInstructionPointer(_ tid: Int32, to address: UInt64) -> Int32 { Self.outcome(cs_ptrace_set_ip(tid, address)) }

    func peekWord(_ tid: Int32, at address: UInt64) -> UInt64? {
        var word: UInt64 = 0
        return cs_ptrace_peek_word(tid, address, &word) == 0 ? word : nil
    }

    func pokeWord(_ tid: Int32, at address: UInt64, _ word: UInt64) -> Int32 { Self.outcome(cs_ptrace_poke_word(tid, address, word)) }

    func installInterruptHandlers() { cs_install_interrupt_handlers() }
    func takeInterruptSignal() -> Int32 { cs_take_interrupt_signal() }

    func ids(of tid: Int32) -> (tgid: Int32, parent: Int32?) {
        guard let file = fopen("/proc/\(tid)/status", "r") else { return (tid, nil) }
        defer { fclose(file) }
        var tgid = tid
        var parent: Int32?
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cBuffer: line)
            if text.hasPrefix("Tgid:") { tgid = Int32(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) ?? tid }
            if text.hasPrefix("PPid:") { parent = Int32(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return (tgid, parent)
    }

    func name(of tid: Int32) -> String {
        (ProcFile.text("/proc/\(tid)/comm") ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func commandLine(of pid: Int32) -> [String] {
        (ProcFile.text("/proc/\(pid)/cmdline") ?? "").split(separator: "\0").map(String.init)
    }

    func threadIDs(of pid: Int32) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(directory) }
        var tids: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    func exists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }
    func memory(of pid: Int32) -> any TraceeMemory { ProcessMemory(pid: pid) }
}
