import CLibbpf
import Glibc

/// The BPF program that samples traced connections' packets dropped
/// outside the traced tasks: a segment netfilter dropped as it arrived in
/// an idle CPU's softirq (swapper) or in ksoftirqd, where the perf event of
/// skb:kfree_skb, opened for the traced tasks only, does not look (audit
/// 44 N3: a handshake's ACK dropped so was drawn as delivered).
///
/// Attached to the raw tracepoint kfree_skb (`sk_skb_reason_drop`; every
/// drop of the machine), beside `ElsewhereTransmitProgram` and with its
/// maps: it keeps a drop only when the task is not a traced one (their
/// drops are their own events' samples), the kernel gave a reason (above
/// NOT_SPECIFIED: a packet freed with no reason is not known to be lost),
/// and the packet's own headers — IPv4 or IPv6, then TCP or UDP, read from
/// `skb->head` at its network and transport headers' offsets — name a port
/// the transmit program learnt from the traced tasks' packets, or the
/// tracer watches (`ports`, `destinations`), at either end. A packet
/// dropped before its socket is known (an input rule, a full backlog) has
/// no `skb->sk`: its headers are what says whose it is. The record is a
/// transmit's (`ElsewhereTransmit`) with kind 1, the reason, the location
/// and the IP protocol, its ports the packet's source and destination
/// (host order) and its addresses the headers'.
enum ElsewhereDropProgram {
    typealias P = ElsewhereTransmitProgram
    /// The x86-64 protocol values as a little-endian load of the
    /// network-order field reads them: ETH_P_IP (0x0800), ETH_P_IPV6 (0x86DD).
    static let ipv4: Int32 = 0x0008, ipv6: Int32 = 0xDD86
    /// SKB_DROP_REASON_NOT_SPECIFIED: this and below (not dropped, consumed) are not kept.
    static let notSpecified: Int32 = 2
    /// `transport_header` when it was never set.
    static let unset: Int32 = 0xffff

    /// `kfree_skb(skb, location, reason, rx_sk)`.
    static func program(_ maps: P.Maps, offsets o: SocketTupleOffsets) -> [UInt64] {
        var a = BPFAssembler()
        // Stack: -8 skb->head, -16 a map key, -24 a map value, -32 family,
        // -40 source port, -48 destination port (host order), -56 network
        // header, -64 transport header, -72 protocol, -80 a byte read,
        // -88 the network header's address, -96 the reason, -104 the IP
        // protocol (TCP 6, UDP 17).
        func read(into destination: BPFAssembler.Register, _ at: Int16, _ size: Int32, from base: BPFAssembler.Register, plus offset: Int32,
                  orReject: Bool) {
            a.readKernel(into: destination, at: at, size: size, from: base, plus: offset)
            if orReject { a.jump(if: .r0, .notEqual, 0, to: "reject") }
        }
        /// Jumps to `label` when the port in stack slot `slot` is in `map`.
        func kept(_ slot: Int16, in map: Int32, _ label: String) {
            a.load(.r1, .double, from: .r10, slot)
            a.store(.r1, .word, to: .r10, -16)
            a.lookup(map, key: -16)
            a.jump(if: .r0, .notEqual, 0, to: label)
        }
        /// The 16-bit network-order value in slot `slot`, in host order, back in it.
        func swapPort(_ slot: Int16) {
            a.load(.r1, .double, from: .r10, slot)
            a.mov(.r2, .r1)
            a.shiftRight(.r2, 8)
            a.and(.r1, 0xff)
            a.shiftLeft(.r1, 8)
            a.or(.r1, .r2)
            a.store(.r1, .double, to: .r10, slot)
        }
        a.mov(.r6, .r1)
        a.load(.r7, .double, from: .r6, 0)                       // skb
        a.jump(if: .r7, .equal, 0, to: "reject")
        a.load(.r1, .double, from: .r6, 16)                      // reason
        a.mov32(.r1, .r1)
        a.jump(if: .r1, .greater, notSpecified, to: "a drop")
        a.jump(to: "reject")
        a.label("a drop")
        a.store(.r1, .double, to: .r10, -96)
        // A traced task's drop is its own perf event's.
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.shiftRight(.r0, 32)
        a.store(.r0, .word, to: .r10, -16)
        a.lookup(maps.tgids, key: -16)
        a.jump(if: .r0, .notEqual, 0, to: "reject")
        for slot: Int16 in [-8, -32, -40, -48, -56, -64, -72, -80, -88, -104] { a.store(0, .double, to: .r10, slot) }
        read(into: .r10, -8, 8, from: .r7, plus: o.skbHead, orReject: true)
        read(into: .r10, -56, 2, from: .r7, plus: o.skbNetworkHeader, orReject: true)
        read(into: .r10, -64, 2, from: .r7, plus: o.skbTransportHeader, orReject: true)
        read(into: .r10, -72, 2, from: .r7, plus: o.skbProtocol, orReject: true)
        // r8 = the network header's address.
        a.load(.r8, .double, from: .r10, -8)
        a.jump(if: .r8, .equal, 0, to: "reject")
        a.load(.r1, .double, from: .r10, -56)
        a.add(.r8, .r1)
        a.store(.r8, .double, to: .r10, -88)
        a.load(.r1, .double, from: .r10, -72)
        a.jump(if: .r1, .equal, ipv4, to: "ipv4")
        a.jump(if: .r1, .equal, ipv6, to: "ipv6")
        a.jump(to: "reject")

        /// The family, and the IP protocol read at `offset` into the
        /// network header, kept (TCP or UDP; else rejected); then on to the
        /// ports when the transport header's offset was set.
        func transport(family: Int32, protocolAt offset: Int32, _ label: String) {
            a.store(family, .double, to: .r10, -32)
            read(into: .r10, -80, 1, from: .r8, plus: offset, orReject: true)
            a.load(.r1, .double, from: .r10, -80)
            a.store(.r1, .double, to: .r10, -104)
            a.jump(if: .r1, .equal, 6, to: label)
            a.jump(if: .r1, .equal, 17, to: label)
            a.jump(to: "reject")
            a.label(label)
            a.load(.r1, .double, from: .r10, -64)
            a.jump(if: .r1, .notEqual, unset, to: "ports")
        }

        a.label("ipv4")
        transport(family: Int32(AF_INET), protocolAt: 9, "ipv4 transport")            // protocol
        read(into: .r10, -80, 1, from: .r8, plus: 0, orReject: true)   // version and IHL
        a.load(.r1, .double, from: .r10, -80)
        a.and(.r1, 0x0f)
        a.shiftLeft(.r1, 2)
        a.load(.r2, .double, from: .r10, -56)
        a.add(.r1, .r2)
        a.store(.r1, .double, to: .r10, -64)
        a.jump(to: "ports")

        a.label("ipv6")
        transport(family: Int32(AF_INET6), protocolAt: 6, "ipv6 transport")           // next header
        a.load(.r1, .double, from: .r10, -56)
        a.add(.r1, 40)
        a.store(.r1, .double, to: .r10, -64)

        // The ports, at the transport header.
        a.label("ports")
        a.load(.r3, .double, from: .r10, -8)
        a.load(.r1, .double, from: .r10, -64)
        a.add(.r3, .r1)
        read(into: .r10, -40, 2, from: .r3, plus: 0, orReject: true)
        a.load(.r3, .double, from: .r10, -8)
        a.load(.r1, .double, from: .r10, -64)
        a.add(.r3, .r1)
        read(into: .r10, -48, 2, from: .r3, plus: 2, orReject: true)
        swapPort(-40)
        swapPort(-48)
        for (slot, map, label) in [(Int16(-40), maps.ports, "port 1"), (-48, maps.ports, "port 2"),
                                   (-40, maps.destinations, "port 3"), (-48, maps.destinations, "port 4")] {
            a.load(.r1, .double, from: .r10, slot)
            a.jump(if: .r1, .equal, 0, to: label)
            kept(slot, in: map, "keep")
            a.label(label)
        }
        a.jump(to: "reject")

        // The record, built in this CPU's scratch value.
        a.label("keep")
        a.store(0, .word, to: .r10, -16)
        a.lookup(maps.scratch, key: -16)
        a.jump(if: .r0, .equal, 0, to: "reject")
        a.mov(.r9, .r0)
        for offset in stride(from: Int16(0), to: P.stack, by: 8) { a.store(0, .double, to: .r9, offset) }
        a.call(BPF_FUNC_ktime_get_ns)
        a.store(.r0, .double, to: .r9, P.time)
        a.store(.r7, .double, to: .r9, P.skb)
        a.call(BPF_FUNC_get_smp_processor_id)
        a.store(.r0, .word, to: .r9, P.cpu)
        a.call(BPF_FUNC_get_current_pid_tgid)
        a.store(.r0, .double, to: .r9, P.pidTgid)
        a.load(.r1, .double, from: .r10, -32)
        a.store(.r1, .half, to: .r9, P.family)
        a.load(.r1, .double, from: .r10, -40)
        a.store(.r1, .half, to: .r9, P.localPort)
        a.load(.r1, .double, from: .r10, -48)
        a.store(.r1, .half, to: .r9, P.remotePort)
        a.load(.r1, .double, from: .r10, -104)
        a.store(.r1, .half, to: .r9, P.ipProtocol)
        a.store(1, .word, to: .r9, P.kind)
        a.load(.r1, .double, from: .r10, -96)
        a.store(.r1, .word, to: .r9, P.reason)
        a.load(.r1, .double, from: .r6, 8)                       // location
        a.store(.r1, .double, to: .r9, P.location)
        read(into: .r9, P.length, 4, from: .r7, plus: o.skbLength, orReject: false)
        read(into: .r10, -16, 8, from: .r7, plus: o.skbDevice, orReject: false)
        a.load(.r3, .double, from: .r10, -16)
        a.jump(if: .r3, .equal, 0, to: "addresses")
        read(into: .r9, P.device, 16, from: .r3, plus: o.deviceName, orReject: false)
        a.label("addresses")
        a.load(.r8, .double, from: .r10, -88)
        a.load(.r1, .double, from: .r10, -32)
        a.jump(if: .r1, .equal, Int32(AF_INET6), to: "addresses6")
        read(into: .r9, P.localAddress, 4, from: .r8, plus: 12, orReject: false)
        read(into: .r9, P.remoteAddress, 4, from: .r8, plus: 16, orReject: false)
        a.jump(to: "stack")
        a.label("addresses6")
        read(into: .r9, P.localAddress, 16, from: .r8, plus: 8, orReject: false)
        read(into: .r9, P.remoteAddress, 16, from: .r8, plus: 24, orReject: false)
        a.label("stack")
        P.sendRecord(&a, ring: maps.ring)
        return a.assembled()
    }
}
