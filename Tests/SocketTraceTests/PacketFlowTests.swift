import Testing
@testable import SocketTrace

/// Whose packet softirq work on a call's stack handled, from synthetic
/// stacks shaped as this kernel's (innermost first, as perf gives them).
@Suite struct PacketFlowTests {
    static let sendPath = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb",
                           "tcp_write_xmit", "__tcp_push_pending_frames", "tcp_sendmsg_locked", "tcp_sendmsg", "__sys_sendto",
                           "__x64_sys_sendto", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
    static let softirq = ["handle_softirqs", "do_softirq", "__local_bh_enable_ip"]
    static let receive = ["__netif_receive_skb_core", "__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action"]
    static let ackInReceive = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb",
                               "tcp_rcv_established", "tcp_v4_do_rcv", "tcp_v4_rcv", "ip_protocol_deliver_rcu",
                               "ip_local_deliver_finish", "__netif_receive_skb_one_core", "process_backlog", "__napi_poll", "net_rx_action"]
    static let client = SocketEndpoint.inet(address: "127.0.0.1", port: 40000)
    static let server = SocketEndpoint.inet(address: "127.0.0.1", port: 8080)

    static func sample(_ tracepoint: String, _ chain: [String], at time: UInt64, skb: Int64, length: Int64, tid: Int32 = 7) -> KernelSample {
        KernelSample(tracepoint: tracepoint, role: .chain, pid: tid, tid: tid, time: MonotonicTime(nanoseconds: time), cpu: 0,
                     chain: chain, fields: ["skbaddr": .number(skb), "len": .number(length), "name": .string("lo")])
    }

    static func send(tid: Int32 = 7, local: SocketEndpoint, peer: SocketEndpoint, from entry: UInt64, to exit: UInt64) -> SyscallInvocation {
        var call = SyscallInvocation(pid: tid, tid: tid, architecture: .x86_64, syscall: .sendto, arguments: [3, 0, 1, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: entry))
        call.exitTime = MonotonicTime(nanoseconds: exit)
        call.result = SyscallResult(value: 1, errno: nil)
        call.socket = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: local, peer: peer, state: .connected)
        return call
    }

    @Test("a packet the call sent, the ACK its receive sent back, another connection's packet, and one nobody traced")
    func owners() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let onStack = Self.softirq + Self.sendPath
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 50000)
        // Another traced connection sent skb 0x900 earlier (its receive was deferred).
        correlator.add([Self.sample("net:net_dev_queue", Self.sendPath, at: 10, skb: 0x900, length: 80, tid: 9)])
        _ = correlator.activity(for: Self.send(tid: 9, local: other, peer: Self.server, from: 5, to: 20))
        correlator.add([
            Self.sample("net:net_dev_queue", Self.sendPath, at: 110, skb: 0x100, length: 80),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 120, skb: 0x100, length: 66),
            Self.sample("net:net_dev_queue", Self.ackInReceive + onStack, at: 130, skb: 0x200, length: 66),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 140, skb: 0x200, length: 52),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 150, skb: 0x900, length: 66),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 160, skb: 0x777, length: 66),
        ])
        let activity = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        let owners = activity.samples.map { $0.flow?.owner }
        // The ACK the receive of the call's packet sends is the peer's answer, not the call's packet.
        #expect(owners == [nil, .ownSocket, .peer, .peer, .unverified], "\(activity.samples.map { $0.flow?.description ?? "-" })")
        #expect(activity.samples[2].flow?.evidence.hasPrefix("its peer's answer, sent in the receive of the packet taken in before it") == true)
        #expect(activity.samples[3].flow?.evidence.contains("skb 0x200 queued by the receive of a packet from sendto of 7") == true)
        let others = correlator.takeOtherFlows()
        #expect(others.map(\.time.nanoseconds) == [150])
        #expect(others.first?.flow?.evidence.contains("127.0.0.1:50000 → 127.0.0.1:8080") == true)
        #expect(correlator.takeOtherFlows().isEmpty)
    }

    @Test("a drop in a receive: of the packet taken in, its owner's; of the answer the receive built, on its way out (an ACK an output rule dropped), the owner turned round (audit 43 F3)")
    func dropOfTheAnswerInAReceive() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let onStack = Self.softirq + Self.sendPath
        let inReceive = ["tcp_v4_rcv", "ip_protocol_deliver_rcu", "ip_local_deliver_finish"] + Self.receive + onStack
        let answerDropped = ["kfree_skb_reason", "nft_do_chain", "nf_hook_slow", "__ip_local_out", "ip_local_out", "__ip_queue_xmit",
                             "__tcp_transmit_skb", "tcp_v4_do_rcv"] + inReceive
        let receivedDropped = ["kfree_skb_reason", "nft_do_chain", "nf_hook_slow", "ip_local_deliver"] + Self.receive + onStack
        correlator.add([
            Self.sample("net:net_dev_queue", Self.sendPath, at: 110, skb: 0x100, length: 30066),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 120, skb: 0x100, length: 30052),
            Self.sample("skb:kfree_skb", answerDropped, at: 130, skb: 0x200, length: 0),
            Self.sample("net:net_dev_queue", Self.sendPath, at: 140, skb: 0x300, length: 80),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 150, skb: 0x300, length: 66),
            Self.sample("skb:kfree_skb", receivedDropped, at: 160, skb: 0x300, length: 0),
        ])
        let activity = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        let owners = activity.samples.map { $0.flow?.owner }
        #expect(owners == [nil, .ownSocket, .peer, nil, .ownSocket, .ownSocket], "\(activity.samples.map { $0.flow?.description ?? "-" })")
        #expect(activity.samples[2].flow?.evidence.hasPrefix("a packet built on its way out (__tcp_transmit_skb on its stack, below the receive), its peer's answer") == true,
                "\(activity.samples[2].flow?.evidence ?? "-")")
        #expect(activity.samples[5].flow?.evidence.hasPrefix("in the receive of the packet taken in before it on this stack") == true)
    }

    @Test("a send's segment the device split (GSO): its pieces, new skbs received on its stack, counted when their lengths add up to its own with a header each; a retransmission's packet found by its call's frames (audit 44 N1, N4)")
    func splitSegmentsAndRetransmittedPackets() {
        let onStack = Self.softirq + Self.sendPath
        var send = Self.send(local: Self.client, peer: Self.server, from: 100, to: 200)
        func unknown(_ skb: Int64, at time: UInt64, length: Int64) -> KernelSample {
            var sample = Self.sample("net:netif_receive_skb", Self.receive + onStack, at: time, skb: skb, length: length)
            sample.flow = PacketFlow(owner: .unverified, evidence: "skb 0x\(String(skb, radix: 16)) was not seen leaving a traced call")
            return sample
        }
        // 68,539 B queued (66 B of headers with Ethernet's), received as 65,535 + 3,042 B (52 B of IP and TCP headers each).
        send.kernel = KernelActivity(operation: "tcp_send", source: .observed, expected: [], samples: [
            Self.sample("net:net_dev_queue", Self.sendPath, at: 110, skb: 0x100, length: 32807),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 111, skb: 0x100, length: 32793),
            Self.sample("net:net_dev_queue", Self.sendPath, at: 120, skb: 0x200, length: 68539),
            unknown(0x300, at: 121, length: 65535), unknown(0x400, at: 122, length: 3042),
        ], alignments: [])
        let splits = SequenceDiagram.splitSegments(send, headers: 66)
        #expect(splits.count == 1 && splits.first?.segment.skbAddress == 0x200 && splits.first?.pieces.compactMap(\.skbAddress) == [0x300, 0x400])
        // Lengths that do not add up prove nothing; nor without the connection's headers.
        #expect(SequenceDiagram.splitSegments(send, headers: 60).isEmpty)
        #expect(SequenceDiagram.splitSegments(send, headers: nil).isEmpty)
        // tcp:tcp_retransmit_skb fires in tcp_retransmit_skb after its packet left, under the same frames.
        var retransmit = Self.sample("tcp:tcp_retransmit_skb", ["tcp_retransmit_skb", "tcp_retransmit_timer", "tcp_write_timer"], at: 300, skb: 0x500, length: 0)
        retransmit.offsets = [0x40, 0x1a0, 0x30]
        var packet = Self.sample("net:net_dev_queue", ["__dev_queue_xmit", "__tcp_transmit_skb", "__tcp_retransmit_skb", "tcp_retransmit_skb",
                                                        "tcp_retransmit_timer", "tcp_write_timer"], at: 299, skb: 0x500, length: 30080)
        packet.offsets = [0x10, 0x20, 0x30, 0x3b, 0x1a0, 0x30]
        #expect(SequenceDiagram.sent(packet, inCallOf: retransmit))
        packet.offsets[4] = 0x1b0   // another call of tcp_retransmit_skb
        #expect(!SequenceDiagram.sent(packet, inCallOf: retransmit))
    }

    @Test("a packet's data: its length less the connection's headers, and over IPv6 less BIG TCP's 8 B jumbo option past 65,535 B of payload (audit 45 F2); an IPv4-mapped socket's packets are IPv4")
    func dataBytesOfBigPackets() {
        #expect(SequenceDiagram.dataBytes(95326, headers: 86, ipv6: true) == 95232)
        #expect(SequenceDiagram.dataBytes(6550, headers: 86, ipv6: true) == 6464)
        #expect(SequenceDiagram.dataBytes(65589, headers: 86, ipv6: true) == 65503)
        #expect(SequenceDiagram.dataBytes(68539, headers: 66, ipv6: false) == 68473)
        #expect(SequenceDiagram.sendsIPv6(.inet6(address: "::1", port: 80)))
        #expect(!SequenceDiagram.sendsIPv6(.inet6(address: "::ffff:127.0.0.1", port: 80)))
        #expect(!SequenceDiagram.sendsIPv6(.inet(address: "127.0.0.1", port: 80)))
    }

    @Test("between a traced thread's calls, softirq work run there says whose packet it handled: a traced call's packet and the ACK back to it by skb, an unknown packet and a timer's as not known (audit 11)")
    func softirqWorkBetweenCalls() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let inUserMode = ["asm_sysvec_apic_timer_interrupt"]
        let irq = ["handle_softirqs", "__irq_exit_rcu", "sysvec_apic_timer_interrupt"] + inUserMode
        // Another traced thread's send queued skb 0x100; its receive ran later in thread 7, between thread 7's calls.
        correlator.add([Self.sample("net:net_dev_queue", Self.sendPath, at: 10, skb: 0x100, length: 80, tid: 9)])
        _ = correlator.activity(for: Self.send(tid: 9, local: Self.client, peer: Self.server, from: 5, to: 20))
        let timer = ["__dev_queue_xmit", "ip_finish_output2", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit", "tcp_send_loss_probe",
                     "tcp_write_timer", "call_timer_fn", "__run_timers", "run_timer_softirq"]
        correlator.add([
            Self.sample("net:netif_receive_skb", Self.receive + irq, at: 110, skb: 0x100, length: 66),
            Self.sample("net:net_dev_queue", Self.ackInReceive + irq, at: 120, skb: 0x200, length: 66),
            Self.sample("net:netif_receive_skb", Self.receive + irq, at: 130, skb: 0x777, length: 66),
            Self.sample("net:net_dev_queue", Self.ackInReceive + irq, at: 140, skb: 0x778, length: 66),
            Self.sample("net:net_dev_queue", timer + irq, at: 150, skb: 0x779, length: 466),
        ])
        let stray = correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 500))
        #expect(stray.map(\.flow?.owner) == [.ownSocket, .peer, .unverified, .unverified, .unverified], "\(stray.map { $0.flow?.evidence ?? "-" })")
        #expect(stray[0].flow?.evidence.contains("skb 0x100 queued by sendto of 9 on 127.0.0.1:40000 → 127.0.0.1:8080") == true)
        #expect(stray[1].flow?.evidence.contains("back to that traced socket by its peer") == true)
        #expect(stray[2].flow?.evidence.contains("may be another program's") == true)
        #expect(stray[3].flow?.evidence.contains("may be another program's") == true)
        #expect(stray[4].flow?.evidence.hasPrefix("TIMER softirq work run in this traced thread between its traced calls") == true
                && stray[4].flow?.evidence.contains("may be another program's") == true, "\(stray[4].flow?.evidence ?? "-")")
        // The ACK sent back is known by its skb when received later: the traced socket's peer's packet.
        correlator.add([Self.sample("net:netif_receive_skb", Self.receive + Self.softirq + Self.sendPath, at: 610, skb: 0x200, length: 52)])
        let later = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 600, to: 700))
        #expect(later.samples.first?.flow?.owner == .peer, "\(later.samples.map { $0.flow?.description ?? "-" })")
    }

    @Test("a delayed ACK sent by its timer during a UDP send, and its receive after it: TCP's segment, another flow's, not the UDP socket's (audits 11, 13)")
    func delayedAckInUDPCall() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let udpSend = ["udp_sendmsg", "__sys_sendto", "__x64_sys_sendto"]
        let timer = ["__dev_queue_xmit", "ip_finish_output2", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_delack_timer_handler", "tcp_delack_timer",
                     "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu"] + udpSend
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .sendto, arguments: [5, 0, 32768, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 100))
        call.exitTime = MonotonicTime(nanoseconds: 300)
        call.result = SyscallResult(value: 32768, errno: nil)
        call.socket = SocketSnapshot(fd: 5, family: 2, type: 2, protocolLabel: "UDP", local: SocketEndpoint.inet(address: "127.0.0.1", port: 5000),
                                     peer: SocketEndpoint.inet(address: "127.0.0.1", port: 6000), state: .connected)
        correlator.add([Self.sample("net:net_dev_queue", timer, at: 150, skb: 0x900, length: 66),
                        Self.sample("net:netif_receive_skb", Self.receive + Self.softirq + udpSend, at: 170, skb: 0x900, length: 52)])
        let activity = correlator.activity(for: call)
        let others = correlator.takeOtherFlows()
        #expect(activity.samples.isEmpty, "\(activity.samples.map { $0.flow?.description ?? "-" })")
        #expect(others.map(\.flow?.owner) == [.otherFlow, .otherFlow], "\(others.map { $0.flow?.evidence ?? "-" })")
        #expect(others.last?.flow?.evidence.contains("a TCP segment; this call's socket is not a TCP socket") == true, "\(others.last?.flow?.evidence ?? "-")")
    }

    @Test("an skb a traced call queued to another device than loopback never comes back: its freed address, reused by another program's packet on lo, is not taken for it (audit 12)")
    func skbOutAnotherDevice() {
        var queued = QueuedPackets()
        let sender = QueuedPackets.Sender(local: nil, peer: nil, inode: 42, call: "sendto of 9", time: MonotonicTime(nanoseconds: 100), length: 152)
        queued.queued(skb: 0x400, device: "t0", by: sender)
        // 152 - 14 = 138: the length fits, the device does not.
        #expect(queued.takeSender(of: 0x400, at: MonotonicTime(nanoseconds: 5_000_000), length: 138, device: "lo") == nil)
        queued.queued(skb: 0x500, device: "lo", by: sender)
        #expect(queued.takeSender(of: 0x500, at: MonotonicTime(nanoseconds: 200), length: 138, device: "eth0") == nil, "received elsewhere")
        queued.queued(skb: 0x600, device: "lo", by: sender)
        #expect(queued.takeSender(of: 0x600, at: MonotonicTime(nanoseconds: 200), length: 138, device: "lo")?.inode == 42)
        // A later send of the same address out another device forgets the loopback one.
        queued.queued(skb: 0x700, device: "lo", by: sender)
        queued.queued(skb: 0x700, device: "t0", by: sender)
        #expect(queued.takeSender(of: 0x700, at: MonotonicTime(nanoseconds: 200), length: 138, device: "lo") == nil)
    }

    @Test("an skb queued to one device and received on another with its address and length: said, never owned (a veth pair hands the skb over; a NIC's freed address is reused); not on the same device, loopback, or another length (audit 35)")
    func skbAcrossDevices() {
        var queued = QueuedPackets()
        let sender = QueuedPackets.Sender(local: nil, peer: nil, inode: 42, call: "sendto of 9", time: MonotonicTime(nanoseconds: 100), length: 72)
        let at = MonotonicTime(nanoseconds: 21_100)
        queued.queued(skb: 0x400, device: "vb", by: sender)
        #expect(queued.takeSender(of: 0x400, at: at, length: 58, device: "va") == nil, "never the packet's owner")
        let said = queued.takeCrossDevice(of: 0x400, at: at, length: 58, device: "va")
        #expect(said?.contains("received on va, the address of an skb, queued to vb by sendto of 9 on socket:[42] 21 µs before") == true, "\(said ?? "-")")
        #expect(said?.contains("which the trace does not verify") == true)
        #expect(queued.takeCrossDevice(of: 0x400, at: at, length: 58, device: "va") == nil, "a packet arrives once")
        queued.queued(skb: 0x500, device: "eth0", by: sender)
        #expect(queued.takeCrossDevice(of: 0x500, at: at, length: 58, device: "eth0") == nil, "a NIC does not receive its own packet")
        #expect(queued.takeCrossDevice(of: 0x500, at: at, length: 58, device: "lo") == nil, "loopback's receive is its own transmit's")
        #expect(queued.takeCrossDevice(of: 0x500, at: at, length: 52, device: "va") == nil, "another length")
        #expect(queued.takeCrossDevice(of: 0x500, at: MonotonicTime(nanoseconds: 2_000_000_000), length: 58, device: "va") == nil, "too long after")
        // The address queued to loopback since: the other device's record is gone.
        queued.queued(skb: 0x600, device: "vb", by: sender)
        queued.queued(skb: 0x600, device: "lo", by: sender)
        #expect(queued.takeCrossDevice(of: 0x600, at: at, length: 58, device: "va") == nil)
    }

    @Test("a drop is on arrival only when its stack's innermost IP step is the receive's: netfilter's output hook in a backlog or in a receive's answer is not (audit 40 F1)")
    func dropOnArrivalOrOnTheWayOut() {
        func drop(_ chain: [String]) -> KernelSample { Self.sample("skb:kfree_skb", chain, at: 10, skb: 0x100, length: 0) }
        let input = drop(["kfree_skb_reason", "nf_hook_slow", "ip_rcv", "__netif_receive_skb_one_core", "process_backlog", "net_rx_action",
                          "handle_softirqs", "do_softirq", "__local_bh_enable_ip", "__dev_queue_xmit", "ip_finish_output2", "__sys_sendto"])
        let outputInBacklog = drop(["kfree_skb_reason", "nf_hook_slow", "__ip_local_out", "ip_local_out", "__ip_queue_xmit", "__tcp_transmit_skb",
                                    "tcp_write_xmit", "__tcp_push_pending_frames", "tcp_rcv_established", "tcp_v4_do_rcv", "__release_sock",
                                    "release_sock", "tcp_sendmsg", "__sys_sendto"])
        let outputInReceive = drop(["kfree_skb_reason", "nf_hook_slow", "__ip_local_out", "ip_local_out", "__ip_queue_xmit", "__tcp_transmit_skb",
                                    "tcp_v4_rcv", "ip_local_deliver_finish", "__netif_receive_skb_one_core", "process_backlog", "net_rx_action"])
        #expect(SequenceDiagram.isDroppedOnArrival(input))
        #expect(!SequenceDiagram.isDroppedOnArrival(outputInBacklog))
        #expect(!SequenceDiagram.isDroppedOnArrival(outputInReceive))
    }

    @Test("a socket's queue purged as it is destroyed (QUEUE_PURGE) is never a drop; a netfilter drop on the same path is (audit 47)")
    func queuePurgeIsNoDrop() {
        func free(_ reason: String, _ value: Int64) -> KernelSample {
            KernelSample(tracepoint: "skb:kfree_skb", role: .event, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 10), cpu: 0,
                         chain: ["sk_skb_reason_drop", "sk_stream_kill_queues", "inet_csk_destroy_sock", "tcp_done", "tcp_rcv_state_process",
                                 "tcp_v4_do_rcv", "tcp_v4_rcv", "ip_local_deliver_finish", "__netif_receive_skb_one_core", "process_backlog"],
                         fields: ["skbaddr": .number(0x100), "reason": .symbol(reason, value)])
        }
        #expect(SequenceDiagram.dropCause(free("QUEUE_PURGE", 105)) == nil)
        #expect(SequenceDiagram.isQueuePurge(free("QUEUE_PURGE", 105)))
        #expect(SequenceDiagram.dropCause(free("NETFILTER_DROP", 12)) == "skb:kfree_skb NETFILTER_DROP")
    }

    @Test("a kworker is named without the workqueue its name ends with while it runs one (audit 11); other names as they are")
    func stableKernelThreadNames() {
        #expect(BackgroundWork.stableName("kworker/1:1-events_power_efficient") == "kworker/1:1")
        #expect(BackgroundWork.stableName("kworker/u8:2-flush-8:0") == "kworker/u8:2")
        #expect(BackgroundWork.stableName("kworker/0:0H") == "kworker/0:0H")
        #expect(BackgroundWork.stableName("ksoftirqd/1") == "ksoftirqd/1")
        #expect(BackgroundWork.stableName("irq/24-virtio0") == "irq/24-virtio0")
    }

    @Test("what a packet's receive sends leaves its receiver for its sender: the owner turns round (an ACK to the peer's data is this socket's; to this socket's, the peer's)")
    func answers() {
        let own = PacketFlow(owner: .ownSocket, evidence: "skb 0x100 queued by sendto of 7")
        let peer = PacketFlow(owner: .peer, evidence: "skb 0x200 queued by sendto of 9")
        let unknown = PacketFlow(owner: .unverified, evidence: "skb 0x300 was not seen leaving a traced call")
        #expect(own.answer(byKernel: nil, neighbour: false).owner == .peer)
        #expect(own.answer(byKernel: "tcp_v4_send_reset", neighbour: false).owner == .kernelReply)
        #expect(peer.answer(byKernel: nil, neighbour: false).owner == .ownSocket)
        #expect(peer.answer(byKernel: "tcp_v4_send_reset", neighbour: false).owner == .unverified)
        #expect(own.answer(byKernel: nil, neighbour: true).owner == .unverified)
        #expect(PacketFlow(owner: .otherFlow, evidence: "x").answer(byKernel: nil, neighbour: false).owner == .otherFlow)
        let answer = unknown.answer(byKernel: nil, neighbour: false)
        #expect(answer.owner == .unverified)
        #expect(answer.description == "whose packet: unverified (sent in the receive of the packet taken in before it on this stack "
                + "(its sender unverified: skb 0x300 was not seen leaving a traced call))")
        #expect(peer.answer(byKernel: nil, neighbour: false).description == "packet sent by this socket: this socket's answer, sent in the "
                + "receive of the packet taken in before it on this stack (packet sent to this socket by its peer: skb 0x200 queued by sendto of 9)")
    }

    @Test("a reset or ICMP error a netfilter reject rule sent is the rule's answer, not the peer's, whatever listens there; its builder is named (audit 20)")
    func netfilterRejectIsNoPeers() {
        // Innermost first: nft's reject, at the input hook of the SYN's receive, sending a reset.
        let reset = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "nf_send_reset", "nft_reject_inet_eval", "nft_do_chain",
                     "nft_do_chain_inet", "nf_hook_slow", "ip_local_deliver", "__netif_receive_skb_one_core", "process_backlog",
                     "__napi_poll", "net_rx_action", "handle_softirqs"]
        let icmp = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "ip_push_pending_frames", "__icmp_send", "nft_reject_inet_eval",
                    "nft_do_chain", "nf_hook_slow", "ip_local_deliver", "__netif_receive_skb_one_core", "net_rx_action", "handle_softirqs"]
        let noSocket = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "tcp_v4_send_reset", "tcp_v4_rcv", "ip_local_deliver",
                        "__netif_receive_skb_one_core", "net_rx_action", "handle_softirqs"]
        func sample(_ chain: [String]) -> KernelSample { Self.sample("net:net_dev_queue", chain, at: 1, skb: 0x1, length: 54) }
        #expect(sample(reset).isKernelReply && sample(reset).replySender == "nf_send_reset")
        #expect(sample(icmp).isKernelReply && sample(icmp).replySender == "nft_reject_inet_eval")
        #expect(sample(noSocket).replySender == "tcp_v4_send_reset")
        let own = PacketFlow(owner: .ownSocket, evidence: "skb 0x100 queued by connect of 7")
        let answer = own.answer(byKernel: sample(reset).replySender, neighbour: false)
        #expect(answer.owner == .kernelReply)
        #expect(answer.description.hasPrefix("the kernel's answer to this socket's packet, no peer socket's (a reset or an ICMP error): "
                                             + "built by nf_send_reset (a netfilter reject rule)"), "\(answer.description)")
        #expect(!answer.description.contains("no socket there"))
    }

    @Test("sides(): whether a chain has syscall frames and softirq work, and which softirq, as parts() cuts it")
    func sidesAsParts() {
        let timer = ["__tcp_transmit_skb", "tcp_delack_timer_handler", "tcp_delack_timer", "call_timer_fn", "__run_timers",
                     "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu"]
        let chains = [Self.sendPath, Self.receive + Self.softirq + Self.sendPath, Self.ackInReceive + Self.softirq + Self.sendPath,
                      ["__dev_queue_xmit", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"], timer, timer + Self.sendPath,
                      Self.receive + ["handle_softirqs", "run_ksoftirqd", "smpboot_thread_fn", "kthread"], []]
        for chain in chains {
            let parts = ChainAligner.parts(chain.map { KernelFrame($0, 0) })
            let sides = ChainAligner.sides(chain)
            #expect(sides.syscall == !parts.syscall.isEmpty && sides.softirq == !parts.softirq.isEmpty && sides.softirqKind == parts.softirqKind,
                    "\(chain): \(sides) against \(parts.syscall.count), \(parts.softirq.count), \(String(describing: parts.softirqKind))")
        }
    }

    @Test("an skb address is one packet once: reused, or with another length, it proves nothing")
    func reuse() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let onStack = Self.softirq + Self.sendPath
        correlator.add([
            Self.sample("net:net_dev_queue", Self.sendPath, at: 110, skb: 0x100, length: 80),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 120, skb: 0x100, length: 66),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 130, skb: 0x100, length: 66),
            Self.sample("net:net_dev_queue", Self.sendPath, at: 140, skb: 0x300, length: 80),
            Self.sample("net:netif_receive_skb", Self.receive + onStack, at: 150, skb: 0x300, length: 40),
        ])
        let activity = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        #expect(activity.samples.map { $0.flow?.owner } == [nil, .ownSocket, .unverified, nil, .unverified])
    }

    @Test("a probe sampled everywhere, hit during a call for another connection, leaves the call; kept only when that flow is traced (audit A-1)")
    func everywhereHitsDuringACall() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        func retransmit(_ source: SocketEndpoint, _ destination: SocketEndpoint, at time: UInt64, interrupted: [String] = []) -> KernelSample {
            func fields(_ endpoint: SocketEndpoint) -> (TracepointValue, TracepointValue) {
                guard case let .inet(address, port) = endpoint else { return (.bytes([]), .number(0)) }
                return (.bytes(address.split(separator: ".").map { UInt8($0)! }), .number(Int64(port)))
            }
            let (saddr, sport) = fields(source), (daddr, dport) = fields(destination)
            var sample = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: time),
                                      cpu: 0, chain: ["__tcp_retransmit_skb", "tcp_send_loss_probe", "tcp_write_timer", "call_timer_fn",
                                                      "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu"] + interrupted,
                                      fields: ["saddr": saddr, "sport": sport, "daddr": daddr, "dport": dport, "family": .number(2)])
            sample.everywhere = true
            return sample
        }
        let untraced = SocketEndpoint.inet(address: "127.0.0.1", port: 60228), elsewhere = SocketEndpoint.inet(address: "127.0.0.1", port: 23031)
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 41000)
        // A second traced connection (other → server), revealed by a call of its own.
        _ = correlator.activity(for: Self.send(tid: 9, local: other, peer: Self.server, from: 1, to: 2))
        let interrupt = ["sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt"]
        // The last one interrupts the thread at the call's exit stop, after the kernel's sys_exit.
        correlator.add([retransmit(Self.client, Self.server, at: 110), retransmit(untraced, elsewhere, at: 120), retransmit(other, Self.server, at: 130),
                        retransmit(other, Self.server, at: 190, interrupted: interrupt + ["ptrace_stop", "ptrace_notify", "syscall_exit_work", "do_syscall_64"])])
        let activity = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        #expect(activity.samples.map(\.time.nanoseconds) == [110], "only the call's own connection's retransmission stays")
        #expect(activity.samples.first?.flow?.owner == .ownSocket)
        let kept = correlator.takeBackground(upTo: nil)
        #expect(kept.map(\.time.nanoseconds) == [130], "the other traced connection's becomes an event; the untraced one is dropped")
        #expect(correlator.backgroundDropped == 1)
        // Taken in the traced thread 7, not outside the traced tasks (audit 8).
        #expect(kept.first?.inTracedTask == "during sendto of 7, on another socket")

        // The same timer between the thread's calls: stray, then the other connection's event.
        correlator.add([retransmit(other, Self.server, at: 300)])
        #expect(correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 400)).isEmpty, "a chain of a probe sampled everywhere waits for its flow")
        let between = correlator.takeBackground(upTo: nil)
        // The one at the call's exit stop was outside the kernel's call: with
        // the thread's strays, said to be at that stop (audits 67 P1, 68 P2).
        #expect(between.map(\.time.nanoseconds) == [190, 300])
        #expect(between.map { $0.inTracedTask ?? "-" } == ["at a call's exit stop, after the kernel ended the call", "between its traced calls"])

        // At the thread's next call's entry stop, or its last one's exit stop:
        // the trace file says where, as the text does.
        correlator.add([retransmit(other, Self.server, at: 500, interrupted: interrupt + ["ptrace_stop", "ptrace_notify", "__seccomp_filter",
                                                                                            "syscall_trace_enter", "do_syscall_64"]),
                        retransmit(other, Self.server, at: 510, interrupted: interrupt + ["ptrace_notify", "syscall_exit_work", "do_syscall_64"])])
        #expect(correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 600)).isEmpty)
        #expect(correlator.takeBackground(upTo: nil).map { $0.inTracedTask ?? "-" }
                == ["at a call's entry stop, before the kernel began the call", "at a call's exit stop, after the kernel ended the call"])
    }

    @Test("work an interrupt ran while the thread was at a call's entry or exit stop is not the call's, nor in its duration: a stray of the thread, said to be at that stop (audit 68 P2)")
    func workAtTheCallsStopsLeavesIt() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let pacing = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit",
                      "tcp_tsq_handler", "tcp_pace_kick", "__hrtimer_run_queues", "hrtimer_run_softirq", "handle_softirqs", "__irq_exit_rcu",
                      "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt"]
        func sample(_ stop: [String], at time: UInt64) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: time), cpu: 0,
                         chain: pacing + stop, fields: [:])
        }
        let own = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 150), cpu: 0,
                               chain: ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb",
                                       "tcp_write_xmit", "__tcp_push_pending_frames", "tcp_sendmsg_locked", "tcp_sendmsg", "__sys_sendto",
                                       "__x64_sys_sendto", "x64_sys_call", "do_syscall_64"], fields: [:])
        // The tracer's times for the call: 100 (entry stop) to 200 (exit
        // stop); the kernel's sys_enter at 130, its sys_exit at 170.
        correlator.add([sample(["ptrace_stop", "ptrace_notify", "__seccomp_filter", "syscall_trace_enter", "do_syscall_64"], at: 110), own,
                        sample(["__schedule", "schedule", "ptrace_stop", "ptrace_do_notify", "ptrace_notify", "syscall_exit_work", "do_syscall_64"], at: 190)])
        var call = Self.send(local: Self.client, peer: Self.server, from: 100, to: 200)
        call.kernelEntryTime = MonotonicTime(nanoseconds: 130)
        call.kernelExitTime = MonotonicTime(nanoseconds: 170)
        call.kernel = correlator.activity(for: call)
        #expect(call.kernel?.samples.map(\.time.nanoseconds) == [150], "only the call's own path's")
        #expect(call.endTime?.nanoseconds == 170, "its end is the kernel's sys_exit, not the work after it")
        let strays = correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 300))
        #expect(strays.map(\.time.nanoseconds) == [110, 190])
        #expect(strays.map { $0.inTracedTask ?? "-" } == ["at a call's entry stop, before the kernel began the call",
                                                         "at a call's exit stop, after the kernel ended the call"])
    }

    /// A state change sampled everywhere, for `source → destination`.
    static func stateChange(_ old: Int64, _ new: Int64, _ source: SocketEndpoint, _ destination: SocketEndpoint, at time: UInt64,
                            tid: Int32 = 7, cpu: UInt32 = 0, chain: [String] = ["tcp_done", "tcp_retransmit_timer", "tcp_write_timer", "call_timer_fn",
                                                                "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu"]) -> KernelSample {
        func address(_ endpoint: SocketEndpoint) -> (TracepointValue, TracepointValue) {
            guard case let .inet(text, port) = endpoint else { return (.bytes([]), .number(0)) }
            return (.bytes(text.split(separator: ".").map { UInt8($0)! }), .number(Int64(port)))
        }
        let (saddr, sport) = address(source), (daddr, dport) = address(destination)
        var sample = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: tid, tid: tid, time: MonotonicTime(nanoseconds: time),
                                  cpu: cpu, chain: chain, fields: ["oldstate": .number(old), "newstate": .number(new), "family": .number(2),
                                                                 "saddr": saddr, "sport": sport, "daddr": daddr, "dport": dport])
        sample.everywhere = true
        return sample
    }

    @Test("a traced thread between its calls: another program's connection's state change (its SYN timing out in a timer here) is not the thread's event (audit 9 D1)")
    func strayStateChangeOfAnotherFlow() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        _ = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 1, to: 2))
        let untraced = SocketEndpoint.inet(address: "127.0.0.1", port: 47882), nowhere = SocketEndpoint.inet(address: "127.0.0.1", port: 9999)
        correlator.add([Self.stateChange(TCPState.synSent, TCPState.close, untraced, nowhere, at: 10),
                        Self.stateChange(TCPState.established, 8, Self.client, Self.server, at: 20)])
        #expect(correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 100)).isEmpty, "both wait for their flows")
        let kept = correlator.takeBackground(upTo: nil)
        #expect(kept.map(\.time.nanoseconds) == [20], "the traced connection's is kept, the other program's dropped")
        #expect(kept.first?.inTracedTask == "between its traced calls" && kept.first?.flow?.owner == .ownSocket)
        #expect(correlator.backgroundDropped == 1)
    }

    @Test("work outside the traced tasks taken after the moment a stray step was queued for waits for a later step, decided or not: the rings drained late hold it, while stops made before it are still in the output (a forced batch's timeline, 120 ms out of order)")
    func backgroundAfterTheStrayMomentWaits() {
        let correlator = KernelCorrelator(model: nil, symbols: nil), stage = AttributionStage(correlator: correlator)
        let sink = TracerLoopTests.Events()
        var written: [UInt64] { sink.events.compactMap { if case let .kernelEvent(sample) = $0 { sample.time.nanoseconds } else { nil } } }
        _ = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 1, to: 2))
        let later = SocketEndpoint.inet(address: "127.0.0.1", port: 41999), peer = SocketEndpoint.inet(address: "127.0.0.1", port: 9999)
        stage.perform(.samples(traced: [], elsewhere: [Self.stateChange(TCPState.established, 8, Self.client, Self.server, at: 100, tid: 99),
                                                       Self.stateChange(8, 9, Self.client, Self.server, at: 300, tid: 99),
                                                       Self.stateChange(TCPState.synSent, TCPState.established, later, peer, at: 310, tid: 99)],
                               repeated: 0), into: sink)
        stage.perform(.stray(before: [:], otherwise: MonotonicTime(nanoseconds: 200)), into: sink)
        #expect(written == [100], "only the work taken by the step's moment")
        #expect(correlator.backgroundDropped == 0, "a later hit of a flow not yet revealed waits too")
        // A call reveals the second flow; a later step takes both.
        _ = correlator.activity(for: Self.send(tid: 9, local: later, peer: peer, from: 320, to: 330))
        stage.perform(.stray(before: [:], otherwise: MonotonicTime(nanoseconds: 400)), into: sink)
        #expect(written == [100, 300, 310])
    }

    @Test("in a call on a UNIX socket, a TCP connection's retransmission sampled everywhere leaves the call (audit 9 D2)")
    func everywhereHitInAUnixCall() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .write, arguments: [3, 0, 4096, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 100))
        call.exitTime = MonotonicTime(nanoseconds: 200)
        call.result = SyscallResult(value: 4096, errno: nil)
        call.socket = SocketSnapshot(fd: 3, family: 1, type: 1, protocolLabel: "UNIX-STREAM", local: nil, peer: nil, state: .connected)
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 52188), nowhere = SocketEndpoint.inet(address: "127.0.0.1", port: 9999)
        var retransmit = Self.stateChange(TCPState.synSent, TCPState.synSent, other, nowhere, at: 150)
        retransmit = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: retransmit.time, cpu: 0,
                                  chain: ["__tcp_retransmit_skb", "tcp_retransmit_timer", "tcp_write_timer", "call_timer_fn", "__run_timers",
                                          "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu", "unix_stream_sendmsg", "__x64_sys_write"],
                                  fields: retransmit.fields)
        retransmit.everywhere = true
        correlator.add([retransmit, Self.stateChange(TCPState.synSent, TCPState.close, other, nowhere, at: 160)])
        let activity = correlator.activity(for: call)
        #expect(activity.samples.isEmpty, "\(activity.samples.map(\.heading))")
        #expect(correlator.takeOtherFlows().map(\.time.nanoseconds) == [160], "the state change is an other-flow event")
        #expect(correlator.takeBackground(upTo: nil).isEmpty && correlator.backgroundDropped == 1, "the chain is no traced flow's: dropped")
    }

    @Test("a socket beginning its life on a traced 4-tuple after the traced calls on it is another socket: it and what follows are dropped (audit 9 D3)")
    func reusedFourTuple() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        _ = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        correlator.addBackground([Self.stateChange(TCPState.established, TCPState.close, Self.client, Self.server, at: 150, tid: 99),
                                  Self.stateChange(TCPState.close, TCPState.synSent, Self.client, Self.server, at: 800, tid: 99),
                                  Self.stateChange(TCPState.synSent, TCPState.established, Self.client, Self.server, at: 810, tid: 99),
                                  Self.stateChange(TCPState.listen, 3, Self.server, Self.client, at: 805, tid: 98)])
        let kept = correlator.takeBackground(upTo: nil)
        #expect(kept.map(\.time.nanoseconds) == [150], "only the change made while the traced socket lived")
        #expect(correlator.backgroundDropped == 3)
        // A traced call that reveals the 4-tuple again makes it a traced flow again.
        _ = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 900, to: 1000))
        correlator.addBackground([Self.stateChange(TCPState.established, 8, Self.client, Self.server, at: 950, tid: 99)])
        #expect(correlator.takeBackground(upTo: nil).map(\.time.nanoseconds) == [950])
    }

    @Test("work for a traced flow in the idle tasks of two CPUs: each named for its own CPU (audit 48 F1)")
    func idleTasksNamedPerCPU() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        _ = correlator.activity(for: Self.send(local: Self.client, peer: Self.server, from: 100, to: 200))
        let onCPU1 = Self.stateChange(TCPState.established, 8, Self.client, Self.server, at: 300, tid: 0, cpu: 1)
        let onCPU0 = Self.stateChange(8, 9, Self.client, Self.server, at: 310, tid: 0)
        correlator.addBackground([onCPU1, onCPU0])
        let kept = correlator.takeBackground(upTo: nil)
        #expect(kept.map(\.task) == ["swapper/1", "swapper/0"])
    }

    @Test("a timer's retransmission on a call's stack: the packet it sends is the flow tcp_retransmit_skb names right after, by the same return addresses (audit 9 D2)")
    func retransmittedPacketFollowsItsTracepoint() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let timer = ["tcp_retransmit_timer", "tcp_write_timer", "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs",
                     "__irq_exit_rcu", "unix_stream_read_generic", "__x64_sys_read"]
        let timerAddresses: [UInt64] = [0x1010, 0x1020, 0x1030, 0x1040, 0x1050, 0x1060, 0x1070, 0x1080, 0x1090]
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 52188), nowhere = SocketEndpoint.inet(address: "127.0.0.1", port: 9999)
        func packet(at time: UInt64) -> KernelSample {
            var sample = Self.sample("net:net_dev_queue", ["__dev_queue_xmit", "ip_finish_output2", "__tcp_transmit_skb", "__tcp_retransmit_skb"] + timer,
                                     at: time, skb: 0x500, length: 74)
            sample.addresses = [0x2000, 0x2010, 0x2020, 0x2030] + timerAddresses
            return sample
        }
        func reported(at time: UInt64) -> KernelSample {
            let fields = Self.stateChange(0, 0, other, nowhere, at: time).fields
            var sample = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: time),
                                      cpu: 0, chain: ["__tcp_retransmit_skb"] + timer, fields: fields)
            sample.addresses = [0x2038] + timerAddresses
            sample.everywhere = true
            return sample
        }
        var call = SyscallInvocation(pid: 7, tid: 7, architecture: .x86_64, syscall: .read, arguments: [4, 0, 4096, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 100))
        call.exitTime = MonotonicTime(nanoseconds: 300)
        call.result = SyscallResult(value: 4096, errno: nil)
        call.socket = SocketSnapshot(fd: 4, family: 1, type: 1, protocolLabel: "UNIX-STREAM", local: nil, peer: nil, state: .connected)
        // A second packet whose stack differs above the timer (another place): not linked to the
        // tcp_retransmit_skb, but TCP's work all the same, so not this UNIX socket's (audit 11).
        var elsewhere = packet(at: 250)
        elsewhere.addresses[5] = 0x9999
        // Its receive, on the read's stack later: an IP socket's packet, not a UNIX socket's.
        let received = Self.sample("net:netif_receive_skb", Self.receive + Self.softirq + ["unix_stream_read_generic", "__x64_sys_read"],
                                   at: 170, skb: 0x500, length: 60)
        correlator.add([packet(at: 150), reported(at: 160), received, elsewhere])
        let activity = correlator.activity(for: call)
        let others = correlator.takeOtherFlows()
        #expect(others.map(\.time.nanoseconds) == [150, 170, 250], "\(others.map { $0.flow?.evidence ?? "-" })")
        #expect(others.first?.flow?.owner == .otherFlow && others.first?.flow?.evidence.contains("127.0.0.1:52188 → 127.0.0.1:9999") == true)
        #expect(others.last?.flow?.evidence == "TCP work (__tcp_transmit_skb on its stack), and this call's socket is not a TCP socket")
        #expect(activity.samples.isEmpty)
        // On a socket whose kind is not known, the unlinked packet is not claimed either way.
        let unknown = KernelCorrelator(model: nil, symbols: nil)
        var anyCall = call
        anyCall.socket?.family = 0
        unknown.add([elsewhere])
        let kept = unknown.activity(for: anyCall)
        #expect(kept.samples.map(\.time.nanoseconds) == [250] && kept.samples.first?.flow?.owner == .unverified)
    }

    @Test("between a traced thread's calls, another program's retransmission run by a timer there: its packet, receive and drop are not the thread's events (audit 10)")
    func untracedTimerWorkBetweenCalls() {
        let correlator = KernelCorrelator(model: nil, symbols: nil)
        let timer = ["tcp_retransmit_timer", "tcp_write_timer", "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu"]
        let timerAddresses: [UInt64] = [0x1010, 0x1020, 0x1030, 0x1040, 0x1050, 0x1060, 0x1070]
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 46470), nowhere = SocketEndpoint.inet(address: "127.0.0.1", port: 9999)
        var packet = Self.sample("net:net_dev_queue", ["__dev_queue_xmit", "__tcp_transmit_skb", "__tcp_retransmit_skb"] + timer,
                                 at: 150, skb: 0x700, length: 74)
        packet.addresses = [0x2000, 0x2010, 0x2020] + timerAddresses
        var reported = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 160),
                                    cpu: 0, chain: ["__tcp_retransmit_skb"] + timer, fields: Self.stateChange(0, 0, other, nowhere, at: 160).fields)
        reported.addresses = [0x2028] + timerAddresses
        reported.everywhere = true
        let received = Self.sample("net:netif_receive_skb", Self.receive + ["handle_softirqs", "__irq_exit_rcu"], at: 170, skb: 0x700, length: 60)
        let dropped = KernelSample(tracepoint: "skb:kfree_skb", role: .event, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 180), cpu: 0,
                                   chain: ["kfree_skb_reason", "nf_hook_slow", "ip_local_deliver"] + Self.receive, fields: ["skbaddr": .number(0x700)])
        let own = Self.sample("net:net_dev_queue", Self.sendPath, at: 190, skb: 0x800, length: 60)
        correlator.add([packet, reported, received, dropped, own])
        let stray = correlator.takeStray(tid: 7, before: MonotonicTime(nanoseconds: 500))
        #expect(stray.map(\.time.nanoseconds) == [190], "\(stray.map(\.heading))")
        #expect(correlator.takeBackground(upTo: nil).isEmpty && correlator.backgroundDropped == 4)
    }
}
