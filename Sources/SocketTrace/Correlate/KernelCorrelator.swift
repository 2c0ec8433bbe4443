/// Attributes kernel samples to syscalls: a sample belongs to the call in
/// flight on the same thread when it was taken (entry ≤ t ≤ exit), softirq
/// work run on that thread's stack included. Samples taken between calls
/// (timers, interrupts, untraced syscalls) are events of their own.
public final class KernelCorrelator: @unchecked Sendable {
    let model: StackModel?
    let aligner: ChainAligner
    let kernel: KernelVersion?
    var pending: [Int32: [KernelSample]] = [:]

    public init(model: StackModel?, symbols: KernelSymbols?, kernel: KernelVersion? = .running) {
        self.model = model
        self.aligner = ChainAligner(symbols: symbols)
        self.kernel = kernel
    }

    public func add(_ samples: [KernelSample]) {
        for sample in samples { pending[sample.tid, default: []].append(sample) }
    }

    /// Samples on `tid` taken before `time`: they belong to no traced call.
    public func takeStray(tid: Int32, before time: MonotonicTime?) -> [KernelSample] {
        guard let queue = pending[tid] else { return [] }
        guard let time else {
            pending[tid] = nil
            return queue
        }
        let stray = queue.filter { $0.time < time }
        pending[tid] = queue.filter { $0.time >= time }
        return stray
    }

    /// The kernel activity of a finished call, taking its samples.
    public func activity(for call: SyscallInvocation) -> KernelActivity {
        let exit = call.exitTime ?? .now()
        let queue = pending[call.tid] ?? []
        let mine = queue.filter { $0.time >= call.entryTime && $0.time <= exit }
        pending[call.tid] = queue.filter { $0.time > exit }
        let operation = model?.operation(for: call.syscall, socket: call.socket)
        let expected = operation?.chain(for: call.syscall.rawValue, kernel: kernel) ?? []
        var alignments: [ChainAlignment] = []
        for sample in mine where sample.role == .chain && !sample.chain.isEmpty {
            let (syscallPart, softirqPart) = ChainAligner.split(sample.chain)
            var found: [ChainAlignment] = []
            if let operation, !syscallPart.isEmpty {
                found.append(aligner.align(syscallPart, with: expected, operation: operation.name))
            }
            if let model, let softirq = aligner.bestSoftirqAlignment(softirqPart, model: model, kernel: kernel) {
                found.append(softirq)
            }
            for var alignment in found {
                alignment.sample = sample.tracepoint + " " + sample.summary
                alignments.append(alignment)
            }
        }
        return KernelActivity(operation: operation?.name, source: mine.isEmpty ? .expected : .observed,
                              expected: expected.map(\.name), samples: mine, alignments: alignments)
    }
}
