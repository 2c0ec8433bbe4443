import CSpawn
import Testing
@testable import SocketTrace

/// The seccomp filter a launched program gets, without ptrace: its
/// instructions against the layout written out, and the program run by a
/// small classic-BPF interpreter over every syscall number of each
/// architecture (TracerTests trace real programs through the real filter).
@Suite struct SeccompFilterTests {
    static let x86_64 = Architecture.x86_64.auditValue
    static let i386 = Architecture.i386.auditValue
    static let allow: UInt32 = 0x7fff_0000
    static let trace: UInt32 = 0x7ff0_0000

    /// What the kernel's seccomp would return for a call: the program run
    /// on struct seccomp_data (nr at byte 0, arch at byte 4). Accepts only
    /// the instructions a filter of ours may use, forward jumps within the
    /// program and a return at the end of every path, as the kernel's
    /// checker does.
    static func run(_ program: [BPFInstruction], architecture: UInt32, number: UInt32) -> UInt32? {
        var accumulator: UInt32 = 0
        var pc = 0
        while pc < program.count {
            let instruction = program[pc]
            switch instruction.code {
            case UInt16(BPF_LD | BPF_W | BPF_ABS):
                switch instruction.constant {
                case 0: accumulator = number
                case 4: accumulator = architecture
                default: return nil
                }
                pc += 1
            case UInt16(BPF_JMP | BPF_JEQ | BPF_K):
                pc += 1 + Int(accumulator == instruction.constant ? instruction.jumpIfTrue : instruction.jumpIfFalse)
            case UInt16(BPF_JMP | BPF_JA):
                pc += 1 + Int(instruction.constant)
            case UInt16(BPF_RET | BPF_K):
                return instruction.constant
            default:
                return nil
            }
        }
        return nil  // fell off the end: the kernel refuses such a program
    }

    @Test("the instructions: arch check, x86-64 numbers, i386 numbers, allow, trace")
    func layout() throws {
        let filter = try SeccompFilter(x86_64: [41, 42], i386: [102])
        let expected: [BPFInstruction] = [
            BPFInstruction(code: 0x20, constant: 4),                                   // ld arch
            BPFInstruction(code: 0x15, jumpIfTrue: 0, jumpIfFalse: 4, constant: Self.x86_64),
            BPFInstruction(code: 0x20, constant: 0),                                   // ld nr
            BPFInstruction(code: 0x15, jumpIfTrue: 7, jumpIfFalse: 0, constant: 41),
            BPFInstruction(code: 0x15, jumpIfTrue: 6, jumpIfFalse: 0, constant: 42),
            BPFInstruction(code: 0x05, constant: 4),                                   // ja allow
            BPFInstruction(code: 0x15, jumpIfTrue: 0, jumpIfFalse: 3, constant: Self.i386),
            BPFInstruction(code: 0x20, constant: 0),                                   // ld nr
            BPFInstruction(code: 0x15, jumpIfTrue: 2, jumpIfFalse: 0, constant: 102),
            BPFInstruction(code: 0x05, constant: 0),                                   // ja allow
            BPFInstruction(code: 0x06, constant: Self.allow),
            BPFInstruction(code: 0x06, constant: Self.trace),
        ]
        #expect(filter.instructions == expected, "\(filter.instructions.map(\.description))")
        // The kernel's struct, field by field.
        let c = filter.cProgram
        #expect(c.count == expected.count)
        for (made, wanted) in zip(c, expected) {
            #expect(made.code == wanted.code && made.jt == wanted.jumpIfTrue && made.jf == wanted.jumpIfFalse && made.k == wanted.constant)
        }
        #expect(MemoryLayout<sock_filter>.size == 8)
    }

    @Test("it traces exactly the listed calls of each architecture, and lets x32 and others through",
          arguments: [([UInt32](), [UInt32]()), ([41], []), ([], [102]), ([41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 288, 299, 307],
                                                                            [102, 359, 360, 361, 362, 363, 364, 365, 366, 367, 368, 369, 370, 371, 372, 373])])
    func interpreted(x86: [UInt32], i386: [UInt32]) throws {
        let program = try SeccompFilter(x86_64: x86, i386: i386).instructions
        for number in UInt32(0)..<600 {
            #expect(Self.run(program, architecture: Self.x86_64, number: number) == (x86.contains(number) ? Self.trace : Self.allow), "x86-64 \(number)")
            #expect(Self.run(program, architecture: Self.i386, number: number) == (i386.contains(number) ? Self.trace : Self.allow), "i386 \(number)")
            // x32 calls run as x86-64 with bit 30 set; none of ours.
            #expect(Self.run(program, architecture: Self.x86_64, number: number | 0x4000_0000) == Self.allow, "x32 \(number)")
            #expect(Self.run(program, architecture: 0xc000_00b7, number: number) == Self.allow, "aarch64 \(number)")
        }
    }

    @Test("as many calls as 8-bit jumps reach, and no more")
    func longest() throws {
        let x86 = Array(UInt32(0)..<200), i386 = Array(UInt32(0)..<51)
        let program = try SeccompFilter(x86_64: x86, i386: i386).instructions
        #expect(Self.run(program, architecture: Self.x86_64, number: 0) == Self.trace)
        #expect(Self.run(program, architecture: Self.x86_64, number: 199) == Self.trace)
        #expect(Self.run(program, architecture: Self.x86_64, number: 200) == Self.allow)
        #expect(Self.run(program, architecture: Self.i386, number: 50) == Self.trace)
        #expect(Self.run(program, architecture: Self.i386, number: 51) == Self.allow)
        #expect(throws: SeccompFilter.TooManyCalls(count: 252)) {
            try SeccompFilter(x86_64: x86, i386: i386 + [51])
        }
    }
}
