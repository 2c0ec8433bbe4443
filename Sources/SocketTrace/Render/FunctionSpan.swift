/// One call of the program's own functions (`--functions`), paired from its
/// entry and exit records on its thread, for the views that draw calls as
/// spans (Perfetto, HTML).
struct FunctionSpan {
    let entry: FunctionEvent
    /// nil: still running when the trace ended.
    let exit: FunctionEvent?
    /// A frame a forked child inherited from its parent (it has an exit but
    /// no entry on this thread): its entry is the thread's first record.
    let inherited: Bool

    /// Every call in the records, in the order they ended (unfinished ones last).
    static func spans(in records: [TraceRecord]) -> [FunctionSpan] {
        var spans: [FunctionSpan] = []
        var open: [Int32: [FunctionEvent]] = [:]
        var firstSeen: [Int32: MonotonicTime] = [:]
        for record in records {
            if case let .process(event) = record, firstSeen[event.tid] == nil { firstSeen[event.tid] = event.time }
            guard case let .function(event) = record else { continue }
            if event.kind == .entry {
                open[event.tid, default: []].append(event)
            } else if let entry = open[event.tid]?.last, entry.function == event.function {
                open[event.tid]?.removeLast()
                spans.append(FunctionSpan(entry: entry, exit: event, inherited: false))
            } else if open[event.tid, default: []].isEmpty, let start = firstSeen[event.tid] {
                var entry = FunctionEvent(.entry, pid: event.pid, tid: event.tid, function: event.function, depth: event.depth, time: start)
                entry.arguments = [.init(name: "inherited", value: "through fork")]
                spans.append(FunctionSpan(entry: entry, exit: event, inherited: true))
            }
        }
        for entries in open.values {
            for entry in entries { spans.append(FunctionSpan(entry: entry, exit: nil, inherited: false)) }
        }
        return spans
    }
}
