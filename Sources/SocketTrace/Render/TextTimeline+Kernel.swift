/// Under a call: the kernel stacks sampled while it ran, every frame in
/// stack order, with the model's annotations beside them.
extension TextTimeline {
    static let dim = "\u{1B}[2m"
    static let yellow = "\u{1B}[33m"
    static let green = "\u{1B}[32m"
    static let red = "\u{1B}[31m"
    static let cyan = "\u{1B}[36m"

    /// Each distinct stack once (with how many samples showed it): the
    /// syscall's frames aligned with the call's operation, the frames that
    /// lead into softirq work run on the same stack, and that work aligned
    /// with the softirq operation whose own functions it shows (or said to
    /// be unmodelled). Then the events taken during the call; or, when
    /// nothing was observed, the model's expected chain, marked so.
    /// `outsideCalls`: a sample taken outside the traced tasks (its first
    /// part is the interrupted task's frames, not a syscall's).
    /// `entry`: what the task's own frames came from, `syscall`, or
    /// `exit` for a process's end releasing its sockets.
    /// `failure`: the call's error, when it failed. `architecture`: the
    /// call's (the model's entries are x86-64 calls').
    func kernelLines(_ activity: KernelActivity, userChain: [String] = [], outsideCalls: Bool = false, entry: String = "syscall",
                     failure: String? = nil, architecture: Architecture = .x86_64) {
        let indent = kernelIndent
        // The model's chain shown for a call not observed: a 32-bit call
        // never enters through its 64-bit entry (audit 94 minor 1).
        func modelChain() -> String {
            let chain = (userChain + activity.expected).joined(separator: " → ")
            guard architecture == .i386, let entry = activity.expected.first, entry.hasPrefix("__x64_sys_") else { return chain }
            return chain + " (\(entry) is a 64-bit call's entry: this 32-bit call enters through a 32-bit one)"
        }
        if let state = activity.socketState { output.write(indent + paint("↳ " + state, Self.dim) + "\n") }
        if let release = activity.fileRelease { output.write(indent + paint("↳ " + release, Self.dim) + "\n") }
        if let closed = activity.closedElsewhere {
            output.write(indent + paint("↳ its socket \(closed.local) → \(closed.peer) was closed outside this thread: " + closed.evidence, Self.dim) + "\n")
        }
        if activity.source == .expected {
            guard let operation = activity.operation else { return }
            guard !activity.expected.isEmpty else {
                if let failure {
                    output.write(indent + paint("↳ \(operation): the call failed (\(failure)) and nothing was sampled; "
                        + "the model's chain is that of a call that succeeds", Self.dim) + "\n")
                }
                return
            }
            // Nothing sampled: the model's chain for the operation, which
            // this call may not have run (audit 24: a UDP bind, a listen on
            // a listening socket, a zero-length read were each said to run
            // their operation's chain).
            output.write(indent + paint("↳ \(operation), not observed; the model's chain for it, unverified for this call: ", Self.dim)
                + paint(modelChain(), Self.dim) + "\n")
            return
        }
        // Samples in a row with one stack, one event line (a packet's length
        // is part of it: a packet of another length is another packet) and
        // one owner of their packets are shown once, (×N); a sample with
        // another stack between them starts a block of its own, so the
        // blocks keep the samples' order (audit 6: a second route lookup was
        // shown with the first, above the state change taken between them).
        // One stack is the same functions at the same offsets: a frame at
        // another call site has evidence of its own (audit 15: sendmmsg's
        // later messages leave ____sys_sendmsg at another call).
        struct Shown: Hashable {
            let chain: ChainKey
            let offsets: [UInt64]
            let heading: String
            let owner: PacketFlow.Owner?
        }
        struct Block {
            let key: Shown
            let sample: KernelSample
            var count = 1
            // A (×N) of several skbs says whose each was (the first few in
            // order, and how many distinct ones in all).
            var flows: (first: [String], all: Set<String>) = ([], [])
        }
        var blocks: [Block] = []
        for sample in activity.samples where sample.role == .chain && !sample.chain.isEmpty {
            let key = Shown(chain: ChainKey(sample.chain), offsets: sample.offsets, heading: sample.heading, owner: sample.flow?.owner)
            if blocks.last?.key == key { blocks[blocks.count - 1].count += 1 } else { blocks.append(Block(key: key, sample: sample)) }
            if let flow = sample.flow {
                let text = outsideCalls ? "flow: " + flow.evidence : flow.description
                if blocks[blocks.count - 1].flows.all.insert(text).inserted && blocks[blocks.count - 1].flows.first.count < Self.packetLinesShown {
                    blocks[blocks.count - 1].flows.first.append(text)
                }
            }
        }
        for block in blocks {
            stackLines(block.sample, count: block.count, activity: activity, userChain: userChain, outsideCalls: outsideCalls, entry: entry,
                       flows: block.flows.first, distinctFlows: block.flows.all.count)
        }
        if blocks.isEmpty, let operation = activity.operation, !activity.expected.isEmpty {
            // Only events sampled (a listen's state change, with the default
            // probe set): no stack on the operation's path, so its chain is
            // still the model's (audit 25: such calls showed no operation).
            // Their stacks are kept, not aligned (audit 91 F2: "no stack on its
            // path sampled", where an event's stack was the model's chain).
            output.write(indent + paint("↳ \(operation), no chain sampled on its path, only events (their stacks are kept, not aligned: "
                                        + "--event-stacks shows them); the model's chain for it, unverified for this call: ", Self.dim)
                + paint(modelChain(), Self.dim) + "\n")
        }
        for sample in activity.samples where sample.role == .event {
            output.write(indent + paint("· \(sample.tracepoint) \(sample.summary)", Self.dim) + "\n")
            eventStack(sample)
        }
        functionLines(activity)
    }

    /// With `--event-stacks`: an event's whole stack as sampled, outermost
    /// first, each frame with its offset.
    func eventStack(_ sample: KernelSample) {
        guard options.eventStacks, !sample.chain.isEmpty else { return }
        var frames = sample.frames.reversed().map(\.location)
        frames[0] = "stack: " + frames[0]
        writeWrapped(frames, separator: " → ", extraIndent: "  ", continuation: "  ", colour: Self.dim)
    }

    /// With kprobes: the model functions the call entered, in the order of
    /// their first entry, each with its count and the stack it was entered
    /// from (its caller's return address first), then those it did not
    /// enter and why (not probed, or probed and not hit: did not run).
    func functionLines(_ activity: KernelActivity) {
        guard !activity.hits.isEmpty || !activity.notHit.isEmpty else { return }
        let total = activity.hits.reduce(0) { $0 + $1.count }
        output.write(kernelIndent + "functions entered (kprobes), in order: \(activity.hits.count) functions, \(total) hits\n")
        for hit in activity.hits {
            var words = [paint(hit.function, Self.green) + (hit.count > 1 ? " ×\(hit.count)" : "")]
            if let returned = hit.returned, returned > 0, let inside = hit.insideNanoseconds {
                // Its return probe's times: from each entry to its return, callees included.
                words.append(paint(Self.graphDuration(inside) + " inside" + (returned < hit.count ? " (\(returned) of \(hit.count) returned in the call)" : ""), Self.dim))
            }
            if hit.stack.count > 1 { words.append("← " + hit.stack.dropFirst().joined(separator: " ← ")) }
            if hit.context != ChainAlignment.syscallContext { words.append("[\(hit.context)]") }
            writeWrapped(words, separator: " ", extraIndent: "  ", continuation: "      ")
        }
        let unprobed = activity.notHit.filter { !$0.wasProbed }
        let probed = activity.notHit.filter(\.wasProbed)
        if !probed.isEmpty {
            writeWrapped(["not hit (probed: did not run on this thread during the call): " + probed.map(\.function).joined(separator: ", ")],
                         separator: " ", extraIndent: "  ", colour: Self.dim)
        }
        for (reason, missed) in Dictionary(grouping: unprobed, by: \.reason).sorted(by: { $0.key < $1.key }) {
            writeWrapped([missed.map(\.function).joined(separator: ", ") + ": " + reason], separator: " ", extraIndent: "  ", colour: Self.dim)
        }
    }

    /// With `--function-graph`: the call's graph as an indented tree, each
    /// function with the time spent in it. Shown: the syscall's entry
    /// function, the model's functions and the calls they are under, and
    /// every call that took 2% of the whole or more, in the order of entry,
    /// at most `graphLines` lines; then how many more calls there were
    /// (all of them are in the trace file).
    func graphLines(_ graph: FunctionGraph, activity: KernelActivity) {
        guard !graph.calls.isEmpty else { return }
        let model = Set(activity.expected).union(activity.hits.map(\.function))
        let whole = graph.duration ?? graph.calls.compactMap(\.duration).max() ?? 0
        let threshold = whole / 50
        let parents = graph.parents
        var shown = [Bool](repeating: false, count: graph.calls.count)
        for (index, call) in graph.calls.enumerated() where index == 0 || model.contains(call.function) || (call.duration ?? 0) >= threshold {
            var at: Int? = index
            while let current = at, !shown[current] {
                shown[current] = true
                at = parents[current]
            }
        }
        var heading = "function graph (function_graph, max depth \(graph.maxDepth)): \(graph.calls.count + graph.omitted) calls"
        if let duration = graph.duration { heading += ", " + Self.graphDuration(duration) }
        if graph.omitted > 0 { heading += ", \(graph.omitted) past the limit not recorded" }
        if graph.lost { heading += ", " + paint("events lost: incomplete", Self.yellow) }
        output.write(kernelIndent + heading + "\n")
        var written = 0
        for (index, call) in graph.calls.enumerated() where shown[index] {
            guard written < options.graphLines else { break }
            var line = String(repeating: "  ", count: call.depth + 1)
            line += model.contains(call.function) ? paint(call.function, Self.green) : call.function
            line += "  " + paint(call.duration.map(Self.graphDuration) ?? "(no return seen)", Self.dim)
            if call.depth == graph.maxDepth - 1, call.duration != nil, index + 1 == graph.calls.count || graph.calls[index + 1].depth <= call.depth {
                line += paint("  (deeper calls not recorded)", Self.dim)
            }
            output.write(kernelIndent + line + "\n")
            written += 1
        }
        let more = graph.calls.count - written
        if more > 0 {
            output.write(kernelIndent + paint("  … \(more) more calls (shorter than 2% of the call, or past \(options.graphLines) lines; the trace file has them all)", Self.dim) + "\n")
        }
    }

    /// How many packets of a merged (×N) stack are said one by one.
    static let packetLinesShown = 3

    /// `0.812 µs`, `21.9 µs`, `10.57 ms`.
    static func graphDuration(_ nanoseconds: UInt64) -> String {
        if nanoseconds < 1_000 { return "0.\(String(nanoseconds).leftPadded(to: 3)) µs" }
        if nanoseconds < 1_000_000 {
            let tenths = (nanoseconds + 50) / 100
            return "\(tenths / 10).\(tenths % 10) µs"
        }
        let hundredths = (nanoseconds + 5_000) / 10_000
        return "\(hundredths / 100).\(String(hundredths % 100).leftPadded(to: 2)) ms"
    }

    /// `flows`: what the first packets of the merged samples were (whose,
    /// by its skb), each said once, of `distinctFlows` in all; the first
    /// sample's alone when not given.
    func stackLines(_ sample: KernelSample, count: Int, activity: KernelActivity, userChain: [String], outsideCalls: Bool = false,
                    entry: String = "syscall", flows: [String] = [], distinctFlows: Int = 0) {
        let (parts, names) = self.parts(of: sample)
        let syscallAlignment = activity.alignment(of: sample) { $0.observed == names.syscall && $0.isSyscallPart }
        // Format 1.2 files give no context: a part is told by its frames alone.
        let softirqAlignment = names.softirq.isEmpty ? nil
            : activity.alignment(of: sample) { $0.observed == names.softirq && ($0.context == nil || !$0.isSyscallPart) }
        let kind = parts.softirqKind.map { "softirq \($0)" } ?? "softirq"
        var head = "↳ at \(sample.heading)"
        if count > 1 { head += " (×\(count))" }
        writeWords(head, continuation: "  ")
        if outsideCalls {
            if !names.syscall.isEmpty {
                // What the work ran in: a task a hard interrupt stopped, a
                // syscall the trace does not record (`-e`), or whatever else
                // ran on the thread (audit 31 M3: all said "interrupted").
                let inSyscall = names.syscall.contains(where: ChainAligner.isSyscallEntry)
                // Another connection's work taken out of the traced call it
                // ran in (audit 33 F2: said to be in an unrecorded call).
                let takenOut = sample.task == nil && sample.inTracedTask == nil && sample.flow?.owner == .otherFlow
                let inEndedCall = KernelCorrelator.isInAbandonedCall(sample.inTracedTask)
                let label = parts.interrupted ? "  interrupted: " : takenOut ? "  in the traced call it was taken out of: "
                    : inEndedCall && inSyscall ? "  in that call: " : inSyscall ? "  in a call the trace does not record: " : "  on this stack: "
                writeWrapped([paint(label, Self.dim) + paint(names.syscall[0], Self.dim)] + names.syscall.dropFirst().map { paint($0, Self.dim) },
                             separator: " → ", extraIndent: "  ")
            }
        } else if !names.syscall.isEmpty {
            annotated(syscallAlignment, frames: names.syscall, title: entry, prefix: userChain.map { paint($0, Self.cyan) })
        }
        if !parts.connecting.isEmpty {
            var connecting = parts.connecting.map { paint($0.function, Self.dim) }
            // A hard interrupt landed in the call's innermost frames and ran the softirq on its way out.
            let how = parts.interrupted ? "⤷ interrupted here; \(kind) run on the interrupt's exit: " : "⤷ \(kind) run on this stack: "
            connecting[0] = paint(how, Self.dim) + connecting[0]
            writeWrapped(connecting, separator: " → ", extraIndent: "  ")
        }
        if !names.softirq.isEmpty {
            annotated(softirqAlignment, frames: names.softirq, title: kind, prefix: [], unmodelledBecause: sample.notAnIPSocket)
        }
        if let flow = sample.flow {
            let colour = flow.owner == .unverified ? Self.yellow : Self.dim
            // Outside the traced tasks there is no call's socket to call "this".
            let shown = flows.isEmpty ? [outsideCalls ? "flow: " + flow.evidence : flow.description] : flows
            for text in shown {
                writeWords(text, continuation: "    ", colour: colour)
            }
            if distinctFlows > shown.count {
                writeWrapped(["  … and \(distinctFlows - shown.count) more packets of the same kind (the trace file has each)"], separator: " ",
                             continuation: "    ", colour: colour)
            }
        }
        if let sourced = Self.sourceLines(sample) {
            writeWrapped(["at " + (sourced.first ?? "")] + sourced.dropFirst(), separator: " → ", extraIndent: "  ", colour: Self.dim)
        }
    }

    /// A sample's stack split into its parts and their functions' names: by
    /// its chain's serial, once per distinct chain (a chain's frames, and so
    /// its parts, are the same in every sample that has it).
    func parts(of sample: KernelSample) -> (ChainAligner.Parts, (syscall: [String], softirq: [String])) {
        // A copy of a sample may lack its symbols (a leaf the correlator made): kept apart.
        let key = sample.chainSerial.map { $0 * 2 + (sample.symbols == nil ? 0 : 1) }
        if let key, let known = partsBySerial[key] { return known }
        let parts = ChainAligner.parts(sample.frames)
        let found = (parts, (syscall: parts.syscall.map(\.function), softirq: parts.softirq.map(\.function)))
        if let key {
            if partsBySerial.count >= Self.annotatedLinesLimit { partsBySerial.removeAll(keepingCapacity: true) }
            partsBySerial[key] = found
        }
        return found
    }

    /// A part's heading (operation and verdict, or unmodelled), its frames
    /// with the model's functions marked, and the evidence for each model
    /// function missing from it (once per trace).
    func annotated(_ alignment: ChainAlignment?, frames: [String], title: String, prefix: [String], unmodelledBecause: String? = nil) {
        guard let alignment, captured == nil else {
            return writeAnnotated(alignment, frames: frames, title: title, prefix: prefix, unmodelledBecause: unmodelledBecause)
        }
        let key = AnnotatedKey(shape: alignment.shape, frames: frames, title: title, prefix: prefix)
        if let known = annotatedLines[key] { return output.write(known) }
        let before = explained.count
        captured = ""
        writeAnnotated(alignment, frames: frames, title: title, prefix: prefix)
        let text = captured!
        captured = nil
        output.write(text)
        // Evidence written this time is not written again: the next time's lines are the ones to keep.
        guard explained.count == before else { return }
        if annotatedLines.count >= Self.annotatedLinesLimit { annotatedLines.removeAll(keepingCapacity: true) }
        annotatedLines[key] = text
    }

    func writeAnnotated(_ alignment: ChainAlignment?, frames: [String], title: String, prefix: [String], unmodelledBecause: String? = nil) {
        guard let alignment else {
            let why = unmodelledBecause ?? (title == "syscall" ? "the model has no operation for this call on this socket"
                : title == "exit" ? "the model has no operation for this release at the process's end"
                : "no softirq operation of the model explains these frames better than another")
            writeWrapped(["  \(title): " + paint("unmodelled", Self.yellow) + " (\(why))"], separator: " ", extraIndent: "", continuation: "  ")
            writeWrapped(prefix + frames.map { paint("+" + $0, Self.yellow) }, separator: " → ", extraIndent: "  ")
            return
        }
        let colour = alignment.verdict == .matches ? Self.green : Self.yellow
        let heading = "\(title) \(alignment.operation): " + paint(alignment.verdict.rawValue, colour) + " — " + alignment.summary
        writeWords(heading, continuation: "  ")
        writeWrapped(prefix + renderChain(alignment), separator: " → ", extraIndent: "  ")
        // Functions one proof covers (a tail call through a function that
        // tail-calls on: `fput_close_sync` then `__fput`) share one line.
        var proven: [(functions: [String], label: String, evidence: String)] = []
        // A matched step with evidence: a 32-bit call's entry in the place of the model's.
        for step in alignment.steps where step.status != .outOfOrder && (step.status != .matched || step.evidence != nil) {
            guard let evidence = step.evidence, explained.insert(step).inserted else { continue }
            if let last = proven.last, last.label == step.status.label, last.evidence == evidence {
                proven[proven.count - 1].functions.append(step.function)
            } else {
                proven.append(([step.function], step.status.label, evidence))
            }
        }
        for line in proven {
            writeWrapped(["(\(line.functions.joined(separator: ", "))) \(line.label): \(line.evidence)"], separator: " ", extraIndent: "    ",
                         colour: Self.dim)
        }
    }

    /// Every frame of the part, outermost first, with the model's missing
    /// functions at their places: `f` a frame the model expects, `+f` a
    /// frame it does not name, `(f: tail call)`, `(f: inlined)`, `(f: ran
    /// beside)`, `(f: beside, as modelled)`, `(f: beside, not nested)` (called by a frame here beside the call in flight, not on
    /// the stack), `(f?)` missing without proof, `!f` out of the model's
    /// order. The functions missing between two expected frames keep the
    /// model's order, each after the deepest frame that its evidence (or a
    /// missing function before it) names: a tail call made from a frame
    /// the model does not name comes after that frame, and a function
    /// before it whose evidence names no frame stays before that frame
    /// (audit 96: `+tcp_done → (tcp_shutdown?) → (tcp_set_state: tail call)`
    /// drew a function between a frame and the one it calls directly).
    func renderChain(_ alignment: ChainAlignment) -> [String] {
        let observed = alignment.observed
        let expected = Set(alignment.steps.map(\.function))
        var after: [Int: [String]] = [:]
        var position = -1
        var anchor = -1
        for step in alignment.steps {
            if step.status == .matched {
                guard let index = observed.indices.first(where: { $0 > position && observed[$0] == step.function }) else { continue }
                position = index
                anchor = index
                continue
            }
            if let caller = Self.caller(in: step.evidence),
               let index = observed.indices.last(where: { $0 >= max(position, 0) && observed[$0] == caller }) {
                anchor = max(anchor, index)
            }
            let drawn: String
            switch step.status {
            case .matched: continue
            case .hit: drawn = paint("(" + step.function + ": hit)", Self.green)
            case .inlined where step.besidePath == true: drawn = paint("(" + step.function + ": inlined, beside)", Self.dim)
            case .tailCall, .inlined, .beside, .ranBeside: drawn = paint("(" + step.function + ": " + step.status.label + ")", Self.dim)
            case .sibling: drawn = paint("(" + step.function + ": beside, not nested)", Self.yellow)
            case .notOnPath: drawn = paint("(" + step.function + ": not on this path)", Self.yellow)
            case .unverified: drawn = paint("(" + step.function + "?)", Self.dim)
            case .outOfOrder: drawn = paint("!" + step.function, Self.red)
            }
            after[anchor, default: []].append(drawn)
        }
        var parts = after[-1] ?? []
        for (index, name) in observed.enumerated() {
            parts.append(expected.contains(name) ? name : paint("+" + name, Self.yellow))
            parts += after[index] ?? []
        }
        return parts
    }

    /// The function whose call an evidence text starts from
    /// (`__sys_sendto+0x234: call …` → `__sys_sendto`), as frames name it.
    static func caller(in evidence: String?) -> String? {
        guard let evidence, let plus = evidence.range(of: "+0x") else { return nil }
        return KernelSymbols.baseName(String(evidence[..<plus.lowerBound]))
    }

    /// With `--vmlinux`: the sample's frames with their source lines,
    /// outermost first (`tcp_sendmsg (net/ipv4/tcp.c:1158)`), each followed
    /// by the functions DWARF says are inlined at its address, outermost
    /// first: `tcp_write_xmit (net/ipv4/tcp_output.c:2722) → tcp_transmit_skb
    /// (inlined; net/ipv4/tcp_output.c:1425)`. A frame's line is then where its own code
    /// inlined the first of them, and each one's where the next was inlined
    /// (the last one's, the address's own line).
    static func sourceLines(_ sample: KernelSample) -> [String]? {
        guard let sources = sample.sources, sources.count == sample.chain.count else { return nil }
        let inlined = sample.inlined.flatMap { $0.count == sample.chain.count ? $0 : nil }
        var parts: [String] = []
        for index in ChainAligner.shownIndices(sample.chain).reversed() {
            let calls = Array((inlined?[index] ?? []).reversed())   // outermost first
            // Each function's line: where the next one in was inlined, the innermost's the address's.
            let lines = calls.map(\.site) + [sources[index]]
            if !lines[0].isEmpty { parts.append(sample.chain[index] + " (" + lines[0] + ")") }
            for (position, call) in calls.enumerated() {
                let line = lines[position + 1]
                parts.append(call.function + " (inlined" + (line.isEmpty ? "" : "; " + line) + ")")
            }
        }
        return parts.isEmpty ? nil : parts
    }
}

/// What `annotated` writes depends on: the alignment without its sample,
/// the part's frames, its title and the user frames before it. Hashed by a
/// few names and counts, not every frame's and step's name: looked up for
/// every sample written, full hashing was 3–6% of the output thread's time
/// on a busy trace; equal keys still compare in full (at once where the
/// arrays share storage, as alignments from the correlator's cache do).
struct AnnotatedKey: Hashable {
    let shape: ChainAlignment.Shape
    let frames: [String]
    let title: String
    let prefix: [String]

    func hash(into hasher: inout Hasher) {
        hasher.combine(shape.operation)
        hasher.combine(shape.steps.count)
        hasher.combine(frames.count)
        hasher.combine(frames.last)
        hasher.combine(title)
        hasher.combine(prefix.count)
    }
}

extension String {
    /// Zeros in front up to `width` characters (`"7".leftPadded(to: 3)` is `"007"`).
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
