import Foundation
import Testing
@testable import SocketTrace

/// `--vmlinux`'s inline chains: the functions DWARF says are inlined at a
/// frame's address, and the *inlined* status they prove.
@Suite struct InlineDWARFTests {
    /// The line of `Tests/Programs/inline_chain.c` with `marker`.
    static func line(_ marker: String) throws -> Int {
        let text = try String(contentsOfFile: TestSupport.packageRoot.appendingPathComponent("Tests/Programs/inline_chain.c").path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains("/* " + marker + " */") }) + 1
    }

    @Test("libdw gives the inline chain at a return address of a program built with -O2 -g: push inlined into sendmsg_locked inlined into sendmsg_like, each with the line it was inlined at")
    func inlineChain() throws {
        let program = try TestSupport.build("inline_chain.c", optimize: true)
        // The program prints its call's return address as an offset into sendmsg_like, as a kernel frame is.
        let run = try TestSupport.run(program, [])
        let offset = try #require(UInt64(run.stdout.split(separator: " ").first ?? ""), "\(run.stdout)")
        let resolver = try KernelSourceResolver(vmlinux: program)
        let calls = resolver.inlinedCalls(function: "sendmsg_like", offset: offset, returnAddress: true)
        #expect(calls.map(\.function) == ["push", "sendmsg_locked"], "\(calls)")
        #expect(calls.first?.site.hasSuffix("inline_chain.c:\(try Self.line("PUSH_INLINED"))") == true, "\(calls)")
        #expect(calls.last?.site.hasSuffix("inline_chain.c:\(try Self.line("LOCKED_INLINED"))") == true, "\(calls)")
        // The frame's own line is the innermost: the call in push's body.
        #expect(resolver.source(function: "sendmsg_like", offset: offset, returnAddress: true)?.hasSuffix("inline_chain.c:\(try Self.line("LEAF_CALL"))") == true)
        // Nothing is inlined at main's entry, nor in an unknown function.
        #expect(resolver.inlinedCalls(function: "leaf", offset: 0, returnAddress: false).isEmpty)
        #expect(resolver.inlinedCalls(function: "no_such_function", offset: 0, returnAddress: false).isEmpty)
    }

    @Test("two local functions of one name (static, in two files): placed by the frame's address less the slide a unique function showed; by name alone, neither (which one is not known)")
    func duplicatedLocalNames() throws {
        let directory = TestSupport.temporaryFile("dup-names")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let first = "static __attribute__((noinline)) int helper(int x) { return x * 3 + 1; }\nint first(int x) { return helper(x); }\n"
        let second = "static __attribute__((noinline)) int helper(int x)\n{\n    return x * 7 - 2;\n}\nint second(int x) { return helper(x) + 1; }\n"
        let main = "int first(int); int second(int);\nint main(int argc, char **argv) { (void)argv; return first(argc) + second(argc); }\n"
        for (name, text) in [("first.c", first), ("second.c", second), ("main.c", main)] {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        let program = directory + "/dup"
        let built = try TestSupport.run("/usr/bin/gcc", ["-g", "-O1", "-o", program, directory + "/main.c", directory + "/first.c", directory + "/second.c"])
        #expect(built.status == 0, "\(built.stderr)")
        // The two helpers' addresses as linked, and main's.
        let symbols = try TestSupport.run("/usr/bin/nm", [program]).stdout.split(separator: "\n").map { $0.split(separator: " ") }
        let helpers = symbols.filter { $0.count == 3 && $0[2] == "helper" }.compactMap { UInt64($0[0], radix: 16) }.sorted()
        let mainAddress = try #require(symbols.first { $0.count == 3 && $0[2] == "main" }.flatMap { UInt64($0[0], radix: 16) })
        try #require(helpers.count == 2, "\(helpers)")
        let resolver = try KernelSourceResolver(vmlinux: program)
        #expect(resolver.source(function: "helper", offset: 0, returnAddress: false) == nil, "by name alone: which helper is not known")
        // As if loaded 0x7000_0000 higher: main's frame shows the slide, then each helper is its own.
        let slide: UInt64 = 0x7000_0000
        #expect(resolver.source(function: "main", offset: 0, returnAddress: false, runtime: mainAddress + slide)?.contains("main.c") == true)
        let lines = helpers.map { resolver.source(function: "helper", offset: 0, returnAddress: false, runtime: $0 + slide) ?? "-" }
        #expect(Set(lines.map { $0.contains("first.c") ? "first" : $0.contains("second.c") ? "second" : $0 }) == ["first", "second"], "\(lines)")
        // An address whose function is not the frame's says nothing.
        #expect(resolver.source(function: "helper", offset: 0, returnAddress: false, runtime: mainAddress + slide) == nil)
    }

    @Test("source paths lose the build's directory, or the source tree above it for a build outside the tree")
    func relativePaths() {
        let debian = "/build/reproducible-path/linux-6.1.192/debian/build/build_amd64_none_amd64"
        #expect(KernelSourceResolver.relative(debian + "/../../../net/ipv4/tcp.c", to: debian) == "net/ipv4/tcp.c")
        #expect(KernelSourceResolver.relative("/build/reproducible-path/linux-6.1.192/include/net/sock.h", to: debian) == "include/net/sock.h")
        #expect(KernelSourceResolver.relative(debian + "/./include/generated/autoconf.h", to: debian) == "include/generated/autoconf.h")
        #expect(KernelSourceResolver.relative("/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h", to: debian)
                == "/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h")
    }
}

extension InlineDWARFTests {
    static func function(_ name: String, inline: Bool = false) -> ModelFunction {
        ModelFunction(layer: .transport, name: name, sourceFile: nil, kernels: .any, file: "test", line: 1,
                      alwaysInline: inline ? true : nil, beside: nil)
    }

    static func frame(_ name: String, _ address: UInt64, offset: UInt64, inlined: [InlinedCall]?) -> KernelFrame {
        var frame = KernelFrame(name, address)
        frame.offset = offset
        frame.inlined = inlined
        return frame
    }

    @Test("a model function missing from the stack is inlined when DWARF places the call in flight of a frame around its place in a copy of it; a declared-inline one DWARF does not show there is unverified; without DWARF, as before")
    func statuses() {
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T sendmsg\n0000000000002000 T sendmsg_locked\n0000000000003000 T push_frames\n")
        // sendmsg calls sendmsg_locked, which calls push_frames (returning to +0x20 and +0x40).
        let code = CallEvidenceTests.Code()
        code.add("sendmsg", at: 0x1000, [UInt8](repeating: 0x90, count: 0x1b) + CallEvidenceTests.branch(0xe8, from: 0x101b, to: 0x2000) + [0xc3])
        code.add("sendmsg_locked", at: 0x2000, [UInt8](repeating: 0x90, count: 0x3b) + CallEvidenceTests.branch(0xe8, from: 0x203b, to: 0x3000) + [0xc3])
        code.add("push_frames", at: 0x3000, [0x90, 0x90, 0x90, 0x90, 0xc3])
        let aligner = ChainAligner(symbols: symbols, evidence: CallEvidence(code: code))
        let model = [Self.function("sendmsg"), Self.function("sendmsg_locked"), Self.function("push"),
                     Self.function("declared_inline", inline: true), Self.function("push_frames")]
        let dwarf = [Self.frame("sendmsg", 0x1020, offset: 0x20, inlined: []),
                     Self.frame("sendmsg_locked", 0x2040, offset: 0x40, inlined: [InlinedCall(function: "push", site: "net/ipv4/tcp.c:1489")]),
                     Self.frame("push_frames", 0x3004, offset: 0x4, inlined: [])]
        let alignment = aligner.align(frames: dwarf, with: model, operation: "test")
        let step = Dictionary(uniqueKeysWithValues: alignment.steps.map { ($0.function, $0) })
        #expect(step["push"]?.status == .inlined)
        #expect(step["push"]?.evidence == "sendmsg_locked+0x40: DWARF: the call before it lies in push, inlined into sendmsg_locked at net/ipv4/tcp.c:1489",
                "\(step["push"]?.evidence ?? "")")
        #expect(step["declared_inline"]?.status == .unverified)
        #expect(step["declared_inline"]?.evidence?.contains("DWARF shows no inlined copy of it at sendmsg_locked+0x40 (push inlined)") == true,
                "\(step["declared_inline"]?.evidence ?? "")")
        #expect(alignment.summary.contains("1 inlined (DWARF)"), "\(alignment.summary)")
        // The timeline writes the missing function after the frame whose call DWARF placed.
        #expect(TextTimeline.caller(in: step["push"]?.evidence) == "sendmsg_locked")

        // Without DWARF: push unverified (the code calls no copy of it), the declaration stands.
        let blind = aligner.align(frames: dwarf.map { KernelFrame($0.function, $0.address) }, with: model, operation: "test")
        let blindStep = Dictionary(uniqueKeysWithValues: blind.steps.map { ($0.function, $0.status) })
        #expect(blindStep["push"] == .unverified && blindStep["declared_inline"] == .inlined)
        // DWARF without the code: functions entered by tail calls are not known, so DWARF's silence at the frames proves nothing.
        let noCode = ChainAligner(symbols: symbols).align(frames: dwarf, with: model, operation: "test")
        let noCodeStep = Dictionary(uniqueKeysWithValues: noCode.steps.map { ($0.function, $0.status) })
        #expect(noCodeStep["push"] == .inlined && noCodeStep["declared_inline"] == .inlined)
    }
}

extension InlineDWARFTests {
    @Test("the timeline's --vmlinux listing shows each frame's inlined functions after it, outermost first, each with its line; a trace file keeps them")
    func listing() throws {
        var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1), cpu: 0,
                                  chain: ["__dev_queue_xmit", "ip_finish_output2", "entry_SYSCALL_64_after_hwframe"], fields: [:])
        sample.sources = ["net/core/dev.c:4353", "include/linux/netdevice.h:3060", ""]
        sample.inlined = [[], [InlinedCall(function: "dev_queue_xmit", site: "include/net/neighbour.h:533"),
                               InlinedCall(function: "neigh_hh_output", site: "include/net/neighbour.h:547"),
                               InlinedCall(function: "neigh_output", site: "net/ipv4/ip_output.c:228")], []]
        #expect(TextTimeline.sourceLines(sample) == ["ip_finish_output2 (net/ipv4/ip_output.c:228)", "neigh_output (inlined; include/net/neighbour.h:547)",
                                                     "neigh_hh_output (inlined; include/net/neighbour.h:533)",
                                                     "dev_queue_xmit (inlined; include/linux/netdevice.h:3060)", "__dev_queue_xmit (net/core/dev.c:4353)"])
        #expect(sample.frames[1].inlined?.map(\.function) == ["dev_queue_xmit", "neigh_hh_output", "neigh_output"])
        #expect(sample.frames[0].inlined == [] && sample.frames[1].offset == nil)
        let back = try JSONDecoder().decode(KernelSample.self, from: JSONEncoder().encode(sample))
        #expect(back.inlined == sample.inlined)
    }
}

/// Debian's vmlinux with DWARF (the -dbg package of the lab's kernel,
/// `scripts/lab.sh --debug-info`; ~860 MB to download, 633 MB kept): found
/// in the lab's cache, or fetched when SOCKETTRACE_LAB_DEBUGINFO=1 asks.
enum LabDebugInfo {
    static let cache: URL = {
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("sockettrace/lab/debug")
    }()

    static var asked: Bool { ProcessInfo.processInfo.environment["SOCKETTRACE_LAB_DEBUGINFO"] == "1" }

    /// The vmlinux already in the cache, if any.
    static var present: String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
        return names.filter { $0.hasPrefix("vmlinux-6.1.") }.sorted().last.map { cache.appendingPathComponent($0).path }
    }

    static var available: Bool { present != nil || asked }

    /// The vmlinux, fetched first if it is not in the cache.
    static func vmlinux() throws -> String {
        if let present { return present }
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let result = try TestSupport.run(lab, ["--debug-info"], timeout: 1800)
        guard result.status == 0, let path = result.stdout.split(separator: "\n").last.map(String.init) else {
            throw TestSupport.BuildFailed(source: "scripts/lab.sh --debug-info", log: result.stderr)
        }
        return path
    }
}

@Suite(.enabled(if: LabDebugInfo.available,
                "needs Debian's -dbg vmlinux of the lab's kernel (~860 MB): in the lab's cache (scripts/lab.sh --debug-info), or SOCKETTRACE_LAB_DEBUGINFO=1 to fetch it"))
struct DebianVmlinuxTests {
    /// binutils' `addr2line -a -i -f` at each address, in one run: for each,
    /// the functions innermost first (the inlined ones, then the one
    /// containing them), each with its line (for an inlined one, its own
    /// body's; the next one's line is where it was inlined).
    static func addr2line(_ vmlinux: String, _ addresses: [UInt64]) throws -> [UInt64: [(function: String, line: String)]] {
        let result = try TestSupport.run("/usr/bin/addr2line", ["-a", "-i", "-f", "-e", vmlinux] + addresses.map { "0x" + String($0, radix: 16) })
        var found: [UInt64: [(function: String, line: String)]] = [:]
        var current: UInt64?
        var pending: String?
        for line in result.stdout.split(separator: "\n").map(String.init) {
            if line.hasPrefix("0x"), pending == nil, let address = UInt64(line.dropFirst(2), radix: 16) {
                current = address
                found[address] = []
            } else if let name = pending {
                if let current { found[current, default: []].append((name, line)) }
                pending = nil
            } else {
                pending = line
            }
        }
        return found
    }

    /// `net/ipv4/tcp.c:1489` and `…/net/ipv4/tcp.c:1489 (discriminator 2)` name the same line.
    static func sameLine(_ ours: String, _ theirs: String) -> Bool {
        let theirs = theirs.split(separator: " ").first.map(String.init) ?? theirs
        return !ours.isEmpty && theirs.hasSuffix(ours)
    }

    @Test("on Debian's 6.1 vmlinux: the inline chains at the calls of the network stack's send path agree with binutils' addr2line -i, names and lines")
    func agreesWithAddr2line() throws {
        let vmlinux = try LabDebugInfo.vmlinux()
        let clock = ContinuousClock()
        var resolver: KernelSourceResolver?
        let opened = try clock.measure { resolver = try KernelSourceResolver(vmlinux: vmlinux) }
        let dwarf = try #require(resolver)
        var checked = 0
        var inlinedSeen = 0
        var chains: [String] = []
        for function in ["tcp_sendmsg_locked", "tcp_write_xmit", "__tcp_transmit_skb", "__ip_queue_xmit", "ip_finish_output2", "__dev_queue_xmit"] {
            let start = try #require(dwarf.functions[function], "\(function) not in \(vmlinux)")
            // The return address after each call instruction: objdump's disassembly.
            let dump = try TestSupport.run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", "--start-address=0x" + String(start, radix: 16),
                                                               "--stop-address=0x" + String(start + 0x1800, radix: 16), vmlinux])
            let lines = dump.stdout.split(separator: "\n").map(String.init)
            var returns: [UInt64] = []
            for (index, line) in lines.enumerated() where line.contains("\tcall ") && index + 1 < lines.count {
                if let next = lines[index + 1].split(separator: ":").first.flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces), radix: 16) }) {
                    returns.append(next)
                }
            }
            let sites = returns.prefix(12).filter { $0 > start }
            let oracle = try Self.addr2line(vmlinux, sites.map { $0 - 1 })
            for address in sites {
                let ours = dwarf.inlinedCalls(function: function, offset: address - start, returnAddress: true)
                // Their last function is the one the address is in: ours, if inside it (objdump's range may run past it).
                guard let theirs = oracle[address - 1], let outer = theirs.last, KernelSymbols.baseName(outer.function) == function else { continue }
                #expect(ours.map(\.function) == theirs.dropLast().map(\.function), "\(function)+0x\(String(address - start, radix: 16)): \(ours) vs \(theirs)")
                for (index, call) in ours.enumerated() where index + 1 < theirs.count {
                    #expect(Self.sameLine(call.site, theirs[index + 1].line), "\(function)+0x\(String(address - start, radix: 16)): \(call) vs \(theirs)")
                }
                if let line = dwarf.source(function: function, offset: address - start, returnAddress: true), let first = theirs.first {
                    #expect(Self.sameLine(line, first.line), "\(line) vs \(first.line)")
                }
                checked += 1
                if !ours.isEmpty {
                    inlinedSeen += 1
                    if chains.count < 3 { chains.append("\(function)+0x\(String(address - start, radix: 16)): " + ours.map { "\($0.function) at \($0.site)" }.joined(separator: " ← ")) }
                }
            }
        }
        #expect(checked >= 30 && inlinedSeen >= 5, "\(checked) call sites, \(inlinedSeen) with inlined functions")
        print("Debian vmlinux: opened in \(opened), \(checked) call sites checked against addr2line, \(inlinedSeen) inside inlined functions; e.g.\n  "
              + chains.joined(separator: "\n  "))
    }

    /// The vmlinux's own code, as a kernel's code source: its symbols
    /// (nm, the same names and link addresses as kallsyms less KASLR's
    /// slide) and the bytes of its executable sections. Unpatched by the
    /// kernel's alternatives at boot, which do not touch the direct calls
    /// and jumps the evidence rests on.
    final class VmlinuxCode: KernelCodeSource {
        let symbols: KernelSymbols
        let file: FileHandle
        var sections: [(address: UInt64, offset: UInt64, size: UInt64)] = []

        init(_ vmlinux: String) throws {
            symbols = KernelSymbols(kallsyms: try TestSupport.run("/usr/bin/nm", [vmlinux], timeout: 120).stdout)
            file = try FileHandle(forReadingFrom: URL(fileURLWithPath: vmlinux))
            // readelf -SW: "[ 1] .text PROGBITS ffffffff81000000 200000 e01d32 00 AX 0 0 4096".
            for line in try TestSupport.run("/usr/bin/readelf", ["-SW", vmlinux]).stdout.split(separator: "\n") where line.contains(" AX ") {
                let fields = line.split(separator: "]").last?.split(separator: " ") ?? []
                guard fields.count > 4, let address = UInt64(fields[2], radix: 16), let offset = UInt64(fields[3], radix: 16),
                      let size = UInt64(fields[4], radix: 16) else { continue }
                sections.append((address, offset, size))
            }
        }

        func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)? { symbols.extent(of: address) }
        func symbolName(at address: UInt64) -> String? { symbols.fullName(at: address) }
        func starts(of name: String) -> [UInt64] { symbols.starts(of: name) }
        func bytes(_ address: UInt64, count: Int) -> [UInt8]? {
            guard let section = sections.first(where: { address >= $0.address && address + UInt64(count) <= $0.address + $0.size }) else { return nil }
            try? file.seek(toOffset: section.offset + address - section.address)
            return (try? file.read(upToCount: count)).map(Array.init)
        }
    }

    /// A sample the lab took on this kernel: the seeds' server's sendto
    /// (net:net_dev_queue), with the client's ACK run in a softirq on its
    /// stack; innermost first, each frame's function and offset.
    static let sendWithAck: [(String, UInt64)] = [
        ("__dev_queue_xmit", 0x521), ("ip_finish_output2", 0x297), ("ip_output", 0x76), ("__ip_queue_xmit", 0x18b), ("__tcp_transmit_skb", 0xac1),
        ("tcp_v4_do_rcv", 0x151), ("tcp_v4_rcv", 0xdb6), ("ip_protocol_deliver_rcu", 0x32), ("ip_local_deliver_finish", 0x72),
        ("__netif_receive_skb_one_core", 0x89), ("process_backlog", 0x81), ("__napi_poll", 0x2b), ("net_rx_action", 0x2a0),
        ("handle_softirqs", 0xd7), ("do_softirq", 0x5f), ("__local_bh_enable_ip", 0x64), ("__dev_queue_xmit", 0x385),
        ("ip_finish_output2", 0x297), ("ip_output", 0x76), ("__ip_queue_xmit", 0x18b), ("__tcp_transmit_skb", 0xac1), ("tcp_write_xmit", 0x521),
        ("__tcp_push_pending_frames", 0x32), ("tcp_sendmsg_locked", 0x340), ("tcp_sendmsg", 0x27), ("__sock_sendmsg", 0x58),
        ("__sys_sendto", 0x122), ("__x64_sys_sendto", 0x20), ("do_syscall_64", 0x5d), ("entry_SYSCALL_64_after_hwframe", 0x6e),
    ]

    /// The lab's vmlinux (its code, its DWARF), the model, and a sample of
    /// `frames` (innermost first, function and offset) at `tracepoint`,
    /// its inline chains read as the sampler reads them (every frame a
    /// return address).
    static func offline(_ frames: [(String, UInt64)], at tracepoint: String) throws
        -> (vmlinux: String, code: VmlinuxCode, dwarf: KernelSourceResolver, model: StackModel, sample: KernelSample) {
        let vmlinux = try LabDebugInfo.vmlinux()
        let code = try VmlinuxCode(vmlinux)
        let dwarf = try KernelSourceResolver(vmlinux: vmlinux)
        let model = try ModelParser.load(directory: TestSupport.packageRoot.appendingPathComponent("Probes").path)
        var sample = KernelSample(tracepoint: tracepoint, role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1), cpu: 0,
                                  chain: frames.map(\.0), fields: [:])
        sample.offsets = frames.map(\.1)
        sample.addresses = try frames.map { name, offset in try #require(code.starts(of: name).first, "\(name)") + offset }
        sample.inlined = sample.addresses.map { address in
            dwarf.inlinedCalls(function: code.symbolName(at: address)!, offset: address - code.extent(of: address)!.start, returnAddress: true)
        }
        return (vmlinux, code, dwarf, model, sample)
    }

    @Test("on Debian's 6.1 vmlinux, its code and its DWARF: a lab sample of the seeds' sendto aligned offline; inlined proven at frames and at tail-called jumps, the ACK path from __tcp_send_ack straight to __tcp_transmit_skb, as DWARF showed")
    func alignedOffline() throws {
        var (_, code, dwarf, model, sample) = try Self.offline(Self.sendWithAck, at: "net:net_dev_queue")
        let send = try #require(model.operation(named: "tcp_send"))
        let correlator = KernelCorrelator(model: model, symbols: code.symbols, kernel: KernelVersion(6, 1, 192), code: .success(code))
        correlator.useDWARF(dwarf)
        let alignments = correlator.align(sample.frames, operation: send, entry: Syscall.sendto.rawValue)
        let syscall = try #require(alignments.first { $0.operation == "tcp_send" })
        let softirq = try #require(alignments.first { $0.operation == "tcp_receive_softirq" }, "\(alignments.map(\.operation))")
        func step(_ alignment: ChainAlignment, _ name: String) -> ChainAlignment.Step? { alignment.steps.first { $0.function == name } }
        #expect(step(syscall, "sock_sendmsg_nosec")?.evidence
                == "__sock_sendmsg+0x58: DWARF: the call before it lies in sock_sendmsg_nosec, inlined into __sock_sendmsg at net/socket.c:730")
        #expect(step(syscall, "tcp_transmit_skb")?.evidence
                == "tcp_write_xmit+0x521: DWARF: the call before it lies in tcp_transmit_skb, inlined into tcp_write_xmit at net/ipv4/tcp_output.c:2722")
        // ip_local_out, tail-called from __ip_queue_xmit, left by a jump that lies in dst_output.
        #expect(step(syscall, "ip_local_out")?.status == .tailCall)
        #expect(step(syscall, "dst_output")?.status == .inlined
                && step(syscall, "dst_output")?.evidence?.hasPrefix("ip_local_out+0x") == true
                && step(syscall, "dst_output")?.evidence?.contains(": DWARF: the jump here lies in dst_output, inlined into ip_local_out at net/ipv4/ip_output.c:126") == true,
                "\(step(syscall, "dst_output").map { "\($0)" } ?? "")")
        #expect(syscall.verdict == .matches, "\(syscall.steps)")
        // The receive: ip_rcv_finish inlined into ip_rcv at its jump on; the ACK's tcp_transmit_skb is not there.
        #expect(step(softirq, "ip_rcv_finish")?.status == .inlined
                && step(softirq, "ip_rcv_finish")?.evidence?.hasPrefix("ip_rcv+0x195: DWARF: the jump here lies in ip_rcv_finish") == true,
                "\(step(softirq, "ip_rcv_finish").map { "\($0)" } ?? "")")
        #expect(step(softirq, "tcp_ack_snd_check")?.status == .inlined)
        // The ACK goes from __tcp_send_ack to __tcp_transmit_skb itself (DWARF
        // showed no inlined tcp_transmit_skb there): the model no longer has it.
        #expect(step(softirq, "tcp_transmit_skb") == nil)
        #expect(step(softirq, "__tcp_transmit_skb")?.status == .matched)

        // Without DWARF: declared inline is inlined only where tcp_rcv_established, left by
        // its jump, goes on to __tcp_ack_snd_check from that one place (audit 87 M1: on
        // 6.18 it also calls it on its fast path, and which site is the inlined copy's is
        // not known); ip_rcv_finish unverified.
        sample.inlined = nil
        let blind = KernelCorrelator(model: model, symbols: code.symbols, kernel: KernelVersion(6, 1, 192), code: .success(code))
            .align(sample.frames, operation: send, entry: Syscall.sendto.rawValue)
        let blindSoftirq = try #require(blind.first { $0.operation == "tcp_receive_softirq" })
        let blindAck = step(blindSoftirq, "tcp_ack_snd_check")
        #expect(blindAck?.status == .inlined
                || (blindAck?.status == .unverified && blindAck?.evidence?.contains("but tcp_rcv_established goes on that way from ") == true),
                "\(blindAck.map { "\($0)" } ?? "")")
        #expect(step(blindSoftirq, "ip_rcv_finish")?.status == .unverified)
    }

    /// A lab sample of the seeds' client's read (tcp:tcp_rcv_space_adjust),
    /// innermost first, function and offset.
    static let read: [(String, UInt64)] = [
        ("tcp_rcv_space_adjust", 362), ("tcp_recvmsg_locked", 716), ("tcp_recvmsg", 131), ("inet_recvmsg", 82), ("sock_read_iter", 146),
        ("vfs_read", 734), ("ksys_read", 183), ("__x64_sys_read", 0x1d),
    ]

    @Test("on Debian's 6.1 vmlinux: skb_copy_datagram_msg, inline beside a read's path, where tcp_recvmsg_locked calls skb_copy_datagram_iter from three places: inlined at each by DWARF, so inlined (beside); without DWARF, which is not known (audit 91 F4)")
    func besideInlinedAtEverySite() throws {
        var (vmlinux, code, dwarf, model, sample) = try Self.offline(Self.read, at: "tcp:tcp_rcv_space_adjust")
        let recv = try #require(model.operation(named: "tcp_recv"))
        let correlator = KernelCorrelator(model: model, symbols: code.symbols, kernel: KernelVersion(6, 1, 192), code: .success(code))
        correlator.useDWARF(dwarf)
        let alignment = try #require(correlator.align(sample.frames, operation: recv, entry: Syscall.read.rawValue).first { $0.operation == "tcp_recv" })
        let copy = try #require(alignment.steps.first { $0.function == "skb_copy_datagram_msg" }, "\(alignment.steps)")
        #expect(copy.status == .inlined && copy.besidePath == true && !copy.isProven, "\(copy)")
        let sites = copy.evidence?.components(separatedBy: "; ").filter { $0.contains(": DWARF: the call here lies in skb_copy_datagram_msg") } ?? []
        #expect(sites.count == 3 && copy.evidence?.hasSuffix("call skb_copy_datagram_iter from these 3 places, each in an inlined copy of it") == true,
                "\(String(describing: copy.evidence))")
        // Each site again, by binutils: addr2line -i at the call.
        let symbols = try TestSupport.run("/usr/bin/nm", [vmlinux], timeout: 120).stdout.split(separator: "\n")
            .first { $0.hasSuffix(" tcp_recvmsg_locked") }.flatMap { UInt64($0.prefix { $0 != " " }, radix: 16) }
        let start = try #require(symbols)
        for site in sites {
            let offset = try #require(site.firstMatch(of: #/tcp_recvmsg_locked\+0x([0-9a-f]+): /#).flatMap { UInt64($0.output.1, radix: 16) }, "\(site)")
            let oracle = try TestSupport.run("/usr/bin/addr2line", ["-i", "-f", "-e", vmlinux, "0x" + String(start + offset, radix: 16)]).stdout
            #expect(oracle.split(separator: "\n").contains("skb_copy_datagram_msg"), "\(site): \(oracle)")
        }
        // Without DWARF: which of the three lies in an inlined copy is not known.
        sample.inlined = nil
        let blind = try #require(KernelCorrelator(model: model, symbols: code.symbols, kernel: KernelVersion(6, 1, 192), code: .success(code))
            .align(sample.frames, operation: recv, entry: Syscall.read.rawValue).first { $0.operation == "tcp_recv" })
        let blindCopy = blind.steps.first { $0.function == "skb_copy_datagram_msg" }
        #expect(blindCopy?.status == .unverified && blindCopy?.evidence?.contains("is not known without DWARF (--vmlinux)") == true,
                "\(blindCopy.map { "\($0)" } ?? "")")
    }
}
