/// Signal names and the siginfo fields strace shows in `--- SIG… {…} ---`.
public enum SignalName {
    static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
        8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
        14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
        20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
        26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    ]

    public static func name(_ signal: Int32) -> String {
        if let name = names[signal] { return name }
        if signal == 32 { return "SIGRT_0" }
        if signal == 33 { return "SIGRT_1" }
        if signal >= 34 && signal <= 64 { return signal == 34 ? "SIGRTMIN" : "SIGRT_\(signal - 32)" }
        return String(signal)
    }
}

/// The siginfo of a signal-delivery-stop.
public struct SignalInfo: Sendable, Codable {
    public let signal: Int32
    public let code: Int32
    public let errno: Int32
    public let senderPid: Int32
    public let senderUid: Int32
    public let status: Int32
    public let userTime: Int64
    public let systemTime: Int64
    public let address: UInt64
    /// The sigval of a queued or timer signal (si_int is its low half);
    /// nil in trace files written before it was kept.
    public var value: UInt64?

    public init(signal: Int32, code: Int32, errno: Int32, senderPid: Int32, senderUid: Int32, status: Int32,
                userTime: Int64, systemTime: Int64, address: UInt64, value: UInt64? = nil) {
        self.signal = signal
        self.code = code
        self.errno = errno
        self.senderPid = senderPid
        self.senderUid = senderUid
        self.status = status
        self.userTime = userTime
        self.systemTime = systemTime
        self.address = address
        self.value = value
    }

    /// CPU time in clock ticks (USER_HZ, 100 a second), with the seconds as
    /// a comment when there are any, as strace shows it.
    static func clockTicks(_ ticks: Int64) -> String {
        guard ticks > 0 else { return String(ticks) }
        let hundredths = ticks * 100 / 100
        return "\(ticks) /* \(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s */"
    }

    /// si_code values from user space (include/uapi/asm-generic/siginfo.h).
    static let queue: Int32 = -1, timer: Int32 = -2, messageQueue: Int32 = -3

    /// `{si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=…}` as strace prints it.
    public var straceText: String {
        var fields = ["si_signo=" + SignalName.name(signal)]
        if code == 0x80 {
            fields.append("si_code=SI_KERNEL")
            return "{" + fields.joined(separator: ", ") + "}"
        }
        if code <= 0 {
            let names: [Int32: String] = [0: "SI_USER", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ",
                                          -4: "SI_ASYNCIO", -5: "SI_SIGIO", -6: "SI_TKILL"]
            fields.append("si_code=" + (names[code] ?? String(code)))
            // By si_code, as strace: a timer's id and overrun where a sender's pid and uid would be.
            if code == Self.timer {
                fields.append("si_timerid=" + (senderPid == 0 ? "0" : "0x" + String(UInt32(bitPattern: senderPid), radix: 16)))
                fields.append("si_overrun=\(senderUid)")
            } else {
                fields.append("si_pid=\(senderPid)")
                fields.append("si_uid=\(senderUid)")
            }
            if code == Self.queue || code == Self.timer || code == Self.messageQueue, let value {
                fields.append("si_int=\(Int32(truncatingIfNeeded: value))")
                fields.append("si_ptr=" + (value == 0 ? "NULL" : "0x" + String(value, radix: 16)))
            }
            return "{" + fields.joined(separator: ", ") + "}"
        }
        switch signal {
        case 17:
            let codes: [Int32: String] = [1: "CLD_EXITED", 2: "CLD_KILLED", 3: "CLD_DUMPED", 4: "CLD_TRAPPED",
                                          5: "CLD_STOPPED", 6: "CLD_CONTINUED"]
            fields.append("si_code=" + (codes[code] ?? String(code)))
            fields.append("si_pid=\(senderPid)")
            fields.append("si_uid=\(senderUid)")
            fields.append("si_status=" + (code == 1 ? String(status) : SignalName.name(status)))
            fields.append("si_utime=" + Self.clockTicks(userTime))
            fields.append("si_stime=" + Self.clockTicks(systemTime))
        case 11, 7, 4, 8:
            let codes: [Int32: [Int32: String]] = [
                11: [1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"],
                7: [1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR"],
                4: [1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC"],
                8: [1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF"],
            ]
            fields.append("si_code=" + (codes[signal]?[code] ?? String(code)))
            fields.append("si_addr=" + (address == 0 ? "NULL" : "0x" + String(address, radix: 16)))
        default:
            fields.append("si_code=\(code)")
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }
}
