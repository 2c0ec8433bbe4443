import Glibc
/// Work the kernel does for traced connections outside the traced tasks:
/// a retransmission by a timer on an idle CPU, ksoftirqd's receive work.
/// Probes sampled everywhere see every task's hits; a hit is kept only
/// when its addresses are a traced socket's flow, one way or the other,
/// and is then an event of its own with its chain aligned (its softirq
/// part against the model's softirq operations). A hit may come before
/// the call that reveals its socket (a SYN retransmitted while connect
/// still waits): it waits for it a while.
struct BackgroundWork {
    struct Flow: Hashable {
        let source: SocketEndpoint
        let destination: SocketEndpoint
    }

    /// The traced calls' sockets, local → peer, each with the exit of the
    /// latest traced call on it.
    var tracedFlows: [Flow: MonotonicTime] = [:]
    /// The `struct sock`s that had a traced flow's 4-tuple (local → peer)
    /// while traced calls used it: a traced call's own state change or
    /// send's or receive's `sk`, or the socket the sampled state changes
    /// left open on the 4-tuple (or its peer's) when a traced call
    /// returned. A hit whose socket is known and none of these is another
    /// socket's on the same 4-tuple (audit 90 F1: an untraced program's
    /// connection made on a closed traced one's, "a traced socket's").
    private(set) var tracedSocks: [Flow: Set<Int64>] = [:]

    mutating func tracedSock(_ sock: Int64, of flow: Flow) {
        if tracedSocks.count >= Self.tracedSocksLimit, tracedSocks[flow] == nil { tracedSocks.removeAll(keepingCapacity: true) }
        tracedSocks[flow, default: []].insert(sock)
    }
    static let tracedSocksLimit = 16_384
    var waiting: [KernelSample] = []
    /// Hits outside the traced tasks whose flow is no traced socket's.
    var dropped = 0
    /// How long a hit waits for the call that reveals its socket.
    static let patience: UInt64 = 3_000_000_000

    /// Traced UDP sockets with no peer (bound, unconnected), by their own
    /// address: a datagram dropped on its way to one, outside the traced
    /// tasks, is known by its destination alone (audit 46 F3).
    var unconnectedLocals: [SocketEndpoint: MonotonicTime] = [:]

    mutating func traced(_ socket: SocketSnapshot?, until exit: MonotonicTime) {
        if let socket, socket.isUDP, socket.peer == nil, let local = socket.local?.forPairing {
            unconnectedLocals[local] = max(unconnectedLocals[local] ?? exit, exit)
        }
        guard let local = socket?.local?.forPairing, let peer = socket?.peer?.forPairing else { return }
        let flow = Flow(source: local, destination: peer)
        tracedFlows[flow] = max(tracedFlows[flow] ?? exit, exit)
    }

    /// A flow told by the kernel, not by a call's socket (a refused
    /// connect's, from the state change that closed it).
    mutating func traced(flow source: SocketEndpoint, _ destination: SocketEndpoint, until exit: MonotonicTime) {
        let flow = Flow(source: source, destination: destination)
        tracedFlows[flow] = max(tracedFlows[flow] ?? exit, exit)
    }

    /// A socket beginning its life on a traced flow's 4-tuple after the
    /// traced calls on it were over (CLOSE → SYN_SENT: a connect; LISTEN →
    /// SYN_RECV: an accepted child) is another socket: the traced one began
    /// its own in a traced call (connect, or before accept returned). The
    /// 4-tuple is no longer a traced socket's (audit 9: a later untraced
    /// connection from the same port shown as the traced flow's).
    mutating func retiresFlow(_ sample: KernelSample) -> Bool {
        guard let old = sample.fields["oldstate"]?.number, old == TCPState.close || old == TCPState.listen,
              let (source, destination) = sample.flowEndpoints else { return false }
        for flow in [Flow(source: source, destination: destination), Flow(source: destination, destination: source)] {
            if let last = tracedFlows[flow], sample.time > last {
                tracedFlows[flow] = nil
                return true
            }
        }
        return false
    }

    /// The hits decided by `now` (all of them when nil): those of traced
    /// flows, with whose they are; the others dropped.
    /// `through`: only the hits taken by then (the rest wait, decided or
    /// not): a call takes those taken before it began, not later ones the
    /// rings already hold (audit 25: state changes of a later shutdown
    /// written right after a connect).
    mutating func take(upTo now: MonotonicTime?, through limit: MonotonicTime? = nil,
                       align: (KernelSample) -> [ChainAlignment]) -> [KernelSample] {
        var kept: [KernelSample] = [], still: [KernelSample] = []
        waiting.sort { $0.time < $1.time }
        for var sample in waiting {
            if let limit, sample.time > limit {
                still.append(sample)
            } else if retiresFlow(sample) {
                dropped += 1
            } else if let flow = flow(of: sample) {
                sample.flow = flow.flow
                sample.task = flow.task
                sample.alignments = align(sample)
                kept.append(sample)
            } else if let now, now.nanoseconds &- sample.time.nanoseconds < Self.patience, now > sample.time {
                still.append(sample)
            } else {
                dropped += 1
            }
        }
        waiting = still
        return kept
    }

    /// Whose a hit is, when its 4-tuple is a traced socket's either way,
    /// and the task it was taken in (read once, for both).
    func flow(of sample: KernelSample) -> (flow: PacketFlow, task: String)? {
        guard let (source, destination) = sample.flowEndpoints else { return nil }
        // A traced task is named by the timeline, which followed its execs: only its id here.
        // (Named only for a traced flow's hit: other programs' hits, the most, read no /proc.)
        func task() -> String { sample.task ?? (sample.inTracedTask != nil ? "traced task \(sample.tid)" : self.task(of: sample)) }
        guard let owner = owner(of: source, destination) else {
            // A datagram dropped on its way to a traced unconnected UDP socket.
            guard let local = unconnectedLocal(forDrop: sample) else { return nil }
            let task = task()
            return (PacketFlow(owner: .peer, evidence: "the dropped packet's headers' \(source) → \(destination): to a traced UDP socket "
                               + "with no peer, bound to \(local); in \(task) on CPU \(sample.cpu)", ofSocket: true), task)
        }
        // After the traced calls on it, its socket, where known (a transmit
        // the program kept, a state change's skaddr), is one that had the
        // 4-tuple while they used it (before, a connection's request socket
        // sends its SYN-ACK).
        let traced = owner == .ownSocket ? Flow(source: source, destination: destination) : Flow(source: destination, destination: source)
        let sock = sample.fields["sk"]?.number ?? (sample.tracepoint == "sock:inet_sock_set_state" ? sample.fields["skaddr"]?.number : nil)
        if let sock, let last = tracedFlows[traced], sample.time > last,
           let known = tracedSocks[Flow(source: source, destination: destination)], !known.contains(sock) {
            return nil
        }
        let task = task()
        let whose = owner == .ownSocket ? "a traced socket's" : "a traced socket's peer's"
        // A drop's addresses are its packet's own headers' (ElsewhereDropProgram).
        let said = sample.tracepoint == "skb:kfree_skb" ? "the dropped packet's headers' \(source) → \(destination)"
            : "\(sample.tracepoint)'s \(source) → \(destination)"
        return (PacketFlow(owner: owner, evidence: "\(said) is \(whose); in \(task) on CPU \(sample.cpu)", ofSocket: true), task)
    }

    /// The traced unconnected UDP socket a dropped datagram was for: bound
    /// to its destination, or to the wildcard address of its family with
    /// its port.
    func unconnectedLocal(forDrop sample: KernelSample) -> SocketEndpoint? {
        guard sample.tracepoint == "skb:kfree_skb", sample.fields["ip_protocol"]?.number == Int64(IPPROTO_UDP),
              let destination = sample.flowEndpoints?.destination else { return nil }
        if unconnectedLocals[destination] != nil { return destination }
        switch destination {
        case let .inet(_, port):
            let any = SocketEndpoint.inet(address: "0.0.0.0", port: port)
            return unconnectedLocals[any] != nil ? any : nil
        case let .inet6(_, port):
            let any = SocketEndpoint.inet6(address: "::", port: port)
            return unconnectedLocals[any] != nil ? any : nil
        default:
            return nil
        }
    }

    /// A traced socket's own 4-tuple (own-socket), or its peer's (peer).
    func owner(of source: SocketEndpoint, _ destination: SocketEndpoint) -> PacketFlow.Owner? {
        if tracedFlows[Flow(source: source, destination: destination)] != nil { return .ownSocket }
        if tracedFlows[Flow(source: destination, destination: source)] != nil { return .peer }
        return nil
    }

    /// Whether a hit names a traced socket's flow, either way, as known now.
    func isTraced(_ sample: KernelSample) -> Bool {
        guard let (source, destination) = sample.flowEndpoints else { return false }
        return owner(of: source, destination) != nil || unconnectedLocal(forDrop: sample) != nil
    }

    /// For a hit taken during a call: whose it is by its own addresses —
    /// the call's socket's (either way), or (nil inside) another flow's;
    /// nil when the hit names no flow.
    func flow(of sample: KernelSample, socketLocal local: SocketEndpoint?, socketPeer peer: SocketEndpoint?) -> PacketFlow?? {
        guard let (source, destination) = sample.flowEndpoints else { return nil }
        let said = "\(sample.tracepoint)'s \(source) → \(destination)"
        if source == local && destination == peer { return .some(PacketFlow(owner: .ownSocket, evidence: "\(said) is this call's socket's", ofSocket: true)) }
        if source == peer && destination == local { return .some(PacketFlow(owner: .peer, evidence: "\(said) is this call's socket's peer's", ofSocket: true)) }
        if sample.isStateChangeBeforePeerSet {
            // A connection's new socket cloned from its listener before its
            // peer's address was set (6.1's inet_csk_clone_lock sets
            // TCP_SYN_RECV first): the listener's end and no peer. Which
            // connection's, its addresses do not tell (audit 91 F1: "another
            // connection's work", where it was this call's peer's).
            return .some(PacketFlow(owner: .unverified, evidence: "\(said): a socket cloned from the listener on \(source) for a new connection, "
                                        + "its peer's address not yet set when its state changed; which connection's, its addresses do not tell",
                                    ofSocket: true, said: "a new connection's socket, which one not known"))
        }
        return .some(nil)
    }

    /// `swapper/0` (the idle task), a kernel thread's name and id
    /// (`ksoftirqd/1[22]`: kernel threads never exec), a program's id with
    /// the name it had when the rings were read (`task 41 (python3 when
    /// read)`: it may have exec'd since its hit, audit 9), or, once it has
    /// ended, the name it had when last read (`task 41 (curl when last
    /// read, ended since)`: audit 89 m1, a task named earlier in the trace
    /// was "ended before it was named") or `task 41 (ended before it was
    /// named)`.
    static func task(of sample: KernelSample, names: TaskNames? = nil) -> String {
        if sample.tid == 0 { return "swapper/\(sample.cpu)" }
        // The tracer's own threads (a softirq run on one of them while it
        // read the rings): named so, not after /proc (audit 26 F10: a thread
        // of its that had ended was "task N (ended before it was named)").
        if sample.pid == Self.tracer { return "sockettrace[\(sample.tid)] (this tracer)" }
        guard let stat = ProcFile.text("/proc/\(sample.tid)/stat"), let open = stat.firstIndex(of: "("),
              let close = stat.lastIndex(of: ")") else {
            if let comm = names?.read[sample.tid] { return "task \(sample.tid) (\(comm) when last read, ended since)" }
            return "task \(sample.tid) (ended before it was named)"
        }
        let comm = stat[stat.index(after: open)..<close]
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Field 9 of stat, flags: PF_KTHREAD.
        if fields.count > 6, let flags = UInt64(fields[6]), flags & 0x0020_0000 != 0 { return "\(Self.stableName(String(comm)))[\(sample.tid)]" }
        names?.remember(String(comm), of: sample.tid)
        return "task \(sample.tid) (\(comm) when read)"
    }

    /// The names of tasks outside the traced ones as last read (`task(of:)`).
    let names = TaskNames()

    /// A task outside the traced ones, named.
    func task(of sample: KernelSample) -> String { Self.task(of: sample, names: names) }

    /// This process: the tracer.
    static let tracer = getpid()

    /// A kernel thread's name as it stays: a kworker's name ends with the
    /// workqueue it runs at the moment (`kworker/1:1-events_power_efficient`,
    /// `kworker/1:1-vir` a moment before: audit 11), so that part is left out.
    static func stableName(_ comm: String) -> String {
        guard comm.hasPrefix("kworker/"), let dash = comm.firstIndex(of: "-") else { return comm }
        return String(comm[..<dash])
    }
}

extension KernelSample {
    /// The 4-tuple a TCP tracepoint names (`saddr:sport → daddr:dport`), in
    /// the form pairing compares; nil for a tracepoint without one.
    var flowEndpoints: (source: SocketEndpoint, destination: SocketEndpoint)? {
        guard case .bytes? = fields["saddr"], fields["sport"] != nil else { return nil }
        return (SocketEndpoint(text: endpoint("saddr", "sport")).forPairing, SocketEndpoint(text: endpoint("daddr", "dport")).forPairing)
    }

    /// A state change of a socket whose peer's address is not set yet: a
    /// connection's new socket cloned from its listener (6.1's
    /// inet_csk_clone_lock sets TCP_SYN_RECV first), the listener's end → 0.0.0.0:0.
    var isStateChangeBeforePeerSet: Bool {
        tracepoint == "sock:inet_sock_set_state" && flowEndpoints?.destination.port == 0
    }
}

/// The names of tasks outside the traced ones, as /proc gave them when
/// last read, by thread id: a task named once and ended since is named by
/// what it was (a thread id is not soon another's; these are the few
/// tasks whose hits were a traced flow's).
final class TaskNames {
    private(set) var read: [Int32: String] = [:]
    static let limit = 4096

    func remember(_ comm: String, of tid: Int32) {
        if read.count >= Self.limit, read[tid] == nil { read.removeAll(keepingCapacity: true) }
        read[tid] = comm
    }
}
