import Foundation
import Testing
@testable import SocketTrace

/// Kernel observation on this machine: the chains sockettrace records for
/// the examples, their verdicts, `model check`, and perf as an oracle.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.canObserveKernel, "needs root, kallsyms and tracefs"))
struct KernelTests {
    /// Traces a shell script with kernel observation on into a trace file and reads it back.
    func traceCalls(_ script: String, options: [String] = []) throws -> (calls: [SyscallInvocation], events: [KernelSample]) {
        let file = TestSupport.temporaryFile("kernel") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", file] + options + ["/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let reader = try TraceFileReader(path: file)
        #expect(reader.header?.kernelObservation == "observed")
        // Each distinct chain is written once; samples refer to it by id.
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("\"type\":\"chain\"") && text.contains("\"chain_id\":"))
        var calls: [SyscallInvocation] = []
        var events: [KernelSample] = []
        for record in reader.records {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .kernelEvent(sample) = record { events.append(sample) }
        }
        return (calls, events)
    }

    /// `traceCalls` of a Python script, written to a file of its own first.
    func tracePythonCalls(_ script: String, name: String, options: [String] = []) throws -> (calls: [SyscallInvocation], events: [KernelSample]) {
        let file = TestSupport.temporaryFile(name) + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        return try traceCalls("/usr/bin/python3 \(file)", options: options)
    }

    /// What a program of Tests/Programs did, run by python3 in a network namespace of its own
    /// (unshare -n) under trace: its calls and the kernel's events, the port it was given (its
    /// first argument) and what it wrote to the file it was given (its second), then `arguments`.
    struct NamespaceRun {
        let calls: [SyscallInvocation]
        let events: [KernelSample]
        let port: Int
        let written: String
        /// Every chain aligned: the events' first and the calls' own.
        var alignments: [ChainAlignment] { events.compactMap { $0.alignments?.first } + calls.compactMap(\.kernel).flatMap(\.alignments) }
        /// What it wrote, as a number (nil when it is not one).
        var figure: Int? { Int(written.split(separator: " ").first.map(String.init) ?? "") }
    }

    func traceInNamespace(_ program: String, _ arguments: [String] = []) throws -> NamespaceRun {
        let path = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/\(program)").path
        let port = TestSupport.freshPort()
        let out = TestSupport.temporaryFile(String(program.prefix { $0 != "." }))
        let (calls, events) = try traceCalls((["/usr/bin/unshare -n /usr/bin/python3", path, String(port), out] + arguments).joined(separator: " "))
        let written = try String(contentsOfFile: out, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return NamespaceRun(calls: calls, events: events, port: port, written: written)
    }

    /// True when `sequence` appears in `chain` in this order (not necessarily adjacent).
    func inOrder(_ sequence: [String], in chain: [String]) -> Bool {
        var position = chain.startIndex
        for name in sequence {
            guard let found = chain[position...].firstIndex(of: name) else { return false }
            position = found + 1
        }
        return true
    }

    @Test("TCP server and client: every socket operation's chain as this kernel shows it")
    func tcpChains() throws {
        let (calls, _) = try traceCalls(try TestSupport.serverAndClientScript(port: TestSupport.freshPort()))

        let send = try #require(calls.first { $0.syscall == .sendto && $0.result?.failed == false })
        #expect(send.kernel?.operation == "tcp_send")
        #expect(send.kernel?.source == .observed)
        let sendChain = try #require(send.kernel?.alignments.first { $0.operation == "tcp_send" && $0.observed.last == "__dev_queue_xmit" })
        #expect(inOrder(["__sys_sendto", "tcp_sendmsg", "tcp_sendmsg_locked", "__tcp_push_pending_frames", "tcp_write_xmit",
                         "__tcp_transmit_skb", "__ip_queue_xmit", "ip_output", "ip_finish_output2", "__dev_queue_xmit"], in: sendChain.observed),
                "\(sendChain.observed)")
        let steps = Dictionary(uniqueKeysWithValues: sendChain.steps.map { ($0.function, $0) })
        // The guide's facts, read from this kernel's code: inet_sendmsg jumps to tcp_sendmsg, ip_local_out
        // to ip_output after __ip_local_out has returned; sock_sendmsg_nosec is static inline.
        for tailCalled in ["inet_sendmsg", "tcp_push", "ip_local_out", "ip_finish_output"] {
            #expect(steps[tailCalled]?.status == .tailCall, "\(tailCalled): \(String(describing: steps[tailCalled]))")
        }
        #expect(steps["inet_sendmsg"]?.evidence?.contains("inet_sendmsg+0x") == true && steps["inet_sendmsg"]?.evidence?.contains("jmp tcp_sendmsg") == true)
        // __ip_local_out returned before ip_local_out jumps on: its call lies on every way from ip_local_out's
        // entry to either jump (read from the code's flow), so it ran.
        #expect(steps["__ip_local_out"]?.status == .ranBeside && steps["__ip_local_out"]?.evidence?.contains(CallEvidence.onEveryWay) == true,
                "\(String(describing: steps["__ip_local_out"]))")
        #expect(steps["sock_sendmsg_nosec"]?.status == .inlined)
        // __sock_sendmsg is static (inlined into __sys_sendto, no symbol).
        #expect(steps["__sock_sendmsg"]?.status == .inlined)
        // dst_output is declared inline, but ip_local_out can also leave through a pointer (dst->output)
        // besides its jump to ip_output: which way ran, so whether dst_output's code did, the code cannot show.
        // tcp_transmit_skb (static, no symbol) is inlined into tcp_write_xmit, but tcp_write_xmit calls
        // __tcp_transmit_skb from two places here (its own and tcp_mtu_probe's, inlined): which one is
        // tcp_transmit_skb's copy only DWARF can say (audit 5: a host that goes on from two places).
        let unproven = sendChain.steps.filter { !$0.status.isProven }
        #expect(unproven.map(\.function) == ["tcp_transmit_skb", "dst_output"], "\(unproven)")
        #expect(unproven.last?.evidence?.contains("ip_local_out+0x") == true && unproven.last?.evidence?.contains("through a pointer") == true,
                "\(unproven)")
        #expect(unproven.first?.evidence?.contains("but tcp_write_xmit goes on that way from ") == true, "\(unproven)")
        // Every jump and call the evidence names is one, read independently (bpftrace) at that address.
        if TestSupport.hasBpftrace {
            let claims = calls.compactMap(\.kernel).flatMap(\.alignments).flatMap(\.steps)
                .filter { $0.status == .tailCall || $0.status == .beside || $0.status == .ranBeside }.compactMap(\.evidence)
            #expect(!claims.isEmpty)
            try KernelCodeOracle.check(claims)
        }

        // A sample counts once: under the softirq's operation when it was taken there.
        let chainSamples = calls.compactMap(\.kernel).flatMap(\.samples).filter { $0.role == .chain && !$0.chain.isEmpty }.count
        let counted = calls.compactMap(\.kernel).flatMap(\.alignments).filter(\.countsTheSample).count
        #expect(counted > 0 && counted <= chainSamples, "\(counted) alignments counted for \(chainSamples) samples")

        let connect = try #require(calls.first { $0.syscall == .connect && $0.result?.failed == false })
        #expect(connect.kernel?.operation == "tcp_connect")
        #expect(connect.kernel?.alignments.contains { inOrder(["__sys_connect", "inet_stream_connect", "tcp_v4_connect", "tcp_connect", "__tcp_transmit_skb", "__dev_queue_xmit"], in: $0.observed) } == true)
        // On loopback the SYN is answered in a softirq on the client's own stack.
        #expect(connect.kernel?.alignments.contains { $0.operation == "tcp_synack" && inOrder(["tcp_v4_rcv", "tcp_rcv_state_process", "tcp_conn_request", "tcp_v4_send_synack"], in: $0.observed) } == true)
        let states = connect.kernel?.samples.filter { $0.tracepoint == "sock:inet_sock_set_state" }.map(\.summary) ?? []
        #expect(states.contains { $0.hasPrefix("TCP_SYN_SENT → TCP_ESTABLISHED") }, "\(states)")

        let listen = try #require(calls.first { $0.syscall == .listen })
        #expect(listen.kernel?.samples.contains { $0.summary.hasPrefix("TCP_CLOSE → TCP_LISTEN") } == true)

        let read = try #require(calls.first { $0.syscall == .read && ($0.result?.value ?? 0) > 0 })
        #expect(read.kernel?.operation == "tcp_recv")
        #expect(read.kernel?.alignments.contains { inOrder(["ksys_read", "sock_read_iter", "sock_recvmsg", "tcp_recvmsg", "tcp_recvmsg_locked", "tcp_rcv_space_adjust"], in: $0.observed) } == true)

        // socket, bind and accept by the allocations on their paths, listen by its state change (default set, audit 35 R1).
        let bind = try #require(calls.first { $0.syscall == .bind })
        #expect(bind.kernel?.source == .observed)
        #expect(bind.kernel?.alignments.contains { $0.operation == "bind" && inOrder(["__sys_bind", "__inet_bind", "inet_csk_get_port", "inet_bind_bucket_create"], in: $0.observed) } == true,
                "\(bind.kernel?.alignments.map(\.observed) ?? [])")
        let socket = try #require(calls.first { $0.syscall == .socket && $0.socket?.protocolLabel == "TCP" })
        #expect(socket.kernel?.alignments.contains { $0.operation == "socket_create" && inOrder(["__sys_socket", "inet_create", "sk_alloc", "sk_prot_alloc"], in: $0.observed) } == true)
        #expect(listen.kernel?.alignments.contains { $0.operation == "listen" && inOrder(["__sys_listen", "inet_listen", "inet_sk_state_store"], in: $0.observed) } == true,
                "\(listen.kernel?.alignments.map(\.observed) ?? [])")
        let accept = try #require(calls.first { $0.syscall == .accept || $0.syscall == .accept4 })
        #expect(accept.kernel?.source == .observed && accept.kernel?.alignments.contains { $0.operation == "tcp_accept" && $0.observed.contains("inet_csk_accept") } == true,
                "\(accept.kernel?.alignments.map(\.observed) ?? [])")
    }

    @Test("a 32-bit client: the socketcall multiplexer and __ia32_sys_* stand in the place of the model's __x64_sys_* entries, each on the call's own stack or proven a tail call by the kernel's code (read again by bpftrace)",
          .enabled(if: TestSupport.canBuild32))
    func entries32() throws {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", bits32: true, directory: "examples")
        let port = TestSupport.freshPort()
        let (calls, _) = try traceCalls("\(server) 127.0.0.1 \(port) 1 >/dev/null & \(client) 127.0.0.1 \(port) >/dev/null; wait")
        let client32 = calls.filter { $0.architecture == .i386 }
        let connect = try #require(client32.first { $0.syscall == .connect && $0.result?.failed == false })
        #expect(connect.viaSocketcall && connect.kernel?.operation == "tcp_connect")
        var entries: [String: Int] = [:]
        for call in client32 {
            for alignment in call.kernel?.alignments ?? [] where alignment.context == nil || alignment.context == "syscall" {
                // Never the 64-bit entry, unverified before the outermost frame, as before.
                #expect(!alignment.steps.contains { $0.function.hasPrefix("__x64_sys_") }, "\(call.syscall): \(alignment.steps)")
                guard let entry = alignment.steps.first, entry.layer == .syscall else { continue }
                entries[entry.function, default: 0] += 1
                #expect(entry.evidence?.contains("a 32-bit call's entry, in the place of the model's __x64_sys_") == true, "\(entry)")
                if entry.status == .matched {
                    // On the stack: the first frame the chain shows.
                    #expect(alignment.observed.first == entry.function, "\(alignment.observed)")
                } else {
                    #expect(entry.status == .tailCall && entry.evidence?.contains("jmp \(entry.function)") == true, "\(entry)")
                }
            }
        }
        #expect(entries["__ia32_compat_sys_socketcall", default: 0] > 0 && entries["__ia32_sys_read", default: 0] > 0
                && entries["__ia32_sys_write", default: 0] > 0, "\(entries)")
        #expect(connect.kernel?.alignments.contains { $0.operation == "tcp_connect" && $0.verdict == .matches } == true)
        // Its close's file free is kept (audit 93 F2), and it is the file its descriptor held, which the
        // kernel's program read from bx at the 32-bit entry (audit 94 minor 1: none was read): released here,
        // as a 64-bit close's, with nothing more to say.
        let close = try #require(client32.first { $0.syscall == .close && $0.socket?.protocolLabel == "TCP" })
        let file = try #require(close.closedFile, "no file read at the 32-bit close's entry")
        #expect(close.kernel?.samples.contains { FileRelease.frees(file, $0) } == true, "\(close.kernel?.samples.map(\.tracepoint) ?? [])")
        #expect(close.kernel?.fileRelease == nil, "\(close.kernel?.fileRelease ?? "-")")
        // Every call the tracer stopped at is timed by the kernel (its i386 number, or socketcall's), inside its stops.
        for call in client32 where call.exitTime != nil {
            let entry = try #require(call.kernelEntryTime, "\(call.syscall) not timed by the kernel")
            #expect(call.entryTime <= entry && entry <= (call.kernelExitTime ?? entry) && (call.kernelExitTime ?? entry) <= call.exitTime!, "\(call.syscall)")
        }
        if TestSupport.hasBpftrace {
            let claims = client32.compactMap(\.kernel).flatMap(\.alignments).flatMap(\.steps)
                .filter { $0.status == .tailCall && $0.function.hasPrefix("__ia32_") }.compactMap(\.evidence)
                .map { String($0[..<($0.range(of: "; a 32-bit call's entry")?.lowerBound ?? $0.endIndex)]) }
            #expect(!claims.isEmpty)
            try KernelCodeOracle.check(claims)
        }
    }

    @Test("a forked 32-bit server's closes of the connection in the parent and the child: the file their descriptors held (read by the kernel's program from bx), freed in one, not released in the other; the model's chain, not observed, said to begin at a 64-bit call's entry (audit 94 minor 1)",
          .enabled(if: TestSupport.canBuild32))
    func forkedServer32() throws {
        let server = try TestSupport.build("server.c", bits32: true, directory: "examples")
        let client = try TestSupport.build("client.c", bits32: true, directory: "examples")
        let port = TestSupport.freshPort()
        let trace = TestSupport.temporaryFile("server32") + ".jsonl", timeline = TestSupport.temporaryFile("server32") + ".txt"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "-f", "--save", trace, "-o", timeline, "/bin/sh", "-c",
                                                                   "\(server) 127.0.0.1 \(port) 1 >/dev/null & sleep 0.3; \(client) 127.0.0.1 \(port) >/dev/null; wait"])
        #expect(result.status == 0, "\(result.stderr)")
        var closes: [SyscallInvocation] = []
        for record in try TraceFileReader(path: trace).records {
            if case let .syscall(call) = record, call.architecture == .i386, call.syscall == .close, call.socket?.peer != nil { closes.append(call) }
        }
        // The parent's close just after the fork, and the child's of the same socket: both name the file
        // its descriptor held; whichever ran second dropped the last reference (the child may finish
        // first on a busy machine), and the other says it was not released there.
        let parent = try #require(closes.first { $0.socket?.local?.description == "127.0.0.1:\(port)" })
        let child = try #require(closes.first { $0.pid != parent.pid && $0.socket?.local?.description == "127.0.0.1:\(port)" })
        let file = try #require(parent.closedFile, "no file read at the 32-bit close's entry")
        #expect(child.closedFile == file)
        let freeing = [parent, child].filter { $0.kernel?.samples.contains { FileRelease.frees(file, $0) } == true }
        try #require(freeing.count == 1, "\([parent, child].map { $0.kernel?.fileRelease ?? "-" })")
        let holding = freeing[0].pid == parent.pid ? child : parent
        #expect(holding.kernel?.fileRelease?.hasPrefix("not released here: the file (0x\(String(file, radix: 16))) had another reference") == true,
                "\(holding.kernel?.fileRelease ?? "-")")
        let text = try String(contentsOfFile: timeline, encoding: .utf8)
        #expect(text.contains("unverified for this call: __x64_sys_close (__x64_sys_close is a 64-bit call's entry: this 32-bit call enters through a 32-bit one)"),
                "\(text.prefix(8000))")
    }

    @Test("softirq work on a call's stack: whose packet each receive was, proven by its skb; the ACK sent back is the peer's")
    func packetFlows() throws {
        let (calls, events) = try traceCalls(try TestSupport.serverAndClientScript(port: TestSupport.freshPort()))
        let receives = calls.flatMap { call in
            (call.kernel?.samples ?? []).filter { $0.tracepoint == "net:netif_receive_skb" && $0.flow != nil }.map { (call, $0) }
        }
        let proven = receives.filter { $0.1.flow?.owner == .ownSocket || $0.1.flow?.owner == .peer }
        #expect(proven.count >= 4, "\(receives.map { "\($0.0.name): \($0.1.flow!.description)" })")
        #expect(receives.contains { $0.1.flow?.owner == .peer }, "the ACK a receive sent back, received on the same stack")
        for (call, sample) in proven {
            // The evidence names the call's own connection, one way or the
            // other, or (a connect's SYN, before its addresses are known) its
            // own socket's inode.
            let evidence = try #require(sample.flow?.evidence)
            if let local = call.socket?.local, let peer = call.socket?.peer {
                #expect(evidence.contains("\(local) → \(peer)") || evidence.contains("\(peer) → \(local)"), "\(call.name): \(evidence)")
            } else {
                let inode = try #require(call.socket?.inode)
                // Its own packet, or the reply sent in that packet's receive.
                #expect(evidence.contains("socket:[\(inode)]"), "\(call.name): \(evidence)")
            }
        }
        // Other connections' packets (another program's loopback traffic) are events, never a call's.
        for event in events where event.flow?.owner == .otherFlow {
            #expect(event.flow?.evidence.contains("not ") == true)
        }
    }

    @Test("kernel text read through BPF: a function's bytes (a call or jump among them), nothing where the kernel will not read")
    func kernelText() throws {
        let text = try KernelText()
        let symbols = try #require(KernelSymbols.load())
        let start = try #require(symbols.starts(of: "inet_sendmsg").first)
        let bytes = try #require(text.read(start, count: 96))
        #expect(bytes.count == 96)
        #expect(MachineCode.branches(in: bytes, at: start).contains { $0.kind == .jump || $0.kind == .call })
        #expect(text.read(0x1000, count: 16) == nil)
    }

    @Test("a frame in a BPF program is named as the live kallsyms names it, for the programs loaded at the sample's time: its own code reader (left out of the kept copy), one loaded after the symbols were read, none for a program kallsyms listed but gone or one loaded after the sample (audit 50 F1, audit 51 N1)",
          .enabled(if: TestSupport.canObserveKernel, "needs root to load BPF and read kallsyms"))
    func bpfProgramFramesNamed() throws {
        // The symbols as the kept copy holds them, read before the programs below are loaded.
        let symbols = KernelSymbols(kallsyms: KallsymsCache.withoutOwnPrograms(try #require(ProcFile.bytes("/proc/kallsyms"))))
        let before = MonotonicTime.now()
        let text = try KernelText()
        // The witness: the kernel's own lines for the readers loaded now (this one, and any other sockettrace's).
        let live = String(decoding: try #require(ProcFile.bytes("/proc/kallsyms")), as: UTF8.self)
        let readers = live.split(separator: "\n").filter { $0.hasSuffix("_\(KernelText.name)\t[bpf]") }
        try #require(!readers.isEmpty, "the reader's symbol is in the live kallsyms")
        var named = 0
        for line in readers {
            let fields = line.split(separator: " ")
            let address = try #require(UInt64(fields[0], radix: 16))
            let name = String(fields[2].split(separator: "\t")[0])
            let found = symbols.location(of: address + 0x10)
            let extent = symbols.extent(of: address + 0x10)
            // Another sockettrace's reader (a test beside this one) may be gone by now, its place another program's.
            guard String(decoding: try #require(ProcFile.bytes("/proc/kallsyms")), as: UTF8.self).contains(line) else { continue }
            #expect(found?.function == name && found?.offset == 0x10, "\(line): \(String(describing: found))")
            #expect(extent?.start == address)
            // Sampled before it was loaded, the frame was not in it (another program then, or none).
            if symbols.location(of: address + 0x10, at: before)?.function != name { named += 1 }
        }
        #expect(named >= 1, "the reader loaded by this test named for a time before its load")
        withExtendedLifetime(text) {}
        // Unloaded, its image is no frame's any more, remembered or not (audit 52 A1): a frame there
        // now is the program the live kallsyms lists at that address, or none's.
        var second: KernelText? = try KernelText()
        let lines = { String(decoding: ProcFile.bytes("/proc/kallsyms") ?? [], as: UTF8.self).split(separator: "\n").filter { $0.hasSuffix("\t[bpf]") } }
        let mine = lines().filter { $0.hasSuffix("_\(KernelText.name)\t[bpf]") }.map { String($0) }.filter { !readers.map(String.init).contains($0) }
        let line = try #require(mine.first, "the second reader's symbol")
        let address = try #require(UInt64(line.split(separator: " ")[0], radix: 16))
        #expect(symbols.location(of: address + 0x10)?.function == String(line.split(separator: " ")[2].split(separator: "\t")[0]))
        second = nil
        withExtendedLifetime(second) {}
        let now = symbols.location(of: address + 0x10, at: MonotonicTime.now())
        let there = lines().first { UInt64($0.split(separator: " ")[0], radix: 16) == address }.map { String($0.split(separator: " ")[2].split(separator: "\t")[0]) }
        #expect(now?.function == there, "unloaded: \(String(describing: now)); kallsyms there: \(there ?? "none")")
        // A kallsyms line for a program no longer loaded names nothing; nor does an address a
        // gigabyte past the last symbol of a kernel's text.
        let made = KernelSymbols(kallsyms: "ffffffff81000000 T _stext\nffffffff81000100 T tcp_sendmsg\nffffffff83000000 T _einittext\n"
                                 + "ffffffffc0f00000 t bpf_prog_0123456789abcdef_gone\t[bpf]\n")
        #expect(made.location(of: 0xffff_ffff_8100_0180)?.function == "tcp_sendmsg")
        // (Unless a program loaded now is there: the kernel places them in that area.)
        let far: UInt64 = 0xffff_ffff_c002_346d
        if !BPFProgramImages.loaded().contains(where: { $0.contains(far) }) {
            #expect(made.location(of: far) == nil && made.extent(of: far) == nil)
        }
        #expect(made.location(of: 0xffff_ffff_c0f0_0010) == nil, "\(String(describing: made.location(of: 0xffff_ffff_c0f0_0010)))")
    }

    @Test("probe set full: socket, bind, listen, accept and the receive copy have observed chains, each reaching its operation's own functions")
    func fullProbeSet() throws {
        let (calls, _) = try traceCalls(try TestSupport.serverAndClientScript(port: TestSupport.freshPort()), options: ["--probe-set", "full"])
        let reaching: [(Syscall, String, String)] = [(.socket, "socket_create", "sk_prot_alloc"), (.bind, "bind", "__inet_bind"),
                                                     (.listen, "listen", "inet_csk_listen_start"), (.accept, "tcp_accept", "inet_csk_accept"),
                                                     (.read, "tcp_recv", "skb_copy_datagram_iter")]
        for (syscall, operation, deepest) in reaching {
            let call = try #require(calls.first { $0.syscall == syscall && $0.result?.failed == false && $0.kernel?.source == .observed },
                                    "no observed \(syscall)")
            #expect(call.kernel?.operation == operation)
            #expect(call.kernel?.alignments.contains { $0.operation == operation && $0.observed.contains(deepest)
                && $0.steps.contains { $0.function == deepest && $0.status == .matched } } == true,
                    "\(syscall): \(call.kernel?.alignments.map(\.observed) ?? [])")
        }
        // sock:sk_data_ready in a TCP program's receive softirqs: data queued to a connection, or the
        // handshake's last ACK waking accept; never a UDP receive (lab audit: chosen when only it named sock_def_readable).
        let ready = calls.compactMap(\.kernel).flatMap(\.alignments).filter { $0.sample?.hasPrefix("sock:sk_data_ready") == true && $0.context?.hasPrefix("softirq") == true }
        #expect(!ready.isEmpty)
        #expect(ready.allSatisfy { ["tcp_data_ready_softirq", "tcp_accept_ready_softirq"].contains($0.operation) }, "\(ready.map(\.operation))")
        #expect(ready.contains { $0.operation == "tcp_data_ready_softirq" && inOrder(["tcp_rcv_established", "tcp_data_queue", "sock_def_readable"], in: $0.observed) })
        Self.expectEveryChainModelled(calls)
    }

    @Test("probe set full: a capture socket (AF_PACKET) woken at sock:sk_data_ready as a segment passes is no TCP operation's: its softirq part unmodelled, for that reason (audit 50 F2: tcp_data_ready_softirq)",
          .enabled(if: TestSupport.canObserveKernel, "needs kernel sampling"))
    func captureSocketWakeUpsNotTCP() throws {
        let port = TestSupport.freshPort()
        let trace = TestSupport.temporaryFile("capture") + ".jsonl", timeline = TestSupport.temporaryFile("capture") + ".txt"
        let script = TestSupport.temporaryFile("capture") + ".py"
        // A packet socket on lo takes a copy of every segment (dev_queue_xmit_nit on the way out,
        // the receive's taps on the way in), woken each time; the program never reads it.
        try """
            import socket
            p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); p.bind(('lo', 0))
            L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            for i in range(20):
                c.send(b'x' * 100); a.recv(100); a.send(b'y' * 100); c.recv(100)
            c.close(); a.close(); L.close(); p.close()
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--probe-set", "full", "--save", trace, "-o", timeline,
                                                                   "/usr/bin/python3", script])
        #expect(result.status == 0, "\(result.stderr)")
        var woken: [(sample: KernelSample, alignments: [ChainAlignment])] = []
        for record in try TraceFileReader(path: trace).records {
            if case let .syscall(call) = record {
                for sample in call.kernel?.samples ?? [] where sample.tracepoint == "sock:sk_data_ready" && sample.fields["family"]?.number == 17 {
                    woken.append((sample, call.kernel?.alignments.filter { $0.sample == sample.heading } ?? []))
                }
            }
            if case let .kernelEvent(sample) = record, sample.tracepoint == "sock:sk_data_ready", sample.fields["family"]?.number == 17 {
                woken.append((sample, sample.alignments ?? []))
            }
        }
        // The kernel's own witness: the tracepoint's family field, and the packet socket's receive on the stack.
        let inSoftirqs = woken.filter { $0.sample.sides.softirq && $0.sample.chain.contains { $0 == "packet_rcv" || $0 == "tpacket_rcv" } }
        try #require(!inSoftirqs.isEmpty, "no capture socket woken in a receive softirq: \(woken.map(\.sample.chain))")
        for (sample, alignments) in inSoftirqs {
            let softirq = alignments.filter { !$0.isSyscallPart }
            #expect(softirq.isEmpty, "\(sample.chain): \(softirq.map(\.operation))")
        }
        let text = try String(contentsOfFile: timeline, encoding: .utf8)
        #expect(text.contains("unmodelled (the socket sock:sk_data_ready names is an AF_PACKET socket (its family field), and the model's softirq operations are IP sockets')"),
                "\(text.prefix(6000))")
    }

    /// Every chain of a full-set trace (allocations, route lookups and state
    /// changes beside the paths included) on its operation's own path: no
    /// frame the model does not name, no function called beside the path,
    /// and no softirq work without an operation (unmodelled).
    /// `rarePathsTolerated`: under load a busy program's calls take paths
    /// seen once in many runs (a send sleeping for memory lets its backlog
    /// in); a frame the model does not name there is said so (extra-frames,
    /// an honest verdict) and recorded as a known intermittent issue, not a
    /// failure, so that a new rare path is reported without failing CI. A
    /// `differs` or `out-of-order` verdict always fails.
    static func expectEveryChainModelled(_ calls: [SyscallInvocation], rarePathsTolerated: Bool = false) {
        let alignments = calls.compactMap(\.kernel).flatMap(\.alignments)
        let extra = alignments.filter { $0.verdict == .extraFrames }
        let wrong = alignments.filter { [.differs, .outOfOrder].contains($0.verdict) || (!rarePathsTolerated && $0.verdict == .extraFrames) }
        #expect(wrong.isEmpty, "\(wrong.map { "\($0.operation) \($0.verdict): \($0.observed)" })")
        if rarePathsTolerated {
            withKnownIssue("a rare path under load the model does not have yet", isIntermittent: true) {
                #expect(extra.isEmpty, "\(extra.map { "\($0.operation) \($0.verdict): \($0.observed)" })")
            }
        }
        for call in calls {
            for sample in call.kernel?.samples ?? [] where sample.role == .chain && !ChainAligner.parts(sample.frames).softirq.isEmpty {
                let aligned = call.kernel?.alignments.contains { $0.sample == sample.heading && $0.context?.hasPrefix("softirq") == true } ?? false
                #expect(aligned, "unmodelled softirq work under \(call.syscall): \(sample.chain)")
            }
        }
    }

    @Test("compare: samples per operation and tracepoint with their time from the call's entry, unmodelled chains, the kernel's handshake")
    func compareForAKernelEngineer() throws {
        let file = TestSupport.temporaryFile("compare") + ".jsonl"
        let traced = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", file, "/bin/sh", "-c",
                                                                   try TestSupport.serverAndClientScript(port: TestSupport.freshPort())])
        #expect(traced.status == 0, "\(traced.stderr)")
        let result = try TestSupport.run(TestSupport.sockettrace, ["compare", file])
        #expect(result.status == 0, "\(result.stderr)")
        let text = result.stdout
        #expect(text.contains("samples per operation and tracepoint (softirq work under its own operation; µs from the entry of the call it ran in, min / median / max:"))
        // A row's times are from one clock: the tracer's entry stop, or the kernel's entry of a read or write it recorded (audit 34 M1).
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("  ") && $0.contains(" samples, ") || $0.contains(" sample, ") }
        #expect(rows.allSatisfy { !$0.contains(" / ") || $0.contains(" from entry stop") || $0.contains(" from kernel entry") }, "\(rows)")
        // Softirq work counts under its own operation, not the call's.
        #expect(text.split(separator: "\n").contains { $0.contains("tcp_receive_softirq") && $0.contains("net:net_dev_queue") }, "\(text)")
        #expect(text.split(separator: "\n").contains { $0.contains("tcp_send") && $0.contains("net:net_dev_queue") && $0.contains("sample") })
        #expect(text.contains("unmodelled chains (no operation of the model was chosen for them):"))
        // A state change is an event: its stack is not aligned, so it is no unmodelled chain.
        #expect(!text.split(separator: "\n").contains { $0.contains("(unmodelled softirq)") && $0.contains("sock:inet_sock_set_state") }, "\(text)")
        #expect(text.contains("handshake as the kernel saw it (SYN_SENT → ESTABLISHED): TCP 127.0.0.1:"), "\(text)")
        #expect(text.contains("softirq samples on calls' stacks, by whose packet: "), "\(text)")
        #expect(!text.contains("by whose packet: 0 sent by the call's socket"), "\(text)")
        // A state change carries no packet: counted by whose socket changed, not among the packets (audit 15, P1).
        #expect(text.contains("state changes in softirqs on calls' stacks, by whose socket changed: "), "\(text)")
        let json = try TestSupport.run(TestSupport.sockettrace, ["compare", "--json", file])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let kernel = object["kernel"] as? [String: Any]
        #expect(kernel?["timings"] != nil)
        let packets = (kernel?["packets"] as? [String: Int] ?? [:]).values.reduce(0, +)
        let changes = (kernel?["socket_changes"] as? [String: Int] ?? [:]).values.reduce(0, +)
        var withSkb = 0, withoutSkb = 0
        for case let .syscall(call) in try TraceFileReader(path: file).records {
            for sample in call.kernel?.samples ?? [] where sample.flow != nil {
                if sample.fields["skbaddr"] != nil { withSkb += 1 } else { withoutSkb += 1 }
            }
        }
        #expect(changes == withoutSkb && changes > 0, "\(changes) state changes counted, \(withoutSkb) in the file")
        #expect(packets - ((kernel?["packets"] as? [String: Int])?["other-flow"] ?? 0) == withSkb, "\(packets) packets counted, \(withSkb) in the file")
    }

    /// `sockettrace --kernel on --format jsonl -o FILE COMMAND` in a network
    /// namespace of its own, where nftables drops the incoming packets that
    /// `match` (the rule touches no other test's traffic).
    func traceDropping(_ match: String, file: String, command: String) throws -> TestSupport.Output {
        let script = """
            ip link set lo up && nft add table inet drops && \
            nft add chain inet drops in '{ type filter hook input priority 0; }' && \
            nft add rule inet drops in \(match) drop && \
            exec \(TestSupport.sockettrace) --kernel on --format jsonl -o \(file) \(command)
            """
        return try TestSupport.run("/usr/bin/unshare", ["-n", "/bin/sh", "-c", script], timeout: 120)
    }

    @Test("retransmissions by the write timer on any CPU (nftables dropping every other data segment): events of the traced flow, chains aligned",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("nft"), "needs nftables"))
    func retransmissionsElsewhere() throws {
        let port = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("retransmit") + ".jsonl"
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/retransmit.py").path
        let result = try traceDropping("tcp dport \(port) tcp flags '&' psh == psh numgen inc mod 2 eq 0", file: file,
                                       command: "/usr/bin/python3 \(program) \(port)")
        #expect(result.status == 0, "\(result.stderr)")
        var elsewhere: [KernelSample] = []
        var inCalls = 0, betweenCalls = 0
        for record in try TraceFileReader(path: file).records {
            if case let .kernelEvent(sample) = record, sample.tracepoint == "tcp:tcp_retransmit_skb" {
                // Another task's (a timer on an idle CPU, ksoftirqd), or a traced thread's outside its calls.
                if sample.task != nil { elsewhere.append(sample) } else { betweenCalls += 1 }
            }
            if case let .syscall(call) = record { inCalls += call.kernel?.samples.filter { $0.tracepoint == "tcp:tcp_retransmit_skb" }.count ?? 0 }
        }
        // Every other ping of six is dropped and sent again, mostly by a timer elsewhere (a run of three
        // pings saw the kernel retransmit once; six leave room for it).
        #expect(elsewhere.count + inCalls + betweenCalls >= 2, "\(elsewhere.count) elsewhere, \(inCalls) in calls, \(betweenCalls) between calls")
        #expect(!elsewhere.isEmpty)
        for sample in elsewhere {
            let evidence = sample.flow?.evidence ?? ""
            #expect(evidence.contains("127.0.0.1:\(port)") && evidence.contains("is a traced socket's"), "\(evidence)")
            let alignment = try #require(sample.alignments?.first, "\(sample.chain)")
            #expect(["tcp_loss_probe", "tcp_retransmit_timer"].contains(alignment.operation), "\(alignment.operation)")
            #expect(alignment.context == "softirq TIMER")
            #expect(inOrder(["call_timer_fn", "tcp_write_timer", "__tcp_retransmit_skb"], in: alignment.observed), "\(alignment.observed)")
            #expect(alignment.verdict == .matches, "\(alignment.steps.filter { !$0.status.isProven })")
        }
    }

    /// A program of Tests/Programs run by python3 with a fresh port, traced
    /// with the timeline on the terminal and a trace file: its calls and
    /// the kernel events between them.
    func tracePythonProgram(_ name: String) throws -> (calls: [SyscallInvocation], events: [KernelSample]) {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/\(name)").path
        let file = TestSupport.temporaryFile(name) + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["run", "--save", file, "--", "/usr/bin/python3", program,
                                                                   "\(TestSupport.freshPort())"])
        #expect(result.status == 0, "\(result.stderr)")
        var calls: [SyscallInvocation] = [], events: [KernelSample] = []
        for record in try TraceFileReader(path: file).records {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .kernelEvent(sample) = record { events.append(sample) }
        }
        return (calls, events)
    }

    @Test("a sendto let run to its exit, then a write the kernel records: the sendto keeps its samples and comes first (audit 33 F1)")
    func sendThenRecordedWrite() throws {
        // The timeline on the terminal as well (what the tracer writes as it goes makes the kernel's
        // record of the write come before the sendto's exit record is read: with a trace file alone
        // it seldom does).
        let (calls, events) = try tracePythonProgram("send_then_write.py")
        let sends = calls.filter { $0.syscall == .sendto && $0.socket?.protocolLabel == "TCP" }
        let writes = calls.filter { $0.syscall == .write && $0.socket?.protocolLabel == "TCP" }
        #expect(sends.count == 10 && writes.count == 10, "\(sends.count) sendto, \(writes.count) write")
        for send in sends {
            // Its own sock_send_length (and its segment's transmit) are its samples, not strays.
            #expect(send.kernel?.samples.contains { $0.tracepoint == "sock:sock_send_length" } == true, "\(send.kernel?.operation ?? "-")")
            #expect(send.kernel?.operation == "tcp_send")
        }
        #expect(writes.allSatisfy { $0.recordedBy == "kernel" }, "the writes ran without a stop")
        // In the trace's order, each sendto before the write after it.
        let order = calls.filter { ($0.syscall == .sendto || $0.syscall == .write) && $0.socket?.protocolLabel == "TCP" }.map(\.syscall)
        #expect(order == Array(repeating: [Syscall.sendto, .write], count: 10).flatMap { $0 }, "\(order)")
        #expect(!events.contains { $0.chain.contains("__x64_sys_sendto") }, "no sendto sample outside its call")
    }

    @Test("writes the kernel records, held behind another thread's blocked read, each followed by a send that stops: each write keeps its samples and comes before its send (audit 45 F1)")
    func heldWritesKeepTheirSamples() throws {
        let (calls, events) = try tracePythonProgram("held_writes.py")
        let writes = calls.filter { $0.syscall == .write && $0.socket?.protocolLabel == "UDP" }
        #expect(writes.count == 10 && writes.allSatisfy { $0.recordedBy == "kernel" }, "\(writes.map { $0.recordedBy ?? "stopped" })")
        for write in writes {
            #expect(write.kernel?.operation == "udp_send", "\(write.kernel?.operation ?? "-")")
            #expect(write.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true,
                    "\(write.kernel?.samples.map(\.tracepoint) ?? [])")
        }
        // No sample of a thread lies in one of its calls and outside it.
        for event in events {
            let inside = calls.first { $0.tid == event.tid && $0.entryTime <= event.time && event.time <= ($0.exitTime ?? $0.entryTime) }
            #expect(inside == nil, "\(event.tracepoint) at \(event.time) inside \(inside?.name ?? "")")
        }
        // The main thread's calls in its order, each write before its send.
        let mainThread = try #require(writes.first?.tid)
        let own = calls.filter { $0.tid == mainThread && $0.socket?.protocolLabel == "UDP" && [.write, .sendto].contains($0.syscall) }
        #expect(own.map(\.entryTime) == own.map(\.entryTime).sorted(), "the thread's calls out of its order")
        #expect(Array(own.prefix(20).map(\.syscall)) == Array(repeating: [Syscall.write, .sendto], count: 10).flatMap { $0 })
        // The blocked read of the socket was recorded too, and the pipe's calls not shown.
        #expect(calls.contains { $0.syscall == .read && $0.recordedBy == "kernel" && $0.socket?.protocolLabel == "UDP" })
        #expect(!calls.contains { ($0.syscall == .read || $0.syscall == .write) && $0.socket == nil })
    }

    @Test("zero-window probes the write timer sends while the program sleeps: each one the kernel counted (TCPWinProbe, in a network namespace of its own) a sample on tcp_probe0_timer's path, tcp_xmit_probe_skb a proven tail call, for the traced flow",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("unshare")))
    func zeroWindowProbes() throws {
        let run = try traceInNamespace("zero_window.py")
        let (calls, events, port) = (run.calls, run.events, run.port)
        let counted = try #require(run.figure)
        #expect(counted > 0, "the kernel sent no window probe (TCPWinProbe)")
        // Where the timer fired: outside the traced tasks (an idle CPU, ksoftirqd, the tracer), or on a traced task's stack.
        let alignments = events.compactMap { $0.alignments?.first } + calls.compactMap(\.kernel).flatMap(\.alignments)
        let probes = alignments.filter { $0.operation == "tcp_probe0_timer" }
        // tcp_xmit_probe_skb jumps to __tcp_transmit_skb: a probe's frames go tcp_send_probe0 → __tcp_transmit_skb,
        // the two between proven tail calls; a data segment the window let go would leave tcp_write_wakeup a frame.
        let windowProbes = probes.filter { alignment in
            inOrder(["tcp_write_timer", "tcp_send_probe0", "__tcp_transmit_skb", "__dev_queue_xmit"], in: alignment.observed)
                && alignment.steps.contains { $0.function == "tcp_xmit_probe_skb" && $0.status == .tailCall }
        }
        #expect(windowProbes.count == counted, "\(counted) probes counted by the kernel, \(windowProbes.count) sampled: \(probes.map(\.observed))")
        #expect(windowProbes.allSatisfy { $0.context == "softirq TIMER" })
        for sample in events where sample.alignments?.first?.operation == "tcp_probe0_timer" {
            let evidence = sample.flow?.evidence ?? ""
            #expect(evidence.contains("→ 127.0.0.1:\(port)") && evidence.contains("is a traced socket's"), "\(evidence)")
        }
    }

    @Test("keepalive probes the keepalive timer sends while the program sleeps: each one the kernel counted (TCPKeepAlive, in a network namespace of its own) a sample on tcp_keepalive_timer's path (tcp6_keepalive_timer over IPv6), tcp_write_wakeup and tcp_xmit_probe_skb proven tail calls, never a zero-window probe (audit 100 F2)",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("unshare")), arguments: [false, true])
    func keepaliveProbes(ipv6: Bool) throws {
        let run = try traceInNamespace("keepalive.py", ipv6 ? ["6"] : [])
        let counted = run.figure ?? 0
        #expect(counted > 0, "the kernel sent no keepalive probe (TCPKeepAlive)")
        let alignments = run.alignments
        let timer = alignments.filter { $0.observed.contains("tcp_keepalive_timer") }
        let operation = ipv6 ? "tcp6_keepalive_timer" : "tcp_keepalive_timer"
        #expect(timer.allSatisfy { $0.operation == operation && $0.context == "softirq TIMER" }, "\(timer.map { "\($0.operation): \($0.observed)" })")
        let probes = timer.filter { alignment in
            inOrder(["tcp_keepalive_timer", "__tcp_transmit_skb", "__dev_queue_xmit"], in: alignment.observed)
                && ["tcp_write_wakeup", "tcp_xmit_probe_skb"].allSatisfy { name in alignment.steps.contains { $0.function == name && $0.status == .tailCall } }
        }
        #expect(probes.count == counted, "\(counted) probes counted by the kernel, \(probes.count) sampled: \(timer.map(\.observed))")
        #expect(!alignments.contains { $0.operation.hasSuffix("probe0_timer") }, "\(alignments.map(\.operation))")
    }

    @Test("handshakes a listener answered with SYN cookies: each last ACK's work (cookie_v4_check or cookie_v6_check, the connection's socket made, ESTABLISHED) is tcp_syncookie_ack_softirq's path, never a SYN's (tcp_synack) nor differs; without cookies the same state change is tcp_accept_ready_softirq's (audit 100 F3)",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("unshare")), arguments: [(false, true), (true, true), (false, false), (true, false)])
    func synCookieHandshakes(ipv6: Bool, cookies: Bool) throws {
        let run = try traceInNamespace("syncookies.py", [ipv6 ? "6" : "4"] + (cookies ? [] : ["plain"]))
        #expect(run.figure == (cookies ? 3 : 0), "the kernel took in \(run.written) SYN cookies (SyncookiesRecv)")
        let alignments = run.alignments
        let six = ipv6 ? "6" : ""
        let operation = cookies ? "tcp\(six)_syncookie_ack_softirq" : "tcp\(six)_accept_ready_softirq"
        let checked = alignments.filter { $0.observed.contains(ipv6 ? "cookie_v6_check" : "cookie_v4_check") }
        #expect(cookies ? !checked.isEmpty : checked.isEmpty, "\(checked.map(\.observed))")
        #expect(checked.allSatisfy { $0.operation == operation && ![.differs, .extraFrames, .outOfOrder].contains($0.verdict) },
                "\(checked.map { "\($0.operation) \($0.verdict): \($0.observed)" })")
        // The connection made: the child's state set to ESTABLISHED under tcp_child_process.
        let established = alignments.filter { $0.observed.contains("tcp_child_process") && $0.observed.last == "inet_sk_state_store" }
        #expect(established.count >= 3 && established.allSatisfy { $0.operation == operation }, "\(established.map { "\($0.operation): \($0.observed)" })")
    }

    @Test("a receive from the error queue (MSG_ERRQUEUE: a UDP socket's ICMP error, a TCP MSG_ZEROCOPY send's completion) is its own operation, never a data receive's; its chain through ip_recv_error (ipv6_recv_error) matches (audit 98: named tcp_recv)",
          arguments: [false, true])
    func errorQueueReceives(ipv6: Bool) throws {
        let script = """
            import socket, time
            fam, host = (socket.AF_INET6, "::1") if \(ipv6 ? "True" : "False") else (socket.AF_INET, "127.0.0.1")
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.setsockopt(*((socket.IPPROTO_IPV6, 25) if fam == socket.AF_INET6 else (socket.IPPROTO_IP, 11)), 1)  # IP(V6)_RECVERR
            closed = socket.socket(fam, socket.SOCK_DGRAM); closed.bind((host, 0)); port = closed.getsockname()[1]; closed.close()
            u.connect((host, port)); u.send(b"lost"); time.sleep(0.05)
            assert u.recvmsg(100, 512, socket.MSG_ERRQUEUE)[1]
            l = socket.socket(fam); l.bind((host, 0)); l.listen()
            c = socket.create_connection(l.getsockname()[:2]); a, _ = l.accept()
            c.setsockopt(socket.SOL_SOCKET, 60, 1)  # SO_ZEROCOPY
            c.send(b"z" * 10000, 0x4000000)  # MSG_ZEROCOPY
            got = 0
            while got < 10000: got += len(a.recv(65536))
            time.sleep(0.05)
            assert c.recvmsg(0, 512, socket.MSG_ERRQUEUE)[1]
            c.close(); a.close(); l.close(); u.close()
            """
        let six = ipv6 ? "6" : ""
        for probes in [[], ["--probe-set", "full"]] {
            let (calls, _) = try tracePythonCalls(script, name: "errqueue", options: probes)
            let errors = calls.filter { $0.syscall == .recvmsg && $0.argument(2) & 0x2000 != 0 }
            #expect(errors.count == 2, "\(calls.map(\.entryText))")
            for call in errors {
                let expected = (call.socket?.type == 2 ? "udp" : "tcp") + six + "_recv_error"
                #expect(call.kernel?.operation == expected, "\(probes): \(call.entryText): \(call.kernel?.operation ?? "-")")
                #expect(call.kernel?.alignments.allSatisfy { $0.operation == expected && [.matches, .unverified].contains($0.verdict) } == true,
                        "\(call.kernel?.alignments.map { "\($0.operation) \($0.verdict): \($0.observed)" } ?? [])")
            }
            if !probes.isEmpty {
                let copies = errors.compactMap(\.kernel).flatMap(\.alignments).filter { $0.observed.last == "skb_copy_datagram_iter" }
                #expect(copies.count == 2 && copies.allSatisfy { $0.observed.contains(ipv6 ? "ipv6_recv_error" : "ip_recv_error") && $0.verdict == .matches },
                        "\(copies.map { "\($0.verdict): \($0.observed)" })")
            }
            // The data receives stay data receives.
            let data = calls.filter { $0.syscall == .recvfrom && ($0.result?.value ?? 0) > 0 }
            #expect(!data.isEmpty && data.allSatisfy { $0.kernel?.operation == "tcp\(six)_recv" }, "\(data.map { $0.kernel?.operation ?? "-" })")
        }
    }

    @Test("connections timers end: a connect whose SYNs are dropped given up by the retransmission timer (tcp_done_with_error, SYN_SENT → CLOSE), an orphaned FIN_WAIT2 socket ended by its keepalive timer (tcp_time_wait → tcp_done): each state change its timer operation's, modelled (audit 101: unmodelled)",
          .enabled(if: TestSupport.underCI || (TestSupport.commandExists("unshare") && TestSupport.commandExists("nft"))))
    func connectionsTimersEnd() throws {
        let run = try traceInNamespace("given_up.py")
        #expect(run.written == "ETIMEDOUT", "\(run.written)")
        let alignments = run.alignments
        let ends = alignments.filter { $0.context == "softirq TIMER" && $0.observed.last == "inet_sk_state_store" }
        let givenUp = ends.filter { $0.observed.contains("tcp_retransmit_timer") }
        #expect(givenUp.count == 1 && givenUp.allSatisfy { $0.operation == "tcp_retransmit_timer" && $0.observed.contains("tcp_done_with_error")
            && [.matches, .unverified].contains($0.verdict) }, "\(ends.map { "\($0.operation) \($0.verdict): \($0.observed)" })")
        let timedOut = ends.filter { $0.observed.contains("tcp_keepalive_timer") }
        #expect(timedOut.count == 1 && timedOut.allSatisfy { $0.operation == "tcp_keepalive_timer" && [.matches, .unverified].contains($0.verdict)
            && $0.steps.contains { $0.function == "tcp_time_wait" && $0.status == .tailCall } },
                "\(ends.map { "\($0.operation) \($0.verdict): \($0.observed) \($0.steps.map { "\($0.function) \($0.status)" })" })")
    }

    @Test("a compressed SACK its hrtimer sends (a hole the sender does not fill at once): tcp_compressed_ack_timer, in an HRTIMER softirq, tcp_send_ack and __tcp_send_ack proven tail calls, never unmodelled",
          .enabled(if: TestSupport.underCI || (TestSupport.commandExists("unshare") && TestSupport.commandExists("nft"))))
    func compressedSack() throws {
        let run = try traceInNamespace("compressed_sack.py")
        let compressed = run.figure ?? 0
        #expect(compressed > 0, "the kernel compressed no ACK (TCPAckCompressed)")
        let alignments = run.alignments
        let kicks = alignments.filter { $0.observed.contains("tcp_compressed_ack_kick") }
        #expect(!kicks.isEmpty, "no sample of the compressed-ACK timer's send")
        for kick in kicks {
            #expect(kick.operation == "tcp_compressed_ack_timer" && kick.context == "softirq HRTIMER", "\(kick.operation) \(kick.context ?? "-"): \(kick.observed)")
            #expect(inOrder(["hrtimer_run_softirq", "tcp_compressed_ack_kick", "__tcp_transmit_skb", "__dev_queue_xmit"], in: kick.observed), "\(kick.observed)")
            #expect(["tcp_send_ack", "__tcp_send_ack"].allSatisfy { name in kick.steps.contains { $0.function == name && $0.status == .tailCall } },
                    "\(kick.steps.map { "\($0.function) \($0.status)" })")
        }
    }

    @Test("two network namespaces joined by a veth pair: a packet received on one end with the address of the skb the same call queued to the other is said to be that skb, unverified (which devices are paired is not known), never \"not seen leaving a traced call\" (audit 35)",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("ip")))
    func vethPair() throws {
        let port = TestSupport.freshPort()
        let (server, client) = ("stv\(port)s", "stv\(port)c")
        let setup = """
            ip netns add \(server) && ip netns add \(client) && \
            ip link add \(server) netns \(server) type veth peer name \(client) netns \(client) && \
            ip -n \(server) addr add 10.199.0.1/24 dev \(server) && ip -n \(client) addr add 10.199.0.2/24 dev \(client) && \
            ip -n \(server) link set \(server) up && ip -n \(client) link set \(client) up && \
            ip -n \(server) link set lo up && ip -n \(client) link set lo up
            """
        let cleanup = "ip netns del \(server) 2>/dev/null; ip netns del \(client) 2>/dev/null; true"
        defer { _ = try? TestSupport.run("/bin/sh", ["-c", cleanup]) }
        let made = try TestSupport.run("/bin/sh", ["-c", setup])
        try #require(made.status == 0, "\(made.stderr)")
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/veth_echo.py").path
        let (calls, _) = try traceCalls("""
            ip netns exec \(server) /usr/bin/python3 \(program) server 10.199.0.1 \(port) & \
            ip netns exec \(client) /usr/bin/python3 \(program) client 10.199.0.1 \(port); wait
            """)
        var crossed = 0
        for call in calls {
            let samples = call.kernel?.samples ?? []
            // The skbs this call queued, by address and device.
            let queued = Dictionary(samples.compactMap { sample -> (Int64, String)? in
                guard sample.tracepoint == "net:net_dev_queue", !sample.sides.softirq, let skb = sample.skbAddress, let device = sample.device else { return nil }
                return (skb, device)
            }, uniquingKeysWith: { first, _ in first })
            for sample in samples where sample.tracepoint == "net:netif_receive_skb" {
                guard let skb = sample.skbAddress, let device = queued[skb], device != sample.device, let flow = sample.flow else { continue }
                crossed += 1
                #expect(flow.owner == .unverified, "\(flow)")
                #expect(flow.evidence.contains("queued to \(device) by \(call.name) of \(call.tid)") && flow.evidence.contains("a veth pair"),
                        "\(flow.evidence)")
                #expect(!flow.evidence.contains("not seen leaving"), "\(flow.evidence)")
            }
        }
        // The echo's sends and the datagrams each crossed the pair on their call's own stack.
        #expect(crossed >= 4, "\(crossed) packets received across the pair on their sender's stack")
    }

    @Test("a delayed ACK the timer sends outside the traced tasks, default and full probe sets: sampled for the traced flow (the kernel's BPF filter), on tcp_delack_timer's path; the minimal set does not sample elsewhere",
          arguments: ["default", "full"])
    func delayedAckElsewhere(probeSet: String) throws {
        let port = TestSupport.freshPort()
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/delayed_ack.py").path
        let (_, events) = try traceCalls("/usr/bin/python3 \(program) \(port)", options: ["--probe-set", probeSet])
        let elsewhere = events.filter { $0.tracepoint == "net:net_dev_queue" && $0.task != nil }
        // Three data segments, each ACKed by the timer 40 ms later (quick ACKs off) while the program sleeps.
        let timer = elsewhere.filter { $0.alignments?.first?.operation == "tcp_delack_timer" }
        #expect(!timer.isEmpty, "\(elsewhere.map { "\($0.task ?? "") \($0.chain)" })")
        for sample in timer {
            let evidence = sample.flow?.evidence ?? ""
            #expect(evidence.contains("127.0.0.1:\(port)") && evidence.contains("is a traced socket's"), "\(evidence)")
            let alignment = try #require(sample.alignments?.first)
            #expect(alignment.context == "softirq TIMER")
            #expect(inOrder(["call_timer_fn", "tcp_delack_timer", "tcp_delack_timer_handler", "__dev_queue_xmit"], in: alignment.observed),
                    "\(alignment.observed)")
            // The chain perf gives the tracepoint (audit 61 F1): from its iterator, not the BPF program's own frames.
            #expect(Array(sample.chain.prefix(2)) == ["__traceiter_net_dev_queue", "__dev_queue_xmit"], "\(sample.chain)")
            // Below the interrupt's entry is whatever it interrupted (another tool's BPF
            // program in a syscall's entry, under a concurrent bpftrace), shown as it is.
            let aboveInterrupt = sample.chain.prefix { !$0.hasPrefix("asm_") }
            #expect(!aboveInterrupt.contains { $0.hasPrefix("bpf_") || $0.hasPrefix("__bpf_trace_") }, "\(sample.chain)")
            #expect(sample.fields["sport"]?.number == Int64(port) || sample.fields["dport"]?.number == Int64(port))
        }
        // Every packet kept is the traced connection's, none another flow's.
        #expect(elsewhere.allSatisfy { $0.flow?.evidence.contains("127.0.0.1:\(port)") == true })
        let (_, minimal) = try traceCalls("/usr/bin/python3 \(program) \(TestSupport.freshPort())", options: ["--probe-set", "minimal"])
        #expect(!minimal.contains { $0.tracepoint == "net:net_dev_queue" && $0.task != nil })
    }

    @Test("a delayed ACK the timer sends on a traced thread between its calls: its packet's socket, as the BPF program read it at the event, names the traced connection (audit 87: \"may be another program's\"), and the ACK's receive is that socket's packet")
    func delayedAckOnTheTracedThread() throws {
        let port = TestSupport.freshPort()
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/delayed_ack.py").path
        let (calls, events) = try traceCalls("/usr/bin/python3 \(program) \(port) spin")
        // The oracle for the 4-tuple: the server's socket as its recv saw it (the tracer's socket table).
        let recv = try #require(calls.first { $0.syscall == .recvfrom && $0.socket?.local?.description == "127.0.0.1:\(port)" })
        let server = try #require(recv.socket)
        let ends = "\(try #require(server.local)) → \(try #require(server.peer))"
        // The program spins on one CPU while each of its 5 ACKs waits: the timer runs on it (or, when the
        // tracer had that CPU at the moment, elsewhere: sampled by the BPF program, as delayedAckElsewhere checks).
        let onThread = events.filter { $0.tracepoint == "net:net_dev_queue" && $0.task == nil && $0.inTracedTask != nil
            && $0.alignments?.first?.operation == "tcp_delack_timer" }
        #expect(!onThread.isEmpty, "\(events.map { "\($0.tracepoint) \($0.inTracedTask ?? $0.task ?? "-")" })")
        for sample in onThread {
            let flow = try #require(sample.flow)
            // Which socket, by its struct sock: one the traced calls on that 4-tuple acted on (audit 90 F1).
            let sock = flow.evidence.firstMatch(of: /skb->sk (0x[0-9a-f]+)/)?.1 ?? "-"
            #expect(flow.owner == .ownSocket && flow.evidence.contains(", read by the BPF program at this event) is \(ends), a traced socket's (traced calls on it acted on \(sock))"),
                    "\(flow.owner) \(flow.evidence)")
            // Its receive, on the same stack right after it, is that packet's.
            guard let skb = sample.skbAddress,
                  let receive = events.first(where: { $0.tracepoint == "net:netif_receive_skb" && $0.skbAddress == skb && $0.time > sample.time && $0.tid == sample.tid })
            else { continue }
            #expect(receive.flow?.evidence.contains("queued by TIMER softirq work run in this traced thread") == true && receive.flow?.evidence.contains(ends) == true,
                    "\(receive.flow?.evidence ?? "-")")
            #expect(receive.alignments?.first?.operation == "netif_receive", "\(receive.alignments?.map(\.operation) ?? [])")
        }
    }

    @Test("closes told apart: a reference dropped (the socket held elsewhere), the last one (FIN), a listener (no FIN)")
    func closes() throws {
        let port = TestSupport.freshPort()
        let (calls, _) = try traceCalls(try TestSupport.serverAndClientScript(port: port))
        let closes = calls.filter { $0.syscall == .close && $0.socket?.protocolLabel == "TCP" }
        // The server's child closes the listener's copy while its parent holds it.
        let listenerCopy = closes.filter { $0.socket?.state == .listening && ($0.socket?.otherReferences ?? 0) > 0 }
        #expect(listenerCopy.count == 1, "\(closes.map { "\($0.pid) \($0.socket?.state.rawValue ?? "") refs \($0.socket?.otherReferences ?? -1)" })")
        for call in closes where call.kernel?.operation == "socket_reference_dropped" {
            #expect((call.socket?.otherReferences ?? 0) > 0)
            #expect(call.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "a dropped reference sends nothing")
        }
        for call in closes where call.kernel?.operation == "tcp_close" {
            #expect(call.kernel?.alignments.contains { $0.observed.contains("__tcp_push_pending_frames") } == true, "the FIN leaves")
        }
        let connected = closes.filter { $0.socket?.state == .connected }
        let client = try #require(connected.first { $0.socket?.peer?.description == "127.0.0.1:\(port)" })
        #expect(client.kernel?.operation == "tcp_close" && client.socket?.otherReferences == 0)
        // The server's parent closes its copy after fork, its child when done: whichever close
        // the kernel runs last sends the FIN. While both are in flight neither can say it is
        // the last one (each counts the other's), and the kernel's samples choose.
        let server = connected.filter { $0.socket?.local?.description == "127.0.0.1:\(port)" }
        #expect(server.count == 2)
        #expect(server.filter { $0.kernel?.operation == "tcp_close" }.count == 1, "\(server.map { "\($0.pid) refs \($0.socket?.otherReferences ?? -1): \($0.kernel?.operation ?? "-")" })")
        #expect(server.filter { $0.kernel?.operation == "socket_reference_dropped" }.count == 1)
        let listener = try #require(closes.first { $0.socket?.state == .listening && $0.socket?.otherReferences == 0 })
        #expect(listener.kernel?.operation == "tcp_close_listener")
        #expect(listener.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false)
    }

    @Test("a bulk send read in small pieces, IPv4 and IPv6: recv's window updates, the data an ACK lets go (softirq, send's backlog, after close) and tcp_push_one all on modelled paths",
          arguments: ["4", "6"])
    func bulkSend(family: String) throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/bulk_tcp.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program) \(TestSupport.freshPort()) \(family)")
        let six = family == "6" ? "6" : ""
        let alignments = calls.compactMap(\.kernel).flatMap(\.alignments)
        // The window update: tcp_recvmsg_locked → tcp_cleanup_rbuf → … → __tcp_transmit_skb, each step a proven tail call.
        // (Not an ACK the socket's backlog deferred, sent as the receive lets the
        // socket go: release_sock's or __sk_flush_backlog's tcp_release_cb.)
        let updates = alignments.filter {
            $0.operation == "tcp\(six)_recv" && $0.observed.contains("__tcp_transmit_skb")
                && !$0.observed.contains("release_sock") && !$0.observed.contains("__sk_flush_backlog")
        }
        #expect(!updates.isEmpty, "no window update among \(Set(alignments.map(\.operation)))")
        #expect(updates.allSatisfy { $0.steps.contains { $0.function == "tcp_cleanup_rbuf" && $0.status == .tailCall } },
                "\(updates.first.map { $0.steps.map { "\($0.function) \($0.status)" } } ?? [])")
        // The sender's queued data, let go by the receiver's window update as the receive softirq takes it in.
        let released = alignments.filter { $0.operation == "tcp\(six)_ack_send" && $0.context?.hasPrefix("softirq") == true }
        #expect(!released.isEmpty, "no tcp\(six)_ack_send among \(Set(alignments.map(\.operation)))")
        #expect(released.allSatisfy { $0.observed.contains("__tcp_push_pending_frames") && $0.observed.contains("tcp_write_xmit") })
        Self.expectEveryChainModelled(calls)
    }

    @Test("a bulk send read in small pieces with the full probe set: every chain on a modelled path (recv's backlog waking readers, a FIN in it)",
          arguments: ["4", "6"])
    func bulkSendFullProbes(family: String) throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/bulk_tcp.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program) \(TestSupport.freshPort()) \(family)", options: ["--probe-set", "full"])
        Self.expectEveryChainModelled(calls, rarePathsTolerated: true)
    }

    @Test("a burst of writes, the full probe set: the backlog flushed while the send copies is on send's tree, every chain modelled")
    func burstFullProbes() throws {
        let program = try TestSupport.build("burst.c")
        let (calls, _) = try traceCalls(program, options: ["--probe-set", "full"])
        #expect(calls.contains { $0.syscall == .write })
        Self.expectEveryChainModelled(calls, rarePathsTolerated: true)
    }

    @Test("IPv6 half close, the full probe set: data taken in after this side's FIN (tcp_rcv_state_process) wakes readers on a modelled path")
    func halfCloseFullProbes() throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/tcp6_flows.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program) half_close \(TestSupport.freshPort())", options: ["--probe-set", "full"])
        Self.expectEveryChainModelled(calls)
        // A state change's addresses are a socket's, not a packet's way
        // (audit 29 F1: the peer's CLOSE_WAIT as it took in this socket's
        // FIN, on the close's stack, was "packet sent to this socket by its
        // peer"): whose socket is said.
        let changes = calls.flatMap { $0.kernel?.samples ?? [] }.filter { $0.tracepoint == "sock:inet_sock_set_state" }
        let peers = changes.compactMap(\.flow).filter { $0.evidence.hasPrefix("sock:inet_sock_set_state's ") }
        #expect(!peers.isEmpty && peers.allSatisfy { $0.ofSocket == true && !$0.description.hasPrefix("packet ") }, "\(peers.map(\.description))")
        #expect(peers.contains { $0.owner == .peer && $0.description.hasPrefix("its peer's (the connection's other end), by its addresses") },
                "\(peers.map(\.description))")
    }

    @Test("a listener closed or shut down with a connection it never accepted: the child's reset under inet_csk_listen_stop is the listener's operation, not SO_LINGER's or the FIN's; UDP over IPv6 binds as udp6_bind (audit 28)")
    func listenerResetsItsChildren() throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/listener_reset.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program)", options: ["--probe-set", "full"])
        for (syscall, operation) in [(Syscall.close, "tcp_close_listener"), (.shutdown, "tcp_shutdown_listener")] {
            let call = try #require(calls.first { $0.syscall == syscall && $0.socket?.state == .listening })
            #expect(call.kernel?.operation == operation, "\(String(describing: call.kernel?.operation))")
            let alignments = call.kernel?.alignments ?? []
            let reset = alignments.filter { $0.context == ChainAlignment.syscallContext && $0.observed.contains("tcp_send_active_reset") }
            #expect(!reset.isEmpty && reset.allSatisfy { $0.operation == operation && inOrder(["inet_csk_listen_stop", "tcp_disconnect", "tcp_send_active_reset"], in: $0.observed) },
                    "\(alignments.map { "\($0.operation): \($0.observed)" })")
            #expect(alignments.filter { $0.context == ChainAlignment.syscallContext }.allSatisfy { [.matches, .unverified].contains($0.verdict) },
                    "\(alignments.map { "\($0.operation) \($0.verdict): \($0.observed)" })")
            // The reset the listener's stop sent is the unaccepted connection's,
            // not the listener's (audit 87 F1: a shutdown's was "packet sent by
            // this socket"), and the client's state change its peer's.
            let stopped = syscall == .close ? "a released listener" : "a listener shut down"
            let samples = call.kernel?.samples ?? []
            let receive = try #require(samples.first { $0.tracepoint == "net:netif_receive_skb" && $0.flow != nil }, "the reset's receive on its stack")
            #expect(receive.flow?.said == "packet sent by a connection \(stopped) had not accepted" && receive.flow?.owner == .ownSocket,
                    "\(receive.flow?.description ?? "-")")
            #expect(samples.contains { $0.flow?.said == "the peer's of a connection \(stopped) had not accepted, by its addresses" },
                    "\(samples.compactMap(\.flow?.description))")
            #expect(!samples.contains { $0.flow?.description.contains("this socket") == true }, "\(samples.compactMap(\.flow?.description))")
        }
        let bind6 = try #require(calls.first { $0.syscall == .bind && $0.socket?.family == 10 })
        #expect(bind6.kernel?.operation == "udp6_bind", "\(String(describing: bind6.kernel?.operation))")
    }

    @Test("a listener disconnected by a connect to AF_UNSPEC resets the connection it had not accepted: said to be that connection's, as a close or shutdown of it (audit 88: unverified)")
    func listenerDisconnectedByUnspecConnect() throws {
        let script = """
            import ctypes, socket, struct, time
            libc = ctypes.CDLL(None, use_errno=True)
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); c.send(b"data"); time.sleep(0.02)
            unspec = struct.pack("H14x", 0)
            assert libc.connect(l.fileno(), unspec, len(unspec)) == 0
            time.sleep(0.02)
            try: c.recv(1); raise SystemExit("no reset")
            except ConnectionResetError: pass
            c.close(); l.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "unspec-listener")
        let connect = try #require(calls.first { $0.syscall == .connect && $0.connectStart?.state == .listening }, "\(calls.map(\.entryText))")
        let samples = connect.kernel?.samples ?? []
        let receive = try #require(samples.first { $0.tracepoint == "net:netif_receive_skb" && $0.flow != nil }, "the reset's receive on its stack")
        #expect(receive.flow?.said == "packet sent by a connection a listener disconnected had not accepted" && receive.flow?.owner == .ownSocket
                && receive.flow?.evidence.contains("which its disconnect (a connect to AF_UNSPEC) reset") == true, "\(receive.flow?.description ?? "-")")
        #expect(samples.contains { $0.flow?.said == "the peer's of a connection a listener disconnected had not accepted, by its addresses" },
                "\(samples.compactMap(\.flow?.description))")
        #expect(!samples.contains { $0.flow?.description.contains("this socket") == true || $0.flow?.owner == .unverified },
                "\(samples.compactMap(\.flow?.description))")
    }

    @Test("an IPv6 socket connected to an IPv4-mapped address: connect and send are IPv6's operations on IPv4's path (tcp_v6_connect → tcp_v4_connect, inet6_sendmsg then ip_queue_xmit), every chain modelled (audit 29 M2)")
    func mappedAddress() throws {
        let script = """
            import socket
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.socket(socket.AF_INET6); c.connect(("::ffff:127.0.0.1", l.getsockname()[1])); a, _ = l.accept()
            c.send(b"mapped"); a.recv(100); c.close(); a.close(); l.close()
            """
        for probes in [[], ["--probe-set", "full"]] {
            let (calls, _) = try tracePythonCalls(script, name: "mapped", options: probes)
            let connect = try #require(calls.first { $0.syscall == .connect })
            let send = try #require(calls.first { $0.syscall == .sendto })
            #expect(connect.kernel?.operation == "tcp6_connect" && send.kernel?.operation == "tcp6_send",
                    "\(probes): \(String(describing: connect.kernel?.operation)) \(String(describing: send.kernel?.operation))")
            // The send's own chain shows inet6_sendmsg, left by a jump (it was tcp_send's, inet_sendmsg "not on this path").
            let sent = send.kernel?.alignments.filter { $0.operation == "tcp6_send" && $0.observed.last == "__dev_queue_xmit" } ?? []
            #expect(!sent.isEmpty && sent.allSatisfy { $0.steps.contains { $0.function == "inet6_sendmsg" && $0.status == .tailCall } },
                    "\(sent.map { $0.steps.map { "\($0.function) \($0.status)" } })")
            Self.expectEveryChainModelled([connect, send])
            // The handshake's SYN-ACK taken in by IPv4's backlog handler: IPv6's operation, not tcp_connect_ack (audit 99).
            let handshake = connect.kernel?.alignments.filter { $0.isSyscallPart && $0.observed.contains("tcp_v4_do_rcv") } ?? []
            #expect(!handshake.isEmpty && handshake.allSatisfy { $0.operation == "tcp6_connect_ack" || $0.operation == "tcp6_connect" },
                    "\(handshake.map { "\($0.operation) \($0.observed)" })")
        }
    }

    @Test("a UNIX stream connect (probe set full): unix_stream_connect, the server's end made and the listener woken, every chain modelled (audit 29: unmodelled)")
    func unixStreamConnect() throws {
        let path = TestSupport.temporaryFile("unix-listener") + ".sock"
        let script = """
            import socket
            l = socket.socket(socket.AF_UNIX); l.bind("\(path)"); l.listen()
            c = socket.socket(socket.AF_UNIX); c.connect("\(path)"); a, _ = l.accept()
            c.send(b"x"); a.recv(1); c.close(); a.close(); l.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "unix-connect", options: ["--probe-set", "full"])
        let connect = try #require(calls.first { $0.syscall == .connect })
        #expect(connect.kernel?.operation == "unix_stream_connect", "\(String(describing: connect.kernel?.operation))")
        let chains = connect.kernel?.alignments ?? []
        #expect(chains.contains { $0.observed.contains("unix_create1") } && chains.contains { $0.observed.last == "sock_def_readable" },
                "\(chains.map(\.observed))")
        Self.expectEveryChainModelled(calls)
        #expect(chains.allSatisfy { [.matches, .unverified].contains($0.verdict) }, "\(chains.map { "\($0.verdict): \($0.observed)" })")
        // bind, listen and accept have operations of their own (audit 35: no annotation), the
        // model's chains, not observed: no tracepoint fires on their paths.
        for (syscall, operation) in [(Syscall.bind, "unix_bind"), (.listen, "unix_listen"), (.accept4, "unix_accept")] {
            let call = try #require(calls.first { $0.syscall == syscall })
            #expect(call.kernel?.operation == operation && call.kernel?.source == .expected, "\(syscall): \(call.kernel?.operation ?? "-")")
        }
    }

    @Test("close after shutdown(SHUT_WR) once the FIN is acked (FIN_WAIT2): tcp_close_after_shutdown, __tcp_close → tcp_time_wait → tcp_done, modelled (audit 30: curl and http.server, tcp_close differs)")
    func closeAfterShutdownIntoTimeWait() throws {
        let script = """
            import socket, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); a, _ = l.accept()
            a.send(b"reply"); a.shutdown(socket.SHUT_WR); c.recv(10); time.sleep(0.05)
            a.close(); c.close(); l.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "shutdown-close", options: ["--probe-set", "full"])
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.state == .shutDown })
        #expect(close.kernel?.operation == "tcp_close_after_shutdown", "\(String(describing: close.kernel?.operation))")
        let chains = close.kernel?.alignments ?? []
        #expect(chains.contains { $0.operation == "tcp_close_after_shutdown" && inOrder(["__tcp_close", "tcp_done"], in: $0.observed) },
                "\(chains.map { "\($0.operation): \($0.observed)" })")
        Self.expectEveryChainModelled(calls)
    }

    @Test("a reader that shut down its writing side takes its backlog in by tcp_rcv_state_process (data, the peer's FIN, TIME_WAIT): modelled for IPv4, IPv6 and IPv4-mapped peers (audit 99 H: differs, +tcp_rcv_state_process)",
          arguments: [("AF_INET", "127.0.0.1", "tcp_recv", "tcp_v4_do_rcv"), ("AF_INET6", "::1", "tcp6_recv", "tcp_v6_do_rcv"),
                      ("AF_INET6", "::ffff:127.0.0.1", "tcp6_recv", "tcp_v4_do_rcv")])
    func backlogOfAReaderInFinWait(family: String, host: String, operation: String, handler: String) throws {
        // A bulk send read 4 KiB at a time: what the sender's CPU brings in while the read holds the
        // socket waits in its backlog, and the socket (FIN_WAIT2) is not ESTABLISHED.
        let script = """
            import socket, threading
            l = socket.socket(socket.\(family)); l.bind(("\(host)", 0)); l.listen()
            def serve():
                a, _ = l.accept(); a.recv(1)
                for _ in range(8): a.sendall(b"x" * 400000)
                a.close()
            t = threading.Thread(target=serve); t.start()
            c = socket.socket(socket.\(family)); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.connect(l.getsockname()[:2]); c.shutdown(socket.SHUT_WR)
            while c.recv(3000): pass
            t.join(); c.close(); l.close()
            """
        var seen: [String] = [], sentSeen: [String] = []
        for _ in 1...4 where seen.isEmpty || sentSeen.isEmpty {
            let (calls, _) = try tracePythonCalls(script, name: "finwait-backlog")
            let reads = calls.filter { $0.syscall == .recvfrom }
            #expect(reads.allSatisfy { $0.kernel == nil || $0.kernel?.operation == operation },
                    "\(Set(reads.compactMap { $0.kernel?.operation }))")
            let chains = reads.compactMap(\.kernel).flatMap(\.alignments).filter { $0.observed.contains("tcp_rcv_state_process") && $0.isSyscallPart }
            #expect(chains.allSatisfy { $0.operation == operation && inOrder(["release_sock", handler, "tcp_rcv_state_process"], in: $0.observed) },
                    "\(chains.map { "\($0.operation): \($0.observed)" })")
            Self.expectEveryChainModelled(reads)
            // The sender, in CLOSE_WAIT once the reader's FIN is in: its backlog's ACKs through
            // tcp_rcv_state_process too, its own send operation's (audit 101 M1: differs; a mapped
            // socket's samples told as IPv4's tcp_send).
            let sends = calls.filter { $0.syscall == .sendto }
            let send = operation == "tcp_recv" ? "tcp_send" : "tcp6_send"
            #expect(sends.allSatisfy { $0.kernel == nil || $0.kernel?.operation == send }, "\(Set(sends.compactMap { $0.kernel?.operation }))")
            let sent = sends.compactMap(\.kernel).flatMap(\.alignments).filter { $0.isSyscallPart }
            #expect(sent.allSatisfy { $0.operation == send }, "\(Set(sent.map(\.operation)))")
            Self.expectEveryChainModelled(sends)
            seen += chains.map { $0.observed.joined(separator: " ") }
            sentSeen += sent.filter { $0.observed.contains("tcp_rcv_state_process") }.map { $0.observed.joined(separator: " ") }
        }
        try #require(!seen.isEmpty, "in 4 runs no read took its backlog in while not ESTABLISHED")
        try #require(!sentSeen.isEmpty, "in 4 runs no send took its backlog in while not ESTABLISHED")
    }

    @Test("work in a call -e leaves out is said to be in it, not \"interrupted\", and its packet's receive names that call, not \"another program's\" (audit 31 M3)")
    func workInAnUnrecordedCall() throws {
        let file = TestSupport.temporaryFile("unrecorded") + ".py"
        try """
            import socket
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); a, _ = l.accept()
            for i in range(3): c.send(b"x" * 10); a.recv(10)
            c.close(); a.close()
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "-e", "trace=!sendto", "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("in a call the trace does not record: __x64_sys_sendto → __sys_sendto → tcp_sendmsg") }, "\(result.stderr)")
        #expect(!lines.contains { $0.contains("interrupted: __x64_sys_sendto") && !$0.contains("⤷") }
                || lines.contains { $0.contains("⤷ interrupted here") }, "\(result.stderr)")
        #expect(lines.contains { $0.contains("queued by __x64_sys_sendto in this thread, a call the trace does not record") }, "\(result.stderr)")
        // Its connection's bytes leave out the sends -e left out, and say so (audit 31 M4: "client sent 0 B").
        #expect(lines.contains { $0 == "connections: (bytes of the traced calls only: -e trace=!sendto)" }, "\(result.stderr)")
    }

    @Test("close of a UNIX socket with a message unread: unix_close, the message freed (skb:kfree_skb SOCKET_CLOSE)")
    func unixClose() throws {
        let (calls, _) = try tracePythonCalls("import socket\na, b = socket.socketpair()\na.send(b'never read')\nb.close()\na.close()",
                                              name: "unix-close", options: ["--probe-set", "full"])
        let closes = calls.filter { $0.syscall == .close && $0.socket?.family == 1 }
        try #require(closes.count == 2, "\(closes.map(\.entryText))")
        #expect(closes.allSatisfy { $0.kernel?.operation == "unix_close" }, "\(closes.map { $0.kernel?.operation })")
        #expect(closes[0].kernel?.samples.contains { $0.tracepoint == "skb:kfree_skb" && $0.summary.contains("SOCKET_CLOSE") } == true,
                "\(closes[0].kernel?.samples.map(\.heading) ?? [])")
    }

    @Test("UNIX sockets: stream and datagram sends and receives each have their operation, chains observed (probe set full)")
    func unixSockets() throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/unix_pairs.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program)", options: ["--probe-set", "full"])
        for (syscall, label, operation, own) in [(Syscall.sendto, "UNIX-STREAM", "unix_stream_send", "unix_stream_sendmsg"),
                                                 (.recvfrom, "UNIX-STREAM", "unix_stream_recv", "unix_stream_read_generic"),
                                                 (.sendto, "UNIX", "unix_dgram_send", "unix_dgram_sendmsg"),
                                                 (.recvfrom, "UNIX", "unix_dgram_recv", "__unix_dgram_recvmsg")] {
            let call = try #require(calls.first { $0.syscall == syscall && $0.socket?.protocolLabel == label }, "\(syscall) on \(label)")
            #expect(call.kernel?.operation == operation, "\(String(describing: call.kernel?.operation))")
            #expect(call.kernel?.alignments.contains { $0.operation == operation && $0.observed.contains(own) } == true,
                    "\(operation): \(call.kernel?.alignments.map(\.observed) ?? [])")
        }
    }

    @Test("a socket passed over SCM_RIGHTS: the sender's close drops a reference, the receiver's releases it (audit C-1)")
    func passedSocketCloses() throws {
        let port = TestSupport.freshPort()
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/pass_socket.py").path
        let (calls, _) = try traceCalls("/usr/bin/python3 \(program) \(port)")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.local?.description == "127.0.0.1:\(port)" && $0.socket?.state == .connected }
        // The child's inherited copy, the parent's (while the child holds the passed one), then the passed one.
        #expect(closes.count == 3, "\(closes.map { "\($0.pid) refs \($0.socket?.otherReferences ?? -1)" })")
        for dropped in closes.dropLast() {
            #expect(dropped.kernel?.operation == "socket_reference_dropped", "\(dropped.pid): \(dropped.socket?.otherReferences ?? -1)")
            #expect(dropped.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false)
        }
        let last = try #require(closes.last)
        #expect(last.kernel?.operation == "tcp_close")
        #expect(last.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true, "the FIN")
    }

    @Test("a socket passed to a task not traced, which sends on it: the sender's close says the reference it left is in a message no traced process took in, not the traced processes'; the summary says whose bytes no traced call sent (audit 100 F1, F4)")
    func socketPassedToAnUntracedTask() throws {
        let port = TestSupport.freshPort()
        let path = TestSupport.temporaryFile("untraced-holder") + ".sock"
        let holder = try ChildProcess("/usr/bin/python3", ["-c", """
            import array, socket, time
            u = socket.socket(socket.AF_UNIX); u.bind("\(path)"); u.listen(1)
            print("ready", flush=True)
            c, _ = u.accept()
            _, ancillary, _, _ = c.recvmsg(16, socket.CMSG_SPACE(4))
            s = socket.socket(fileno=array.array("i", ancillary[0][2][:4])[0])
            for i in range(3): s.send(b"untraced-%d" % i); time.sleep(0.05)
            c.send(b"k"); c.recv(1); s.close()
            """])
        #expect(holder.waitForOutput("ready"))
        let script = """
            import array, socket
            l = socket.socket(); l.bind(("127.0.0.1", \(port))); l.listen()
            c = socket.create_connection(("127.0.0.1", \(port))); a, _ = l.accept()
            u = socket.socket(socket.AF_UNIX); u.connect("\(path)")
            u.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [c.fileno()]))])
            u.recv(1)  # the holder has sent its bytes
            c.close()
            got = b""
            while len(got) < 30: got += a.recv(100)
            u.send(b"k"); a.close(); l.close()
            """
        let file = TestSupport.temporaryFile("untraced-holder") + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let output = TestSupport.temporaryFile("untraced-holder") + ".txt"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "-o", output, "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        _ = try holder.wait(timeout: 10)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let close = try #require(lines.firstIndex { $0.contains("close(") && $0.contains("<TCP 127.0.0.1:") && $0.contains("->127.0.0.1:\(port)>") },
                                 "\(text)")
        let release = lines[(close + 1)...].first { $0.contains("not released here") }
        #expect(release?.contains("1 other reference in SCM_RIGHTS messages a traced process sent and no traced process was seen to take in") == true
                && release?.contains("the traced processes held") == false, "\(release ?? "")")
        let summary = lines.first { $0.contains("→ 127.0.0.1:\(port)") && $0.contains("client sent") }
        #expect(summary?.contains("client sent 0 B (server received 30 B; 30 B of them sent by no call the trace counts") == true, "\(summary ?? "")")
    }

    @Test("a socket closed while its descriptor is in flight (SCM_RIGHTS sent, not yet received): the message holds it, the close drops a reference (audit F)")
    func closeWhileInFlight() throws {
        let port = TestSupport.freshPort()
        let script = """
            import os, socket, time
            a, b = socket.socketpair()
            # The child takes the descriptor only once the parent's close has
            # returned (a pipe's byte), not after a fixed 0.3 s: a README run
            # under load had the parent's close reach the kernel after the
            # child's, which then dropped the reference and left the FIN to it.
            done_r, done_w = os.pipe()
            child = os.fork()
            if child == 0:
                os.read(done_r, 1)
                _, fds, _, _ = socket.recv_fds(b, 10, 1)
                os.close(fds[0]); os._exit(0)
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            socket.send_fds(a, [b"x"], [client.fileno()])
            client.close()
            os.write(done_w, b"1")
            os.waitpid(child, 0)
            """
        let (calls, _) = try tracePythonCalls(script, name: "inflight")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.peer?.description == "127.0.0.1:\(port)" }
        try #require(closes.count == 2, "\(closes.map { "\($0.pid) refs \($0.socket?.otherReferences ?? -1)" })")
        #expect(closes[0].kernel?.operation == "socket_reference_dropped", "refs \(closes[0].socket?.otherReferences ?? -1)")
        #expect(closes[0].kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "no FIN while the message holds it")
        #expect(closes[1].kernel?.operation == "tcp_close", "the receiver's close is the last")
        #expect(closes[1].kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true, "the FIN")
    }

    @Test("a close while another thread's recv waits on the descriptor: that call holds the file, the kernel frees no file in the close, which is socket_reference_dropped and says why; the socket is released as the recv returns, shown at its exit stop (audit 69 M1)")
    func closeWhileAnotherThreadsCallHoldsIt() throws {
        let port = TestSupport.freshPort()
        let script = """
            import os, socket, struct, threading, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            # The recv blocks in the kernel (SO_RCVTIMEO, not Python's poll)
            # until the byte sent after the close comes (5 s at most: a
            # 0.3 s timeout ran out before the close on a loaded machine).
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))
            tids = []
            def waiting():
                # In recvfrom (45), asleep in the kernel (not at the tracer's entry stop).
                if not tids: return False
                task = f"/proc/self/task/{tids[0]}/"
                return open(task + "syscall").read().split()[0] == "45" and open(task + "stat").read().rsplit(")", 1)[1].split()[0] == "S"
            def reader():
                tids.append(threading.get_native_id())
                try: client.recv(10)
                except OSError: pass
            thread = threading.Thread(target=reader); thread.start()
            while not waiting(): time.sleep(0.01)
            os.close(client.fileno())
            server.send(b"x")
            thread.join(); client.detach()
            server.recv(10); server.close(); listener.close()
            """
        let (calls, events) = try tracePythonCalls(script, name: "held-by-a-call")
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.peer?.description == "127.0.0.1:\(port)" })
        #expect(close.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "no FIN in the close")
        // The kernel's word: the file the close's sys_enter named was not
        // freed in it (no descriptor table shows the recv's reference).
        let file = try #require(close.closedFile, "the close's file, read at its sys_enter")
        #expect(close.kernel?.samples.contains { FileRelease.isFileFree($0) } == false, "no file freed in the close")
        #expect(close.kernel?.operation == "socket_reference_dropped", "\(close.kernel?.operation ?? "none")")
        let said = try #require(close.kernel?.fileRelease, "the close says why")
        #expect(said.hasPrefix("not released here") && said.contains("0x" + String(file, radix: 16)) && said.contains("no descriptor of the traced processes held it"), "\(said)")
        // The server's close, after the recv returned, released its own file: that free, and no other, is in it.
        let serverClose = try #require(calls.first { $0.syscall == .close && $0.socket?.local?.description == "127.0.0.1:\(port)" && $0.socket?.peer != nil })
        let serverFile = try #require(serverClose.closedFile)
        let frees = serverClose.kernel?.samples.filter { FileRelease.isFileFree($0) } ?? []
        #expect(frees.count == 1 && frees.allSatisfy { FileRelease.frees(serverFile, $0) }, "\(frees.map(\KernelSample.heading))")
        #expect(serverClose.kernel?.fileRelease == nil && serverClose.kernel?.operation != "socket_reference_dropped",
                "\(serverClose.kernel?.operation ?? "none"): \(serverClose.kernel?.fileRelease ?? "")")
        // The only file free written besides the closes' own: the held file's, as the recv returned, linked to the close.
        let recvTid = try #require(calls.first { $0.syscall == .recvfrom && $0.tid != close.tid }?.tid)
        let releases = events.filter { FileRelease.isFileFree($0) }
        #expect(releases.count == 1 && releases.allSatisfy { FileRelease.frees(file, $0) && $0.tid == recvTid && $0.chain.contains("task_work_run") }
                && releases.allSatisfy { $0.inTracedTask?.contains("which close(\(close.socket?.fd ?? -1)) of \(close.tid) (file 0x\(String(file, radix: 16))) left to this call") == true },
                "\(releases.map { "\($0.tid) \($0.heading) \($0.inTracedTask ?? "-")" })")
        // The FIN leaves as the recv returns: the file's last reference dropped on its way out.
        let recv = try #require(calls.first { $0.syscall == .recvfrom && $0.tid != close.tid })
        let fin = events.first { $0.tracepoint == "net:net_dev_queue" && $0.tid == recv.tid && $0.chain.contains("tcp_close") }
        let released = try #require(fin, "\(events.map { "\($0.tid) \($0.heading) \($0.chain.prefix(12))" })")
        #expect(released.chain.contains("task_work_run") && released.inTracedTask == "at a call's exit stop, after the kernel ended the call",
                "\(released.inTracedTask ?? "-") \(released.chain)")
        #expect(released.time > close.endTime!, "after the close")
        // The recv says it released the socket as it returned (audit 81 M4, 82 P3).
        let returned = recv.kernel?.fileRelease ?? ""
        #expect(returned.hasPrefix("released as it returned") && returned.contains("which close(\(close.socket?.fd ?? -1)) of \(close.tid)"), "\(returned)")
        // The FIN's receive on that stack names the release that queued it (audit 82 M-a: "may be another program's").
        let receive = events.first { $0.tracepoint == "net:netif_receive_skb" && $0.tid == recv.tid && $0.skbAddress == released.skbAddress }
        #expect(receive?.flow?.owner == .ownSocket && receive?.flow?.evidence.contains("the release (__tcp_close) in thread \(recv.tid)") == true,
                "\(receive?.flow?.evidence ?? "no receive of the FIN on the recv's stack")")
    }

    @Test("a dup2 or close_range over a TCP connection's last descriptor says it released it as it returned, naming the socket its state change under __tcp_close names, in task work at its exit stop (audit 80 minor: said nothing)")
    func dup2AndCloseRangeSayTheReleaseTheyMade() throws {
        let script = """
            import os, socket, time
            listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
            first = socket.create_connection(listener.getsockname()); a, _ = listener.accept()
            second = socket.create_connection(listener.getsockname()); b, _ = listener.accept()
            os.dup2(listener.fileno(), first.fileno())
            os.closerange(second.fileno(), second.fileno() + 1)
            first.detach(); second.detach()
            time.sleep(0.05); a.close(); b.close(); listener.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "dup2-close-range-release")
        for name in [Syscall.dup2, .close_range] {
            let call = try #require(calls.first { $0.syscall == name }, "no \(name)")
            let said = call.kernel?.fileRelease ?? ""
            #expect(said.hasPrefix("released as it returned: this call dropped the last reference to a socket whose descriptor it closed")
                    && said.contains("TCP_ESTABLISHED → TCP_FIN_WAIT1") && said.contains("(__tcp_close"), "\(name): \(said)")
        }
    }

    @Test("a close while another thread's poll (not traced) waits on the descriptor: the poll holds the file, the close releases nothing; the file's free at the poll's return is shown in that thread, proven that file's by the socket's release in the same task work (audit 72 a, 83 f)")
    func closeWhileAnUntracedPollHoldsIt() throws {
        let port = TestSupport.freshPort()
        let script = """
            import os, select, socket, threading, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            tids = []
            def poller():
                tids.append(threading.get_native_id())
                waiting = select.poll(); waiting.register(client.fileno(), select.POLLIN)
                waiting.poll(500)
                listener.getsockname()
            thread = threading.Thread(target=poller); thread.start()
            # Closed only once the poller waits in poll (7) or ppoll (271), asleep: its wait entry
            # holds the file from then on (__pollwait's get_file), whatever the load.
            def waiting():
                if not tids: return False
                task = f"/proc/self/task/{tids[0]}/"
                return open(task + "syscall").read().split()[0] in ("7", "271") and open(task + "stat").read().rsplit(")", 1)[1].split()[0] == "S"
            while not waiting(): time.sleep(0.01)
            os.close(client.fileno())
            thread.join(); client.detach()
            server.recv(10); server.close(); listener.close()
            """
        let (calls, events) = try tracePythonCalls(script, name: "held-by-a-poll")
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.peer?.description == "127.0.0.1:\(port)" })
        let file = try #require(close.closedFile, "the close's file, read at its sys_enter")
        #expect(close.kernel?.operation == "socket_reference_dropped", "\(close.kernel?.operation ?? "none")")
        let pollTid = try #require(calls.first { $0.syscall == .getsockname && $0.tid != close.tid }?.tid, "the poller's call after its poll")
        let releases = events.filter { FileRelease.frees(file, $0) }
        #expect(releases.count == 1 && releases.allSatisfy { $0.tid == pollTid && $0.chain.contains("task_work_run") }
                // Proven that file's: the socket's release (its state change under __tcp_close) ran in the same task work (audit 83 f).
                && releases.allSatisfy { $0.inTracedTask?.contains("which close(\(close.socket?.fd ?? -1)) of \(close.tid) (file 0x\(String(file, radix: 16))) left to another reference") == true
                    && $0.inTracedTask?.contains("freed in the same task work as that socket's release (__tcp_close: ") == true
                    && $0.inTracedTask?.hasPrefix("between its traced calls") == true },
                "\(releases.map { "\($0.tid) \($0.heading) \($0.inTracedTask ?? "-")" })")
    }

    @Test("a recv whose descriptor another thread closes while it waits keeps the socket it ran on, and its operation (audit 72 e: no socket at its exit, unmodelled)")
    func recvKeepsItsSocketThroughAClose() throws {
        let port = TestSupport.freshPort()
        let script = """
            import os, socket, struct, threading, time
            receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); receiver.bind(("127.0.0.1", \(port)))
            receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300000))
            tids = []
            def reader():
                tids.append(threading.get_native_id())
                try: receiver.recv(10)
                except OSError: pass
            thread = threading.Thread(target=reader); thread.start()
            # Closed only once the reader waits in recvfrom (45), asleep in the kernel (not at the tracer's entry stop).
            def waiting():
                if not tids: return False
                task = f"/proc/self/task/{tids[0]}/"
                return open(task + "syscall").read().split()[0] == "45" and open(task + "stat").read().rsplit(")", 1)[1].split()[0] == "S"
            while not waiting(): time.sleep(0.01)
            os.close(receiver.fileno())
            thread.join(); receiver.detach()
            """
        let (calls, _) = try tracePythonCalls(script, name: "recv-through-close")
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.local?.description == "127.0.0.1:\(port)" })
        let recv = try #require(calls.first { $0.syscall == .recvfrom && $0.tid != close.tid })
        #expect(recv.result?.errno == EAGAIN && recv.endTime! > close.endTime!, "the recv ran through the close")
        #expect(recv.socket?.family == UInt64(AF_INET) && recv.socket?.local?.description == "127.0.0.1:\(port)", "\(String(describing: recv.socket))")
        #expect(recv.kernel?.operation == "udp_recv", "\(recv.kernel?.operation ?? "none")")
    }

    @Test("where reads and writes must stop (--stop-data-calls, as -k and --functions), the kernel still times every call and names a close's file: the close's release is told, reads and writes stopped and kernel-timed")
    func closeReleaseToldWhenEveryCallStops() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.sendall(b"ping"); server.recv(10)
            client.close(); server.close(); listener.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "stopping-release", options: ["--stop-data-calls"])
        let closes = calls.filter { $0.syscall == .close && $0.socket?.isTCP == true }
        #expect(closes.count == 3, "\(closes.map(\.entryText))")
        for close in closes {
            let file = try #require(close.closedFile, "\(close.entryText): no file named")
            let frees = close.kernel?.samples.filter { FileRelease.isFileFree($0) } ?? []
            #expect(frees.count == 1 && frees.allSatisfy { FileRelease.frees(file, $0) }, "\(close.entryText): \(frees.map(\.heading))")
            #expect(close.kernelEntryTime != nil && close.kernel?.operation != "socket_reference_dropped", "\(close.kernel?.operation ?? "none")")
        }
        let data = calls.filter { $0.syscall == .sendto || $0.syscall == .recvfrom }
        #expect(!data.isEmpty && data.allSatisfy { !$0.recordedByKernel && $0.kernelEntryTime != nil && $0.kernelExitTime != nil },
                "\(data.map { "\($0.name) \($0.recordedByKernel) \(String(describing: $0.kernelEntryTime))" })")
    }

    @Test("SCM_RIGHTS references counted as the kernel holds them: a sendmsg let run still counts the one it passes; a receive with no room for it (MSG_CTRUNC, or no control buffer) drops it (audit 73 M2, audit 74 N2)")
    func rightsInFlightCountedAsTheKernelHoldsThem() throws {
        let script = """
            import array, socket
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            def passed():
                f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); f.bind(("127.0.0.1", 0))
                left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
                return f
            # In flight when closed: the message holds it.
            f = passed(); f.close(); right.recvmsg(1)
            # Dropped by a receive with no room for it, then closed: the last reference.
            f = passed(); right.recvmsg(1); f.close()
            # Dropped by a receive with no control buffer at all (recvfrom), then closed.
            f = passed(); right.recv(1); f.close()
            """
        let (calls, events) = try tracePythonCalls(script, name: "rights-in-flight")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.isUDP == true }
        try #require(closes.count == 3, "\(closes.map(\.entryText))")
        #expect(closes[0].socket?.otherReferences == 1, "\(String(describing: closes[0].socket?.otherReferences))")
        #expect(closes[0].kernel?.operation == "socket_reference_dropped"
                && closes[0].kernel?.fileRelease?.contains("at least 1 other reference in SCM_RIGHTS messages a traced process sent") == true,
                "\(closes[0].kernel?.fileRelease ?? "")")
        let receives = calls.filter { $0.syscall == .recvmsg }
        #expect(receives.count == 2 && receives.allSatisfy { $0.exitText.contains("MSG_CTRUNC") }, "\(receives.map(\.exitText))")
        #expect(closes[1].socket?.otherReferences == 0, "\(String(describing: closes[1].socket?.otherReferences))")
        #expect(closes[1].kernel?.operation == "udp_close" && closes[1].kernel?.fileRelease == nil, "\(closes[1].kernel?.fileRelease ?? "")")
        #expect(closes[2].socket?.otherReferences == 0 && closes[2].kernel?.operation == "udp_close" && closes[2].kernel?.fileRelease == nil,
                "\(String(describing: closes[2].socket?.otherReferences)) \(closes[2].kernel?.fileRelease ?? "")")
        // The first file's release: at the cutting receive's exit stop, named as that close's.
        let file = try #require(closes[0].closedFile)
        let release = events.filter { FileRelease.frees(file, $0) }
        #expect(release.count == 1 && release.allSatisfy { $0.tid == receives[0].tid && $0.time > receives[0].startTime
            && $0.inTracedTask?.contains("in an SCM_RIGHTS message that carried it, dropped as this receive") == true
            && $0.inTracedTask?.contains("close(\(closes[0].socket?.fd ?? -1)) of \(closes[0].tid) (file 0x\(String(file, radix: 16)))") == true },
                "\(release.map { $0.inTracedTask ?? "-" })")
    }

    @Test("a socket passed in an SCM_RIGHTS message still queued is not released by the sender's exit, nor perhaps, though the receiver took a data-only message before it with recv (audit 75 F1, audit 77 M2)")
    func rightsMessageQueuedPastADataOnlyReceive() throws {
        let script = """
            import array, os, socket, time
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            child = os.fork()
            if child == 0:
                left.close()
                time.sleep(0.2); right.recv(1)                       # the data-only message
                time.sleep(0.4); _, fds, _, _ = socket.recv_fds(right, 1, 1)
                os.close(fds[0]); os._exit(0)
            right.close()
            f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); f.bind(("127.0.0.1", 0))
            left.send(b"d")
            left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
            time.sleep(0.4)
            os._exit(0)
            """
        let trace = try tracePython(script, name: "rights-queued")
        let exits = try ends(trace)
        try #require(exits.count == 2, "\(exits)")
        // The sender exits first (at 0.4 s), the message holding its UDP socket still queued.
        let sender = try #require(exits.first)
        #expect(sender.releasedSockets?.contains { $0.protocolLabel == "UDP" } != true, "\(sender.releasedSockets ?? [])")
        // Nor perhaps: the recv took "d", not the rights message's "x" (audit 77 M2).
        #expect(sender.perhapsReleasedSockets == nil, "\(sender.perhapsReleasedSockets ?? [])")
    }

    @Test("an exit releasing a socket held besides only by an SCM_RIGHTS message a recv may have taken says it perhaps released it, after the sender's end too; the receiving socket's later release perhaps releases it (audit 76 F1, audit 77 F2)")
    func exitPerhapsReleasesASocketInDoubt() throws {
        let script = """
            import array, os, socket, time
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            x = socket.create_connection(l.getsockname()); s, _ = l.accept()
            receiver = os.fork()
            if receiver == 0:
                left.close(); time.sleep(0.3); right.recv(1); time.sleep(0.2); os._exit(0)
            sender = os.fork()
            if sender == 0:
                left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [x.fileno()]))])
                os._exit(0)
            x.close(); left.close()
            os.waitpid(sender, 0); os.waitpid(receiver, 0); time.sleep(0.1)
            os._exit(0)
            """
        let trace = try tracePython(script, name: "rights-doubt-exit")
        let exits = try ends(trace)
        try #require(exits.count == 3, "\(exits)")
        // The receiver, second: its inherited copy of x is the last descriptor; the message may have been taken by its recv.
        let receiver = exits[1]
        let perhaps = receiver.perhapsReleasedSockets ?? []
        #expect(perhaps.count == 1 && perhaps.first?.peer != nil, "\(perhaps) \(receiver.releasedSockets ?? [])")
        #expect(receiver.releasedSockets?.contains { $0.inode == perhaps.first?.inode } != true)
        // The parent, last, holds the receiving socket: its release drops the message if it still waited, releasing x then.
        let parent = try #require(exits.last)
        let carried = parent.releasedInMessages ?? []
        #expect(carried.count == 1 && carried.allSatisfy { $0.perhapsEarlier && $0.socket.inode == perhaps.first?.inode }, "\(carried)")
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        #expect(text.contains("; perhaps also ") && text.contains("held besides only by SCM_RIGHTS messages")
                && text.contains("unless a receive with no room for its descriptors took that message earlier"), "\(text)")
    }

    @Test("a UNIX socket's release drops the SCM_RIGHTS messages waiting at it: a receiver's exit leaves the sender's exit the socket's last holder, and an exit releasing the receiving socket releases the socket its queue alone held, under that socket's own operation (audit 77 F1, F2)")
    func releasedReceiverDropsItsWaitingMessages() throws {
        // F1: the receiver exits with the message queued; the sender's exit then holds the last reference.
        let first = """
            import array, os, socket, time
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            x = socket.create_connection(l.getsockname()); s, _ = l.accept()
            if os.fork() == 0:
                left.close(); time.sleep(0.2); os._exit(0)
            right.close()
            left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [x.fileno()]))])
            time.sleep(0.5); os._exit(0)
            """
        let exits = try ends(try tracePython(first, name: "rights-receiver-exit"))
        try #require(exits.count == 2, "\(exits)")
        let sender = try #require(exits.last)
        // Its two connections' ends, x among them: the message holding x went with the receiver.
        #expect(sender.releasedSockets?.filter { $0.protocolLabel == "TCP" && $0.peer != nil }.count == 2 && sender.perhapsReleasedSockets == nil,
                "\(sender.releasedSockets ?? [])")
        // F2: the receiving socket itself is released by the receiver's exit, the
        // message holding the connection's last reference still queued at it.
        let second = """
            import array, os, socket, time
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            x = socket.create_connection(l.getsockname()); s, _ = l.accept()
            if os.fork() == 0:
                left.close(); l.close(); s.close(); x.close(); time.sleep(0.3); os._exit(0)
            right.close()
            left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [x.fileno()]))])
            x.close(); time.sleep(0.6)
            s.recv(1); s.close(); l.close()
            """
        let trace = try tracePython(second, name: "rights-receiving-socket-exit")
        let ends = try ends(trace)
        let receiver = try #require(ends.first { $0.pid != ends.last?.pid }, "\(ends)")
        let carried = receiver.releasedInMessages ?? []
        let waitingAt = try #require(receiver.releasedSockets?.first { $0.family == UInt64(AF_UNIX) }, "\(receiver.releasedSockets ?? [])")
        #expect(carried.count == 1 && carried.allSatisfy { $0.socket.protocolLabel == "TCP" && $0.socket.peer != nil && !$0.perhapsEarlier
            && $0.waitingAt == waitingAt.fd }, "\(carried) \(receiver.releasedSockets ?? [])")
        // Its FIN under its own operation, not the UNIX socket's.
        let exitKernel = try #require(receiver.exitKernel)
        let states = exitKernel.samples.filter { $0.tracepoint == "sock:inet_sock_set_state" }
        let operation = { (sample: KernelSample) in exitKernel.alignment(of: sample, where: { _ in true })?.operation ?? "none" }
        #expect(!states.isEmpty && states.allSatisfy { operation($0) == "tcp_close" }, "\(states.map(operation))")
        // The FIN's receive on the exit's stack (where loopback took it in at
        // once) is that socket's, named by its release's state change, of the
        // 2 the exit released (was "which one's packet this is is not read").
        let fin = try #require(exitKernel.samples.first { $0.tracepoint == "net:net_dev_queue" && $0.chain.contains("__tcp_close") })
        for receive in exitKernel.samples where receive.tracepoint == "net:netif_receive_skb" && receive.skbAddress == fin.skbAddress {
            #expect(receive.flow?.owner == .ownSocket && receive.flow?.evidence.contains("the release (__tcp_close) in the exit of") == true
                    && receive.flow?.evidence.contains("one of the 2 sockets the exit released") == true, "\(receive.flow?.evidence ?? "-")")
        }
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        #expect(text.contains("; with them <TCP ") && text.contains("in an SCM_RIGHTS message waiting at \(waitingAt.fd)<UNIX"), "\(text)")
    }

    @Test("an exit releasing only a listener: the resets its release sends to the connections it had not accepted are said to be theirs, not \"this socket's\", and the clients' state changes the peers' (audit 84 M1)")
    func exitReleasingAListenerResetsItsUnacceptedConnections() throws {
        let script = """
            import os, socket, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(); address = l.getsockname()
            r, w = os.pipe()
            if os.fork() == 0:
                l.close()
                clients = [socket.create_connection(address) for _ in range(2)]
                os.write(w, b"1"); time.sleep(0.6); os._exit(0)
            os.read(r, 1); time.sleep(0.1)
            os._exit(0)
            """
        let trace = try tracePython(script, name: "listener-exit-resets")
        let exits = try ends(trace)
        let server = try #require(exits.first { $0.releasedSockets?.contains { $0.state == .listening } == true }, "\(exits)")
        #expect(server.releasedSockets?.count == 1, "\(server.releasedSockets ?? [])")
        let samples = try #require(server.exitKernel?.samples)
        let flows = samples.compactMap(\.flow)
        #expect(!flows.contains { $0.description.contains("this socket") }, "\(flows.map(\.description))")
        // Where loopback took a reset in on the exit's stack: the packet is an unaccepted connection's.
        for receive in samples where receive.tracepoint == "net:netif_receive_skb" {
            #expect(receive.flow?.said == "packet sent by a connection a released listener had not accepted"
                    && receive.flow?.evidence.contains("that it had not accepted, which its release closed") == true, "\(receive.flow?.description ?? "-")")
        }
    }

    @Test("a close of a UNIX socket's last reference drops the SCM_RIGHTS messages waiting at it: a socket they alone held is released with it (its file's free linked), and a later close of one they held says no other reference (audit 77 M1, m2)")
    func closedReceiverDropsItsWaitingMessages() throws {
        let script = """
            import array, socket
            def passed(left):
                f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); f.bind(("127.0.0.1", 0))
                left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
                return f
            # The receiving socket closed first: the message goes, the later close is the last reference.
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            f = passed(left); right.close(); f.close(); left.close()
            # The passed socket closed first: the message holds its last reference, released with the receiving socket.
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            g = passed(left); g.close(); right.close(); left.close()
            """
        let (calls, events) = try tracePythonCalls(script, name: "rights-receiver-close")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.isUDP == true }
        try #require(closes.count == 2, "\(closes.map(\.entryText))")
        #expect(closes[0].socket?.otherReferences == 0 && closes[0].kernel?.operation == "udp_close" && closes[0].kernel?.fileRelease == nil,
                "\(String(describing: closes[0].socket?.otherReferences)) \(closes[0].kernel?.fileRelease ?? "")")
        #expect(closes[1].socket?.otherReferences == 1 && closes[1].kernel?.operation == "socket_reference_dropped")
        let unixCloses = calls.filter { $0.syscall == .close && $0.socket?.family == UInt64(AF_UNIX) }
        try #require(unixCloses.count == 4, "\(unixCloses.map(\.entryText))")
        #expect(unixCloses[0].releasedInMessages == nil, "the first message's socket was still held by its descriptor")
        let carried = unixCloses[2].releasedInMessages ?? []
        #expect(carried.count == 1 && carried.first?.socket.inode == closes[1].socket?.inode && carried.first?.perhapsEarlier == false,
                "\(carried)")
        // The passed socket's file freed as that close returned, named as the file its own close left.
        let file = try #require(closes[1].closedFile)
        let release = events.filter { FileRelease.frees(file, $0) }
        #expect(release.count == 1 && release.allSatisfy { $0.tid == unixCloses[2].tid && $0.time > unixCloses[2].startTime
            && $0.inTracedTask?.contains("waiting at the socket this close released") == true },
                "\(release.map { $0.inTracedTask ?? "-" })")
    }

    @Test("SCM_RIGHTS messages sent by sendmmsg are counted, and dropped with the UNIX socket a dup2 closes; an exit that releases one socket through two descriptors counts it once (audit 78 F3, F4, F5)")
    func rightsBySendmmsgDup2AndDupCounts() throws {
        let script = """
            import array, ctypes, os, socket
            libc = ctypes.CDLL(None, use_errno=True)
            class IOVec(ctypes.Structure): _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
            class MsgHdr(ctypes.Structure):
                _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(IOVec)), ("iovlen", ctypes.c_size_t),
                            ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]
            class MMsgHdr(ctypes.Structure): _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint32)]
            def sendmmsg_rights(sock, fd):
                data = ctypes.create_string_buffer(b"x", 1)
                iov = IOVec(ctypes.cast(data, ctypes.c_void_p), 1)
                control = ctypes.create_string_buffer(socket.CMSG_SPACE(4))
                ctypes.memmove(control, bytes(array.array("q", [socket.CMSG_LEN(4)])) + bytes(array.array("i", [socket.SOL_SOCKET, socket.SCM_RIGHTS, fd])), 20)
                message = MMsgHdr(MsgHdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(control, ctypes.c_void_p), len(control), 0), 0)
                assert libc.sendmmsg(sock.fileno(), ctypes.byref(message), 1, 0) == 1, ctypes.get_errno()
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            # sendmmsg: the message holds x after its close; the exit's release of the receiving socket releases it.
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            x = socket.create_connection(l.getsockname()); xs, _ = l.accept()
            sendmmsg_rights(left, x.fileno()); x.close()
            # dup2 over the receiving socket of a message holding y's last reference.
            left2, right2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            y = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); y.bind(("127.0.0.1", 0))
            left2.sendmsg([b"y"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [y.fileno()]))]); y.close()
            os.dup2(left2.fileno(), right2.fileno())
            # z held by two descriptors: one socket.
            z = socket.create_connection(l.getsockname()); zs, _ = l.accept(); os.dup(z.fileno())
            os._exit(0)
            """
        let trace = try tracePython(script, name: "rights-sendmmsg-dup2")
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records { calls.append(call) }
        let dup2 = try #require(calls.first { $0.syscall == .dup2 }, "\(calls.map(\.name))")
        #expect(dup2.releasedInMessages?.count == 1 && dup2.releasedInMessages?.first?.socket.protocolLabel == "UDP",
                "\(dup2.releasedInMessages ?? [])")
        // The files it closed freed as it returned (the UNIX socket's, y's): shown, not left out (audit 80 H1).
        var events: [KernelSample] = []
        for case let .kernelEvent(sample) in try TraceFileReader(path: trace).records { events.append(sample) }
        let frees = events.filter { FileRelease.isFileFree($0) && $0.tid == dup2.tid && $0.atSyscallStop == .exit
            && $0.time >= dup2.startTime && $0.time.nanoseconds < dup2.startTime.nanoseconds + 50_000_000 }
        #expect(frees.count == 2 && frees.contains { $0.inTracedTask?.contains("as this dup2 returned: one it closed") == true }, "\(events.map { "\($0.time) \($0.heading)" })")
        let exit = try #require(try ends(trace).last)
        let carried = exit.releasedInMessages ?? []
        #expect(carried.count == 1 && carried.first?.socket.protocolLabel == "TCP" && carried.first?.perhapsEarlier == false, "\(carried)")
        // Sockets released: the listener, xs, z (twice in the list), zs, left, right, left2 (twice), and x with them: 8.
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        // (Said where a packet of its releases is attributed: "one of the N sockets the exit released".)
        let counts = text.matches(of: /the exit released (\d+) sockets|one of the (\d+) sockets the exit released/).map { Int($0.1 ?? $0.2 ?? "")! }
        #expect(!counts.isEmpty && counts.allSatisfy { $0 == 8 }, "\(counts)")
    }

    @Test("a receiving socket whose descriptor was closed (close_range) while another thread's call held it, that thread ended by the exit: the exit releases it and the socket its queue held, a TCP socket so held too; close_range over a UNIX socket is shown with the release it made (audit 79 B, A, audit 81 N1, N5)")
    func heldReceiverReleasedByTheExitAndCloseRange() throws {
        let script = """
            import array, os, socket, threading, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            # close_range over the receiving socket of a message holding y's last reference.
            left2, right2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            y = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); y.bind(("127.0.0.1", 0))
            left2.sendmsg([b"y"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [y.fileno()]))]); y.close()
            os.closerange(right2.fileno(), right2.fileno() + 1); right2.detach()
            # x's last reference waits at right; a thread blocks sending on right (left's queue full).
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            x = socket.create_connection(l.getsockname()); xs, _ = l.accept()
            left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [x.fileno()]))]); x.close()
            def asleep(tids, number):
                # Until the thread appended to tids is asleep in the kernel in syscall `number`.
                while not tids or open(f"/proc/self/task/{tids[0]}/syscall").read().split()[0] != number \
                        or open(f"/proc/self/task/{tids[0]}/stat").read().rsplit(")", 1)[1].split()[0] != "S":
                    time.sleep(0.01)
            def blocked(sock, number):
                # A thread blocked sending on sock (its peer's queue full), asleep in the kernel in `number`.
                sock.setblocking(False)
                try:
                    while True: sock.send(b"f")
                except BlockingIOError: pass
                sock.setblocking(True)
                tids = []
                def sender():
                    tids.append(threading.get_native_id())
                    sock.send(b"g")
                threading.Thread(target=sender, daemon=True).start()
                asleep(tids, number)
            def receiving(sock):
                # A thread blocked in a recv on sock, asleep in recvfrom (45).
                tids = []
                def receiver():
                    tids.append(threading.get_native_id())
                    try: sock.recv(1)
                    except OSError: pass
                threading.Thread(target=receiver, daemon=True).start()
                asleep(tids, "45")
            blocked(right, "44")
            os.close(right.fileno())
            # close_range over a receiving socket while a send holds it: nothing released there (audit 81 N5).
            left3, right3 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); w.bind(("127.0.0.1", 0))
            left3.sendmsg([b"w"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w.fileno()]))]); w.close()
            blocked(right3, "44")
            os.closerange(right3.fileno(), right3.fileno() + 1); right3.detach()
            # A TCP socket closed while another thread's recv holds it: the exit releases it too (audit 81 N1).
            t = socket.create_connection(l.getsockname()); ts, _ = l.accept()
            receiving(t)
            os.close(t.fileno()); t.detach()
            # The same taken by a dup2 (audit 82 P1).
            u = socket.create_connection(l.getsockname()); us, _ = l.accept()
            receiving(u)
            os.dup2(l.fileno(), u.fileno()); time.sleep(0.05)
            os._exit(0)
            """
        let trace = try tracePython(script, name: "rights-held-exit")
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records { calls.append(call) }
        let closeRange = try #require(calls.first { $0.syscall == .close_range }, "close_range shown: \(calls.map(\.name))")
        #expect(closeRange.releasedInMessages?.count == 1 && closeRange.releasedInMessages?.first?.socket.protocolLabel == "UDP",
                "\(closeRange.releasedInMessages ?? [])")
        let closeRanges = calls.filter { $0.syscall == .close_range }
        #expect(closeRanges.count == 2 && closeRanges.last?.releasedInMessages == nil, "\(closeRanges.map { $0.releasedInMessages ?? [] })")
        let exit = try #require(try ends(trace).last)
        #expect(exit.releasedSockets?.contains { $0.fd == -1 && $0.family == UInt64(AF_UNIX) } == true, "\(exit.releasedSockets ?? [])")
        #expect(exit.releasedSockets?.filter { $0.fd == -1 && $0.protocolLabel == "TCP" && $0.peer != nil }.count == 2, "\(exit.releasedSockets ?? [])")
        let carried = exit.releasedInMessages ?? []
        #expect(carried.count == 2 && carried.contains { $0.socket.protocolLabel == "TCP" } && carried.contains { $0.socket.protocolLabel == "UDP" }
                && carried.allSatisfy { $0.waitingAt == -1 }, "\(carried)")
        // The blocked send's end, as the exit took its thread, is said to be in it (audit 80 F1), and the
        // receiving socket's file free there linked to the close that left it.
        var events: [KernelSample] = []
        for case let .kernelEvent(sample) in try TraceFileReader(path: trace).records { events.append(sample) }
        let inSend = events.filter { KernelCorrelator.isInAbandonedCall($0.inTracedTask) && $0.inTracedTask?.contains("its sendto, which never returned") == true }
        #expect(inSend.contains { $0.tracepoint == "sock:sock_send_length" }
                && inSend.contains { FileRelease.isFileFree($0) && $0.inTracedTask?.contains("left to this call, dropped as the thread ended in it") == true },
                "\(events.map { "\($0.heading) \($0.inTracedTask ?? "-")" })")
        // That send's record has the kernel's times of it: its sys_exit, as
        // the signal that ended the thread cut it short, after the length it
        // sent (sock_send_length fires as the send returns) (audit 84 a).
        var abandoned: [SyscallInvocation] = []
        for case let .syscallAbandoned(call) in try TraceFileReader(path: trace).records where call.syscall == .sendto { abandoned.append(call) }
        let send = try #require(abandoned.first, "the blocked sendto written as never returned")
        let sent = try #require(inSend.first { $0.tracepoint == "sock:sock_send_length" })
        let (entered, ended) = (try #require(send.kernelEntryTime), try #require(send.kernelExitTime, "no sys_exit of the sendto"))
        #expect(entered < sent.time && sent.time <= ended && send.entryTime <= entered, "\(send.entryTime) \(entered) \(sent.time) \(ended)")
        // The file of the socket the dup2 took from the blocked recv, freed as that recv left the kernel, shown (audit 83 P2).
        #expect(events.contains { FileRelease.isFileFree($0) && $0.inTracedTask?.hasPrefix("at the exit stop of its recvfrom, which never returned") == true
                    && $0.inTracedTask?.contains("a file freed as that call left the kernel") == true },
                "\(events.filter { FileRelease.isFileFree($0) }.map { "\($0.tid) \($0.heading) \($0.inTracedTask ?? "-")" })")
    }

    /// The `exited` and `killed` events of a trace file.
    func ends(_ trace: String) throws -> [ProcessEvent] {
        var ends: [ProcessEvent] = []
        for case let .process(event) in try TraceFileReader(path: trace).records where event.kind == .exited || event.kind == .killed {
            ends.append(event)
        }
        return ends
    }

    @Test("io_uring's connect, shutdown and closes are no system calls: the exit releases nothing io_uring closed, io_uring's worker thread's work is said to be the worker's, and work in io_uring_enter is in a call the trace does not record (audit 98 B, C)",
          .enabled(if: TestSupport.underCI || FileManager.default.fileExists(atPath: "/usr/include/liburing.h"), "needs liburing (scripts/setup.sh)"))
    func ioUringSockets() throws {
        let program = try TestSupport.build("uring_sockets.c", libraries: ["-luring"])
        let trace = TestSupport.temporaryFile("uring") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "-f", "--format", "jsonl", "-o", trace, program,
                                                                   String(TestSupport.freshPort())])
        #expect(result.status == 0, "\(result.stderr)")
        let exits = try ends(trace)
        try #require(exits.count == 1, "\(exits)")
        // The listener closed by close(2), the connection's two sockets by io_uring: nothing left for the exit.
        #expect(exits[0].releasedSockets == nil && exits[0].perhapsReleasedSockets == nil,
                "\(exits[0].releasedSockets ?? []) \(exits[0].perhapsReleasedSockets ?? [])")
        var samples: [KernelSample] = []
        for case let .kernelEvent(sample) in try TraceFileReader(path: trace).records { samples.append(sample) }
        // The shutdown's FIN, sent by the worker (IOSQE_ASYNC).
        let worker = samples.filter(\.inIOUringWorker)
        #expect(!worker.isEmpty, "\(samples.map { $0.heading + " " + $0.chain.joined(separator: "<") })")
        for sample in worker {
            let text = ExitKernelRecordTests.timeline(sample)
            // Its own work as the worker's; a traced flow's state change kept from any task, outside the traced tasks.
            #expect((text.contains("in an io_uring worker of the traced process") || text.contains("(outside the traced tasks: task "))
                    && !text.contains("in this traced thread"), "\(text)")
        }
        // Held at the exit, the connection accepted through io_uring too: the exit names all three sockets it releases,
        // learnt from the process's table at its exit stop, and their FINs are the connection's (audit 99 F).
        let held = TestSupport.temporaryFile("uring-hold") + ".jsonl"
        let holding = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", held, program,
                                                                    String(TestSupport.freshPort()), "hold"])
        #expect(holding.status == 0, "\(holding.stderr)")
        let end = try #require(try ends(held).first)
        let released = end.releasedSockets ?? []
        #expect(released.count == 3 && released.filter { $0.peer != nil }.count == 2, "\(released)")
        #expect(end.exitKernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true, "\(String(describing: end.exitKernel))")
        // The connect's SYN, sent in io_uring_enter.
        let entered = samples.filter { !$0.inIOUringWorker && $0.chain.contains { $0.hasSuffix("sys_io_uring_enter") } }
        #expect(entered.contains { $0.tracepoint == "net:net_dev_queue" }, "\(samples.map { $0.heading + " " + $0.chain.joined(separator: "<") })")
        for sample in entered where sample.atSyscallStop == nil {
            let text = ExitKernelRecordTests.timeline(sample)
            #expect(text.contains("in a call the trace does not record (") && !text.contains("between its calls"), "\(text)")
        }
    }

    @Test("a descriptor io_uring closed and gave to a UDP socket it made: the plain sendto and close on that number are the UDP socket's, never the closed connection's (with and without the kernel observed)",
          .enabled(if: TestSupport.underCI || FileManager.default.fileExists(atPath: "/usr/include/liburing.h"), "needs liburing (scripts/setup.sh)"),
          arguments: ["on", "off"])
    func ioUringReusedDescriptor(kernel: String) throws {
        let program = try TestSupport.build("uring_sockets.c", libraries: ["-luring"])
        let trace = TestSupport.temporaryFile("uring-reuse") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "--format", "jsonl", "-o", trace, program,
                                                                   String(TestSupport.freshPort()), "reuse"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("client 5, datagram socket 5"), "\(result.stdout)")
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records { calls.append(call) }
        let onFive = calls.filter { [.sendto, .close].contains($0.syscall) && $0.argument(0) == 5 }
        #expect(onFive.count == 2 && onFive.allSatisfy { $0.socket?.protocolLabel == "UDP" && $0.entryText.contains("5<UDP") },
                "\(onFive.map { "\($0.entryText) \($0.socket?.protocolLabel ?? "-")" })")
        if kernel == "on" {
            let close = try #require(onFive.first { $0.syscall == .close })
            #expect(close.kernel?.operation == "udp_close", "\(close.kernel?.operation ?? "-")")
        }
    }

    /// Runs a Python script under trace into a trace file.
    func tracePython(_ script: String, name: String, options: [String] = ["--kernel", "on"]) throws -> String {
        let file = TestSupport.temporaryFile(name) + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile(name) + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, options + ["--format", "jsonl", "-o", trace, "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        return trace
    }

    /// The FIN a process's exit sends for a connection it released: its
    /// chain from do_exit down to the device, aligned with tcp_close by the
    /// model's `entry exit`; the frames above do_exit shown as they are.
    func expectExitFIN(_ activity: KernelActivity?, above: String) throws {
        let activity = try #require(activity, "no exit_kernel")
        #expect(activity.operation == "tcp_close" && activity.source == .observed)
        let fin = try #require(activity.alignments.first { $0.operation == "tcp_close" && $0.observed.last == "__dev_queue_xmit" },
                               "\(activity.alignments.map(\.observed))")
        #expect(inOrder([above, "do_exit", "task_work_run", "__fput", "sock_close", "inet_release", "tcp_close", "__tcp_close",
                         "__tcp_push_pending_frames", "tcp_write_xmit", "__tcp_transmit_skb", "ip_output", "__dev_queue_xmit"], in: fin.observed),
                "\(fin.observed)")
        let steps = Dictionary(uniqueKeysWithValues: fin.steps.map { ($0.function, $0) })
        for matched in ["do_exit", "task_work_run", "__fput", "sock_close", "tcp_close", "__dev_queue_xmit"] {
            #expect(steps[matched]?.status == .matched, "\(matched): \(String(describing: steps[matched]))")
        }
        #expect(steps["tcp_send_fin"]?.status == .tailCall, "\(String(describing: steps["tcp_send_fin"]))")
        #expect(fin.steps.first?.function == "do_exit", "the model's exit entry begins at do_exit: \(fin.steps.map(\.function))")
        #expect(!fin.extraFrames.contains(above), "frames above do_exit are not the model's to judge")
        let states = activity.samples.filter { $0.tracepoint == "sock:inet_sock_set_state" }.map(\.summary)
        #expect(states.contains { $0.hasPrefix("TCP_ESTABLISHED → TCP_FIN_WAIT1") }, "\(states)")
    }

    @Test("an exit releasing a listener, a connection with unread data and ones without: each state change under its own socket's operation (the listener's tcp_close_listener, the unread one's tcp_close_reset_unread, the others' tcp_close), in the file, the text and compare; the exit names none (audit 73 M1, audit 74 N1)")
    func exitReleasesEachSocketUnderItsOwnOperation() throws {
        let port = TestSupport.freshPort()
        let script = """
            import os, socket, time
            l = socket.socket(); l.bind(("127.0.0.1", \(port))); l.listen()
            c = socket.create_connection(("127.0.0.1", \(port))); a, _ = l.accept()
            quiet = socket.create_connection(("127.0.0.1", \(port))); q, _ = l.accept()
            c.send(b"x" * 10); time.sleep(0.05)
            os._exit(0)
            """
        let trace = try tracePython(script, name: "exit-sockets")
        let exit = try #require(try ends(trace).first?.exitKernel, "no exit capture")
        // A sample's own alignment: its heading and its frames (two packets' headings may be the same).
        func operation(of sample: KernelSample) -> String? {
            let syscall = ChainAligner.split(sample.chain).syscall
            return exit.alignments.first { $0.sample == sample.heading && $0.isSyscallPart && $0.observed == syscall }?.operation
        }
        let listener = try #require(exit.samples.first { $0.heading.contains("TCP_LISTEN → TCP_CLOSE") }, "\(exit.samples.map(\.heading))")
        #expect(operation(of: listener) == "tcp_close_listener", "\(exit.alignments.map { "\($0.operation) \($0.sample ?? "")" })")
        let reset = try #require(exit.samples.first { $0.tracepoint == "net:net_dev_queue" && $0.chain.contains("tcp_send_active_reset") })
        #expect(operation(of: reset) == "tcp_close_reset_unread")
        let resetState = exit.samples.first { $0.heading.contains("TCP_ESTABLISHED → TCP_CLOSE 127.0.0.1:\(port) →") && !$0.sides.softirq }
        #expect(resetState.map { operation(of: $0) } == "tcp_close_reset_unread")
        // Beside it, connections closed with a FIN: their state changes under tcp_close (audit 74 N1: the reset's was too).
        let fins = exit.samples.filter { $0.heading.contains("TCP_ESTABLISHED → TCP_FIN_WAIT1") && !$0.sides.softirq }
        #expect(!fins.isEmpty && fins.allSatisfy { operation(of: $0) == "tcp_close" }, "\(fins.map { operation(of: $0) ?? "-" })")
        #expect(exit.operation == nil, "\(exit.operation ?? "")")
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        let lines = text.components(separatedBy: "\n")
        let at = try #require(lines.firstIndex { $0.contains("↳ at sock:inet_sock_set_state TCP_LISTEN → TCP_CLOSE") })
        #expect(lines[at + 1].contains("exit tcp_close_listener:"), "\(lines[at + 1])")
        let compare = try TestSupport.run(TestSupport.sockettrace, ["compare", trace]).stdout
        #expect(compare.components(separatedBy: "\n").contains {
            $0.contains("exit tcp_close_listener") && $0.contains("sock:inet_sock_set_state") }, "\(compare)")
    }

    @Test("a process that exits holding a connection: its exit's FIN, captured from the exit stop on, aligned with tcp_close under the exit; the peer's receive on its stack")
    func releasedAtExit() throws {
        let script = """
            import os, socket
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            child = os.fork()
            if child == 0:
                c = socket.create_connection(l.getsockname()); c.send(b"hi"); os._exit(0)
            s, _ = l.accept(); s.recv(10); s.recv(10); os.waitpid(child, 0)
            """
        let trace = try tracePython(script, name: "exit")
        let exits = try ends(trace)
        // The child releases its connection (the listener it inherited stays the parent's); the parent, its own two.
        let child = try #require(exits.first)
        #expect(child.releasedSockets?.map(\.protocolLabel) == ["TCP"] && child.releasedSockets?.first?.peer != nil, "\(exits)")
        try expectExitFIN(child.exitKernel, above: "__x64_sys_exit_group")
        // On loopback the FIN is taken in by the peer's stack in a softirq on the exiting thread's stack: this socket's own packet.
        let receive = child.exitKernel?.samples.first { $0.tracepoint == "net:netif_receive_skb" }
        #expect(receive?.flow?.owner == .ownSocket, "\(String(describing: receive?.flow))")
        #expect(child.exitKernel?.alignments.contains { $0.context?.hasPrefix("softirq") == true } == true)
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        // When, by its samples' times (audit 95 F4: before the exit's end, the line's time).
        #expect(text.contains("↳ released by the exit: ")
                && text.contains(/their release, sampled on the exiting threads from their exit stop on (at \d+\.\d{6}|from \d+\.\d{6} to \d+\.\d{6})(, before the exit's end \(this line's time\))? \(tcp_close\):/),
                "\(text)")
        #expect(text.contains("+__x64_sys_exit_group → +do_group_exit → do_exit → task_work_run → __fput → sock_close"), "\(text)")
        #expect(!text.contains("is not observed"))
        let compare = try TestSupport.run(TestSupport.sockettrace, ["compare", trace]).stdout
        #expect(compare.contains("of them a process's exit)"), "\(compare)")
        // Without kernel observation there is no exit stop and no capture: the exit says it is not observed.
        let off = try tracePython(script, name: "exit-off", options: ["--kernel", "off"])
        let offChild = try #require(try ends(off).first)
        #expect(offChild.releasedSockets?.count == 1 && offChild.exitKernel == nil)
        let offText = try TestSupport.run(TestSupport.sockettrace, ["report", off]).stdout
        #expect(offText.contains("what their release sends (a FIN) is not observed: kernel observation is off"), "\(offText)")
    }

    @Test("a connection another live process also holds: the first exit releases nothing and captures nothing; the last holder's close sends the FIN")
    func sharedAtExitNotCaptured() throws {
        let script = """
            import os, socket, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); s, _ = l.accept()
            child = os.fork()
            if child == 0:
                os._exit(0)
            os.waitpid(child, 0); time.sleep(0.1); c.close(); s.recv(10)
            """
        let trace = try tracePython(script, name: "exit-shared")
        let exits = try ends(trace)
        let child = try #require(exits.first { $0.pid != exits.last?.pid }, "\(exits)")
        #expect(child.releasedSockets == nil && child.exitKernel == nil, "\(child)")
        var closes: [SyscallInvocation] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records where call.syscall == .close && call.socket?.protocolLabel == "TCP" {
            closes.append(call)
        }
        #expect(closes.first?.kernel?.operation == "tcp_close" && closes.first?.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true,
                "the FIN leaves at the parent's close")
    }

    @Test("a child stops at its exit while its parent still holds the connection, then the parent closes its copy before the child lets go of its files: the capture opens at that close and the FIN is under the exit (audit 17)")
    func exitLeftHolding() throws {
        // The child's exit frees 1 GiB before its files (exit_mm before exit_files):
        // the parent's close comes in between, as soon as the child's flags say it
        // is exiting (PF_EXITING, set after its exit stop, before exit_mm). A fixed
        // 20 ms wait instead once let the whole exit pass before the close.
        let script = """
            import os, socket, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); s, _ = l.accept()
            # Time for the tracer to write what came so far (a debug build works out
            # the first chains' evidence for seconds), so that no backlog delays
            # its look at the child's exit stop until after the parent's close.
            time.sleep(2)
            r, w = os.pipe()
            child = os.fork()
            if child == 0:
                big = b"x" * (1 << 30)
                os.write(w, b"1"); os._exit(0)
            os.read(r, 1)
            stat = os.open(f"/proc/{child}/stat", os.O_RDONLY)  # read again and again: one close, not one per look
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not int(os.pread(stat, 1024, 0).rsplit(b")", 1)[1].split()[6]) & 0x4: pass
            c.close()
            s.recv(10); os.waitpid(child, 0)
            """
        let trace = try tracePython(script, name: "exit-left-holding")
        let exits = try ends(trace)
        let child = try #require(exits.first { $0.pid != exits.last?.pid }, "\(exits)")
        #expect(child.releasedSockets?.count == 1, "\(child)")
        var closes: [SyscallInvocation] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records where call.syscall == .close && call.socket?.protocolLabel == "TCP" {
            closes.append(call)
        }
        let parentClose = try #require(closes.first { $0.socket?.state == .connected }, "\(closes.map(\.pid))")
        #expect(parentClose.kernel?.operation == "socket_reference_dropped", "\(parentClose.kernel?.operation ?? "-")")
        #expect(child.exitCaptureOpened?.hasPrefix("when \(parentClose.pid)'s close(") == true, "\(child.exitCaptureOpened ?? "-")")
        try expectExitFIN(child.exitKernel, above: "__x64_sys_exit_group")
        let text = try TestSupport.run(TestSupport.sockettrace, ["report", trace]).stdout
        #expect(text.contains("their release, sampled on the exiting threads from the moment \(parentClose.pid)'s close("), "\(text)")
    }

    @Test("a process with two threads exits holding a connection: both stop at their exit, the capture covers both (a filter is set once per event), the FIN is under the exit")
    func twoThreadExitCaptured() throws {
        let script = """
            import os, socket, threading, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            child = os.fork()
            if child == 0:
                c = socket.create_connection(l.getsockname())
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                time.sleep(0.2); os._exit(0)
            s, _ = l.accept(); s.recv(10); os.waitpid(child, 0)
            """
        let trace = try tracePython(script, name: "exit-threads")
        let exits = try ends(trace)
        let child = try #require(exits.first { $0.releasedSockets != nil && $0.tid == $0.pid && $0.pid != exits.last?.pid }, "\(exits)")
        // The last thread to go releases the files: the one that called exit_group, or the
        // sleeping thread the group exit killed (get_signal → do_group_exit), whichever ends last.
        let observed = child.exitKernel?.alignments.flatMap(\.observed) ?? []
        try expectExitFIN(child.exitKernel, above: observed.contains("__x64_sys_exit_group") ? "__x64_sys_exit_group" : "get_signal")
    }

    /// The tracer's perf event descriptors.
    static func perfDescriptors(of pid: Int32) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.contains("perf_event") == true }.count
    }

    @Test("a process killed by SIGKILL holding a connection: its exit's FIN is captured too, under the signal's frames; no capture event is left open")
    func killedAtExitCaptured() throws {
        let script = """
            import os, signal, socket, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            child = os.fork()
            if child == 0:
                c = socket.create_connection(l.getsockname()); time.sleep(30); os._exit(0)
            s, _ = l.accept()
            print("ready", flush=True); time.sleep(1)
            os.kill(child, signal.SIGKILL); os.waitpid(child, 0)
            print("killed", flush=True); time.sleep(1.5)
            s.recv(10)
            """
        let file = TestSupport.temporaryFile("killed") + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("killed") + ".jsonl"
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, "/usr/bin/python3", file])
        #expect(tracer.waitForOutput("ready"))
        let before = Self.perfDescriptors(of: tracer.pid)
        #expect(before > 0)
        #expect(tracer.waitForOutput("killed"))
        // Closed when the child's end is written, while the parent sleeps.
        #expect(ChildProcess.poll(timeout: 1.2) { Self.perfDescriptors(of: tracer.pid) == before },
                "perf events \(Self.perfDescriptors(of: tracer.pid)), \(before) before the exit")
        let result = try tracer.wait(timeout: 20)
        #expect(result.status == 0, "\(result.stderr)")
        let killed = try #require(try ends(trace).first { $0.kind == .killed }, "no killed event")
        #expect(killed.signal == SIGKILL && killed.releasedSockets?.count == 1)
        try expectExitFIN(killed.exitKernel, above: "get_signal")
        #expect(killed.exitKernel?.alignments.contains { $0.observed.contains("__x64_sys_exit_group") } == false)
    }

    @Test("shutdown(SHUT_WR) sends the FIN; the close after it sends none and says so (audit)")
    func closeAfterShutdown() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.shutdown(socket.SHUT_WR); server.recv(1); client.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "shutdown")
        let shutdown = try #require(calls.first { $0.syscall == .shutdown })
        #expect(shutdown.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true, "the FIN leaves at shutdown")
        let close = try #require(calls.last { $0.syscall == .close && $0.socket?.fd == shutdown.socket?.fd && $0.socket?.protocolLabel == "TCP" })
        let seen = (close.kernel?.samples ?? []).map { "\($0.heading) \($0.flow?.evidence ?? "") \($0.chain)" }
        #expect(close.kernel?.operation == "tcp_close_after_shutdown", "\(seen)")
        // Nothing sent by the close itself (softirq work run on its stack may send: CI, the peer's
        // delayed ACK of the FIN, sent by its timer on the close's stack, the ACK then taken in from
        // the backlog; ModelTests/closeAfterShutdownWithBacklog).
        #expect(close.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" && !$0.sides.softirq } == false, "\(seen)")
    }

    @Test("a write on an IPv6 UDP socket sending to an IPv4-mapped peer: inet_sendmsg, the other branch of sock_sendmsg_nosec's INDIRECT_CALL, past its BUG_ON's ud2, is not on this path (audit 98 E: it was called beside, the ud2 taken to go on)")
    func bugOnEndsTheWay() throws {
        let (calls, _) = try tracePythonCalls("""
            import socket, os
            receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); receiver.bind(("127.0.0.1", 0))
            sender = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); sender.connect(("::ffff:127.0.0.1", receiver.getsockname()[1]))
            for _ in range(3): os.write(sender.fileno(), b"hello")
            receiver.recv(100)
            """, name: "udp6-mapped-write")
        let writes = calls.filter { $0.syscall == .write && $0.socket?.type == 2 }
        try #require(writes.count == 3, "\(calls.map(\.entryText))")
        // The IPv6 socket's own operation, through IPv4's output (audit 98 A: told as udp_send, differs).
        for write in writes {
            #expect(write.kernel?.operation == "udp6_send" && write.kernel?.alignments.allSatisfy { $0.verdict != .differs } == true,
                    "\(write.kernel?.alignments.map { "\($0.operation) \($0.verdict.rawValue)" } ?? [])")
        }
        // Whatever operation tells them, inet_sendmsg is never said to run or be able to run beside their path.
        let steps = writes.flatMap { $0.kernel?.alignments ?? [] }.flatMap(\.steps).filter { $0.function == "inet_sendmsg" }
        #expect(steps.allSatisfy { $0.status == .notOnPath || $0.status == .unverified }, "\(steps)")
        // The code itself: from the return of sock_write_iter's call to inet6_sendmsg no way leads to its call to inet_sendmsg.
        let symbols = try #require(KernelSymbols.load())
        let evidence = CallEvidence(code: KernelCode(symbols: symbols, text: try KernelText()))
        let start = try #require(symbols.starts(of: "sock_write_iter").first)
        let flow = try #require(evidence.flow(ofFunctionAt: start))
        let branches = evidence.branches(ofFunctionAt: start).filter { $0.kind == .call }
        let name = { (branch: Branch) in branch.target.flatMap { symbols.extent(of: $0) }.map(\.function) }
        let six = branches.filter { name($0) == "inet6_sendmsg" }, four = branches.filter { name($0) == "inet_sendmsg" }
        try #require(!six.isEmpty && !four.isEmpty, "\(branches.map { evidence.describe($0) })")
        for call in six { #expect(four.allSatisfy { !flow.mayReach(from: call.end, to: $0.address) }, "\(evidence.describe(call))") }
    }

    @Test("an IPv6 TCP socket with an IPv4-mapped peer: its sends, reads and close are the IPv6 operations, their segments through IPv4's output, not differs (audit 98 A: an iperf3 server's reads and closes were tcp_recv and tcp_close, differs)")
    func mappedPeerOperations() throws {
        let (calls, _) = try tracePythonCalls("""
            import socket, os, time
            listener = socket.socket(socket.AF_INET6); listener.bind(("::", 0)); listener.listen()
            client = socket.create_connection(("127.0.0.1", listener.getsockname()[1])); server, _ = listener.accept()
            for _ in range(5):
                client.send(b"x" * 100); time.sleep(0.02)
                os.read(server.fileno(), 1000)
            server.send(b"y" * 10); client.recv(100)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1); server.send(b"z" * 100)
            server.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0); client.recv(100)
            server.close(); time.sleep(0.05); client.close()
            client = socket.create_connection(("127.0.0.1", listener.getsockname()[1])); server, _ = listener.accept()
            server.shutdown(socket.SHUT_WR); client.recv(1); time.sleep(0.05)
            client.close(); server.close(); listener.close()
            """, name: "mapped-peer")
        let mapped = calls.filter { $0.socket?.peer?.description.contains("::ffff:127.0.0.1") == true && $0.socket?.type == 1 }
        let named = Dictionary(grouping: mapped.filter { [.read, .sendto, .close, .shutdown].contains($0.syscall) || $0.syscall == .setsockopt && $0.argument(2) == 3 && $0.argument(1) == 6 },
                               by: \.syscall)
        try #require(named[.read]?.count == 5 && named[.sendto]?.count == 2 && named[.close]?.count == 2 && named[.shutdown]?.count == 1
                     && named[.setsockopt]?.count == 2, "\(mapped.map(\.entryText))")
        // (audit 99 G: the shutdown's FIN and the uncork's push were IPv4's operations' chains)
        let expected: [Syscall: String] = [.read: "tcp6_recv", .sendto: "tcp6_send", .close: "tcp6_close", .shutdown: "tcp6_shutdown",
                                           .setsockopt: "tcp6_setsockopt_push"]
        for (syscall, group) in named {
            // The second close finds its socket closed already (the peer's FIN answered the shutdown's): another operation.
            for call in syscall == .close ? Array(group.prefix(1)) : group where call.kernel?.source == .observed {
                #expect(call.kernel?.operation == expected[syscall] && call.kernel?.alignments.allSatisfy { $0.verdict != .differs } == true,
                        "\(call.entryText): \(call.kernel?.alignments.map { "\($0.operation) \($0.verdict.rawValue) \($0.observed)" } ?? [])")
            }
        }
        // The uncork pushed (the cork itself sent nothing); the close's FIN left through IPv4's output.
        #expect(named[.setsockopt]?.contains { $0.kernel?.source == .observed } == true)
        let close = try #require(named[.close]?.first)
        #expect(close.kernel?.alignments.contains { self.inOrder(["tcp_write_xmit", "__tcp_transmit_skb", "__ip_queue_xmit", "ip_output"], in: $0.observed) } == true,
                "\(close.kernel?.alignments.map(\.observed) ?? [])")
    }

    @Test("setsockopt that uncorks held-back data is tcp_setsockopt_push (tcp6_ for IPv6), its samples on do_tcp_setsockopt's push; one that pushes nothing has no operation", arguments: ["127.0.0.1", "::1"])
    func setsockoptPush(_ address: String) throws {
        let family = address.contains(":") ? "socket.AF_INET6" : "socket.AF_INET"
        let (calls, _) = try tracePythonCalls("""
            import socket
            listener = socket.socket(\(family)); listener.bind(("\(address)", \(TestSupport.freshPort()))); listener.listen()
            client = socket.create_connection(listener.getsockname()[:2]); server, _ = listener.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            client.send(b"x" * 100)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            assert len(server.recv(1000)) == 100
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            """, name: "setsockopt-push")
        let options = calls.filter { $0.syscall == .setsockopt && $0.socket?.type == 1 && $0.argument(1) == 6 }
        try #require(options.count == 3, "\(options.map(\.entryText))")
        let operation = address.contains(":") ? "tcp6_setsockopt_push" : "tcp_setsockopt_push"
        let uncork = options[1]
        #expect(uncork.kernel?.operation == operation, "\(String(describing: uncork.kernel?.operation))")
        let syscallParts = uncork.kernel?.alignments.filter(\.isSyscallPart) ?? []
        #expect(!syscallParts.isEmpty && syscallParts.allSatisfy { $0.operation == operation && $0.verdict != .differs
                    && self.inOrder(["do_tcp_setsockopt", "__tcp_push_pending_frames", "tcp_write_xmit"], in: $0.observed) },
                "\(syscallParts.map { "\($0.operation) \($0.verdict.rawValue) \($0.observed)" })")
        // Corking, and a TCP_NODELAY with nothing held back, send nothing: no operation's chain is claimed for them.
        for quiet in [options[0], options[2]] {
            #expect(quiet.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } != true && quiet.kernel?.operation == nil,
                    "\(quiet.entryText): \(String(describing: quiet.kernel?.operation))")
        }
    }

    @Test("shutdown's operations by how and state: SHUT_WR sends the FIN (tcp_shutdown); SHUT_RD, a second SHUT_WR and a listener's send nothing; a failed one claims no chain")
    func shutdownOperations() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, errno
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.shutdown(socket.SHUT_RD)
            client.shutdown(socket.SHUT_WR); server.recv(1)
            client.shutdown(socket.SHUT_WR)
            lone = socket.socket()
            try:
                lone.shutdown(socket.SHUT_WR)
            except OSError as e:
                assert e.errno == errno.ENOTCONN
            listener.shutdown(socket.SHUT_RDWR)
            """
        let (calls, _) = try tracePythonCalls(script, name: "shutdown")
        let shutdowns = calls.filter { $0.syscall == .shutdown }
        try #require(shutdowns.count == 5, "\(shutdowns.map(\.entryText))")
        let sent = { (call: SyscallInvocation) in call.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true }
        #expect(shutdowns[0].kernel?.operation == "tcp_shutdown_read" && !sent(shutdowns[0]), "SHUT_RD sends nothing")
        #expect(shutdowns[1].kernel?.operation == "tcp_shutdown" && sent(shutdowns[1]), "SHUT_WR: the FIN leaves")
        #expect(shutdowns[2].kernel?.operation == "tcp_shutdown_again" && !sent(shutdowns[2]), "the FIN already left")
        #expect(shutdowns[3].result?.errno == ENOTCONN && shutdowns[3].kernel?.expected.isEmpty == true,
                "a failed call is not given a successful one's chain: \(String(describing: shutdowns[3].kernel?.expected))")
        #expect(!sent(shutdowns[4]), "a listener's shutdown sends nothing")
        // Once in a full CI run (not in 11 runs alone, under load or not) the
        // listener's shutdown was given another operation; which, and from
        // what samples, the comment says when it happens again.
        withKnownIssue("a listener's shutdown given another operation, once, in a full parallel run", isIntermittent: true) {
            #expect(shutdowns[4].kernel?.operation == "tcp_shutdown_listener",
                    "\(String(describing: shutdowns[4].kernel?.operation)): \(shutdowns[4].kernel?.samples.map { $0.heading + " " + $0.chain.joined(separator: "<") } ?? [])")
        }
        // Its state change sampled as a chain (probe set full): tcp_disconnect's, not
        // tcp_shutdown's FIN path (it was told tcp_shutdown, a FIN, extra-frames).
        let (full, _) = try tracePythonCalls("""
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(TestSupport.freshPort()))); listener.listen()
            listener.shutdown(socket.SHUT_RDWR)
            other = socket.socket(); other.bind(("127.0.0.1", \(TestSupport.freshPort()))); other.listen()
            other.shutdown(socket.SHUT_WR)
            """, name: "shutdown-listener", options: ["--probe-set", "full"])
        let listeners = full.filter { $0.syscall == .shutdown }
        try #require(listeners.count == 2)
        #expect(listeners.map { $0.kernel?.operation } == ["tcp_shutdown_listener", "tcp_shutdown_listener_write"], "\(listeners.map { $0.kernel?.operation })")
        let stopped = try #require(listeners[0].kernel?.alignments.first, "the state change's chain")
        #expect(inOrder(["inet_shutdown", "tcp_disconnect", "inet_sk_state_store"], in: stopped.observed) && stopped.extraFrames.isEmpty,
                "\(stopped.observed) \(stopped.extraFrames)")
    }

    @Test("closes of sockets whose connect is under way (SYN_SENT: the listener's queue full), plain and with SO_LINGER 0: the connect abandoned, nothing sent, not a FIN's or a reset's close (audit 96 F1, F2), IPv4 and IPv6",
          arguments: ["4", "6"])
    func closeWhileConnecting(family: String) throws {
        let (address, domain) = family == "4" ? ("127.0.0.1", "AF_INET") : ("::1", "AF_INET6")
        let (calls, _) = try tracePythonCalls("""
            import socket, struct, time
            listener = socket.socket(socket.\(domain)); listener.bind(("\(address)", \(TestSupport.freshPort()))); listener.listen(0)
            first = socket.create_connection(listener.getsockname()[:2]); time.sleep(0.05)
            plain = socket.socket(socket.\(domain)); plain.setblocking(False); plain.connect_ex(listener.getsockname()[:2])
            linger = socket.socket(socket.\(domain)); linger.setblocking(False); linger.connect_ex(listener.getsockname()[:2])
            linger.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            time.sleep(0.1)
            plain.close(); linger.close(); first.close(); listener.close()
            """, name: "close-connecting")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.state == .connecting }
        try #require(closes.count == 2, "\(calls.filter { $0.syscall == .close }.map { "\($0.socket?.state as Any) \($0.socket?.tcpState as Any)" })")
        for close in closes {
            let kernel = try #require(close.kernel)
            #expect(close.socket?.tcpState == TCPState.synSent)
            #expect(kernel.operation == "tcp_close_connecting", "\(String(describing: kernel.operation))")
            // Its own witness: SYN_SENT → TCP_CLOSE in the call, and no packet queued.
            #expect(kernel.samples.contains { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["oldstate"]?.number == TCPState.synSent
                && $0.fields["newstate"]?.number == TCPState.close })
            #expect(!kernel.samples.contains { $0.tracepoint == "net:net_dev_queue" || $0.tracepoint == "tcp:tcp_send_reset" })
        }
        // The lingering one through tcp_disconnect, the plain one not.
        #expect(closes[0].kernel?.alignments.contains { $0.observed.contains("tcp_disconnect") } == false)
        #expect(closes[1].kernel?.alignments.contains { $0.observed.contains("tcp_disconnect") && $0.operation == "tcp_close_connecting" } == true)
    }

    @Test("a send on a connected socket whose peer has closed, the reset taken in from its backlog as release_sock runs: a plain send (tcp_send), never a Fast Open send (audit 95 F1), the reset's work in CLOSE_WAIT modelled (audit 101 M1), IPv4 and IPv6",
          arguments: ["4", "6"])
    func sendTakingInAReset(family: String) throws {
        let (address, domain) = family == "4" ? ("127.0.0.1", "AF_INET") : ("::1", "AF_INET6")
        let (calls, _) = try tracePythonCalls("""
            import socket, time
            listener = socket.socket(socket.\(domain)); listener.bind(("\(address)", \(TestSupport.freshPort()))); listener.listen()
            client = socket.create_connection(listener.getsockname()[:2]); server, _ = listener.accept()
            server.close(); time.sleep(0.2)
            client.send(b"after the peer closed")
            time.sleep(0.1); client.close()
            """, name: "send-reset")
        let send = try #require(calls.first { $0.syscall == .sendto && $0.result?.failed == false })
        let kernel = try #require(send.kernel)
        let operation = family == "4" ? "tcp_send" : "tcp6_send"
        #expect(kernel.operation == operation, "\(String(describing: kernel.operation))")
        #expect(!kernel.alignments.contains { $0.operation.contains("fastopen") }, "\(kernel.alignments.map(\.operation))")
        // The reset, taken in from the backlog on the send's own stack (release_sock → … → tcp_done), is sampled.
        let reset = try #require(kernel.alignments.first { $0.observed.contains("release_sock") && $0.observed.contains("tcp_done") },
                                 "\(kernel.samples.map { $0.heading + " " + $0.chain.joined(separator: "<") })")
        // In CLOSE_WAIT (the peer's FIN taken in): tcp_rcv_state_process's check finds the reset (tcp_backlog_states).
        #expect(reset.operation == operation && [.matches, .unverified].contains(reset.verdict)
                && inOrder(["release_sock", "tcp_rcv_state_process", "tcp_validate_incoming", "tcp_done"], in: reset.observed),
                "\(reset.operation) \(reset.verdict): \(reset.observed)")
    }

    @Test("a second listen only sets the backlog (listen_again); a connect that sent nothing draws no SYN: EISCONN, the completing one of a non-blocking socket (audit 24)")
    func callsThatSendNothing() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, errno, select
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(1); listener.listen(8)
            client = socket.socket(); client.setblocking(False)
            assert client.connect_ex(("127.0.0.1", \(port))) == errno.EINPROGRESS
            select.select([], [client], [], 5)
            assert client.connect_ex(("127.0.0.1", \(port))) in (0, errno.EISCONN)
            assert client.connect_ex(("127.0.0.1", \(port))) == errno.EISCONN
            server, _ = listener.accept(); client.close(); server.close()
            """
        let file = TestSupport.temporaryFile("nothing-sent") + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("nothing-sent") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        let records = try TraceFileReader(path: trace).records
        var calls: [SyscallInvocation] = []
        for record in records { if case let .syscall(call) = record { calls.append(call) } }
        let listens = calls.filter { $0.syscall == .listen }
        #expect(listens.map { $0.kernel?.operation } == ["listen", "listen_again"], "\(listens.map { $0.kernel?.operation })")
        let connects = calls.filter { $0.syscall == .connect }
        try #require(connects.count == 3)
        let sent = connects.map { call in call.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true }
        #expect(sent == [true, false, false], "only the first connect sends the SYN: \(sent)")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: nil)))
        let syns = diagram.split(separator: "\n").filter { $0.hasSuffix(": SYN") }
        #expect(syns.count == 1, "\(diagram)")
    }

    @Test("connect's operation is chosen by what it found: completing (tcp_connect_completion), repeated (tcp_connect_again), AF_UNSPEC (tcp_disconnect: a reset the peer's recv sees, drawn RST; none without a connection)")
    func connectVariants() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, errno, select, ctypes, time
            libc = ctypes.CDLL(None, use_errno=True)
            def disconnect(s):
                unspec = (ctypes.c_ubyte * 16)()
                assert libc.connect(s.fileno(), unspec, 16) == 0, ctypes.get_errno()
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(4)
            client = socket.socket(); client.setblocking(False)
            assert client.connect_ex(("127.0.0.1", \(port))) == errno.EINPROGRESS
            select.select([], [client], [], 5)
            assert client.connect_ex(("127.0.0.1", \(port))) in (0, errno.EISCONN)
            assert client.connect_ex(("127.0.0.1", \(port))) == errno.EISCONN
            server, _ = listener.accept(); client.setblocking(True)
            client.send(b"x"); server.recv(1)
            disconnect(client)
            server.settimeout(5)
            try:
                server.recv(1); reset = False
            except ConnectionResetError:
                reset = True
            assert reset, "the peer saw no reset"
            disconnect(client)
            lone = socket.socket(); disconnect(lone)
            disconnect(listener)
            """
        let file = TestSupport.temporaryFile("connect-variants") + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("connect-variants") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        let records = try TraceFileReader(path: trace).records
        var calls: [SyscallInvocation] = []
        for record in records { if case let .syscall(call) = record { calls.append(call) } }
        let connects = calls.filter { $0.syscall == .connect }
        try #require(connects.count == 7, "\(connects.map(\.entryText))")
        let operations = connects.map { $0.kernel?.operation ?? "-" }
        #expect(operations == ["tcp_connect", "tcp_connect_completion", "tcp_connect_again", "tcp_disconnect",
                               "tcp_disconnect_unconnected", "tcp_disconnect_unconnected", "tcp_disconnect_listener"], "\(operations)")
        let sent = connects.map { call in call.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == true }
        #expect(sent == [true, false, false, true, false, false, false], "\(sent)")
        // The reset's chain, as sampled: tcp_disconnect sends it.
        let reset = try #require(connects[3].kernel?.alignments.first { $0.operation == "tcp_disconnect" && $0.observed.last == "__dev_queue_xmit" })
        #expect(inOrder(["__inet_stream_connect", "tcp_disconnect", "tcp_send_active_reset", "__dev_queue_xmit"], in: reset.observed),
                "\(reset.observed)")
        #expect(connects[3].connectStart == ConnectStart(state: .connected, addressFamily: 0))
        #expect(connects[3].socket?.peer != nil, "a disconnect's socket is the connection it ended")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: nil)))
        let lines = diagram.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasSuffix(": SYN") }.count == 1, "\(diagram)")
        // The handshake drawn where the kernel's ESTABLISHED says: inside the
        // non-blocking connect on loopback (audit 26 F1: always "after").
        var changes: [KernelSample] = connects[0].kernel?.samples ?? []
        for record in records { if case let .kernelEvent(sample) = record { changes.append(sample) } }
        let established = try #require(changes.first { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["newstate"]?.number == TCPState.established
                && $0.fields["oldstate"]?.number == TCPState.synSent }, "ESTABLISHED not sampled")
        let synAck = try #require(lines.firstIndex { $0.hasSuffix(": SYN-ACK") }, "\(diagram)")
        let returned = try #require(lines.firstIndex { $0.contains("connect = -1 EINPROGRESS") }, "\(diagram)")
        #expect((synAck < returned) == (established.time <= connects[0].exitTime!), "\(diagram)")
        #expect(lines.contains { $0.contains("ESTABLISHED before connect returned") || $0.contains("after connect returned (sock") }, "\(diagram)")
        #expect(lines.contains { $0.hasSuffix("connect(AF_UNSPEC)") } && lines.contains { $0.hasSuffix(": RST (disconnected)") }, "\(diagram)")
        // With the minimal set the listen's only sample is its state change
        // (an event): its operation is still named, its chain said
        // unverified (audit 25 F4), in the HTML too (audit 27 M4).
        let minimal = TestSupport.temporaryFile("connect-variants-minimal") + ".jsonl"
        let again = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--probe-set", "minimal", "--format", "jsonl", "-o", minimal,
                                                                  "/usr/bin/python3", file])
        #expect(again.status == 0, "\(again.stderr)")
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", minimal])
        let text = report.stdout + report.stderr
        #expect(text.contains("↳ listen, no chain sampled on its path, only events (their stacks are kept, not aligned: --event-stacks shows them); "
                              + "the model's chain for it, unverified"), "\(text)")
        let html = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "html", minimal]).stdout
        #expect(html.contains("listen (no chain sampled on its path, only events, whose stacks are not aligned; the model&#39;s chain unverified)")
                || html.contains("listen (no chain sampled on its path, only events, whose stacks are not aligned; the model's chain unverified)"),
                "audit 27 M4")
        // The calls' time named as such, the kernel's handshake beside it (audit 26 F3).
        var connections: [Connection] = []
        for record in records { if case let .connection(connection) = record { connections.append(connection) } }
        let connection = try #require(connections.first)
        let kernel = try #require(connection.kernelHandshake, "the connect's samples hold SYN_SENT and ESTABLISHED")
        #expect(kernel < (connection.handshake ?? 0), "\(kernel) \(String(describing: connection.handshake))")
        #expect(text.contains("connect → accept ") && text.contains("kernel handshake (SYN_SENT → ESTABLISHED) ") && !text.contains(", handshake "), "\(text)")
    }

    @Test("a FIN sent where no traced close was (dup2 over the last descriptor, the process's exit) is drawn from the kernel's state change; one FIN each way")
    func implicitCloseFins() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, os, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(4)
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.send(b"hi"); server.recv(2)
            os.dup2(os.open("/dev/null", os.O_RDONLY), client.fileno())
            server.settimeout(5); assert server.recv(10) == b""
            second = socket.create_connection(("127.0.0.1", \(port))); peer, _ = listener.accept()
            peer.close(); second.settimeout(5); assert second.recv(10) == b""
            os._exit(0)
            """
        let file = TestSupport.temporaryFile("implicit-close") + ".py"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("implicit-close") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, "/usr/bin/python3", file])
        #expect(result.status == 0, "\(result.stderr)")
        let records = try TraceFileReader(path: trace).records
        for (choice, sender) in [(1, "CK->>SK"), (2, "CK->>SK")] {
            let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: choice)))
            let fins = diagram.split(separator: "\n").filter { $0.contains(": FIN") }
            // The first connection: the client's FIN in dup2; the second: the client's at its exit (the server's by its close).
            #expect(fins.filter { $0.contains(sender) && $0.contains("FIN (the kernel's TCP_ESTABLISHED → TCP_FIN_WAIT1, not in a traced close or shutdown") }.count == 1
                    || fins.filter { $0.contains(sender) && $0.contains("FIN (the kernel's TCP_CLOSE_WAIT → TCP_LAST_ACK, not in a traced close or shutdown") }.count == 1,
                    "connection \(choice): \(diagram)")
            #expect(fins.filter { $0.contains(sender) }.count == 1, "one FIN from the client: \(diagram)")
        }
    }

    @Test("data on the handshake's last ACK (sendto MSG_FASTOPEN, the SYN's data not taken) is the new connection's: tcp_child_data_softirq, not tcp_receive_after_fin (audit 24)")
    func dataOnTheHandshakeAck() throws {
        let port = TestSupport.freshPort()
        // Without a cookie the SYN asks for one and carries nothing; with one
        // cached (an earlier run) its data is not taken by a listener without
        // TCP_FASTOPEN: either way the bytes leave again with the last ACK.
        let script = """
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(4)
            client = socket.socket()
            client.sendto(b"first", socket.MSG_FASTOPEN, ("127.0.0.1", \(port)))
            server, _ = listener.accept(); assert server.recv(10) == b"first"
            client.close(); server.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "child-data")
        let send = try #require(calls.first { $0.syscall == .sendto })
        let softirq = (send.kernel?.alignments ?? []).filter { $0.context?.hasPrefix("softirq") == true }.map(\.operation)
        #expect(softirq.contains("tcp_child_data_softirq") && !softirq.contains("tcp_receive_after_fin"), "\(softirq)")
        let child = try #require(send.kernel?.alignments.first { $0.operation == "tcp_child_data_softirq" })
        #expect(inOrder(["tcp_v4_rcv", "tcp_child_process", "tcp_rcv_state_process", "__dev_queue_xmit"], in: child.observed), "\(child.observed)")
        #expect(child.verdict != .differs, "\(child.verdict)")
    }

    @Test("SO_LINGER 0: close sends a reset (tcp_close_reset); the peer's close after ECONNRESET sends nothing (tcp_close_unconnected)")
    func closeWithReset() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, struct, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            time.sleep(0.05)
            try: server.recv(10)
            except ConnectionResetError: pass
            server.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "linger")
        let closes = calls.filter { $0.syscall == .close && $0.socket?.protocolLabel == "TCP" && $0.socket?.peer != nil }
        try #require(closes.count == 2, "\(closes.map(\.name))")
        let reset = closes[0], afterReset = closes[1]
        #expect(reset.kernel?.operation == "tcp_close_reset", "\(reset.kernel?.alignments.map { "\($0.operation): \($0.observed)" } ?? [])")
        #expect(reset.kernel?.alignments.contains { inOrder(["__tcp_close", "tcp_disconnect", "tcp_send_active_reset", "__dev_queue_xmit"], in: $0.observed) } == true)
        #expect(afterReset.kernel?.operation == "tcp_close_unconnected")
        #expect(afterReset.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "nothing leaves after the reset")
    }

    @Test("UDP: bind is udp_bind (its address checked in the FIB), an unconnected sendto's route lookup is on udp_send's tree, not extra frames (probe set full)")
    func udpBindAndRoute() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket
            server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); server.bind(("127.0.0.1", \(port)))
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.sendto(b"ping", ("127.0.0.1", \(port))); data, peer = server.recvfrom(10); server.sendto(data, peer); client.recv(10)
            """
        let (calls, _) = try tracePythonCalls(script, name: "udp-route", options: ["--probe-set", "full"])
        let bind = try #require(calls.first { $0.syscall == .bind })
        #expect(bind.kernel?.operation == "udp_bind", "\(String(describing: bind.kernel?.operation))")
        let sends = calls.filter { $0.syscall == .sendto }
        try #require(sends.count == 2)
        for send in sends {
            let route = send.kernel?.alignments.filter { $0.observed.contains("fib_table_lookup") } ?? []
            #expect(!route.isEmpty && route.allSatisfy { $0.operation == "udp_send" && $0.extraFrames.isEmpty },
                    "\(route.map { "\($0.operation) \($0.extraFrames): \($0.observed)" })")
        }
    }

    @Test("socketpair's call is the pair's creation (unix_socket_create), not unmodelled for want of a socket")
    func socketpairOperation() throws {
        let (calls, _) = try tracePythonCalls("import socket\na, b = socket.socketpair()\na.send(b'x'); b.recv(1)", name: "socketpair")
        let pair = try #require(calls.first { $0.syscall == .socketpair })
        #expect(pair.socket?.family == 1, "\(String(describing: pair.socket))")
        #expect(pair.kernel?.operation == "unix_socket_create", "\(String(describing: pair.kernel?.operation))")
    }

    @Test("the ACK of a closed socket's FIN hands it to a timewait socket: tcp_fin_acked_softirq (tcp_time_wait → tcp_done), not a FIN received (probe set full)")
    func finAckedIntoTimeWait() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            for _ in range(3):
                client.send(b"hi"); server.recv(2); time.sleep(0.01)
            # Its FIN's ACK delayed (the server's delayed-ACK timer, at most TCP_DELACK_MAX, 200 ms),
            # taken in once close has let go; the server's own close well after it (under the full
            # suite's load the timer fired after a 0.2 s wait once: the FIN came with the ACK).
            client.close(); time.sleep(0.6); server.close(); time.sleep(0.05)
            """
        let (calls, events) = try tracePythonCalls(script, name: "fin-acked", options: ["--probe-set", "full"])
        let alignments = calls.flatMap { $0.kernel?.alignments ?? [] } + events.flatMap { $0.alignments ?? [] }
        // The full socket done from tcp_rcv_state_process with no FIN taken in there (tcp_time_wait
        // left by a jump to tcp_done: no frame of its own).
        let handedOver = alignments.filter {
            $0.context?.hasPrefix("softirq") == true && $0.observed.contains("tcp_rcv_state_process") && $0.observed.contains("tcp_done") && !$0.observed.contains("tcp_fin")
        }
        try #require(!handedOver.isEmpty, "\(alignments.map { "\($0.operation): \($0.observed)" })")
        #expect(handedOver.allSatisfy { alignment in
            alignment.operation == "tcp_fin_acked_softirq" && alignment.verdict != .differs
                && alignment.steps.contains { $0.function == "tcp_time_wait" && $0.status == .tailCall }
        }, "\(handedOver.map { "\($0.operation) \($0.verdict): \($0.steps.map { "\($0.function) \($0.status)" })" })")
    }

    @Test("close with data left unread: __tcp_close sends the reset itself (tcp_close_reset_unread, reason TCP_ABORT_ON_CLOSE), tcp_disconnect not on its path (audit 26 F13)")
    func closeWithUnreadData() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            client.send(b"never read"); time.sleep(0.05)
            server.close()
            time.sleep(0.05)
            try: client.recv(10)
            except ConnectionResetError: pass
            client.close()
            """
        let (calls, _) = try tracePythonCalls(script, name: "unread")
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.protocolLabel == "TCP" && $0.socket?.peer != nil })
        #expect(close.kernel?.operation == "tcp_close_reset_unread", "\(close.kernel?.alignments.map { "\($0.operation): \($0.observed)" } ?? [])")
        let reset = try #require(close.kernel?.alignments.first { $0.operation == "tcp_close_reset_unread" && $0.observed.last == "__dev_queue_xmit" })
        #expect(inOrder(["__tcp_close", "tcp_send_active_reset", "__dev_queue_xmit"], in: reset.observed) && !reset.observed.contains("tcp_disconnect"),
                "\(reset.observed)")
        #expect(reset.verdict != .differs, "\(reset.verdict)")
        // The kernel's own word: the reset's reason.
        #expect(close.kernel?.samples.contains { $0.tracepoint == "tcp:tcp_send_reset" && $0.summary.contains("TCP_ABORT_ON_CLOSE") } != false,
                "\(close.kernel?.samples.map(\.summary) ?? [])")
    }

    @Test("TCP_USER_TIMEOUT: the data never arrives, timers retransmit it elsewhere, recv returns ETIMEDOUT, the close sends nothing")
    func closeAfterTimeout() throws {
        let port = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("user-timeout") + ".jsonl"
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/user_timeout.py").path
        let result = try traceDropping("tcp dport \(port) tcp flags '&' psh == psh", file: file, command: "/usr/bin/python3 \(program) \(port)")
        #expect(result.status == 0, "\(result.stderr)")
        var calls: [SyscallInvocation] = [], retransmissions: [KernelSample] = []
        for record in try TraceFileReader(path: file).records {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .kernelEvent(sample) = record, sample.tracepoint == "tcp:tcp_retransmit_skb" { retransmissions.append(sample) }
        }
        retransmissions += calls.flatMap { $0.kernel?.samples.filter { $0.tracepoint == "tcp:tcp_retransmit_skb" } ?? [] }
        let recv = try #require(calls.first { $0.syscall == .recvfrom })
        #expect(recv.result?.errno == ETIMEDOUT)
        #expect(!retransmissions.isEmpty, "the dropped ping is sent again before the kernel gives up")
        for sample in retransmissions {
            let operations = sample.alignments?.map(\.operation) ?? []
            #expect(operations.allSatisfy { ["tcp_loss_probe", "tcp_retransmit_timer"].contains($0) }, "\(operations)")
        }
        let close = try #require(calls.first { $0.syscall == .close && $0.socket?.fd == recv.socket?.fd })
        #expect(close.kernel?.operation == "tcp_close_unconnected", "\(close.kernel?.operation ?? "none")")
        #expect(close.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "nothing leaves")
    }

    @Test("A reset no call saw (it answered a write that had returned): the close sends nothing, from the kernel's state change")
    func closeAfterUnseenReset() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, time
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            server.close()
            time.sleep(0.05)
            client.send(b"x")
            time.sleep(0.05)
            client.close()
            """
        let (calls, events) = try tracePythonCalls(script, name: "unseen-reset")
        let send = try #require(calls.first { $0.syscall == .sendto || $0.syscall == .write || $0.syscall == .send })
        #expect(send.result?.failed == false, "the write itself succeeds")
        // The reset is taken in on the write's stack, or (a busy CPU) by ksoftirqd: an event of the flow then.
        let closing = { (sample: KernelSample) in sample.tracepoint == "sock:inet_sock_set_state" && sample.fields["newstate"]?.number == 7 }
        let change = send.kernel?.samples.first(where: closing)
            ?? events.first { closing($0) && $0.task != nil && $0.flow?.owner == .ownSocket && $0.time > send.entryTime }
        try #require(change != nil, "the reset puts the client's socket in TCP_CLOSE: \(send.kernel?.samples.map(\.heading) ?? [])")
        let close = try #require(calls.last { $0.syscall == .close && $0.socket?.fd == send.socket?.fd && $0.socket?.protocolLabel == "TCP" })
        #expect(close.socket?.state == .connected, "no call told the tracer")
        #expect(close.kernel?.operation == "tcp_close_unconnected", "\(close.kernel?.operation ?? "none")")
        #expect(close.kernel?.socketState?.contains("TCP_CLOSE") == true)
        #expect(close.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "nothing leaves")
    }

    @Test("A reset an untraced program sends (SO_LINGER 0) while the traced client sleeps: its state change is sampled in that task, and the client's close sends nothing (audit 8: shown as a FIN expected)")
    func resetByUntracedPeer() throws {
        let port = TestSupport.freshPort()
        let serverScript = """
            import socket, struct
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", \(port))); listener.listen()
            connection, _ = listener.accept()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()
            """
        let serverFile = TestSupport.temporaryFile("linger-server") + ".py"
        try serverScript.write(toFile: serverFile, atomically: true, encoding: .utf8)
        let server = try ChildProcess("/usr/bin/python3", [serverFile])
        defer { if server.isRunning { kill(server.pid, SIGTERM) }; _ = try? server.wait() }
        // Listening before the client starts (a loaded machine started the server's Python after the client's retries ended).
        let listening = String(format: ":%04X 00000000:0000 0A", port)
        for _ in 0..<1000 where !((try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8))?.contains(listening) ?? false) {
            usleep(10_000)
        }
        let clientScript = """
            import socket, time
            for attempt in range(500):
                try:
                    client = socket.create_connection(("127.0.0.1", \(port))); break
                except ConnectionRefusedError:
                    time.sleep(0.02)
            time.sleep(0.3)
            client.close()
            """
        let clientFile = TestSupport.temporaryFile("linger-client") + ".py"
        try clientScript.write(toFile: clientFile, atomically: true, encoding: .utf8)
        let (calls, events) = try traceCalls("/usr/bin/python3 \(clientFile)")
        let connect = try #require(calls.last { $0.syscall == .connect && $0.result?.failed == false })
        let local = try #require(connect.socket?.local?.forPairing), peer = try #require(connect.socket?.peer?.forPairing)
        // The client's socket closed by the reset, in the server's task (its close's softirq), not the client's.
        let reset = events.first { sample in
            sample.tracepoint == "sock:inet_sock_set_state" && sample.fields["newstate"]?.number == TCPState.close
                && sample.flowEndpoints.map { $0.source == local && $0.destination == peer } == true
        }
        let change = try #require(reset, "\(events.map(\.heading))")
        // Named when the tracer drained the rings while the server lived; it may have exited by then.
        let pid = server.pid
        #expect(change.tid == pid && ["task \(pid) (python3 when read)", "task \(pid) (python3 when last read, ended since)",
                                      "task \(pid) (ended before it was named)"].contains(change.task ?? "-"),
                "\(change.tid) \(change.task ?? "-")")
        let close = try #require(calls.last { $0.syscall == .close && $0.socket?.fd == connect.socket?.fd && $0.socket?.protocolLabel == "TCP" })
        #expect(close.socket?.state == .connected, "no call of the client told the tracer")
        #expect(close.socket?.tcpState == TCPState.close, "TCP_INFO at the close's entry: \(close.socket?.tcpState.map(String.init) ?? "unread")")
        #expect(close.kernel?.operation == "tcp_close_unconnected", "\(close.kernel?.operation ?? "none")")
        #expect(close.kernel?.socketState?.contains("sock:inet_sock_set_state TCP_ESTABLISHED → TCP_CLOSE") == true, "\(close.kernel?.socketState ?? "-")")
        #expect(close.kernel?.samples.contains { $0.tracepoint == "net:net_dev_queue" } == false, "nothing leaves")
    }

    @Test("UDP to a port nobody listens on: the ICMP port unreachable is its own operation, not a TCP reset")
    func udpUnreachable() throws {
        let port = TestSupport.freshPort()
        let (calls, _) = try traceCalls("/usr/bin/python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"127.0.0.1\", \(port)))'")
        let alignments = calls.filter { $0.syscall == .sendto }.flatMap { $0.kernel?.alignments ?? [] }
        let unreachable = alignments.filter { $0.operation == "udp_unreachable_softirq" }
        #expect(!unreachable.isEmpty, "\(alignments.map(\.operation))")
        #expect(unreachable.contains { inOrder(["__udp4_lib_rcv", "__icmp_send", "ip_push_pending_frames", "__dev_queue_xmit"], in: $0.observed) })
        #expect(!alignments.contains { $0.operation == "tcp_reset_softirq" })
    }

    @Test("UDP pair: udp_sendmsg → udp_send_skb → ip_send_skb")
    func udpChains() throws {
        let server = try TestSupport.build("udp_server.c", directory: "examples")
        let client = try TestSupport.build("udp_client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let (calls, _) = try traceCalls("\(server) 127.0.0.1 \(port) 1 & \(client) 127.0.0.1 \(port) >/dev/null; wait")
        let sends = calls.filter { $0.syscall == .sendto && $0.kernel?.operation == "udp_send" && $0.result?.failed == false }
        #expect(!sends.isEmpty)
        #expect(sends.contains { $0.kernel?.alignments.contains { inOrder(["__sys_sendto", "udp_sendmsg", "udp_send_skb", "ip_send_skb", "ip_output", "__dev_queue_xmit"], in: $0.observed) } == true })
    }

    @Test("audit 15: a TCP recv with MSG_TRUNC copies nothing: its copy is not said to have run, the chain does not match; with the full set, a recv that copied proves its copy by its own sample")
    func truncatedRecv() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", \(port))); listener.listen()
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            server.sendall(b"0123456789")
            client.recv(5)
            client.recv(5, socket.MSG_TRUNC)
            """
        let (calls, _) = try tracePythonCalls(script, name: "trunc", options: ["--probe-set", "full"])
        let recvs = calls.filter { $0.syscall == .recvfrom && $0.result?.value == 5 && $0.socket?.protocolLabel == "TCP" }
        let copied = try #require(recvs.first { $0.arguments.count > 3 && $0.arguments[3] == 0 })
        let truncated = try #require(recvs.first { $0.arguments.count > 3 && $0.arguments[3] == UInt64(MSG_TRUNC) })
        func copyStep(_ call: SyscallInvocation) -> (ChainAlignment, ChainAlignment.Step)? {
            guard let alignment = call.kernel?.alignments.first(where: { $0.operation == "tcp_recv" && $0.observed.last == "tcp_rcv_space_adjust" }),
                  let step = alignment.steps.first(where: { $0.function == "skb_copy_datagram_iter" }) else { return nil }
            return (alignment, step)
        }
        #expect(copied.kernel?.samples.contains { $0.tracepoint == "skb:skb_copy_datagram_iovec" } == true)
        let (_, ran) = try #require(copyStep(copied), "\(copied.kernel?.alignments.map(\.observed) ?? [])")
        #expect(ran.status == .ranBeside && ran.evidence?.contains("skb:skb_copy_datagram_iovec") == true, "\(ran)")
        #expect(truncated.kernel?.samples.contains { $0.tracepoint == "skb:skb_copy_datagram_iovec" } == false)
        let (alignment, skipped) = try #require(copyStep(truncated), "\(truncated.kernel?.alignments.map(\.observed) ?? [])")
        #expect(skipped.status == .beside, "\(skipped)")
        #expect(alignment.verdict != .matches, "\(alignment.summary)")
    }

    @Test("audit 15: a non-blocking connect's last ACK, sent as inet_stream_connect lets go of the socket after __inet_stream_connect returned, is tcp_connect_ack_nonblocking, proven; a blocking one's stays tcp_connect_ack")
    func nonblockingConnect() throws {
        let port = TestSupport.freshPort()
        let script = """
            import select, socket
            listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", \(port))); listener.listen()
            quick = socket.socket(); quick.setblocking(False); quick.connect_ex(("127.0.0.1", \(port)))
            select.select([], [quick], [], 5)
            waiting = socket.create_connection(("127.0.0.1", \(port)))
            mapped = socket.socket(socket.AF_INET6); mapped.setblocking(False); mapped.connect_ex(("::ffff:127.0.0.1", \(port)))
            select.select([], [mapped], [], 5)
            """
        let (calls, _) = try tracePythonCalls(script, name: "nonblocking")
        // From an IPv6 socket to an IPv4-mapped address: IPv6's operation, its SYN-ACK taken in by
        // IPv4's backlog handler (audit 99 H: it was tcp_connect_ack_nonblocking, IPv4's).
        let mapped = try #require(calls.first { $0.syscall == .connect && $0.socket?.protocolLabel == "TCPv6" })
        let mappedAck = try #require(mapped.kernel?.alignments.first { $0.observed.contains("release_sock") && $0.isSyscallPart },
                                     "\(mapped.kernel?.alignments.map(\.operation) ?? [])")
        #expect(mappedAck.operation == "tcp6_connect_ack_nonblocking" && mappedAck.observed.contains("tcp_v4_do_rcv")
                && ![.differs, .extraFrames].contains(mappedAck.verdict), "\(mappedAck.operation) \(mappedAck.summary)")
        let connects = calls.filter { $0.syscall == .connect && $0.socket?.protocolLabel == "TCP" }
        #expect(connects.count == 2)
        let nonblocking = try #require(connects.first { $0.result?.errno == EINPROGRESS })
        let blocking = try #require(connects.first { $0.result?.failed == false })
        let ack = try #require(nonblocking.kernel?.alignments.first { $0.observed.contains("release_sock") && $0.isSyscallPart },
                               "\(nonblocking.kernel?.alignments.map(\.operation) ?? [])")
        #expect(ack.operation == "tcp_connect_ack_nonblocking" && ![.differs, .extraFrames].contains(ack.verdict), "\(ack.operation) \(ack.summary)")
        #expect(ack.steps.first { $0.function == "__inet_stream_connect" }?.status == .ranBeside, "\(ack.steps)")
        #expect(blocking.kernel?.alignments.contains { $0.operation == "tcp_connect_ack" && $0.observed.contains("__inet_stream_connect") } == true,
                "\(blocking.kernel?.alignments.map(\.operation) ?? [])")
    }

    @Test("audit 15: UDP over IPv6 has its own operations: a recv is udp6_recv (inet6_recvmsg → udpv6_recvmsg), a send udp6_send, never IPv4's")
    func udp6Operations() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket
            receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); receiver.bind(("::1", \(port)))
            sender = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); sender.connect(("::1", \(port)))
            sender.send(b"hello6"); receiver.recvfrom(100)
            sender.send(b"again"); receiver.recv(100)
            """
        let (calls, _) = try tracePythonCalls(script, name: "udp6")
        let udp = calls.filter { $0.socket?.protocolLabel == "UDPv6" && $0.result?.failed == false }
        let receives = udp.filter { [.recvfrom, .recvmsg, .read].contains($0.syscall) }
        let sends = udp.filter { [.sendto, .sendmsg, .write].contains($0.syscall) }
        #expect(receives.count == 2 && sends.count == 2, "\(udp.map { "\($0.syscall) \($0.socket?.protocolLabel ?? "-")" })")
        #expect(receives.allSatisfy { $0.kernel?.operation == "udp6_recv" }, "\(receives.map { $0.kernel?.operation ?? "-" })")
        #expect(sends.allSatisfy { $0.kernel?.operation == "udp6_send" }, "\(sends.map { $0.kernel?.operation ?? "-" })")
        let operations = Set(calls.compactMap(\.kernel).flatMap(\.alignments).map(\.operation))
        #expect(!operations.contains("udp_recv") && !operations.contains("udp_send"), "\(operations)")
    }

    @Test("TCP's internal pacing (SO_MAX_PACING_RATE): its hrtimer sends segments from another call's stack, aligned as tcp_pacing_timer, the tail call to tcp_write_xmit proven")
    func pacingTimer() throws {
        let program = try TestSupport.build("pacing.c")
        // 5 a run with the release build: the timer fires every 16 ms, mostly in the UNIX socket's write or close on CPU 0.
        // Where it fires is the scheduler's choice: with another program busy on CPU 0 (CI runs the lab's QEMU beside
        // this suite) a run can see it fire only on that program's stack, which no traced task samples (1 run in 3
        // with both CPUs kept busy). Up to four runs, then; every pacing chain of the run that saw one is checked.
        var paced: [ChainAlignment] = [], seen: [Set<String>] = []
        for _ in 1...4 where paced.isEmpty {
            let port = TestSupport.freshPort()
            let (calls, events) = try TestSupport.timerTrafficLock.withLock { try traceCalls("\(program) \(port)") }
            // In the UNIX socket's calls the segments are another flow's (TCP's work is never a UNIX socket's): they
            // leave the call as events of their own, still aligned (audit 11).
            let alignments = calls.flatMap { $0.kernel?.alignments ?? [] } + events.flatMap { $0.alignments ?? [] }
            paced = alignments.filter { $0.observed.contains("tcp_pace_kick") }
            seen.append(Set(alignments.map(\.operation)))
        }
        #expect(!paced.isEmpty, "no pacing timer on a traced stack in \(seen.count) runs: \(seen)")
        for alignment in paced {
            #expect(alignment.operation == "tcp_pacing_timer", "\(alignment.operation): \(alignment.observed)")
            #expect(alignment.context == "softirq HRTIMER")
            #expect(inOrder(["tcp_pace_kick", "tcp_tsq_handler", "tcp_write_xmit", "__tcp_transmit_skb", "__dev_queue_xmit"], in: alignment.observed),
                    "\(alignment.observed)")
            // tcp_tsq_write has no frame: tcp_tsq_handler calls it and it jumps to tcp_write_xmit.
            let write = try #require(alignment.steps.first { $0.function == "tcp_tsq_write" })
            #expect(write.status == .tailCall && write.evidence?.contains("jmp tcp_write_xmit") == true, "\(write)")
            #expect([.matches, .unverified].contains(alignment.verdict), "\(alignment.verdict): \(alignment.steps.filter { !$0.status.isProven })")
        }
    }

    @Test("oracle: the chains sockettrace records at net:net_dev_queue are the chains perf records, symbol and offset alike")
    func perfOracle() throws {
        guard TestSupport.hasPerf else { return }
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let perfData = TestSupport.temporaryFile("perf") + ".data"
        // perf mounts tracefs and leaves it mounted: in a mount namespace of its own, the machine stays as it was.
        let record = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/usr/bin/perf", "record", "-q", "-o", perfData,
                                                              "-e", "net:net_dev_queue", "-g", "--", program, String(port)])
        #expect(record.status == 0, "\(record.stderr)")
        let script = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/usr/bin/perf", "script", "-i", perfData,
                                                              "-F", "ip,sym,symoff"])
        // The syscall's own frames and those connecting a softirq run on its stack
        // (do_softirq.part.0 …), as `symbol+0xoffset`: what one re-checks against the code.
        func stretch(_ frames: [KernelFrame]) -> [String] {
            let parts = ChainAligner.parts(frames)
            return (parts.syscall + parts.connecting).map(\.location)
        }
        var perfChains = Set<[String]>()
        for sample in PerfScriptSample.parse(script.stdout) {
            let part = stretch(sample.kernelFrames)
            if !part.isEmpty { perfChains.insert(part) }
        }
        let file = TestSupport.temporaryFile("oracle") + ".jsonl"
        let ours = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--probe-set", "minimal", "--format", "jsonl", "-o", file, program, String(port + 5)])
        #expect(ours.status == 0)
        var ourChains = Set<[String]>()
        for record in try TraceFileReader(path: file).records {
            let samples: [KernelSample]
            switch record {
            case let .syscall(call): samples = call.kernel?.samples ?? []
            case let .kernelEvent(sample): samples = [sample]
            default: samples = []
            }
            for sample in samples where sample.tracepoint == "net:net_dev_queue" {
                let part = stretch(sample.frames)
                if !part.isEmpty { ourChains.insert(part) }
            }
        }
        #expect(perfChains.count >= 4)
        #expect(ourChains == perfChains, "only perf: \(perfChains.subtracting(ourChains))\nonly sockettrace: \(ourChains.subtracting(perfChains))")
        // Some frame lies in a compiler's copy of its function (on this kernel, a softirq run on a
        // send's stack enters do_softirq.part.0): the comparison covers copies' names, not only plain ones.
        #expect(ourChains.joined().contains { $0.split(separator: "+")[0].contains(".") }, "\(ourChains)")
    }

    @Test("oracle: a delayed ACK sampled outside the traced tasks (the BPF filter's stack) has perf's chain of the same packet, frame for frame from the tracepoint's iterator (audit 61 F1)")
    func perfOracleElsewhere() throws {
        guard TestSupport.hasPerf else { return }
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/delayed_ack.py").path
        let perfData = TestSupport.temporaryFile("perf-elsewhere") + ".data"
        let file = TestSupport.temporaryFile("elsewhere") + ".jsonl"
        // perf on every CPU, its clock the tool's (CLOCK_MONOTONIC), begun before the trace
        // (its header written), ended after; in a mount namespace of its own (perf mounts tracefs).
        let script = """
            /usr/bin/perf record -q -a -g -k mono -e net:net_dev_queue -o \(perfData) & perf=$!
            while [ ! -s \(perfData) ]; do sleep 0.05; done; sleep 0.5
            \(TestSupport.sockettrace) --kernel on --format jsonl -o \(file) -- /usr/bin/python3 \(program) \(TestSupport.freshPort()); status=$?
            sleep 0.2; kill -INT $perf; wait $perf; exit $status
            """
        let run = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let printed = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/usr/bin/perf", "script", "-i", perfData,
                                                               "-F", "time,trace,ip,sym,symoff", "--ns"])
        // perf's samples: the packet's skb, the time, the frames as `symbol+0xoffset`, innermost first.
        let perfSamples = PerfScriptSample.parse(printed.stdout).compactMap { sample -> (skb: Int64, time: UInt64, frames: [String])? in
            guard let skb = sample.field("skbaddr").flatMap({ UInt64($0.dropFirst(2), radix: 16) }), let time = sample.nanoseconds else { return nil }
            return (Int64(bitPattern: skb), time, sample.frames)
        }
        let elsewhere = try TraceFileReader(path: file).records.compactMap { record -> KernelSample? in
            guard case let .kernelEvent(sample) = record, sample.tracepoint == "net:net_dev_queue", sample.task != nil else { return nil }
            return sample
        }
        let timer = elsewhere.filter { $0.chain.contains("tcp_delack_timer_handler") }
        #expect(!timer.isEmpty, "\(elsewhere.map(\.chain))")
        for sample in timer {
            // perf's sample of the same packet nearest in time (two probes of one tracepoint, read apart).
            let ours = sample.frames.map(\.location)
            let witness = perfSamples.filter { $0.skb == sample.skbAddress }
                .min { abs(Int64(bitPattern: $0.time &- sample.time.nanoseconds)) < abs(Int64(bitPattern: $1.time &- sample.time.nanoseconds)) }
            let theirs = try #require(witness, "perf has no sample of skb \(sample.skbAddress.map { String($0, radix: 16) } ?? "?")")
            #expect(abs(Int64(bitPattern: theirs.time &- sample.time.nanoseconds)) < 5_000_000)
            // (A return address past a function ending with a call that never returns, the boot
            // CPU's idle task's x86_64_start_reservations, perf names by the next symbol's padding.)
            let perfFrames = zip(theirs.frames, ours).map { perf, own in perf.hasPrefix("__pfx_") && perf.hasSuffix("+0x0") ? own : perf }
                + theirs.frames.dropFirst(ours.count)
            #expect(ours == perfFrames, "sockettrace: \(ours)\nperf: \(theirs.frames)")
        }
    }

    @Test("--probe-set functions where the kernel has no kprobes (this machine's 6.18): one line saying why, status 2; auto says it takes the default set",
          .enabled(if: !Kprobes.available, "this kernel has kprobes"))
    func functionsWithoutKprobes() throws {
        for mode in ["on", "auto"] {
            let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", mode, "--probe-set", "functions", "--", "/bin/true"])
            #expect(result.status == 2)
            #expect(result.stderr == "sockettrace: --probe-set functions puts kprobes on the model's functions, but this kernel has no kprobes "
                + "(no /sys/bus/event_source/devices/kprobe/type: CONFIG_KPROBES or CONFIG_KPROBE_EVENTS is off)\n", "\(result.stderr)")
        }
        let auto = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--probe-set", "auto", "--format", "jsonl", "-o", "/dev/null", "--", "/bin/true"])
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(auto.stderr.contains("sockettrace: --probe-set auto: default (this kernel has no kprobes"), "\(auto.stderr)")
    }

    @Test("the edges this kernel patches into its code (jump labels, exception fixups) read from its tables; tcp_rcv_established's control flow read whole")
    func patchedEdges() throws {
        let symbols = try #require(KernelSymbols.load())
        let text = try KernelText()
        #expect(symbols.tableBounds.count == 6, "\(symbols.tableBounds)")  // jump, exception and bug tables
        let edges = try #require(PatchedEdges.read(text: text, bounds: symbols.tableBounds, isCode: { symbols.extent(of: $0) != nil }))
        #expect(edges.edges.count > 1000, "\(edges.edges.count)")
        // Every site and target in the kernel's code, each target near its site (the same function, or its cold part).
        let inText = edges.edges.filter { symbols.extent(of: $0.site) != nil }
        #expect(inText.count * 10 >= edges.edges.count * 9)
        let evidence = CallEvidence(code: KernelCode(symbols: symbols, text: text))
        let start = try #require(symbols.starts(of: "tcp_rcv_established").first)
        let flow = try #require(evidence.flow(ofFunctionAt: start))
        #expect(flow.instructions.count > 300 && flow.instructions.last.map { $0.end > start + 0x400 } == true)
    }

    @Test("model check on this kernel: no errors; symbols, prototypes, declared inline functions, callers' calls read from the code")
    func modelCheck() throws {
        let whole = try TestSupport.run(TestSupport.sockettrace, ["model", "check"])
        #expect(whole.status == 0, "\(whole.stdout.split(separator: "\n").filter { $0.contains("ERROR") })")
        let result = try TestSupport.run(TestSupport.sockettrace, ["model", "check", "--operation", "tcp_send"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("sock_sendmsg_nosec            always inlined (declared inline; no symbol)"))
        // The caller → callee steps, read from the kernel's code.
        #expect(result.stdout.contains("↳ tcp_sendmsg+0x"), "\(result.stdout)")
        #expect(result.stdout.contains(": call tcp_sendmsg_locked"))
        #expect(result.stdout.contains("__sys_sendto                  symbol: int __sys_sendto(int fd, void *buff, size_t len"))
        #expect(result.stdout.contains("sys_sendto                    not for this kernel version: kernels -4.16"))
    }

    @Test("kernel tracing state is released: no perf events or mounts left behind")
    func cleanup() throws {
        let mountsBefore = try String(contentsOfFile: "/proc/mounts", encoding: .utf8).filter { $0 == "\n" }.count
        let program = try TestSupport.build("behaviours.c")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--kernel", "on", "-o", "/dev/null", program, "loop"])
        #expect(tracer.waitForOutput("ready"))
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(tracer.pid)/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(tracer.pid)/fd/\($0)")
        }
        #expect(fds.contains { $0.contains("perf_event") })
        kill(tracer.pid, SIGTERM)
        kill(tracer.pid, SIGTERM)
        _ = try tracer.wait(timeout: 20)
        let mountsAfter = try String(contentsOfFile: "/proc/mounts", encoding: .utf8).filter { $0 == "\n" }.count
        #expect(mountsAfter <= mountsBefore)
        // The events' last close is left to a detached helper: it holds
        // nothing else (no terminal, no output file) and is gone soon.
        let helpers = Self.releaseHelpers()
        for pid in helpers {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            for fd in fds {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { continue }
                #expect(target.contains("perf_event") || target.hasPrefix("pipe:"), "helper \(pid) holds \(target)")
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !Set(Self.releaseHelpers()).isDisjoint(with: helpers) { usleep(20_000) }
        #expect(Set(Self.releaseHelpers()).isDisjoint(with: helpers), "release helpers still running after 10 s")
    }

    /// Running (not yet exited) processes that close a trace's perf events.
    static func releaseHelpers() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return stat.contains("(\(KernelSampler.releaserName))") && !stat.contains(") Z ")
        }
    }

    @Test("a burst that overflows a one-page ring: lost samples counted, said at the end, in the trace file, by report; none lost with the default ring")
    func lostSamplesAreReported() throws {
        let program = try TestSupport.build("burst.c")
        var lost: [UInt64] = []
        for pages in ["1", "256"] {
            let file = TestSupport.temporaryFile("burst") + ".jsonl"
            // Only a few calls stop the program, so the ring is read only between them.
            let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--kernel-buffer-pages", pages, "-e", "trace=connect,accept,close",
                                                                       "-o", "/dev/null", "--save", file, program])
            #expect(result.status == 0, "\(result.stderr)")
            let records = try TraceFileReader(path: file).records
            guard case let .end(summary)? = records.last else {
                Issue.record("no end record")
                continue
            }
            #expect(summary.kernelSamples > 0)
            lost.append(summary.lostKernelSamples)
            if summary.lostKernelSamples > 0 {
                #expect(result.stderr.contains("\(summary.lostKernelSamples) kernel samples were lost"), "\(result.stderr)")
                let report = try TestSupport.run(TestSupport.sockettrace, ["report", file])
                #expect(report.stderr.contains("\(summary.lostKernelSamples) of \(summary.kernelSamples + summary.lostKernelSamples) kernel samples were lost"))
            } else {
                #expect(!result.stderr.contains("lost"))
            }
        }
        #expect(lost.count == 2 && lost[0] > 0 && lost[1] == 0, "\(lost)")
    }

    /// behaviours.c's `child-burst ARGUMENTS` traced with a one-page ring
    /// and a probe set of the send and receive length tracepoints alone
    /// (no other sample, a socket's allocation or a state change, in the
    /// count), only connect stopped at: the trace's end record.
    static func childBurst(_ name: String, _ arguments: [String]) throws -> TraceSummary? {
        let program = try TestSupport.build("behaviours.c")
        let file = TestSupport.temporaryFile(name) + ".jsonl"
        let probes = TestSupport.temporaryFile(name + "-probes")
        try FileManager.default.createDirectory(atPath: probes, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: probes + "/model", withDestinationPath: TestSupport.packageRoot.appendingPathComponent("Probes/model").path)
        try "set lengths\n  sock:sock_send_length chain a send returned\n  sock:sock_recv_length chain a receive returned\n"
            .write(toFile: probes + "/probes.conf", atomically: true, encoding: .utf8)
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--probes", probes, "--probe-set", "lengths", "--kernel-buffer-pages", "1",
                                                                   "-e", "trace=connect", "-o", "/dev/null", "--save", file, program, "child-burst"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        guard case let .end(summary)? = try TraceFileReader(path: file).records.last else {
            Issue.record("no end record")
            return nil
        }
        return summary
    }

    @Test("samples a forked child loses at the very end of a trace, with no later sample to report them in the ring, are counted exactly")
    func lostSamplesOfAChildCountedExactly() throws {
        // 2,000 sends and 2,000 receives in a child, none of them stopped:
        // a one-page ring holds a dozen samples and is read only at the end.
        guard let summary = try Self.childBurst("child-burst", ["2000"]) else { return }
        #expect(summary.lostKernelSamples > 0, "the ring overflowed")
        #expect(summary.kernelSamples + summary.lostKernelSamples == 4000,
                "one sock_send_length and one sock_recv_length per round: kept \(summary.kernelSamples), lost \(summary.lostKernelSamples)")
    }

    @Test("samples of a child the tracer never stops, into a one-page ring: copied out as they come, none lost, while the tracer waits")
    func ringsCopiedWhileTheTracerWaits() throws {
        // As lostSamplesOfAChildCountedExactly, whose ring (a dozen samples)
        // the tracer, blocked in its wait, reads only at the end; here the
        // child's 1,000 samples come 2 a millisecond: the ring is copied out
        // every millisecond while they come (it lost them all before).
        guard let summary = try Self.childBurst("paced-burst", ["500", "1000"]) else { return }
        #expect(summary.kernelSamples == 1000 && summary.lostKernelSamples == 0,
                "kept \(summary.kernelSamples), lost \(summary.lostKernelSamples) of 1,000")
    }

    @Test("a write let run to its exit is written when the kernel's record of it comes, not at the program's next stop")
    func awaitedExitWrittenPromptly() throws {
        let program = try TestSupport.build("behaviours.c")
        let file = TestSupport.temporaryFile("prompt")
        // The program sleeps 6 s after its write, with no stop in between.
        // (A run takes 0.4-0.9 s to write it here, alone or beside three
        // busy loops; a README run, beside the other tests and an audit's
        // perf, took over 2 s: 4.5 s is allowed, still before the exit.)
        let child = try ChildProcess(TestSupport.sockettrace, ["--kernel", "on", "--format", "strace", "-e", "trace=write",
                                                               "-o", file, program, "write-wait", "6"])
        var text = ""
        let deadline = Date().addingTimeInterval(4.5)
        while Date() < deadline {
            text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            if text.contains(#/write\(\d+, "x", 1\)\s+= 1/#) { break }
            usleep(20_000)
        }
        #expect(text.contains(#/write\(\d+, "x", 1\)\s+= 1/#), "within 4.5 s of the start: \(text)")
        #expect(child.isRunning, "the program was still sleeping")
        let result = try child.wait()
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("once the rings fill up, a lone thread's writes take their results from exit stops again, not from exit records a full ring loses")
    func exitStopsOnceRingsFill() throws {
        let program = try TestSupport.build("behaviours.c")
        let file = TestSupport.temporaryFile("write-burst")
        // Each 256 KiB write over loopback makes more samples than a one-page ring holds.
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--kernel-buffer-pages", "1", "--format", "strace",
                                                                   "-e", "trace=write", "-o", file, program, "write-burst"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("kernel samples were lost"), "the ring overflowed: \(result.stderr)")
        let writes = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("write(") }
        #expect(writes.count == 8, "\(writes)")
        // At most the first, let run before the ring was seen full, can have lost its record.
        let unknown = writes.filter { !$0.hasSuffix("= 262144") }
        #expect(unknown.count <= 1, "\(unknown)")
    }

    @Test("--kernel-buffer-pages must be a power of two")
    func ringPagesValidated() throws {
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel-buffer-pages", "3", "/bin/true"])
        #expect(result.status == 2 && result.stderr.contains("power of two"), "\(result.stderr)")
    }

    @Test("--vmlinux: kernel frames get the file:line of their function and offset, from the vmlinux's DWARF")
    func vmlinuxSources() throws {
        // A stand-in vmlinux: functions named as the stack's, each one long line (no real vmlinux with debug info here).
        let fake = try TestSupport.build("fake_vmlinux.c")
        let text = try String(contentsOfFile: TestSupport.packageRoot.appendingPathComponent("Tests/Programs/fake_vmlinux.c").path, encoding: .utf8)
        var lineOf: [String: Int] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let match = line.firstMatch(of: #/^void (\w+)\(void\)/#) { lineOf[String(match.output.1)] = index + 1 }
        }
        #expect(lineOf.count == 10)
        let file = TestSupport.temporaryFile("vmlinux") + ".jsonl"
        let output = TestSupport.temporaryFile("vmlinux-text")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--vmlinux", fake, "-o", output, "--save", file,
                                                                   "/bin/sh", "-c", try TestSupport.serverAndClientScript(port: TestSupport.freshPort())])
        #expect(result.status == 0, "\(result.stderr)")
        var resolved = 0
        for record in try TraceFileReader(path: file).records {
            guard case let .syscall(call) = record else { continue }
            for sample in call.kernel?.samples ?? [] where sample.role == .chain {
                let sources = try #require(sample.sources)
                #expect(sources.count == sample.chain.count)
                for (frame, source) in zip(sample.chain, sources) {
                    if let line = lineOf[frame] {
                        #expect(source.hasSuffix("fake_vmlinux.c:\(line)"), "\(frame): \(source)")
                        resolved += 1
                    } else {
                        #expect(source.isEmpty, "\(frame): \(source)")
                    }
                }
            }
        }
        #expect(resolved > 10)
        let timeline = try String(contentsOfFile: output, encoding: .utf8)
        #expect(timeline.contains("at __x64_sys_sendto (") && timeline.contains("fake_vmlinux.c:\(lineOf["__dev_queue_xmit"]!))"), "\(timeline)")

        // The resolver itself: offset 0 is the function's first line; an unknown function has none.
        let resolver = try KernelSourceResolver(vmlinux: fake)
        #expect(resolver.source(function: "tcp_sendmsg", offset: 0, returnAddress: false)?.hasSuffix("fake_vmlinux.c:\(lineOf["tcp_sendmsg"]!)") == true)
        #expect(resolver.source(function: "no_such_function", offset: 0, returnAddress: false) == nil)

        // A file that is not an ELF, and one without debug info.
        let notELF = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--vmlinux", "/etc/hostname", "/bin/true"])
        #expect(notELF.status == 2 && notELF.stderr.contains("not an ELF file"), "\(notELF.stderr)")
        let stripped = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--vmlinux", "/bin/true", "/bin/true"])
        #expect(stripped.status == 2 && stripped.stderr.contains("no DWARF"), "\(stripped.stderr)")
    }
}
