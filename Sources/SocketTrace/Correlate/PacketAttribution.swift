/// Whose packet each softirq sample on a call's stack handled, from the
/// skbs seen leaving traced calls (QueuedPackets): the call's own, its
/// peer's, the kernel's answer, another connection's, or unverified.
extension KernelCorrelator {
    /// Says whose packet each softirq sample on the call's stack handled:
    /// a receive by its skb (queued on a traced call's own path: the call's
    /// socket, its peer, or another connection); later samples of the same
    /// packet's processing inherit it (a backlog takes packets one at a
    /// time, and netif_receive_skb fires as each begins). Other
    /// connections' packets leave the call.
    func attributeFlows(_ samples: [KernelSample], to call: SyscallInvocation) -> (kept: [KernelSample], others: [KernelSample]) {
        attributeFlows(samples, socket: call.socket, by: "\(call.name) of \(call.tid)")
    }

    /// The same for work done on the stack of something else than a call
    /// (`worker`: a process's exit), on behalf of `socket`.
    /// `noSocket`: why the work has no one socket to compare with (an exit
    /// releasing several connections), said where a packet's owner is unverified for it.
    /// Whose a hit of a probe sampled everywhere is, by the 4-tuple it
    /// names: the call's socket's (either way), another flow's (`.some(nil)`),
    /// or nil when that cannot be told (it names none; a TCP socket whose
    /// addresses are not known). A socket that is not TCP (UNIX, UDP) is
    /// never the one a TCP tracepoint names (audit 9: another connection's
    /// retransmission kept in a UNIX write).
    func everywhereFlow(_ sample: KernelSample, socket: SocketSnapshot?, local: SocketEndpoint?, peer: SocketEndpoint?) -> PacketFlow?? {
        if local != nil, peer != nil { return background.flow(of: sample, socketLocal: local, socketPeer: peer) }
        // (AF_UNSPEC: a socket whose family was not learnt, which may be TCP.)
        guard let socket, socket.family != 0, !socket.isTCP, sample.flowEndpoints != nil else { return nil }
        return .some(nil)
    }

    func attributeFlows(_ samples: [KernelSample], socket: SocketSnapshot?, by worker: String,
                        noSocket: String? = nil) -> (kept: [KernelSample], others: [KernelSample]) {
        let local = socket?.local?.forPairing, peer = socket?.peer?.forPairing, inode = socket?.inode
        var kept: [KernelSample] = [], others: [KernelSample] = []
        var current: (flow: PacketFlow, sender: QueuedPackets.Sender?)?
        for var sample in samples.sorted(by: { $0.time < $1.time }) {
            let sides = sample.sides
            if sample.everywhere, sides.softirq || !sides.syscall, let flow = everywhereFlow(sample, socket: socket, local: local, peer: peer) {
                // A probe sampled everywhere names its flow: work for another
                // connection (a timer interrupting the call) is not the call's.
                // On the call's own path (listen's CLOSE → LISTEN, connect's
                // CLOSE → SYN_SENT before its port is chosen) it is the call's.
                if let flow {
                    sample.flow = flow
                    kept.append(sample)
                } else if sample.role == .chain {
                    // Its chain is aligned there, if it is a traced flow's.
                    sample.inTracedTask = "during \(worker), on another socket"
                    background.waiting.append(sample)
                } else {
                    // An event of another connection (its state change in a receive on this stack).
                    let named = sample.flowEndpoints.map { "\($0.source) → \($0.destination)" } ?? "?"
                    sample.flow = PacketFlow(owner: .otherFlow, evidence: "\(sample.tracepoint)'s \(named) is not this socket's")
                    others.append(sample)
                }
                continue
            }
            if !sides.softirq {
                current = nil
                if sample.tracepoint == KernelSample.transmitTracepoint, sides.syscall, let skb = sample.skbAddress {
                    let by = worker
                    if sample.isNeighbourSolicitation {
                        register(sample, as: .neighbour, by: by)
                    } else {
                        queuedPackets.queued(skb: skb, by: .init(local: local, peer: peer, inode: inode, call: by, time: sample.time,
                                                                 length: sample.packetLength))
                    }
                }
                kept.append(sample)
                continue
            }
            let work = "\(sides.softirqKind ?? "unknown") softirq work on the stack of \(worker)"
            if sides.softirqKind != "NET_RX" {
                current = nil
                sample.flow = PacketFlow(owner: .unverified, evidence: "\(sides.softirqKind ?? "unknown") softirq work, not one packet's")
                register(sample, as: .unknown, by: work)
            } else if sample.tracepoint == KernelSample.receiveTracepoint, let skb = sample.skbAddress {
                current = flow(ofSkb: skb, length: sample.packetLength, at: sample.time, local: local, peer: peer, inode: inode, noSocket: noSocket)
                sample.flow = current?.flow
            } else if let packet = current, sample.chain.contains(where: KernelSample.packetReceiveFrames.contains) {
                // What a packet's receive sends (an ACK, a SYN-ACK, a reset,
                // data the ACK let go) leaves from its receiver to its sender.
                let transmit = sample.tracepoint == KernelSample.transmitTracepoint
                sample.flow = transmit
                    ? packet.flow.answer(byKernel: sample.isKernelReply, neighbour: sample.isNeighbourSolicitation)
                    : PacketFlow(owner: packet.flow.owner,
                                 evidence: "in the receive of the packet taken in before it on this stack, " + packet.flow.evidence)
                if transmit, let skb = sample.skbAddress {
                    if let sender = packet.sender, sender.kind == .socket, !sample.isNeighbourSolicitation,
                       (sender.local != nil && sender.peer != nil) || sender.inode != nil {
                        // A reset or an ICMP error for a port no socket has is
                        // the receiving kernel's answer, not a peer socket's.
                        let reply = sample.isKernelReply
                        queuedPackets.queued(skb: skb, by: .init(local: sender.peer, peer: sender.local, replyTo: sender.inode,
                                                                 kind: reply ? .kernelReply : .socket,
                                                                 call: (reply ? "the kernel's answer to a packet from " : "the receive of a packet from ")
                                                                    + sender.call,
                                                                 time: sample.time, length: sample.packetLength))
                    } else {
                        register(sample, as: sample.isNeighbourSolicitation ? .neighbour : .unknown, by: work)
                    }
                }
            } else {
                sample.flow = PacketFlow(owner: .unverified, evidence: "no packet's receive was seen begin before it on this stack")
                register(sample, as: .unknown, by: work)
            }
            if sample.flow?.belongsToCall == false { others.append(sample) } else { kept.append(sample) }
        }
        return (kept, others)
    }

    /// A packet seen leaving on a traced call's stack that is no socket's
    /// (a neighbour lookup's), or by work for no socket known (a timer's, a
    /// queued packet flushed when its neighbour answered): its receive then
    /// says where it came from, and no more.
    func register(_ sample: KernelSample, as kind: QueuedPackets.Sender.Kind, by work: String) {
        guard sample.tracepoint == KernelSample.transmitTracepoint, let skb = sample.skbAddress else { return }
        queuedPackets.queued(skb: skb, by: .init(local: nil, peer: nil, kind: kind, call: work, time: sample.time, length: sample.packetLength))
    }

    func flow(ofSkb skb: Int64, length: Int64?, at time: MonotonicTime, local: SocketEndpoint?,
              peer: SocketEndpoint?, inode: UInt64? = nil, noSocket: String? = nil) -> (flow: PacketFlow, sender: QueuedPackets.Sender?) {
        let name = "skb 0x" + String(UInt64(bitPattern: skb), radix: 16)
        guard let sender = queuedPackets.takeSender(of: skb, at: time, length: length) else {
            return (PacketFlow(owner: .unverified, evidence: "\(name) was not seen leaving a traced call"), nil)
        }
        let sent = "\(name) queued by \(sender.described)"
        switch sender.kind {
        case .neighbour:
            return (PacketFlow(owner: .unverified, evidence: sent + ": a neighbour resolution packet (ARP or neighbour discovery), no socket's"), sender)
        case .unknown:
            return (PacketFlow(owner: .unverified, evidence: sent + ", for no socket known"), sender)
        case .kernelReply:
            let mine = inode.map { sender.replyTo == $0 } ?? false
                || (local != nil && peer != nil && sender.local == peer && sender.peer == local)
            return (PacketFlow(owner: mine ? .kernelReply : .otherFlow, evidence: sent + (mine ? "" : ", not to this socket")), sender)
        case .socket:
            break
        }
        // The very skb this socket queued: its own packet, whether or not
        // its addresses are known (an unconnected UDP socket's).
        if let inode, sender.inode == inode { return (PacketFlow(owner: .ownSocket, evidence: sent), sender) }
        if let inode, sender.replyTo == inode { return (PacketFlow(owner: .peer, evidence: sent), sender) }
        guard let local, let peer, let senderLocal = sender.local, let senderPeer = sender.peer else {
            return (PacketFlow(owner: .unverified, evidence: sent + "; " + (local == nil || peer == nil
                ? noSocket ?? "this call's socket has no known 4-tuple" : "the sender's 4-tuple is not known")), sender)
        }
        if senderLocal == local && senderPeer == peer { return (PacketFlow(owner: .ownSocket, evidence: sent), sender) }
        if senderLocal == peer && senderPeer == local { return (PacketFlow(owner: .peer, evidence: sent), sender) }
        return (PacketFlow(owner: .otherFlow, evidence: sent + ", not \(local) ↔ \(peer)"), sender)
    }
}
