/// An observed call chain set against the model's chain for its operation:
/// for each expected function, whether it was seen and, when it was not,
/// what the kernel's code proves about it (or that nothing does).
public struct ChainAlignment: Sendable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// In the chain, in the expected order.
        case matched
        /// Not in the chain, proven a tail call: the call instruction before
        /// the caller's return address calls it, and it jumps (perhaps through
        /// others) to the start of the next frame's function.
        case tailCall = "tail-call"
        /// Not in the chain, and inlined: DWARF (`--vmlinux`) places the call
        /// in flight of a frame around its place inside an inlined copy of
        /// it; or the model declares it always inline (`inline`) and no call
        /// to a copy of it is made there (and DWARF, when read, agrees).
        case inlined
        /// Not in the chain: a frame around its place calls it elsewhere in
        /// its code, beside the call in flight. It ran before or after the
        /// sample (or not at all: another branch), not under the next frame,
        /// and the model nests it: the model differs from this path.
        case sibling
        /// Not in the chain, as the model says (`beside`): a frame around its
        /// place calls it elsewhere in its code, beside the call in flight
        /// (before it or after it: the code does not say which ran first).
        /// That the code can run it on this path is proven; that it ran is
        /// not (a condition may skip the call: a TCP recv with MSG_TRUNC
        /// copies nothing, audit 15), so it does not make a chain match.
        case beside
        /// Not in the chain, declared `beside`, and proven to have run beside
        /// the path: every way through the calling frame's function to the
        /// call in flight passes a call to it (read from the code: it ran
        /// before the sample), or another sample of the same call was taken
        /// inside it under the same frames.
        case ranBeside = "ran-beside"
        /// Not in the chain, and not on this path: a frame around its place
        /// calls it elsewhere in its code, but the function's control flow
        /// (its jumps and the kernel's patched edges) leads from no such
        /// site to the call in flight, nor from the call's return to one:
        /// it did not run here, and the model differs from this path.
        case notOnPath = "not-on-path"
        /// Not in the chain, and nothing read proves why: inlined at this
        /// call site, not on this path, or renamed.
        case unverified
        /// In the chain, but out of the model's order.
        case outOfOrder = "out-of-order"
        /// Not in the chain, but its own kprobe fired during the call under
        /// the frame above its place (the same call site): it ran there,
        /// entered and left before the sample or after it (format 1.4).
        case hit

        /// The chain shows the function ran on this path: a frame, a proven
        /// tail call, or its own kprobe's hit.
        public var showsPath: Bool { self == .matched || self == .tailCall || self == .hit }

        /// Read from a trace file: format 1.2's statuses made claims without
        /// evidence (`skipped`: "inlined here or tail-called"; `absent`:
        /// no symbol), so they read as unverified.
        public init(from decoder: any Decoder) throws {
            let raw = try decoder.singleValueContainer().decode(String.self)
            self = Status(rawValue: raw) ?? .unverified
        }

        /// Whether the status is proven by the stack, the kernel's code or
        /// another sample of the call (a function called beside the path is
        /// proven to have run only from the code's flow or by a sample taken
        /// inside it: `ranBeside`).
        public var isProven: Bool { self == .matched || self == .tailCall || self == .inlined || self == .hit || self == .ranBeside }

        /// How a timeline writes it: `tail call`, `beside the path, not nested`, ….
        public var label: String {
            switch self {
            case .matched: "matched"
            case .tailCall: "tail call"
            case .inlined: "inlined"
            case .beside: "beside, as modelled"
            case .ranBeside: "ran beside"
            case .sibling: "beside the path, not nested"
            case .notOnPath: "not on this path"
            case .unverified: "unverified"
            case .outOfOrder: "out of order"
            case .hit: "hit by its kprobe"
            }
        }
    }

    public struct Step: Sendable, Codable, Hashable {
        public let function: String
        public let layer: StackLayer
        public let status: Status
        /// What proves the status (`inet_sendmsg+0x44: jmp tcp_sendmsg`), or
        /// why it is unverified.
        public let evidence: String?
        /// An inlined function the model declares `beside`: called beside the
        /// path where it is inlined (skb_copy_datagram_msg in tcp_recvmsg_locked),
        /// not around the call in flight; shown `inlined, beside`.
        public var besidePath: Bool?

        public init(function: String, layer: StackLayer, status: Status, evidence: String? = nil) {
            self.function = function
            self.layer = layer
            self.status = status
            self.evidence = evidence
        }

        /// Whether the step is proven: its status is, and a function inlined
        /// beside the path is not taken to have run for being inlined.
        public var isProven: Bool { status.isProven && !(status == .inlined && besidePath == true) }
    }

    public let operation: String
    public let steps: [Step]
    /// Observed frames (outermost first) that the model does not name,
    /// between the first and the last matched one.
    public let extraFrames: [String]
    /// The observed frames that were aligned, outermost first.
    public let observed: [String]
    /// Where the frames ran: `syscall`, or `softirq NET_RX` (on the
    /// syscall's stack), `softirq TIMER`, ….
    public var context: String?
    /// The sample the chain came from: its tracepoint and fields, one line.
    public var sample: String?

    /// The contexts of a chain's syscall part: the sample was taken there,
    /// or in softirq work run under it (then the sample counts under the
    /// softirq part's operation, and this part is its context).
    public static let syscallContext = "syscall"
    public static let syscallUnderSoftirq = "syscall, under softirq work"

    /// Whether the sample was taken in these frames (not below them, in a softirq).
    public var countsTheSample: Bool { context != Self.syscallUnderSoftirq }

    /// Whether these are a syscall's own frames (format 1.2 files say no context: they are).
    public var isSyscallPart: Bool { context.map { $0.hasPrefix(Self.syscallContext) } ?? true }

    enum CodingKeys: String, CodingKey { case operation, steps, extraFrames, observed, context, sample, alignmentId }

    public init(operation: String, steps: [Step], extraFrames: [String], observed: [String], context: String? = nil, sample: String? = nil) {
        self.operation = operation
        self.steps = steps
        self.extraFrames = extraFrames
        self.observed = observed
        self.context = context
        self.sample = sample
        verdict = Self.verdict(steps, extraFrames: extraFrames)
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
            context = shared.context
            verdict = shared.verdict
            return
        }
        operation = try c.decode(String.self, forKey: .operation)
        steps = try c.decode([Step].self, forKey: .steps)
        extraFrames = try c.decode([String].self, forKey: .extraFrames)
        observed = try c.decode([String].self, forKey: .observed)
        context = try c.decodeIfPresent(String.self, forKey: .context)
        verdict = Self.verdict(steps, extraFrames: extraFrames)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operation, forKey: .operation)
        try c.encode(steps, forKey: .steps)
        try c.encode(extraFrames, forKey: .extraFrames)
        try c.encode(observed, forKey: .observed)
        try c.encodeIfPresent(context, forKey: .context)
        try c.encodeIfPresent(sample, forKey: .sample)
    }

    /// What calls with the same chain share (everything but the sample).
    struct Shape: Hashable {
        let operation: String
        let steps: [Step]
        let extraFrames: [String]
        let observed: [String]
        let context: String?

        /// Hashed like a `ChainKey` (equal shapes still compare in full).
        func hash(into hasher: inout Hasher) {
            hasher.combine(operation)
            hasher.combine(steps.count)
            hasher.combine(extraFrames.count)
            hasher.combine(ChainKey(observed))
        }
    }

    var shape: Shape { Shape(operation: operation, steps: steps, extraFrames: extraFrames, observed: observed, context: context) }

    public enum Verdict: String, Sendable, Codable, CaseIterable {
        /// Every function the model expects here was in the chain, in order,
        /// or is proven a tail call or inlined; no frame the model does not name.
        case matches
        /// As far as it was seen it matches, but some expected functions are
        /// missing without proof of why.
        case unverified
        /// Frames the model does not name appeared among its functions.
        case extraFrames = "extra-frames"
        /// The kernel's code shows a function the model nests here called
        /// beside the path instead: the model is wrong for this path.
        case differs
        case outOfOrder = "out-of-order"
        /// None of the model's functions appeared.
        case unrelated

        /// Format 1.2's `matches-with-inlining` made claims without evidence.
        public init(from decoder: any Decoder) throws {
            let raw = try decoder.singleValueContainer().decode(String.self)
            self = Verdict(rawValue: raw) ?? .unverified
        }

        /// From best to worst, for the worst verdict over several chains.
        var rank: Int { Self.allCases.firstIndex(of: self)! }
    }

    /// Told once, when the alignment is made: every call that shares it reads it.
    public let verdict: Verdict

    static func verdict(_ steps: [Step], extraFrames: [String]) -> Verdict {
        if !steps.contains(where: { $0.status == .matched }) { return .unrelated }
        if steps.contains(where: { $0.status == .outOfOrder }) { return .outOfOrder }
        if steps.contains(where: { $0.status == .sibling || $0.status == .notOnPath }) { return .differs }
        if !extraFrames.isEmpty { return .extraFrames }
        if steps.contains(where: { !$0.isProven }) { return .unverified }
        return .matches
    }

    public func count(_ status: Status) -> Int { steps.filter { $0.status == status }.count }

    /// `10 matched, 2 tail calls, 3 unverified, 1 beside the path, not nested as modelled`.
    public var summary: String {
        var parts = ["\(count(.matched)) matched"]
        if count(.hit) > 0 { parts.append("\(count(.hit)) hit by their kprobes") }
        if count(.tailCall) > 0 { parts.append("\(count(.tailCall)) tail-called (proven)") }
        let byDWARF = steps.filter { $0.status == .inlined && $0.evidence?.contains(": DWARF: ") == true }.count
        let inlinedBeside = steps.filter { $0.status == .inlined && $0.besidePath == true }.count
        if count(.inlined) - inlinedBeside > byDWARF { parts.append("\(count(.inlined) - inlinedBeside - byDWARF) inlined (declared)") }
        if byDWARF > 0 { parts.append("\(byDWARF) inlined (DWARF)") }
        // Ran beside as the model says, apart from "called beside" (the model nests it: it differs; audit 98 minor).
        if count(.ranBeside) > 0 { parts.append("\(count(.ranBeside)) ran beside the path as modelled (proven)") }
        let unproven = count(.beside) + inlinedBeside
        if unproven > 0 { parts.append("\(unproven) beside the path as modelled (not proven to have run)") }
        if count(.sibling) > 0 { parts.append("\(count(.sibling)) beside the path, not nested as modelled") }
        if count(.notOnPath) > 0 { parts.append("\(count(.notOnPath)) not on this path") }
        if count(.unverified) > 0 { parts.append("\(count(.unverified)) missing, unverified") }
        if count(.outOfOrder) > 0 { parts.append("\(count(.outOfOrder)) out of order") }
        if !extraFrames.isEmpty { parts.append("\(extraFrames.count) not in the model") }
        return parts.joined(separator: ", ")
    }
}

/// Lines an observed chain up with the model, and says for every model
/// function missing from it what the kernel's code proves.
public struct ChainAligner {
    let symbols: KernelSymbols?
    /// The kernel's code, when it can be read; else `codeUnreadable` says why.
    let evidence: CallEvidence?
    let codeUnreadable: String
    /// With `--vmlinux`: DWARF at the jumps of functions entered and left
    /// by tail calls (no frame shows them; frames bring their own inline
    /// chains). Used on the tracer's thread only, as the sampler does.
    public var dwarf: KernelSourceResolver?

    public init(symbols: KernelSymbols?, evidence: CallEvidence? = nil, codeUnreadable: String = "the kernel's code was not read") {
        self.symbols = symbols
        self.evidence = evidence
        self.codeUnreadable = codeUnreadable
    }

    public func align(_ observed: [String], with expected: [ModelFunction], operation: String) -> ChainAlignment {
        align(frames: observed.map { KernelFrame($0, 0) }, with: expected, operation: operation)
    }

    /// Aligns frames (outermost first) with the expected functions: up to the
    /// deepest expected function the chain reached (it ends where its
    /// tracepoint fired), each matched in order, out of order, or missing
    /// with what proves why.
    /// `interrupted`: a hard interrupt landed in the frames (their innermost
    /// are where it landed, `Parts.interrupted`), so frames below the
    /// deepest matched one are no departure from the model.
    public func align(frames: [KernelFrame], with expected: [ModelFunction], operation: String, context: String? = nil,
                      caller: KernelFrame? = nil, interrupted: Bool = false) -> ChainAlignment {
        let observed = frames.map(\.function)
        // A 32-bit call's entry stands in the place of the model's 64-bit one.
        let modelled = expected
        let entries32 = Self.entries32(of: expected, in: observed)
        let expected = expected.indices.map { entries32[$0].map(modelled[$0].named) ?? modelled[$0] }
        let expectedNames = Set(expected.map(\.name))
        // Each expected function's place in the frames, when matched in order.
        var placedAll: [Int?] = []
        var position = -1
        for function in expected {
            if let index = observed.indices.first(where: { $0 > position && observed[$0] == function.name }) {
                placedAll.append(index)
                position = index
            } else {
                placedAll.append(nil)
            }
        }
        // Frames no in-order match used: a function named twice in the model
        // (a listener's tcp_disconnect, then its child's) is not "out of
        // order" for a frame its first place already took (audit 28).
        let used = Set(placedAll.compactMap { $0 })
        let unusedNames = Set(observed.indices.filter { !used.contains($0) }.map { observed[$0] })
        let reached = expected.indices.last { placedAll[$0] != nil || unusedNames.contains(expected[$0].name) } ?? -1
        let considered = Array(expected.prefix(reached + 1))
        let placed = Array(placedAll.prefix(reached + 1))
        // With the caller of the first frame (the syscall's entry), for the evidence.
        let withCaller = caller.map { [$0] + frames } ?? frames
        var steps: [ChainAlignment.Step] = []
        for (index, function) in considered.enumerated() {
            if placed[index] != nil, entries32[index] != nil {
                steps.append(.init(function: function.name, layer: function.layer, status: .matched,
                                   evidence: "a 32-bit call's entry, in the place of the model's \(modelled[index].name) (a 64-bit call's): "
                                    + "the stack's first frame after the 32-bit entry's plumbing"))
            } else if placed[index] != nil {
                steps.append(.init(function: function.name, layer: function.layer, status: .matched))
            } else if unusedNames.contains(function.name) {
                steps.append(.init(function: function.name, layer: function.layer, status: .outOfOrder))
            } else {
                // Between the matched frames around its place in the model.
                let outer = placed[..<index].compactMap { $0 }.last
                let inner = placed[(index + 1)...].compactMap { $0 }.first ?? frames.count - 1
                let deeper = Set(expected[(index + 1)...].map(\.name))
                let above = expected[..<index].map(\.name)
                let next = expected[(index + 1)...].first?.name
                let explained = { (function: ModelFunction) in
                    caller == nil ? explain(function, frames: frames, outer: outer, inner: inner, deeper: deeper, above: above, next: next)
                        : explain(function, frames: withCaller, outer: (outer ?? -1) + 1, inner: inner + 1, deeper: deeper, above: above, next: next)
                }
                // A 32-bit call's entry left by a jump: proven in the place of the model's 64-bit one.
                // Only one may be: two proven (a call's own wrapper and its
                // compat one, each leading on) say nothing of which ran.
                let proven32 = Self.candidateEntries32(for: function, caller: caller)
                    .map { (name: $0, explained: explained(function.named($0))) }.filter { $0.explained.0.isProven }
                if proven32.count == 1, let entry32 = proven32.first {
                    steps.append(.init(function: entry32.name, layer: function.layer, status: entry32.explained.0,
                                       evidence: entry32.explained.1 + "; a 32-bit call's entry, in the place of the model's \(function.name) (a 64-bit call's)"))
                    continue
                }
                let (status, evidence) = explained(function)
                steps.append(.init(function: function.name, layer: function.layer, status: status, evidence: evidence))
            }
        }
        // A function declared inline is never a frame, but whether this path
        // ran it the stack cannot show. Where the path visibly leaves the
        // model around its place (a frame the model does not name, or a
        // function called beside the path), it is not said to be inlined here.
        for (index, step) in steps.enumerated() where step.status == .inlined && step.evidence?.contains(": DWARF: ") != true {
            let before = placed[..<index].compactMap { $0 }.last ?? -1
            let after = placed[(index + 1)...].compactMap { $0 }.first ?? frames.count
            let strangers = before + 1 < after ? observed[(before + 1)..<after].filter { !expectedNames.contains($0) } : []
            let beside = steps.indices.first { other in
                steps[other].status == .sibling && (placed[..<other].compactMap { $0 }.last ?? -1) == before
            }
            guard let leaving = strangers.first.map({ "+" + $0 }) ?? beside.map({ steps[$0].function + " beside, not nested" }) else { continue }
            steps[index] = .init(function: step.function, layer: step.layer, status: .unverified,
                                 evidence: "declared inline in the model, but the path leaves the model here (\(leaving)): "
                                    + "whether this path ran it is not shown")
        }
        // Frames inside the aligned stretch that the model does not name;
        // and below it, when the model goes on past the deepest function the
        // chain reached: the path left the model there (a retransmission run
        // from release_sock's backlog under a send, a neighbour resolution
        // under a connect), unless a hard interrupt landed there (`interrupted`).
        // Frames below the model's last function are its
        // helpers (an allocation under sk_prot_alloc), not a departure.
        let matchedPlaces = placed.compactMap { $0 }
        var extras: [String] = []
        if let first = matchedPlaces.first, let last = matchedPlaces.last, last >= first {
            extras = observed[first...last].filter { !expectedNames.contains($0) }
            if reached + 1 < expected.count, last + 1 < observed.count, !interrupted {
                // The tracepoint's own noinline caller, innermost, is shown
                // (`+call_trace_sock_send_length`) but is no departure.
                extras += observed[(last + 1)...].filter { !expectedNames.contains($0) && !ChainAligner.isTracepointCaller($0) }
            }
        }
        for (index, function) in considered.enumerated() where function.isBeside && steps[index].status == .inlined {
            steps[index].besidePath = true
        }
        return ChainAlignment(operation: operation, steps: steps, extraFrames: extras, observed: observed, context: context)
    }

    /// The model's 64-bit syscall entries (`__x64_sys_connect`) a 32-bit
    /// call's stack shows in their place, by index in `expected`: the
    /// stack's first frame after the entry's plumbing is a 32-bit entry —
    /// the call's own (`__ia32_sys_close`, `__ia32_compat_sys_sendmsg`) or
    /// the socketcall multiplexer (`__ia32_compat_sys_socketcall`, seed
    /// 001's `sys_socketcall`), which calls `__sys_connect` as
    /// `__x64_sys_connect` does.
    static func entries32(of expected: [ModelFunction], in observed: [String]) -> [Int: String] {
        guard let entry = observed.first, isEntry32(entry) else { return [:] }
        var found: [Int: String] = [:]
        for index in expected.indices where expected[index].layer == .syscall && expected[index].name.hasPrefix("__x64_sys_")
            && !observed.contains(expected[index].name) {
            found[index] = entry
        }
        return found
    }

    /// The 32-bit entries a call may have left by a jump (`ia32_sys_call+0x17e1:
    /// jmp __ia32_sys_read; __ia32_sys_read+0xe: jmp ksys_read`), for the
    /// model's 64-bit one, when the stack entered the kernel the 32-bit way
    /// (`caller`: the entry's plumbing, `__do_fast_syscall_32`).
    static func candidateEntries32(for function: ModelFunction, caller: KernelFrame?) -> [String] {
        guard function.layer == .syscall, function.name.hasPrefix("__x64_sys_"), let caller, isEntry32Plumbing(caller.function) else { return [] }
        let name = function.name.dropFirst("__x64_sys_".count)
        return ["__ia32_sys_" + name, "__ia32_compat_sys_" + name, "__ia32_compat_sys_socketcall"]
    }

    /// The plumbing of a 32-bit call's entry on a 64-bit kernel.
    static func isEntry32Plumbing(_ name: String) -> Bool {
        name.hasPrefix("__do_fast_syscall_32") || name.hasPrefix("do_fast_syscall_32") || name == "ia32_sys_call"
            || name == "do_int80_emulation" || name == "do_int80_syscall_32" || name == "do_SYSENTER_32"
    }

    /// Where a syscall's work after its handler returned begins: its exit
    /// (`do_syscall_64 → syscall_exit_to_user_mode`), where task work and
    /// a tracer's syscall-exit stop run.
    static let syscallExitWork: Set<String> = [
        "syscall_exit_to_user_mode", "syscall_exit_to_user_mode_prepare", "syscall_exit_work", "exit_to_user_mode_loop",
        "exit_to_user_mode_prepare", "syscall_exit_to_user_mode_work", "__syscall_exit_to_user_mode_work",
    ]

    /// A 32-bit call's syscall entry on a 64-bit kernel.
    static func isEntry32(_ name: String) -> Bool {
        name.hasPrefix("__ia32_sys_") || name.hasPrefix("__ia32_compat_sys_")
    }

    /// Why `function` is missing between frames `outer` and `inner`;
    /// `deeper`: the model's functions below it on the path.
    /// `above`: the model's functions before it on the path (its caller last).
    /// `next`: the model's function after it (for one beside the path, the call it makes there).
    func explain(_ function: ModelFunction, frames: [KernelFrame], outer: Int?, inner: Int,
                 deeper: Set<String> = [], above: [String] = [], next: String? = nil) -> (ChainAlignment.Status, String) {
        let presence = symbols?.presence(of: function.name) ?? .symbol
        guard let outer else {
            return (.unverified, "expected before the outermost frame the stack shows")
        }
        let declared = "declared inline in the model (\(function.sourceFile ?? "its source"))"
        // With DWARF (--vmlinux): inlined where a frame around its place made
        // the call in flight. A fact about that very address, so it comes first.
        let around = Array(frames[outer..<min(inner, frames.count)])
        if let proof = Self.inlinedByDWARF(function.name, frames: around) { return (.inlined, proof) }
        // Where DWARF was read and showed no inlined copy of it (nil: not
        // read). A function the model puts beside the path is never in the
        // call in flight's inline chain: DWARF's silence says nothing of it.
        var notThere: [String]? = !function.isBeside && !around.isEmpty && around.allSatisfy { $0.inlined != nil }
            ? around.map(Self.describeInlined) : nil
        let contradicted = { (more: String) -> String? in
            notThere.map { "; DWARF shows no inlined copy of it at " + $0.joined(separator: ", ") + more }
        }
        // Ways from frame to frame through a pointer: then which code ran
        // between them (so which inline functions) is not known.
        var unknownRoute: [String] = []
        // DWARF shows it inlined at some of the jumps that may have run, not at all.
        var dwarfAmbiguous: String?
        // Each function the way from frame to frame went through (a frame's,
        // or one entered by a tail call): its calls or jumps to where the way
        // went on from it. More than one, and which of them lies in an inlined
        // copy of a function declared inline is not known without DWARF
        // (tcp_rcv_established calls __tcp_ack_snd_check directly on its fast
        // path, and through inlined tcp_ack_snd_check on its slow one).
        var waysOn: [String: [String]] = [:]
        let declaredInlined = { (reason: String) -> (ChainAlignment.Status, String) in
            if let contradicted = contradicted("") { return (.unverified, declared + reason + contradicted) }
            if let dwarfAmbiguous { return (.unverified, declared + reason + "; " + dwarfAmbiguous) }
            // Beside the path, it is inlined where the frames around its
            // place call the function it calls there: from several places,
            // which of them lies in its inlined copy is not known either
            // (audit 88 M2: skb_copy_datagram_msg, where tcp_recvmsg_locked
            // calls skb_copy_datagram_iter at three places).
            if function.isBeside, let next, let evidence {
                let sites = (outer..<min(inner, frames.count)).filter { frames[$0].address != 0 }.flatMap { index -> [Branch] in
                    guard let start = evidence.code.extent(of: frames[index].address)?.start else { return [] }
                    return evidence.siteBranches(inFunctionAt: start, reaching: next, except: frames[index].address)
                }
                let calls = sites.map(evidence.describe)
                if calls.count > 1, let dwarf {
                    // With DWARF: whether each of those calls lies in an
                    // inlined copy of it (audit 91 F4: "not known without
                    // DWARF" in a run that had it).
                    var proofs: [String] = [], without: [String] = []
                    for site in sites {
                        var call = KernelFrame(evidence.code.symbolName(at: site.address) ?? "?", site.address)
                        call.offset = evidence.code.extent(of: site.address).map { site.address - $0.start }
                        call.inlined = call.offset.map {
                            dwarf.inlinedCalls(function: call.function, offset: $0, returnAddress: false, runtime: site.address)
                        } ?? []
                        if let proof = Self.inlinedByDWARF(function.name, frames: [call], at: "the call here") {
                            proofs.append(proof)
                        } else {
                            without.append(Self.describeInlined(call))
                        }
                    }
                    if without.isEmpty {
                        return (.inlined, proofs.joined(separator: "; ")
                                + "; the frames around its place call \(next) from these \(calls.count) places, each in an inlined copy of it")
                    }
                    return (.unverified, declared + reason + "; but the frames around its place call \(next) from \(calls.count) places, "
                            + (proofs.isEmpty ? "and DWARF shows no inlined copy of it at any: " + without.joined(separator: "; ")
                               : "DWARF shows it inlined at some and not at others, and which ran is not known: "
                                + (proofs + without).joined(separator: "; ")))
                }
                if calls.count > 1 {
                    return (.unverified, declared + reason + "; but the frames around its place call \(next) from \(calls.count) places ("
                            + calls.joined(separator: "; ") + "), and which of them lies in an inlined copy of it is not known without DWARF (--vmlinux)")
                }
            }
            // The function it is inlined into: the nearest one above it the way went through.
            if let host = above.reversed().first(where: { waysOn[$0] != nil }), let ways = waysOn[host], ways.count > 1 {
                return (.unverified, declared + reason + "; but \(host) goes on that way from \(ways.count) places (" + ways.joined(separator: "; ")
                        + "), and which of them lies in an inlined copy of it is not known without DWARF (--vmlinux)")
            }
            if !unknownRoute.isEmpty {
                return (.unverified, declared + reason + "; but the code may have gone another way, through a pointer, where it may not run: "
                        + unknownRoute.joined(separator: "; "))
            }
            return (.inlined, declared + reason)
        }
        guard let evidence, frames[outer].address != 0 else {
            // Without the code, functions entered and left by tail calls are not known: DWARF's silence at the frames proves nothing.
            if function.isAlwaysInline && presence == .absent { return (.inlined, declared + "; no symbol in this kernel: never a frame of its own") }
            return (.unverified, codeUnreadable + (contradicted(" (functions entered by tail calls not read)") ?? ""))
        }
        // A tail call on the way from one frame to the next.
        var links: [String] = []
        var entered: [(start: UInt64, next: UInt64)] = []
        for caller in outer..<inner where caller + 1 < frames.count {
            var link = evidence.link(from: frames[caller], to: frames[caller + 1])
            let callee = evidence.code.extent(of: frames[caller + 1].address)?.start ?? 0
            let here = frames[caller].function
            // A syscall's own entry the way found did not go through (it
            // went through another syscall's that jumps on to the same
            // function): the way through this one, if there is one.
            if case let .tail(_, _, through, _, _, _, _) = link, !through.contains(function.name), function.layer == .syscall,
               Self.isSyscallEntry(function.name), through.contains(where: Self.isSyscallEntry),
               let own = evidence.link(from: frames[caller], to: frames[caller + 1], throughEntry: function.name) {
                link = own
            }
            switch link {
            case let .tail(call, jumps, through, starts, alternatives, firstAmbiguous, bypasses):
                let route = ([call] + jumps).joined(separator: "; ")
                let pointers = alternatives.map { $0 + " (through a pointer)" }.joined(separator: "; ")
                if let index = through.firstIndex(of: function.name) {
                    // Entered by the call itself, or by a jump from a function
                    // that could only leave that way.
                    if let firstAmbiguous, index > firstAmbiguous {
                        return (.unverified, "entered by a tail call only if \(through[firstAmbiguous]) left by its direct jump: " + route
                                + "; it may have left through a pointer instead: " + pointers)
                    }
                    if let other = bypasses[function.name], other.hasPrefix(CallEvidence.throughOtherSyscalls) {
                        // The ways around a syscall's own entry go through other
                        // syscalls' (writev's do_writev is also pwritev2's): the
                        // syscall table took the one of this call's number (audit 92).
                        return (.tailCall, route + "; the other ways there go through other syscalls' entries: "
                                + other.dropFirst(CallEvidence.throughOtherSyscalls.count)
                                + ": the syscall table jumps by the call's number, to this call's own, \(function.name)")
                    }
                    if let other = bypasses[function.name] {
                        return (.unverified, "entered by a tail call on one way to \(frames[caller + 1].function): " + route
                                + "; but another way leads there without it, and which was taken is not known: " + other)
                    }
                    return (.tailCall, route)
                }
                links.append(route + (alternatives.isEmpty ? "" : "; or " + pointers)
                             + bypasses.sorted { $0.key < $1.key }.map { "; or, without \($0.key): " + $0.value }.joined())
                // A pointer out of a function the model puts below this one
                // (inet_sendmsg's, under sock_sendmsg_nosec) leaves after it ran.
                if let firstAmbiguous, !deeper.contains(through[firstAmbiguous]) { unknownRoute.append(pointers) }
                // Each function entered so, and the start of the one it jumped on to.
                let onward = Array(starts.dropFirst()) + [callee]
                if let first = through.first { waysOn[here, default: []] += [call] + evidence.sites(in: frames[caller], reaching: first) }
                // Functions another way avoids may not have run: what they call proves nothing.
                // Its calls of the next function count too: which of its
                // sites lies in an inlined copy is not known without DWARF,
                // and one of them may be a direct call on another path that
                // the compiler made a jump here (audit 87 M1:
                // tcp_rcv_established left by +0x36e: jmp __tcp_ack_snd_check
                // also calls it at +0xa33, on its fast path).
                for (name, (start, next)) in zip(through, zip(starts, onward)) where bypasses[name] == nil {
                    entered.append((start, next))
                    waysOn[name, default: []] += evidence.code.extent(of: next).map { evidence.sites(inFunctionAt: start, reaching: $0.function) }
                        ?? evidence.jumps(ofFunctionAt: start, to: next)
                }
                // With DWARF: the jumps that left the functions entered so, inlined copies and all.
                if notThere != nil, let dwarf {
                    for (start, next) in zip(starts, onward) {
                        let jumps = evidence.tailJumps(ofFunctionAt: start, toward: next)
                        if jumps.isEmpty { notThere = nil }   // its way on is not known
                        var proofs: [String] = [], without: [String] = []
                        for site in jumps {
                            let inlined = evidence.code.extent(of: site).map {
                                dwarf.inlinedCalls(function: evidence.code.symbolName(at: site) ?? $0.function, offset: site - $0.start, returnAddress: false,
                                                   runtime: site)
                            } ?? []
                            var jump = KernelFrame(evidence.code.symbolName(at: site) ?? "?", site)
                            jump.offset = evidence.code.extent(of: site).map { site - $0.start }
                            jump.inlined = inlined
                            if let proof = Self.inlinedByDWARF(function.name, frames: [jump], at: "the jump here") {
                                proofs.append(proof)
                            } else {
                                without.append(Self.describeInlined(jump))
                            }
                        }
                        // Proven only where every jump that may have left the function lies in a copy of it.
                        if !proofs.isEmpty && without.isEmpty {
                            return (.inlined, proofs.joined(separator: "; ") + "; entered by a tail call: " + links.last!)
                        }
                        if !proofs.isEmpty {
                            dwarfAmbiguous = "DWARF shows it inlined at one way on and not at another, and which ran is not known: "
                                + (proofs + without).joined(separator: "; ")
                            notThere = nil
                        } else {
                            notThere?.append(contentsOf: without)
                        }
                    }
                }
            case let .direct(call):
                links.append(call)
                waysOn[here, default: []] += [call] + evidence.sites(in: frames[caller], reaching: frames[caller + 1].function)
            case let .indirect(call):
                links.append(call + " (through a pointer)")
                unknownRoute.append(call + " (through a pointer)")
            case let .unexplained(call): links.append(call + " (no direct jump leads on)")
            case .unread: links.append("\(frames[caller].function): the call instruction could not be read")
            }
        }
        // Functions entered by tail calls whose jumps DWARF did not read: its silence proves nothing.
        if !entered.isEmpty && dwarf == nil { notThere = nil }
        if function.isAlwaysInline && presence == .absent { return declaredInlined("; no symbol in this kernel: never a frame of its own") }
        if presence == .absent {
            return (.unverified, "no symbol in this kernel (inlined everywhere, renamed, or not in this version); " + links.joined(separator: "; "))
        }
        // Called from one of these frames (but not by the call in flight),
        // or from a function entered and left on the way by tail calls.
        // A site on no way through the call in flight (another branch of the
        // function's code: the fast path's ACK never passes tcp_data_queue)
        // proves the function did not run here.
        var sites: [String] = [], elsewhere: [String] = []
        var onEveryWay = false
        let found = (outer..<min(inner, frames.count)).map { evidence.sitesOnTheWay(in: frames[$0], reaching: function.name) }
            + entered.map { evidence.sitesOnTheWay(inFunctionAt: $0.start, toward: $0.next, reaching: function.name) }
        for each in found {
            sites += each.on
            elsewhere += each.off
            onEveryWay = onEveryWay || each.onEveryWay
        }
        if !sites.isEmpty {
            // A call every way to the call in flight passes ran before it.
            let ran = function.isBeside && onEveryWay
            return (function.isBeside ? (ran ? .ranBeside : .beside) : .sibling,
                    sites.joined(separator: "; ") + "; in flight: " + links.joined(separator: "; "))
        }
        if !elsewhere.isEmpty {
            return (.notOnPath, elsewhere.joined(separator: "; ") + ", on no way through the call in flight (the function's jumps "
                    + "and the kernel's patched jump labels and fixups, read): " + links.joined(separator: "; "))
        }
        if function.isAlwaysInline {
            return declaredInlined("; these frames' code calls no copy of it (their calls in flight: " + links.joined(separator: "; ") + ")")
        }
        // A syscall's own entry missing under its exit work (a close's
        // release in task work before 6.6): the call had returned; at the
        // syscall-exit stop sockettrace itself makes, ptrace_notify runs the
        // task work (audit 91 F6: said only "not called directly").
        if function.layer == .syscall, Self.isSyscallEntry(function.name) || Self.isEntry32(function.name),
           let exit = frames[outer..<min(inner + 1, frames.count)].first(where: { Self.syscallExitWork.contains($0.function) }) {
            let stop = frames[outer..<min(inner + 1, frames.count)].contains { $0.function == "ptrace_notify" }
            return (.unverified, "these frames are the call's exit work (\(exit.function)), run after its handler returned, "
                    + (stop ? "here at the syscall-exit stop of the tracer's (ptrace_notify; untraced, the same work runs as the thread returns "
                        + "to user mode)" : "as the thread returns to user mode")
                    + "; that handler returned before them, so the stack cannot show it: " + links.joined(separator: "; "))
        }
        if let contradicted = contradicted("") {
            return (.unverified, "not called by these frames' code directly (called through a pointer, or not on this path)"
                    + contradicted + "; " + links.joined(separator: "; "))
        }
        return (.unverified, "not called by these frames' code directly (inlined here, called through a pointer, or not on this path): "
                + links.joined(separator: "; "))
    }

    /// Where DWARF says `name` is inlined at the call in flight of one of
    /// `frames` (each a return address, so the call before it):
    /// `tcp_write_xmit+0x521: DWARF: the call before it lies in
    /// tcp_transmit_skb, inlined into tcp_write_xmit at net/ipv4/tcp_output.c:2722`.
    static func inlinedByDWARF(_ name: String, frames: [KernelFrame], at place: String = "the call before it") -> String? {
        for frame in frames {
            guard let inlined = frame.inlined, let index = inlined.firstIndex(where: { KernelSymbols.baseName($0.function) == name }) else { continue }
            let parent = index + 1 < inlined.count ? inlined[index + 1].function : frame.function
            let site = inlined[index].site.isEmpty ? "" : " at " + inlined[index].site
            var text = frame.location + ": DWARF: \(place) lies in \(inlined[index].function), inlined into \(parent)\(site)"
            if inlined.count > 1 {
                text += " (inlined there, outermost first: " + inlined.reversed().map(\.function).joined(separator: " → ") + ")"
            }
            return text
        }
        return nil
    }

    /// `ip_finish_output2+0x297 (neigh_output → neigh_hh_output → dev_queue_xmit inlined)`,
    /// or `ip_output+0x76 (nothing inlined)`.
    static func describeInlined(_ frame: KernelFrame) -> String {
        let inlined = frame.inlined ?? []
        return frame.location + (inlined.isEmpty ? " (nothing inlined)"
            : " (" + inlined.reversed().map(\.function).joined(separator: " → ") + " inlined)")
    }

}
