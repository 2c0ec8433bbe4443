import Glibc

/// Kprobes at the entry of the model's functions, as kprobe events of
/// tracefs' `kprobe_events` in a group of this run's own,
/// `sockettrace_PID`: each is then opened with perf_event_open like a
/// tracepoint (with `inherit`, which perf's kprobe PMU cannot serve: every
/// inherited event of that PMU registers a kprobe of its own, measured on
/// 6.1 under TCG as ~10 ms per kprobe and CPU at each fork and ~50 ms at
/// each exit). The events are removed when their perf events are closed (by
/// the release helper, `KernelSampler.close`); a run killed before that
/// leaves its group behind, and the next run removes every group whose run
/// is gone, as `Tracefs` does with private mounts.
public enum Kprobes {
    static let pmuTypePath = "/sys/bus/event_source/devices/kprobe/type"

    /// Whether the kernel has kprobe events (the kprobe PMU exists wherever
    /// CONFIG_KPROBE_EVENTS is on, 4.17+), read before tracefs is mounted.
    public static var available: Bool { access(pmuTypePath, R_OK) == 0 }

    public static let unavailable = "this kernel has no kprobes (no \(pmuTypePath): CONFIG_KPROBES or CONFIG_KPROBE_EVENTS is off)"

    static let groupPrefix = "sockettrace_"

    /// This run's group of kprobe events.
    static var group: String { groupPrefix + String(getpid()) }

    /// The run a kprobe group belongs to, if it is one of ours.
    static func owner(ofGroup group: Substring) -> Int32? {
        guard group.hasPrefix(groupPrefix) else { return nil }
        return Int32(group.dropFirst(groupPrefix.count))
    }

    /// `-:GROUP/EVENT` for every event of `kprobe_events`' text whose group
    /// is a run's that is gone (`p:sockettrace_123/tcp_sendmsg tcp_sendmsg`).
    static func abandoned(_ text: String, alive: (Int32) -> Bool) -> [String] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":"), let name = line[line.index(after: colon)...].split(separator: " ").first,
                  let slash = name.firstIndex(of: "/"), let pid = owner(ofGroup: name[..<slash]),
                  pid != getpid(), !alive(pid) else { return nil }
            return "-:" + name
        }
    }

    /// Why the kernel refused a kprobe at a function's start, by errno.
    static func refusal(_ error: Int32) -> String {
        switch error {
        case EINVAL: return "not probed: kprobe refused (EINVAL: notrace, or on the kprobe blacklist)"
        case EILSEQ: return "not probed: kprobe refused (EILSEQ: not an instruction boundary)"
        case ENOENT: return "not probed: kprobe refused (ENOENT: not a symbol the kernel can probe)"
        case EADDRNOTAVAIL: return "not probed: kprobe refused (EADDRNOTAVAIL)"
        default: return "not probed: kprobe refused (" + errnoMessage(error) + ")"
        }
    }
}

/// Which of the model's functions carry a kprobe in this trace, and why
/// the others do not: what a function that was never hit means (it did
/// not run on the traced threads, or it could not be watched).
public struct FunctionProbeStatus: Sendable, Equatable {
    /// Probed functions, with how many copies (`dst_output` has several).
    public var probed: [String: Int] = [:]
    /// Functions without a probe, with the reason.
    public var unprobed: [String: String] = [:]

    public static let noSymbol = "not probed: no symbol in this kernel (inlined everywhere, renamed, or not in this version)"

    /// Why `function` was not hit in a call: not probed (and why), or probed and not hit.
    public func notHitReason(_ function: String) -> String {
        if let reason = unprobed[function] { return reason }
        if probed[function] != nil { return "probed, not hit: did not run on this thread during the call" }
        return "not probed: not in the probe set"
    }
}

/// The kprobe events of `--probe-set functions`, written to tracefs'
/// kprobe_events: an entry probe (and a return probe) at each copy of each
/// model function in play.
extension KernelSampler {
    func createKprobeEvents() throws -> [(function: String, format: TracepointFormat)] {
        let control = tracefs.path + "/kprobe_events"
        if let text = ProcFile.text(control) {
            let stale = Kprobes.abandoned(text) { kill($0, 0) == 0 || errno != ESRCH }
            if !stale.isEmpty, let file = fopen(control, "a") {
                for line in stale { fputs(line + "\n", file); fflush(file) }
                fclose(file)
            }
        }
        kprobeControl = Glibc.open(control, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard kprobeControl >= 0 else {
            throw TraceError(operation: "opening \(control) (kprobes)", errno: errno)
        }
        // Two descriptors or more per function (one per CPU): more than the
        // usual soft limit of 1,024 on a machine with a few CPUs.
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        var status = FunctionProbeStatus()
        var events: [(function: String, format: TracepointFormat)] = []
        for function in functionTargets {
            // A `.cold` part is not an entry: its start would count the function twice.
            let starts = symbols.starts(of: function).filter { !(symbols.fullName(at: $0)?.contains(".cold") ?? false) }
            guard !starts.isEmpty else {
                status.unprobed[function] = FunctionProbeStatus.noSymbol
                continue
            }
            var refused: Int32 = 0
            for (copy, start) in starts.enumerated() {
                // By name where it is unique (what kallsyms kept may be stale), else by address.
                let event = copy == 0 ? function : "\(function)__\(copy)"
                let target = starts.count == 1 && symbols.fullName(at: start) == function ? function : "0x" + String(start, radix: 16)
                let line = "p:\(Kprobes.group)/\(event) \(target)"
                guard Glibc.write(kprobeControl, line, line.utf8.count) == line.utf8.count else {
                    refused = errno
                    continue
                }
                removal.append("-:\(Kprobes.group)/\(event)")
                events.append((function, try tracefs.format(of: "\(Kprobes.group):\(event)")))
                // Its return, for the time inside it; without it (refused),
                // the function's entries are still counted.
                let returning = "r:\(Kprobes.group)/\(event)__return \(target)"
                if Glibc.write(kprobeControl, returning, returning.utf8.count) == returning.utf8.count {
                    removal.append("-:\(Kprobes.group)/\(event)__return")
                    kretprobeEvents.append((function, try tracefs.format(of: "\(Kprobes.group):\(event)__return")))
                }
            }
            let copies = events.filter { $0.function == function }.count
            if copies > 0 { status.probed[function] = copies } else { status.unprobed[function] = Kprobes.refusal(refused) }
        }
        kprobeEvents = events
        functionProbes = status
        return events
    }
}
