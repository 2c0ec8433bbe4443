/// What the kernel did for one syscall: the operation the model says it
/// performs, the samples taken while it ran, and each chain's alignment.
public struct KernelActivity: Sendable, Codable {
    public enum Source: String, Sendable, Codable {
        /// Chains were captured while the call ran.
        case observed
        /// Nothing was captured (no tracepoint on this path, or no kernel
        /// observation): the model's chain is shown as expected only.
        case expected
    }

    public var operation: String?
    public var source: Source
    /// The model's chain for this call on this kernel, outermost first.
    public var expected: [String]
    public var samples: [KernelSample]
    /// One per chain sample: the syscall part, and the softirq part if any.
    public var alignments: [ChainAlignment]
    /// With kprobes (`--probe-set functions`): the model functions entered
    /// during the call, in the order of their first entry (format 1.4).
    public var hits: [FunctionHit] = []
    /// The functions of the call's operations that were not entered, each
    /// with why: not probed (and why), or probed and not hit (format 1.4).
    public var notHit: [MissedFunction] = []
    /// With `--function-graph`: every function the call entered, with its
    /// depth and time, from the kernel's function_graph tracer (format 1.5).
    public var functionGraph: FunctionGraph?
    /// What the kernel's own events say of the socket's state when the
    /// calls made on it do not (a connection reset while every call on it
    /// succeeded), and so which operation was chosen (format 1.8).
    public var socketState: String?
    /// A connect whose socket the kernel took out of TCP_SYN_SENT in
    /// another task while the call slept (a reset or ICMP error taken in by
    /// a softirq on another CPU, after a retransmitted SYN): its 4-tuple
    /// from that state change, matched to the call by the socket's kernel
    /// address (`skaddr`) in the call's own CLOSE → SYN_SENT; the call's
    /// snapshot lacks it, the failure having released the port (format 1.14).
    public var closedElsewhere: ClosedElsewhere?
    /// A close: whether it released its file or left it to another
    /// reference, as the free of the file shows (`FileRelease`),
    /// when that is not what its operation already says (format 1.22).
    public var fileRelease: String?

    /// The 4-tuple and the state change that told it.
    public struct ClosedElsewhere: Sendable, Codable, Equatable {
        public var local: String
        public var peer: String
        public var evidence: String
    }

    enum CodingKeys: String, CodingKey {
        case operation, source, expected, expectedId, samples, alignments, observed, verdict, hits, notHit, functionGraph, socketState,
             closedElsewhere, fileRelease
    }

    public init(operation: String?, source: Source, expected: [String], samples: [KernelSample], alignments: [ChainAlignment]) {
        self.operation = operation
        self.source = source
        self.expected = expected
        self.samples = samples
        self.alignments = alignments
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        operation = try c.decodeIfPresent(String.self, forKey: .operation)
        source = try c.decode(Source.self, forKey: .source)
        if let id = try c.decodeIfPresent(Int.self, forKey: .expectedId) {
            // Format 1.2: the model's chain, written once as a `chain` record.
            guard let frames = (decoder.userInfo[ChainTable.key] as? ChainTable)?.frames[id] else {
                throw DecodingError.dataCorruptedError(forKey: .expectedId, in: c, debugDescription: "chain \(id) is not defined before it is used")
            }
            expected = frames
        } else {
            expected = try c.decode([String].self, forKey: .expected)
        }
        samples = try c.decode([KernelSample].self, forKey: .samples)
        alignments = try c.decode([ChainAlignment].self, forKey: .alignments)
        hits = try c.decodeIfPresent([FunctionHit].self, forKey: .hits) ?? []
        notHit = try c.decodeIfPresent([MissedFunction].self, forKey: .notHit) ?? []
        functionGraph = try c.decodeIfPresent(FunctionGraph.self, forKey: .functionGraph)
        socketState = try c.decodeIfPresent(String.self, forKey: .socketState)
        fileRelease = try c.decodeIfPresent(String.self, forKey: .fileRelease)
        closedElsewhere = try c.decodeIfPresent(ClosedElsewhere.self, forKey: .closedElsewhere)
    }

    /// Also writes `observed` (each aligned chain's frames) and `verdict`,
    /// for scripts that read the trace file.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(operation, forKey: .operation)
        try c.encode(source, forKey: .source)
        try c.encode(expected, forKey: .expected)
        try c.encode(alignments.map(\.observed), forKey: .observed)
        try c.encodeIfPresent(verdict, forKey: .verdict)
        try c.encode(alignments, forKey: .alignments)
        try c.encode(samples, forKey: .samples)
        if !hits.isEmpty { try c.encode(hits, forKey: .hits) }
        if !notHit.isEmpty { try c.encode(notHit, forKey: .notHit) }
        try c.encodeIfPresent(functionGraph, forKey: .functionGraph)
        try c.encodeIfPresent(socketState, forKey: .socketState)
        try c.encodeIfPresent(fileRelease, forKey: .fileRelease)
        try c.encodeIfPresent(closedElsewhere, forKey: .closedElsewhere)
    }

    /// The worst verdict over the call's chains.
    public var verdict: ChainAlignment.Verdict? {
        alignments.map(\.verdict).max { $0.rank < $1.rank }
    }
}

/// A model function whose kprobe fired during a call: proof that it ran.
public struct FunctionHit: Sendable, Codable, Equatable {
    public let function: String
    /// The operation whose chain names it (the call's, or the softirq
    /// operation of the work it ran in), for the per-operation counts.
    public let operation: String?
    public let layer: StackLayer?
    public var count: Int
    /// The first entry.
    public let time: MonotonicTime
    /// Where the first entry ran: `syscall`, or `softirq NET_RX` (on the call's stack).
    public let context: String
    /// The first entry's stack, innermost first (`tcp_sendmsg+0x4`, then
    /// the return addresses, `__sys_sendto+0x239`, …), plumbing left out.
    public let stack: [String]
    /// With return probes (format 1.7): how many of its entries returned
    /// within the call, and the time spent inside them in all (nanoseconds,
    /// each from its entry to its return, callees included).
    public var returned: Int?
    public var insideNanoseconds: UInt64?

    public init(function: String, operation: String?, layer: StackLayer?, count: Int, time: MonotonicTime, context: String, stack: [String]) {
        self.function = function
        self.operation = operation
        self.layer = layer
        self.count = count
        self.time = time
        self.context = context
        self.stack = stack
    }
}

/// A function of a call's operation that was not entered, and why that
/// tells nothing more (`not probed: …`) or that it did not run
/// (`probed, not hit: …`).
public struct MissedFunction: Sendable, Codable, Equatable {
    public let function: String
    public let reason: String

    public init(function: String, reason: String) {
        self.function = function
        self.reason = reason
    }

    /// Whether its kprobe was in place, so that not being hit means it did not run.
    public var wasProbed: Bool { reason.hasPrefix("probed") }
}

extension KernelActivity {
    /// `sample`'s alignment that `fits`: its own first (two samples with
    /// the same frames may be of different operations: an exit releasing a
    /// listener and a connection, audit 73 M1), else any that fits (an
    /// alignment need not name its sample).
    func alignment(of sample: KernelSample, where fits: (ChainAlignment) -> Bool) -> ChainAlignment? {
        alignments.first { $0.sample == sample.heading && fits($0) } ?? alignments.first(where: fits)
    }
}
