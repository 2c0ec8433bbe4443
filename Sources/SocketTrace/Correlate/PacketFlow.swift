/// Whose packet softirq work on a call's stack was handling when a sample
/// was taken there, and what proves it. Receive work run on a thread's
/// stack (after its own transmit enabled bottom halves again) may handle
/// any packet waiting in that CPU's backlog: a packet belongs to the call
/// only when it is the call's own connection, one way or the other.
public struct PacketFlow: Sendable, Codable, Equatable {
    public enum Owner: String, Sendable, Codable {
        /// Sent by the call's own socket (its skb was queued on a traced call's own path).
        case ownSocket = "own-socket"
        /// Sent to the call's socket by its peer.
        case peer
        /// The receiving kernel's answer to the call's socket's packet (a
        /// reset or an ICMP error for a port no socket has): for this socket,
        /// from no peer socket.
        case kernelReply = "kernel-reply"
        /// Another connection's packet: not the call's work.
        case otherFlow = "other-flow"
        /// No evidence either way (the skb was not seen queued by a traced
        /// call, or the work is not for one packet).
        case unverified
    }

    public var owner: Owner
    /// What proves it, or why it is not known.
    public var evidence: String
    /// Told by the sample's own addresses, which are a socket's (a state
    /// change, a retransmission, tcp_probe's), not a packet's way: then the
    /// owner says whose socket, not who sent a packet to whom (audit 29 F1:
    /// the peer's CLOSE_WAIT, as it took in this socket's FIN, was "packet
    /// sent to this socket by its peer").
    public var ofSocket: Bool?
    /// How the timeline says the owner where "this socket" would not do:
    /// work for an exit's several released sockets, or a listener's
    /// release resetting connections it had not accepted (audit 83 F1,
    /// 84 M1: "packet sent by this socket … though not sent by it").
    public var said: String?

    public init(owner: Owner, evidence: String, ofSocket: Bool? = nil, said: String? = nil) {
        self.owner = owner
        self.evidence = evidence
        self.ofSocket = ofSocket
        self.said = said
    }

    /// Whether the sample counts under the call (proven, or not disproven).
    public var belongsToCall: Bool { owner != .otherFlow }

    /// Whose a packet is that the receive of this flow's packet sent (an
    /// ACK, a SYN-ACK, data the ACK let go, a reset): it leaves the
    /// packet's receiver for its sender, so the owner turns round. The
    /// evidence names the received packet and whose it was.
    /// `byKernel`: the function on the sample's stack that built it as the
    /// kernel's own answer (a reset, an ICMP error), nil for a socket's.
    func answer(byKernel sender: String?, neighbour: Bool) -> PacketFlow {
        let byKernel = sender != nil
        let received = (sender.map { "built by \($0) (\(KernelSample.replyMaker($0))), " } ?? "")
            + "sent in the receive of the packet taken in before it on this stack "
            + (owner == .unverified ? "(its sender unverified: \(evidence))" : "(\(description))")
        if neighbour { return PacketFlow(owner: .unverified, evidence: "a neighbour resolution packet, " + received) }
        switch owner {
        case .ownSocket:
            return byKernel ? PacketFlow(owner: .kernelReply, evidence: received)
                : PacketFlow(owner: .peer, evidence: "its peer's answer, " + received)
        case .peer:
            return byKernel ? PacketFlow(owner: .unverified, evidence: "the kernel's answer to the peer's packet, no socket's, " + received)
                : PacketFlow(owner: .ownSocket, evidence: "this socket's answer, " + received)
        case .kernelReply:
            return PacketFlow(owner: .unverified, evidence: received)
        case .otherFlow:
            return PacketFlow(owner: .otherFlow, evidence: received)
        case .unverified:
            return PacketFlow(owner: .unverified, evidence: received)
        }
    }

    /// How the timeline says it.
    public var description: String {
        if let said { return "\(said): \(evidence)" }
        return switch owner {
        case .ownSocket where ofSocket == true: "this socket's, by its addresses: \(evidence)"
        case .peer where ofSocket == true: "its peer's (the connection's other end), by its addresses: \(evidence)"
        case .ownSocket: "packet sent by this socket: \(evidence)"
        case .peer: "packet sent to this socket by its peer: \(evidence)"
        case .kernelReply: "the kernel's answer to this socket's packet, no peer socket's (a reset or an ICMP error): \(evidence)"
        case .otherFlow: "another connection's work, not this call's: \(evidence)"
        case .unverified: "whose packet: unverified (\(evidence))"
        }
    }
}

/// Packets seen leaving on a traced call's own path, by skb address, with
/// the connection (local → peer) that sent them: on loopback the same skb
/// is the one the receive side takes in, so a receive sample's `skbaddr`
/// names its sender. Bounded: an skb address is reused once freed, and a
/// lookup is meant for the packets of the last moments.
struct QueuedPackets {
    struct Sender {
        /// The sending socket's 4-tuple, when known (an unconnected UDP
        /// socket has none until the kernel binds it on its first send).
        let local: SocketEndpoint?
        let peer: SocketEndpoint?
        /// The sending socket's inode: the skb left this socket, whatever
        /// its addresses.
        var inode: UInt64? = nil
        /// For a reply sent from a packet's receive: the inode of the socket
        /// that sent that packet, when its addresses were not known.
        var replyTo: UInt64? = nil
        /// What sent it: a socket (or the receive of its packet), the
        /// kernel answering for a port with no socket, a neighbour lookup,
        /// work for no socket known, or a TCP segment of no socket known
        /// (sent in a call on a UDP or UNIX socket: not that socket's).
        /// `unrecordedCall`: queued in a call of a traced thread that the
        /// trace does not record (`-e`): whose socket, not known.
        enum Kind { case socket, kernelReply, neighbour, unknown, tcpSegment, unrecordedCall }
        var kind: Kind = .socket
        let call: String
        let time: MonotonicTime
        /// The length net_dev_queue gave (with the link-layer header).
        let length: Int64?

        var described: String {
            // The kernel's answer has no socket at its source: its packet's
            // addresses are said by the call it answers.
            if kind == .kernelReply, let peer { return "\(call), sent to \(peer)" }
            if let local, let peer { return "\(call) on \(local) → \(peer)" }
            if let inode { return "\(call) on socket:[\(inode)]" }
            if let replyTo { return "\(call), to socket:[\(replyTo)]" }
            return call
        }
    }

    var senders: [Int64: Sender] = [:]
    static let limit = 8192
    /// An skb older than this is not taken for the same packet.
    static let horizon: UInt64 = 1_000_000_000

    /// An skb queued to `device` by `sender`. Only loopback gives the same
    /// skb back to the host's receive: one queued to another device (a
    /// NIC, a tun nobody reads) is dropped from here, so its address,
    /// freed and handed to another program's packet, is not taken for it
    /// (audit 12: a traced UDP send out a tun, then an untraced program's
    /// datagram on lo with the same skb address and a fitting length).
    mutating func queued(skb: Int64, device: String? = nil, by sender: Sender) {
        if let device, device != Self.loopback {
            senders[skb] = nil
            if crossDevice.count >= Self.limit { crossDevice.removeAll(keepingCapacity: true) }
            crossDevice[skb] = (sender, device)
            return
        }
        crossDevice[skb] = nil
        if senders.count >= Self.limit { senders.removeAll(keepingCapacity: true) }
        senders[skb] = sender
    }

    /// Skbs queued to a device other than loopback, kept only to say what
    /// is known of a receive on another device with the same address
    /// (audit 35: veth hands the very skb one end queued to the other end's
    /// receive, in another network namespace).
    var crossDevice: [Int64: (sender: Sender, device: String)] = [:]

    /// For a receive on a device other than loopback of an skb whose
    /// address was queued to another such device not long before with this
    /// length and its Ethernet header: what that tells, and what it does
    /// not. The same packet when the first device hands its skbs to the
    /// second (a veth pair), but the trace does not know which devices are
    /// paired, and a freed skb's address is reused (a NIC's sent packet,
    /// then another's received one): never an owner, only evidence. Taken
    /// out, as a packet arrives once.
    mutating func takeCrossDevice(of skb: Int64, at time: MonotonicTime, length: Int64?, device: String?) -> String? {
        guard let device, device != Self.loopback, let (found, queuedTo) = crossDevice[skb], queuedTo != device,
              found.time <= time, time.nanoseconds - found.time.nanoseconds < Self.horizon,
              let sent = found.length, let length, sent - Self.ethernetHeader == length else { return nil }
        crossDevice[skb] = nil
        let micros = (time.nanoseconds - found.time.nanoseconds) / 1000
        let what = switch found.kind {
        case .neighbour: "a neighbour resolution packet (ARP or neighbour discovery) "
        case .kernelReply: "the kernel's answer "
        default: ""
        }
        return "received on \(device), the address of an skb, \(what)queued to \(queuedTo) by \(found.described) \(micros) µs before, "
            + "\(sent) B with its Ethernet header: the same packet if \(queuedTo) hands its packets to \(device) (a veth pair), "
            + "which the trace does not verify"
    }

    /// The sender of the packet a receive took in, taken out (a packet
    /// arrives once; its skb address is then free for another): the same
    /// skb, queued to loopback before and not long ago, received on
    /// loopback, its length less the Ethernet header that loopback's
    /// receive strips.
    mutating func takeSender(of skb: Int64, at time: MonotonicTime, length: Int64?, device: String? = nil) -> Sender? {
        guard let found = senders[skb], found.time <= time, time.nanoseconds - found.time.nanoseconds < Self.horizon else { return nil }
        if let device, device != Self.loopback { return nil }
        if let sent = found.length, let length, sent - Self.ethernetHeader != length { return nil }
        senders[skb] = nil
        return found
    }

    static let loopback = "lo"

    static let ethernetHeader: Int64 = 14
}

extension KernelSample {
    static let transmitTracepoint = "net:net_dev_queue"
    static let receiveTracepoint = "net:netif_receive_skb"
    static let stateChangeTracepoint = "sock:inet_sock_set_state"
    /// Frames of one packet's receive processing (after netif_receive_skb fired for it).
    static let packetReceiveFrames: Set<String> = ["__netif_receive_skb_one_core", "__netif_receive_skb_core",
                                                  "__netif_receive_skb_core.constprop.0", "__netif_receive_skb_list_core"]

    /// A sample (a drop) taken while a packet's receive sent an answer: the
    /// function that built or sent that new packet, on the stack below the
    /// receive. A drop there is of the answer on its way out (the received
    /// packet is never sent on from these), not of the packet received.
    var answerBuilder: String? {
        // Innermost first: the frames deeper than the innermost receive's.
        guard let receive = chain.firstIndex(where: Self.packetReceiveFrames.contains) else { return nil }
        return chain[..<receive].last { Self.answerBuilders.contains($0) || Self.kernelReplySenders.contains($0) }
    }
    static let answerBuilders: Set<String> = ["__tcp_transmit_skb", "tcp_v4_send_synack", "tcp_v6_send_synack", "ip_build_and_send_pkt",
                                              "ip_send_unicast_reply", "tcp_v4_send_ack", "tcp_v6_send_response", "ip6_xmit"]

    /// A transmit that is the neighbour lookup's own packet (an ARP
    /// request, an IPv6 neighbour solicitation) sent while a socket's packet
    /// waits for the peer's link address: not the socket's packet.
    var isNeighbourSolicitation: Bool { sides.buildsNeighbourSolicitation }
    /// The functions that build ARP and neighbour discovery packets (not
    /// arp_process: a packet it flushes from the neighbour's queue is a
    /// socket's).
    static let neighbourSenders: Set<String> = ["arp_xmit", "arp_send_dst", "arp_send", "arp_solicit", "neigh_probe", "ndisc_send_skb",
                                                 "ndisc_send_ns", "ndisc_send_na", "ndisc_solicit", "ndisc_send_rs"]

    /// A transmit that is the kernel's answer for a port with no socket.
    var isKernelReply: Bool { sides.buildsKernelReply }
    static let kernelReplySenders = Set(["tcp_v4_send_reset", "tcp_v6_send_reset", "__icmp_send", "icmp_send", "icmp6_send",
                                         "icmpv6_send"]).union(netfilterRejecters)
    /// A netfilter reject rule's own senders (nft's and iptables' REJECT):
    /// the answer is the rule's, whatever listens there (audit 20: a reset
    /// nft sent for a port a traced server listened on was called its peer's).
    static let netfilterRejecters: Set<String> = ["nf_send_reset", "nf_send_reset6", "nf_send_unreach", "nf_send_unreach6",
                                                  "nft_reject_inet_eval", "nft_reject_ipv4_eval", "nft_reject_ipv6_eval",
                                                  "nft_reject_netdev_eval", "reject_tg", "reject_tg6"]

    /// The function that built the kernel's answer this transmit is, the
    /// netfilter rule's first (it calls the ICMP sender), else the innermost.
    var replySender: String? {
        chain.first { Self.netfilterRejecters.contains($0) } ?? chain.first { Self.kernelReplySenders.contains($0) }
    }

    /// Who such a sender answers for.
    static func replyMaker(_ sender: String) -> String {
        netfilterRejecters.contains(sender) ? "a netfilter reject rule" : "the receiving kernel, for no socket or a segment its socket refuses"
    }

    var skbAddress: Int64? {
        if case let .number(address)? = fields["skbaddr"] { return address }
        return nil
    }

    /// The network device a packet tracepoint names (`name`).
    var device: String? {
        if case let .string(name)? = fields["name"] { return name }
        return nil
    }

    var packetLength: Int64? {
        if case let .number(length)? = fields["len"] { return length }
        return nil
    }
}
