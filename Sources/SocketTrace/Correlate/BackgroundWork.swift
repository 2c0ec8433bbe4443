import Foundation

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
                sample.flow = flow
                sample.task = Self.task(of: sample)
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

    func flow(of sample: KernelSample) -> PacketFlow? {
        let source = SocketEndpoint(text: sample.endpoint("saddr", "sport")).forPairing
        let destination = SocketEndpoint(text: sample.endpoint("daddr", "dport")).forPairing
        let said = "\(sample.tracepoint)'s \(source) → \(destination)"
        if tracedFlows.contains(Flow(source: source, destination: destination)) {
            return PacketFlow(owner: .ownSocket, evidence: "\(said) is a traced socket's, from it; in \(Self.task(of: sample)) on CPU \(sample.cpu)")
        }
        if tracedFlows.contains(Flow(source: destination, destination: source)) {
            return PacketFlow(owner: .peer, evidence: "\(said) is a traced socket's, to it from its peer; in \(Self.task(of: sample)) on CPU \(sample.cpu)")
        }
        return nil
    }

    /// For a hit taken during a call: whose it is by its own addresses —
    /// the call's socket's (either way), or (nil inside) another flow's;
    /// nil when the hit names no flow.
    func flow(of sample: KernelSample, socketLocal local: SocketEndpoint?, socketPeer peer: SocketEndpoint?) -> PacketFlow?? {
        guard case .bytes? = sample.fields["saddr"], sample.fields["sport"] != nil else { return nil }
        let source = SocketEndpoint(text: sample.endpoint("saddr", "sport")).forPairing
        let destination = SocketEndpoint(text: sample.endpoint("daddr", "dport")).forPairing
        let said = "\(sample.tracepoint)'s \(source) → \(destination)"
        if source == local && destination == peer { return .some(PacketFlow(owner: .ownSocket, evidence: "\(said) is this call's socket's")) }
        if source == peer && destination == local { return .some(PacketFlow(owner: .peer, evidence: "\(said) is this call's socket's peer's")) }
        return .some(nil)
    }

    /// `swapper/0` (the idle task), `ksoftirqd/1`, or another task's name.
    static func task(of sample: KernelSample) -> String {
        if sample.tid == 0 { return "swapper/\(sample.cpu)" }
        let comm = (try? String(contentsOfFile: "/proc/\(sample.tid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return "\(comm ?? "task")[\(sample.tid)]"
    }
}
