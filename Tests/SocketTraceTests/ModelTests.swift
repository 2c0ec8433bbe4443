import Foundation
import Testing
@testable import SocketTrace

/// The model's format, its errors, and its alignment logic, without a kernel.
struct ModelTests {
    static let modelDirectory = TestSupport.packageRoot.appendingPathComponent("Probes").path

    @Test("the shipped model loads, and covers every socket operation")
    func shippedModelLoads() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        for name in ["socket_create", "bind", "listen", "tcp_connect", "tcp_synack", "tcp_accept", "tcp_send",
                     "tcp_recv", "tcp_receive_softirq", "udp_send", "udp_recv", "udp_receive_softirq", "tcp_close"] {
            #expect(model.operation(named: name) != nil, "no \(name)")
        }
        #expect(model.probeSets["default"]?.contains { $0.name == "net:net_dev_queue" && $0.role == .chain } == true)
        #expect(model.probeSets["default"]?.contains { $0.name == "tcp:tcp_retransmit_skb" && $0.everywhere } == true)
        #expect(model.probeSets["default"]?.contains { $0.name == "net:net_dev_queue" && $0.everywhere } == false)
        let tcp = SocketSnapshot(fd: 3, socket: SocketInfo(family: 2, type: 1, protocolNumber: 6))
        let udp = SocketSnapshot(fd: 4, socket: SocketInfo(family: 2, type: 2, protocolNumber: 17))
        #expect(model.operation(for: .write, socket: tcp)?.name == "tcp_send")
        #expect(model.operation(for: .sendto, socket: udp)?.name == "udp_send")
        #expect(model.operation(for: .read, socket: tcp)?.name == "tcp_recv")
        // A receive with MSG_ERRQUEUE (recvmsg's flags are its third argument, recvfrom's its fourth) reads the
        // error queue: that operation only; without the flag it is no candidate.
        #expect(model.operations(for: .recvmsg, socket: tcp, arguments: [3, 0, 0x2000 | 0x40]).map(\.name) == ["tcp_recv_error"])
        #expect(model.operations(for: .recvfrom, socket: udp, arguments: [4, 0, 0, 0x2000, 0, 0]).map(\.name) == ["udp_recv_error"])
        let plain = model.operations(for: .recvmsg, socket: tcp, arguments: [3, 0, 0x40]).map(\.name)
        #expect(plain.first == "tcp_recv" && !plain.contains("tcp_recv_error"), "\(plain)")
        #expect(model.selectingArguments(.recvmsg).contains(2) && model.selectingArguments(.recvfrom).contains(3))
    }

    @Test("chains differ by kernel version: the seeds' 4.15 against 6.18")
    func versionVariants() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let send = try #require(model.operation(named: "tcp_send"))
        let old = send.chain(for: "sendto", kernel: KernelVersion(4, 15)).map(\.name)
        let new = send.chain(for: "sendto", kernel: KernelVersion(6, 18)).map(\.name)
        #expect(old.contains("sys_sendto") && !old.contains("__sys_sendto"))
        #expect(new.contains("__sys_sendto") && !new.contains("sys_sendto"))
        #expect(old.contains("ip_queue_xmit") && new.contains("__ip_queue_xmit"))
        let write = send.chain(for: "write", kernel: KernelVersion(6, 18)).map(\.name)
        #expect(write.prefix(4) == ["__x64_sys_write", "ksys_write", "vfs_write", "sock_write_iter"])
    }

    @Test("model errors name the file and the line", arguments: [
        ("operation x\nsyscalls sendto\nbody\nlayerz foo\n", 4, "unknown word 'layerz'"),
        ("title no operation\n", 1, "must start with `operation NAME`"),
        ("operation x\nsyscalls sendto\nbody\ntransport tcp_sendmsg 4.x-\n", 4, "'4.x-' is neither"),
        ("operation x\nsyscalls nosuchcall\n", 2, "unknown syscall 'nosuchcall'"),
        ("operation x\nsyscalls sendto\ntransport tcp_sendmsg\n", 3, "functions go under"),
        ("operation x\nsyscalls sendto\nentry recvfrom\n", 3, "not in this operation's `syscalls`"),
        ("operation x\nsyscalls sendto\nentry sendto\nbranch\nsocket f\nend\n", 4, "none above it here"),
        ("operation x\nsyscalls sendto\nbody\nbranch\nsocket f\nend\n", 4, "none above it here"),
        ("operation x\nsyscalls sendto\nbody\nsocket f\nbranch\nsocket g\n", 5, "`branch` without its `end`"),
        ("operation x\nsyscalls sendto\nbody\nsocket f\nend\n", 5, "`end` without its `branch`"),
        ("operation x\nsyscalls sendto\nbody\nsocket f\nbranch\nend\n", 6, "an empty `branch`"),
        ("operation x\nsyscalls sendto\nentry sendto\nsocket f\nbranch\nsocket g\nbody\nsocket h\n", 5, "without its `end` before `body`"),
        ("operation x\nsyscalls connect\nleaves SYN_SENT\n", 3, "`leaves` names the TCP state"),
        ("operation x\nsyscalls sendto\nshown_by g\nbody\nsocket f\n", 3, "`shown_by g`: not a function of this operation's tree"),
        ("operation x\nsyscalls recvmsg\nflags MSG_ERRQUEUE MSG_NOPE\n", 3, "`flags` names message flags (MSG_ERRQUEUE, MSG_OOB, …) the calls give, not 'MSG_NOPE'"),
    ])
    func modelErrors(_ text: String, _ line: Int, _ message: String) {
        do {
            _ = try ModelParser.parseOperation(text, file: "bad.chain")
            Issue.record("no error for \(text)")
        } catch let error as ModelError {
            #expect(error.line == line)
            #expect(error.description.hasPrefix("bad.chain:\(line): "))
            #expect(error.message.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("`within`: a part of another operation made by the same syscalls; a name that is no operation, or one of other syscalls, is refused")
    func withinAnotherOperation() throws {
        func load(_ part: String) throws -> StackModel {
            let directory = TestSupport.temporaryFile("within")
            try FileManager.default.createDirectory(atPath: directory + "/model", withIntermediateDirectories: true)
            try "set default\n  net:net_dev_queue chain\n".write(toFile: directory + "/probes.conf", atomically: true, encoding: .utf8)
            try "operation whole\nsyscalls connect\nbody\nsyscall __sys_connect net/socket.c\n"
                .write(toFile: directory + "/model/whole.chain", atomically: true, encoding: .utf8)
            try "operation other\nsyscalls sendto\nbody\nsyscall __sys_sendto net/socket.c\n"
                .write(toFile: directory + "/model/other.chain", atomically: true, encoding: .utf8)
            try part.write(toFile: directory + "/model/part.chain", atomically: true, encoding: .utf8)
            return try ModelParser.load(directory: directory)
        }
        let model = try load("operation part\nsyscalls connect\nwithin whole\nbody\nsyscall __sys_connect net/socket.c\n")
        #expect(model.operations.first { $0.name == "part" }?.within == "whole")
        #expect(throws: ModelError.self) { try load("operation part\nsyscalls connect\nwithin nothing\nbody\nsyscall __sys_connect net/socket.c\n") }
        #expect(throws: ModelError.self) { try load("operation part\nsyscalls connect\nwithin other\nbody\nsyscall __sys_connect net/socket.c\n") }
    }

    @Test("probe set errors name the line")
    func probeErrors() {
        #expect(throws: ModelError.self) { try ModelParser.parseProbeSets("net:net_dev_queue chain x\n", file: "p.conf") }
        do {
            _ = try ModelParser.parseProbeSets("set a\n  net:net_dev_queue maybe\n", file: "p.conf")
        } catch let error as ModelError {
            #expect(error.description == "p.conf:2: after the tracepoint: its role, chain, event or hit")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("a probe filter's `or FIELD is VALUE`: the kernel's filter keeps a string field's value too; files' frees tell a close's release from 6.7 on")
    func filterAlternative() throws {
        let sets = try ModelParser.parseProbeSets("set a\n  kmem:kmem_cache_free chain where call_site in inet_csk_accept or name is filp  freed\n", file: "p.conf")
        let probe = try #require(sets["a"]?.first)
        #expect(probe.filter == Probe.Filter(field: "call_site", functions: ["inet_csk_accept"], orEqual: Probe.Equality(field: "name", value: "filp")))
        #expect(probe.meaning == "freed")
        #expect(throws: ModelError.self) { try ModelParser.parseProbeSets("set a\n  kmem:kmem_cache_free chain where call_site in f or name filp x\n", file: "p.conf") }
        // Before 6.7 a file is freed after an RCU grace period, in no task's close.
        #expect(FileRelease.isSampled(by: [probe]) && FileRelease.tellsReleases(on: KernelVersion(6, 18)))
        #expect(!FileRelease.tellsReleases(on: KernelVersion(6, 1)) && !FileRelease.tellsReleases(on: nil))
        let model = try ModelParser.load(directory: Self.modelDirectory)
        #expect(FileRelease.isSampled(by: model.probeSets["default"] ?? []))
        #expect(!FileRelease.isSampled(by: model.probeSets["minimal"] ?? []))
    }

    @Test("a close released its file when the free of the file its sys_enter named is among its samples; not, when none is and none was lost; unknown otherwise")
    func closeReleaseDecision() {
        func free(_ pointer: UInt64, cache: String = "filp") -> KernelSample {
            KernelSample(tracepoint: "kmem:kmem_cache_free", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 2_000), cpu: 0,
                         chain: ["kmem_cache_free", "__x64_sys_close"],
                         fields: ["ptr": .number(Int64(bitPattern: pointer)), "name": .string(cache), "call_site": .number(0)])
        }
        var close = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .close, arguments: [4, 0, 0, 0, 0, 0],
                                      entryTime: MonotonicTime(nanoseconds: 1_000))
        close.result = SyscallResult(rval: 0, isError: false)
        let file: UInt64 = 0xffff_8881_0000_1000
        #expect(FileRelease.released(by: close, window: [free(file)], sampled: true, samplesLost: false) == nil, "no file named at sys_enter")
        close.closedFile = file
        #expect(FileRelease.released(by: close, window: [free(file)], sampled: true, samplesLost: false) == true)
        #expect(FileRelease.released(by: close, window: [free(file + 0x40)], sampled: true, samplesLost: false) == false, "another file's free")
        #expect(FileRelease.released(by: close, window: [free(file, cache: "dentry")], sampled: true, samplesLost: false) == false, "not the file")
        #expect(FileRelease.released(by: close, window: [], sampled: true, samplesLost: true) == nil, "a lost sample may have been it")
        #expect(FileRelease.released(by: close, window: [free(file)], sampled: false, samplesLost: false) == nil, "frees not sampled")
        #expect(FileRelease.keeps(free(file), in: close) && !FileRelease.keeps(free(file + 0x40), in: close) && !FileRelease.keeps(free(file), in: nil))
        close.result = SyscallResult(rval: -9, isError: true)
        #expect(FileRelease.released(by: close, window: [], sampled: true, samplesLost: false) == nil, "a failed close")
    }

    @Test("an invalid model file stops the command with file:line and status 1")
    func invalidModelOnTheCommandLine() throws {
        let directory = TestSupport.temporaryFile("model")
        try FileManager.default.createDirectory(atPath: directory + "/model", withIntermediateDirectories: true)
        try "set default\n  net:net_dev_queue chain\n".write(toFile: directory + "/probes.conf", atomically: true, encoding: .utf8)
        try "operation broken\nsyscalls sendto\nbody\nsyscall __sys_sendto net/socket.c 4.17-\nnetwork\n".write(
            toFile: directory + "/model/broken.chain", atomically: true, encoding: .utf8)
        let result = try TestSupport.run(TestSupport.sockettrace, ["model", "list", "--probes", directory])
        #expect(result.status == 1)
        #expect(result.stderr == "sockettrace: \(directory)/model/broken.chain:5: a network line names a kernel function\n")
    }

    /// The chain the guide observed for a TCP send on 6.18, against the model.
    @Test("alignment without the kernel's code: matched, declared inline, unverified, extra, out of order")
    func alignment() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let send = try #require(model.operation(named: "tcp_send"))
        let expected = send.chain(for: "sendto", kernel: KernelVersion(6, 18))
        let observed = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb",
                        "tcp_write_xmit", "__tcp_push_pending_frames", "tcp_sendmsg_locked", "tcp_sendmsg", "__sys_sendto",
                        "__x64_sys_sendto", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
        let symbols = KernelSymbols(kallsyms: (expected.map(\.name).filter { !["sock_sendmsg_nosec", "xmit_one", "netdev_start_xmit"].contains($0) }
            .enumerated().map { String(format: "%016x T %@", 0x1000 + $0.offset * 16, $0.element) }).joined(separator: "\n"))
        let aligner = ChainAligner(symbols: symbols)
        let (syscallPart, softirqPart) = ChainAligner.split(observed)
        #expect(softirqPart.isEmpty)
        #expect(syscallPart.first == "__x64_sys_sendto")
        let alignment = aligner.align(syscallPart, with: expected, operation: "tcp_send")
        let status = Dictionary(uniqueKeysWithValues: alignment.steps.map { ($0.function, $0.status) })
        #expect(status["tcp_sendmsg"] == .matched)
        // Nothing proves why a symbol is missing without the kernel's code.
        #expect(status["__sock_sendmsg"] == .unverified)
        #expect(status["sock_sendmsg"] == nil, "off the path after 6.0")
        #expect(status["tcp_push"] == .unverified)
        // Declared inline in the model, and no symbol.
        #expect(status["sock_sendmsg_nosec"] == .inlined)
        #expect(status["__dev_queue_xmit"] == .matched)
        // Past the tracepoint's function the chain says nothing.
        #expect(status["xmit_one"] == nil)
        #expect(alignment.verdict == .unverified)
        #expect(alignment.steps.filter { $0.status == .unverified }.allSatisfy { $0.evidence == "the kernel's code was not read" })
        #expect(alignment.extraFrames.isEmpty)

        let withExtra = aligner.align(["__x64_sys_sendto", "__sys_sendto", "my_hook", "tcp_sendmsg"], with: expected, operation: "tcp_send")
        #expect(withExtra.extraFrames == ["my_hook"] && withExtra.verdict == .extraFrames)
        let swapped = aligner.align(["__x64_sys_sendto", "tcp_sendmsg", "__sys_sendto", "tcp_sendmsg_locked"], with: expected, operation: "tcp_send")
        #expect(swapped.verdict == .outOfOrder)
    }

    @Test("a chain that ran the peer's receive path in a softirq is split there")
    func softirqSplit() {
        let chain = ["__netif_receive_skb_core", "__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action",
                     "handle_softirqs", "do_softirq", "__local_bh_enable_ip", "__dev_queue_xmit", "ip_finish_output2", "__sys_connect",
                     "__x64_sys_connect", "do_syscall_64"]
        let (syscallPart, softirqPart) = ChainAligner.split(chain)
        #expect(syscallPart == ["__x64_sys_connect", "__sys_connect", "ip_finish_output2", "__dev_queue_xmit"])
        #expect(softirqPart == ["net_rx_action", "__napi_poll", "process_backlog", "__netif_receive_skb_one_core", "__netif_receive_skb_core"])
    }

    @Test("a timer interrupt that landed in perf's own code in a send: its entry connects, where it landed is no departure (bulkSend flake)")
    func interruptedSyscallPart() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        // The sample CI saw: NET_RX work on the exit of a timer interrupt taken while perf handled the send's sock_send_length.
        let chain = ["__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action", "handle_softirqs", "__irq_exit_rcu",
                     "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt", "perf_swevent_event", "perf_tp_event", "__sys_sendto",
                     "__x64_sys_sendto", "x64_sys_call", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
        let parts = ChainAligner.parts(chain.map { KernelFrame($0, 0) })
        #expect(parts.interrupted)
        #expect(parts.syscall.map(\.function) == ["__x64_sys_sendto", "__sys_sendto", "perf_tp_event", "perf_swevent_event"])
        #expect(parts.connecting.map(\.function) == ["asm_sysvec_apic_timer_interrupt", "sysvec_apic_timer_interrupt", "__irq_exit_rcu", "handle_softirqs"])
        #expect(parts.softirqKind == "NET_RX")
        let sides = ChainAligner.sides(chain)
        #expect(sides.syscall && sides.softirq && sides.softirqKind == "NET_RX")
        let send = try #require(model.operations.first { $0.name == "udp_send" })
        let path = send.chain(for: "sendto", kernel: KernelVersion(6, 18))
        let aligner = ChainAligner(symbols: nil)
        let landed = aligner.align(frames: parts.syscall, with: path, operation: "udp_send", interrupted: true)
        #expect(landed.extraFrames.isEmpty && landed.verdict != .extraFrames, "\(landed.extraFrames)")
        // Another tracepoint's machinery the interrupt landed in is shown, not left out as the
        // sample's own tracepoint plumbing is (audit 17: perf's stack has them between).
        let inPerf = ["__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action", "handle_softirqs", "__irq_exit_rcu",
                      "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt", "perf_swevent_event", "perf_tp_event",
                      "perf_trace_sock_msg_length", "call_trace_sock_recv_length", "sock_recvmsg", "__sys_recvfrom", "__x64_sys_recvfrom",
                      "x64_sys_call", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
        let landedInPerf = ChainAligner.parts(inPerf.map { KernelFrame($0, 0) })
        #expect(landedInPerf.syscall.map(\.function) == ["__x64_sys_recvfrom", "__sys_recvfrom", "sock_recvmsg", "call_trace_sock_recv_length",
                                                          "perf_trace_sock_msg_length", "perf_tp_event", "perf_swevent_event"])
        #expect(landedInPerf.entry?.function == "x64_sys_call")
        // The function that fires the sample's own tracepoint is shown, even the
        // tracepoint's noinline caller (audit 31 M1: perf's stack ends in it).
        let own = ChainAligner.parts((["call_trace_sock_send_length", "__sys_sendto", "__x64_sys_sendto", "x64_sys_call", "do_syscall_64"])
            .map { KernelFrame($0, 0) })
        #expect(own.syscall.map(\.function) == ["__x64_sys_sendto", "__sys_sendto", "call_trace_sock_send_length"])
        #expect(ChainAligner.shownIndices(["call_trace_sock_send_length", "__sys_sendto", "x64_sys_call"]) == 0..<2)
        // A syscall's own frames are shown, whatever their names: its body
        // called by x64_sys_call (the wrapper inlined), a 32-bit program's
        // socketcall wrapper (audit 67 H1: both left out as plumbing).
        #expect(ChainAligner.shownIndices(["do_wait", "kernel_wait4", "__do_sys_wait4", "x64_sys_call", "do_syscall_64"]) == 0..<3)
        let compat = ChainAligner.parts((["__sys_sendto", "__ia32_compat_sys_socketcall", "ia32_sys_call", "__do_fast_syscall_32",
                                          "do_fast_syscall_32", "entry_SYSENTER_compat_after_hwframe"]).map { KernelFrame($0, 0) })
        #expect(compat.syscall.map(\.function) == ["__ia32_compat_sys_socketcall", "__sys_sendto"] && compat.entry?.function == "ia32_sys_call")
        // Not interrupted, the same frames left the model's path: a departure.
        let left = aligner.align(frames: parts.syscall, with: path, operation: "udp_send")
        #expect(left.extraFrames == ["perf_tp_event", "perf_swevent_event"])
        // A softirq run by local_bh_enable (no interrupt) is not one.
        #expect(!ChainAligner.parts(Self.receiveEntry.map { KernelFrame($0, 0) } + [KernelFrame("__sys_sendto", 0)]).interrupted)
    }

    @Test("model check: a name that is no symbol and not declared inline is an error; a range that excludes a symbol is flagged")
    func modelCheckFindings() throws {
        let text = """
        operation  test
        syscalls   sendto
        body
        syscall    __sys_sendto        net/socket.c
        socket     sock_sendmsg_nosec  net/socket.c   inline
        socket     inet_sendmsg_typo   net/ipv4/af_inet.c
        transport  tcp_sendmsg         net/ipv4/tcp.c  -4.14
        transport  tcp_gone            net/ipv4/tcp.c  -4.14
        transport  dst_output          include/net/dst.h inline
        """
        var model = StackModel(operations: [try ModelParser.parseOperation(text, file: "test.chain")], probeSets: [:], directory: "/")
        model.operations[0].syscalls = ["sendto"]
        let symbols = KernelSymbols(kallsyms: "0000000000001000 T __sys_sendto\n0000000000002000 T tcp_sendmsg\n"
            + "0000000000003000 t dst_output\n0000000000004000 t dst_output\n")
        let check = try ModelCheck.run(model: model, symbols: symbols, btf: nil, kernel: KernelVersion(6, 18))
        let finding = Dictionary(check.rows.map { ($0.function.name, $0.finding) }, uniquingKeysWith: { first, _ in first })
        #expect(finding == ["__sys_sendto": .symbol, "sock_sendmsg_nosec": .inlined, "inet_sendmsg_typo": .unknown,
                            "tcp_sendmsg": .excludedButPresent, "tcp_gone": .otherKernels, "dst_output": .inlineWithCopies])
        #expect(check.errors.map(\.function.name) == ["inet_sendmsg_typo"])
    }

    @Test("the narrowest operation for a call's socket: tcp6 before tcp for IPv6, tcp for IPv4")
    func narrowestOperation() throws {
        let either = try ModelParser.parseOperation("operation any_tcp\nsyscalls sendto\nsockets tcp\nbody\nsocket f\n", file: "a")
        let six = try ModelParser.parseOperation("operation six\nsyscalls sendto\nsockets tcp6\nbody\nsocket g\n", file: "b")
        let model = StackModel(operations: [either, six], probeSets: [:], directory: "/")
        let v6 = SocketSnapshot(fd: 3, socket: SocketInfo(family: 10, type: 1, protocolNumber: 6))
        let v4 = SocketSnapshot(fd: 3, socket: SocketInfo(family: 2, type: 1, protocolNumber: 6))
        #expect(model.operation(for: .sendto, socket: v6)?.name == "six")
        #expect(model.operation(for: .sendto, socket: v4)?.name == "any_tcp")
    }

    /// A model directory of its own (model/paths, a probes.conf with one
    /// set), and a writer of its files by their path in it.
    static func scratchModel() throws -> (directory: String, write: (String, String) throws -> Void) {
        let directory = TestSupport.temporaryFile("model")
        try FileManager.default.createDirectory(atPath: directory + "/model/paths", withIntermediateDirectories: true)
        let write = { (name: String, text: String) throws in try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        try write("probes.conf", "set default\n  net:net_dev_queue chain queued\n")
        return (directory, write)
    }

    @Test("shared paths: `use NAME` puts model/paths/NAME.path there; an unknown or self-using path names its line")
    func sharedPaths() throws {
        let (directory, write) = try Self.scratchModel()
        try write("model/paths/out.path", "network ip_output net/ipv4/ip_output.c\nuse dev\n")
        try write("model/paths/dev.path", "device __dev_queue_xmit net/core/dev.c\n")
        try write("model/send.chain", "operation send\nsyscalls sendto\nsockets udp\nbody\ntransport udp_sendmsg\nuse out\n")
        let model = try ModelParser.load(directory: directory)
        #expect(model.operation(named: "send")?.body.map(\.name) == ["udp_sendmsg", "ip_output", "__dev_queue_xmit"])
        #expect(model.operation(named: "send")?.body.last?.file.hasSuffix("dev.path") == true)
        try write("model/paths/dev.path", "device __dev_queue_xmit\nuse out\n")
        #expect(throws: ModelError.self) { try ModelParser.load(directory: directory) }
        do { _ = try ModelParser.load(directory: directory) } catch let error as ModelError {
            #expect(error.description.contains("uses itself"), "\(error)")
        }
        try write("model/paths/dev.path", "device __dev_queue_xmit\n")
        try write("model/send.chain", "operation send\nsyscalls sendto\nsockets udp\nbody\nuse nowhere\n")
        do { _ = try ModelParser.load(directory: directory); Issue.record("loaded") } catch let error as ModelError {
            #expect(error.description.hasSuffix("send.chain:5: no path 'nowhere' in model/paths"), "\(error)")
        }
    }

    @Test("a shared path may hold `branch` blocks, closed in it: used under two entries, each entry's tree is the one written out in place; an unclosed or stray one names the path's line")
    func sharedPathsWithBranches() throws {
        let (directory, write) = try Self.scratchModel()
        let states = "branch\ntransport tcp_set_state\nend\nbranch\nsocket __release_sock\nbranch\ntransport tcp_fin\nend\ntransport tcp_done\nend\n"
        try write("model/paths/states.path", states)
        try write("model/shared.chain", "operation shared\nsyscalls close\nsockets tcp\nentry close\nsocket sock_close\nuse states\n"
                  + "entry exit\nsyscall do_exit\nuse states\nbody\ntransport tcp_send_fin\n")
        try write("model/inline.chain", "operation inline\nsyscalls close\nsockets tcp\nentry close\nsocket sock_close\n\(states)"
                  + "entry exit\nsyscall do_exit\n\(states)body\ntransport tcp_send_fin\n")
        let model = try ModelParser.load(directory: directory)
        let shared = try #require(model.operation(named: "shared")), inline = try #require(model.operation(named: "inline"))
        func tree(_ functions: [ModelFunction]) -> [String] { functions.map { "\($0.name) \($0.branch)" } }
        #expect(shared.entries.count == 2 && zip(shared.entries, inline.entries).allSatisfy { tree($0.functions) == tree($1.functions) },
                "\(shared.entries.map { tree($0.functions) }) vs \(inline.entries.map { tree($0.functions) })")
        #expect(tree(shared.body) == tree(inline.body))
        #expect(shared.entries[0].functions.contains { $0.name == "tcp_fin" && $0.branch?.count == 2 }, "a block in a block")
        try write("model/inline.chain", "operation inline\nsyscalls close\nsockets tcp\nbody\nsocket f\n")
        for (text, message) in [("branch\ntransport tcp_set_state\n", "states.path:1: `branch` without its `end` in this path"),
                                ("transport tcp_set_state\nend\n", "states.path:2: `end` without its `branch` in this path")] {
            try write("model/paths/states.path", text)
            do { _ = try ModelParser.load(directory: directory); Issue.record("loaded") } catch let error as ModelError {
                #expect(error.description.hasSuffix(message), "\(error)")
            }
        }
        // A block of the path with nothing above it to hang from: the path's line, and where it was used.
        try write("model/paths/states.path", states)
        try write("model/shared.chain", "operation shared\nsyscalls close\nsockets tcp\nentry close\nuse states\nbody\ntransport f\n")
        do { _ = try ModelParser.load(directory: directory); Issue.record("loaded") } catch let error as ModelError {
            #expect(error.description.contains("states.path:1: `branch` follows the function that makes the call") && error.description.contains("shared.chain:5"), "\(error)")
        }
    }

    @Test("a connect's chains: the SYN's with tcp_connect, the last ACK's (from release_sock's backlog) with tcp_connect_ack")
    func operationPerChain() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let tcp = SocketSnapshot(fd: 3, socket: SocketInfo(family: 2, type: 1, protocolNumber: 6))
        let candidates = model.operations(for: .connect, socket: tcp)
        #expect(candidates.map(\.name) == ["tcp_connect", "tcp_connect_ack", "tcp_connect_ack_nonblocking", "tcp_connect_refused"])
        let syn = ["__tcp_transmit_skb", "tcp_connect", "tcp_v4_connect", "__inet_stream_connect", "inet_stream_connect", "__sys_connect"]
        let ack = ["__tcp_transmit_skb", "tcp_rcv_state_process", "tcp_v4_do_rcv", "__release_sock", "release_sock", "__inet_stream_connect",
                   "inet_stream_connect", "__sys_connect"]
        func sample(_ chain: [String]) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0, chain: chain, fields: [:])
        }
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        let state = ["tcp_set_state", "tcp_v4_connect", "__inet_stream_connect", "inet_stream_connect", "__sys_connect"]
        let (call, each) = correlator.operations(for: [sample(state), sample(syn), sample(ack), sample(["__sys_connect"])], candidates: candidates,
                                                 entry: Syscall.connect.rawValue)
        #expect(call?.name == "tcp_connect", "best for the most samples")
        // The ACK's sample shows the backlog's path; the entry's tells nothing: the call's.
        #expect(each.map { $0?.name } == ["tcp_connect", "tcp_connect", "tcp_connect_ack", "tcp_connect"])

        // A refused connect's reset, taken in from the backlog: the socket done.
        let refused = ["inet_sk_state_store", "tcp_done", "tcp_done_with_error", "tcp_rcv_state_process", "tcp_v4_do_rcv", "__release_sock",
                       "release_sock", "__inet_stream_connect", "inet_stream_connect", "__sys_connect"]
        #expect(correlator.operations(for: [sample(refused), sample(syn)], candidates: candidates, entry: Syscall.connect.rawValue).perSample
            .map { $0?.name } == ["tcp_connect_refused", "tcp_connect"])
    }

    @Test("a close that takes in the peer's FIN from its backlog (both ends closing at once): the ACK tcp_fin sends is tcp_close's, on a modelled path, not the reset-on-unread close's (audit 65 M3)")
    func closeTakesInThePeersFIN() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        let close = ["__tcp_close", "tcp_close", "inet_release", "sock_close", "__fput", "__x64_sys_close"]
        // The seeds' client (audit 65, 6.18): the ACK of the server's FIN, innermost first.
        let ack = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_fin", "tcp_data_queue",
                   "tcp_rcv_state_process", "tcp_v4_do_rcv", "__release_sock"] + close
        let fin = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit",
                   "__tcp_push_pending_frames"] + close
        let closing = ["inet_sk_state_store", "tcp_fin", "tcp_data_queue", "tcp_rcv_state_process", "tcp_v4_do_rcv", "__release_sock"] + close
        func sample(_ chain: [String], _ tracepoint: String = "net:net_dev_queue") -> KernelSample {
            KernelSample(tracepoint: tracepoint, role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0, chain: chain, fields: [:])
        }
        let tcp = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: "127.0.0.1:32928"),
                                 peer: SocketEndpoint(text: "127.0.0.1:24610"), state: .connected)
        let candidates = model.operations(for: .close, socket: tcp)
        let samples = [sample(fin), sample(closing, "sock:inet_sock_set_state"), sample(ack)]
        let (call, each) = correlator.operations(for: samples, candidates: candidates, entry: Syscall.close.rawValue)
        #expect(call?.name == "tcp_close" && each.map { $0?.name } == ["tcp_close", "tcp_close", "tcp_close"], "\(each.map { $0?.name ?? "-" })")
        for (chain, operation) in zip(samples, each) {
            let alignment = try #require(correlator.align(chain.frames, operation: operation, entry: Syscall.close.rawValue).first)
            #expect(alignment.extraFrames.isEmpty && alignment.verdict != .differs,
                    "\(chain.chain.first ?? ""): \(alignment.verdict) \(alignment.extraFrames) \(alignment.steps.map { "\($0.function) \($0.status)" })")
        }
        // For IPv6, the same as tcp6_close's.
        let tcp6 = SocketSnapshot(fd: 3, family: 10, type: 1, protocolLabel: "TCPv6", local: SocketEndpoint(text: "[::1]:32928"),
                                  peer: SocketEndpoint(text: "[::1]:24610"), state: .connected)
        let ack6 = ["__dev_queue_xmit", "ip6_finish_output2", "ip6_output", "ip6_xmit", "inet6_csk_xmit", "__tcp_transmit_skb", "tcp_fin",
                    "tcp_data_queue", "tcp_rcv_state_process", "tcp_v6_do_rcv", "__release_sock"] + close
        let operation6 = correlator.operations(for: [sample(ack6)], candidates: model.operations(for: .close, socket: tcp6), entry: Syscall.close.rawValue)
        #expect(operation6.call?.name == "tcp6_close", "\(operation6.call?.name ?? "-")")
        let alignment6 = try #require(correlator.align(sample(ack6).frames, operation: operation6.call, entry: Syscall.close.rawValue).first)
        #expect(alignment6.extraFrames.isEmpty && alignment6.verdict != .differs, "\(alignment6.verdict) \(alignment6.extraFrames)")
    }

    @Test("a receive that flushes its backlog while it copies and answers the data taken in with an ACK: on tcp_recv's and tcp6_recv's modelled path (the README's test on a fresh clone: it was differs)")
    func recvBacklogFlushAck() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        let entry = ["__sys_recvfrom", "__x64_sys_recvfrom"]
        func sample(_ chain: [String]) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0, chain: chain, fields: [:])
        }
        // 6.18, innermost first, as perf gave it (tcp_rcv_established left by a jump).
        let ack6 = ["__dev_queue_xmit", "ip6_finish_output", "ip6_output", "ip6_xmit", "inet6_csk_xmit", "__tcp_transmit_skb", "tcp_v6_do_rcv",
                    "__release_sock", "__sk_flush_backlog", "tcp_recvmsg_locked", "tcp_recvmsg", "sock_recvmsg"] + entry
        let ack = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_v4_do_rcv",
                   "__release_sock", "__sk_flush_backlog", "tcp_recvmsg_locked", "tcp_recvmsg", "sock_recvmsg"] + entry
        for (frames, operation) in [(ack6, "tcp6_recv"), (ack, "tcp_recv")] {
            let alignment = try #require(correlator.align(sample(frames).frames, operation: model.operation(named: operation),
                                                          entry: Syscall.recvfrom.rawValue).first)
            #expect(alignment.extraFrames.isEmpty && alignment.verdict != .differs,
                    "\(operation): \(alignment.verdict) \(alignment.extraFrames) \(alignment.steps.map { "\($0.function) \($0.status)" })")
        }
    }

    @Test("a close after shutdown whose connection the kernel ended after the tracer let the thread go but before the kernel began the close: tcp_close_unconnected, already in TCP_CLOSE (audit 65 M2)")
    func closedBeforeTheKernelBeganTheClose() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        let socket = SocketSnapshot(fd: 7, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: "127.0.0.1:55658"),
                                    peer: SocketEndpoint(text: "127.0.0.1:24681"), state: .shutDown)
        // FIN_WAIT2 → TCP_CLOSE (the peer's FIN, then tcp_time_wait), sampled in another thread at 500.
        var change = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: 500),
                                  cpu: 0, chain: [], fields: ["newstate": .number(TCPState.close), "oldstate": .number(5), "family": .number(2),
                                                              "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                                              "sport": .number(55658), "dport": .number(24681)])
        change.everywhere = true
        correlator.add([change])
        func close(released: UInt64, entered: UInt64?) -> SyscallInvocation {
            var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .close, arguments: [7, 0, 0, 0, 0, 0],
                                         entryTime: MonotonicTime(nanoseconds: released))
            call.kernelEntryTime = entered.map { MonotonicTime(nanoseconds: $0) }
            call.exitTime = MonotonicTime(nanoseconds: 2_000)
            call.result = SyscallResult(value: 0, errno: nil)
            call.socket = socket
            return call
        }
        // Let go at 330, the kernel's sys_enter at 800: the socket was closed when the kernel ran the close.
        let late = correlator.activity(for: close(released: 330, entered: 800))
        #expect(late.operation == "tcp_close_unconnected" && late.socketState?.contains("already in TCP_CLOSE") == true,
                "\(late.operation ?? "-"): \(late.socketState ?? "-")")
        // The kernel began it at 400, before the change: the close found it half closed.
        let early = correlator.activity(for: close(released: 330, entered: 400))
        #expect(early.operation != "tcp_close_unconnected" && early.socketState == nil, "\(early.operation ?? "-"): \(early.socketState ?? "-")")
    }

    @Test("softirq work a traced thread ran between its calls, whose packet is not known: aligned as any softirq work's, to be shown with its frames (audit 20)")
    func unknownWorkBetweenCallsAligned() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        let timer = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit",
                     "tcp_send_loss_probe", "tcp_write_timer", "call_timer_fn", "__run_timers", "run_timer_softirq",
                     "handle_softirqs", "__irq_exit_rcu", "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt"]
        correlator.add([KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 150), cpu: 0,
                                     chain: timer, fields: ["skbaddr": .number(0x779), "len": .number(466), "name": .string("lo")])])
        let stray = correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 500))
        #expect(stray.first?.flow?.owner == .unverified)
        #expect(stray.first?.alignments?.map(\.operation) == ["tcp_loss_probe"], "\(stray.first?.alignments?.map(\.operation) ?? [])")
    }

    @Test("`result ECONNREFUSED`: a refused connect is tcp_connect_refused (tcp6_ for IPv6) even when its samples show only the SYN; its SYN's chain stays tcp_connect's")
    func refusedConnectByItsError() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        #expect(model.operations.first { $0.name == "tcp_connect_refused" }?.result == "ECONNREFUSED")
        let syn = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_connect", "tcp_v4_connect",
                   "__inet_stream_connect", "inet_stream_connect", "__sys_connect", "__x64_sys_connect"]
        func connect(family: UInt64, errno: Int32?) -> (activity: KernelActivity, alignments: [String]) {
            let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
            correlator.add([KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 150), cpu: 0,
                                         chain: syn, fields: [:])])
            var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .connect, arguments: [3, 0, 16, 0, 0, 0],
                                         entryTime: MonotonicTime(nanoseconds: 100))
            call.exitTime = MonotonicTime(nanoseconds: 200)
            call.result = SyscallResult(value: errno == nil ? 0 : -1, errno: errno)
            call.socket = SocketSnapshot(fd: 3, socket: SocketInfo(family: family, type: 1, protocolNumber: 6))
            let activity = correlator.activity(for: call)
            return (activity, activity.alignments.map(\.operation))
        }
        let refused = connect(family: 2, errno: 111)
        #expect(refused.activity.operation == "tcp_connect_refused")
        #expect(refused.alignments == ["tcp_connect"], "the SYN's chain keeps its own operation")
        #expect(connect(family: 10, errno: 111).activity.operation == "tcp6_connect_refused")
        #expect(connect(family: 2, errno: nil).activity.operation == "tcp_connect")
        #expect(connect(family: 2, errno: 110).activity.operation == "tcp_connect", "ETIMEDOUT: no operation stands for it")
        #expect(throws: ModelError.self) {
            try ModelParser.parseOperation("operation x\nsyscalls connect\nresult ENOTANERROR\nbody\nsyscall __sys_connect net/socket.c\n", file: "x.chain")
        }
    }

    @Test("a close after shutdown(SHUT_WR) whose FIN's ACK waited in the backlog, a timer's delayed ACK on its stack (CI's chains, 6.18): tcp_close_after_shutdown, not tcp_close — no FIN left in it")
    func closeAfterShutdownWithBacklog() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let close = ["__tcp_close", "tcp_close", "inet_release", "sock_close", "__fput", "__x64_sys_close", "do_syscall_64",
                     "entry_SYSCALL_64_after_hwframe"]
        let timer = ["__traceiter_net_dev_queue", "__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb",
                     "tcp_delack_timer_handler", "tcp_delack_timer", "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs",
                     "__irq_exit_rcu", "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt", "perf_swevent_event", "perf_tp_event",
                     "perf_trace_inet_sock_set_state", "inet_sk_state_store"] + close
        let chains: [(String, [String], [String: TracepointValue])] = [
            ("sock:inet_sock_set_state", ["inet_sk_state_store"] + close, ["oldstate": .number(4), "newstate": .number(4)]),
            ("net:net_dev_queue", timer, ["skbaddr": .number(0x7f00), "len": .number(66), "name": .string("lo")]),
            ("sock:inet_sock_set_state", ["inet_sk_state_store", "tcp_rcv_state_process", "tcp_v4_do_rcv", "__release_sock"] + close,
             ["oldstate": .number(4), "newstate": .number(5)]),
            ("sock:inet_sock_set_state", ["inet_sk_state_store", "tcp_done"] + close, ["oldstate": .number(5), "newstate": .number(7)])]
        let correlator = KernelCorrelator(model: model, symbols: nil, kernel: KernelVersion(6, 18))
        correlator.add(chains.enumerated().map { index, chain in
            KernelSample(tracepoint: chain.0, role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 110 + UInt64(index) * 10), cpu: 1,
                         chain: chain.1, fields: chain.2)
        })
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .close, arguments: [3, 0, 0, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 100))
        call.exitTime = MonotonicTime(nanoseconds: 200)
        call.result = SyscallResult(value: 0, errno: nil)
        var socket = SocketInfo(family: 2, type: 1, protocolNumber: 6)
        socket.state = .shutDown
        call.socket = SocketSnapshot(fd: 3, socket: socket)
        let activity = correlator.activity(for: call)
        #expect(activity.operation == "tcp_close_after_shutdown", "\(activity.operation ?? "none")")
        // The backlog's state change on a modelled path of it; the timer's ACK its own operation's.
        let backlog = try #require(activity.alignments.first { $0.observed.contains("__release_sock") })
        #expect(backlog.operation == "tcp_close_after_shutdown" && [.matches, .unverified].contains(backlog.verdict),
                "\(backlog.operation) \(backlog.verdict): \(backlog.steps.map { "\($0.function) \($0.status)" })")
        #expect(activity.alignments.contains { $0.operation == "tcp_delack_timer" })
    }

    @Test func kernelVersions() {
        #expect(KernelVersion("6.18.44-fc-v657") == KernelVersion(6, 18, 44))
        #expect(KernelRange(parsing: "-4.16")?.contains(KernelVersion(4, 16, 9)) == true)
        #expect(KernelRange(parsing: "-4.16")?.contains(KernelVersion(4, 17)) == false)
        #expect(KernelRange(parsing: "5.0-5.2")?.contains(KernelVersion(5, 2, 21)) == true)
        #expect(KernelRange(parsing: "4.17") == nil)
    }

    @Test("probes.conf: `everywhere` samples a tracepoint in every task; never a kprobe")
    func everywhereProbes() throws {
        let sets = try ModelParser.parseProbeSets("set s\n  tcp:tcp_retransmit_skb chain everywhere a retransmission\n  net:net_dev_queue chain a packet\n", file: "p.conf")
        #expect(sets["s"]?.map(\.everywhere) == [true, false])
        #expect(sets["s"]?.first?.meaning == "a retransmission")
        #expect(throws: ModelError.self) { try ModelParser.parseProbeSets("set s\n  kprobe:tcp_sendmsg hit everywhere x\n", file: "p.conf") }
    }

    @Test("a call tree: `branch` … `end` is a call made beside the path with its own callees, a path of its own from the root")
    func branches() throws {
        let text = """
        operation tree
        syscalls connect
        body
        socket a
        socket b beside
        branch
        socket b1
        branch
        socket b11
        end
        socket b12
        end
        socket c
        branch
        socket c1 5.0-5.1
        end
        socket d
        """
        let operation = try ModelParser.parseOperation(text, file: "tree.chain")
        #expect(operation.chain(for: nil, kernel: nil).map(\.name) == ["a", "b", "c", "d"])
        let paths = operation.paths(for: nil, kernel: nil)
        #expect(paths.map { $0.map(\.name) } == [["a", "b", "c", "d"], ["a", "b", "b1", "b12"], ["a", "b", "b1", "b11"], ["a", "b", "c", "c1"]],
                "\(paths.map { $0.map(\.name) })")
        // The function a block hangs from is on that block's way, though the main path passes it by.
        #expect(paths[0][1].isBeside && !paths[1][1].isBeside)
        // A block whose functions are for other kernels is no path there.
        #expect(operation.paths(for: nil, kernel: KernelVersion(6, 18)).count == 3)
        #expect(operation.allFunctions.count == 8)
    }

    @Test("the full probe set's chains beside the main path (6.18's, from perf): each is its operation's own path, every frame named")
    func besideThePathChains() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let aligner = ChainAligner(symbols: nil)
        func syscallAlignment(_ operation: String, entry: String, _ outermostFirst: [String]) throws -> ChainAlignment {
            let found = try #require(model.operation(named: operation))
            let candidates = found.paths(for: entry, kernel: KernelVersion(6, 18)).map {
                aligner.align(frames: outermostFirst.map { KernelFrame($0, 0) }, with: $0, operation: operation)
            }
            return try #require(candidates.max { ChainAligner.score($0) < ChainAligner.score($1) })
        }
        let connect = ["__x64_sys_connect", "__sys_connect", "inet_stream_connect", "__inet_stream_connect", "tcp_v4_connect"]
        for below in [["ip_route_output_key_hash", "ip_route_output_key_hash_rcu", "fib_table_lookup"],
                      ["ip_route_output_flow", "ip_route_output_key_hash_rcu", "fib_table_lookup"],
                      ["__inet_hash_connect", "inet_bind2_bucket_create", "kmem_cache_alloc_noprof"], ["inet_sk_state_store"]] {
            let alignment = try syscallAlignment("tcp_connect", entry: "connect", connect + below)
            #expect(alignment.extraFrames.isEmpty && alignment.verdict != .differs, "\(below): \(alignment.verdict) \(alignment.extraFrames)")
        }
        // The main path is still the SYN's.
        let syn = try syscallAlignment("tcp_connect", entry: "connect", connect + ["tcp_connect", "__tcp_transmit_skb"])
        #expect(syn.steps.contains { $0.function == "tcp_connect" && $0.status == .matched })
        // Softirq work at state changes, allocations and route lookups (innermost first).
        let v4 = ["tcp_v4_rcv"] + Self.receiveEntry
        let cases: [([String], String?, String)] = [
            (["kmem_cache_alloc_noprof", "inet_reqsk_alloc", "tcp_conn_request", "tcp_rcv_state_process", "tcp_v4_do_rcv"] + v4, "inet_reqsk_alloc",
             "tcp_synack"),
            (["fib_table_lookup", "ip_route_output_key_hash_rcu", "ip_route_output_flow", "inet_csk_route_req", "tcp_conn_request",
              "tcp_rcv_state_process", "tcp_v4_do_rcv"] + v4, nil, "tcp_synack"),
            (["kmem_cache_alloc_noprof", "sk_prot_alloc", "sk_clone_lock", "inet_csk_clone_lock", "tcp_create_openreq_child",
              "tcp_v4_syn_recv_sock", "tcp_check_req"] + v4, "sk_prot_alloc", "tcp_accept_ready_softirq"),
            // The SYN cookie's ACK: tcp_v4_do_rcv checks the cookie, then calls tcp_child_process itself.
            (["inet_sk_state_store", "tcp_rcv_state_process", "tcp_child_process", "tcp_v4_do_rcv"] + v4, nil, "tcp_syncookie_ack_softirq"),
            (["inet_sk_set_state", "inet_csk_clone_lock", "tcp_create_openreq_child", "tcp_v4_syn_recv_sock",
              "tcp_get_cookie_sock", "cookie_v4_check", "tcp_v4_do_rcv"] + v4, nil, "tcp_syncookie_ack_softirq"),
            (["inet_sk_state_store", "tcp_rcv_state_process", "tcp_v4_do_rcv"] + v4, nil, "tcp_fin_acked_softirq"),
            (["inet_sk_state_store", "tcp_fin", "tcp_data_queue", "tcp_rcv_established", "tcp_v4_do_rcv"] + v4, nil, "tcp_receive_softirq"),
            (["inet_sk_state_store", "tcp_done", "tcp_fin", "tcp_data_queue", "tcp_rcv_state_process", "tcp_v4_do_rcv"] + v4, nil, "tcp_fin_softirq"),
            (["fib_table_lookup", "ip_route_output_key_hash_rcu", "ip_route_output_flow", "ip_send_unicast_reply", "tcp_v4_send_reset"] + v4, nil,
             "tcp_reset_softirq"),
        ]
        for (chain, subject, expected) in cases {
            let parts = ChainAligner.parts(chain.map { KernelFrame($0, 0) })
            let alignment = aligner.softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model, kernel: KernelVersion(6, 18), subject: subject)
            #expect(alignment?.operation == expected, "\(chain.first!)…: \(alignment?.operation ?? "unmodelled")")
            #expect(alignment?.extraFrames.isEmpty == true, "\(alignment?.extraFrames ?? [])")
        }
        // The request socket's ACK, ESTABLISHED under tcp_v4_rcv's own tcp_child_process: the SYN cookie's
        // operation fits it too, its tcp_v4_do_rcv unverified without the kernel's code (which tells them
        // apart: tcp_v4_do_rcv calls tcp_child_process, not by a jump; KernelTests.synCookieHandshakes).
        let accepted = ChainAligner.parts((["inet_sk_state_store", "tcp_rcv_state_process", "tcp_child_process"] + v4).map { KernelFrame($0, 0) })
        let either = aligner.softirqAlignment(accepted.softirq, kind: accepted.softirqKind, model: model, kernel: KernelVersion(6, 18))
        #expect(either == nil, "\(either?.operation ?? "unmodelled")")
        // An allocation whose caller the sample does not name reaches no path: the allocator is not the model's.
        let unnamed = ChainAligner.parts((["kmem_cache_alloc_noprof", "inet_reqsk_alloc", "tcp_conn_request", "tcp_rcv_state_process", "tcp_v4_do_rcv"]
            + v4).map { KernelFrame($0, 0) })
        #expect(aligner.softirqAlignment(unnamed.softirq, kind: unnamed.softirqKind, model: model, kernel: KernelVersion(6, 18)) == nil)
    }

    @Test("a loss probe's transmit, sampled at net:net_dev_queue in a TIMER softirq, is tcp_loss_probe, not a receive (audit A-2)")
    func lossProbeTransmit() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let chain = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "__tcp_retransmit_skb",
                     "tcp_send_loss_probe", "tcp_write_timer", "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs",
                     "__irq_exit_rcu", "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt"]
        let frames = chain.map { KernelFrame($0, 0) }
        let parts = ChainAligner.parts(frames)
        #expect(parts.softirqKind == "TIMER")
        let alignment = try #require(ChainAligner(symbols: nil).softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model,
                                                                                 kernel: KernelVersion(6, 18)))
        #expect(alignment.operation == "tcp_loss_probe", "\(alignment.operation)")
    }

    /// The softirq operation chosen for a chain (outermost frame last, as
    /// perf prints it), without the kernel's code: no tail call proven.
    /// `family`: the packets' address family, as the sample's own fields say it (tcp:tcp_retransmit_skb).
    static func softirqOperation(_ innermostFirst: [String], family: UInt64? = nil) throws -> String? {
        let model = try ModelParser.load(directory: modelDirectory)
        let parts = ChainAligner.parts(innermostFirst.map { KernelFrame($0, 0) })
        return ChainAligner(symbols: nil).softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model,
                                                           kernel: KernelVersion(6, 18), family: family)?.operation
    }

    static let timerEntry = ["call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu",
                             "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt"]
    static let receiveEntry = ["ip_protocol_deliver_rcu", "ip_local_deliver_finish", "__netif_receive_skb_one_core", "process_backlog",
                               "__napi_poll", "net_rx_action", "handle_softirqs", "do_softirq", "__local_bh_enable_ip"]
    static let ipTransmit = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb"]

    @Test("a delayed ACK's timer (perf's chain on 6.18) is tcp_delack_timer, not a retransmission or a receive")
    func delayedAckTimer() throws {
        #expect(try Self.softirqOperation(Self.ipTransmit + ["tcp_delack_timer_handler", "tcp_delack_timer"] + Self.timerEntry)
            == "tcp_delack_timer")
    }

    @Test("a FIN received after this side's own FIN sends its ACK from tcp_fin: tcp_fin_softirq, not the SYN-ACK")
    func finAfterOwnFin() throws {
        #expect(try Self.softirqOperation(Self.ipTransmit + ["tcp_fin", "tcp_data_queue", "tcp_rcv_state_process", "tcp_v4_do_rcv",
                                                             "tcp_v4_rcv"] + Self.receiveEntry) == "tcp_fin_softirq")
    }

    @Test("an ACK whose path is only tail calls, unproven without the kernel's code, is no operation: nothing tells them apart")
    func unprovenAckIsUnmodelled() throws {
        let chosen = try Self.softirqOperation(Self.ipTransmit + ["tcp_v4_do_rcv", "tcp_v4_rcv"] + Self.receiveEntry)
        #expect(chosen == nil, "\(chosen ?? "")")
    }

    @Test("a packet's receive seen at the device is the shared receive path, explained whole by its narrowest operation")
    func deviceReceiveIsNetifReceive() throws {
        #expect(try Self.softirqOperation(["__netif_receive_skb_core", "__netif_receive_skb_one_core", "process_backlog", "__napi_poll",
                                           "net_rx_action", "handle_softirqs", "do_softirq", "__local_bh_enable_ip"]) == "netif_receive")
    }

    @Test("the client's handshake completed outside connect (6.18's chains, audit 44 N2): its ESTABLISHED is tcp_connect_completed_softirq or tcp6_, never FIN work")
    func connectCompletedInSoftirq() throws {
        let established = ["inet_sk_state_store", "tcp_finish_connect", "tcp_rcv_state_process", "tcp_v4_do_rcv", "tcp_v4_rcv"] + Self.receiveEntry
        #expect(try Self.softirqOperation(established) == "tcp_connect_completed_softirq")
        let established6 = ["inet_sk_state_store", "tcp_finish_connect", "tcp_rcv_state_process", "tcp_v6_do_rcv", "tcp_v6_rcv"] + Self.receive6Entry
        #expect(try Self.softirqOperation(established6) == "tcp6_connect_completed_softirq")
        // Its ACK (__tcp_send_ack a tail call, no frame): never the FIN's, whatever the code says of it.
        let ack = Self.ipTransmit + ["tcp_rcv_state_process", "tcp_v4_do_rcv", "tcp_v4_rcv"] + Self.receiveEntry
        #expect(try Self.softirqOperation(ack) != "tcp_fin_softirq")
    }

    @Test("a SYN-ACK sent again (6.18's chains, audit 43): by the request socket's timer tcp_synack_timer or tcp6_synack_timer; for a SYN taken in again tcp_syn_again_softirq; not the first SYN's receive")
    func synackTimer() throws {
        let timer = ["tcp_rtx_synack", "reqsk_timer_handler"] + Self.timerEntry
        let v4 = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "ip_build_and_send_pkt", "tcp_v4_send_synack"] + timer
        #expect(try Self.softirqOperation(v4) == "tcp_synack_timer")
        let v6 = ["__dev_queue_xmit", "ip6_finish_output", "ip6_output", "ip6_xmit", "tcp_v6_send_synack"] + timer
        #expect(try Self.softirqOperation(v6) == "tcp6_synack_timer")
        // A SYN taken in again for the pending request: tcp_check_req sends it again, in the receive.
        let again = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "tcp_v4_send_synack", "tcp_rtx_synack", "tcp_check_req", "tcp_v4_rcv"]
            + Self.receiveEntry
        #expect(try Self.softirqOperation(again) == "tcp_syn_again_softirq")
    }

    @Test("a retransmission while an ACK is processed is tcp_ack_retransmit; one from the pacing timer is the pacing timer's (by the sample's family), not the RTO's")
    func retransmissionsNotByTheTimer() throws {
        let onAck = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_xmit_retransmit_queue", "tcp_ack", "tcp_rcv_established", "tcp_v4_do_rcv",
                     "tcp_v4_rcv"] + Self.receiveEntry
        #expect(try Self.softirqOperation(onAck) == "tcp_ack_retransmit")
        let pacing = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_xmit_retransmit_queue", "tcp_tsq_write"] + Self.pacingEntry
        #expect(try Self.softirqOperation(pacing, family: AddressFamily.inet) == "tcp_pacing_timer")
        #expect(try Self.softirqOperation(pacing, family: AddressFamily.inet6) == "tcp6_pacing_timer")
        let byTheTimer = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_retransmit_timer", "tcp_write_timer_handler", "tcp_write_timer"]
            + Self.timerEntry
        // At tcp:tcp_retransmit_skb a timer's frames stop before IP: the sample's family (IPv4) tells it from tcp6_retransmit_timer.
        #expect(try Self.softirqOperation(byTheTimer, family: AddressFamily.inet) == "tcp_retransmit_timer")
    }

    @Test("the write timer's other retransmissions (6.18's chains): RACK's reordering timeout is tcp_rack_reo_timer, a loss probe that sends new data tcp_loss_probe (audit 11)")
    func writeTimerRetransmissions() throws {
        let writeTimer = ["tcp_write_timer"] + Self.timerEntry
        let rack = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_xmit_retransmit_queue", "tcp_rack_reo_timeout"] + writeTimer
        #expect(try Self.softirqOperation(rack, family: AddressFamily.inet) == "tcp_rack_reo_timer")
        #expect(try Self.softirqOperation(rack, family: AddressFamily.inet6) == "tcp6_rack_reo_timer")
        #expect(try Self.softirqOperation(Self.ipTransmit + rack) == "tcp_rack_reo_timer")
        let newData = ["tcp_write_xmit", "tcp_send_loss_probe"] + writeTimer
        #expect(try Self.softirqOperation(Self.ipTransmit + newData) == "tcp_loss_probe")
        #expect(try Self.softirqOperation(Self.ip6Transmit + newData) == "tcp6_loss_probe")
        let resent = ["__tcp_retransmit_skb", "tcp_send_loss_probe"] + writeTimer
        #expect(try Self.softirqOperation(Self.ipTransmit + resent) == "tcp_loss_probe")
    }

    /// The pacing hrtimer's callback and what runs it, as 6.18 shows them (innermost first).
    static let pacingEntry = ["tcp_tsq_handler", "tcp_pace_kick", "__hrtimer_run_queues", "hrtimer_run_softirq", "handle_softirqs",
                              "__irq_exit_rcu", "sysvec_apic_timer_interrupt"]

    @Test("segments the pacing timer sends (6.18's chain: tcp_tsq_write left by a jump) are the pacing timer's, not an ACK's send")
    func pacingTimerSend() throws {
        let send = ["tcp_write_xmit"] + Self.pacingEntry
        #expect(try Self.softirqOperation(Self.ip6Transmit + send) == "tcp6_pacing_timer")
        #expect(try Self.softirqOperation(Self.ipTransmit + send) == "tcp_pacing_timer")
    }

    /// IPv6's receive up to the protocol and transmit from __tcp_transmit_skb, as 6.18 shows them (innermost first).
    static let receive6Entry = ["ip6_protocol_deliver_rcu", "ip6_input_finish", "ip6_input", "__netif_receive_skb_one_core", "process_backlog",
                                "__napi_poll", "net_rx_action", "handle_softirqs", "do_softirq", "__local_bh_enable_ip"]
    static let ip6Transmit = ["__dev_queue_xmit", "ip6_finish_output", "ip6_output", "ip6_xmit", "inet6_csk_xmit", "__tcp_transmit_skb"]

    @Test("IPv6 chains (6.18's) go to the IPv6 operations: a FIN after the own FIN, a delayed ACK, a retransmission on an ACK, data let go by an ACK")
    func ipv6SoftirqOperations() throws {
        let v6 = ["tcp_v6_do_rcv", "tcp_v6_rcv"] + Self.receive6Entry
        #expect(try Self.softirqOperation(Self.ip6Transmit + ["tcp_fin", "tcp_data_queue", "tcp_rcv_state_process"] + v6) == "tcp6_fin_softirq")
        #expect(try Self.softirqOperation(Self.ip6Transmit + ["tcp_delack_timer_handler", "tcp_delack_timer"] + Self.timerEntry) == "tcp6_delack_timer")
        #expect(try Self.softirqOperation(["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_xmit_retransmit_queue", "tcp_ack", "tcp_rcv_established"] + v6)
            == "tcp6_ack_retransmit")
        #expect(try Self.softirqOperation(Self.ip6Transmit + ["tcp_write_xmit", "__tcp_push_pending_frames", "tcp_rcv_established"] + v6) == "tcp6_ack_send")
        // The IPv4 chains keep their operations.
        #expect(try Self.softirqOperation(Self.ipTransmit + ["tcp_fin", "tcp_data_queue", "tcp_rcv_state_process", "tcp_v4_do_rcv", "tcp_v4_rcv"]
            + Self.receiveEntry) == "tcp_fin_softirq")
    }

    @Test("a timer's retransmission at tcp:tcp_retransmit_skb shows no family in its frames: the sample's own fields choose tcp6_ or tcp_; unknown, it ties (unmodelled)")
    func retransmissionTimerByFamily() throws {
        let model = try ModelParser.load(directory: Self.modelDirectory)
        let byTheTimer = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_retransmit_timer", "tcp_write_timer"] + Self.timerEntry
        let probe = ["__tcp_retransmit_skb", "tcp_send_loss_probe", "tcp_write_timer"] + Self.timerEntry
        func chosen(_ chain: [String], _ family: UInt64?) -> String? {
            let parts = ChainAligner.parts(chain.map { KernelFrame($0, 0) })
            return ChainAligner(symbols: nil).softirqAlignment(parts.softirq, kind: parts.softirqKind, model: model, kernel: KernelVersion(6, 18),
                                                               family: family)?.operation
        }
        #expect(chosen(byTheTimer, AddressFamily.inet6) == "tcp6_retransmit_timer")
        #expect(chosen(byTheTimer, AddressFamily.inet) == "tcp_retransmit_timer")
        #expect(chosen(probe, AddressFamily.inet6) == "tcp6_loss_probe")
        #expect(chosen(probe, AddressFamily.inet) == "tcp_loss_probe")
        #expect(chosen(byTheTimer, nil) == nil)
        // An IPv6 chain's frames decide whatever the fields say: tcp6_ operations are no candidates for IPv4 packets.
        let v6Ack = ["__tcp_retransmit_skb", "tcp_retransmit_skb", "tcp_xmit_retransmit_queue", "tcp_ack", "tcp_rcv_established", "tcp_v6_do_rcv",
                     "tcp_v6_rcv"] + Self.receive6Entry
        #expect(chosen(v6Ack, AddressFamily.inet6) == "tcp6_ack_retransmit")
        #expect(chosen(v6Ack, AddressFamily.inet) != "tcp6_ack_retransmit")
    }

    @Test("the family of a tracepoint's socket: AF_INET6, but AF_INET for IPv4-mapped addresses (their packets go the IPv4 way)")
    func pathFamily() {
        func sample(_ family: Int64, _ daddr: [UInt8]) -> KernelSample {
            KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0, chain: [],
                         fields: ["family": .symbol(family == 10 ? "AF_INET6" : "AF_INET", family), "daddr_v6": .bytes(daddr)])
        }
        let loopback6 = [UInt8](repeating: 0, count: 15) + [1]
        let mapped = [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]
        #expect(sample(10, loopback6).pathFamily == AddressFamily.inet6)
        #expect(sample(10, mapped).pathFamily == AddressFamily.inet)
        #expect(sample(2, mapped).pathFamily == AddressFamily.inet)
        #expect(KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0, chain: [],
                             fields: [:]).pathFamily == nil)
    }
}
