/// A sampled stack cut into its parts: plumbing (entering the kernel, the
/// tracepoint's own machinery), the syscall's frames, the frames leading
/// into softirq work run on the same stack, and that work.
extension ChainAligner {
    /// Frames that are the machinery of entering the kernel or of the
    /// tracepoint itself, not part of the network stack's path. A
    /// syscall's own functions are not: its wrapper (`__x64_sys_sendto`,
    /// a 32-bit program's `__ia32_compat_sys_socketcall`) and its body when
    /// a frame of its own (`__do_sys_wait4`, which x64_sys_call calls with
    /// the wrapper inlined) are shown (audit 67 H1: left out).
    static func isPlumbing(_ name: String) -> Bool {
        name.hasPrefix("entry_SYSCALL") || name == "do_syscall_64" || name == "x64_sys_call"
            || name.hasPrefix("call_trace_") || name.hasPrefix("trace_event_") || name.hasPrefix("perf_trace")
            || name.hasPrefix("__traceiter_") || name.hasPrefix("__bpf_trace") || name == "do_int80_emulation"
            || name.hasPrefix("__do_fast_syscall_32") || name.hasPrefix("do_fast_syscall_32")
            || name.hasPrefix("entry_INT80") || name.hasPrefix("entry_SYSENTER") || name == "ia32_sys_call"
            // entry_SYSCALL_compat's return from do_fast_syscall_32 (a label of its own in kallsyms).
            || name == "sysret32_from_system_call" || name == "do_SYSENTER_32" || name == "do_int80_syscall_32"
            || name == "int80_emulation" || name == "asm_int80_emulation"
    }

    /// The tracepoint's own machinery, innermost: the iterator its hit goes
    /// through when more than one program listens on it (perf's events and
    /// sockettrace's BPF program on net_dev_queue), and the handlers. Not
    /// the function that fired it (`call_trace_sock_send_length` is shown).
    static func isTracepointMachinery(_ name: String) -> Bool {
        name.hasPrefix("__traceiter_") || name.hasPrefix("perf_trace_") || name.hasPrefix("trace_event_raw_event_")
            || name.hasPrefix("__bpf_trace_") || name.hasPrefix("bpf_trace_run")
    }

    /// A noinline function whose only work is to fire a tracepoint
    /// (net/socket.c's `call_trace_sock_send_length`, called after the
    /// protocol's sendmsg returned): a frame of the stack, shown, but not
    /// the network stack's path, so the model does not name it and it is
    /// not counted as leaving the model.
    static func isTracepointCaller(_ name: String) -> Bool {
        name.hasPrefix("call_trace_")
    }

    /// The indices of a chain (innermost first) that are shown: all but
    /// the entry's plumbing, outermost (`entry_SYSCALL_64 → do_syscall_64
    /// → x64_sys_call`), and the tracepoint's own machinery, innermost.
    static func shownIndices(_ chain: [String]) -> Range<Int> {
        guard let outermost = chain.lastIndex(where: { !isPlumbing($0) }) else { return 0..<0 }
        let innermost = chain.firstIndex { !isTracepointMachinery($0) } ?? chain.count
        return innermost <= outermost ? innermost..<(outermost + 1) : 0..<0
    }

    /// A syscall's own entry frame (`__x64_sys_sendto`).
    static func isSyscallEntry(_ name: String) -> Bool {
        name.hasPrefix("__x64_sys_") || isEntry32(name)
    }

    /// Where a chain leaves the syscall for softirq work done on its stack.
    static let softirqBoundary: Set<String> = [
        "__local_bh_enable_ip", "do_softirq", "__do_softirq", "handle_softirqs", "irq_exit_rcu",
        "do_softirq_own_stack", "__irq_exit_rcu", "local_bh_enable", "run_ksoftirqd",
    ]

    /// A hard interrupt's entry: where one landed in the syscall's frames
    /// and, on its way out (`__irq_exit_rcu`), ran softirq work.
    static func isInterruptEntry(_ name: String) -> Bool {
        name.hasPrefix("asm_sysvec_") || name.hasPrefix("sysvec_") || name == "asm_common_interrupt"
            || name == "common_interrupt" || name.hasPrefix("asm_spurious_interrupt")
    }

    /// The softirq a chain's first frame after the boundary runs.
    static let softirqKinds: [String: String] = [
        "net_rx_action": "NET_RX", "net_tx_action": "NET_TX", "run_timer_softirq": "TIMER", "__run_timers": "TIMER",
        "run_timer_base": "TIMER", "tasklet_action": "TASKLET", "tasklet_hi_action": "HI", "rcu_core": "RCU",
        "rcu_core_si": "RCU", "hrtimer_run_softirq": "HRTIMER", "sched_balance_softirq": "SCHED",
        "run_rebalance_domains": "SCHED", "blk_done_softirq": "BLOCK", "irq_poll_softirq": "IRQ_POLL",
    ]

    /// A sampled stack (innermost first) cut into its parts, each outermost
    /// first, plumbing left out: the syscall's own frames; the frames that
    /// connect it to softirq work run on its stack; that work; and which
    /// softirq it is.
    public struct Parts {
        /// The last plumbing frame before the syscall's own (`x64_sys_call`):
        /// the caller of its first frame, for the evidence.
        public var entry: KernelFrame?
        public var syscall: [KernelFrame] = []
        public var connecting: [KernelFrame] = []
        public var softirq: [KernelFrame] = []
        public var softirqKind: String?
        /// The softirq work came in on a hard interrupt's exit: the
        /// syscall's innermost frames are where the interrupt landed, not
        /// where its path was going (perf's own code, a copy loop).
        public var interrupted = false
    }

    public static func parts(_ frames: [KernelFrame]) -> Parts {
        let all = Array(frames.reversed())
        let entry = all.firstIndex { !isPlumbing($0.function) }.flatMap { $0 > 0 ? all[$0 - 1] : nil }
        // The entry's plumbing (outermost) and the tracepoint's own
        // machinery (innermost: __traceiter_net_dev_queue, on the stack when
        // perf's event and sockettrace's BPF program both listen) are left
        // out. Every other frame is shown: the function that fires the
        // tracepoint, even when it is
        // the tracepoint's own noinline caller (`__sys_sendto →
        // call_trace_sock_send_length`), and plumbing between other frames
        // (another tracepoint's machinery a hard interrupt landed in:
        // sock_recvmsg → call_trace_sock_recv_length → perf_trace_… →
        // perf_tp_event → asm_sysvec_apic_timer_interrupt → …).
        let outerEnd = all.firstIndex { !isPlumbing($0.function) } ?? all.count
        let innerEnd = all.lastIndex { !isTracepointMachinery($0.function) } ?? -1
        let outermostFirst = outerEnd <= innerEnd ? Array(all[outerEnd...innerEnd]) : []
        guard var first = outermostFirst.firstIndex(where: { softirqBoundary.contains($0.function) }) else {
            return Parts(entry: entry, syscall: outermostFirst)
        }
        // The interrupt's entry frames connect too: they are not the syscall's.
        let interrupt = outermostFirst[..<first].firstIndex { isInterruptEntry($0.function) }
        if let interrupt { first = interrupt }
        let last = outermostFirst.lastIndex(where: { softirqBoundary.contains($0.function) }) ?? first
        let softirq = Array(outermostFirst[(last + 1)...])
        let kind = softirq.lazy.compactMap { softirqKinds[$0.function] }.first
        return Parts(entry: entry, syscall: Array(outermostFirst[..<first]), connecting: Array(outermostFirst[first...last]),
                     softirq: softirq, softirqKind: kind, interrupted: interrupt != nil)
    }

    /// Whether a chain (innermost first) has syscall frames and softirq
    /// work, and which softirq, as `parts` would say, without building the
    /// parts: asked of every sample as it is attributed (the sampler tells
    /// it once per distinct chain: `KernelSample.sides`).
    static func sides(_ chain: [String]) -> ChainSides {
        let neighbour = chain.contains { KernelSample.neighbourSenders.contains($0) }
        let reply = chain.contains { KernelSample.kernelReplySenders.contains($0) }
        guard let inner = chain.firstIndex(where: softirqBoundary.contains) else {
            return ChainSides(syscall: chain.contains { !isPlumbing($0) }, softirq: false, softirqKind: nil,
                              buildsNeighbourSolicitation: neighbour, buildsKernelReply: reply)
        }
        let outer = chain.lastIndex { softirqBoundary.contains($0) || isInterruptEntry($0) } ?? inner
        let work = chain[..<inner]
        let syscall = chain[(outer + 1)...].contains { !isPlumbing($0) }
        let softirq = work.contains { !isPlumbing($0) }
        let kind = work.reversed().lazy.filter { !isPlumbing($0) }.compactMap { softirqKinds[$0] }.first
        return ChainSides(syscall: syscall, softirq: softirq, softirqKind: kind,
                          buildsNeighbourSolicitation: neighbour, buildsKernelReply: reply)
    }

    /// The parts of a chain of names (no addresses), as `parts` cuts them.
    public static func split(_ chain: [String]) -> (syscall: [String], softirq: [String]) {
        let found = parts(chain.map { KernelFrame($0, 0) })
        return (found.syscall.map(\.function), found.softirq.map(\.function))
    }
}

/// What `ChainAligner.sides` tells of a chain: whether it has frames of
/// the syscall's own path, softirq work, and which softirq; and whether
/// its packet is one the kernel builds itself (`PacketFlow`). Worked out
/// once per distinct chain by the sampler.
public struct ChainSides: Sendable, Equatable {
    public let syscall: Bool
    public let softirq: Bool
    public let softirqKind: String?
    /// An ARP or neighbour discovery sender is on the stack.
    public let buildsNeighbourSolicitation: Bool
    /// A reset or ICMP error sender for a port with no socket is on the stack.
    public let buildsKernelReply: Bool
}
