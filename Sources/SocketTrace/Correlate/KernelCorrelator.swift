/// Attributes kernel samples to syscalls: a sample belongs to the call in
/// flight on the same thread when it was taken (entry ≤ t ≤ exit), softirq
/// work run on that thread's stack included. Samples taken between calls
/// (timers, interrupts, untraced syscalls) are events of their own.
public final class KernelCorrelator: @unchecked Sendable {
    let model: StackModel?
    let aligner: ChainAligner
    let kernel: KernelVersion?
    var pending: [Int32: SampleQueue] = [:]

    /// A chain's alignments depend only on the chain and the operation: a
    /// busy connection repeats a few chains thousands of times. Bounded, so
    /// that memory stays flat on long traces.
    struct AlignmentKey: Hashable {
        let operation: String?
        let chain: ChainKey
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

    func expected(_ operation: StackOperation?, _ syscall: Syscall) -> (functions: [ModelFunction], names: [String]) {
        guard let operation else { return ([], []) }
        let key = ExpectedKey(operation: operation.name, syscall: syscall)
        if let known = expectedCache[key] { return known }
        let functions = operation.chain(for: syscall.rawValue, kernel: kernel)
        let found = (functions, functions.map(\.name))
        expectedCache[key] = found
        return found
    }

    public init(model: StackModel?, symbols: KernelSymbols?, kernel: KernelVersion? = .running) {
        self.model = model
        self.aligner = ChainAligner(symbols: symbols)
        self.kernel = kernel
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
        let operation = model?.operation(for: call.syscall, socket: call.socket)
        let (expected, expectedNames) = self.expected(operation, call.syscall)
        var alignments: [ChainAlignment] = []
        for sample in mine where sample.role == .chain && !sample.chain.isEmpty {
            let key = AlignmentKey(operation: operation?.name, chain: ChainKey(sample.chain))
            let found: [ChainAlignment]
            if let known = alignmentCache[key] {
                found = known
            } else {
                found = align(sample.chain, operation: operation, expected: expected)
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

    /// The syscall side of a chain against the call's operation, and the
    /// softirq side (if any) against the best-fitting softirq operation.
    func align(_ chain: [String], operation: StackOperation?, expected: [ModelFunction]) -> [ChainAlignment] {
        let (syscallPart, softirqPart) = ChainAligner.split(chain)
        var found: [ChainAlignment] = []
        if let operation, !syscallPart.isEmpty {
            found.append(aligner.align(syscallPart, with: expected, operation: operation.name))
        }
        if let model, let softirq = aligner.bestSoftirqAlignment(softirqPart, model: model, kernel: kernel) {
            found.append(softirq)
        }
        return found
    }
}
