import CSpawn

/// One classic BPF instruction (struct sock_filter): an opcode, the jumps
/// if true and if false (relative to the next instruction) and a constant.
public struct BPFInstruction: Equatable, Sendable, CustomStringConvertible {
    public var code: UInt16
    public var jumpIfTrue: UInt8
    public var jumpIfFalse: UInt8
    public var constant: UInt32

    public init(code: UInt16, jumpIfTrue: UInt8 = 0, jumpIfFalse: UInt8 = 0, constant: UInt32) {
        self.code = code
        self.jumpIfTrue = jumpIfTrue
        self.jumpIfFalse = jumpIfFalse
        self.constant = constant
    }

    // The opcodes a seccomp filter of ours uses (linux/bpf_common.h).
    static let loadWordAbsolute = UInt16(BPF_LD | BPF_W | BPF_ABS)
    static let jumpIfEqual = UInt16(BPF_JMP | BPF_JEQ | BPF_K)
    static let jumpAlways = UInt16(BPF_JMP | BPF_JA)
    static let returnConstant = UInt16(BPF_RET | BPF_K)

    /// A = the 32-bit word at `offset` of the input.
    static func load(_ offset: Int) -> BPFInstruction { BPFInstruction(code: loadWordAbsolute, constant: UInt32(offset)) }
    static func ret(_ value: UInt32) -> BPFInstruction { BPFInstruction(code: returnConstant, constant: value) }
    /// At `index`: to `target` if A == `value`, else to `other` (absolute indices).
    static func jump(at index: Int, ifEqual value: UInt32, to target: Int, else other: Int) -> BPFInstruction {
        BPFInstruction(code: jumpIfEqual, jumpIfTrue: UInt8(target - index - 1), jumpIfFalse: UInt8(other - index - 1), constant: value)
    }
    /// At `index`: to `target`.
    static func jump(at index: Int, to target: Int) -> BPFInstruction {
        BPFInstruction(code: jumpAlways, constant: UInt32(target - index - 1))
    }

    var cValue: sock_filter { sock_filter(code: code, jt: jumpIfTrue, jf: jumpIfFalse, k: constant) }

    public var description: String {
        switch code {
        case Self.loadWordAbsolute: "ld [\(constant)]"
        case Self.jumpIfEqual: "jeq #0x\(String(constant, radix: 16)) jt +\(jumpIfTrue) jf +\(jumpIfFalse)"
        case Self.jumpAlways: "ja +\(constant)"
        case Self.returnConstant: "ret #0x\(String(constant, radix: 16))"
        default: "code 0x\(String(code, radix: 16)) jt \(jumpIfTrue) jf \(jumpIfFalse) k 0x\(String(constant, radix: 16))"
        }
    }
}

/// The seccomp filter a launched program gets: SECCOMP_RET_TRACE for the
/// listed syscalls of each architecture (a seccomp stop for the tracer),
/// SECCOMP_RET_ALLOW for everything else (x32 included), so the other
/// calls run without stopping. Built here, before fork; the child in C
/// only hands it to prctl (CSpawn).
///
///     0  ld arch
///     1  jeq x86-64, else → i386 block
///     2  ld nr
///        jeq nr₁ … nrₙ → trace       (x86-64 numbers)
///        ja → allow
///        jeq i386, else → allow      (i386 block)
///        ld nr
///        jeq nr₁ … nrₘ → trace       (i386 numbers)
///        ja → allow
///        ret ALLOW
///        ret TRACE
public struct SeccompFilter: Equatable, Sendable {
    public let instructions: [BPFInstruction]

    /// A jump (8 bits) cannot reach the return: too many calls listed.
    public struct TooManyCalls: Error, Equatable, CustomStringConvertible {
        public let count: Int
        public var description: String { "a seccomp filter for \(count) syscalls: too many for its 8-bit jumps" }
    }

    // Offsets in struct seccomp_data, the filter's input.
    static let numberOffset = MemoryLayout<seccomp_data>.offset(of: \.nr)!
    static let architectureOffset = MemoryLayout<seccomp_data>.offset(of: \.arch)!
    static let allow = UInt32(SECCOMP_RET_ALLOW)
    static let trace = UInt32(SECCOMP_RET_TRACE)

    public init(x86_64: [UInt32], i386: [UInt32]) throws(TooManyCalls) {
        // Offsets are relative to the next instruction; the TRACE return is last.
        let block32 = 2 + 1 + x86_64.count + 1
        let allowAt = block32 + 2 + i386.count + 1
        let traceAt = allowAt + 1
        // The first comparison's jump to the TRACE return is the longest.
        guard traceAt - 3 - 1 <= Int(UInt8.max) else { throw TooManyCalls(count: x86_64.count + i386.count) }
        var program: [BPFInstruction] = []
        program.reserveCapacity(traceAt + 1)
        program.append(.load(Self.architectureOffset))
        program.append(.jump(at: program.count, ifEqual: Architecture.x86_64.auditValue, to: program.count + 1, else: block32))
        program.append(.load(Self.numberOffset))
        for number in x86_64 { program.append(.jump(at: program.count, ifEqual: number, to: traceAt, else: program.count + 1)) }
        program.append(.jump(at: program.count, to: allowAt))
        program.append(.jump(at: program.count, ifEqual: Architecture.i386.auditValue, to: program.count + 1, else: allowAt))
        program.append(.load(Self.numberOffset))
        for number in i386 { program.append(.jump(at: program.count, ifEqual: number, to: traceAt, else: program.count + 1)) }
        program.append(.jump(at: program.count, to: allowAt))
        program.append(.ret(Self.allow))
        program.append(.ret(Self.trace))
        instructions = program
    }

    /// The program as the kernel takes it (struct sock_filter each).
    var cProgram: [sock_filter] { instructions.map(\.cValue) }
}
