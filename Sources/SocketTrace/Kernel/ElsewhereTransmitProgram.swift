import CLibbpf
import Glibc

/// The BPF program that samples traced connections' packets queued
/// outside the traced tasks: a delayed ACK or a zero-window probe sent by a
/// timer, ksoftirqd's or another CPU's softirq work.
///
/// Attached to the raw tracepoint net_dev_queue (`__dev_queue_xmit`; every
/// packet of the machine), it keeps a packet only when its socket
/// (`skb->sk`) has a local port one of the traced sockets' flows has, on
/// either end (`ports`), and the task is not a traced one (their packets
/// are their own events' samples). A kept packet leaves in the ring what a
/// perf sample of the tracepoint would show, its kernel stack
/// (bpf_get_stack), time, CPU, task, skb, length and device, and what that
/// cannot: its socket's family, ports and addresses. (A perf event's BPF
/// filter cannot do this: its program runs for the tracepoint, and a hit
/// it refuses is refused to every perf event of it, other tools' too.)
///
/// In a traced task (`tgids`) it sends nothing to the ring and learns
/// instead: the packet's socket goes into `sockets` by skb and time
/// (`PacketSocket`: the task's own sample has no addresses, and a timer's
/// transmit run on the task is no call's), and its ports, both ends, into
/// `ports`, so a connection the traced program sent anything on is
/// watched from its first packet. The tracer adds the ports of sockets its calls name too,
/// and, while a traced connect is under way, its destination's port
/// (`destinations`): a packet whose socket's remote port is one is kept
/// too (audit 38 F2: a SYN netfilter dropped never reached the device, so
/// the connecting socket's new local port was not learnt, and the timer's
/// retransmitted SYN and the handshake's ACK, sent on another CPU, were
/// lost). Other programs' connections to that port are kept too, and left
/// out by their 4-tuples.
struct ElsewhereTransmitProgram {
    struct Maps {
        let tgids: Int32
        let ports: Int32
        let destinations: Int32
        let scratch: Int32
        let ring: Int32
        /// A traced task's packets' sockets by skb and time (`PacketSocket`).
        let sockets: Int32
    }

    // The record (`ElsewhereTransmit`): little-endian, then the stack's addresses.
    static let time: Int16 = 0, skb: Int16 = 8, cpu: Int16 = 16, family: Int16 = 20, localPort: Int16 = 22
    static let remotePort: Int16 = 24, ipProtocol: Int16 = 26, length: Int16 = 28, pidTgid: Int16 = 32, stackBytes: Int16 = 40
    static let device: Int16 = 48, localAddress: Int16 = 64, remoteAddress: Int16 = 80
    /// A drop's (`ElsewhereDropProgram`): kind 1, the kernel's reason and
    /// where it freed the packet; a transmit's kind is 0.
    static let kind: Int16 = 96, reason: Int16 = 100, location: Int16 = 104
    /// A transmit's socket's `struct sock` (skb->sk; 0 for a drop's).
    static let sock: Int16 = 112, stack: Int16 = 120
    /// The most frames a stack keeps (perf's own limit, 127).
    static let frames: Int32 = 127
    static var recordSize: Int { Int(stack) + Int(frames) * 8 }

    /// `net_dev_queue(skb)`.
    static func program(_ maps: Maps, offsets o: SocketTupleOffsets) -> [UInt64] {
        var a = BPFAssembler()
        // Stack: -8 a pointer read, -16 a map key, -24 a map value, -32
        // family, -40 local port, -48 remote port (network order).
        /// *(r10 + slot) = the `size` bytes at `offset` into the structure at `base`.
        func read(into destination: BPFAssembler.Register, _ at: Int16, _ size: Int32, from base: BPFAssembler.Register, plus offset: Int32,
                  orReject: Bool) {
            a.readKernel(into: destination, at: at, size: size, from: base, plus: offset)
            if orReject { a.jump(if: .r0, .notEqual, 0, to: "reject") }
        }
        /// ports[r1] = 1 (r1 a port, host order; 0 is no port), unless it is
        /// there: an update replaces the element (a hash map's allocation at
        /// every packet of a ping-pong).
        func learn(_ label: String) {
            a.jump(if: .r1, .equal, 0, to: label)
            a.store(.r1, .word, to: .r10, -16)
            a.lookup(maps.ports, key: -16)
            a.jump(if: .r0, .notEqual, 0, to: label)
            a.store(1, .word, to: .r10, -24)
            a.update(maps.ports, key: -16, value: -24)
            a.label(label)
        }
        /// sockets[(skb, time bucket)] = the packet's socket's family,
        /// ports and addresses, with the time, CPU and thread
        /// (`PacketSocket`): a traced task's own sample of the event has no
        /// addresses, and work an interrupt ran on the task (a delayed-ACK
        /// timer's transmit) is no call's. Built at -120 (the key at -136:
        /// the skb, then the time's bucket), the socket's address with it.
        func rememberSocket() {
            typealias S = PacketSocket
            a.store(.r7, .double, to: .r10, -136)
            for offset in stride(from: Int16(0), to: Int16(S.size), by: 8) { a.store(0, .double, to: .r10, -120 + offset) }
            a.call(BPF_FUNC_ktime_get_ns)
            a.store(.r0, .double, to: .r10, -120 + S.time)
            a.shiftRight(.r0, Int32(S.bucketShift))
            a.store(.r0, .double, to: .r10, -128)
            a.call(BPF_FUNC_get_smp_processor_id)
            a.store(.r0, .word, to: .r10, -120 + S.cpu)
            a.call(BPF_FUNC_get_current_pid_tgid)
            a.store(.r0, .word, to: .r10, -120 + S.tid)
            a.store(.r8, .double, to: .r10, -120 + S.sock)
            a.load(.r1, .double, from: .r10, -32)
            a.store(.r1, .half, to: .r10, -120 + S.family)
            a.load(.r1, .double, from: .r10, -40)
            a.store(.r1, .half, to: .r10, -120 + S.localPort)
            a.load(.r1, .double, from: .r10, -48)
            a.store(.r1, .half, to: .r10, -120 + S.remotePort)
            a.load(.r1, .double, from: .r10, -32)
            a.jump(if: .r1, .equal, Int32(AF_INET), to: "socket inet")
            a.jump(if: .r1, .equal, Int32(AF_INET6), to: "socket inet6")
            a.jump(to: "socket kept")
            a.label("socket inet")
            read(into: .r10, -120 + S.localAddress, 4, from: .r8, plus: o.localAddress, orReject: false)
            read(into: .r10, -120 + S.remoteAddress, 4, from: .r8, plus: o.remoteAddress, orReject: false)
            a.jump(to: "socket kept")
            a.label("socket inet6")
            read(into: .r10, -120 + S.localAddress, 16, from: .r8, plus: o.localAddress6, orReject: false)
            read(into: .r10, -120 + S.remoteAddress, 16, from: .r8, plus: o.remoteAddress6, orReject: false)
            a.label("socket kept")
            a.update(maps.sockets, key: -136, value: -120)
        }
        /// r1 = the remote port read into -48 (network order), in host order.
        func loadRemotePort() {
            a.load(.r1, .double, from: .r10, -48)
            a.mov(.r2, .r1)
            a.shiftRight(.r2, 8)
            a.and(.r1, 0xff)
            a.shiftLeft(.r1, 8)
            a.or(.r1, .r2)
        }
        a.mov(.r6, .r1)
        a.load(.r7, .double, from: .r6, 0)                       // skb
        a.jump(if: .r7, .equal, 0, to: "reject")
        for slot: Int16 in [-8, -32, -40, -48] { a.store(0, .double, to: .r10, slot) }
        read(into: .r10, -8, 8, from: .r7, plus: o.skbSock, orReject: true)
        a.load(.r8, .double, from: .r10, -8)                     // skb->sk
        a.jump(if: .r8, .equal, 0, to: "reject")
        read(into: .r10, -32, 2, from: .r8, plus: o.family, orReject: true)
        read(into: .r10, -40, 2, from: .r8, plus: o.localPort, orReject: true)
        read(into: .r10, -48, 2, from: .r8, plus: o.remotePort, orReject: true)
        // A traced task's packet: its ports are learnt, the packet is its own events'.
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.shiftRight(.r0, 32)
        a.store(.r0, .word, to: .r10, -16)
        a.lookup(maps.tgids, key: -16)
        a.jump(if: .r0, .equal, 0, to: "elsewhere")
        a.load(.r1, .double, from: .r10, -40)
        learn("learnt local")
        loadRemotePort()
        learn("learnt remote")
        rememberSocket()
        a.jump(to: "reject")
        // Elsewhere: kept for a watched local port, or a traced connect's destination.
        a.label("elsewhere")
        a.load(.r1, .double, from: .r10, -40)
        a.jump(if: .r1, .equal, 0, to: "reject")
        a.store(.r1, .word, to: .r10, -16)
        a.lookup(maps.ports, key: -16)
        a.jump(if: .r0, .notEqual, 0, to: "keep")
        loadRemotePort()
        a.store(.r1, .word, to: .r10, -16)
        a.lookup(maps.destinations, key: -16)
        a.jump(if: .r0, .equal, 0, to: "reject")
        a.label("keep")
        // The record, built in this CPU's scratch value.
        a.store(0, .word, to: .r10, -16)
        a.lookup(maps.scratch, key: -16)
        a.jump(if: .r0, .equal, 0, to: "reject")
        a.mov(.r9, .r0)
        for offset in stride(from: Int16(0), to: stack, by: 8) { a.store(0, .double, to: .r9, offset) }
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r9, time)
        a.store(.r7, .double, to: .r9, skb)
        a.call(BPF_FUNC_get_smp_processor_id)
        a.store(.r0, .word, to: .r9, cpu)
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.store(.r0, .double, to: .r9, pidTgid)
        a.store(.r8, .double, to: .r9, sock)
        a.load(.r1, .double, from: .r10, -32)
        a.store(.r1, .half, to: .r9, family)
        a.load(.r1, .double, from: .r10, -40)
        a.store(.r1, .half, to: .r9, localPort)
        a.load(.r1, .double, from: .r10, -48)
        a.store(.r1, .half, to: .r9, remotePort)
        read(into: .r9, length, 4, from: .r7, plus: o.skbLength, orReject: false)
        read(into: .r10, -8, 8, from: .r7, plus: o.skbDevice, orReject: false)
        a.load(.r3, .double, from: .r10, -8)
        a.jump(if: .r3, .equal, 0, to: "addresses")
        read(into: .r9, device, 16, from: .r3, plus: o.deviceName, orReject: false)
        a.label("addresses")
        a.load(.r1, .double, from: .r10, -32)
        a.jump(if: .r1, .equal, Int32(AF_INET), to: "inet")
        a.jump(if: .r1, .equal, Int32(AF_INET6), to: "inet6")
        a.jump(to: "stack")
        a.label("inet")
        read(into: .r9, localAddress, 4, from: .r8, plus: o.localAddress, orReject: false)
        read(into: .r9, remoteAddress, 4, from: .r8, plus: o.remoteAddress, orReject: false)
        a.jump(to: "stack")
        a.label("inet6")
        read(into: .r9, localAddress, 16, from: .r8, plus: o.localAddress6, orReject: false)
        read(into: .r9, remoteAddress, 16, from: .r8, plus: o.remoteAddress6, orReject: false)
        a.label("stack")
        sendRecord(&a, ring: maps.ring)
        return a.assembled()
    }

    /// The end of both programs: the kernel stack (of the context in r6)
    /// into the record in r9, the record into the ring, and the exit, with
    /// the label "reject" before it.
    static func sendRecord(_ a: inout BPFAssembler, ring: Int32) {
        a.mov(.r1, .r6)
        a.mov(.r2, .r9)
        a.add(.r2, Int32(stack))
        a.mov(.r3, frames * 8)
        a.mov(.r4, 0)
        a.call(BPF_FUNC_get_stack)
        a.store(.r0, .double, to: .r9, stackBytes)
        a.loadMap(.r1, ring)
        a.mov(.r2, .r9)
        a.mov(.r3, Int32(recordSize))
        a.mov(.r4, 0)
        a.call(BPF_FUNC_ringbuf_output)
        a.label("reject")
        a.mov(.r0, 0)
        a.exit()
    }
}

/// Where a packet's socket and that socket's ends are, in this kernel's
/// structures (its BTF, as `KernelStructOffsets` reads it): `skb->sk`,
/// its length and device's name, and in the socket's `__sk_common` its
/// family, ports and addresses.
struct SocketTupleOffsets: Equatable {
    let skbSock: Int32
    let skbLength: Int32
    let skbDevice: Int32
    let deviceName: Int32
    let family: Int32
    let localPort: Int32
    let remotePort: Int32
    let localAddress: Int32
    let remoteAddress: Int32
    let localAddress6: Int32
    let remoteAddress6: Int32
    /// For a packet's own headers (`ElsewhereDropProgram`): `skb->head`,
    /// the network and transport headers' offsets from it, and the
    /// protocol (ETH_P_IP, ETH_P_IPV6; network order).
    let skbHead: Int32
    let skbNetworkHeader: Int32
    let skbTransportHeader: Int32
    let skbProtocol: Int32

    static func running() throws -> SocketTupleOffsets {
        guard let btf = btf__load_vmlinux_btf() else { throw KernelStructOffsets.Missing(field: nil) }
        defer { btf__free(btf) }
        func offset(_ structure: String, _ path: String...) throws -> Int32 {
            try KernelStructOffsets.offset(of: path, in: structure, btf: btf)
        }
        return SocketTupleOffsets(
            skbSock: try offset("sk_buff", "sk"),
            skbLength: try offset("sk_buff", "len"),
            skbDevice: try offset("sk_buff", "dev"),
            deviceName: try offset("net_device", "name"),
            family: try offset("sock", "__sk_common", "skc_family"),
            localPort: try offset("sock", "__sk_common", "skc_num"),
            remotePort: try offset("sock", "__sk_common", "skc_dport"),
            localAddress: try offset("sock", "__sk_common", "skc_rcv_saddr"),
            remoteAddress: try offset("sock", "__sk_common", "skc_daddr"),
            localAddress6: try offset("sock", "__sk_common", "skc_v6_rcv_saddr"),
            remoteAddress6: try offset("sock", "__sk_common", "skc_v6_daddr"),
            skbHead: try offset("sk_buff", "head"),
            skbNetworkHeader: try offset("sk_buff", "network_header"),
            skbTransportHeader: try offset("sk_buff", "transport_header"),
            skbProtocol: try offset("sk_buff", "protocol"))
    }
}
