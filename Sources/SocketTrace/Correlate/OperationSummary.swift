/// Expected vs observed per operation over a whole trace: how many calls,
/// how many had chains observed, their verdicts, and for every model
/// function how often it had each status (matched, proven a tail call, …).
public struct OperationSummary: Sendable, Codable {
    public struct FunctionCounts: Sendable, Codable {
        public var function: String
        public var layer: StackLayer
        /// Alignments by status (its raw value).
        public var statuses: [String: Int] = [:]
        /// Entries seen by its kprobe, over the operation's calls (`--probe-set functions`).
        public var hits: Int?
        /// With return probes: entries that returned within their calls, and
        /// the time spent inside them in all (nanoseconds).
        public var returned: Int?
        public var insideNanoseconds: UInt64?

        public func count(_ status: ChainAlignment.Status) -> Int { statuses[status.rawValue] ?? 0 }
        /// Inlined, where the model calls it beside the path: where its code
        /// lies is proven, that it ran is not (audit 16: counted as `inlined`
        /// for a TCP recv with MSG_TRUNC, which copies nothing).
        public var inlinedBeside: Int { statuses[Self.inlinedBesideKey] ?? 0 }
        public static let inlinedBesideKey = "inlined-beside"
        public static let inlinedBesideLabel = "inlined, beside (not proven to have run)"
    }

    public var operation: String
    public var calls = 0
    /// Of `calls`, processes' exits that released a socket (format 1.9's `exit_kernel`).
    public var exits = 0
    public var observedCalls = 0
    public var chains = 0
    public var verdicts: [String: Int] = [:]
    public var functions: [FunctionCounts] = []
    public var extraFrames: [String: Int] = [:]

    /// Summaries of every operation seen in the calls, in first-seen order.
    /// `exits`: processes' ends whose release the kernel was sampled in
    /// (`exit_kernel`), each counted as one call of its operation.
    public static func summarize(_ calls: [SyscallInvocation], exits: [ProcessEvent] = []) -> [OperationSummary] {
        var order: [String] = []
        var byName: [String: OperationSummary] = [:]
        let activities = calls.compactMap(\.kernel).map { ($0, false) } + exits.compactMap(\.exitKernel).map { ($0, true) }
        func add(_ alignment: ChainAlignment, to summary: inout OperationSummary) {
            summary.chains += 1
            summary.verdicts[alignment.verdict.rawValue, default: 0] += 1
            for step in alignment.steps {
                var index = summary.functions.firstIndex { $0.function == step.function }
                if index == nil {
                    summary.functions.append(FunctionCounts(function: step.function, layer: step.layer))
                    index = summary.functions.count - 1
                }
                let key = step.status == .inlined && step.besidePath == true ? FunctionCounts.inlinedBesideKey : step.status.rawValue
                summary.functions[index!].statuses[key, default: 0] += 1
            }
            for frame in alignment.extraFrames { summary.extraFrames[frame, default: 0] += 1 }
        }
        for (activity, atExit) in activities {
            for hit in activity.hits {
                guard let operation = hit.operation ?? activity.operation else { continue }
                if byName[operation] == nil {
                    byName[operation] = OperationSummary(operation: operation)
                    order.append(operation)
                }
                var index = byName[operation]!.functions.firstIndex { $0.function == hit.function }
                if index == nil {
                    byName[operation]!.functions.append(FunctionCounts(function: hit.function, layer: hit.layer ?? .socket))
                    index = byName[operation]!.functions.count - 1
                }
                byName[operation]!.functions[index!].hits = (byName[operation]!.functions[index!].hits ?? 0) + hit.count
                if let returned = hit.returned, let inside = hit.insideNanoseconds {
                    byName[operation]!.functions[index!].returned = (byName[operation]!.functions[index!].returned ?? 0) + returned
                    byName[operation]!.functions[index!].insideNanoseconds = (byName[operation]!.functions[index!].insideNanoseconds ?? 0) + inside
                }
            }
            guard let operation = activity.operation else { continue }
            if byName[operation] == nil {
                byName[operation] = OperationSummary(operation: operation)
                order.append(operation)
            }
            byName[operation]!.calls += 1
            if atExit { byName[operation]!.exits += 1 }
            if activity.source == .observed { byName[operation]!.observedCalls += 1 }
            for alignment in activity.alignments where alignment.countsTheSample {
                if byName[alignment.operation] == nil {
                    byName[alignment.operation] = OperationSummary(operation: alignment.operation)
                    order.append(alignment.operation)
                }
                add(alignment, to: &byName[alignment.operation]!)
            }
        }
        return order.compactMap { byName[$0] }
    }

    public var text: String {
        var out = "\(operation): \(calls) call\(calls == 1 ? "" : "s")"
        if exits > 0 { out += " (\(exits) of them a process's exit)" }
        if calls > 0 { out += ", \(observedCalls) with kernel samples" }
        out += ", \(chains) chain\(chains == 1 ? "" : "s") aligned"
        if !verdicts.isEmpty {
            out += " (" + verdicts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        out += "\n"
        for counts in functions {
            var parts = ChainAlignment.Status.allCases.filter { counts.count($0) > 0 }.map { "\($0.label) \(counts.count($0))" }
            if counts.inlinedBeside > 0 { parts.append("\(FunctionCounts.inlinedBesideLabel) \(counts.inlinedBeside)") }
            if let hits = counts.hits { parts.append("entered \(hits)× (kprobe)") }
            if let returned = counts.returned, returned > 0, let inside = counts.insideNanoseconds {
                // The mean of the entries that returned within their calls.
                parts.append("\(TextTimeline.graphDuration(inside / UInt64(returned))) inside on average")
            }
            out += "  " + counts.layer.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                + counts.function.padding(toLength: 30, withPad: " ", startingAt: 0) + parts.joined(separator: ", ") + "\n"
        }
        for (frame, count) in extraFrames.sorted(by: { $0.value > $1.value }) {
            out += "  " + "extra".padding(toLength: 10, withPad: " ", startingAt: 0)
                + frame.padding(toLength: 30, withPad: " ", startingAt: 0) + "seen \(count), not in the model\n"
        }
        return out
    }
}
