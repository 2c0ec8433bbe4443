import Glibc
import Synchronization

/// One hit of a tracepoint in a traced task: when, where, the kernel call
/// chain that led to it (innermost function first, as perf reports it) and
/// the tracepoint's fields.
public struct KernelSample: Sendable, Codable {
    /// What a sample holds by reference (names, frames, fields, claims),
    /// in one box: a sample is copied from queue to call to renderer many
    /// times, and a copy retains the box alone, not each of a dozen arrays
    /// and strings (their retains and releases were a quarter of the
    /// tracer's time on the ping-pong). Copied on write.
    final class Box: @unchecked Sendable {
        let tracepoint: String
        let chain: [String]
        let fields: [String: TracepointValue]
        var sources: [String]?
        var inlined: [[InlinedCall]]?
        var offsets: [UInt64] = []
        var symbols: [String]?
        var addresses: [UInt64] = []
        var flow: PacketFlow?
        var task: String?
        var inTracedTask: String?
        var alignments: [ChainAlignment]?
        var knownSides: ChainSides?
        var heading = ""

        init(tracepoint: String, chain: [String], fields: [String: TracepointValue]) {
            self.tracepoint = tracepoint
            self.chain = chain
            self.fields = fields
        }

        func copy() -> Box {
            let box = Box(tracepoint: tracepoint, chain: chain, fields: fields)
            box.sources = sources
            box.inlined = inlined
            box.offsets = offsets
            box.symbols = symbols
            box.addresses = addresses
            box.flow = flow
            box.task = task
            box.inTracedTask = inTracedTask
            box.alignments = alignments
            box.knownSides = knownSides
            box.heading = heading
            return box
        }
    }
    private var box: Box

    /// The box, this sample's own before it is changed.
    private mutating func own() -> Box {
        if !isKnownUniquelyReferenced(&box) { box = box.copy() }
        return box
    }

    public var tracepoint: String { box.tracepoint }
    public let role: Probe.Role
    public let pid: Int32
    public let tid: Int32
    public let time: MonotonicTime
    public let cpu: UInt32
    public var chain: [String] { box.chain }
    public var fields: [String: TracepointValue] { box.fields }
    /// With `--vmlinux`: each frame's `file:line` (empty when unknown),
    /// innermost first like `chain`.
    public var sources: [String]? { get { box.sources } set { own().sources = newValue } }
    /// With `--vmlinux`: the functions DWARF says are inlined at each
    /// frame's address (for a return address, its call), innermost first
    /// like `chain`, and each frame's innermost first (format 1.6).
    public var inlined: [[InlinedCall]]? { get { box.inlined } set { own().inlined = newValue } }
    /// Each frame's offset into its function (`chain[i]+0x...`), innermost
    /// first: what a reader of the trace needs to check a claim against
    /// the kernel's code. Empty in trace files before format 1.3.
    public var offsets: [UInt64] { get { box.offsets } set { own().offsets = newValue } }
    /// Each frame's symbol as /proc/kallsyms names it, innermost first,
    /// when a frame lies in a compiler's copy of its function
    /// (`do_softirq.part.0`, `__netif_receive_skb_core.constprop.0`): its
    /// offset counts from that copy, not from a symbol of the plain name
    /// (this kernel has both a `do_softirq` and a `do_softirq.part.0`).
    /// nil when every frame is its function's own symbol (format 1.10).
    public var symbols: [String]? { get { box.symbols } set { own().symbols = newValue } }
    /// Each frame's address, while tracing (not written: it changes with
    /// every boot).
    public var addresses: [UInt64] { get { box.addresses } set { own().addresses = newValue } }
    /// For softirq work on a call's stack: whose packet it handled, and the
    /// evidence (format 1.4).
    public var flow: PacketFlow? { get { box.flow } set { own().flow = newValue } }
    /// From a probe sampled in every task (not written: a sample outside
    /// the traced tasks says so by `task`).
    public var everywhere = false
    /// From an event filtered by `ElsewhereTransmits` (not written): one
    /// taken in a traced task repeats that task's own event's sample.
    public var sampledElsewhere = false
    /// A file's free at a call's exit stop at the address of a file a close
    /// left to another reference (`FileRelease`): what it is, naming the
    /// close (not written: `inTracedTask` says it).
    public var releasesHeldFile: String?
    /// Outside the traced tasks: the task it was taken in (`swapper/0`,
    /// `ksoftirqd/1`, another program), and its chain's alignments (its
    /// softirq part against the model), as no call holds them (format 1.4).
    public var task: String? { get { box.task } set { own().task = newValue } }
    /// Taken in a traced task, but outside any call that could hold it:
    /// where (`between its traced calls`, `during write of 8590, on another
    /// socket`); nil for a task that is not traced (format 1.11).
    public var inTracedTask: String? { get { box.inTracedTask } set { own().inTracedTask = newValue } }
    public var alignments: [ChainAlignment]? { get { box.alignments } set { own().alignments = newValue } }
    /// Its chain's sides, told by the sampler once per distinct chain (not written).
    var knownSides: ChainSides? { get { box.knownSides } set { own().knownSides = newValue } }

    /// Which distinct chain (addresses, names, offsets) it has, told by the
    /// sampler, unique in the process (not written): samples with the same
    /// serial have the same frames, so what depends only on the frames is
    /// looked up by this number instead of by hashing the frames again.
    var chainSerial: Int?
    private static let chainSerials = Atomic<Int>(0)
    static func newChainSerial() -> Int { chainSerials.wrappingAdd(1, ordering: .relaxed).newValue }

    /// Whether its chain has frames of the syscall's path and softirq work, and which softirq.
    var sides: ChainSides { knownSides ?? ChainAligner.sides(chain) }

    /// Where its thread was at a tracer's stop, when it was: at a syscall's
    /// entry (`syscall_trace_enter → … → ptrace_notify → ptrace_stop`:
    /// seccomp's stop or PTRACE_SYSCALL's, held there or on its way in or
    /// out of it), before the kernel began the call, or at its exit
    /// (`syscall_exit_work → … → ptrace_notify`), after the kernel ended it.
    /// Work found there (an interrupt's softirq, or task work run on the
    /// way to the exit stop: a file's last reference dropped, `task_work_run
    /// → __fput`, audit 69 M1) is in neither call's kernel time (audit 66
    /// N1: `syscall_trace_enter → __seccomp_filter → ptrace_notify →
    /// _raw_spin_unlock_irq`, the stop just over, the call's sys_enter
    /// 21–57 µs later).
    public var atSyscallStop: SyscallStopSide? {
        guard let stop = chain.firstIndex(where: { $0 == "ptrace_stop" || $0 == "ptrace_notify" }) else { return nil }
        if let entry = chain.firstIndex(of: "syscall_trace_enter"), stop < entry { return .entry }
        if let exit = chain.firstIndex(of: "syscall_exit_work"), stop < exit { return .exit }
        return nil
    }

    /// Where a traced thread was, outside its calls, when this was taken:
    /// at a call's entry or exit stop (`atSyscallStop`), else between its
    /// calls. The trace file's `in_traced_task` says the same as the text
    /// (audit 64 M1's wording; the file said "between its traced calls"
    /// of work the text placed at an entry stop).
    var outsideCallsContext: String {
        switch atSyscallStop {
        case .entry?: "at a call's entry stop, before the kernel began the call"
        case .exit?: "at a call's exit stop, after the kernel ended the call"
        case nil: unrecordedCall.map { "in a call the trace does not record (\($0) on its stack)" } ?? "between its traced calls"
        }
    }

    /// Taken in an io_uring worker (`io_wq_worker` on its stack): a thread
    /// the kernel makes for a process using io_uring, which shares its
    /// files and counters but makes no system calls and is not stopped by
    /// the tracer; not one of the traced threads (audit 98 C: its work was
    /// "in this traced thread between its calls").
    public var inIOUringWorker: Bool { chain.contains("io_wq_worker") }

    /// The system call on the stack of work taken outside the traced calls
    /// (io_uring_enter's own submissions, a call `-e` leaves out): its
    /// entry function, outermost (or its body, `__do_sys_io_uring_enter`,
    /// where the entry left for it by a jump).
    var unrecordedCall: String? { chain.last(where: ChainAligner.isSyscallEntry) ?? chain.last { $0.hasPrefix("__do_sys_") } }

    static let ioUringWorkerPlace = "in an io_uring worker of the traced process (io_wq_worker on its stack: a thread the kernel made, "
        + "which the tracer does not stop; not a traced thread)"

    /// Where work taken outside the traced calls ran, `context` the
    /// thread's: `in this traced thread <context>`, or in an io_uring worker.
    public func placeOutsideCalls(_ context: String) -> String {
        inIOUringWorker ? Self.ioUringWorkerPlace : "in this traced thread " + context
    }

    /// The same, as the timeline's event line writes it.
    public var timelinePlace: String {
        if inIOUringWorker { return Self.ioUringWorkerPlace }
        // In a call the trace does not record, as outsideCallsContext says it; else the timeline's shorter words.
        return atSyscallStop == nil && unrecordedCall != nil ? "in this traced thread, " + outsideCallsContext : "in this traced thread between its calls"
    }

    /// The frames with their addresses, innermost first (addresses 0 when
    /// they are not known).
    public var frames: [KernelFrame] {
        chain.indices.map { index in
            var frame = KernelFrame(chain[index], index < addresses.count ? addresses[index] : 0)
            if let inlined, index < inlined.count { frame.inlined = inlined[index] }
            if index < offsets.count { frame.offset = offsets[index] }
            if let symbols, index < symbols.count, symbols[index] != chain[index] { frame.symbol = symbols[index] }
            return frame
        }
    }

    /// `tcp_sendmsg+0x2c` (`do_softirq.part.0+0x3b` in a compiler's copy),
    /// or the name alone when the offset is not known.
    public func location(_ index: Int) -> String {
        let name = symbols.flatMap { index < $0.count ? $0[index] : nil } ?? chain[index]
        return KernelFrame.location(name, offset: index < offsets.count ? offsets[index] : nil)
    }

    /// `heading`: the one a sample of the same tracepoint and fields had (the sampler's cache).
    public init(tracepoint: String, role: Probe.Role, pid: Int32, tid: Int32, time: MonotonicTime, cpu: UInt32,
                chain: [String], fields: [String: TracepointValue], heading: String? = nil) {
        box = Box(tracepoint: tracepoint, chain: chain, fields: fields)
        self.role = role
        self.pid = pid
        self.tid = tid
        self.time = time
        self.cpu = cpu
        box.heading = heading ?? tracepoint + " " + summary
    }

    enum CodingKeys: String, CodingKey { case tracepoint, role, pid, tid, time, cpu, chain, chainId, offsets, symbols, fields, sources, inlined, flow, task, inTracedTask, alignments }

    /// Reads `chain`, or `chain_id` naming a chain record read earlier.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let tracepoint = try c.decode(String.self, forKey: .tracepoint)
        role = try c.decode(Probe.Role.self, forKey: .role)
        pid = try c.decode(Int32.self, forKey: .pid)
        tid = try c.decode(Int32.self, forKey: .tid)
        time = try c.decode(MonotonicTime.self, forKey: .time)
        cpu = try c.decode(UInt32.self, forKey: .cpu)
        let fields = try c.decode([String: TracepointValue].self, forKey: .fields)
        var symbols = try c.decodeIfPresent([String].self, forKey: .symbols)
        let chain: [String]
        if let named = try c.decodeIfPresent([String].self, forKey: .chain) {
            chain = named
        } else {
            let id = try c.decode(Int.self, forKey: .chainId)
            guard let frames = (decoder.userInfo[ChainTable.key] as? ChainTable)?.frames[id] else {
                throw DecodingError.dataCorruptedError(forKey: .chainId, in: c, debugDescription: "chain \(id) is not defined before it is used")
            }
            chain = frames
            if symbols == nil { symbols = (decoder.userInfo[ChainTable.key] as? ChainTable)?.symbols[id] }
        }
        box = Box(tracepoint: tracepoint, chain: chain, fields: fields)
        box.symbols = symbols
        sources = try c.decodeIfPresent([String].self, forKey: .sources)
        inlined = try c.decodeIfPresent([[InlinedCall]].self, forKey: .inlined)
        offsets = try c.decodeIfPresent([UInt64].self, forKey: .offsets) ?? []
        flow = try c.decodeIfPresent(PacketFlow.self, forKey: .flow)
        task = try c.decodeIfPresent(String.self, forKey: .task)
        inTracedTask = try c.decodeIfPresent(String.self, forKey: .inTracedTask)
        alignments = try c.decodeIfPresent([ChainAlignment].self, forKey: .alignments)
        box.heading = tracepoint + " " + summary
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tracepoint, forKey: .tracepoint)
        try c.encode(role, forKey: .role)
        try c.encode(pid, forKey: .pid)
        try c.encode(tid, forKey: .tid)
        try c.encode(time, forKey: .time)
        try c.encode(cpu, forKey: .cpu)
        try c.encode(chain, forKey: .chain)
        if !offsets.isEmpty { try c.encode(offsets, forKey: .offsets) }
        try c.encodeIfPresent(symbols, forKey: .symbols)
        try c.encode(fields, forKey: .fields)
        try c.encodeIfPresent(sources, forKey: .sources)
        try c.encodeIfPresent(inlined, forKey: .inlined)
        try c.encodeIfPresent(flow, forKey: .flow)
        try c.encodeIfPresent(task, forKey: .task)
        try c.encodeIfPresent(inTracedTask, forKey: .inTracedTask)
        try c.encodeIfPresent(alignments, forKey: .alignments)
    }

    /// `net:net_dev_queue lo len=80`: the tracepoint and its summary, as
    /// timelines and alignments (`ChainAlignment.sample`) name a sample.
    /// Worked out once, when the sample is made: its tracepoint and fields
    /// never change, and every renderer and alignment names it by this.
    public var heading: String { box.heading }

    /// A one-line summary of the fields that matter on a timeline.
    public var summary: String {
        switch tracepoint {
        case "net:net_dev_queue", "net:netif_receive_skb", "net:net_dev_xmit", "net:netif_rx":
            let device: String
            if case let .string(name)? = fields["name"] { device = name } else { device = "?" }
            return "\(device) len=\(fields["len"]?.number ?? 0)"
        case "sock:inet_sock_set_state":
            let old = TCPState.name(fields["oldstate"]?.number ?? 0)
            let new = TCPState.name(fields["newstate"]?.number ?? 0)
            return "\(old) → \(new) \(endpoint("saddr", "sport")) → \(endpoint("daddr", "dport"))"
        case "skb:kfree_skb":
            // NOT_SPECIFIED is the kernel naming no reason: a segment TCP
            // processed and did not queue (a pure ACK in CLOSE_WAIT) is freed so
            // too, its work done (audit 26 F4: shown as a drop).
            if case .symbol("NOT_SPECIFIED", _)? = fields["reason"] { return "freed, no drop reason given (NOT_SPECIFIED: not necessarily a loss)" }
            if case let .symbol(reason, _)? = fields["reason"] { return "drop: \(reason)" }
            return "drop: reason \(fields["reason"]?.number ?? 0)"
        case "sock:sock_send_length", "sock:sock_recv_length":
            return "ret=\(fields["ret"]?.number ?? 0)"
        case "tcp:tcp_rcv_space_adjust", "tcp:tcp_retransmit_skb", "tcp:tcp_receive_reset":
            return "\(endpoint("saddr", "sport")) → \(endpoint("daddr", "dport"))"
        case "tcp:tcp_send_reset":
            var text = "\(endpoint("saddr", "sport")) → \(endpoint("daddr", "dport"))"
            if case let .symbol(reason, _)? = fields["reason"] { text += " reason=\(reason)" } else if let reason = fields["reason"]?.number { text += " reason=\(reason)" }
            return text
        case _ where tracepoint.hasPrefix(Probe.kprobeGroup + ":"):
            return "entry"
        default:
            return fields.keys.sorted().prefix(3).map { "\($0)=\(Self.text(of: $0, fields[$0]))" }.joined(separator: " ")
        }
    }

    /// A field's value as a timeline shows it: addresses and pointers
    /// (`call_site`, `ptr`, `skbaddr`…) in hex, other numbers in decimal.
    static func text(of name: String, _ value: TracepointValue?) -> String {
        guard let number = value?.number else {
            if case let .string(text)? = value { return text }
            return "…"
        }
        // `ip` is a code address (sock:sk_data_ready's callback); any value in
        // the kernel's half of the address space is one too (audit 28:
        // `ip=-2115526257`, a pointer printed as a negative decimal).
        let isAddress = name == "ptr" || name == "call_site" || name.hasSuffix("addr") || name.hasSuffix("_ptr") || name == "location"
            || name == "ip" || name == "sk" || name == "skb" || UInt64(bitPattern: number) >= 0xffff_8000_0000_0000
        return isAddress ? "0x" + String(UInt64(bitPattern: number), radix: 16) : String(number)
    }

    /// `127.0.0.1:40000` or `[::1]:40000`, by the event's `family` (the IPv4
    /// fields of an IPv6 socket hold a placeholder such as 127.0.0.6), or
    /// from a `struct sockaddr` copied into the field (tcp_send_reset).
    func endpoint(_ address: String, _ port: String) -> String {
        guard case let .bytes(bytes)? = fields[address] else { return "?" }
        if bytes.count == MemoryLayout<sockaddr_in6>.size {
            return Self.socketAddress(bytes) ?? "?"
        }
        let family = fields["family"]?.number
        if family == Int64(AddressFamily.inet6), case let .bytes(v6)? = fields[address + "_v6"], v6.count == 16 {
            return "[" + Self.ipv6(v6) + "]:\(fields[port]?.number ?? 0)"
        }
        guard bytes.count == 4 else { return "?" }
        return bytes.map(String.init).joined(separator: ".") + ":\(fields[port]?.number ?? 0)"
    }

    /// A sockaddr_in or sockaddr_in6 in a byte field.
    static func socketAddress(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 8 else { return nil }
        let family = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        let port = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        switch UInt64(family) {
        case AddressFamily.inet: return bytes[4..<8].map(String.init).joined(separator: ".") + ":\(port)"
        case AddressFamily.inet6 where bytes.count >= 24: return "[" + ipv6(Array(bytes[8..<24])) + "]:\(port)"
        default: return nil
        }
    }

    static func ipv6(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, bytes, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// TCP states by the kernel's numbering (include/net/tcp_states.h).
public enum TCPState {
    public static let established: Int64 = 1, synSent: Int64 = 2, synRecv: Int64 = 3, finWait1: Int64 = 4, close: Int64 = 7, closeWait: Int64 = 8,
                      lastAck: Int64 = 9, listen: Int64 = 10

    static let names = ["", "TCP_ESTABLISHED", "TCP_SYN_SENT", "TCP_SYN_RECV", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2",
                        "TCP_TIME_WAIT", "TCP_CLOSE", "TCP_CLOSE_WAIT", "TCP_LAST_ACK", "TCP_LISTEN", "TCP_CLOSING",
                        "TCP_NEW_SYN_RECV", "TCP_BOUND_INACTIVE"]

    public static func name(_ value: Int64) -> String {
        value > 0 && value < names.count ? names[Int(value)] : "state \(value)"
    }

    /// The number of a state by its name (`TCP_SYN_SENT`).
    public static func number(_ name: String) -> Int64? {
        names.firstIndex(of: name).flatMap { $0 > 0 ? Int64($0) : nil }
    }
}

/// Which of a syscall's two ptrace stops a thread was held at.
public enum SyscallStopSide: Sendable {
    case entry, exit
}
