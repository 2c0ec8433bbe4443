/// Where execution can go inside one function, read from its machine code:
/// its jumps, conditional and not, and the edges the kernel patches in
/// (a static key's jump-label site goes on or jumps; a faulting access
/// goes to its fixup). It over-approximates: a jump through a register
/// (a switch) may reach any instruction, as may code that did not decode;
/// so "cannot reach" is proven, "can reach" only possible.
public struct ControlFlow: Sendable {
    let instructions: [Instruction]
    let index: [UInt64: Int]
    let start: UInt64
    let end: UInt64
    /// Patched-in edges: a site → where it may also go.
    let extra: [UInt64: [UInt64]]
    /// Jumps through a register or memory inside the function.
    let indirect: Set<Int>

    /// Calls that do not return, and traps execution does not go on
    /// from (a BUG's `ud2`): the code after them belongs to another way.
    let noReturn: Set<Int>

    /// Functions the kernel declares `__noreturn` in every version: a call
    /// to one ends its way (the stack protector's failure, above all,
    /// whose call the compiler puts before unrelated code).
    public static let noReturnFunctions: Set<String> = ["__stack_chk_fail", "panic", "do_exit", "make_task_dead", "kthread_exit",
                                                         "usercopy_abort", "__fortify_panic", "fortify_panic"]

    /// `isIndirect`: whether a direct jump's target is a thunk through a
    /// register (a retpoline), that is a jump through a pointer.
    /// `returns`: whether a call's target returns (false only for a
    /// function known not to). `resumesAfterTrap`: whether execution goes
    /// on after the `ud2` at an address (a WARN's; not a BUG's).
    public init(instructions: [Instruction], start: UInt64, end: UInt64, extra: [(site: UInt64, target: UInt64)],
                isIndirect: (UInt64) -> Bool, returns: (UInt64) -> Bool = { _ in true },
                resumesAfterTrap: (UInt64) -> Bool = { _ in true }) {
        self.instructions = instructions
        self.start = start
        self.end = end
        var index: [UInt64: Int] = [:]
        for (position, instruction) in instructions.enumerated() { index[instruction.address] = position }
        self.index = index
        var edges: [UInt64: [UInt64]] = [:]
        for (site, target) in extra { edges[site, default: []].append(target) }
        self.extra = edges
        var indirect: Set<Int> = []
        for (position, instruction) in instructions.enumerated() {
            switch instruction.flow {
            case let .jump(target), let .conditional(target):
                if target.map(isIndirect) ?? true { indirect.insert(position) }
            default: break
            }
        }
        self.indirect = indirect
        self.noReturn = Set(instructions.indices.filter { position in
            let instruction = instructions[position]
            return instruction.call.map { !returns($0) } ?? (instruction.trap && !resumesAfterTrap(instruction.address))
        })
    }

    func inside(_ address: UInt64) -> Bool { address >= start && address < end }

    /// The instructions execution may go to from the one at `position`.
    func successors(of position: Int) -> [Int] {
        nextAddresses(of: position).compactMap { index[$0] }
    }

    /// Where execution may go from the instruction at `position`, inside
    /// the function (an address no decoded instruction starts at included).
    func nextAddresses(of position: Int) -> [UInt64] {
        let instruction = instructions[position]
        var next: [UInt64] = []
        switch instruction.flow {
        case .next: if !noReturn.contains(position) { next.append(instruction.end) }
        case let .jump(target): if let target, inside(target) { next.append(target) }
        case let .conditional(target):
            next.append(instruction.end)
            if let target, inside(target) { next.append(target) }
        case .stop: break
        }
        if let patched = extra[instruction.address] {
            // A jump-label site goes on or jumps, whichever it is patched to now.
            next.append(instruction.end)
            next += patched.filter(inside)
        }
        return next.filter(inside)
    }

    /// Whether every way from `from` to `to` inside the function passes the
    /// instruction at `through`. Proven only where the flow is known: a
    /// jump through a pointer, or code that did not decode, on a way that
    /// avoids it, and the answer is false.
    public func mustPass(_ through: UInt64, from: UInt64, to: UInt64) -> Bool {
        guard let first = index[from], let goal = index[to], let blocked = index[through],
              let last = instructions.last, last.end >= end else { return false }
        if first == blocked { return true }
        var seen: Set<Int> = [first]
        var frontier = [first]
        while !frontier.isEmpty {
            var next: [Int] = []
            for position in frontier {
                if position == goal || indirect.contains(position) { return false }
                for address in nextAddresses(of: position) {
                    guard let successor = index[address] else { return false }
                    if successor != blocked && seen.insert(successor).inserted { next.append(successor) }
                }
            }
            frontier = next
        }
        return true
    }

    /// Whether execution starting at `from` may reach the instruction at
    /// `to` without leaving the function. True when not known (an
    /// address that is no instruction's start, a jump through a pointer on
    /// the way).
    public func mayReach(from: UInt64, to: UInt64) -> Bool {
        way(from: from, to: to) != nil
    }

    /// The addresses of the jumps (and patched sites) by which execution
    /// may get from `from` to `to`: nil when it cannot; empty when that is
    /// not known (it may), or it goes straight on.
    public func way(from: UInt64, to: UInt64) -> [UInt64]? {
        guard let first = index[from], let goal = index[to] else { return [] }
        var cameFrom: [Int: Int] = [first: first]
        var frontier = [first]
        while !frontier.isEmpty {
            var next: [Int] = []
            for position in frontier {
                if position == goal || indirect.contains(position) {
                    var turns: [UInt64] = []
                    var at = position
                    while at != first, let previous = cameFrom[at] {
                        if instructions[previous].end != instructions[at].address { turns.append(instructions[previous].address) }
                        at = previous
                    }
                    return position == goal ? turns.reversed() : []
                }
                for successor in successors(of: position) where cameFrom[successor] == nil {
                    cameFrom[successor] = position
                    next.append(successor)
                }
            }
            frontier = next
        }
        return nil
    }
}
