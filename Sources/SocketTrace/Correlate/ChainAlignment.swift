/// An observed call chain set against the model's chain for its operation:
/// for each expected function, whether it was seen, and which observed
/// frames the model did not expect.
public struct ChainAlignment: Sendable, Codable {
    public enum Status: String, Sendable, Codable {
        /// In the chain, in the expected order.
        case matched
        /// Not a symbol in this kernel at all: always inlined, or renamed.
        case absentFromKernel = "absent"
        /// A symbol exists, but not in this chain: inlined at this call site,
        /// or it tail-called the next function.
        case skipped
        /// In the chain, but out of the model's order.
        case outOfOrder = "out-of-order"
    }

    public struct Step: Sendable, Codable, Hashable {
        public let function: String
        public let layer: StackLayer
        public let status: Status
    }

    public let operation: String
    public let steps: [Step]
    /// Observed frames (outermost first) that the model does not name.
    public let extraFrames: [String]
    /// The observed frames that were aligned, outermost first.
    public let observed: [String]
    /// The sample the chain came from: its tracepoint and fields, one line.
    public var sample: String?

    enum CodingKeys: String, CodingKey { case operation, steps, extraFrames, observed, sample, alignmentId }

    public init(operation: String, steps: [Step], extraFrames: [String], observed: [String], sample: String? = nil) {
        self.operation = operation
        self.steps = steps
        self.extraFrames = extraFrames
        self.observed = observed
        self.sample = sample
    }

    /// Reads the alignment written out, or (format 1.2) `alignment_id`, naming an
    /// `alignment` record read earlier, with this call's `sample`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sample = try c.decodeIfPresent(String.self, forKey: .sample)
        if let id = try c.decodeIfPresent(Int.self, forKey: .alignmentId) {
            guard let shared = (decoder.userInfo[AlignmentTable.key] as? AlignmentTable)?.alignments[id] else {
                throw DecodingError.dataCorruptedError(forKey: .alignmentId, in: c, debugDescription: "alignment \(id) is not defined before it is used")
            }
            operation = shared.operation
            steps = shared.steps
            extraFrames = shared.extraFrames
            observed = shared.observed
            return
        }
        operation = try c.decode(String.self, forKey: .operation)
        steps = try c.decode([Step].self, forKey: .steps)
        extraFrames = try c.decode([String].self, forKey: .extraFrames)
        observed = try c.decode([String].self, forKey: .observed)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operation, forKey: .operation)
        try c.encode(steps, forKey: .steps)
        try c.encode(extraFrames, forKey: .extraFrames)
        try c.encode(observed, forKey: .observed)
        try c.encodeIfPresent(sample, forKey: .sample)
    }

    /// What calls with the same chain share (everything but the sample).
    struct Shape: Hashable {
        let operation: String
        let steps: [Step]
        let extraFrames: [String]
        let observed: [String]

        /// Hashed like a `ChainKey` (equal shapes still compare in full).
        func hash(into hasher: inout Hasher) {
            hasher.combine(operation)
            hasher.combine(steps.count)
            hasher.combine(extraFrames.count)
            hasher.combine(ChainKey(observed))
        }
    }

    var shape: Shape { Shape(operation: operation, steps: steps, extraFrames: extraFrames, observed: observed) }

    public enum Verdict: String, Sendable, Codable {
        /// Every function the model expects and the kernel has was there, in order.
        case matches
        /// Some expected functions were inlined here or tail-called.
        case inlined = "matches-with-inlining"
        /// Frames the model does not name appeared.
        case extraFrames = "extra-frames"
        case outOfOrder = "out-of-order"
        /// None of the model's functions appeared.
        case unrelated
    }

    public var verdict: Verdict {
        if !steps.contains(where: { $0.status == .matched }) { return .unrelated }
        if steps.contains(where: { $0.status == .outOfOrder }) { return .outOfOrder }
        if !extraFrames.isEmpty { return .extraFrames }
        if steps.contains(where: { $0.status == .skipped }) { return .inlined }
        return .matches
    }

    public func count(_ status: Status) -> Int { steps.filter { $0.status == status }.count }

    /// `10 matched, 3 inlined or tail calls, 2 absent from this kernel`.
    public var summary: String {
        var parts = ["\(count(.matched)) matched"]
        if count(.skipped) > 0 { parts.append("\(count(.skipped)) inlined here or tail-called") }
        if count(.absentFromKernel) > 0 { parts.append("\(count(.absentFromKernel)) not in this kernel") }
        if count(.outOfOrder) > 0 { parts.append("\(count(.outOfOrder)) out of order") }
        if !extraFrames.isEmpty { parts.append("\(extraFrames.count) unexpected") }
        return parts.joined(separator: ", ")
    }
}

/// Lines an observed chain up with the model.
public struct ChainAligner: Sendable {
    let symbols: KernelSymbols?

    public init(symbols: KernelSymbols?) { self.symbols = symbols }

    /// Frames that are the machinery of entering the kernel or of the
    /// tracepoint itself, not part of the network stack's path.
    static func isPlumbing(_ name: String) -> Bool {
        name.hasPrefix("entry_SYSCALL") || name == "do_syscall_64" || name == "x64_sys_call"
            || name.hasPrefix("call_trace_") || name.hasPrefix("trace_event_") || name.hasPrefix("perf_trace")
            || name.hasPrefix("__traceiter_") || name.hasPrefix("__bpf_trace") || name == "do_int80_emulation"
            || name.hasPrefix("__do_fast_syscall_32") || name.hasPrefix("do_fast_syscall_32")
            || name.hasPrefix("entry_INT80") || name.hasPrefix("entry_SYSENTER") || name.hasPrefix("__ia32_")
            || name.hasPrefix("__do_sys_") || name == "ia32_sys_call"
    }

    /// Where a chain leaves the syscall for softirq work done on its stack.
    static let softirqBoundary: Set<String> = [
        "__local_bh_enable_ip", "do_softirq", "__do_softirq", "handle_softirqs", "irq_exit_rcu",
        "do_softirq_own_stack", "__irq_exit_rcu", "local_bh_enable", "run_ksoftirqd",
    ]

    /// A chain (innermost first, as sampled) split into the syscall's part
    /// and the softirq part, each outermost first, plumbing removed.
    public static func split(_ chain: [String]) -> (syscall: [String], softirq: [String]) {
        let outermostFirst = chain.reversed().filter { !isPlumbing($0) }
        guard let first = outermostFirst.firstIndex(where: { softirqBoundary.contains($0) }) else {
            return (outermostFirst, [])
        }
        let last = outermostFirst.lastIndex(where: { softirqBoundary.contains($0) }) ?? first
        return (Array(outermostFirst[..<first]), Array(outermostFirst[(last + 1)...]))
    }

    public func align(_ observed: [String], with expected: [ModelFunction], operation: String) -> ChainAlignment {
        let expectedNames = expected.map(\.name)
        // The chain ends at the tracepoint: compare only up to the deepest
        // expected function it reached.
        let reached = expected.lastIndex { observed.contains($0.name) } ?? -1
        let considered = Array(expected.prefix(reached + 1))
        var steps: [ChainAlignment.Step] = []
        var position = -1
        for function in considered {
            if let index = observed.indices.first(where: { $0 > position && observed[$0] == function.name }) {
                steps.append(.init(function: function.name, layer: function.layer, status: .matched))
                position = index
            } else if observed.firstIndex(of: function.name) != nil {
                steps.append(.init(function: function.name, layer: function.layer, status: .outOfOrder))
            } else if let symbols, symbols.presence(of: function.name) == .absent {
                steps.append(.init(function: function.name, layer: function.layer, status: .absentFromKernel))
            } else {
                steps.append(.init(function: function.name, layer: function.layer, status: .skipped))
            }
        }
        // Frames inside the aligned stretch that the model does not name.
        let lastMatched = observed.lastIndex { name in considered.contains { $0.name == name } } ?? -1
        let firstMatched = observed.firstIndex { name in considered.contains { $0.name == name } } ?? 0
        let stretch = lastMatched >= firstMatched ? Array(observed[firstMatched...lastMatched]) : []
        let extras = stretch.filter { !expectedNames.contains($0) }
        return ChainAlignment(operation: operation, steps: steps, extraFrames: extras, observed: observed)
    }

    /// The softirq operation whose chain fits best (most functions matched).
    public func bestSoftirqAlignment(_ observed: [String], model: StackModel, kernel: KernelVersion?) -> ChainAlignment? {
        guard !observed.isEmpty else { return nil }
        let candidates = model.softirqOperations.map { operation in
            align(observed, with: operation.chain(for: nil, kernel: kernel), operation: operation.name)
        }
        return candidates.max { $0.count(.matched) < $1.count(.matched) }.flatMap { $0.count(.matched) > 0 ? $0 : nil }
    }
}
