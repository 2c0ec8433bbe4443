import Foundation
import Testing
@testable import SocketTrace

/// The pieces between the sampler and a call's kernel activity, without a
/// kernel: kallsyms parsing, per-thread sample queues, attribution by time.
@Suite struct CorrelatorTests {
    static func sample(_ tid: Int32, at time: UInt64, _ tracepoint: String = "net:net_dev_queue", chain: [String] = ["__dev_queue_xmit", "__x64_sys_sendto"]) -> KernelSample {
        KernelSample(tracepoint: tracepoint, role: .chain, pid: tid, tid: tid, time: MonotonicTime(nanoseconds: time), cpu: 0,
                     chain: chain, fields: [:])
    }

    @Test("after the traced calls on a 4-tuple, a hit whose socket (sk, skaddr) is none that had it while they used it is another socket's, not the traced one's (audit 90 F1: an untraced connection made on a closed traced one's 4-tuple)")
    func reusedFourTupleIsAnotherSockets() {
        var background = BackgroundWork()
        let local = SocketEndpoint.inet(address: "127.0.0.1", port: 4000), peer = SocketEndpoint.inet(address: "127.0.0.1", port: 5000)
        background.traced(flow: local, peer, until: MonotonicTime(nanoseconds: 1_000))
        background.tracedSock(0x10, of: BackgroundWork.Flow(source: local, destination: peer))
        func transmit(at time: UInt64, sock: Int64) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: time), cpu: 0, chain: [],
                         fields: ["family": .number(2), "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                  "sport": .number(4000), "dport": .number(5000), "sk": .number(sock)])
        }
        #expect(background.flow(of: transmit(at: 2_000, sock: 0x10))?.flow.owner == .ownSocket)
        #expect(background.flow(of: transmit(at: 2_000, sock: 0x20)) == nil)
        // While the traced calls used it, the 4-tuple tells (a request socket's SYN-ACK).
        #expect(background.flow(of: transmit(at: 500, sock: 0x20))?.flow.owner == .ownSocket)
    }

    @Test("a packet's socket as the BPF program kept it by skb is this packet's only where no later packet at the same address can have replaced it: within the time tolerance, written before the thread's next call, no later sample of the thread with the skb")
    func packetSocketEntryIsThisPacketsOnly() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        var written: UInt64 = 0
        correlator.packetSocket = { sample in
            PacketSocket(time: written, cpu: sample.cpu, tid: sample.tid, family: UInt16(AF_INET), localPort: 4000, remotePort: 5000,
                         localAddress: [127, 0, 0, 1], remoteAddress: [127, 0, 0, 1], sock: 0xffff_8881_0000_0000)
        }
        func transmit(at time: UInt64, skb: Int64 = 0x100) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: time), cpu: 0,
                         chain: ["__dev_queue_xmit"], fields: ["skbaddr": .number(skb)])
        }
        let ack = transmit(at: 1_000_000)
        written = 1_028_000
        #expect(correlator.socketOfPacket(ack, among: [ack], before: MonotonicTime(nanoseconds: 2_000_000))?.ends?.source.description == "127.0.0.1:4000")
        #expect(correlator.socketOfPacket(ack, among: [ack], before: nil) != nil)
        // Written after the thread's next call began: a packet of that call's, at the same address.
        #expect(correlator.socketOfPacket(ack, among: [ack], before: MonotonicTime(nanoseconds: 1_020_000)) == nil)
        // A later packet of the thread at the same address, before the entry was written: it may be that one's.
        let later = transmit(at: 1_010_000)
        #expect(correlator.socketOfPacket(ack, among: [ack, later], before: nil) == nil)
        // An earlier packet of the thread at the same address within the tolerance: the entry may be its
        // (a packet with no socket writes none).
        #expect(correlator.socketOfPacket(ack, among: [transmit(at: 950_000), ack], before: nil) == nil)
        // Written before the thread's previous call ended: one of that call's packets'.
        correlator.callEnded[1] = MonotonicTime(nanoseconds: 1_030_000)
        #expect(correlator.socketOfPacket(ack, among: [ack], before: nil) == nil)
        correlator.callEnded[1] = MonotonicTime(nanoseconds: 900_000)
        #expect(correlator.socketOfPacket(ack, among: [ack], before: nil) != nil)
        // Another address's later packet does not matter.
        #expect(correlator.socketOfPacket(ack, among: [ack, transmit(at: 1_010_000, skb: 0x200)], before: nil) != nil)
        // Too far from the sample's time to be the same event.
        written = 1_000_000 + PacketSocket.tolerance + 1
        #expect(correlator.socketOfPacket(ack, among: [ack], before: nil) == nil)
        written = 1_000_000 - PacketSocket.tolerance - 1
        #expect(correlator.socketOfPacket(ack, among: [ack], before: nil) == nil)
    }

    @Test("a state change of a socket cloned from a listener before its peer's address was set (6.1: TCP_LISTEN → TCP_SYN_RECV, listener's end → 0.0.0.0:0) is no other connection's work: which one, not known (audit 91 F1)")
    func clonedChildNotAnotherConnection() {
        let background = BackgroundWork()
        let local = SocketEndpoint.inet(address: "127.0.0.1", port: 40000), peer = SocketEndpoint.inet(address: "127.0.0.1", port: 12348)
        func change(_ source: (String, Int64), _ destination: (String, Int64), at time: UInt64 = 1) -> KernelSample {
            KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: time), cpu: 0,
                         chain: [], fields: ["family": .number(2), "protocol": .number(6), "oldstate": .number(TCPState.listen),
                                             "newstate": .number(TCPState.synRecv),
                                             "saddr": .bytes(source.0.split(separator: ".").map { UInt8($0)! }),
                                             "daddr": .bytes(destination.0.split(separator: ".").map { UInt8($0)! }),
                                             "sport": .number(source.1), "dport": .number(destination.1), "skaddr": .number(0x10)])
        }
        let cloned = background.flow(of: change(("127.0.0.1", 12348), ("0.0.0.0", 0)), socketLocal: local, socketPeer: peer)
        #expect(cloned??.owner == .unverified && cloned??.description.hasPrefix("a new connection's socket, which one not known: ") == true,
                "\(String(describing: cloned))")
        // With its peer's address set: the call's peer's, or another connection's.
        #expect(background.flow(of: change(("127.0.0.1", 12348), ("127.0.0.1", 40000)), socketLocal: local, socketPeer: peer)??.owner == .peer)
        let other = background.flow(of: change(("127.0.0.1", 12348), ("127.0.0.1", 40001)), socketLocal: local, socketPeer: peer)
        #expect(other != nil && other! == nil)
        // A later state change of the same socket (skaddr) names its connection (audit 93 F3).
        let established = change(("127.0.0.1", 12348), ("127.0.0.1", 40000), at: 2)
        let clone = change(("127.0.0.1", 12348), ("0.0.0.0", 0))
        let named = KernelCorrelator.namedBySameSocket(clone, among: [clone, established])
        #expect(named?.later.time == established.time && named?.said.contains("the same socket (skaddr 0x10)") == true, "\(String(describing: named))")
        #expect(KernelCorrelator.namedBySameSocket(established, among: [clone, established]) == nil)
        #expect(KernelCorrelator.namedBySameSocket(clone, among: [clone]) == nil)
    }

    @Test("a v4-mapped IPv6 socket's packet: its flow is paired as IPv4, its socket written as the socket has it (audit 90 m1)")
    func packetSocketOfMappedIPv6() {
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]
        let socket = PacketSocket(time: 0, cpu: 0, tid: 1, family: UInt16(AF_INET6), localPort: 4000, remotePort: 5000,
                                  localAddress: mapped, remoteAddress: mapped, sock: 0x10)
        #expect(socket.ends?.source == .inet(address: "127.0.0.1", port: 4000))
        #expect(socket.ends?.destination == .inet(address: "127.0.0.1", port: 5000))
        #expect(socket.written?.source == "[::ffff:127.0.0.1]:4000")
        #expect(socket.written?.destination == "[::ffff:127.0.0.1]:5000")
        let v4 = PacketSocket(time: 0, cpu: 0, tid: 1, family: UInt16(AF_INET), localPort: 4000, remotePort: 5000,
                              localAddress: [127, 0, 0, 1], remoteAddress: [127, 0, 0, 2], sock: 0x10)
        #expect(v4.written?.destination == "127.0.0.2:5000" && v4.ends?.destination.description == "127.0.0.2:5000")
        let unbound = PacketSocket(time: 0, cpu: 0, tid: 1, family: UInt16(AF_INET), localPort: 4000, remotePort: 0,
                                   localAddress: [127, 0, 0, 1], remoteAddress: [0, 0, 0, 0], sock: 0x10)
        #expect(unbound.written == nil && unbound.ends == nil)
    }

    @Test("a function beside the path ran when another sample of the call was taken inside it under the same frames; in a softirq, only for the same packet (audit 16: process_backlog takes packet after packet under the same frames)")
    func besideWitness() {
        func sample(_ chain: [String], _ addresses: [UInt64], skb: Int64?) -> KernelSample {
            var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1), cpu: 0,
                                      chain: chain, fields: skb.map { ["skbaddr": .number($0)] } ?? [:])
            sample.addresses = addresses
            sample.offsets = addresses.map { $0 & 0xff }
            return sample
        }
        let steps: [ChainAlignment.Step] = [.init(function: "host", layer: .transport, status: .matched),
                                            .init(function: "queue", layer: .transport, status: .beside, evidence: "host+0x10: call queue"),
                                            .init(function: "callee", layer: .transport, status: .matched)]
        let mine = sample(["callee", "host", "outer"], [0x4001, 0x8020, 0x9005], skb: 7)
        let sameFrames = sample(["queue", "host", "outer"], [0xa001, 0x8015, 0x9005], skb: 8)
        let otherOuter = sample(["queue", "host", "outer"], [0xa001, 0x8015, 0x9077], skb: 7)
        for context in [ChainAlignment.syscallContext, "softirq NET_RX"] {
            let alignment = ChainAlignment(operation: "test", steps: steps, extraFrames: [], observed: ["outer", "host", "callee"], context: context)
            let other = KernelCorrelator.withSamplesBeside(alignment, of: mine, samples: [mine, otherOuter, sameFrames])
            // In a syscall the same frames out are the same call of host; in a softirq another packet's may be under them.
            #expect(other.steps[1].status == (context == ChainAlignment.syscallContext ? .ranBeside : .beside), "\(context): \(other.steps[1])")
            let samePacket = sample(["queue", "host", "outer"], [0xa001, 0x8015, 0x9005], skb: 7)
            let own = KernelCorrelator.withSamplesBeside(alignment, of: mine, samples: [mine, otherOuter, samePacket])
            #expect(own.steps[1].status == .ranBeside && own.steps[1].evidence?.contains("was taken inside it in this call") == true, "\(own.steps[1])")
            #expect(own.verdict == .matches)
        }
    }

    @Test("a function the model nests, called off this path, is called beside it when another sample of the call was taken inside it under the frame above its place at another site (audit 95 F2: inet_shutdown's tcp_shutdown through sk_prot)")
    func notOnPathWitness() {
        func sample(_ chain: [String], _ addresses: [UInt64]) -> KernelSample {
            var sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1),
                                      cpu: 0, chain: chain, fields: [:])
            sample.addresses = addresses
            sample.offsets = addresses.map { $0 & 0xff }
            return sample
        }
        // The model: host → nested → leaf; the path: host → +backlog → leaf.
        let steps: [ChainAlignment.Step] = [
            .init(function: "host", layer: .transport, status: .matched),
            .init(function: "nested", layer: .transport, status: .notOnPath, evidence: "backlog+0x30: call nested, on no way through the call in flight"),
            .init(function: "leaf", layer: .transport, status: .matched)]
        let alignment = ChainAlignment(operation: "test", steps: steps, extraFrames: ["backlog"], observed: ["outer", "host", "backlog", "leaf"],
                                       context: ChainAlignment.syscallContext)
        let mine = sample(["leaf", "backlog", "host", "outer"], [0x4001, 0x7040, 0x8097, 0x9005])
        let otherSite = sample(["leaf", "nested", "host", "outer"], [0x4001, 0xa046, 0x80e4, 0x9005])
        let sameSite = sample(["leaf", "nested", "host", "outer"], [0x4001, 0xa046, 0x8097, 0x9005])
        let otherOuter = sample(["leaf", "nested", "host", "outer"], [0x4001, 0xa046, 0x80e4, 0x9077])
        let beside = KernelCorrelator.withSamplesBeside(alignment, of: mine, samples: [mine, otherSite])
        #expect(beside.steps[1].status == .sibling, "\(beside.steps[1])")
        #expect(beside.steps[1].evidence?.hasPrefix("host+0xe4 (its return address) called it in this call, beside the call in flight (host+0x97)") == true,
                "\(beside.steps[1])")
        #expect(beside.verdict == .differs)
        // At the call in flight's own site it may be the path's call, left by a jump; under other frames, another call.
        for witness in [sameSite, otherOuter] {
            #expect(KernelCorrelator.withSamplesBeside(alignment, of: mine, samples: [mine, witness]).steps[1].status == .notOnPath)
        }
        // Drawn where the frame above its place called it, before the frames of the path beside it.
        let timeline = TextTimeline(output: TraceOutput.capturing(), options: TextTimeline.Options())
        #expect(timeline.renderChain(beside) == ["+outer", "host", "(nested: beside, not nested)", "+backlog", "leaf"], "\(timeline.renderChain(beside))")
    }

    @Test("a missing function whose evidence names no frame is drawn before the frame a later one's proof starts from, not between that frame and its direct callee (audit 96 minor 1)")
    func gapDrawnBeforeTheProvenCaller() {
        let steps: [ChainAlignment.Step] = [
            .init(function: "host", layer: .transport, status: .matched),
            .init(function: "nested", layer: .transport, status: .unverified, evidence: "not called by these frames' code directly"),
            .init(function: "state", layer: .transport, status: .tailCall, evidence: "done+0x29: call state; state+0x75: jmp store"),
            .init(function: "store", layer: .transport, status: .matched)]
        let alignment = ChainAlignment(operation: "test", steps: steps, extraFrames: ["backlog", "done"],
                                       observed: ["host", "backlog", "done", "store"], context: ChainAlignment.syscallContext)
        let timeline = TextTimeline(output: TraceOutput.capturing(), options: TextTimeline.Options())
        #expect(timeline.renderChain(alignment) == ["host", "(nested?)", "+backlog", "+done", "(state: tail call)", "store"],
                "\(timeline.renderChain(alignment))")
    }

    @Test("kallsyms: addresses are shown when the first text symbol's is not zero (Debian's kernels begin with an absolute zero)")
    func kallsymsAddressesShown() {
        let debian = Array("0000000000000000 A fixed_percpu_data\n0000000000000000 A __per_cpu_start\nffffffffbb000000 T _stext\n".utf8)
        let hidden = Array("0000000000000000 A fixed_percpu_data\n0000000000000000 T _stext\n".utf8)
        #expect(KernelSymbols.firstTextAddress(debian) == 0xffffffffbb000000)
        #expect(KernelSymbols.firstTextAddress(hidden) == 0)
        #expect(KernelSymbols.firstTextAddress(Array("no text here\n".utf8)) == nil)
    }

    @Test("kallsyms: of several names at one address, the code's own (not a section marker) names it")
    func kallsymsMarkers() {
        let symbols = KernelSymbols(kallsyms: "0000000000002000 T __x86_indirect_thunk_array\n0000000000002000 T __softirqentry_text_end\n0000000000001000 T before\n")
        #expect(symbols.function(at: 0x2010) == "__x86_indirect_thunk_array")
        #expect(symbols.function(at: 0x1008) == "before")
    }

    @Test("kallsyms: every copy of a name (specialised, local, cold), in address order; not names that only begin or end alike")
    func kallsymsStarts() {
        let symbols = KernelSymbols(kallsyms: """
            0000000000005000 t dst_output
            0000000000001000 t dst_output
            0000000000003000 t dst_output.isra.0
            0000000000004000 t dst_output_x
            0000000000002000 t ip_dst_output
            0000000000006000 t dst_output.cold
            0000000000007000 T tcp_sendmsg
            """)
        #expect(symbols.starts(of: "dst_output") == [0x1000, 0x3000, 0x5000, 0x6000])
        #expect(symbols.starts(of: "tcp_sendmsg") == [0x7000])
        #expect(symbols.starts(of: "dst_outpu").isEmpty && symbols.starts(of: "absent").isEmpty)
    }

    @Test("event fields: IPv6 endpoints from the _v6 fields by family, a reset's sockaddr fields, pointers in hex")
    func eventFields() {
        let loopback6: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        let state = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0,
                                 chain: [], fields: ["family": .symbol("AF_INET6", 10), "oldstate": .number(2), "newstate": .number(1),
                                                     "saddr": .bytes([127, 0, 0, 6]), "daddr": .bytes([127, 0, 0, 6]),
                                                     "saddr_v6": .bytes(loopback6), "daddr_v6": .bytes(loopback6),
                                                     "sport": .number(40000), "dport": .number(12345)])
        #expect(state.summary == "TCP_SYN_SENT → TCP_ESTABLISHED [::1]:40000 → [::1]:12345")
        // struct sockaddr_in in a 28-byte field: family 2 (little-endian), port 12345 (big-endian), 127.0.0.1.
        let source: [UInt8] = [2, 0, 0x30, 0x39, 127, 0, 0, 1] + [UInt8](repeating: 0, count: 20)
        let destination: [UInt8] = [10, 0, 0x9c, 0x40, 0, 0, 0, 0] + loopback6 + [0, 0, 0, 0]
        let reset = KernelSample(tracepoint: "tcp:tcp_send_reset", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0,
                                 chain: [], fields: ["saddr": .bytes(source), "daddr": .bytes(destination), "reason": .symbol("NOT_SPECIFIED", 0)])
        #expect(reset.summary == "127.0.0.1:12345 → [::1]:40000 reason=NOT_SPECIFIED")
        let free = KernelSample(tracepoint: "kmem:kmem_cache_free", role: .chain, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0,
                                chain: [], fields: ["call_site": .number(-2113506988), "ptr": .number(-131386497255872)])
        #expect(free.summary == "call_site=0xffffffff82067154 ptr=0xffff88813280b640")
    }

    @Test("a return address just past a function that ends with a call that never returns is that function's, not the next one's padding (audit 95 F3: __pfx_clear_bss)")
    func returnAddressAtPadding() {
        let symbols = KernelSymbols(kallsyms: """
            ffffffff81000000 T _stext
            ffffffff83000000 T x86_64_start_reservations
            ffffffff83000030 T __pfx_clear_bss
            ffffffff83000040 T clear_bss
            """)
        let end = UInt64(0xffffffff83000030)
        #expect(symbols.location(of: end)?.function == "__pfx_clear_bss")
        let returning = symbols.location(ofReturnAddress: end)
        #expect(returning?.function == "x86_64_start_reservations" && returning?.offset == 0x30, "\(String(describing: returning))")
        // Anywhere else, as before.
        #expect(symbols.location(ofReturnAddress: end + 0x11)?.function == "clear_bss")
        #expect(symbols.location(ofReturnAddress: end - 0x10)?.offset == 0x20)
    }

    @Test("kallsyms: text symbols only, names without compiler suffixes, specialised copies")
    func kallsyms() {
        let text = """
        ffffffff81000000 T _stext
        ffffffff81001000 t tcp_sendmsg_locked
        ffffffff81001400 T tcp_sendmsg
        ffffffff81002000 t __netif_receive_skb_core.constprop.0
        ffffffff81003000 D some_data
        ffffffff81004000 t ip_finish_output2\t[somemodule]
        ffffffff81005000 t tcp_push.part.0
        ffffffff81005100 t tcp_push
        """
        let symbols = KernelSymbols(kallsyms: text)
        #expect(symbols.location(of: 0xffffffff81001410)?.function == "tcp_sendmsg")
        #expect(symbols.location(of: 0xffffffff81001410)?.offset == 0x10)
        #expect(symbols.location(of: 0xffffffff81002020)?.function == "__netif_receive_skb_core")
        #expect(symbols.location(of: 0xffffffff81004001)?.function == "ip_finish_output2")
        #expect(symbols.location(of: 0xffffffff80000000) == nil)
        #expect(symbols.presence(of: "tcp_sendmsg") == .symbol)
        #expect(symbols.presence(of: "__netif_receive_skb_core") == .specialised("__netif_receive_skb_core.constprop.0"))
        #expect(symbols.presence(of: "tcp_push") == .symbol)
        #expect(symbols.presence(of: "some_data") == .absent)
        #expect(symbols.presence(of: "tcp_send") == .absent)
        #expect(symbols.presence(of: "tcp_sendmsg_lock") == .absent)
    }

    @Test("kallsyms copy: read back for the key it was made with; another key, a cut file or another format is no copy")
    func kallsymsCache() throws {
        let directory = "/tmp/sockettrace-kallsyms-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: directory) }
        let cache = KallsymsCache(path: directory + "/nested/kallsyms")
        let text = Array("ffffffff81000000 T _stext\nffffffff81001400 T tcp_sendmsg\n".utf8)
        #expect(cache.read(key: 42) == nil)
        #expect(cache.write(text, key: 42))
        #expect(cache.read(key: 42) == text)
        #expect(cache.read(key: 43) == nil)
        var attributes = stat()
        #expect(stat(cache.path, &attributes) == 0 && attributes.st_mode & 0o777 == 0o600)
        // Cut short (a run killed while writing leaves only its own temporary
        // file, but a disk that fills can cut the copy too).
        let whole = try #require(ProcFile.bytes(cache.path))
        #expect(FileManager.default.createFile(atPath: cache.path, contents: Data(whole.dropLast(5))))
        #expect(cache.read(key: 42) == nil)
        #expect(FileManager.default.createFile(atPath: cache.path, contents: Data("sockettrace kallsyms 0\n2a\n0\n".utf8)))
        #expect(cache.read(key: 42) == nil)
        // Written again over it, and no temporary file left behind.
        #expect(cache.write(text, key: 7))
        #expect(cache.read(key: 7) == text)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/nested") == ["kallsyms"])
        // A directory others can write to, or a link in the file's place, is not used.
        chmod(directory + "/nested", 0o777)
        #expect(cache.read(key: 7) == nil)
        #expect(!cache.write(text, key: 7))
        chmod(directory + "/nested", 0o700)
        unlink(cache.path)
        symlink(directory + "/elsewhere", cache.path)
        #expect(cache.read(key: 7) == nil)
    }

    @Test("kernel functions named bpf_prog_… are symbols like any other; only a loaded program's name (bpf_prog_, a 16-digit tag) is looked for among the loaded programs (audit 67 H2)")
    func kernelFunctionsNamedLikePrograms() throws {
        let symbols = KernelSymbols(kallsyms: "ffffffff81000000 T _stext\nffffffff814e9610 t bpf_prog_by_id.part.0\n"
                                    + "ffffffff814e9700 T bpf_prog_run_generic_xdp\nffffffff83000000 T _einittext\n"
                                    + "ffffffffc0f00000 t bpf_prog_0123456789abcdef_gone\t[bpf]\nffffffffc0f10000 t bpf_prog_0123456789abcdef\t[bpf]\n")
        let found = try #require(symbols.location(of: 0xffff_ffff_814e_9676))
        #expect(found.function == "bpf_prog_by_id" && found.symbol == "bpf_prog_by_id.part.0" && found.offset == 0x66, "\(found)")
        #expect(symbols.location(of: 0xffff_ffff_814e_9710)?.function == "bpf_prog_run_generic_xdp")
        // Programs no longer loaded (with a name, and without): nothing.
        #expect(symbols.location(of: 0xffff_ffff_c0f0_0010) == nil && symbols.location(of: 0xffff_ffff_c0f1_0010) == nil)
    }

    @Test("kallsyms copy: a run's own kernel-code reader is left out of it; copies of runs that are gone are removed")
    func kallsymsCacheLeavesOutOwnReaders() throws {
        let own = "ffffffffc00230c8 t bpf_prog_3a2e3b6aa8cd1003_\(KernelText.name)\t[bpf]\n"
        let other = "ffffffffc0025000 t bpf_prog_1111111111111111_sd_fw_ingress\t[bpf]\n"
        let text = "ffffffff81000000 T _stext\n" + own + other + "ffffffff81001400 T tcp_sendmsg"
        #expect(KallsymsCache.withoutOwnPrograms(Array(text.utf8))
                == Array(("ffffffff81000000 T _stext\n" + other + "ffffffff81001400 T tcp_sendmsg").utf8))
        #expect(KallsymsCache.withoutOwnPrograms(Array(own.utf8)) == [])

        let directory = "/tmp/sockettrace-kallsyms-abandoned-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: directory) }
        let cache = KallsymsCache(path: directory + "/kallsyms")
        #expect(cache.write(Array("ffffffff81000000 T _stext\n".utf8), key: 1))
        // A child that has been waited for: its PID names no process.
        let gone = fork()
        if gone == 0 { _exit(0) }
        var status: Int32 = 0
        waitpid(gone, &status, 0)
        for pid in [gone, getppid()] {
            #expect(FileManager.default.createFile(atPath: cache.path + ".\(pid)", contents: Data(count: 4096)))
        }
        #expect(cache.read(key: 1) != nil)
        cache.removeAbandonedCopies()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["kallsyms", "kallsyms.\(getppid())"])
    }

    @Test("kallsyms copy: its key, told before a run loads its kernel-code reader, is the next run's key",
          .enabled(if: TestSupport.canObserveKernel, "needs root and kallsyms"))
    func kallsymsCacheKeyOutlivesTheReader() throws {
        // Other tests load and unload BPF programs meanwhile (each changes the
        // key): tries apart in time, one of which sees no other program come
        // or go (under CI, five in a row could all see one).
        var outcomes: [String] = []
        for attempt in 1...30 {
            if attempt > 1 { usleep(UInt32.random(in: 100_000...600_000)) }
            let directory = "/tmp/sockettrace-kallsyms-reader-\(getpid())-\(attempt)"
            defer { _ = try? FileManager.default.removeItem(atPath: directory) }
            let cache = KallsymsCache(path: directory + "/kallsyms")
            // As a traced run starts: the symbols on their thread, the reader loaded meanwhile.
            let key = try #require(KallsymsCache.currentKey())
            let text: [UInt8] = try {
                let symbols = try #require(KernelSymbols.loadInBackground(cache: cache))
                let code = try KernelCorrelator.readCode(symbols).get()
                return withExtendedLifetime(code) { Array(symbols.table.text) }
            }()
            #expect(!String(decoding: text, as: UTF8.self).contains("_\(KernelText.name)\t[bpf]"))
            // The next run, before its own reader: the copy serves.
            let next = try #require(KallsymsCache.currentKey())
            let served = cache.read(key: next) == text
            if next == key && served { return }
            outcomes.append("try \(attempt): key \(next == key ? "kept" : "changed"), copy \(served ? "served" : "not served")")
        }
        Issue.record(Comment(rawValue: "the copy made as a run starts never served the next run: " + outcomes.joined(separator: "; ")))
    }

    @Test("kallsyms copy of this kernel: the same text as /proc/kallsyms, kept on the first read and served on the next",
          .enabled(if: TestSupport.canObserveKernel, "needs root and kallsyms"))
    func kallsymsCacheOfThisKernel() throws {
        let directory = "/tmp/sockettrace-kallsyms-live-\(getpid())"
        defer { _ = try? FileManager.default.removeItem(atPath: directory) }
        let cache = KallsymsCache(path: directory + "/kallsyms")
        // The key is given, as a run's reader thread is given it: other tests
        // load and unload BPF programs meanwhile, each a new key, and five
        // tries in a row could all see one (CI, stop 42).
        let key = try #require(KallsymsCache.currentKey())
        let first = KernelSymbols.readKallsyms(cache: cache, key: key)
        #expect(!first.isEmpty)
        #expect(cache.read(key: key) == first)
        #expect(KernelSymbols.readKallsyms(cache: cache, key: key) == first)
        // Kept under that key only: another kernel state's key is not served.
        #expect(cache.read(key: key &+ 1) == nil)
        // The key moves only when the kernel's symbols do: two read back to
        // back agree (a use count or a time in it would make every pair differ).
        var pairs: [String] = []
        for _ in 1...100 {
            let one = KallsymsCache.currentKey(), two = KallsymsCache.currentKey()
            if one != nil && one == two { break }
            pairs.append("\(String(describing: one)) \(String(describing: two))")
        }
        #expect(pairs.count < 100, "the key differed in 100 pairs read back to back: \(pairs.suffix(3))")
        // Its lines are those of the kernel's own (which may have gained a BPF program in between).
        let proc = try #require(ProcFile.text("/proc/kallsyms"))
        let kept = String(decoding: first, as: UTF8.self)
        #expect(kept.split(separator: "\n").prefix(1000) == proc.split(separator: "\n").prefix(1000))
    }

    /// What TracepointFormat used before its scanner: the reference.
    static func symbolicByRegex(_ line: Substring) -> [String: [Int64: String]] {
        var symbolic: [String: [Int64: String]] = [:]
        for match in line.matches(of: /__print_symbolic\(REC->(\w+),((?:\s*\{\s*-?\d+,\s*"[^"]*"\s*\},?)+)\)/) {
            var values: [Int64: String] = [:]
            for pair in match.output.2.matches(of: /\{\s*(-?\d+),\s*"([^"]*)"\s*\}/) {
                if let value = Int64(pair.output.1) { values[value] = String(pair.output.2) }
            }
            symbolic[String(match.output.1)] = values
        }
        return symbolic
    }

    @Test("tracepoint formats: __print_symbolic value names, as the regex read them")
    func symbolicValues() {
        let line: Substring = #"print fmt: "family=%s state=%s reason=%s", __print_symbolic(REC->family, { 2, "AF_INET" }, { 10, "AF_INET6" }), __print_symbolic(REC->newstate, { 1, "TCP_ESTABLISHED" },{ 7, "TCP_CLOSE" }), __print_symbolic(REC->reason, { SKB_DROP_REASON_X, "X" }), __print_symbolic(REC->odd, { -1, "MINUS" }, )"#
        let scanned = TracepointFormat.symbolicValues(in: line)
        #expect(scanned == Self.symbolicByRegex(line))
        #expect(scanned == ["family": [2: "AF_INET", 10: "AF_INET6"], "newstate": [1: "TCP_ESTABLISHED", 7: "TCP_CLOSE"]])
    }

    @Test("tracepoint formats: the scanner reads every format of this kernel as the regex did",
          .enabled(if: TestSupport.canObserveKernel, "needs tracefs"))
    func symbolicValuesOfThisKernel() throws {
        let tracefs = try Tracefs.open()
        defer { tracefs.release() }
        let events = tracefs.path + "/events"
        var compared = 0, symbolic = 0
        for group in try FileManager.default.contentsOfDirectory(atPath: events) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: events + "/" + group) else { continue }
            for name in names {
                guard let text = ProcFile.text("\(events)/\(group)/\(name)/format"),
                      let line = text.split(separator: "\n").first(where: { $0.contains("print fmt:") }) else { continue }
                let expected = Self.symbolicByRegex(line)
                #expect(TracepointFormat.symbolicValues(in: line) == expected, "\(group):\(name)")
                compared += 1
                if !expected.isEmpty { symbolic += 1 }
            }
        }
        #expect(compared > 100 && symbolic > 5)
    }

    @Test("sample queue: kept in time order when read out of order, taken from the front")
    func sampleQueue() {
        var queue = SampleQueue()
        for time in [10, 30, 20, 40, 5] as [UInt64] { queue.append(Self.sample(1, at: time)) }
        #expect(queue.count == 5)
        #expect(queue.take(before: MonotonicTime(nanoseconds: 20)).map(\.time.nanoseconds) == [5, 10])
        #expect(queue.take(through: MonotonicTime(nanoseconds: 30)).map(\.time.nanoseconds) == [20, 30])
        #expect(queue.take(through: MonotonicTime(nanoseconds: 35)).isEmpty)
        #expect(queue.take(before: nil).map(\.time.nanoseconds) == [40])
        #expect(queue.isEmpty)
        // Long queues compact as they are taken.
        for time in 0..<5000 as Range<UInt64> { queue.append(Self.sample(1, at: time)) }
        for end in stride(from: 100, through: 5000, by: 100) {
            #expect(queue.take(before: MonotonicTime(nanoseconds: UInt64(end))).count == 100)
        }
        #expect(queue.isEmpty)
    }

    @Test("a call takes its thread's samples between its entry and exit; earlier ones are stray, later ones wait")
    func attribution() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        correlator.add([Self.sample(7, at: 100), Self.sample(7, at: 250), Self.sample(8, at: 260), Self.sample(7, at: 300), Self.sample(7, at: 900)])
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .sendto, arguments: [3, 0, 1, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 200))
        call.exitTime = MonotonicTime(nanoseconds: 400)
        #expect(correlator.takeStray(tid: 7, before: call.entryTime).map(\.time.nanoseconds) == [100])
        let activity = correlator.activity(for: call)
        #expect(activity.samples.map(\.time.nanoseconds) == [250, 300])
        #expect(activity.source == .observed)
        #expect(correlator.takeStray(tid: 7, before: nil).map(\.time.nanoseconds) == [900])
        #expect(correlator.takeStray(tid: 8, before: nil).map(\.tid) == [8])
        #expect(correlator.waitingThreads.isEmpty)
    }

    static func call(_ tid: Int32, _ syscall: Syscall = .write, entry: UInt64) -> SyscallInvocation {
        SyscallInvocation(pid: tid, tid: tid, architecture: .x86_64, syscall: syscall, arguments: [4, 0, 1, 0, 0, 0],
                          entryTime: MonotonicTime(nanoseconds: entry))
    }

    static func exit(_ tid: Int32, _ syscall: Syscall = .write, at time: UInt64, returned: Int64) -> SyscallExitRecord {
        SyscallExitRecord(tid: tid, time: MonotonicTime(nanoseconds: time),
                          number: Int64(syscall.number(on: .x86_64)!), returned: returned)
    }

    static func describe(_ outcomes: [AwaitedExits.Outcome]) -> [String] {
        outcomes.map {
            switch $0 {
            case let .returned(call):
                "\(call.syscall.rawValue)@\(call.entryTime.nanoseconds)=\(call.result.map { $0.errno.map { "E\($0)" } ?? String($0.value) } ?? "nil")/\(call.exitTime?.nanoseconds ?? 0)"
            case let .unknown(call): "\(call.syscall.rawValue)@\(call.entryTime.nanoseconds)=?"
            }
        }
    }

    @Test("calls let run to their exit: paired in order with their thread's exit records, other calls' records passed by")
    func awaitedExitsPairing() {
        var awaited = AwaitedExits()
        awaited.add(Self.call(7, entry: 100))
        awaited.add(Self.call(8, .sendto, entry: 150))
        // A write to a file before the call (not awaited), the call's own, another thread's.
        let paired = awaited.match([Self.exit(7, at: 90, returned: 5), Self.exit(7, at: 120, returned: 1),
                                    Self.exit(9, at: 130, returned: 1)], drainBegan: MonotonicTime(nanoseconds: 140))
        #expect(paired)
        #expect(awaited.earliestEntry(of: 7) == MonotonicTime(nanoseconds: 100), "kept until taken, so its samples are not stray")
        let first = awaited.takeSettled(of: 7)
        #expect(Self.describe(first) == ["write@100=1/120"])
        #expect(awaited.holds(8) && !awaited.holds(7))
        // An error: -EAGAIN as the kernel returns it.
        let pairedError = awaited.match([Self.exit(8, .sendto, at: 160, returned: -11)], drainBegan: MonotonicTime(nanoseconds: 170))
        #expect(pairedError)
        let settled = awaited.takeSettled()
        #expect(Self.describe(settled) == ["sendto@150=E11/160"])
        #expect(awaited.isEmpty)
    }

    @Test("calls let run to their exit: a record lost to a full ring leaves the call unknown once its thread was seen again")
    func awaitedExitsLost() {
        var awaited = AwaitedExits()
        awaited.add(Self.call(7, entry: 100))
        awaited.threadSeen(7, at: MonotonicTime(nanoseconds: 200))
        #expect(awaited.isWaiting(7, seen: MonotonicTime(nanoseconds: 200)))
        // A drain begun before the thread was seen again may simply be early.
        let early = awaited.match([], drainBegan: MonotonicTime(nanoseconds: 190))
        let none = awaited.takeSettled(of: 7)
        #expect(!early && none.isEmpty)
        // One begun after it would have had the record.
        let late = awaited.match([], drainBegan: MonotonicTime(nanoseconds: 210))
        let lost = awaited.takeSettled(of: 7)
        #expect(!late)
        #expect(Self.describe(lost) == ["write@100=?"])

        // The next call's record is not taken for a lost one.
        awaited.add(Self.call(7, entry: 300))
        awaited.threadSeen(7, at: MonotonicTime(nanoseconds: 400))
        awaited.add(Self.call(7, entry: 500))
        let next = awaited.match([Self.exit(7, at: 520, returned: 1)], drainBegan: MonotonicTime(nanoseconds: 390))
        let both = awaited.takeSettled(of: 7)
        #expect(next)
        #expect(Self.describe(both) == ["write@300=?", "write@500=1/520"])
    }

    @Test("calls let run to their exit: a thread's stop takes only the calls it had returned from by then")
    func awaitedExitsTakenByStop() {
        var awaited = AwaitedExits()
        awaited.add(Self.call(7, entry: 100))
        awaited.threadSeen(7, at: MonotonicTime(nanoseconds: 200))
        awaited.add(Self.call(7, entry: 300))
        // Output lags: one drain has both records; the stop at 200 takes only the first,
        // the second is written after what the thread did between (its stop at 400 will take it).
        let paired = awaited.match([Self.exit(7, at: 150, returned: 1), Self.exit(7, at: 350, returned: 1)],
                                   drainBegan: MonotonicTime(nanoseconds: 450))
        #expect(paired)
        #expect(!awaited.isWaiting(7, seen: MonotonicTime(nanoseconds: 200)))
        let atFirstStop = awaited.takeSettled(of: 7, seen: MonotonicTime(nanoseconds: 200))
        #expect(Self.describe(atFirstStop) == ["write@100=1/150"])
        awaited.threadSeen(7, at: MonotonicTime(nanoseconds: 400))
        let atSecondStop = awaited.takeSettled(of: 7, seen: MonotonicTime(nanoseconds: 400))
        #expect(Self.describe(atSecondStop) == ["write@300=1/350"])
        let left = awaited.takeAll()
        #expect(left.isEmpty)
    }

    @Test("a connection the kernel closed with no sample of it: TCP_INFO read at the close's entry says so; a sampled change is preferred; an open one is left as the calls left it")
    func closedByTCPInfo() {
        var socket = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: "127.0.0.1:40000"),
                                    peer: SocketEndpoint(text: "127.0.0.1:12345"), state: .connected)
        var states = ConnectionStates()
        let at = MonotonicTime(nanoseconds: 1_000)
        #expect(states.asKernelLeftIt(socket, before: at).closedBy == nil, "no evidence: as the calls left it")
        socket.tcpState = TCPState.established
        #expect(states.asKernelLeftIt(socket, before: at).closedBy == nil)
        socket.tcpState = TCPState.close
        let (closed, change) = states.asKernelLeftIt(socket, before: at)
        #expect(closed?.state == .closed && change?.heading.contains("TCP_INFO") == true, "\(change?.heading ?? "-")")
        // A listener's or an unconnected socket's TCP_CLOSE is no news.
        var unconnected = socket
        unconnected.state = .created
        #expect(states.asKernelLeftIt(unconnected, before: at).closedBy == nil)
        // The sampled change, when there is one, is what is quoted.
        var sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: 500),
                                  cpu: 0, chain: [], fields: ["newstate": .number(7), "oldstate": .number(1), "family": .number(2),
                                                              "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                                              "sport": .number(40000), "dport": .number(12345)])
        sample.everywhere = true
        states.record([sample])
        #expect(states.asKernelLeftIt(socket, before: at).closedBy?.heading.hasPrefix("sock:inet_sock_set_state TCP_ESTABLISHED → TCP_CLOSE") == true,
                "\(states.asKernelLeftIt(socket, before: at).closedBy?.heading ?? "-")")
        #expect(states.asKernelLeftIt(socket, before: at).closedBy?.cause == "by the kernel")
        // Sampled on a traced call's own path: that call's doing (audit 24 B5).
        states.attribute([sample], to: "shutdown in thread 9")
        #expect(states.asKernelLeftIt(socket, before: at).closedBy?.cause == "by shutdown in thread 9")
    }
}

extension CorrelatorTests {
    @Test("skb:kfree_skb with no reason given (NOT_SPECIFIED) is not told as a drop; a named reason is (audit 26 F4)")
    func freedWithoutReason() {
        func freed(_ reason: String, _ value: Int64) -> KernelSample {
            KernelSample(tracepoint: "skb:kfree_skb", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1), cpu: 0, chain: [],
                         fields: ["reason": .symbol(reason, value), "skbaddr": .number(1)])
        }
        #expect(freed("NOT_SPECIFIED", 2).summary == "freed, no drop reason given (NOT_SPECIFIED: not necessarily a loss)")
        #expect(freed("NETFILTER_DROP", 8).summary == "drop: NETFILTER_DROP")
        // A code address in a field is hex, never a negative decimal (audit 28).
        let ready = KernelSample(tracepoint: "sock:sk_data_ready", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 1), cpu: 0, chain: [],
                                 fields: ["family": .number(10), "ip": .number(Int64(bitPattern: 0xffff_ffff_81e6_8a8f)), "protocol": .number(6)])
        #expect(ready.summary == "family=10 ip=0xffffffff81e68a8f protocol=6", "\(ready.summary)")
    }

    @Test("work sampled on the tracer's own thread is named the tracer's, even once that thread has ended (audit 26 F10)")
    func tracerOwnThread() {
        let sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: getpid(), tid: Int32.max - 1,
                                  time: MonotonicTime(nanoseconds: 1), cpu: 0, chain: [], fields: [:])
        #expect(BackgroundWork.task(of: sample) == "sockettrace[\(Int32.max - 1)] (this tracer)")
        let gone = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: Int32.max - 1, tid: Int32.max - 1,
                                time: MonotonicTime(nanoseconds: 1), cpu: 0, chain: [], fields: [:])
        #expect(BackgroundWork.task(of: gone).hasSuffix("(ended before it was named)"))
    }

    @Test("a task outside the traced ones named once and ended since is named by the name it had when last read, not \"ended before it was named\" (audit 89 m1)")
    func endedTaskKeepsItsName() throws {
        let names = TaskNames()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["0.2"]
        try child.run()
        let pid = child.processIdentifier
        let sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: pid, tid: pid,
                                  time: MonotonicTime(nanoseconds: 1), cpu: 0, chain: [], fields: [:])
        #expect(BackgroundWork.task(of: sample, names: names) == "task \(pid) (sleep when read)")
        child.waitUntilExit()
        #expect(BackgroundWork.task(of: sample, names: names) == "task \(pid) (sleep when last read, ended since)")
        #expect(BackgroundWork.task(of: sample).hasSuffix("(ended before it was named)"))
    }

    static func stateChange(_ old: Int64, _ new: Int64, sock: Int64, at time: UInt64) -> KernelSample {
        var sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: time),
                                  cpu: 0, chain: [], fields: ["newstate": .number(new), "oldstate": .number(old), "family": .number(2),
                                                              "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                                              "sport": .number(41001), "dport": .number(42001), "skaddr": .number(sock)])
        sample.everywhere = true
        return sample
    }

    @Test("two connections on one 4-tuple: each socket is given its own kernel socket's change, known by its calls' own sk; an unknown one none")
    func closedPerKernelSocket() {
        // A server's first connection is reset (its socket left open by the program); the client reconnects from the same port.
        var first = SocketSnapshot(fd: 4, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: "127.0.0.1:41001"),
                                   peer: SocketEndpoint(text: "127.0.0.1:42001"), state: .connected, inode: 100)
        var second = first
        second.fd = 5
        second.inode = 200
        let firstSock: Int64 = -1000, secondSock: Int64 = -2000
        var states = ConnectionStates()
        states.record([Self.stateChange(TCPState.established, TCPState.close, sock: firstSock, at: 100),
                       Self.stateChange(3, TCPState.established, sock: secondSock, at: 200)])
        let at = MonotonicTime(nanoseconds: 1_000)
        // Neither socket is known yet: the tuple had two kernel sockets, so neither change is claimed.
        #expect(states.asKernelLeftIt(first, before: at).closedBy == nil)
        #expect(states.asKernelLeftIt(second, before: at).closedBy == nil)
        func received(_ sock: Int64, in socket: SocketSnapshot) {
            let sample = KernelSample(tracepoint: "sock:sock_recv_length", role: .chain, pid: 9, tid: 9, time: MonotonicTime(nanoseconds: 300),
                                      cpu: 0, chain: ["__x64_sys_recvfrom", "__sys_recvfrom", "sock_recvmsg"],
                                      fields: ["sk": .number(sock), "ret": .number(1)])
            states.learn(socket, from: [sample])
        }
        received(firstSock, in: first)
        received(secondSock, in: second)
        let (closed, change) = states.asKernelLeftIt(first, before: at)
        #expect(closed?.state == .closed && change?.heading.contains("TCP_ESTABLISHED → TCP_CLOSE") == true, "\(change?.heading ?? "-")")
        #expect(states.asKernelLeftIt(second, before: at).closedBy == nil, "the second connection is open")
        // The second one closed later: its own change, not the first's.
        states.record([Self.stateChange(TCPState.established, TCPState.close, sock: secondSock, at: 1_500)])
        #expect(states.asKernelLeftIt(second, before: MonotonicTime(nanoseconds: 2_000)).closedBy?.time == MonotonicTime(nanoseconds: 1_500))
        first.tcpState = nil
        #expect(states.asKernelLeftIt(first, before: MonotonicTime(nanoseconds: 2_000)).closedBy?.time == MonotonicTime(nanoseconds: 100))
    }

    @Test("an exit that sampled nothing names an operation only when it is every released socket's own (audit 24: a UDP and a UNIX socket's release beside a TCP one's were named as the TCP one's)")
    func exitWithoutSamplesNamesNoMixedOperation() throws {
        let model = try ModelParser.load(directory: TestSupport.packageRoot.appendingPathComponent("Probes").path)
        let correlator = KernelCorrelator(model: model, symbols: nil)
        let tcp = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: nil, peer: nil, state: .created)
        let udp = SocketSnapshot(fd: 4, family: 2, type: 2, protocolLabel: "UDP", local: SocketEndpoint(text: "127.0.0.1:40001"), peer: nil,
                                 state: .bound)
        let unix = SocketSnapshot(fd: 5, family: 1, type: 1, protocolLabel: "UNIX-STREAM", local: nil, peer: nil, state: .connected)
        #expect(correlator.exitActivity(samples: [], released: [tcp, udp, unix], tid: 1).operation == nil)
        let alone = correlator.exitActivity(samples: [], released: [tcp], tid: 1)
        #expect(alone.operation == model.exitOperations(socket: tcp).first?.name && alone.operation != nil, "\(alone.operation ?? "none")")
    }
}

@Suite struct FunctionTimeTests {
    func sample(_ function: String, _ role: Probe.Role, at time: UInt64) -> KernelSample {
        KernelSample(tracepoint: "\(Probe.kprobeGroup):\(function)", role: role, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: time),
                     cpu: 0, chain: [function], fields: [:])
    }

    @Test("return probes: each return closes the latest open entry of its function (recursion), unreturned entries count only in count")
    func timesFromReturns() {
        let entries = [sample("tcp_sendmsg", .hit, at: 100), sample("sk_stream_alloc", .hit, at: 110), sample("sk_stream_alloc", .hit, at: 120),
                       sample("tcp_push", .hit, at: 300)]
        let returns = [sample("sk_stream_alloc", .returned, at: 130), sample("sk_stream_alloc", .returned, at: 150),
                       sample("tcp_sendmsg", .returned, at: 400)]
        var hits = ["tcp_sendmsg", "sk_stream_alloc", "tcp_push"].map {
            FunctionHit(function: $0, operation: nil, layer: nil, count: $0 == "sk_stream_alloc" ? 2 : 1, time: MonotonicTime(nanoseconds: 0),
                        context: "syscall", stack: [$0])
        }
        KernelCorrelator.addTimes(to: &hits, entries: entries, returns: returns)
        #expect(hits[0].returned == 1 && hits[0].insideNanoseconds == 300)
        // The inner entry (120) returns first (130), then the outer (110 → 150).
        #expect(hits[1].returned == 2 && hits[1].insideNanoseconds == 10 + 40)
        #expect(hits[2].returned == 0 && hits[2].insideNanoseconds == 0)
    }
}
