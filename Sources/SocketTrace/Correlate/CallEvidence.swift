/// Where the evidence about the kernel's calls comes from: its symbols and
/// its machine code. `KernelCode` reads the running kernel; tests give
/// code of their own.
public protocol KernelCodeSource: AnyObject {
    /// The function containing `address`: name, start, and the most its code can span.
    func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)?
    /// The whole name of the symbol containing `address`, suffix and all
    /// (`__tcp_send_ack.part.0`): what evidence names, so it can be found again.
    func symbolName(at address: UInt64) -> String?
    /// `count` bytes of code at `address`, nil where they cannot be read.
    func bytes(_ address: UInt64, count: Int) -> [UInt8]?
    /// The start of every symbol whose base name is `name`.
    func starts(of name: String) -> [UInt64]
    /// The edges the kernel patches into the code in [start, end) (jump
    /// labels, exception fixups); nil when they cannot be read.
    func patchedEdges(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)]?
    /// Whether execution goes on after the `ud2` at `address` (a WARN's)
    /// or not (a BUG's), as the kernel's bug table says; nil when it
    /// cannot be read.
    func trapResumes(_ address: UInt64) -> Bool?
}

extension KernelCodeSource {
    public func trapResumes(_ address: UInt64) -> Bool? { nil }

    /// Code of one's own (tests) has none.
    public func patchedEdges(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)]? { [] }
}

/// The running kernel's code: kallsyms for names, kernel text through BPF.
public final class KernelCode: KernelCodeSource {
    let symbols: KernelSymbols
    let text: KernelText

    public init(symbols: KernelSymbols, text: KernelText) {
        self.symbols = symbols
        self.text = text
    }

    /// Extents by address: the same frames and branch targets are asked
    /// about for every model function of every chain. Bounded.
    var extents: [UInt64: (function: String, start: UInt64, end: UInt64)?] = [:]
    static let extentsLimit = 1 << 16

    public func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)? {
        if let known = extents[address] { return known }
        let found = symbols.extent(of: address)
        if extents.count >= Self.extentsLimit { extents.removeAll(keepingCapacity: true) }
        extents[address] = found
        return found
    }
    public func symbolName(at address: UInt64) -> String? { symbols.fullName(at: address) }
    public func bytes(_ address: UInt64, count: Int) -> [UInt8]? { text.read(address, count: count) }
    public func starts(of name: String) -> [UInt64] { symbols.starts(of: name) }

    /// Read at first use.
    lazy var patched: PatchedEdges? = PatchedEdges.read(text: text, bounds: symbols.tableBounds, isCode: { [symbols] in symbols.extent(of: $0) != nil })
    public func patchedEdges(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)]? { patched?.within(start, end) }
    /// Read at first use.
    lazy var bugs: BugTable? = BugTable.read(text: text, bounds: symbols.tableBounds, isCode: { [symbols] in symbols.extent(of: $0) != nil })
    public func trapResumes(_ address: UInt64) -> Bool? { bugs?.resumes(at: address) }
}

/// One frame of a sampled kernel stack: its function, and the address in
/// it (a return address, but for the frame that hit the tracepoint).
public struct KernelFrame: Sendable, Hashable {
    public let function: String
    public let address: UInt64
    /// With `--vmlinux`: the functions DWARF says are inlined at the
    /// frame's address (its call, for a return address), innermost first.
    /// nil without DWARF (no `--vmlinux`).
    public var inlined: [InlinedCall]?
    /// The address's offset into `function`, when known: into `symbol`
    /// when it is set.
    public var offset: UInt64?
    /// The compiler's copy of `function` the address lies in
    /// (`do_softirq.part.0`), when it is one: the symbol `offset` counts from.
    public var symbol: String?

    /// `tcp_sendmsg+0x2f` or `do_softirq.part.0+0x3b`: the symbol and
    /// offset one can find again in the kernel's code; the name alone
    /// without its offset.
    public var location: String { Self.location(symbol ?? function, offset: offset) }

    /// `name+0x2f`, or `name` when the offset is not known.
    static func location(_ name: String, offset: UInt64?) -> String {
        offset.map { name + "+0x" + String($0, radix: 16) } ?? name
    }

    public init(_ function: String, _ address: UInt64) {
        self.function = function
        self.address = address
    }
}

/// What the kernel's machine code proves about a stack: which function a
/// frame's call instruction called, the tail calls (jumps to the start of
/// another function) that led from there to the next frame, and where a
/// function calls another elsewhere in its code.
public final class CallEvidence {
    public let code: KernelCodeSource

    /// How a frame's call reached the frame it called.
    public enum Link: Equatable, Sendable {
        /// The call instruction calls the next frame's function.
        case direct(call: String)
        /// It calls another function, which jumps (perhaps through others)
        /// to the next frame's: each jump a tail call. `through` names the
        /// functions entered and left that way. `alternatives`: the jumps
        /// through a pointer by which those functions may have left instead
        /// (from `through[firstAmbiguous]` on): then the way the code went
        /// past that function is not known.
        /// `bypasses`: for a function entered on the way whose jumps are
        /// not the only way there, a way from the call's target to the
        /// next frame's function without it (direct jumps): then whether
        /// it ran is not known.
        case tail(call: String, jumps: [String], through: [String], starts: [UInt64], alternatives: [String] = [], firstAmbiguous: Int? = nil,
                  bypasses: [String: String] = [:])
        /// A call through a register or memory (or a retpoline thunk).
        case indirect(call: String)
        /// It calls a function from which no direct jump leads there.
        case unexplained(call: String)
        /// The code at the return address could not be read or decoded.
        case unread
    }

    /// How a bypass of a syscall's own entry that only other syscalls'
    /// entries lead around begins (`Link.tail`'s `bypasses`).
    public static let throughOtherSyscalls = "only through other syscalls' entries than it: "
    /// How many ways through other syscalls' entries are followed before
    /// one is taken as a bypass like any other.
    static let otherEntriesFollowed = 8

    /// Functions reached by tail jumps are followed this deep.
    static let tailDepth = 4
    /// How many functions a search along tail jumps reads at most (the
    /// syscall table's `x64_sys_call` jumps to hundreds).
    static let tailSearchLimit = 2048
    /// Functions longer than this are read only this far.
    static let longestFunction = 32 * 1024

    var linkCache: [Pair: Link] = [:]
    var branchCache: [UInt64: [Branch]] = [:]
    var startCache: [String: [UInt64]] = [:]

    struct Pair: Hashable {
        let returnAddress: UInt64
        let callee: UInt64
    }

    public init(code: KernelCodeSource) {
        self.code = code
    }

    /// `ip_local_out+0x47`.
    public func location(_ address: UInt64) -> String {
        guard let extent = code.extent(of: address) else { return "0x" + String(address, radix: 16) }
        return (code.symbolName(at: address) ?? extent.function) + "+0x" + String(address - extent.start, radix: 16)
    }

    func name(_ address: UInt64) -> String {
        guard let extent = code.extent(of: address) else { return "0x" + String(address, radix: 16) }
        return extent.start == address ? code.symbolName(at: address) ?? extent.function : location(address)
    }

    /// `ip_local_out+0x17: call __ip_local_out`.
    func describe(_ branch: Branch) -> String {
        let target = branch.target.map(name) ?? "*(register or memory)"
        return "\(location(branch.address)): \(branch.kind == .call ? "call" : "jmp") \(target)"
    }

    /// The direct calls and jumps of the function starting at `start`.
    func branches(ofFunctionAt start: UInt64) -> [Branch] {
        if let known = branchCache[start] { return known }
        var found: [Branch] = []
        if let extent = code.extent(of: start), extent.start == start {
            let length = Int(min(extent.end - extent.start, UInt64(Self.longestFunction)))
            if let bytes = code.bytes(start, count: length) { found = MachineCode.branches(in: bytes, at: start) }
        }
        branchCache[start] = found
        return found
    }

    /// Whether `address` starts a function (so a jump there leaves the function).
    func startsFunction(_ address: UInt64) -> Bool {
        code.extent(of: address)?.start == address
    }

    /// Whether `address` lies outside the function starting at `start`.
    func outside(_ address: UInt64, _ start: UInt64) -> Bool {
        guard let extent = code.extent(of: start) else { return true }
        return address < extent.start || address >= extent.end
    }

    /// The first call or jump at `address`, when it is the first or second
    /// instruction there (after an `lfence`): what a thunk or trampoline
    /// kallsyms does not name consists of.
    func firstBranch(at address: UInt64) -> Branch? {
        guard let bytes = code.bytes(address, count: 16),
              let first = MachineCode.branches(in: bytes, at: address).first, first.address <= address + 3 else { return nil }
        return first
    }

    /// Code at `address`, inside a symbol's range but not its start, that is
    /// a retpoline or a jump through a register (kernels whose kallsyms does
    /// not name their thunk array): `jmp *%rax`, `lfence; jmp *%rax`, or a
    /// retpoline's `call` a few bytes ahead.
    func isUnnamedThunk(_ address: UInt64) -> Bool {
        guard !startsFunction(address), let first = firstBranch(at: address) else { return false }
        if first.kind == .jump && first.target == nil { return true }
        if first.kind == .call, let target = first.target, target > address, target < address + 16 { return true }
        return false
    }

    /// Whether a call or jump to `target` goes through a register: a named
    /// retpoline, or one kallsyms does not name.
    func goesThroughPointer(_ target: UInt64) -> Bool {
        if let extent = code.extent(of: target), Self.isIndirectThunk(extent.function) { return true }
        return isUnnamedThunk(target)
    }

    /// A retpoline: a jump or call through a register, made as a direct one to it.
    static func isIndirectThunk(_ name: String) -> Bool {
        name.hasPrefix("__x86_indirect_thunk") || name.hasPrefix("__x86_indirect_call_thunk") || name.hasPrefix("__x86_indirect_jump_thunk")
    }

    /// A retpoline or a return thunk (a `jmp` to one is a return, not a tail call).
    static func isThunk(_ name: String) -> Bool {
        isIndirectThunk(name) || name.hasPrefix("__x86_return_thunk") || name.hasPrefix("srso_") || name.hasPrefix("retbleed_")
    }

    /// How the frame `caller` (at its return address) reached `callee`.
    public func link(from caller: KernelFrame, to callee: KernelFrame) -> Link {
        guard let calleeStart = code.extent(of: callee.address)?.start else { return .unread }
        let key = Pair(returnAddress: caller.address, callee: calleeStart)
        if let known = linkCache[key] { return known }
        let found = findLink(returnAddress: caller.address, calleeStart: calleeStart)
        linkCache[key] = found
        return found
    }

    /// How the frame `caller` reached `callee` by way of a syscall's own
    /// entry `entry` (`__ia32_sys_readv`), where the way `link` found went
    /// through another syscall's (ia32_sys_call jumps to preadv2's entry
    /// too, and both go on to do_readv: audit 93 F1): the call, the jumps
    /// to the entry and on from it, and the ways around it, each through
    /// another syscall's entry or not (`bypasses`, as `link`'s). Nil when
    /// no such way is read.
    public func link(from caller: KernelFrame, to callee: KernelFrame, throughEntry entry: String) -> Link? {
        guard let calleeStart = code.extent(of: callee.address)?.start, let call = call(returningTo: caller.address),
              let target = call.target else { return nil }
        for start in code.starts(of: entry) {
            guard let to = start == target ? ([], [], []) : findTail(from: target, to: start),
                  let on = findTail(from: start, to: calleeStart) else { continue }
            let text = describe(call)
            let bypasses = way(from: target, to: calleeStart, around: entry, at: start, call: text).map { [entry: $0] } ?? [:]
            return .tail(call: text, jumps: to.jumps + on.jumps, through: to.through + on.through, starts: to.starts + on.starts, bypasses: bypasses)
        }
        return nil
    }

    /// A way of direct jumps from `target` to `destination` without the
    /// function `name` (starting at `start`), after `call`: nil when there
    /// is none. Around a syscall's own entry, ways through other syscalls'
    /// entries are not the call's (the syscall table jumps by its number):
    /// they are followed, and when only they lead around it they are
    /// given after `throughOtherSyscalls`.
    func way(from target: UInt64, to destination: UInt64, around name: String, at start: UInt64, call: String) -> String? {
        let isEntry = ChainAligner.isSyscallEntry(name)
        var avoiding: Set<UInt64> = [start]
        var throughOthers: [String] = []
        while let other = findTail(from: target, to: destination, avoiding: avoiding) {
            let way = ([call] + other.jumps).joined(separator: "; ")
            if isEntry, throughOthers.count < Self.otherEntriesFollowed,
               let index = other.through.indices.first(where: { ChainAligner.isSyscallEntry(other.through[$0]) && other.through[$0] != name }) {
                throughOthers.append(way)
                avoiding.insert(other.starts[index])
                continue
            }
            return way
        }
        return throughOthers.isEmpty ? nil : Self.throughOtherSyscalls + throughOthers.joined(separator: " or ")
    }

    /// The call instruction that ends at a return address.
    func call(returningTo returnAddress: UInt64) -> Branch? {
        guard returnAddress > 8, let before = code.bytes(returnAddress - 8, count: 8) else { return nil }
        return MachineCode.call(endingAt: returnAddress, before: before)
    }

    func findLink(returnAddress: UInt64, calleeStart: UInt64) -> Link {
        guard let call = call(returningTo: returnAddress) else { return .unread }
        let text = describe(call)
        guard let target = call.target else { return .indirect(call: text) }
        if target == calleeStart { return .direct(call: text) }
        if let extent = code.extent(of: target), Self.isIndirectThunk(extent.function) { return .indirect(call: text) }
        if isUnnamedThunk(target) { return .indirect(call: text + " (a thunk kallsyms does not name)") }
        // A call into the middle of a symbol's range is a trampoline (a
        // static call's, which kallsyms may not name): its jump says where
        // the call went.
        if !startsFunction(target), let jump = firstBranch(at: target), jump.address == target, jump.kind == .jump,
           let destination = jump.target {
            let trampoline = "\(location(target)): jmp \(name(destination)) (a trampoline)"
            if destination == calleeStart { return .tail(call: text, jumps: [trampoline], through: [], starts: []) }
            if let onward = findTail(from: destination, to: calleeStart) {
                return .tail(call: text, jumps: [trampoline] + onward.jumps, through: onward.through, starts: onward.starts)
            }
            return .unexplained(call: text + "; " + trampoline)
        }
        if let found = findTail(from: target, to: calleeStart) {
            // A function on the way that can also leave through a pointer may
            // have gone that way (a neighbour's n->output instead of the
            // header cache's direct jump): the route past it is not proven.
            var alternatives: [String] = []
            var firstAmbiguous: Int?
            for (index, start) in found.starts.enumerated() {
                let away = pointerJumps(ofFunctionAt: start)
                if !away.isEmpty, firstAmbiguous == nil { firstAmbiguous = index }
                alternatives += away.map(describe)
            }
            // A function on the way that another way of direct jumps avoids
            // (__tcp_ack_snd_check jumps to tcp_send_ack and to
            // tcp_send_delayed_ack, each of which jumps on to
            // __tcp_send_ack.part.0): entered only if that way was not taken.
            var bypasses: [String: String] = [:]
            for (index, start) in found.starts.enumerated() where index > 0 {
                // A way around a syscall's own entry through another syscall's
                // (writev's do_writev is also pwritev2's) is not the way this
                // call went: the syscall table jumps by the call's number
                // (audit 92). Only ways through none are bypasses.
                let name = found.through[index]
                bypasses[name] = way(from: target, to: calleeStart, around: name, at: start, call: text)
            }
            return .tail(call: text, jumps: found.jumps, through: found.through, starts: found.starts,
                         alternatives: alternatives, firstAmbiguous: firstAmbiguous, bypasses: bypasses)
        }
        // Not on the stack, so it left by a jump: through a pointer, if it has one.
        let indirect = pointerJumps(ofFunctionAt: target)
        if !indirect.isEmpty {
            return .tail(call: text, jumps: [indirect.map(describe).joined(separator: " or ") + " (through a pointer)"],
                         through: [code.extent(of: target)?.function ?? "?"], starts: [target])
        }
        return .unexplained(call: text)
    }

    /// The tail jumps from the function at `start` (entered, and left by
    /// them) to `destination`'s start: breadth first along jumps to
    /// function starts.
    /// `avoiding`: functions the way may not go through.
    func findTail(from start: UInt64, to destination: UInt64, avoiding: Set<UInt64> = []) -> (jumps: [String], through: [String], starts: [UInt64])? {
        var frontier: [(function: UInt64, jumps: [Branch])] = [(start, [])]
        var visited: Set<UInt64> = avoiding.union([start])
        for _ in 0..<Self.tailDepth {
            var next: [(function: UInt64, jumps: [Branch])] = []
            for (function, jumps) in frontier {
                for branch in branches(ofFunctionAt: function) where branch.kind == .jump {
                    guard let target = branch.target, target != function, startsFunction(target),
                          !Self.isThunk(code.extent(of: target)?.function ?? "") else { continue }
                    if target == destination {
                        let path = jumps + [branch]
                        let entered = [start] + path.dropLast().compactMap(\.target)
                        // Every jump of each function to the next one: a tail jump leaves no
                        // return address, so which of several was taken is not known (audit 11:
                        // tcp_xmit_recovery jumps on at +0x16 and at +0x62).
                        let described = zip(entered, path).map { function, branch in
                            let all = self.jumps(ofFunctionAt: function, to: branch.target ?? 0)
                            return all.isEmpty ? describe(branch) : all.joined(separator: " or ")
                        }
                        return (described, entered.map { code.extent(of: $0)?.function ?? "?" }, entered)
                    }
                    if visited.count < Self.tailSearchLimit, visited.insert(target).inserted { next.append((target, jumps + [branch])) }
                }
            }
            frontier = next
        }
        return nil
    }

    /// The jumps through a pointer (a register, memory, a retpoline thunk)
    /// out of the function at `start`.
    func pointerJumps(ofFunctionAt start: UInt64) -> [Branch] {
        branches(ofFunctionAt: start).filter { branch in
            branch.kind == .jump && (branch.target.map { outside($0, start) && goesThroughPointer($0) } ?? true)
        }
    }

    /// The jumps by which the function at `start`, entered by a tail call,
    /// may have left for `next` (the next function on the way): to its
    /// start, or through a pointer.
    public func tailJumps(ofFunctionAt start: UInt64, toward next: UInt64) -> [UInt64] {
        branches(ofFunctionAt: start).filter { branch in
            guard branch.kind == .jump else { return false }
            guard let target = branch.target else { return true }
            return target == next || (outside(target, start) && goesThroughPointer(target))
        }.map(\.address)
    }

    /// The direct jumps out of the function at `start` to the function
    /// starting at `next`, described (`ip_finish_output+0x19: jmp __ip_finish_output`).
    public func jumps(ofFunctionAt start: UInt64, to next: UInt64) -> [String] {
        let key = Jump(start: start, next: next)
        if let known = jumpsCache[key] { return known }
        let found = (branchesByTarget(ofFunctionAt: start)[next] ?? []).filter { $0.kind == .jump }.map(describe)
        jumpsCache[key] = found
        return found
    }

    /// A function's start, and the start of a function it jumps to.
    struct Jump: Hashable {
        let start: UInt64
        let next: UInt64
    }

    var jumpsCache: [Jump: [String]] = [:]

    /// Where the function of `frame` calls or jumps to a function named
    /// `name` (any copy of it), described as `f+0x17: call g`; the call in
    /// flight (the one before the frame's return address) left out.
    public func sites(in frame: KernelFrame, reaching name: String) -> [String] {
        guard let start = code.extent(of: frame.address)?.start else { return [] }
        return sites(inFunctionAt: start, reaching: name, except: frame.address)
    }

    /// The same for a function entered and left by tail calls (no call of its is in flight).
    public func sites(inFunctionAt start: UInt64, reaching name: String, except returnAddress: UInt64? = nil) -> [String] {
        let key = SiteQuery(start: start, except: returnAddress, name: name)
        if let known = describedSites[key] { return known }
        let found = siteBranches(inFunctionAt: start, reaching: name, except: returnAddress).map(describe)
        describedSites[key] = found
        return found
    }

    /// A function's start, the return address of the call left out, a name.
    struct SiteQuery: Hashable {
        let start: UInt64
        let except: UInt64?
        let name: String
    }

    var describedSites: [SiteQuery: [String]] = [:]

    /// The calls and jumps of the function at `start` to any copy of
    /// `name`, but the one that returns to `returnAddress`.
    func siteBranches(inFunctionAt start: UInt64, reaching name: String, except returnAddress: UInt64? = nil) -> [Branch] {
        let byTarget = branchesByTarget(ofFunctionAt: start)
        return starts(of: name).flatMap { byTarget[$0] ?? [] }.filter { $0.end != returnAddress }.sorted { $0.address < $1.address }
    }

    var targetCache: [UInt64: [UInt64: [Branch]]] = [:]

    /// The direct calls and jumps of the function starting at `start`, by
    /// their target: asked for every model function at every frame.
    func branchesByTarget(ofFunctionAt start: UInt64) -> [UInt64: [Branch]] {
        if let known = targetCache[start] { return known }
        var found: [UInt64: [Branch]] = [:]
        for branch in branches(ofFunctionAt: start) {
            if let target = branch.target { found[target, default: []].append(branch) }
        }
        targetCache[start] = found
        return found
    }

    var flowCache: [UInt64: ControlFlow?] = [:]

    /// Where execution can go in the function starting at `start`; nil
    /// when its code, or the edges the kernel patches into it, cannot be
    /// read, or it is longer than is read.
    func flow(ofFunctionAt start: UInt64) -> ControlFlow? {
        if let known = flowCache[start] { return known }
        var found: ControlFlow?
        if let extent = code.extent(of: start), extent.start == start, extent.end - start <= UInt64(Self.longestFunction),
           let bytes = code.bytes(start, count: Int(extent.end - start)), let patched = code.patchedEdges(start, extent.end) {
            found = ControlFlow(instructions: MachineCode.instructions(in: bytes, at: start), start: start, end: extent.end,
                                extra: patched, isIndirect: { self.goesThroughPointer($0) },
                                returns: { target in
                                    guard let callee = self.code.extent(of: target), callee.start == target else { return true }
                                    return !ControlFlow.noReturnFunctions.contains(callee.function)
                                },
                                resumesAfterTrap: { self.code.trapResumes($0) ?? true })
        }
        flowCache[start] = found
        return found
    }

    /// How a site on every way from its function's entry to the call in
    /// flight (or to every jump on) ends: it ran before the sample.
    public static let onEveryWay = ", on every way from the function's entry to it)"

    /// Where a function calls or jumps to another, parted by the way
    /// through the call in flight: `on` it (before or after), `off` it;
    /// and whether one of the `on` sites lies on every way from the
    /// function's entry to the call in flight (so it ran before the sample).
    public struct SitesOnTheWay: Sendable {
        public var on: [String] = []
        public var off: [String] = []
        public var onEveryWay = false
    }

    /// Where the function of `frame` calls or jumps to `name` (any copy;
    /// the call in flight left out), parted by whether execution through
    /// the call in flight may pass there: before it (the site's return
    /// leads to the call in flight; said `onEveryWay` when every way there
    /// passes it) or after it (the frame's return address leads to the
    /// site). `off`: sites the function's code proves on no such way.
    /// Where the code's flow is not known, every site is on.
    public func sitesOnTheWay(in frame: KernelFrame, reaching name: String) -> SitesOnTheWay {
        remembered(SitesKey(address: frame.address, toward: nil, name: name)) { findSitesOnTheWay(in: frame, reaching: name) }
    }

    /// A question to `sitesOnTheWay`: a frame's return address (or a
    /// function's start and where it jumps on), and a function's name.
    struct SitesKey: Hashable {
        let address: UInt64
        let toward: UInt64?
        let name: String
    }

    var sitesCache: [SitesKey: SitesOnTheWay] = [:]

    /// The answer kept for `key`, else `find`'s, kept: the same frames are
    /// asked about for every model function of every chain.
    func remembered(_ key: SitesKey, _ find: () -> SitesOnTheWay) -> SitesOnTheWay {
        if let known = sitesCache[key] { return known }
        let found = find()
        sitesCache[key] = found
        return found
    }

    func findSitesOnTheWay(in frame: KernelFrame, reaching name: String) -> SitesOnTheWay {
        guard let start = code.extent(of: frame.address)?.start else { return SitesOnTheWay() }
        let sites = siteBranches(inFunctionAt: start, reaching: name, except: frame.address)
        guard !sites.isEmpty else { return SitesOnTheWay() }
        guard let flow = flow(ofFunctionAt: start),
              let inFlight = branches(ofFunctionAt: start).first(where: { $0.end == frame.address && $0.kind == .call }) else {
            return SitesOnTheWay(on: sites.map(describe))
        }
        var found = SitesOnTheWay()
        for site in sites {
            let before = site.kind == .call && flow.mayReach(from: site.end, to: inFlight.address)
            let after = flow.mayReach(from: frame.address, to: site.address)
            if before && flow.mustPass(site.address, from: start, to: inFlight.address) {
                found.on.append(describe(site) + " (before the call in flight" + Self.onEveryWay)
                found.onEveryWay = true
                continue
            }
            switch (before, after) {
            case (true, true): found.on.append(describe(site) + " (before or after the call in flight)")
            case (true, false): found.on.append(describe(site) + " (before the call in flight)")
            case (false, true): found.on.append(describe(site) + " (after the call in flight)")
            case (false, false): found.off.append(describe(site))
            }
        }
        return found
    }

    /// The same for a function entered and left by tail calls on the way
    /// to the function starting at `next`: a site is on the way when the
    /// function's entry leads to it and, for a call, its return leads to a
    /// jump by which the function may have left for `next`.
    public func sitesOnTheWay(inFunctionAt start: UInt64, toward next: UInt64, reaching name: String) -> SitesOnTheWay {
        remembered(SitesKey(address: start, toward: next, name: name)) { findSitesOnTheWay(inFunctionAt: start, toward: next, reaching: name) }
    }

    func findSitesOnTheWay(inFunctionAt start: UInt64, toward next: UInt64, reaching name: String) -> SitesOnTheWay {
        let sites = siteBranches(inFunctionAt: start, reaching: name)
        guard !sites.isEmpty else { return SitesOnTheWay() }
        let leaving = tailJumps(ofFunctionAt: start, toward: next)
        guard let flow = flow(ofFunctionAt: start), !leaving.isEmpty else { return SitesOnTheWay(on: sites.map(describe)) }
        var found = SitesOnTheWay()
        for site in sites {
            let after = leaving.filter { flow.mayReach(from: site.end, to: $0) }
            let passed = flow.mayReach(from: start, to: site.address) && site.kind == .call && !after.isEmpty
            // With several ways on, the ones this call lies before (audit 11).
            let before = leaving.count == 1 ? "the jump on" : "the jump on at " + after.map(location).joined(separator: " or ")
            if passed && leaving.allSatisfy({ flow.mustPass(site.address, from: start, to: $0) }) {
                found.on.append(describe(site) + " (before \(before)" + Self.onEveryWay)
                found.onEveryWay = true
            } else if passed {
                found.on.append(describe(site) + " (before \(before))")
            } else {
                found.off.append(describe(site))
            }
        }
        return found
    }

    func starts(of name: String) -> [UInt64] {
        if let known = startCache[name] { return known }
        let found = code.starts(of: name)
        startCache[name] = found
        return found
    }
}
