/// Whose packet each softirq sample on a call's stack handled, from the
/// skbs seen leaving traced calls (QueuedPackets): the call's own, its
/// peer's, the kernel's answer, another connection's, or unverified.
/// The sockets a release let go of (an exit's, or a close's listener),
/// and what released them ("the exit", "this close").
struct ReleasedSockets {
    let sockets: [SocketSnapshot]
    let by: String
    /// How the listener among them let go of the connections it had not
    /// accepted: its release; or, not released, a shutdown (SHUT_RD or
    /// SHUT_RDWR: `inet_shutdown` disconnects it, audit 87 F1) or a connect
    /// to AF_UNSPEC (`tcp_disconnect` too, audit 88): each resets them.
    var stop = ListenerStop.release
    enum ListenerStop {
        case release, shutdown, disconnect
        /// How the connections so reset are said: "which its release closed".
        var ended: String {
            switch self {
            case .release: "which its release closed"
            case .shutdown: "which its shutdown reset"
            case .disconnect: "which its disconnect (a connect to AF_UNSPEC) reset"
            }
        }
        /// The listener: "a released listener".
        var listener: String {
            switch self {
            case .release: "a released listener"
            case .shutdown: "a listener shut down"
            case .disconnect: "a listener disconnected"
            }
        }
    }
    /// The connections a released listener had not accepted, each named
    /// by the state change its release made (`tcp_disconnect` under
    /// `inet_csk_listen_stop`): local → peer. Only these are said to be
    /// such a connection (an accepted one has the same local end: audit
    /// 86 e).
    var unaccepted: [(local: SocketEndpoint, peer: SocketEndpoint)] = []

    /// `self` with the unaccepted connections `samples` show released.
    func naming(_ samples: [KernelSample]) -> ReleasedSockets {
        var named = self
        named.unaccepted = samples.filter { $0.isStateChange(under: KernelCorrelator.listenerStop) }.compactMap(\.flowEndpoints)
            .map { ($0.source, $0.destination) }
        return named
    }
}

extension KernelCorrelator {
    /// Says whose packet each softirq sample on the call's stack handled:
    /// a receive by its skb (queued on a traced call's own path: the call's
    /// socket, its peer, or another connection); later samples of the same
    /// packet's processing inherit it (a backlog takes packets one at a
    /// time, and netif_receive_skb fires as each begins). Other
    /// connections' packets leave the call.
    func attributeFlows(_ samples: [KernelSample], to call: SyscallInvocation) -> (kept: [KernelSample], others: [KernelSample]) {
        // A close of a listener: its release resets the connections it had
        // not accepted; a shutdown of one does too (its state as the call found it).
        let listening = call.socket?.state == .listening && call.socket?.peer == nil
        let released: ReleasedSockets?
        switch call.syscall {
        case .close where listening: released = call.socket.map { ReleasedSockets(sockets: [$0], by: "this close") }
        case .shutdown where listening: released = call.socket.map { ReleasedSockets(sockets: [$0], by: "this shutdown", stop: .shutdown) }
        // (AF_UNSPEC is 0.)
        case .connect where call.connectStart?.state == .listening && call.socket?.peer == nil && call.connectStart?.addressFamily == 0:
            released = call.socket.map { ReleasedSockets(sockets: [$0], by: "this connect", stop: .disconnect) }
        default: released = nil
        }
        return attributeFlows(samples, socket: call.socket, by: "\(call.name) of \(call.tid)", released: released)
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
    /// `released`: an exit's sockets, when several (`socket` nil): a hit
    /// naming one of them, or one's peer, is said so (audit 83 F1: a
    /// receiving socket's state change took the received packet's owner,
    /// "packet sent by this socket").
    func everywhereFlow(_ sample: KernelSample, socket: SocketSnapshot?, local: SocketEndpoint?, peer: SocketEndpoint?,
                        released: ReleasedSockets? = nil) -> PacketFlow?? {
        if local != nil, peer != nil, released == nil { return background.flow(of: sample, socketLocal: local, socketPeer: peer) }
        if let released, let (source, destination) = sample.flowEndpoints,
           let (owner, which, said) = Self.releasedOwner(source, destination, among: released, ofSocket: true) {
            return .some(PacketFlow(owner: owner, evidence: "\(sample.tracepoint)'s \(source) → \(destination) is \(which)", ofSocket: true, said: said))
        }
        // (AF_UNSPEC: a socket whose family was not learnt, which may be TCP.)
        guard socket?.isKnownNotTCP == true, sample.flowEndpoints != nil else { return nil }
        return .some(nil)
    }

    /// A state change of a socket cloned from its listener before its
    /// peer's address was set (6.1: `TCP_LISTEN → TCP_SYN_RECV`, the
    /// listener's end → 0.0.0.0:0), told by a later state change of the
    /// same socket (its `skaddr`) among `samples` that names its
    /// connection (audit 93 F3), with the words for it.
    static func namedBySameSocket(_ sample: KernelSample, among samples: [KernelSample]) -> (later: KernelSample, said: String)? {
        guard sample.isStateChangeBeforePeerSet, let ends = sample.flowEndpoints, let sock = sample.fields["skaddr"]?.number else { return nil }
        guard let later = samples.first(where: { $0.time > sample.time && $0.tracepoint == sample.tracepoint && $0.fields["skaddr"]?.number == sock
                  && ($0.flowEndpoints?.destination.port ?? 0) != 0 }), let named = later.flowEndpoints else { return nil }
        return (later, "a socket cloned from the listener on \(ends.source), its peer's address not yet set when its state changed; "
                + "the same socket (skaddr 0x\(String(UInt64(bitPattern: sock), radix: 16))) as the state change after it that names "
                + "\(named.source) → \(named.destination): ")
    }

    /// `flow`, told by the same socket's later state change (`said`), with
    /// those words first, and headed so (not "by its addresses": audit 94
    /// minor 2).
    static func toldBySameSocket(_ flow: PacketFlow, _ said: String) -> PacketFlow {
        let heading: String? = switch flow.owner {
        case .ownSocket: "this socket's, by the same socket's later state change"
        case .peer: "its peer's (the connection's other end), by the same socket's later state change"
        default: nil
        }
        return PacketFlow(owner: flow.owner, evidence: said + flow.evidence, ofSocket: flow.ofSocket, said: flow.said ?? heading)
    }

    /// `released`: the sockets an exit released, when several (`socket`
    /// nil): a packet one's release sent, named by its state change, is
    /// that one's (`releasedConnection`).
    /// Which of the sockets a release let go of (`released.sockets`, an
    /// exit's or a close's) `source → destination` is (its own end), or
    /// whose peer, when exactly one: the owner, the words for it, and how
    /// the timeline heads it (`PacketFlow.said`). A released listener (no
    /// peer) stands for the connections to it that it had not accepted:
    /// its release resets them (from its port, on any of its addresses
    /// when it was bound to the wildcard address).
    static func releasedOwner(_ source: SocketEndpoint, _ destination: SocketEndpoint, among released: ReleasedSockets,
                              ofSocket: Bool) -> (owner: PacketFlow.Owner, which: String, said: String)? {
        let all = released.sockets, by = released.by
        let ends = all.map { ($0.local?.forPairing, $0.peer?.forPairing) }
        let sockets = all.count == 1 ? "the socket \(by) released" : "one of the \(all.count) sockets \(by) released"
        let said = (ofSocket ? "a released socket's" : "packet sent by a socket \(by) released")
        let saidPeer = ofSocket ? "a released socket's peer's" : "packet sent to a socket \(by) released, by its peer"
        let how = ofSocket ? ", by its addresses" : ""
        if ends.filter({ $0.0 == source && $0.1 == destination }).count == 1 { return (.ownSocket, sockets, said + how) }
        if ends.filter({ $0.0 == destination && $0.1 == source }).count == 1 { return (.peer, "the peer of " + sockets, saidPeer + how) }
        let listeners = all.filter { $0.peer == nil && $0.state == .listening }.compactMap { $0.local?.forPairing }
        // The listener of a connection its release closed unaccepted.
        func listening(_ end: SocketEndpoint, _ other: SocketEndpoint) -> SocketEndpoint? {
            guard released.unaccepted.contains(where: { $0.local == end && $0.peer == other }) else { return nil }
            let found = listeners.filter { $0 == end || ($0.isAnyAddress && $0.port == end.port) }
            return found.count == 1 ? found[0] : nil
        }
        let unaccepted = "that it had not accepted, " + released.stop.ended
        let stopped = released.stop.listener
        if let listener = listening(source, destination) {
            return (.ownSocket, "a connection to the listening socket \(listener) \(unaccepted)",
                    (ofSocket ? "an unaccepted connection's of \(stopped)" : "packet sent by a connection \(stopped) had not accepted") + how)
        }
        if let listener = listening(destination, source) {
            return (.peer, "the peer of a connection to the listening socket \(listener) \(unaccepted)",
                    (ofSocket ? "the peer's of a connection \(stopped) had not accepted"
                        : "packet sent to a connection \(stopped) had not accepted, by its peer") + how)
        }
        return nil
    }

    func attributeFlows(_ samples: [KernelSample], socket: SocketSnapshot?, by worker: String,
                        noSocket: String? = nil, released: ReleasedSockets? = nil) -> (kept: [KernelSample], others: [KernelSample]) {
        let local = socket?.local?.forPairing, peer = socket?.peer?.forPairing, inode = socket?.inode
        let released = released?.naming(samples)
        var kept: [KernelSample] = [], others: [KernelSample] = []
        var current: (flow: PacketFlow, sender: QueuedPackets.Sender?)?
        let ordered = samples.sorted { $0.time < $1.time }
        // Softirq chains of probes sampled everywhere that name their flow
        // (nil: another flow's): the work they end (tcp_retransmit_skb fires
        // after its segment was sent) is taken on the same stack before them.
        let named = ordered.compactMap { sample -> (sample: KernelSample, flow: PacketFlow?)? in
            guard sample.everywhere, sample.role == .chain, sample.sides.softirq, !sample.addresses.isEmpty,
                  let flow = everywhereFlow(sample, socket: socket, local: local, peer: peer, released: released) else { return nil }
            return (sample, flow)
        }
        for var sample in ordered {
            let sides = sample.sides
            // A cloned socket's state change is told by the same socket's later one.
            let sameSocket = sample.everywhere ? Self.namedBySameSocket(sample, among: ordered) : nil
            if sample.everywhere, sides.softirq || !sides.syscall,
               let found = everywhereFlow(sameSocket?.later ?? sample, socket: socket, local: local, peer: peer, released: released) {
                let flow = found.map { flow in sameSocket.map { Self.toldBySameSocket(flow, $0.said) } ?? flow }
                // A probe sampled everywhere names its flow: work for another
                // connection (a timer interrupting the call) is not the call's.
                // On the call's own path (listen's CLOSE → LISTEN, connect's
                // CLOSE → SYN_SENT before its port is chosen) it is the call's.
                if let flow {
                    sample.flow = flow
                    kept.append(sample)
                } else if sample.role == .chain {
                    // Its chain is aligned there, if it is a traced flow's.
                    // (Work at the call's entry or exit stop never comes here:
                    // `activity(for:)` puts it back with the thread's strays,
                    // which say where it was; audits 67 P1, 68 P2.)
                    sample.inTracedTask = "during \(worker), on another socket"
                    background.waiting.append(sample)
                } else {
                    // An event of another connection (its state change in a receive on this stack),
                    // or of a socket a later state change of it names so.
                    let told = sameSocket?.later ?? sample
                    let named = told.flowEndpoints.map { "\($0.source) → \($0.destination)" } ?? "?"
                    sample.flow = PacketFlow(owner: .otherFlow, evidence: (sameSocket?.said ?? "") + "\(told.tracepoint)'s \(named) is not this socket's")
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
                    } else if local == nil || peer == nil, let (ends, anchor) = releasedConnection(sending: sample, among: ordered) {
                        // One socket's release among several (an exit's), or
                        // a listener's unaccepted connection: its state change names it.
                        queuedPackets.queued(skb: skb, device: sample.device, by: .init(local: ends.source, peer: ends.destination,
                                                                                         call: "\(Self.releaseWork(anchor)) in \(by)",
                                                                                         time: sample.time, length: sample.packetLength))
                    } else {
                        queuedPackets.queued(skb: skb, device: sample.device, by: .init(local: local, peer: peer, inode: inode, call: by, time: sample.time,
                                                                 length: sample.packetLength))
                    }
                }
                kept.append(sample)
                continue
            }
            // Said only where a packet is registered under it (most samples are not).
            func work() -> String { "\(sides.softirqKind ?? "unknown") softirq work on the stack of \(worker)" }
            let linked = sides.softirqKind != "NET_RX" && !sample.everywhere ? named.first(where: { Self.continues(sample, $0.sample) }) : nil
            if linked == nil, socket?.isKnownNotTCP == true, let frame = sample.chain.first(where: Self.tcpWorkFrames.contains) {
                // TCP's own work (a delayed ACK's timer, a TCP segment's receive) is never a UDP or UNIX socket's (audit 11).
                sample.flow = PacketFlow(owner: .otherFlow, evidence: "TCP work (\(frame) on its stack), and this call's socket is not a TCP socket")
                register(sample, as: .tcpSegment, by: "TCP " + work())
                others.append(sample)
                continue
            }
            if let (start, flow) = linked {
                // The same work as a sample that named its flow (a retransmission's
                // packet, sent under the tcp_retransmit_skb that named its 4-tuple).
                current = nil
                let said = start.flowEndpoints.map { "\($0.source) → \($0.destination)" } ?? "?"
                let continued = "taken in the call of \(start.chain[0]) that \(start.tracepoint) for \(said) then reported (the next such hit on CPU \(start.cpu), with the same return addresses from there out)"
                sample.flow = flow.map { PacketFlow(owner: $0.owner, evidence: continued + ": " + $0.evidence) }
                    ?? PacketFlow(owner: .otherFlow, evidence: continued + ", not this socket's")
                if let ends = start.flowEndpoints { queueRetransmitted(sample, named: start, ends: ends, in: work()) }
            } else if sides.softirqKind != "NET_RX" {
                current = nil
                sample.flow = PacketFlow(owner: .unverified, evidence: "\(sides.softirqKind ?? "unknown") softirq work, not one packet's")
                register(sample, as: .unknown, by: work())
            } else if sample.tracepoint == KernelSample.receiveTracepoint, let skb = sample.skbAddress {
                current = flow(ofSkb: skb, length: sample.packetLength, device: sample.device, at: sample.time, local: local, peer: peer, inode: inode, noSocket: noSocket,
                               family: socket?.family, notTCP: socket?.isKnownNotTCP == true, released: released)
                sample.flow = current?.flow
            } else if let packet = current, sample.chain.contains(where: KernelSample.packetReceiveFrames.contains) {
                // What a packet's receive sends (an ACK, a SYN-ACK, a reset,
                // data the ACK let go) leaves from its receiver to its sender.
                let transmit = sample.tracepoint == KernelSample.transmitTracepoint
                if transmit, let released, !sample.isKernelReply, !sample.isNeighbourSolicitation,
                   let sender = packet.sender, sender.kind == .socket, let senderLocal = sender.local, let senderPeer = sender.peer,
                   let (owner, which, said) = Self.releasedOwner(senderPeer, senderLocal, among: released, ofSocket: false) {
                    // An exit's several sockets: the answer's sender is said by
                    // which of them it is, not turned round from a "this
                    // socket" there is none of (audit 83 F1).
                    sample.flow = PacketFlow(owner: owner, evidence: "an answer sent in the receive of the packet taken in before it on this stack "
                                             + "(\(packet.flow.description)), by \(senderPeer) → \(senderLocal): \(which)", said: said)
                } else if transmit {
                    sample.flow = packet.flow.answer(byKernel: sample.isKernelReply ? sample.replySender : nil, neighbour: sample.isNeighbourSolicitation)
                } else if let builder = sample.answerBuilder {
                    // A packet the receive built dropped on its way out (an ACK
                    // an output rule dropped): the answer's, not the received
                    // packet's (audit 43 F3: the server's ACK, dropped under the
                    // client's send, was said to be the client's own).
                    let answer = packet.flow.answer(byKernel: sample.isKernelReply ? sample.replySender : nil, neighbour: false)
                    sample.flow = PacketFlow(owner: answer.owner, evidence: "a packet built on its way out (\(builder) on its stack, below the receive), "
                                             + answer.evidence)
                } else {
                    sample.flow = PacketFlow(owner: packet.flow.owner,
                                             evidence: "in the receive of the packet taken in before it on this stack, " + packet.flow.evidence,
                                             said: packet.flow.said)
                }
                if transmit, let skb = sample.skbAddress {
                    if let sender = packet.sender, sender.kind == .socket, !sample.isNeighbourSolicitation,
                       (sender.local != nil && sender.peer != nil) || sender.inode != nil {
                        queueAnswer(sample, skb: skb, to: sender)
                    } else {
                        register(sample, as: sample.isNeighbourSolicitation ? .neighbour : .unknown, by: work())
                    }
                }
            } else {
                sample.flow = PacketFlow(owner: .unverified, evidence: "no packet's receive was seen begin before it on this stack")
                register(sample, as: .unknown, by: work())
            }
            if sample.flow?.belongsToCall == false { others.append(sample) } else { kept.append(sample) }
        }
        return (kept, others)
    }

    /// Whether `sample` was taken deeper in the call of `start`'s function
    /// that `start` was then taken in: its stack holds that function at the
    /// same depth from the bottom, under the same return addresses, on the
    /// same CPU, and `start` is the first such hit after it (that call
    /// returns no sooner; another call there would begin after it).
    static func continues(_ sample: KernelSample, _ start: KernelSample) -> Bool {
        let callers = start.addresses.dropFirst()
        guard !callers.isEmpty, sample.cpu == start.cpu, sample.time <= start.time,
              sample.addresses.count > start.addresses.count, sample.chain.count == sample.addresses.count,
              sample.addresses.suffix(callers.count).elementsEqual(callers) else { return false }
        return sample.chain[sample.chain.count - start.chain.count] == start.chain[0]
    }

    /// The connection whose release sent `sample` (a FIN or a reset
    /// queued in a TCP socket's release, `__tcp_close`, outside any call's
    /// own path: in task work at a call's exit stop, or in an exit), when
    /// its stack shows it: every way through `__tcp_close` that sends
    /// changes the socket's state first (`tcp_close_state`, or
    /// `tcp_set_state(TCP_CLOSE)` before a reset; a listener's release
    /// changes each child's before resetting it), and that state change
    /// names the 4-tuple. So it is the last state change before it of the
    /// same thread in the same call of `__tcp_close` (the same function at
    /// the same depth from the bottom, under the same return addresses),
    /// not in a softirq on it (which names a received packet's socket).
    /// Nil when samples were lost (the last one seen may be an earlier
    /// release's) or none is found: the packet is then not said to be any
    /// socket's (audit 82 M-a: a FIN so sent was "not seen leaving a
    /// traced call … may be another program's").
    /// A listener's stop outside a release (a shutdown of it: audit 87
    /// F1) is read the same way, in the call of `inet_csk_listen_stop`:
    /// each connection it had not accepted is disconnected in turn, its
    /// state changed to TCP_CLOSE before its reset is sent.
    /// Returns the connection and the function it was found in.
    func releasedConnection(sending sample: KernelSample, among samples: [KernelSample])
        -> (ends: (source: SocketEndpoint, destination: SocketEndpoint), anchor: String)? {
        guard sample.tracepoint == KernelSample.transmitTracepoint, !sample.sides.softirq, !samplesLost(),
              let anchor = [Self.socketRelease, Self.listenerStop].first(where: sample.chain.contains) else { return nil }
        let named = samples.filter { other in
            other.tid == sample.tid && other.time < sample.time && other.isStateChange(under: anchor) && Self.inSameCall(of: anchor, other, sample)
        }
        return named.max { $0.time < $1.time }?.flowEndpoints.map { ($0, anchor) }
    }

    /// Whether `a` and `b` were taken in the same call of `function`: it is
    /// on both stacks at the same depth from the bottom, under the same
    /// return addresses.
    static func inSameCall(of function: String, _ a: KernelSample, _ b: KernelSample) -> Bool {
        guard a.chain.count == a.addresses.count, b.chain.count == b.addresses.count,
              let i = a.chain.firstIndex(of: function), let j = b.chain.firstIndex(of: function),
              a.chain.count - i == b.chain.count - j else { return false }
        return a.addresses[(i + 1)...].elementsEqual(b.addresses[(j + 1)...])
    }

    /// The function a TCP socket's release runs in (`tcp_close → __tcp_close`).
    static let socketRelease = "__tcp_close"
    /// The function a listener's disconnect runs in, under its release or
    /// a shutdown: it resets the connections it had not accepted.
    static let listenerStop = "inet_csk_listen_stop"

    /// The work `releasedConnection` found a packet sent in, by the
    /// function it was read in: "the release (__tcp_close)".
    static func releaseWork(_ anchor: String) -> String {
        (anchor == socketRelease ? "the release" : "the listener's stop") + " (\(anchor))"
    }

    /// What a packet's receive sent back (an ACK, a SYN-ACK, a reset):
    /// queued as the answer to `sender`'s packet, so that its own receive
    /// knows whose it is. A reset or an ICMP error for a port no socket
    /// has is the receiving kernel's answer, not a peer socket's.
    func queueAnswer(_ sample: KernelSample, skb: Int64, to sender: QueuedPackets.Sender) {
        let reply = sample.isKernelReply
        queuedPackets.queued(skb: skb, device: sample.device,
                             by: .init(local: sender.peer, peer: sender.local, replyTo: sender.inode, kind: reply ? .kernelReply : .socket,
                                       call: (reply ? "the kernel's answer to a packet from " : "the receive of a packet from ") + sender.call,
                                       time: sample.time, length: sample.packetLength))
    }

    /// A segment a retransmission sent (`sample`, taken in the call of
    /// __tcp_retransmit_skb that `start` then reported for `ends`): queued
    /// as that flow's, so that its receive knows whose it is.
    func queueRetransmitted(_ sample: KernelSample, named start: KernelSample, ends: (source: SocketEndpoint, destination: SocketEndpoint),
                            in work: String) {
        guard sample.tracepoint == KernelSample.transmitTracepoint, let skb = sample.skbAddress else { return }
        queuedPackets.queued(skb: skb, device: sample.device, by: .init(local: ends.source, peer: ends.destination, call: "\(start.tracepoint) in " + work,
                                                                         time: sample.time, length: sample.packetLength))
    }

    /// Frames only TCP's sending or receiving of a segment has.
    static let tcpWorkFrames: Set<String> = ["__tcp_transmit_skb", "tcp_v4_rcv", "tcp_v6_rcv", "tcp_v4_do_rcv", "tcp_v6_do_rcv"]

    /// A packet seen leaving on a traced call's stack that is no socket's
    /// (a neighbour lookup's), or by work for no socket known (a timer's, a
    /// queued packet flushed when its neighbour answered): its receive then
    /// says where it came from, and no more.
    func register(_ sample: KernelSample, as kind: QueuedPackets.Sender.Kind, by work: @autoclosure () -> String) {
        guard sample.tracepoint == KernelSample.transmitTracepoint, let skb = sample.skbAddress else { return }
        queuedPackets.queued(skb: skb, device: sample.device, by: .init(local: nil, peer: nil, kind: kind, call: work(), time: sample.time, length: sample.packetLength))
    }

    func flow(ofSkb skb: Int64, length: Int64?, device: String? = nil, at time: MonotonicTime, local: SocketEndpoint?,
              peer: SocketEndpoint?, inode: UInt64? = nil, noSocket: String? = nil,
              family: UInt64? = nil, notTCP: Bool = false, released: ReleasedSockets? = nil) -> (flow: PacketFlow, sender: QueuedPackets.Sender?) {
        let name = "skb 0x" + String(UInt64(bitPattern: skb), radix: 16)
        guard let sender = queuedPackets.takeSender(of: skb, at: time, length: length, device: device) else {
            if let crossed = queuedPackets.takeCrossDevice(of: skb, at: time, length: length, device: device) {
                return (PacketFlow(owner: .unverified, evidence: "\(name) \(crossed)"), nil)
            }
            return (PacketFlow(owner: .unverified, evidence: "\(name) was not seen leaving a traced call"), nil)
        }
        let sent = "\(name) queued by \(sender.described)"
        switch sender.kind {
        case .neighbour:
            return (PacketFlow(owner: .unverified, evidence: sent + ": a neighbour resolution packet (ARP or neighbour discovery), no socket's"), sender)
        case .unknown, .unrecordedCall:
            return (PacketFlow(owner: .unverified, evidence: sent + ", for no socket known"), sender)
        case .tcpSegment:
            // TCP's own segment is never a UDP or UNIX socket's (audit 13).
            if notTCP { return (PacketFlow(owner: .otherFlow, evidence: sent + ", a TCP segment; this call's socket is not a TCP socket"), sender) }
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
        // A UNIX or netlink socket's data never goes through a network device.
        if let family, family == 1 || family == 16, sender.local != nil || sender.peer != nil {
            return (PacketFlow(owner: .otherFlow, evidence: sent + ", an IP socket's; this call's socket is \(family == 1 ? "a UNIX" : "a netlink") socket"), sender)
        }
        if local == nil || peer == nil, let released, let senderLocal = sender.local, let senderPeer = sender.peer,
           let (owner, which, said) = Self.releasedOwner(senderLocal, senderPeer, among: released, ofSocket: false) {
            // Which of the sockets an exit released sent it, or its peer
            // (a listener's release resets the connections it had not
            // accepted, from its own address: audit 83 d, 84 M1).
            return (PacketFlow(owner: owner, evidence: sent + ": " + (owner == .peer ? "sent by " : "") + which, said: said), sender)
        }
        guard let local, let peer, let senderLocal = sender.local, let senderPeer = sender.peer else {
            return (PacketFlow(owner: .unverified, evidence: sent + "; " + (local == nil || peer == nil
                ? noSocket ?? "this call's socket has no known 4-tuple" : "the sender's 4-tuple is not known")), sender)
        }
        if senderLocal == local && senderPeer == peer { return (PacketFlow(owner: .ownSocket, evidence: sent), sender) }
        if senderLocal == peer && senderPeer == local { return (PacketFlow(owner: .peer, evidence: sent), sender) }
        return (PacketFlow(owner: .otherFlow, evidence: sent + ", not \(local) ↔ \(peer)"), sender)
    }
}

extension KernelSample {
    /// A TCP socket's state change made by its release (under `__tcp_close`,
    /// not in a softirq on its stack, which names a received packet's
    /// socket): its addresses name the released socket.
    var isReleaseStateChange: Bool { isStateChange(under: KernelCorrelator.socketRelease) }

    /// A state change on the stack of `function` (not in a softirq on
    /// it), naming its connection.
    func isStateChange(under function: String) -> Bool {
        tracepoint == Self.stateChangeTracepoint && !sides.softirq && chain.contains(function) && flowEndpoints != nil
    }

    /// Such a change as a release statement says it: "A → B OLD → NEW".
    var releaseStateChangeText: String {
        let ends = flowEndpoints.map { "\($0.source) → \($0.destination)" } ?? "?"
        let states = [fields["oldstate"]?.number, fields["newstate"]?.number].map { $0.map(TCPState.name) ?? "?" }
        return "\(ends) \(states[0]) → \(states[1])"
    }
}
