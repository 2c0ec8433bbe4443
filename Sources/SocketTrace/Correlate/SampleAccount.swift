/// Where a trace's kernel samples went: those the sampler took (its `end`
/// record), those lost to a full ring, those written (in calls, as events
/// of their own, in processes' exits) and those left out on purpose, by
/// why. Written and left out add up to taken; a difference is said, never
/// hidden (audit 48: 54 samples taken, 47 in the file, and nothing said
/// of the other 7: hits of other programs' connections).
public struct SampleAccount: Sendable, Encodable {
    public var taken: UInt64 = 0
    public var lost: UInt64 = 0
    public var inCalls = 0
    public var events = 0
    public var inExits = 0
    public var leftOut: [String: UInt64] = [:]
    /// Whether every file had its `end` record (a trace cut short has no counts).
    public var complete = true

    public init(summaries: [TraceSummary?], calls: [SyscallInvocation], events: [KernelSample], exits: [ProcessEvent]) {
        for summary in summaries {
            guard let summary else { complete = false; continue }
            taken += summary.kernelSamples
            lost += summary.lostKernelSamples
            leftOut.merge(summary.leftOutKernelSamples ?? [:], uniquingKeysWith: +)
        }
        inCalls = calls.reduce(0) { $0 + ($1.kernel?.samples.count ?? 0) }
        self.events = events.count
        inExits = exits.reduce(0) { $0 + ($1.exitKernel?.samples.count ?? 0) }
    }

    public var written: Int { inCalls + events + inExits }
    public var leftOutTotal: UInt64 { leftOut.values.reduce(0, +) }
    /// Taken, less written and left out: 0 when every sample is accounted for.
    public var unaccounted: Int64 { Int64(taken) - Int64(written) - Int64(leftOutTotal) }

    /// Why, as the text says it.
    static let reasons: [(key: String, text: String)] = [
        ("other_flows", "of connections no traced socket had (probes sampled everywhere or elsewhere)"),
        ("before_their_call", "taken in a thread before the call that took them began"),
        ("hits_outside_calls", "kprobe hits outside every traced call"),
        ("repeated", "copies the elsewhere programs kept of a traced task's own sample"),
    ]

    public var text: String {
        guard complete else { return "kernel samples: no count (a trace file was cut short before its end record)\n" }
        var line = "kernel samples: \(taken) taken while tracing, \(lost) lost (ring full); \(written) in the file "
            + "(\(inCalls) in calls, \(events) events outside them, \(inExits) in exits)"
        if leftOutTotal > 0 {
            let parts = Self.reasons.compactMap { reason in leftOut[reason.key].map { "\($0) \(reason.text)" } }
                + leftOut.keys.filter { key in !Self.reasons.contains { $0.key == key } }.sorted().map { "\(leftOut[$0]!) \($0)" }
            line += ", \(leftOutTotal) left out: " + parts.joined(separator: "; ")
        }
        if unaccounted != 0 {
            line += "; \(abs(unaccounted)) \(unaccounted > 0 ? "taken and neither written nor counted as left out" : "more written than counted as taken")"
        }
        return line + "\n"
    }
}
