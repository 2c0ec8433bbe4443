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

    enum CodingKeys: String, CodingKey { case operation, source, expected, expectedId, samples, alignments, observed, verdict }

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
    }

    /// The worst verdict over the call's chains.
    public var verdict: ChainAlignment.Verdict? {
        alignments.map(\.verdict).max { $0.rank < $1.rank }
    }
}
