/// Attributes kernel samples to syscalls: a sample belongs to the call in
/// flight on the same thread when it was taken (entry ≤ t ≤ exit), softirq
/// work run on that thread's stack included. Samples taken between calls
/// (timers, interrupts, untraced syscalls) are events of their own.
public final class KernelCorrelator: @unchecked Sendable {
    let model: StackModel?
    let aligner: ChainAligner
    let kernel: KernelVersion?
    var pending: [Int32: SampleQueue] = [:]
    /// Packets traced calls sent, by skb: whose packet a receive was.
    var queuedPackets = QueuedPackets()
    /// Samples of other connections' packets taken during calls: events of
    /// their own, not the calls' work.
    var otherFlows: [KernelSample] = []

    /// A chain's alignments depend only on the chain and the operation: a
    /// busy connection repeats a few chains thousands of times. Bounded, so
    /// that memory stays flat on long traces.
    struct AlignmentKey: Hashable {
        let operation: String?
        let chain: ChainKey
        /// Evidence depends on the call sites, not only the names.
        let addresses: [UInt64]
    }
    var alignmentCache: [AlignmentKey: [ChainAlignment]] = [:]
    static let alignmentCacheLimit = 4096

    /// An operation's expected chain for a syscall, as the model gives it
    /// for this kernel: the same for every call, so worked out once.
    struct ExpectedKey: Hashable {
        let operation: String
        let syscall: Syscall
    }
    var expectedCache: [ExpectedKey: (functions: [ModelFunction], names: [String])] = [:]

    /// Of a call's operations, the first whose own functions (named by none
    /// of the others) are among `frames`; the first when none's are.
    static func choose(_ candidates: [StackOperation], for frames: Set<String>, syscall: Syscall, kernel: KernelVersion?) -> StackOperation? {
        guard candidates.count > 1 else { return candidates.first }
        let own = ChainAligner.ownFunctions(candidates.map { Set($0.chain(for: syscall.rawValue, kernel: kernel).map(\.name)) })
        return own.firstIndex { !$0.isDisjoint(with: frames) }.map { candidates[$0] } ?? candidates.first
    }

    func expected(_ operation: StackOperation?, _ syscall: Syscall) -> (functions: [ModelFunction], names: [String]) {
        guard let operation else { return ([], []) }
        let key = ExpectedKey(operation: operation.name, syscall: syscall)
        if let known = expectedCache[key] { return known }
        let functions = operation.chain(for: syscall.rawValue, kernel: kernel)
        let found = (functions, functions.map(\.name))
        expectedCache[key] = found
        return found
    }

    /// `code` is the kernel's code (the evidence behind tail calls and
    /// calls beside the path), or why it cannot be read.
    public init(model: StackModel?, symbols: KernelSymbols?, kernel: KernelVersion? = .running,
                code: Result<KernelCodeSource, TraceError>? = nil) {
        self.model = model
        switch code {
        case let .success(source)?:
            self.aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: source))
        case let .failure(error)?:
            self.aligner = ChainAligner(symbols: symbols, codeUnreadable: "the kernel's code cannot be read (\(error.description))")
        case nil:
            self.aligner = ChainAligner(symbols: symbols)
        }
        self.kernel = kernel
    }

    /// The running kernel's code, read through BPF, or why it cannot be.
    public static func readCode(_ symbols: KernelSymbols?) -> Result<KernelCodeSource, TraceError> {
        guard let symbols else { return .failure(TraceError(operation: "no kernel symbols")) }
        do {
            return .success(KernelCode(symbols: symbols, text: try KernelText()))
        } catch let error as TraceError {
            return .failure(error)
        } catch {
            return .failure(TraceError(operation: "\(error)"))
        }
    }

    public func add(_ samples: [KernelSample]) {
        for sample in samples { pending[sample.tid, default: SampleQueue()].append(sample) }
    }

    /// Threads with samples waiting for a call.
    var waitingThreads: [Int32] { Array(pending.keys) }

    /// Samples on `tid` taken before `time` (all of them if nil): they belong to no traced call.
    public func takeStray(tid: Int32, before time: MonotonicTime?) -> [KernelSample] {
        guard pending[tid] != nil else { return [] }
        let stray = pending[tid]!.take(before: time)
        if pending[tid]!.isEmpty { pending[tid] = nil }
        return stray
    }

    /// The kernel activity of a finished call, taking its samples (those
    /// from before its entry, not taken as stray, are dropped).
    public func activity(for call: SyscallInvocation) -> KernelActivity {
        let exit = call.exitTime ?? .now()
        var mine: [KernelSample] = []
        if pending[call.tid] != nil {
            mine = pending[call.tid]!.take(through: exit).filter { $0.time >= call.entryTime }
            if pending[call.tid]!.isEmpty { pending[call.tid] = nil }
        }
        let attributed = attributeFlows(mine, to: call)
        mine = attributed.kept
        otherFlows += attributed.others
        let candidates = model?.operations(for: call.syscall, socket: call.socket) ?? []
        let operation = candidates.first
        let (_, expectedNames) = self.expected(operation, call.syscall)
        var alignments: [ChainAlignment] = []
        for sample in mine where sample.role == .chain && !sample.chain.isEmpty {
            let key = AlignmentKey(operation: operation?.name, chain: ChainKey(sample.chain), addresses: sample.addresses)
            let found: [ChainAlignment]
            if let known = alignmentCache[key] {
                found = known
            } else {
                found = align(sample.frames, candidates: candidates, syscall: call.syscall)
                if alignmentCache.count >= Self.alignmentCacheLimit { alignmentCache.removeAll(keepingCapacity: true) }
                alignmentCache[key] = found
            }
            for var alignment in found {
                alignment.sample = sample.heading
                alignments.append(alignment)
            }
        }
        return KernelActivity(operation: operation?.name, source: mine.isEmpty ? .expected : .observed,
                              expected: expectedNames, samples: mine, alignments: alignments)
    }

    /// Samples of other connections' packets taken during the calls
    /// correlated so far.
    public func takeOtherFlows() -> [KernelSample] {
        defer { otherFlows.removeAll() }
        return otherFlows
    }

    /// Says whose packet each softirq sample on the call's stack handled:
    /// a receive by its skb (queued on a traced call's own path: the call's
    /// socket, its peer, or another connection); later samples of the same
    /// packet's processing inherit it (a backlog takes packets one at a
    /// time, and netif_receive_skb fires as each begins). Other
    /// connections' packets leave the call.
    func attributeFlows(_ samples: [KernelSample], to call: SyscallInvocation) -> (kept: [KernelSample], others: [KernelSample]) {
        let local = call.socket?.local?.forPairing, peer = call.socket?.peer?.forPairing
        var kept: [KernelSample] = [], others: [KernelSample] = []
        var current: (flow: PacketFlow, sender: QueuedPackets.Sender?)?
        for var sample in samples.sorted(by: { $0.time < $1.time }) {
            let parts = ChainAligner.parts(sample.frames)
            if parts.softirq.isEmpty {
                current = nil
                if sample.tracepoint == KernelSample.transmitTracepoint, !parts.syscall.isEmpty, let skb = sample.skbAddress,
                   let local, let peer {
                    queuedPackets.queued(skb: skb, by: .init(local: local, peer: peer, call: "\(call.name) of \(call.tid)", time: sample.time,
                                                                        length: sample.packetLength))
                }
                kept.append(sample)
                continue
            }
            if parts.softirqKind != "NET_RX" {
                current = nil
                sample.flow = PacketFlow(owner: .unverified, evidence: "\(parts.softirqKind ?? "unknown") softirq work, not one packet's")
            } else if sample.tracepoint == KernelSample.receiveTracepoint, let skb = sample.skbAddress {
                current = flow(ofSkb: skb, length: sample.packetLength, at: sample.time, local: local, peer: peer)
                sample.flow = current?.flow
            } else if let packet = current, sample.chain.contains(where: KernelSample.packetReceiveFrames.contains) {
                sample.flow = PacketFlow(owner: packet.flow.owner,
                                         evidence: "in the receive of the packet taken in before it on this stack, " + packet.flow.evidence)
                // What a packet's receive sends (an ACK, a SYN-ACK, a reset,
                // data the ACK let go) leaves from its receiver to its sender.
                if sample.tracepoint == KernelSample.transmitTracepoint, let skb = sample.skbAddress, let sender = packet.sender {
                    queuedPackets.queued(skb: skb, by: .init(local: sender.peer, peer: sender.local,
                                                             call: "the receive of a packet from \(sender.call)", time: sample.time,
                                                             length: sample.packetLength))
                }
            } else {
                sample.flow = PacketFlow(owner: .unverified, evidence: "no packet's receive was seen begin before it on this stack")
            }
            if sample.flow?.belongsToCall == false { others.append(sample) } else { kept.append(sample) }
        }
        return (kept, others)
    }

    func flow(ofSkb skb: Int64, length: Int64?, at time: MonotonicTime, local: SocketEndpoint?,
              peer: SocketEndpoint?) -> (flow: PacketFlow, sender: QueuedPackets.Sender?) {
        let name = "skb 0x" + String(UInt64(bitPattern: skb), radix: 16)
        guard let sender = queuedPackets.takeSender(of: skb, at: time, length: length) else {
            return (PacketFlow(owner: .unverified, evidence: "\(name) was not seen leaving a traced call"), nil)
        }
        let sent = "\(name) queued by \(sender.call) on \(sender.local) → \(sender.peer)"
        guard let local, let peer else {
            return (PacketFlow(owner: .unverified, evidence: sent + "; this call's socket has no known 4-tuple"), sender)
        }
        if sender.local == local && sender.peer == peer { return (PacketFlow(owner: .ownSocket, evidence: sent), sender) }
        if sender.local == peer && sender.peer == local { return (PacketFlow(owner: .peer, evidence: sent), sender) }
        return (PacketFlow(owner: .otherFlow, evidence: sent + ", not \(local) ↔ \(peer)"), sender)
    }

    /// The syscall side of a chain against the call's operation (among
    /// several for the call, the first whose own functions, named by no
    /// other, the chain shows), and the softirq side (if any) against the
    /// softirq operation whose own functions it shows (none: it is
    /// unmodelled, and shown as it is).
    func align(_ frames: [KernelFrame], candidates: [StackOperation], syscall: Syscall) -> [ChainAlignment] {
        let parts = ChainAligner.parts(frames)
        var found: [ChainAlignment] = []
        if let operation = Self.choose(candidates, for: Set(parts.syscall.map(\.function)), syscall: syscall, kernel: kernel) {
            let expected = self.expected(operation, syscall).functions
            // Under softirq work the syscall's frames are that sample's context:
            // the sample counts under the softirq's operation, not again here.
            let context = parts.softirq.isEmpty ? ChainAlignment.syscallContext : ChainAlignment.syscallUnderSoftirq
            if !parts.syscall.isEmpty {
                found.append(aligner.align(frames: parts.syscall, with: expected, operation: operation.name, context: context, caller: parts.entry))
            }
        }
        if let model, let softirq = aligner.softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model, kernel: kernel,
                                                            caller: parts.connecting.last) {
            found.append(softirq)
        }
        return found
    }
}
