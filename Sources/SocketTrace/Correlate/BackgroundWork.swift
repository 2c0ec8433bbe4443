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

    /// The traced calls' sockets, local → peer.
    var tracedFlows: Set<Flow> = []
    var waiting: [KernelSample] = []
    /// Hits outside the traced tasks whose flow is no traced socket's.
    private(set) var dropped = 0
    /// How long a hit waits for the call that reveals its socket.
    static let patience: UInt64 = 3_000_000_000

    mutating func traced(_ socket: SocketSnapshot?) {
        guard let local = socket?.local?.forPairing, let peer = socket?.peer?.forPairing else { return }
        tracedFlows.insert(Flow(source: local, destination: peer))
    }

    /// The hits decided by `now` (all of them when nil): those of traced
    /// flows, with whose they are; the others dropped.
    mutating func take(upTo now: MonotonicTime?, align: (KernelSample) -> [ChainAlignment]) -> [KernelSample] {
        var kept: [KernelSample] = [], still: [KernelSample] = []
        for var sample in waiting {
            if let flow = flow(of: sample) {
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
        guard let (source, destination) = sample.flowEndpoints, let owner = owner(of: source, destination) else { return nil }
        let task = sample.task ?? Self.task(of: sample)
        let whose = owner == .ownSocket ? "from it" : "to it from its peer"
        return (PacketFlow(owner: owner, evidence: "\(sample.tracepoint)'s \(source) → \(destination) is a traced socket's, \(whose); in \(task) on CPU \(sample.cpu)"), task)
    }

    /// A traced socket's own 4-tuple (own-socket), or its peer's (peer).
    func owner(of source: SocketEndpoint, _ destination: SocketEndpoint) -> PacketFlow.Owner? {
        if tracedFlows.contains(Flow(source: source, destination: destination)) { return .ownSocket }
        if tracedFlows.contains(Flow(source: destination, destination: source)) { return .peer }
        return nil
    }

    /// Whether a hit names a traced socket's flow, either way, as known now.
    func isTraced(_ sample: KernelSample) -> Bool {
        sample.flowEndpoints.map { owner(of: $0.source, $0.destination) != nil } ?? false
    }

    /// For a hit taken during a call: whose it is by its own addresses —
    /// the call's socket's (either way), or (nil inside) another flow's;
    /// nil when the hit names no flow.
    func flow(of sample: KernelSample, socketLocal local: SocketEndpoint?, socketPeer peer: SocketEndpoint?) -> PacketFlow?? {
        guard let (source, destination) = sample.flowEndpoints else { return nil }
        let said = "\(sample.tracepoint)'s \(source) → \(destination)"
        if source == local && destination == peer { return .some(PacketFlow(owner: .ownSocket, evidence: "\(said) is this call's socket's")) }
        if source == peer && destination == local { return .some(PacketFlow(owner: .peer, evidence: "\(said) is this call's socket's peer's")) }
        return .some(nil)
    }

    /// `swapper/0` (the idle task), `ksoftirqd/1`, another task's name and
    /// id, or `task 41 (ended before it was named)`.
    static func task(of sample: KernelSample) -> String {
        if sample.tid == 0 { return "swapper/\(sample.cpu)" }
        guard let comm = ProcFile.text("/proc/\(sample.tid)/comm")?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            return "task \(sample.tid) (ended before it was named)"
        }
        return "\(comm)[\(sample.tid)]"
    }
}

extension KernelSample {
    /// The 4-tuple a TCP tracepoint names (`saddr:sport → daddr:dport`), in
    /// the form pairing compares; nil for a tracepoint without one.
    var flowEndpoints: (source: SocketEndpoint, destination: SocketEndpoint)? {
        guard case .bytes? = fields["saddr"], fields["sport"] != nil else { return nil }
        return (SocketEndpoint(text: endpoint("saddr", "sport")).forPairing, SocketEndpoint(text: endpoint("daddr", "dport")).forPairing)
    }
}
