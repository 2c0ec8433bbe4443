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

    /// The worst verdict over the call's chains.
    public var verdict: ChainAlignment.Verdict? {
        let order: [ChainAlignment.Verdict] = [.matches, .inlined, .extraFrames, .outOfOrder, .unrelated]
        return alignments.map(\.verdict).max { order.firstIndex(of: $0)! < order.firstIndex(of: $1)! }
    }
}
