import Glibc

/// The software breakpoints (int3) sockettrace placed in one address space:
/// at the entry of each traced function, and at the return addresses of the
/// calls in progress. Shared by the threads of a process (and by a vfork
/// child until it execs); copied for a forked child, whose memory is a copy.
final class Breakpoints {
    /// Entry breakpoints: run-time address → the function.
    var entries: [UInt64: ProgramFunction] = [:]
    /// Return breakpoints: run-time address → how many calls in progress return there.
    var returns: [UInt64: Int] = [:]
    /// The byte each inserted breakpoint replaced.
    var originals: [UInt64: UInt8] = [:]
    /// Breakpoints taken out again (a return address no call returns to any
    /// more): a thread that hit one just before is stopped on it, its trap
    /// not yet seen; it is put back before the instruction, never given the
    /// SIGTRAP (which would end the program).
    var removed: Set<UInt64> = []

    static let int3: UInt8 = 0xcc

    /// What reads and writes the code words.
    let ptrace: any PtraceBackend

    init(ptrace: any PtraceBackend) { self.ptrace = ptrace }

    func copy() -> Breakpoints {
        let copy = Breakpoints(ptrace: ptrace)
        copy.entries = entries
        copy.returns = returns
        copy.originals = originals
        copy.removed = removed
        return copy
    }

    func isBreakpoint(_ address: UInt64) -> Bool { originals[address] != nil }

    /// Whether a trap at `address` may be a hit on a breakpoint since removed.
    func wasBreakpoint(_ address: UInt64) -> Bool { originals[address] == nil && removed.contains(address) }

    /// Writes int3 at `address` through stopped thread `tid`.
    @discardableResult
    func insert(_ address: UInt64, tid: Int32) -> Bool {
        guard originals[address] == nil else { return true }
        guard let original = patch(address, with: Self.int3, tid: tid) else { return false }
        originals[address] = original
        return true
    }

    /// Puts back the byte a breakpoint replaced.
    /// If the write fails (no stopped thread to write through), the
    /// breakpoint stays known, so that a thread hitting it is stepped over.
    func remove(_ address: UInt64, tid: Int32) {
        guard let original = originals[address] else { return }
        if patch(address, with: original, tid: tid) != nil {
            originals[address] = nil
            // The program's own int3 there would trap for itself.
            if original != Self.int3 { removed.insert(address) }
        }
    }

    /// The original byte at `address` back for a single step, int3 again after.
    func lift(_ address: UInt64, tid: Int32) {
        guard let original = originals[address] else { return }
        _ = patch(address, with: original, tid: tid)
    }

    func lower(_ address: UInt64, tid: Int32) {
        guard originals[address] != nil else { return }
        _ = patch(address, with: Self.int3, tid: tid)
    }

    /// Replaces the byte at `address`, returning the byte that was there.
    func patch(_ address: UInt64, with byte: UInt8, tid: Int32) -> UInt8? {
        guard let word = ptrace.peekWord(tid, at: address) else { return nil }
        let original = UInt8(truncatingIfNeeded: word)
        let patched = (word & ~0xff) | UInt64(byte)
        guard ptrace.pokeWord(tid, at: address, patched) == 0 else { return nil }
        return original
    }

    /// A call in progress will return to `address`.
    func expectReturn(to address: UInt64, tid: Int32) {
        returns[address, default: 0] += 1
        if returns[address] == 1 && entries[address] == nil { insert(address, tid: tid) }
    }

    /// A call that was to return to `address` has returned (or was unwound).
    func returned(to address: UInt64, tid: Int32) {
        guard let count = returns[address] else { return }
        if count > 1 {
            returns[address] = count - 1
            return
        }
        returns[address] = nil
        if entries[address] == nil { remove(address, tid: tid) }
    }

    /// Every breakpoint removed: the code is as the program file has it.
    func removeAll(tid: Int32) {
        for address in Array(originals.keys) { remove(address, tid: tid) }
        returns = [:]
    }
}

/// A traced function that a thread is inside.
struct ActiveFunction {
    let function: ProgramFunction
    let returnAddress: UInt64
    /// The stack pointer at entry (pointing at the return address).
    let entryStack: UInt64
    let entryTime: MonotonicTime
}
