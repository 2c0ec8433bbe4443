import Foundation
import Testing
@testable import SocketTrace

/// The evidence behind a missing model function's status, on machine code
/// made for the test: calls, tail jumps, calls beside the path, pointers.
@Suite struct CallEvidenceTests {
    /// Functions at fixed addresses, each with its code.
    final class Code: KernelCodeSource {
        var functions: [(name: String, start: UInt64, bytes: [UInt8])] = []

        func add(_ name: String, at start: UInt64, _ bytes: [UInt8]) {
            functions.append((name, start, bytes + [UInt8](repeating: 0xcc, count: 16)))
            functions.sort { $0.start < $1.start }
        }

        func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)? {
            guard let index = functions.lastIndex(where: { $0.start <= address }) else { return nil }
            let function = functions[index]
            return (function.name, function.start, function.start + UInt64(function.bytes.count))
        }

        /// Code where there is a function, int3 padding between them.
        func bytes(_ address: UInt64, count: Int) -> [UInt8]? {
            (address..<address + UInt64(count)).map { at in
                guard let function = functions.last(where: { $0.start <= at }), at - function.start < UInt64(function.bytes.count) else { return 0xcc }
                return function.bytes[Int(at - function.start)]
            }
        }

        func starts(of name: String) -> [UInt64] { functions.filter { $0.name == name }.map(\.start) }

        func symbolName(at address: UInt64) -> String? { extent(of: address)?.function }

        /// Jump-label sites and fixups of the test's own.
        var patched: [(site: UInt64, target: UInt64)] = []
        func patchedEdges(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)]? {
            patched.filter { $0.site >= start && $0.site < end }
        }
    }

    /// `call target` (e8 rel32) or `jmp target` (e9 rel32) at `address`.
    static func branch(_ opcode: UInt8, from address: UInt64, to target: UInt64) -> [UInt8] {
        let relative = Int32(truncatingIfNeeded: Int64(target) - Int64(address + 5))
        return [opcode] + withUnsafeBytes(of: relative.littleEndian, Array.init)
    }

    /// caller calls helper (which returns), then calls middle, which jumps to
    /// callee; other calls callee through a register.
    static func code() -> Code {
        let code = Code()
        let (caller, helper, middle, callee, other) = (UInt64(0x1000), UInt64(0x2000), UInt64(0x3000), UInt64(0x4000), UInt64(0x5000))
        code.add("caller", at: caller, [0x90] + branch(0xe8, from: caller + 1, to: helper) + branch(0xe8, from: caller + 6, to: middle) + [0xc3])
        code.add("helper", at: helper, [0xc3])
        code.add("middle", at: middle, [0x90, 0x90] + branch(0xe9, from: middle + 2, to: callee))
        code.add("callee", at: callee, [0x90, 0x90, 0xc3])
        code.add("other", at: other, [0xff, 0xd0, 0xc3])
        return code
    }

    static func function(_ name: String, beside: Bool = false, inline: Bool = false) -> ModelFunction {
        ModelFunction(layer: .transport, name: name, sourceFile: nil, kernels: .any, file: "test", line: 1,
                      alwaysInline: inline ? true : nil, beside: beside ? true : nil)
    }

    /// The stack: caller (returned to at +0xb, after `call middle`) over callee.
    static let frames = [KernelFrame("caller", 0x100b), KernelFrame("callee", 0x4001)]

    @Test("a call, the jumps after it and the calls beside it, decoded")
    func links() {
        let evidence = CallEvidence(code: Self.code())
        #expect(evidence.link(from: Self.frames[0], to: Self.frames[1])
                == .tail(call: "caller+0x6: call middle", jumps: ["middle+0x2: jmp callee"], through: ["middle"], starts: [0x3000]))
        #expect(evidence.link(from: KernelFrame("caller", 0x1006), to: KernelFrame("helper", 0x2000)) == .direct(call: "caller+0x1: call helper"))
        #expect(evidence.link(from: KernelFrame("other", 0x5002), to: Self.frames[1]) == .indirect(call: "other+0x0: call *(register or memory)"))
        #expect(evidence.sites(in: Self.frames[0], reaching: "helper") == ["caller+0x1: call helper"])
        // A call into a trampoline kallsyms does not name (a static call's): its jump is followed.
        let code = Self.code()
        code.add("trampolines", at: 0x6000, [UInt8](repeating: 0xcc, count: 16) + Self.branch(0xe9, from: 0x6010, to: 0x3000))
        code.add("static_caller", at: 0x7000, Self.branch(0xe8, from: 0x7000, to: 0x6010) + [0xc3])
        #expect(CallEvidence(code: code).link(from: KernelFrame("static_caller", 0x7005), to: Self.frames[1])
                == .tail(call: "static_caller+0x0: call trampolines+0x10", jumps: ["trampolines+0x10: jmp middle (a trampoline)", "middle+0x2: jmp callee"],
                         through: ["middle"], starts: [0x3000]))
        // The call in flight is not a call beside it.
        #expect(evidence.sites(in: Self.frames[0], reaching: "middle").isEmpty)
        // `cs call` to a retpoline thunk (2e e8 rel32) is six bytes: it starts a byte before the e8 (audit N6).
        let prefixed = [0x90, 0x2e] + Self.branch(0xe8, from: 0x8002, to: 0x2000).map { $0 }
        let cs = MachineCode.call(endingAt: 0x8007, before: Array(([0x90, 0x90] + prefixed).suffix(8)).map { UInt8($0) })
        #expect(cs?.address == 0x8001 && cs?.length == 6 && cs?.target == 0x2000, "\(String(describing: cs))")
    }

    @Test("a tail call from a function that jumps on from two places names both: a tail jump leaves no return address, so which ran is not known (audit 11)")
    func twoTailJumps() {
        let code = Code()
        let (caller, middle, callee) = (UInt64(0x1000), UInt64(0x3000), UInt64(0x4000))
        code.add("caller", at: caller, [0x90] + Self.branch(0xe8, from: caller + 1, to: middle) + [0xc3])
        // middle: +0 jne +5 (to +7); +2 jmp callee; +7 call helper; +0xc jmp callee
        code.add("middle", at: middle, [0x75, 0x05] + Self.branch(0xe9, from: middle + 2, to: callee) + Self.branch(0xe8, from: middle + 7, to: 0x2000)
                 + Self.branch(0xe9, from: middle + 0xc, to: callee))
        code.add("helper", at: 0x2000, [0xc3])
        code.add("callee", at: callee, [0x90, 0x90, 0xc3])
        let evidence = CallEvidence(code: code)
        let link = evidence.link(from: KernelFrame("caller", 0x1006), to: KernelFrame("callee", 0x4001))
        #expect(link == .tail(call: "caller+0x1: call middle", jumps: ["middle+0x2: jmp callee or middle+0xc: jmp callee"], through: ["middle"], starts: [0x3000]),
                "\(link)")
        // A call in it lies before one of the two ways on: that one is named.
        let sites = evidence.sitesOnTheWay(inFunctionAt: middle, toward: callee, reaching: "helper")
        #expect(sites.on == ["middle+0x7: call helper (before the jump on at middle+0xc)"] && sites.off.isEmpty, "\(sites)")
    }

    @Test("statuses: a proven tail call, a call beside the path as modelled or not, inline, unverified")
    func statuses() {
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T caller\n0000000000002000 T helper\n0000000000003000 T middle\n"
            + "0000000000004000 T callee\n0000000000005000 T other\n0000000000006000 T elsewhere\n")
        let aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: Self.code()))
        let modelled = [Self.function("caller"), Self.function("helper", beside: true), Self.function("middle"),
                        Self.function("never_a_symbol", inline: true), Self.function("elsewhere"), Self.function("callee")]
        let alignment = aligner.align(frames: Self.frames, with: modelled, operation: "test")
        let status = Dictionary(uniqueKeysWithValues: alignment.steps.map { ($0.function, $0.status) })
        // caller calls helper on its one way to the call in flight: helper ran (every way passes its call).
        #expect(status == ["caller": .matched, "helper": .ranBeside, "middle": .tailCall, "never_a_symbol": .inlined,
                           "elsewhere": .unverified, "callee": .matched])
        #expect(alignment.steps.first { $0.function == "middle" }?.evidence == "caller+0x6: call middle; middle+0x2: jmp callee")
        #expect(alignment.verdict == .unverified)

        // Nested in the model, but called beside: the model differs.
        let nested = aligner.align(frames: Self.frames, with: [Self.function("caller"), Self.function("helper"), Self.function("callee")],
                                   operation: "test")
        #expect(nested.steps[1].status == .sibling && nested.verdict == .differs)
        // All proven: matches.
        let proven = aligner.align(frames: Self.frames, with: [Self.function("caller"), Self.function("middle"), Self.function("callee")],
                                   operation: "test")
        #expect(proven.verdict == .matches)
        // Inlined and beside (audit 6, M1: skb_copy_datagram_msg): marked so, not shown as around the call in flight.
        let besideInline = aligner.align(frames: Self.frames, with: [Self.function("caller"), Self.function("never_a_symbol", beside: true, inline: true),
                                                                     Self.function("middle"), Self.function("callee")], operation: "test")
        #expect(besideInline.steps[1].status == .inlined && besideInline.steps[1].besidePath == true)
        #expect(proven.steps.allSatisfy { $0.besidePath == nil })
        // Without the kernel's code nothing is proven but what the model declares.
        let blind = ChainAligner(symbols: symbols, codeUnreadable: "no code").align(frames: Self.frames, with: modelled, operation: "test")
        #expect(blind.steps.filter { $0.status == .unverified }.map(\.function) == ["helper", "middle", "elsewhere"])
        #expect(blind.steps.first { $0.function == "never_a_symbol" }?.status == .inlined)
    }

    @Test("a 32-bit call's entry stands in the place of the model's 64-bit one: on the stack (the socketcall multiplexer, seed 001), or proven left by a jump from the 32-bit entry's plumbing; without either, unverified as before")
    func entry32() {
        func syscall(_ name: String) -> ModelFunction {
            ModelFunction(layer: .syscall, name: name, sourceFile: nil, kernels: .any, file: "test", line: 1)
        }
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T __do_fast_syscall_32\n0000000000002000 T ia32_sys_call\n"
            + "0000000000003000 T __ia32_sys_read\n0000000000004000 T ksys_read\n0000000000005000 T __ia32_compat_sys_socketcall\n"
            + "0000000000006000 T __x64_sys_read\n")
        let code = Code()
        // __do_fast_syscall_32: call ia32_sys_call; ia32_sys_call: jmp __ia32_sys_read; __ia32_sys_read: jmp ksys_read.
        code.add("__do_fast_syscall_32", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x2000) + [0xc3])
        code.add("ia32_sys_call", at: 0x2000, Self.branch(0xe9, from: 0x2000, to: 0x3000))
        code.add("__ia32_sys_read", at: 0x3000, Self.branch(0xe9, from: 0x3000, to: 0x4000))
        code.add("ksys_read", at: 0x4000, [0x90, 0x90, 0xc3])
        code.add("__x64_sys_read", at: 0x6000, Self.branch(0xe9, from: 0x6000, to: 0x4000))
        let aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
        let read = [syscall("__x64_sys_read"), Self.function("ksys_read")]
        let jumped = aligner.align(frames: [KernelFrame("ksys_read", 0x4001)], with: read, operation: "read",
                                   caller: KernelFrame("__do_fast_syscall_32", 0x1006))
        #expect(jumped.steps.map(\.function) == ["__ia32_sys_read", "ksys_read"] && jumped.steps[0].status == .tailCall, "\(jumped.steps)")
        #expect(jumped.steps[0].evidence?.hasPrefix("__do_fast_syscall_32+0x1: call ia32_sys_call; ia32_sys_call+0x0: jmp __ia32_sys_read; "
                                                   + "__ia32_sys_read+0x0: jmp ksys_read; a 32-bit call's entry, in the place of the model's __x64_sys_read") == true,
                "\(String(describing: jumped.steps[0].evidence))")
        #expect(jumped.verdict == .matches)
        // A 64-bit call's stack (x64_sys_call's plumbing) is not given a 32-bit entry.
        let wide = aligner.align(frames: [KernelFrame("ksys_read", 0x4001)], with: read, operation: "read", caller: KernelFrame("x64_sys_call", 0x1006))
        #expect(wide.steps[0].function == "__x64_sys_read" && wide.steps[0].status != .tailCall, "\(wide.steps)")
        // On the stack: the socketcall multiplexer, matched in the place of __x64_sys_connect, with what says so.
        let connect = [syscall("__x64_sys_connect"), syscall("__sys_connect"), Self.function("inet_stream_connect")]
        let multiplexed = aligner.align(frames: [KernelFrame("__ia32_compat_sys_socketcall", 0x5010), KernelFrame("__sys_connect", 0x10),
                                                 KernelFrame("inet_stream_connect", 0x20)], with: connect, operation: "connect")
        #expect(multiplexed.steps.map(\.function) == ["__ia32_compat_sys_socketcall", "__sys_connect", "inet_stream_connect"], "\(multiplexed.steps)")
        #expect(multiplexed.steps.allSatisfy { $0.status == .matched } && multiplexed.verdict == .matches && multiplexed.extraFrames.isEmpty)
        #expect(multiplexed.steps[0].evidence?.contains("in the place of the model's __x64_sys_connect") == true)
        // A 32-bit entry that is not the stack's first frame stands for nothing.
        let inside = aligner.align(frames: [KernelFrame("__sys_connect", 0x10), KernelFrame("__ia32_compat_sys_socketcall", 0x5010),
                                            KernelFrame("inet_stream_connect", 0x20)], with: connect, operation: "connect")
        #expect(inside.steps[0].function == "__x64_sys_connect" && inside.steps[0].status == .unverified, "\(inside.steps)")
    }

    @Test("a syscall's own entry left by a jump, where other ways to the next frame go only through other syscalls' entries (writev's do_writev is also pwritev2's): a tail call, the syscall table jumping by the call's number; a way through another function leaves it unverified (audit 92)")
    func entryBypassedOnlyByOtherSyscalls() {
        func aligned(otherWayThrough other: String, otherFirst: Bool = false) -> ChainAlignment.Step {
            let symbols = KernelSymbols(kallsyms: "0000000000001000 T do_syscall_64\n0000000000002000 T x64_sys_call\n0000000000003000 T __x64_sys_writev\n"
                + "0000000000004000 T \(other)\n0000000000005000 T do_writev\n")
            let code = Code()
            code.add("do_syscall_64", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x2000) + [0xc3])
            // x64_sys_call: +0 je +5 (to +7); +2 jmp __x64_sys_writev; +7 jmp the other (or the other first: audit 93 F1).
            let (first, second): (UInt64, UInt64) = otherFirst ? (0x4000, 0x3000) : (0x3000, 0x4000)
            code.add("x64_sys_call", at: 0x2000, [0x74, 0x05] + Self.branch(0xe9, from: 0x2002, to: first) + Self.branch(0xe9, from: 0x2007, to: second))
            code.add("__x64_sys_writev", at: 0x3000, Self.branch(0xe9, from: 0x3000, to: 0x5000))
            code.add(other, at: 0x4000, Self.branch(0xe9, from: 0x4000, to: 0x5000))
            code.add("do_writev", at: 0x5000, [0x90, 0x90, 0xc3])
            let model = [ModelFunction(layer: .syscall, name: "__x64_sys_writev", sourceFile: nil, kernels: .any, file: "test", line: 1),
                         Self.function("do_writev")]
            return ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
                .align(frames: [KernelFrame("do_writev", 0x5001)], with: model, operation: "writev", caller: KernelFrame("do_syscall_64", 0x1006)).steps[0]
        }
        let byNumber = aligned(otherWayThrough: "__x64_sys_pwritev2")
        #expect(byNumber.status == .tailCall, "\(byNumber)")
        #expect(byNumber.evidence == "do_syscall_64+0x1: call x64_sys_call; x64_sys_call+0x2: jmp __x64_sys_writev; __x64_sys_writev+0x0: jmp do_writev; "
                + "the other ways there go through other syscalls' entries: do_syscall_64+0x1: call x64_sys_call; x64_sys_call+0x7: jmp __x64_sys_pwritev2; "
                + "__x64_sys_pwritev2+0x0: jmp do_writev: the syscall table jumps by the call's number, to this call's own, __x64_sys_writev",
                "\(String(describing: byNumber.evidence))")
        // The way found first through the other syscall's entry: this call's own is taken (a 32-bit readv, where
        // ia32_sys_call jumps to preadv2's entry before readv's, was "unverified", its own entry "another syscall's").
        let ownSecond = aligned(otherWayThrough: "__x64_sys_pwritev2", otherFirst: true)
        #expect(ownSecond.status == .tailCall && ownSecond.evidence?.hasPrefix("do_syscall_64+0x1: call x64_sys_call; x64_sys_call+0x7: jmp __x64_sys_writev; "
                                                                                + "__x64_sys_writev+0x0: jmp do_writev; the other ways there go through other syscalls' entries: "
                                                                                + "do_syscall_64+0x1: call x64_sys_call; x64_sys_call+0x2: jmp __x64_sys_pwritev2") == true,
                "\(ownSecond)")
        let helper = aligned(otherWayThrough: "writev_helper")
        #expect(helper.status == .unverified && helper.evidence?.contains("but another way leads there without it") == true, "\(helper)")
    }

    @Test("a syscall's entry missing under its exit work (a close's release in task work at the tracer's syscall-exit stop, 6.1): the handler returned before, said so, unverified (audit 91 F6)")
    func entryUnderExitWork() {
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T do_syscall_64\n0000000000002000 T syscall_exit_to_user_mode\n"
            + "0000000000003000 T ptrace_notify\n0000000000004000 T task_work_run\n0000000000005000 T __x64_sys_close\n")
        let code = Code()
        code.add("do_syscall_64", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x2000) + [0xc3])
        code.add("syscall_exit_to_user_mode", at: 0x2000, [0x90] + Self.branch(0xe8, from: 0x2001, to: 0x3000) + [0xc3])
        code.add("ptrace_notify", at: 0x3000, [0x90] + Self.branch(0xe8, from: 0x3001, to: 0x4000) + [0xc3])
        code.add("task_work_run", at: 0x4000, [0x90, 0x90, 0xc3])
        code.add("__x64_sys_close", at: 0x5000, [0x90, 0xc3])
        let aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
        let model = [ModelFunction(layer: .syscall, name: "__x64_sys_close", sourceFile: nil, kernels: .any, file: "test", line: 1),
                     Self.function("task_work_run")]
        let frames = [KernelFrame("syscall_exit_to_user_mode", 0x2006), KernelFrame("ptrace_notify", 0x3006), KernelFrame("task_work_run", 0x4001)]
        let alignment = aligner.align(frames: frames, with: model, operation: "close", caller: KernelFrame("do_syscall_64", 0x1006))
        let entry = alignment.steps[0]
        #expect(entry.function == "__x64_sys_close" && entry.status == .unverified, "\(alignment.steps)")
        #expect(entry.evidence?.hasPrefix("these frames are the call's exit work (syscall_exit_to_user_mode), run after its handler returned, "
                                          + "here at the syscall-exit stop of the tracer's (ptrace_notify;") == true, "\(String(describing: entry.evidence))")
        #expect(entry.evidence?.contains("do_syscall_64+0x1: call syscall_exit_to_user_mode") == true, "\(String(describing: entry.evidence))")
        // Without the exit work on the stack: the reason as before.
        let plain = aligner.align(frames: [KernelFrame("task_work_run", 0x4001)], with: model, operation: "close", caller: KernelFrame("ptrace_notify", 0x3006))
        #expect(plain.steps[0].evidence?.hasPrefix("not called by these frames' code directly") == true, "\(plain.steps)")
    }

    @Test("a function declared inline beside the path, where the frame around its place calls what it calls there from two places: unverified, naming them; from one: inlined (audit 88 M2: skb_copy_datagram_msg, tcp_recvmsg_locked calling skb_copy_datagram_iter at three places)")
    func besideInlineWithSeveralSites() {
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T caller\n0000000000002000 T helper\n0000000000003000 T middle\n")
        let model = [Self.function("caller"), Self.function("wrapper", beside: true, inline: true), Self.function("helper", beside: true),
                     Self.function("middle")]
        for sites in [1, 2] {
            // caller calls helper once or twice, then middle (the call in flight).
            var bytes: [UInt8] = [0x90]
            for _ in 0..<sites { bytes += Self.branch(0xe8, from: 0x1000 + UInt64(bytes.count), to: 0x2000) }
            let inFlight = 0x1000 + UInt64(bytes.count)
            bytes += Self.branch(0xe8, from: inFlight, to: 0x3000) + [0xc3]
            let code = Code()
            code.add("caller", at: 0x1000, bytes)
            code.add("helper", at: 0x2000, [0x90, 0xc3])
            code.add("middle", at: 0x3000, [0x90, 0xc3])
            let alignment = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
                .align(frames: [KernelFrame("caller", inFlight + 5), KernelFrame("middle", 0x3001)], with: model, operation: "test")
            let wrapper = alignment.steps.first { $0.function == "wrapper" }
            if sites == 1 {
                #expect(wrapper?.status == .inlined && wrapper?.besidePath == true, "\(String(describing: wrapper))")
            } else {
                #expect(wrapper?.status == .unverified && wrapper?.evidence?.contains("call helper from 2 places (caller+0x1: call helper; caller+0x6: call helper)") == true,
                        "\(String(describing: wrapper))")
            }
        }
    }

    @Test("compare counts a function inlined beside the path apart from the inlined ones: where its code lies is proven, that it ran is not (audit 16)")
    func inlinedBesideCounted() {
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T caller\n0000000000002000 T helper\n0000000000003000 T middle\n"
            + "0000000000004000 T callee\n")
        var alignment = ChainAligner(symbols: symbols, evidence: CallEvidence(code: Self.code()))
            .align(frames: Self.frames, with: [Self.function("caller"), Self.function("never_a_symbol", beside: true, inline: true),
                                               Self.function("middle"), Self.function("callee")], operation: "test")
        alignment.context = ChainAlignment.syscallContext
        #expect(alignment.verdict == .unverified, "\(alignment.steps)")
        var event = ProcessEvent(.exited, tid: 1, pid: 1, time: MonotonicTime(nanoseconds: 1))
        event.exitKernel = KernelActivity(operation: "test", source: .observed, expected: [], samples: [], alignments: [alignment])
        let summary = OperationSummary.summarize([], exits: [event])
        let counts = summary.first?.functions.first { $0.function == "never_a_symbol" }
        #expect(counts?.inlinedBeside == 1 && counts?.count(.inlined) == 0, "\(String(describing: counts))")
        #expect(summary.first?.text.contains("never_a_symbol                inlined, beside (not proven to have run) 1") == true,
                "\(summary.first?.text ?? "")")
    }

    /// host: `je slow`; fast: `call fastq; call callee` (in flight), `ret`;
    /// slow: `call slowq`, a nop5 (a jump label's site: the test may patch in
    /// its edge to the call in flight), `call __stack_chk_fail; call afterq`.
    static func branchyCode() -> Code {
        let code = Self.code()
        let host = UInt64(0x8000)
        var bytes: [UInt8] = [0x74, 0x0b]                                                  // +0x0: je +0xd
        bytes += branch(0xe8, from: host + 0x2, to: 0x9000)                                // +0x2: call fastq
        bytes += branch(0xe8, from: host + 0x7, to: 0x4000)                                // +0x7: call callee (in flight)
        bytes += [0xc3]                                                                     // +0xc: ret
        bytes += branch(0xe8, from: host + 0xd, to: 0xa000)                                // +0xd: call slowq
        bytes += [0x0f, 0x1f, 0x44, 0x00, 0x00]                                             // +0x12: nop5 (a jump label's site)
        bytes += branch(0xe8, from: host + 0x17, to: 0xb000)                               // +0x17: call __stack_chk_fail
        bytes += branch(0xe8, from: host + 0x1c, to: 0xa800)                               // +0x1c: call afterq (after a no-return call)
        bytes += [0xc3]
        code.add("host", at: host, bytes)
        code.add("fastq", at: 0x9000, [0xc3])
        code.add("slowq", at: 0xa000, [0xc3])
        code.add("afterq", at: 0xa800, [0xc3])
        code.add("__stack_chk_fail", at: 0xb000, [0xcc])
        return code
    }

    @Test("audit 6: a call on another way through the function than the call in flight is not on this path; one on its way is beside, before or after it")
    func notOnThisPath() {
        let symbols = KernelSymbols(kallsyms: "0000000000004000 T callee\n0000000000008000 T host\n0000000000009000 T fastq\n"
            + "000000000000a000 T slowq\n000000000000a800 T afterq\n000000000000b000 T __stack_chk_fail\n")
        let frames = [KernelFrame("host", 0x800c), KernelFrame("callee", 0x4001)]
        let code = Self.branchyCode()
        let aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
        let model = [Self.function("host"), Self.function("fastq", beside: true), Self.function("slowq", beside: true),
                     Self.function("afterq", beside: true), Self.function("callee")]
        let alignment = aligner.align(frames: frames, with: model, operation: "test")
        let step = Dictionary(uniqueKeysWithValues: alignment.steps.map { ($0.function, $0) })
        // Every way from host's entry to the call in flight passes fastq's call: it ran before it.
        #expect(step["fastq"]?.status == .ranBeside)
        #expect(step["fastq"]?.evidence?.hasPrefix("host+0x2: call fastq (before the call in flight" + CallEvidence.onEveryWay
                                                   + "; in flight: host+0x7: call callee") == true, "\(String(describing: step["fastq"]))")
        #expect(step["slowq"]?.status == .notOnPath, "\(String(describing: step["slowq"]))")
        #expect(step["slowq"]?.evidence?.hasPrefix("host+0xd: call slowq, on no way through the call in flight") == true)
        // The code after a call that does not return is not reached from it.
        #expect(step["afterq"]?.status == .notOnPath)
        #expect(alignment.verdict == .differs)
        #expect(alignment.summary.contains("2 not on this path"))

        // A jump-label site after slowq's call that may jump to the call in flight: then slowq may have run before it.
        code.patched = [(site: 0x8000 + 0x12, target: 0x8000 + 0x7)]
        let patched = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code)).align(frames: frames, with: model, operation: "test")
        #expect(patched.steps.first { $0.function == "slowq" }?.status == .beside)
        // And fastq is no longer on every way: the slow path may reach the call in flight without it. Whether it ran
        // is not proven, and a chain that rests on it does not match (audit 15: a TCP recv with MSG_TRUNC).
        #expect(patched.steps.first { $0.function == "fastq" }?.status == .beside)
        let fastOnly = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
            .align(frames: frames, with: [Self.function("host"), Self.function("fastq", beside: true), Self.function("callee")], operation: "test")
        #expect(fastOnly.steps[1].status == .beside && fastOnly.verdict == .unverified, "\(fastOnly.steps)")
        #expect(fastOnly.summary.contains("1 beside the path as modelled (not proven to have run)"), "\(fastOnly.summary)")
        // Where the patched edges cannot be read, nothing is said to be off the way.
        final class Unpatched: KernelCodeSource {
            let inner: Code
            init(_ inner: Code) { self.inner = inner }
            func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)? { inner.extent(of: address) }
            func symbolName(at address: UInt64) -> String? { inner.symbolName(at: address) }
            func bytes(_ address: UInt64, count: Int) -> [UInt8]? { inner.bytes(address, count: count) }
            func starts(of name: String) -> [UInt64] { inner.starts(of: name) }
            func patchedEdges(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)]? { nil }
        }
        let unknown = ChainAligner(symbols: symbols, evidence: CallEvidence(code: Unpatched(Self.branchyCode())))
            .align(frames: frames, with: model, operation: "test")
        #expect(unknown.steps.filter { $0.status == .notOnPath }.isEmpty)
    }

    @Test("control flow: jumps, conditional jumps, a jump through a register reaches anything, a return ends the way")
    func controlFlow() {
        let at = UInt64(0x1000)
        // +0: jne +0x4 (to +0x6); +2: nop; nop; +4: ret? no: jmp +0x6 ... built from instructions directly.
        let instructions = [Instruction(address: at, length: 2, flow: .conditional(at + 6)),
                            Instruction(address: at + 2, length: 1, flow: .stop),
                            Instruction(address: at + 3, length: 3, flow: .next),
                            Instruction(address: at + 6, length: 2, flow: .jump(at + 3)),
                            Instruction(address: at + 8, length: 2, flow: .jump(nil)),
                            Instruction(address: at + 10, length: 1, flow: .stop)]
        let flow = ControlFlow(instructions: instructions, start: at, end: at + 11, extra: [], isIndirect: { _ in false })
        #expect(flow.mayReach(from: at, to: at + 2))
        #expect(flow.way(from: at, to: at + 3) == [at, at + 6])
        #expect(!flow.mayReach(from: at + 2, to: at + 3), "a return ends the way")
        #expect(flow.mayReach(from: at + 8, to: at), "through a register, anywhere")
        #expect(!flow.mayReach(from: at + 10, to: at))
    }

    @Test("control flow: a BUG's ud2 ends its way, a WARN's goes on; the bug table says which (audit 98 E: sock_sendmsg_nosec's BUG_ON between its two INDIRECT_CALL branches put inet_sendmsg after inet6_sendmsg's return)")
    func bugTrap() {
        let at = UInt64(0x1000)
        // +0: call inet6_sendmsg (in flight); +5: cmp; +8: je +0xc (to the ud2); +a: jmp +0x13 (out); +c: ud2; +e: call inet_sendmsg; +13: ret
        var trap = Instruction(address: at + 0xc, length: 2, flow: .next)
        trap.trap = true
        let code = [Instruction(address: at, length: 5, flow: .next), Instruction(address: at + 5, length: 3, flow: .next),
                    Instruction(address: at + 8, length: 2, flow: .conditional(at + 0xc)), Instruction(address: at + 0xa, length: 2, flow: .jump(at + 0x13)),
                    trap, Instruction(address: at + 0xe, length: 5, flow: .next), Instruction(address: at + 0x13, length: 1, flow: .stop)]
        let bug = ControlFlow(instructions: code, start: at, end: at + 0x14, extra: [], isIndirect: { _ in false }, resumesAfterTrap: { _ in false })
        #expect(!bug.mayReach(from: at + 5, to: at + 0xe), "nothing goes on after a BUG")
        let warning = ControlFlow(instructions: code, start: at, end: at + 0x14, extra: [], isIndirect: { _ in false }, resumesAfterTrap: { _ in true })
        #expect(warning.mayReach(from: at + 5, to: at + 0xe), "a WARN resumes after its ud2")
        // The table: struct bug_entry { s32 bug_addr_disp; s32 file_disp; u16 line; u16 flags; } (12 bytes), addresses relative to the field.
        func entry(_ displacement: Int32, flags: UInt16) -> [UInt8] {
            withUnsafeBytes(of: displacement.littleEndian, Array.init) + [0, 0, 0, 0, 0, 0] + withUnsafeBytes(of: flags.littleEndian, Array.init)
        }
        let start = UInt64(0x9000)
        let table = BugTable.parse(entry(-0x8000 + 0xc, flags: 0) + entry(-0x800c + 0x20, flags: 1 | 2), at: start,
                                   layout: .init(size: 12, address: 0, flags: 10))
        #expect(!table.resumes(at: 0x100c), "a BUG")
        #expect(table.resumes(at: 0x1020), "a WARN (once)")
        #expect(!table.resumes(at: 0x1030), "not listed: the trap handler does not resume")
    }

    @Test("the running kernel's bug table is read: its traps are ud2 instructions, WARNs and BUGs both among them",
          .enabled(if: TestSupport.canObserveKernel, "needs root and kallsyms"))
    func runningBugTable() throws {
        let symbols = try #require(KernelSymbols.load())
        let text = try KernelText()
        let table = try #require(BugTable.read(text: text, bounds: symbols.tableBounds, isCode: { symbols.extent(of: $0) != nil }))
        #expect(table.flags.values.contains { $0 & BugTable.warning != 0 } && table.flags.values.contains { $0 & BugTable.warning == 0 })
        // Every listed trap read back is a ud2 (0f 0b), but where a module's or init code's went (a few in a sample of 50).
        let traps = Array(table.flags.keys.filter { symbols.extent(of: $0) != nil }.prefix(50))
        let ud2 = traps.filter { text.read($0, count: 2) == [0x0f, 0x0b] }
        #expect(ud2.count * 10 >= traps.count * 9, "\(ud2.count) of \(traps.count)")
    }

    @Test("control flow: a call on every way from the entry to a point ran before it; a branch around it, a jump through a register, a patched jump label or code that did not decode leave it unproven")
    func mustPass() {
        let at = UInt64(0x1000)
        // +0: call (the site); +5: jne +0xd; +7: call (in flight A); +c: ret; +d: call (in flight B); +12: ret
        let straight = [Instruction(address: at, length: 5, flow: .next),
                        Instruction(address: at + 5, length: 2, flow: .conditional(at + 0xd)),
                        Instruction(address: at + 7, length: 5, flow: .next),
                        Instruction(address: at + 0xc, length: 1, flow: .stop),
                        Instruction(address: at + 0xd, length: 5, flow: .next),
                        Instruction(address: at + 0x12, length: 1, flow: .stop)]
        let flow = ControlFlow(instructions: straight, start: at, end: at + 0x13, extra: [], isIndirect: { _ in false })
        #expect(flow.mustPass(at, from: at, to: at + 7) && flow.mustPass(at, from: at, to: at + 0xd))
        // The site only on one branch: the other way to B avoids it (a recv with MSG_TRUNC skips the copy, audit 15).
        #expect(!flow.mustPass(at + 7, from: at, to: at + 0xd))
        #expect(flow.mustPass(at + 5, from: at, to: at + 0xd))
        // A jump label before the site (a 5-byte nop the kernel may patch into a jump past it).
        let labelled = [Instruction(address: at, length: 5, flow: .next), Instruction(address: at + 5, length: 5, flow: .next),
                        Instruction(address: at + 0xa, length: 5, flow: .next), Instruction(address: at + 0xf, length: 1, flow: .stop)]
        let unpatched = ControlFlow(instructions: labelled, start: at, end: at + 0x10, extra: [], isIndirect: { _ in false })
        #expect(unpatched.mustPass(at + 5, from: at, to: at + 0xa))
        let patched = ControlFlow(instructions: labelled, start: at, end: at + 0x10, extra: [(at, at + 0xa)], isIndirect: { _ in false })
        #expect(!patched.mustPass(at + 5, from: at, to: at + 0xa), "the label may jump past the site")
        let early = [Instruction(address: at, length: 2, flow: .conditional(nil))] + straight.dropFirst().map { $0 }
        let throughRegister = ControlFlow(instructions: early, start: at, end: at + 0x13, extra: [], isIndirect: { _ in false })
        #expect(!throughRegister.mustPass(at + 5, from: at, to: at + 0xd), "a jump through a register may go anywhere")
        let cut = ControlFlow(instructions: Array(straight.prefix(3)), start: at, end: at + 0x13, extra: [], isIndirect: { _ in false })
        #expect(!cut.mustPass(at, from: at, to: at + 7), "decoded only in part: not proven")
    }

    @Test("audit 5: a tail-called function another way of jumps avoids is not proven; nor is an inline function where its host goes on from two places")
    func otherWays() {
        // caller calls middle; middle jumps to quick or to delayed, each of which jumps to callee
        // (__tcp_ack_snd_check to tcp_send_ack or tcp_send_delayed_ack, each to __tcp_send_ack).
        let code = Code()
        let (caller, middle, quick, delayed, callee) = (UInt64(0x1000), UInt64(0x3000), UInt64(0x3800), UInt64(0x3c00), UInt64(0x4000))
        code.add("caller", at: caller, [0x90] + Self.branch(0xe8, from: caller + 1, to: middle) + [0xc3])
        code.add("middle", at: middle, Self.branch(0xe9, from: middle, to: quick) + Self.branch(0xe9, from: middle + 5, to: delayed))
        code.add("quick", at: quick, Self.branch(0xe9, from: quick, to: callee))
        code.add("delayed", at: delayed, Self.branch(0xe9, from: delayed, to: callee))
        code.add("callee", at: callee, [0x90, 0xc3])
        let evidence = CallEvidence(code: code)
        let frames = [KernelFrame("caller", 0x1006), KernelFrame("callee", 0x4001)]
        guard case let .tail(_, _, through, _, _, _, bypasses) = evidence.link(from: frames[0], to: frames[1]) else {
            Issue.record("no tail route")
            return
        }
        #expect(through == ["middle", "quick"])
        #expect(bypasses["quick"] == "caller+0x1: call middle; middle+0x5: jmp delayed; delayed+0x0: jmp callee", "\(bypasses)")
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T caller\n0000000000003000 T middle\n0000000000003800 T quick\n"
            + "0000000000003c00 T delayed\n0000000000004000 T callee\n")
        let aligner = ChainAligner(symbols: symbols, evidence: evidence)
        let alignment = aligner.align(frames: frames, with: [Self.function("caller"), Self.function("middle"), Self.function("quick"),
                                                             Self.function("callee")], operation: "test")
        let status = Dictionary(uniqueKeysWithValues: alignment.steps.map { ($0.function, $0.status) })
        #expect(status["middle"] == .tailCall, "entered by the call in flight itself")
        #expect(status["quick"] == .unverified && alignment.verdict == .unverified, "\(status)")
        #expect(alignment.steps.first { $0.function == "quick" }?.evidence?.contains("another way leads there without it") == true)

        // host calls target at the call in flight and jumps to it elsewhere (a fast path's direct
        // call, a slow path's inlined wrapper): a function declared inline between them is not proven.
        let two = Code()
        two.add("host", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x4000) + [0xc3] + Self.branch(0xe9, from: 0x1007, to: 0x4000))
        two.add("target", at: 0x4000, [0x90, 0xc3])
        let twoSymbols = KernelSymbols(kallsyms: "0000000000001000 T host\n0000000000004000 T target\n")
        let hosted = ChainAligner(symbols: twoSymbols, evidence: CallEvidence(code: two))
            .align(frames: [KernelFrame("host", 0x1006), KernelFrame("target", 0x4001)],
                   with: [Self.function("host"), Self.function("wrapper", inline: true), Self.function("target")], operation: "test")
        let wrapper = hosted.steps.first { $0.function == "wrapper" }
        #expect(wrapper?.status == .unverified && wrapper?.evidence?.contains("host goes on that way from 2 places") == true, "\(String(describing: wrapper))")
        // The same when host is entered by a tail call: it leaves by its jump, and calls target
        // elsewhere (audit 87 M1: tcp_rcv_established's +0x36e jmp and +0xa33 call of __tcp_ack_snd_check).
        let tailed = Code()
        tailed.add("caller", at: 0x800, [0x90] + Self.branch(0xe8, from: 0x801, to: 0x1000) + [0xc3])
        tailed.add("host", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x4000) + [0xc3] + Self.branch(0xe9, from: 0x1007, to: 0x4000))
        tailed.add("target", at: 0x4000, [0x90, 0xc3])
        let tailedSymbols = KernelSymbols(kallsyms: "0000000000000800 T caller\n0000000000001000 T host\n0000000000004000 T target\n")
        let viaJump = ChainAligner(symbols: tailedSymbols, evidence: CallEvidence(code: tailed))
            .align(frames: [KernelFrame("caller", 0x806), KernelFrame("target", 0x4001)],
                   with: [Self.function("caller"), Self.function("host"), Self.function("wrapper", inline: true), Self.function("target")], operation: "test")
        let jumped = viaJump.steps.first { $0.function == "wrapper" }
        #expect(viaJump.steps.first { $0.function == "host" }?.status == .tailCall, "\(viaJump.steps)")
        #expect(jumped?.status == .unverified && jumped?.evidence?.contains("host goes on that way from 2 places") == true, "\(String(describing: jumped))")
        // One way on: the declaration stands.
        let one = Code()
        one.add("host", at: 0x1000, [0x90] + Self.branch(0xe8, from: 0x1001, to: 0x4000) + [0xc3])
        one.add("target", at: 0x4000, [0x90, 0xc3])
        let single = ChainAligner(symbols: twoSymbols, evidence: CallEvidence(code: one))
            .align(frames: [KernelFrame("host", 0x1006), KernelFrame("target", 0x4001)],
                   with: [Self.function("host"), Self.function("wrapper", inline: true), Self.function("target")], operation: "test")
        #expect(single.steps.first { $0.function == "wrapper" }?.status == .inlined)
    }

    @Test("a function that may also leave through a pointer: the way past it, and what is inlined there, is not proven (lab audit)")
    func pointerAlternatives() {
        // middle jumps to callee, or through %rax (a neighbour's n->output beside the header cache's jump).
        let code = Self.code()
        code.functions.removeAll { $0.name == "middle" }
        code.add("middle", at: 0x3000, [0x90, 0x90] + Self.branch(0xe9, from: 0x3002, to: 0x4000) + [0xff, 0xe0])
        let evidence = CallEvidence(code: code)
        #expect(evidence.link(from: Self.frames[0], to: Self.frames[1])
                == .tail(call: "caller+0x6: call middle", jumps: ["middle+0x2: jmp callee"], through: ["middle"], starts: [0x3000],
                         alternatives: ["middle+0x7: jmp *(register or memory)"], firstAmbiguous: 0))
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T caller\n0000000000002000 T helper\n0000000000003000 T middle\n"
            + "0000000000004000 T callee\n")
        let aligner = ChainAligner(symbols: symbols, evidence: evidence)
        // Below middle in the model: it ran only if middle took its direct jump.
        let below = aligner.align(frames: Self.frames, with: [Self.function("caller"), Self.function("middle"),
                                                               Self.function("inline_below", inline: true), Self.function("callee")], operation: "test")
        let step = below.steps.first { $0.function == "inline_below" }
        #expect(step?.status == .unverified && step?.evidence?.contains("middle+0x7: jmp *(register or memory) (through a pointer)") == true,
                "\(String(describing: step))")
        #expect(below.steps.first { $0.function == "middle" }?.status == .tailCall, "middle itself was entered by the call")
        #expect(below.verdict == .unverified)
        // Above middle in the model: the pointer leaves after it ran.
        let above = aligner.align(frames: Self.frames, with: [Self.function("caller"), Self.function("inline_above", inline: true),
                                                               Self.function("middle"), Self.function("callee")], operation: "test")
        #expect(above.steps.first { $0.function == "inline_above" }?.status == .inlined)
        #expect(above.verdict == .matches)
    }

    @Test("format 1.2's unproven statuses and verdict read as unverified")
    func oldStatusesReadUnverified() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode([ChainAlignment.Status].self, from: Data(#"["skipped","absent","matched"]"#.utf8)) == [.unverified, .unverified, .matched])
        #expect(try decoder.decode(ChainAlignment.Verdict.self, from: Data(#""matches-with-inlining""#.utf8)) == .unverified)
    }
}
