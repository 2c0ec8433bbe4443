import CCapstone
import Glibc

/// x86-64 machine code decoded with capstone, as far as the evidence about
/// call chains needs it: the calls and jumps, and where they go.
public struct Branch: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case call, jump
    }
    /// The instruction's address.
    public let address: UInt64
    /// Its length in bytes.
    public let length: Int
    public let kind: Kind
    /// The target of a direct branch; nil for one through a register or memory.
    public let target: UInt64?

    /// Where execution goes on after a call returns.
    public var end: UInt64 { address + UInt64(length) }
}

/// One instruction, as far as where execution goes after it.
public struct Instruction: Sendable, Equatable {
    public enum Flow: Sendable, Equatable {
        /// On to the next instruction (a call returns there).
        case next
        /// To `target` only (nil: through a register or memory).
        case jump(UInt64?)
        /// To `target` or on to the next instruction.
        case conditional(UInt64?)
        /// Nowhere in this function (a return).
        case stop
    }
    public let address: UInt64
    public let length: Int
    public let flow: Flow
    /// A call's direct target.
    public var call: UInt64?
    /// A `ud2`: BUG()'s and WARN()'s trap, after which execution goes on
    /// only for a WARN (the kernel's bug table says which).
    public var trap = false

    public var end: UInt64 { address + UInt64(length) }
}

public enum MachineCode {
    /// Every instruction in `bytes`, decoded from `address`, with where
    /// execution goes after it. `ud2` goes on here, marked a trap (a WARN
    /// resumes after it, a BUG does not: ControlFlow asks the bug table);
    /// `int3` goes on (padding, or a breakpoint that resumes).
    public static func instructions(in bytes: [UInt8], at address: UInt64) -> [Instruction] {
        withHandle({ handle in
            var decoded: UnsafeMutablePointer<cs_insn>?
            let count = bytes.withUnsafeBufferPointer { cs_disasm(handle, $0.baseAddress, $0.count, address, 0, &decoded) }
            guard let decoded else { return [] }
            defer { cs_free(decoded, count) }
            var found: [Instruction] = []
            found.reserveCapacity(count)
            for index in 0..<count {
                let instruction = decoded[index]
                let mnemonic = Self.mnemonic(instruction)
                var target: UInt64? { Self.directTarget(instruction) }
                let flow: Instruction.Flow
                var call: UInt64?
                if mnemonic == "call" {
                    flow = .next
                    call = target
                } else if mnemonic == "jmp" {
                    flow = .jump(target)
                } else if mnemonic.hasPrefix("j") || mnemonic.hasPrefix("loop") {
                    flow = .conditional(target)
                } else if mnemonic.hasPrefix("ret") || mnemonic.hasPrefix("iret") || mnemonic.hasPrefix("sysret") {
                    flow = .stop
                } else {
                    flow = .next
                }
                var decodedInstruction = Instruction(address: instruction.address, length: Int(instruction.size), flow: flow)
                decodedInstruction.call = call
                decodedInstruction.trap = mnemonic == "ud2"
                found.append(decodedInstruction)
            }
            return found
        }, otherwise: [])
    }

    /// The calls and jumps in `bytes`, decoded from `address`. Conditional
    /// jumps count as jumps: a tail call the compiler made conditional
    /// (`jne other_function`) is one too.
    public static func branches(in bytes: [UInt8], at address: UInt64) -> [Branch] {
        decode(bytes, at: address, limit: 0)
    }

    /// The call instruction that ends at `returnAddress`, found in the
    /// bytes just before it (`before` holds the bytes that precede it).
    /// The cs prefix the kernel's build puts on calls to its retpoline
    /// thunks (-mindirect-branch-cs-prefix).
    static let segmentPrefixes: Set<UInt8> = [0x2e]

    public static func call(endingAt returnAddress: UInt64, before: [UInt8]) -> Branch? {
        // A direct call (e8 rel32) first; then the indirect forms' lengths.
        for length in [5, 2, 3, 6, 7, 4] where length <= before.count {
            let slice = Array(before.suffix(length))
            let start = returnAddress - UInt64(length)
            if let branch = decode(slice, at: start, limit: 1).first, branch.kind == .call, branch.length == length {
                // A segment prefix before it is part of the instruction: the
                // kernel's calls to retpoline thunks are `cs call` (2e e8, six
                // bytes), which start a byte earlier.
                if length < before.count, segmentPrefixes.contains(before[before.count - length - 1]),
                   let prefixed = decode(Array(before.suffix(length + 1)), at: start - 1, limit: 1).first,
                   prefixed.kind == .call, prefixed.length == length + 1, prefixed.target == branch.target {
                    return prefixed
                }
                return branch
            }
        }
        return nil
    }

    /// One capstone handle per thread, opened at first use: opening one per
    /// function decoded cost more than the decoding.
    static func withHandle<T>(_ body: (csh) -> T, otherwise: T) -> T {
        let key = handleKey
        if let stored = pthread_getspecific(key) {
            return body(csh(UInt(bitPattern: stored)))
        }
        var handle: csh = 0
        guard cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK else { return otherwise }
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: UInt(handle)))
        return body(handle)
    }

    static let handleKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { stored in
            var handle = csh(UInt(bitPattern: stored))
            cs_close(&handle)
        }
        return key
    }()

    static func decode(_ bytes: [UInt8], at address: UInt64, limit: Int) -> [Branch] {
        withHandle({ decode(bytes, at: address, limit: limit, handle: $0) }, otherwise: [])
    }

    static func decode(_ bytes: [UInt8], at address: UInt64, limit: Int, handle: csh) -> [Branch] {
        var instructions: UnsafeMutablePointer<cs_insn>?
        let count = bytes.withUnsafeBufferPointer { cs_disasm(handle, $0.baseAddress, $0.count, address, limit, &instructions) }
        guard let instructions else { return [] }
        defer { cs_free(instructions, count) }
        var found: [Branch] = []
        for index in 0..<count {
            let instruction = instructions[index]
            let mnemonic = Self.mnemonic(instruction)
            let kind: Branch.Kind
            if mnemonic == "call" {
                kind = .call
            } else if mnemonic.hasPrefix("j") {
                kind = .jump
            } else {
                continue
            }
            found.append(Branch(address: instruction.address, length: Int(instruction.size), kind: kind, target: directTarget(instruction)))
        }
        return found
    }

    /// An instruction's mnemonic (`call`, `jne`, `ret`).
    static func mnemonic(_ instruction: cs_insn) -> String {
        withUnsafeBytes(of: instruction.mnemonic) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The address a direct call or jump goes to (its operand, `0x…`); nil
    /// for one through a register or memory.
    static func directTarget(_ instruction: cs_insn) -> UInt64? {
        let operand = withUnsafeBytes(of: instruction.op_str) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return operand.hasPrefix("0x") ? UInt64(operand.dropFirst(2), radix: 16) : nil
    }
}
