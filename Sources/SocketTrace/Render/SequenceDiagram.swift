import Glibc

/// A connection told as a sequence diagram (seed 004's 时序图): the client
/// process, the client's kernel, the server's kernel and the server process;
/// the syscalls each side made, the segments the kernels exchanged (SYN,
/// SYN-ACK, ACK, data, FIN) and notes for the kernel chains' verdicts.
/// Runs of data in one direction are summarised as one message.
public struct SequenceDiagram: Sendable {
    public enum Participant: String, Sendable, CaseIterable {
        case client, clientKernel, serverKernel, server
    }

    public enum Step: Sendable {
        case message(from: Participant, to: Participant, text: String, reply: Bool, time: MonotonicTime)
        case note(over: [Participant], text: String)
        /// Time passing with nothing to show (PlantUML's `... 85 µs ...`).
        case delay(String)
    }

    public let connection: Connection
    public let names: [Participant: String]
    public let steps: [Step]
    /// Every connection of the trace, so a renderer can say which others exist.
    public let others: [Connection]

    /// The diagram of connection number `choice` (1-based; the first if nil).
    public static func build(records: [TraceRecord], choice: Int?) -> SequenceDiagram? {
        var calls: [SyscallInvocation] = []
        var processNames: [Int32: String] = [:]
        var stateChanges: [KernelSample] = []
        var retransmissions: [KernelSample] = []
        var resets: [KernelSample] = []
        // Packets of traced flows queued outside the traced tasks (a timer's,
        // ksoftirqd's), with their 4-tuples.
        var transmitsElsewhere: [KernelSample] = []
        // Traced flows' packets dropped outside the traced tasks (an idle
        // CPU's softirq, ksoftirqd), by their headers' 4-tuples.
        var dropsElsewhere: [KernelSample] = []
        let retransmission = "tcp:tcp_retransmit_skb"
        for record in records {
            if case let .syscall(call) = record {
                calls.append(call)
                stateChanges += (call.kernel?.samples ?? []).filter { $0.tracepoint == "sock:inet_sock_set_state" }
                resets += (call.kernel?.samples ?? []).filter { $0.tracepoint == "tcp:tcp_send_reset" }
                retransmissions += (call.kernel?.samples ?? []).filter { $0.tracepoint == retransmission }
            }
            if case let .kernelEvent(sample) = record, sample.tracepoint == "sock:inet_sock_set_state" { stateChanges.append(sample) }
            if case let .kernelEvent(sample) = record, sample.tracepoint == "tcp:tcp_send_reset" { resets.append(sample) }
            if case let .kernelEvent(sample) = record, sample.tracepoint == retransmission { retransmissions.append(sample) }
            if case let .kernelEvent(sample) = record, sample.tracepoint == KernelSample.transmitTracepoint, sample.flowEndpoints != nil {
                transmitsElsewhere.append(sample)
            }
            if case let .kernelEvent(sample) = record, sample.tracepoint == "skb:kfree_skb", sample.flowEndpoints != nil,
               dropCause(sample) != nil || isQueuePurge(sample) {
                dropsElsewhere.append(sample)
            }
            // A process's exit that released its sockets: its FINs' state changes.
            if case let .process(event) = record, let exit = event.exitKernel {
                stateChanges += exit.samples.filter { $0.tracepoint == "sock:inet_sock_set_state" }
                resets += exit.samples.filter { $0.tracepoint == "tcp:tcp_send_reset" }
            }
            if case let .process(event) = record, let name = event.name, event.kind == .exec || event.kind == .started || event.kind == .attached {
                processNames[event.pid] = name
            }
        }
        // Whether the probe set sampled transmits at all: only then does a
        // send with none say its data did not leave in it.
        let transmitSampled = transmitsSampled(calls)
        let tracker = ConnectionTracker()
        var sides: [(call: SyscallInvocation, id: Int, isClient: Bool)] = []
        for call in calls {
            tracker.observe(call)
            if let side = tracker.side(of: call) { sides.append((call, side.id, side.isClient)) }
        }
        let all = tracker.connections
        guard !all.isEmpty else { return nil }
        // By default the first connection made: a refused one has no exchange to draw.
        let index = choice.map { $0 - 1 } ?? all.firstIndex { !$0.failed } ?? 0
        guard all.indices.contains(index) else { return nil }
        let connection = all[index]

        // Every process whose calls are drawn on an end (audit 21: a forked
        // child's reads were drawn under its parent's name alone).
        func who(_ pid: Int32?, client: Bool, _ fallback: String) -> String {
            var pids = pid.map { [$0] } ?? []
            for side in sides where side.id == connection.id && side.isClient == client && !pids.contains(side.call.pid) {
                pids.append(side.call.pid)
            }
            guard !pids.isEmpty else { return fallback }
            return pids.map { "\(processNames[$0] ?? "pid")[\($0)]" }.joined(separator: ", ")
        }
        let names: [Participant: String] = [
            .client: who(connection.clientPid, client: true, "client \(connection.client)"),
            .clientKernel: "client kernel",
            .serverKernel: "server kernel",
            .server: who(connection.serverPid, client: false, "server \(connection.server)"),
        ]

        // Each step at its time, drawn in time order at the end (audit 21:
        // drawn in the order calls were written, an end of file came before
        // the FIN that caused it); a note goes with the step before it.
        var timed: [(time: MonotonicTime, order: Int, step: Step)] = []
        func add(_ step: Step, at time: MonotonicTime) {
            timed.append((time, timed.count, step))
        }
        func addNote(_ step: Step) {
            timed.append((timed.last?.time ?? MonotonicTime(nanoseconds: 0), timed.count, step))
        }
        // Per end (true: the client): the peer's FIN drawn from a read's end of file.
        var peerFinDrawn: [Bool: Bool] = [:]
        // Per end: its reads shut by its own shutdown (SHUT_RD, SHUT_RDWR):
        // a read's 0 then says nothing of a FIN.
        var readsShut: [Bool: Bool] = [:]
        var synDrawn = false
        // Per end: bytes its sends queued that were not seen leaving in them
        // (nil: none), where in the end's byte stream they end, since when
        // they wait, and how many sends left them (audit 37 M1: two sends'
        // 3000 B each said to be "6000 B an earlier send queued").
        struct Queued { var bytes: Int64; var streamEnd: Int64; let since: MonotonicTime; var sends: Int }
        var queued: [Bool: Queued] = [:]
        func queuedBytes(_ end: Bool) -> Int64 { queued[end]?.bytes ?? 0 }
        func earlierSends(_ end: Bool) -> String {
            let count = queued[end]?.sends ?? 1
            return count <= 1 ? "an earlier send" : "\(count) earlier sends"
        }
        // Per end: the bytes of the stream its calls sent, and took in.
        var streamSent: [Bool: Int64] = [:]
        var streamReceived: [Bool: Int64] = [:]
        // A connect TCP Fast Open deferred (its SYN leaves with the first send).
        var deferredConnect = false
        // The calls whose client retransmissions a Fast Open send's data
        // arrow already drew.
        var retransmitsDrawn: [(MonotonicTime, MonotonicTime)] = []
        // The current run of data in one direction, summarised when it ends.
        // `name`: the calls' own name while they are one syscall (writev), else send.
        // `segments`: the segments its calls' samples show them queue, nil
        // when one call's are not known (audit 33 M1: three segments drawn
        // as one arrow, unsaid).
        // `left`: when its first segment was sampled leaving, where the data
        // arrow goes (audit 52 A3: drawn at the first call's entry, the gaps
        // around it were the calls', 1.95 ms where the segments' were 311 µs).
        var run: (fromClient: Bool, calls: Int, bytes: Int64, time: MonotonicTime, name: String, segments: Int?, left: MonotonicTime?)?
        func endRun() {
            guard let current = run else { return }
            let (process, kernel, peerKernel) = current.fromClient ? (Participant.client, Participant.clientKernel, Participant.serverKernel)
                : (.server, .serverKernel, .clientKernel)
            let label = current.calls == 1 ? "\(current.name) \(current.bytes) B"
                : current.name == "send" ? "\(current.calls) sends, \(current.bytes) B" : "\(current.calls) × \(current.name), \(current.bytes) B"
            add(.message(from: process, to: kernel, text: label, reply: false, time: current.time), at: current.time)
            let segments = current.calls == 1 ? "" : current.segments.map { $0 == 1 ? " in 1 segment" : " in \($0) segments" }
                ?? " (\(current.calls) sends: their segments not all sampled)"
            let left = current.left ?? current.time
            add(.message(from: kernel, to: peerKernel, text: "data \(current.bytes) B" + segments, reply: false, time: left), at: left)
            run = nil
        }

        // The first sampled state change of one end of this connection (the
        // client's when `ofClient`) into `new` (from `old`, when given), at or
        // after `after`.
        func stateChange(ofClient: Bool, from old: Int64? = nil, to new: Int64, after: MonotonicTime? = nil) -> KernelSample? {
            let (local, peer) = ofClient ? (connection.client, connection.server) : (connection.server, connection.client)
            return stateChanges.first { change in
                guard let (source, destination) = change.flowEndpoints, source == local, destination == peer,
                      change.fields["newstate"]?.number == new else { return false }
                return (old.map { change.fields["oldstate"]?.number == $0 } ?? true) && (after.map { change.time >= $0 } ?? true)
            }
        }
        // What refused it, by the stack that closed the client's socket:
        // an ICMP error's handler (tcp_v4_err) or a reset's receive (audit 21:
        // an ICMP refusal was drawn as a reset).
        let closing = stateChange(ofClient: true, from: TCPState.synSent, to: TCPState.close)
        let refusal = closing.map { change -> String in
            if change.chain.contains(where: { ["tcp_v4_err", "tcp_v6_err", "icmp_unreach", "icmpv6_rcv"].contains($0) }) { return "ICMP error" }
            if change.chain.contains(where: { ["tcp_reset", "tcp_rcv_state_process", "tcp_validate_incoming"].contains($0) }) { return "RST" }
            return "RST or ICMP error"
        } ?? "RST or ICMP error"
        // An untraced end's FIN, from the kernel's state changes of this
        // connection (audit 20: never drawn): that end leaving ESTABLISHED
        // for FIN_WAIT1 or CLOSE_WAIT for LAST_ACK (it sent it), or the
        // traced end entering CLOSE_WAIT (it took it in). Drawn at its time.
        // A traced end's FIN sent where none of its traced closes and
        // shutdowns was (the last reference dropped by dup2, close_range,
        // an exec or the process's exit: never drawn) is drawn so too, from
        // its own state change alone (the peer's CLOSE_WAIT may come after
        // a close that drew its FIN).
        // `byClose`: the evidence is the sender's own close (FIN_WAIT1,
        // LAST_ACK), made as close is called, not the FIN's arrival.
        var untracedFins: [(fromClient: Bool, time: MonotonicTime, change: String, byClose: Bool)] = []
        for fromClient in [true, false] {
            let traced = (fromClient ? connection.clientPid : connection.serverPid) != nil
            let (sender, receiver) = fromClient ? (connection.client, connection.server) : (connection.server, connection.client)
            let ownCloses = sides.filter { $0.id == connection.id && $0.isClient == fromClient && [.close, .shutdown].contains($0.call.syscall) }
            let evidence = stateChanges.filter { change in
                guard let (source, destination) = change.flowEndpoints, let new = change.fields["newstate"]?.number else { return false }
                // A state set again (a FIN_WAIT1 socket closed at its
                // process's exit: TCP_FIN_WAIT1 → TCP_FIN_WAIT1) sends
                // nothing (audit 52 A2: drawn as a second FIN).
                guard change.fields["oldstate"]?.number != new else { return false }
                if traced {
                    return source == sender && destination == receiver && (new == TCPState.finWait1 || new == TCPState.lastAck)
                        && !ownCloses.contains { $0.call.startTime <= change.time && change.time <= ($0.call.endTime ?? $0.call.startTime) }
                }
                return (source == sender && destination == receiver && (new == TCPState.finWait1 || new == TCPState.lastAck))
                    || (source == receiver && destination == sender && new == TCPState.closeWait)
            }.min { $0.time < $1.time }
            if let evidence {
                let new = evidence.fields["newstate"]?.number ?? 0
                untracedFins.append((fromClient, evidence.time, TCPState.name(evidence.fields["oldstate"]?.number ?? 0) + " → "
                                     + TCPState.name(new) + (traced ? ", not in a traced close or shutdown" : ""),
                                     new == TCPState.finWait1 || new == TCPState.lastAck))
            }
        }
        func drawUntracedFins(before time: MonotonicTime?) {
            for fin in untracedFins where time.map({ fin.time < $0 }) ?? true {
                guard !peerFinDrawn[!fin.fromClient, default: false] else { continue }
                peerFinDrawn[!fin.fromClient] = true
                let (from, to): (Participant, Participant) = fin.fromClient ? (.clientKernel, .serverKernel) : (.serverKernel, .clientKernel)
                // A close's state change (FIN_WAIT1, LAST_ACK) comes as it is
                // called: its FIN leaves after the data still queued, and the
                // other end may read data sent before it later (audit 34 M2).
                add(.message(from: from, to: to, text: "FIN (the kernel's \(fin.change)" + (fin.byClose ? "; it leaves after any data still queued)" : ")"),
                             reply: false, time: fin.time), at: fin.time)
            }
        }

        // The resets sent on this connection, and which end sent them. Their
        // addresses: struct sockaddr copies on 6.x (no sport field), which
        // KernelSample.endpoint reads.
        let connectionResets = resets.compactMap { reset -> (sample: KernelSample, fromClient: Bool)? in
            let source = SocketEndpoint(text: reset.endpoint("saddr", "sport")).forPairing
            let destination = SocketEndpoint(text: reset.endpoint("daddr", "dport")).forPairing
            if source == connection.client && destination == connection.server { return (reset, true) }
            if source == connection.server && destination == connection.client { return (reset, false) }
            return nil
        }
        // The resets a refused connect drew as its refusal (not drawn again below).
        var refusalsDrawn: [MonotonicTime] = []
        func drawFastOpen(_ call: SyscallInvocation, exit: MonotonicTime) {
            let bytes = call.result.map { $0.failed ? 0 : $0.value } ?? 0
            let request = call.isFastOpen ? "\(call.name)(MSG_FASTOPEN, \(connection.server)) \(bytes) B" : "\(call.name) \(bytes) B"
            add(.message(from: .client, to: .clientKernel, text: request, reply: false, time: call.startTime), at: call.startTime)
            // The client's own segments in the call (not the server's
            // answers, sent on its stack), in time order: the SYN first.
            let sampled = transmitSampled && call.kernel?.source == .observed
            let own = (call.kernel?.samples ?? []).filter { $0.tracepoint == KernelSample.transmitTracepoint && ($0.flow == nil || $0.flow?.owner == .ownSocket) }
                .sorted { $0.time < $1.time }
            let synSample = own.first
            let syn = synSample?.time ?? call.startTime
            add(.message(from: .clientKernel, to: .serverKernel, text: "SYN (TCP Fast Open)", reply: false, time: syn), at: syn)
            let established = stateChange(ofClient: true, from: TCPState.synSent, to: TCPState.established, after: call.startTime)
            // Whether the SYN's data was taken: the server's kernel makes the
            // connection's socket at the SYN only when Fast Open took its data
            // (tcp_fastopen_create_child; otherwise at the handshake's ACK).
            let child = stateChange(ofClient: false, to: TCPState.synRecv, after: call.startTime)
            let carried: Bool? = established.flatMap { established in child.map { $0.time < established.time } }
            if let established {
                let synAck = Self.synAckSent(in: call, until: established.time)?.time ?? established.time
                add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK", reply: false, time: synAck), at: synAck)
                add(.note(over: [.clientKernel], text: "ESTABLISHED (\(established.heading))"), at: established.time)
            } else if call.result?.failed == false {
                add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK", reply: false, time: exit), at: exit)
            }
            // After the SYN, each segment the client's samples show, by the
            // path that sent it: the handshake's ACK alone (__tcp_send_ack),
            // or data, which carries the ACK when it waits to go (audit 30 F2:
            // an ACK drawn that the kernel never sent on its own).
            var data: (count: Int, length: Int64, time: MonotonicTime)?
            var again = false
            func endData() {
                guard let run = data else { return }
                var text = run.count == 1 ? "data, net:net_dev_queue len \(run.length)" : "data, \(run.count) segments, net:net_dev_queue len \(run.length) in all"
                if again {
                    // The SYN's data the server did not take, sent again from
                    // the write queue: these are the call's tcp_retransmit_skb
                    // (audit 30: drawn twice, as data and as a retransmission).
                    text += ", sent again (tcp:tcp_retransmit_skb: the SYN's data, not taken)"
                    retransmitsDrawn.append((call.startTime, exit))
                }
                add(.message(from: .clientKernel, to: .serverKernel, text: text, reply: false, time: run.time), at: run.time)
                data = nil
                again = false
            }
            if sampled {
                // By the frames that sent it: data from the write queue (pushed,
                // or sent again: tcp_xmit_retransmit_queue after a SYN-ACK that
                // did not take it); the handshake's ACK alone from the SYN-ACK's
                // processing (tcp_rcv_state_process, __tcp_send_ack left by jumps).
                let dataFrames: Set<String> = ["tcp_write_xmit", "tcp_push_one", "tcp_xmit_retransmit_queue", "__tcp_retransmit_skb", "tcp_write_wakeup"]
                for segment in own.dropFirst() {
                    if segment.chain.contains(where: dataFrames.contains) {
                        if segment.chain.contains(where: { $0 == "tcp_xmit_retransmit_queue" || $0 == "__tcp_retransmit_skb" }) { again = true }
                        let before = data
                        data = ((before?.count ?? 0) + 1, (before?.length ?? 0) + (segment.packetLength ?? 0), before?.time ?? segment.time)
                    } else if segment.chain.contains(where: { $0 == "tcp_rcv_state_process" || $0.hasPrefix("__tcp_send_ack") || $0 == "tcp_send_ack" }) {
                        endData()
                        add(.message(from: .clientKernel, to: .serverKernel, text: "ACK", reply: false, time: segment.time), at: segment.time)
                    } else {
                        endData()
                        let length = segment.packetLength.map { ", net:net_dev_queue len \($0)" } ?? ""
                        add(.message(from: .clientKernel, to: .serverKernel, text: "a segment (ACK or data: its frames do not say)\(length)", reply: false,
                                     time: segment.time), at: segment.time)
                    }
                }
                endData()
            }
            if bytes > 0, let carried, let child {
                if carried {
                    // How much: a SYN holds one segment's worth; its length bounds it.
                    let (least, most) = Self.synPayload(synSample, ipv6: "\(connection.server)".hasPrefix("[") && !"\(connection.server)".hasPrefix("[::ffff:"))
                    let what: String
                    if let least, bytes <= least {
                        what = "the SYN carried the \(bytes) B"
                    } else if let most, bytes > most {
                        what = "the SYN carried at most \(most) B of the \(bytes) B (the rest after the handshake)"
                    } else {
                        what = "the SYN carried this send's first bytes, up to all \(bytes) B"
                    }
                    let length = synSample?.packetLength.map { ", its net:net_dev_queue len \($0)" } ?? ""
                    add(.note(over: [.clientKernel, .serverKernel], text: "\(what)\(length), taken with it: the server's kernel made the connection's socket at the SYN, before the client's ESTABLISHED (\(child.heading))"), at: child.time)
                } else {
                    // Whether the SYN offered any (a cookie request offers none) is not said (audit 30 M2).
                    let after = established?.time ?? exit
                    if !sampled { add(.message(from: .clientKernel, to: .serverKernel, text: "data \(bytes) B", reply: false, time: after), at: after) }
                    add(.note(over: [.clientKernel, .serverKernel], text: "the server took no data with the SYN: its kernel made the connection's socket at the handshake's ACK (\(child.heading))"), at: after)
                }
            } else if bytes > 0 {
                add(.note(over: [.clientKernel, .serverKernel], text: "\(bytes) B, in the SYN (a cookie accepted) or after the handshake: the server's state changes were not sampled"), at: established?.time ?? exit)
            }
            add(.message(from: .clientKernel, to: .client, text: "\(call.name) = \(call.returnText)", reply: true, time: exit), at: exit)
            Self.note(call, over: .clientKernel).map { add($0, at: exit) }
        }

        // The lengths of the connection's packets sampled leaving either end,
        // in its calls and outside them: the shortest is its headers alone.
        let connectionTransmitLengths = sides.filter { $0.id == connection.id }.flatMap { side in
            (side.call.kernel?.samples ?? []).filter { $0.tracepoint == KernelSample.transmitTracepoint && !$0.sides.softirq }.compactMap(\.packetLength)
        } + transmitsElsewhere.filter { sample in
            sample.flowEndpoints.map { Set([$0.source, $0.destination]) == Set([connection.client, connection.server]) } == true
        }.compactMap(\.packetLength)
        // Every packet sampled leaving, in the calls and outside them.
        let allTransmits = (transmitsElsewhere + sides.filter { $0.id == connection.id }.flatMap { side in
            (side.call.kernel?.samples ?? []).filter { $0.tracepoint == KernelSample.transmitTracepoint }
        }).sorted { $0.time < $1.time }
        // SYN-ACKs the server sent outside the traced calls: again
        // (tcp_rtx_synack: no tcp:tcp_retransmit_skb; audit 43 F2: one left
        // 35 µs before the client's second SYN retransmission, and was not
        // drawn), or answering a SYN taken in there (tcp_conn_request →
        // tcp_v4_send_synack; audit 49 N1: the one answering a
        // retransmitted SYN, in ksoftirqd, not drawn, and the ACK that
        // followed drawn as "a SYN-ACK taken in").
        let synAcksElsewhere = transmitsElsewhere.filter { sample in
            (sample.chain.contains("tcp_rtx_synack") || sample.chain.contains(where: Self.synAckBuilders.contains))
                && sample.flowEndpoints.map({ $0.source == connection.server && $0.destination == connection.client }) == true
        }
        // The packet a drop outside the traced tasks freed, when sampled
        // leaving: its skb's address, queued not long before on its way (by
        // its 4-tuple when the transmit has one), its length the dropped
        // one's with the Ethernet header the receive strips (an skb's
        // address is reused: another packet's, freed). Only for a drop on
        // arrival (one before leaving was never queued: audit 46 F1).
        func transmit(droppedBy drop: KernelSample) -> KernelSample? {
            guard isDroppedOnArrival(drop), let (source, destination) = drop.flowEndpoints else { return nil }
            return allTransmits.last { transmit in
                transmit.skbAddress == drop.skbAddress && transmit.time <= drop.time
                    && drop.time.nanoseconds - transmit.time.nanoseconds < QueuedPackets.horizon
                    && transmit.packetLength.map { $0 - Self.ethernetHeader } == drop.packetLength
                    && (transmit.flowEndpoints.map { $0.source == source && $0.destination == destination } ?? true)
            }
        }
        // Drops elsewhere drawn with what they dropped (the handshake's ACK), not again as notes.
        var dropsDrawn: Set<MonotonicTime> = []
        /// The client's handshake ACK dropped on arrival outside the traced
        /// tasks: the first segment the client sent after its ESTABLISHED,
        /// on the same CPU within 1 ms (the ACK leaves in the softirq that
        /// took the SYN-ACK in), freed by a drop elsewhere.
        func handshakeAckDropped(after established: KernelSample) -> KernelSample? {
            let ack = allTransmits.first { transmit in
                transmit.time >= established.time && transmit.cpu == established.cpu
                    && transmit.time.nanoseconds - established.time.nanoseconds < 1_000_000
                    && transmit.flowEndpoints.map { $0.source == connection.client && $0.destination == connection.server } ?? false
            }
            guard let ack else { return nil }
            return dropsElsewhere.first { drop in
                drop.flowEndpoints.map { $0.source == connection.client } == true && transmit(droppedBy: drop)?.time == ack.time
            }
        }
        // Each end's data segments sampled leaving besides its sends' own,
        // with where: outside the traced calls (a timer's, ksoftirqd's), in
        // its other calls (setsockopt(TCP_CORK, 0), shutdown, close), and in
        // the other end's calls (its receive taking in an ACK or a window
        // update that let them go: "sent to this socket by its peer").
        let headers = connectionTransmitLengths.min()
        let ipv6 = Self.sendsIPv6(connection.client)
        func payload(_ sample: KernelSample) -> Int64 {
            guard let headers, let length = sample.packetLength else { return 0 }
            return Self.dataBytes(length, headers: headers, ipv6: ipv6)
        }
        var leavingLater: [Bool: [(sample: KernelSample, place: String)]] = [:]
        for end in [true, false] {
            let (source, destination) = end ? (connection.client, connection.server) : (connection.server, connection.client)
            var found: [(sample: KernelSample, place: String)] = transmitsElsewhere.filter { sample in
                sample.flowEndpoints.map { $0.source == source && $0.destination == destination } == true
            }.filter { !Self.isRetransmission($0) }   // (audit 42 F4: a loss probe's and a timeout's counted as queued data)
            .map { sample in (sample, ((sample.alignments?.first?.operation).map { "\($0) in " } ?? "in ") + (sample.task ?? "another task")) }
            for side in sides where side.id == connection.id {
                let samples: [KernelSample]
                if side.isClient == end {
                    guard DataTransfer(side.call)?.direction != .sent else { continue }
                    samples = Self.ownTransmits(side.call)
                } else {
                    samples = (side.call.kernel?.samples ?? []).filter { $0.tracepoint == KernelSample.transmitTracepoint && $0.flow?.owner == .peer }
                }
                found += samples.filter { !Self.isRetransmission($0) }.map { ($0, "in \(side.call.name) of \(side.call.tid)") }
            }
            leavingLater[end] = found.filter { payload($0.sample) > 0 }.sorted { $0.sample.time < $1.sample.time }
        }
        // A FIN queued behind an end's unsent data (a shutdown or close with nothing sampled leaving).
        var finPending: [Bool: Bool] = [:]
        // Bytes an end's sends left queued, drawn as the segments that
        // carried them were sampled leaving, at their times, a group per
        // place (their payloads, lengths less the connection's headers,
        // taken off what is queued until none is; audit 42 F5: one arrow
        // for 868,928 B at the first segment, before 12 of its 14 sends).
        // Segments sampled before `limit` (at it too when `inclusive`) are
        // drawn; each end's are taken in time order once.
        var leavingCursor: [Bool: Int] = [:]
        // The end and call of the last segment drawn as queued data.
        var lastQueuedSegment: [Bool: KernelSample] = [:]
        func flushQueuedLeaving(before limit: MonotonicTime, inclusive: Bool = false) {
            for end in [true, false] {
                let list = leavingLater[end] ?? []
                var index = leavingCursor[end] ?? 0
                var group: [(sample: KernelSample, place: String)] = []
                var groupBytes: Int64 = 0
                let (from, to): (Participant, Participant) = end ? (.clientKernel, .serverKernel) : (.serverKernel, .clientKernel)
                func drawGroup() {
                    guard let first = group.first, let last = group.last else { return }
                    let lengths = group.prefix(4).compactMap(\.sample.packetLength).map(String.init).joined(separator: ", ") + (group.count > 4 ? ", …" : "")
                    let span = group.count > 1 ? ", the last \(TextTimeline.duration(Double(last.sample.time.nanoseconds - first.sample.time.nanoseconds) / 1e9)) after the first" : ""
                    add(.message(from: from, to: to,
                                 text: "data \(groupBytes) B of what \(earlierSends(end)) left queued: \(group.count == 1 ? "a segment" : "\(group.count) segments") sampled leaving (net:net_dev_queue len \(lengths)), \(first.place)\(span)",
                                 reply: false, time: first.sample.time), at: first.sample.time)
                    lastQueuedSegment[end] = last.sample
                    group = []
                    groupBytes = 0
                }
                while index < list.count, list[index].sample.time < limit || (inclusive && list[index].sample.time == limit) {
                    let segment = list[index]
                    index += 1
                    guard let waiting = queued[end], waiting.bytes > 0, segment.sample.time > waiting.since else { continue }
                    if let last = group.last, last.place != segment.place { drawGroup() }
                    let taken = min(payload(segment.sample), waiting.bytes)
                    group.append(segment)
                    groupBytes += taken
                    queued[end]?.bytes -= taken
                    if waiting.bytes - taken == 0 {
                        drawGroup()
                        queued[end] = nil
                        if finPending.removeValue(forKey: end) == true {
                            add(.message(from: from, to: to, text: "FIN, queued behind them: with or after their last segment", reply: false, time: segment.sample.time),
                                at: segment.sample.time)
                        }
                    }
                }
                drawGroup()
                leavingCursor[end] = index
            }
        }
        for (call, id, isClient) in sides where id == connection.id {
            drawUntracedFins(before: call.startTime)
            // What sends left queued and was sampled leaving before this call.
            flushQueuedLeaving(before: call.startTime)
            let process: Participant = isClient ? .client : .server
            let kernel: Participant = isClient ? .clientKernel : .serverKernel
            let peerKernel: Participant = isClient ? .serverKernel : .clientKernel
            let value = call.result?.value ?? -1
            let failed = call.result?.failed ?? true
            let exit = call.endTime ?? call.startTime
            // What its samples say of a send's data leaving it.
            let departure = DataTransfer(call)?.direction == .sent && !failed && value > 0
                ? Self.departure(call, transmitSampled: transmitSampled) : nil
            if !failed, value > 0, let transfer = DataTransfer(call) {
                if transfer.direction == .sent { streamSent[isClient, default: 0] += transfer.bytes }
                else if !DataTransfer.peeks(call) { streamReceived[isClient, default: 0] += transfer.bytes }
            }
            /// Bytes this end's send left queued (not seen leaving in it).
            func leftQueued(_ bytes: Int64) {
                let end = streamSent[isClient, default: 0]
                if var waiting = queued[isClient] {
                    waiting.bytes += bytes
                    waiting.sends += 1
                    waiting.streamEnd = end
                    queued[isClient] = waiting
                } else {
                    queued[isClient] = Queued(bytes: bytes, streamEnd: end, since: call.startTime, sends: 1)
                }
            }
            /// A FIN this end's close or shutdown queued behind its unsent data.
            func finWaitsBehindQueued() {
                finPending[isClient] = true
                addNote(.note(over: [kernel], text: "FIN queued behind \(queuedBytes(isClient)) B still unsent: it leaves with or after the last of them"))
            }
            // What its own segments did not carry of a send's bytes.
            let leftBehind = departure == .sent ? Self.leftBehind(call, value: value, headers: headers) : 0
            // An answer a receive on its stack built, dropped on its way out
            // (audit 43 F3, F4: the server's ACK of this send's data, dropped
            // by an output rule, never drawn; the retransmission it led to
            // had no visible cause).
            for (drop, reason, builder, byPeer, onArrival) in Self.answersDropped(call) {
                // Dropped before leaving: over its sender; on arrival: over its receiver.
                let over = byPeer != onArrival ? peerKernel : kernel
                add(.note(over: [over], text: "\(byPeer ? "its answer" : "this end's answer") to the segment taken in on this \(call.name)'s stack, "
                          + "built by \(builder): \(onArrival ? "dropped on arrival" : "dropped before leaving") (\(reason))"), at: drop.time)
            }
            // A packet dropped on arrival on its stack whose sender is not
            // known (audit 43 F1: the second piece of a send's 68,539 B skb,
            // which the device split and no traced call queued as such, left
            // out of the drawing, and the retransmission of it unexplained).
            let splits = Self.splitSegments(call, headers: headers)
            // Each piece of a split segment dropped on arrival: the drop, its
            // cause, the piece's length as received, the segment's length.
            var droppedPieces: [(drop: KernelSample, cause: String?, length: Int64?, segment: Int64?)] = []
            var unverifiedDrops: [(drop: KernelSample, cause: String)] = []
            for drop in call.kernel?.samples ?? [] where drop.tracepoint == "skb:kfree_skb" && Self.isDroppedOnArrival(drop) {
                let cause = Self.dropCause(drop)
                if let skb = drop.skbAddress, let split = splits.first(where: { $0.pieces.contains { $0.skbAddress == skb } }) {
                    let piece = split.pieces.first { $0.skbAddress == skb }
                    droppedPieces.append((drop, cause, piece?.packetLength, split.segment.packetLength))
                } else if let cause, drop.flow?.owner == .unverified {
                    unverifiedDrops.append((drop, cause))
                }
            }
            // A piece of a split segment: said with its send's other drops when it has some.
            if case .droppedOnArrival? = departure {} else {
                for (drop, cause, length, segment) in droppedPieces {
                    guard let reason = cause, drop.flow?.owner == .unverified else { continue }
                    add(.note(over: [peerKernel], text: "a piece (\(length.map { "\($0) B" } ?? "?") as received) of this \(call.name)'s segment of \(segment ?? 0) B, split by the device "
                              + "(its pieces' lengths add up to its own with a header each): dropped on arrival (\(reason)); left in TCP's queue to send again"), at: drop.time)
                }
            }
            for (drop, reason) in unverifiedDrops {
                let skb = drop.skbAddress.map { " 0x" + String(UInt64(bitPattern: $0), radix: 16) } ?? ""
                let length = (call.kernel?.samples ?? []).last { $0.tracepoint == KernelSample.receiveTracepoint && $0.skbAddress == drop.skbAddress && $0.time <= drop.time }?
                    .packetLength.map { ", \($0) B as received" } ?? ""
                add(.note(over: [.clientKernel, .serverKernel], text: "a packet no traced call was seen queuing (skb\(skb)\(length)), received on this \(call.name)'s stack: "
                          + "dropped on arrival (\(reason)); whose, unverified"), at: drop.time)
            }
            switch call.syscall {
            case .connect where call.connectStart?.disconnects == true:
                // connect(AF_UNSPEC) ends the connection (tcp_disconnect): a
                // reset when it was established; its samples say whether one
                // left, without them the state the call found.
                endRun()
                add(.message(from: process, to: kernel, text: "connect(AF_UNSPEC)", reply: false, time: call.startTime), at: call.startTime)
                let sampled = call.kernel.map { $0.source == .observed } ?? false
                let queued = call.kernel?.samples.first { $0.tracepoint == "net:net_dev_queue" }
                let reset = sampled ? queued != nil : !failed && [.connected, .shutDown].contains(call.connectStart?.state)
                if reset {
                    let sent = queued?.time ?? call.startTime
                    add(.message(from: kernel, to: peerKernel, text: "RST (disconnected)", reply: false, time: sent), at: sent)
                }
                add(.message(from: kernel, to: process, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                if !reset { addNote(.note(over: [kernel], text: sampled ? "no segment sampled in this disconnect" : "no reset: no connection to end")) }
                Self.note(call, over: kernel).map { add($0, at: exit) }
            case .connect:
                endRun()
                add(.message(from: .client, to: .clientKernel, text: "connect(\(connection.server))", reply: false, time: call.startTime), at: call.startTime)
                // Whether this connect sent the SYN: its samples say (a
                // segment queued in it); without them, the first connect of
                // the socket that went on (audit 24: SYNs drawn for a connect
                // failing with EISCONN or EALREADY, for the completing second
                // connect of a non-blocking socket, and for TCP_FASTOPEN_CONNECT,
                // whose SYN leaves with the first write).
                let sampled = call.kernel.map { $0.source == .observed } ?? false
                // A SYN dropped before it left (netfilter on output): its
                // drop on tcp_connect's path; the retransmit timer sends it
                // again (drawn below, from its tcp:tcp_retransmit_skb).
                let synDropped = (call.kernel?.samples ?? []).first { $0.chain.contains("tcp_connect") && Self.dropCause($0) != nil }
                let synQueued = sampled ? call.kernel!.samples.contains { $0.tracepoint == "net:net_dev_queue" }
                    : !synDrawn && (!failed || [EINPROGRESS, ECONNREFUSED, ETIMEDOUT].contains(call.result?.errno ?? 0))
                let sentSyn = synQueued || synDropped != nil
                if let synDropped, !synQueued {
                    synDrawn = true
                    add(.note(over: [.clientKernel], text: "SYN not sent: dropped before leaving (\(Self.dropCause(synDropped) ?? "") in this connect); the retransmit timer sends it again"),
                        at: synDropped.time)
                } else if sentSyn {
                    synDrawn = true
                    // When its SYN was queued, where its own sample says (audit 34
                    // M3: drawn at connect's entry stop, the time to the SYN-ACK
                    // then counting the tracer's stop).
                    let syn = Self.ownTransmits(call).map(\.time).min() ?? call.startTime
                    add(.message(from: .clientKernel, to: .serverKernel, text: Self.synText(call), reply: false, time: syn), at: syn)
                    // The server's SYN-ACK, built in the SYN's receive on this
                    // connect's stack (loopback) and dropped before it left
                    // (audit 46: shown in the timeline, not drawn).
                    for drop in call.kernel?.samples ?? [] where Self.synAckBuilders.contains(drop.answerBuilder ?? "")
                        && !Self.isDroppedOnArrival(drop) {
                        guard let cause = Self.dropCause(drop) else { continue }
                        add(.note(over: [.serverKernel], text: "SYN-ACK not sent: dropped before leaving (\(cause), built by \(drop.answerBuilder ?? "") "
                                  + "in the SYN's receive on this connect's stack)"), at: drop.time)
                    }
                }
                if !sentSyn && call.connectDeferredByFastOpen {
                    // Its own state changes left the socket in TCP_SYN_SENT with nothing sent (audit 27 M2, M3).
                    deferredConnect = true
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                    addNote(.note(over: [.clientKernel], text: "no SYN: TCP Fast Open deferred it to the first send (connect left the socket in TCP_SYN_SENT)"))
                } else if !sentSyn {
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                    addNote(.note(over: [.clientKernel], text: sampled ? "no segment sampled in this connect" : "no SYN sent by this connect"))
                } else if call.result?.errno == EINPROGRESS {
                    // Non-blocking: connect returns with the SYN sent; what
                    // answered it came later, out of this call's sight: said
                    // only as far as the client's own calls showed it (audit 20:
                    // a refused one was drawn with a handshake).
                    // When the client's end became ESTABLISHED, if sampled: on
                    // loopback the SYN-ACK comes back and the ACK leaves inside
                    // the connect all the same (audit 26 F1: always drawn after).
                    let established = stateChange(ofClient: true, from: TCPState.synSent, to: TCPState.established)
                    func drawHandshake(_ change: KernelSample, _ when: String) {
                        let synAck = Self.synAckSent(in: call, until: change.time)?.time ?? change.time
                        add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK", reply: false, time: synAck), at: synAck)
                        add(.message(from: .clientKernel, to: .serverKernel, text: "ACK", reply: false, time: change.time), at: change.time)
                        add(.note(over: [.clientKernel], text: "\(when) (\(change.heading))"), at: change.time)
                    }
                    if connection.refused == nil, let established, established.time <= exit {
                        drawHandshake(established, "ESTABLISHED before connect returned")
                    }
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                    if let refused = connection.refused {
                        // When the kernel closed the socket, if sampled (audit 21: the reset came before connect returned).
                        add(.note(over: [.clientKernel, .serverKernel], text: "\(refusal): refused (\(refused))"), at: closing?.time ?? exit)
                    } else if let established, established.time <= exit {
                        // Drawn above, inside the call.
                    } else if let established {
                        drawHandshake(established, "after connect returned")
                    } else if connection.established == true {
                        addNote(.note(over: [.clientKernel, .serverKernel], text: "SYN-ACK, ACK: when, not sampled (the connection was established)"))
                    } else {
                        addNote(.note(over: [.clientKernel, .serverKernel], text: "what answered the SYN was not seen"))
                    }
                } else if call.result?.errno == ETIMEDOUT, let timedOut = connection.timedOut {
                    // Its SYNs (the retransmitted ones drawn at their times,
                    // below) went unanswered until the retransmit timer gave
                    // up, where the kernel's state change says.
                    add(.note(over: [.clientKernel, .serverKernel], text: "no answer to the SYN: timed out (\(timedOut))"), at: closing?.time ?? exit)
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                } else if call.result?.errno == ECONNREFUSED {
                    // The reset that refused it, where its tcp:tcp_send_reset was
                    // sampled (drawn here, not again below: audit 31 F1).
                    if let reset = connectionResets.first(where: { !$0.fromClient && call.startTime <= $0.sample.time && $0.sample.time <= exit })?.sample {
                        refusalsDrawn.append(reset.time)
                        add(.message(from: .serverKernel, to: .clientKernel, text: Self.resetText(reset), reply: false, time: reset.time), at: reset.time)
                    } else {
                        add(.message(from: .serverKernel, to: .clientKernel, text: refusal, reply: false, time: exit), at: exit)
                    }
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                } else if !failed, let ackDropped = (call.kernel?.samples ?? []).first(where: { sample in
                    Self.dropCause(sample) != nil && !Self.isDroppedOnArrival(sample)
                        && sample.chain.contains("tcp_rcv_state_process") && !sample.chain.contains("tcp_connect")
                }) {
                    // The SYN-ACK taken in, the handshake's ACK dropped on its way
                    // out (audit 42 F1: drawn as sent; netfilter dropped it).
                    add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK", reply: false, time: ackDropped.time), at: ackDropped.time)
                    add(.note(over: [.clientKernel], text: "ACK not sent: dropped before leaving (\(Self.dropCause(ackDropped) ?? "") in this connect)"),
                        at: ackDropped.time)
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                } else if !failed {
                    // Both taken in before connect returned; when, the client's
                    // ESTABLISHED says where sampled (audit 38 F6: drawn at the
                    // connect's exit, after the server's accept had returned).
                    let established = stateChange(ofClient: true, from: TCPState.synSent, to: TCPState.established)
                    let at = established.flatMap { $0.time >= call.startTime && $0.time <= exit ? $0.time : nil } ?? exit
                    let resent = synAcksElsewhere.contains(where: { call.startTime <= $0.time && $0.time <= at })
                    if let established, let dropped = handshakeAckDropped(after: established) {
                        // The SYN-ACK taken in (ESTABLISHED), its ACK dropped on
                        // arrival outside the traced tasks (audit 46 F2: drawn as
                        // delivered, the drop a note apart).
                        dropsDrawn.insert(dropped.time)
                        let taken = resent ? "a SYN-ACK taken in" : "the SYN-ACK taken in"
                        add(.message(from: .clientKernel, to: .serverKernel,
                                     text: "ACK (\(taken): ESTABLISHED), dropped on arrival (\(Self.dropCause(dropped) ?? "") in \(dropped.task ?? "another task"))",
                                     reply: false, time: at), at: at)
                    } else if resent {
                        // A SYN-ACK sent again is drawn at its time: which one the
                        // client took in is not sampled (audit 43 F2: drawn twice).
                        add(.message(from: .clientKernel, to: .serverKernel, text: "ACK (a SYN-ACK taken in: ESTABLISHED)", reply: false, time: at), at: at)
                    } else {
                        // Where the SYN-ACK was sampled leaving (in the SYN's
                        // receive on the connect's stack), not at ESTABLISHED
                        // (audit 51 N3: the gap before it drawn 20 µs long).
                        let synAck = Self.synAckSent(in: call, until: at)?.time ?? at
                        add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK", reply: false, time: synAck), at: synAck)
                        add(.message(from: .clientKernel, to: .serverKernel, text: "ACK", reply: false, time: at), at: at)
                    }
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                } else {
                    add(.message(from: .clientKernel, to: .client, text: "connect = \(call.returnText)", reply: true, time: exit), at: exit)
                }
                Self.note(call, over: .clientKernel).map { add($0, at: exit) }
            case .accept, .accept4:
                endRun()
                add(.message(from: .serverKernel, to: .server, text: "\(call.name) = \(value)", reply: true, time: exit), at: exit)
                if let handshake = connection.handshake {
                    // The calls' times, the tracer's stops included (audit 21: read as the kernel's handshake).
                    let kernel = connection.kernelHandshake.map { "; the kernel's \(connection.kernelHandshakeStart) → ESTABLISHED " + TextTimeline.duration($0) } ?? ""
                    addNote(.note(over: [.clientKernel, .serverKernel], text: "\(connection.openedBy)'s entry → accept's return " + TextTimeline.duration(handshake) + kernel))
                }
            case _ where isClient && (call.isFastOpen || deferredConnect && DataTransfer(call)?.direction == .sent):
                // A send that makes the connection: its SYN, the handshake,
                // and its data in the SYN or after the handshake (audit 27
                // M1, M2: drawn as a plain send, no handshake).
                endRun()
                deferredConnect = false
                synDrawn = true
                drawFastOpen(call, exit: exit)
            case _ where departure != nil && departure != .sent:
                // Its samples say its data did not leave in it (audit 29 M1: a
                // segment netfilter dropped at the send, sent 206 ms later by
                // the probe timer, was drawn on the wire at the send).
                endRun()
                add(.message(from: process, to: kernel, text: "\(call.name) \(value) B", reply: false, time: call.startTime), at: call.startTime)
                switch departure! {
                case let .droppedOnArrival(reason, skbs):
                    // It left, and was freed as it arrived (audit 31 M2: drawn
                    // delivered): which of its segments, and what it left
                    // queued (audit 41: 65,536 B drawn leaving, 47,616 B did,
                    // and all said dropped, one segment was).
                    let own = Self.ownSegments(call)
                    let rest = Self.leftBehind(call, value: value, headers: headers)
                    // Segments the device split (GSO) count as their pieces on
                    // the wire (audit 44 N1: "4 segments, 1 dropped", where
                    // the wire had 5, 2 dropped).
                    let wire = own.count + splits.reduce(0) { $0 + $1.pieces.count - 1 }
                    let split = splits.map { "one of \($0.segment.packetLength ?? 0) B split by the device into \($0.pieces.count) "
                        + "(received as " + $0.pieces.compactMap(\.packetLength).map { "\($0) B" }.joined(separator: " and ")
                        + ", new skbs whose lengths add up to its own with a header each)" }
                    let segments = (wire == 1 ? "1 segment" : "\(wire) segments") + (split.isEmpty ? "" : " (" + split.joined(separator: "; ") + ")")
                    add(.message(from: kernel, to: peerKernel, text: "data \(value - rest) B" + (own.count > 1 || rest > 0 ? " in \(segments)" : "") + (rest > 0 ? ", \(rest) B left queued" : ""),
                                 reply: false, time: own.first?.time ?? call.startTime), at: own.first?.time ?? call.startTime)
                    // Which of its segments (audit 42 F3: "one of" when both were).
                    let dropped = own.filter { $0.skbAddress.map(skbs.contains) == true }
                    let lengths = dropped.compactMap(\.packetLength).map { length in "len \(length)" + (headers.map { ", \(Self.dataBytes(length, headers: $0, ipv6: ipv6)) B of data" } ?? "") }
                    // Pieces of a split segment dropped: their drops were on skbs no call queued.
                    let pieceLengths = droppedPieces.compactMap(\.length)
                    let pieceText = pieceLengths.isEmpty ? "" : (dropped.isEmpty ? "" : " and ") + (pieceLengths.count == 1 ? "1 piece" : "\(pieceLengths.count) pieces")
                        + " of a split one (netif_receive_skb len " + pieceLengths.map(String.init).joined(separator: "; ") + ")"
                    let count = dropped.count + pieceLengths.count
                    let which = wire == 1 ? "its segment"
                        : count == wire ? "all \(wire) of its segments" + (lengths.isEmpty ? "" : " (net:net_dev_queue \(lengths.joined(separator: "; "))\(pieceText))")
                        : "\(count) of its \(wire) segments (" + (lengths.isEmpty ? "" : "net:net_dev_queue \(lengths.joined(separator: "; "))") + pieceText + ")"
                    add(.note(over: [peerKernel], text: "\(which) dropped on arrival (skb:kfree_skb \(reason): \(count > 1 ? "their skbs" : "its skb"), queued by this \(call.name), freed in the receive on its stack); left in TCP's queue to send again"),
                        at: dropped.first?.time ?? call.startTime)
                    if rest > 0 { leftQueued(rest) }
                case let .dropped(reason):
                    add(.note(over: [kernel], text: "\(value) B not sent: dropped before leaving (skb:kfree_skb \(reason) in this \(call.name)); left in TCP's queue"),
                        at: call.startTime)
                    leftQueued(value)
                default:
                    add(.note(over: [kernel], text: "\(value) B queued: no segment sampled leaving in this \(call.name)"), at: call.startTime)
                    leftQueued(value)
                }
            case _ where DataTransfer(call)?.direction == .sent && !failed && queuedBytes(isClient) > 0:
                // Bytes an earlier send queued may leave with this one's
                // segment (TCP sends its queue in order): one arrow, not one
                // here and another at the peer's read (audit 30 M1).
                endRun()
                let waiting = queuedBytes(isClient)
                let sends = earlierSends(isClient)
                queued[isClient] = nil
                add(.message(from: process, to: kernel, text: "\(call.name) \(value) B", reply: false, time: call.startTime), at: call.startTime)
                // How much its segments carried, from their lengths less the
                // connection's headers (its shortest packet): all of both, or
                // "up to" when that does not add up (audit 36: one 6000 B
                // segment drawn as "with up to 3000 B").
                let lengths = Self.ownSegments(call).compactMap(\.packetLength)
                let carried = headers.map { headers in lengths.reduce(0) { $0 + Self.dataBytes($1, headers: headers, ipv6: ipv6) } }
                let text = carried == value + waiting && !lengths.isEmpty
                    ? "data \(value + waiting) B: this \(call.name)'s \(value) B and the \(waiting) B \(sends) queued, in \(lengths.count == 1 ? "one segment" : "\(lengths.count) segments") (net:net_dev_queue len \(lengths.map(String.init).joined(separator: ", ")))"
                    : "data \(value) B, with up to \(waiting) B \(sends) queued"
                let left = Self.ownSegments(call).first?.time ?? call.startTime
                add(.message(from: kernel, to: peerKernel, text: text, reply: false, time: left), at: left)
            case _ where DataTransfer(call)?.direction == .sent && !failed && value > 0 && leftBehind > 0:
                // Its own segments carried less than it queued (a closed or
                // small window, audit 38 F5: 60,000 B drawn leaving at the
                // send, 2048 B did): what they carried, and the rest queued.
                endRun()
                let own = Self.ownSegments(call)
                add(.message(from: process, to: kernel, text: "\(call.name) \(value) B", reply: false, time: call.startTime), at: call.startTime)
                add(.message(from: kernel, to: peerKernel, text: "data \(value - leftBehind) B in \(own.count == 1 ? "1 segment" : "\(own.count) segments"), \(leftBehind) B left queued",
                             reply: false, time: own.first?.time ?? call.startTime), at: own.first?.time ?? call.startTime)
                leftQueued(leftBehind)
            case _ where DataTransfer(call)?.direction == .sent:
                let segments = Self.segmentsQueued(call, transmitSampled: transmitSampled)
                if let current = run, current.fromClient == isClient {
                    run = (isClient, current.calls + 1, current.bytes + value, current.time, current.name == call.name ? call.name : "send",
                           current.segments.flatMap { sum in segments.map { sum + $0 } }, current.left)
                } else {
                    endRun()
                    run = (isClient, 1, value, call.startTime, call.name, segments, Self.ownSegments(call).first?.time)
                }
                // A segment it sent again (drawn at its time, from its
                // tcp:tcp_retransmit_skb) ends the run, so that the next
                // sends' data is drawn after it, as it left (audit 37 F1).
                if Self.ownTransmits(call).contains(where: Self.isRetransmission) { endRun() }
            case let data where data.receivesData || DataTransfer(call)?.direction == .received:
                endRun()
                // End of file: the peer's FIN had come. Drawn here when no
                // traced call of the peer's drew it (an untraced end, audit 20).
                let peerTraced = isClient ? connection.serverPid != nil : connection.clientPid != nil
                // A read of 0 bytes asked, or after the end's own SHUT_RD,
                // returns 0 with no FIN (audit 24).
                let askedNothing = [.read, .recv, .recvfrom].contains(call.syscall) && call.argument(2) == 0
                if !failed && value == 0 && !askedNothing && !readsShut[isClient, default: false] && !peerTraced
                    && !peerFinDrawn[isClient, default: false] {
                    peerFinDrawn[isClient] = true
                    add(.message(from: peerKernel, to: kernel, text: "FIN (the read's end of file)", reply: false, time: exit), at: exit)
                }
                // An untraced peer's bytes, drawn as this end takes them in
                // (audit 26 F2: its FIN was drawn, its data never); before that
                // peer's FIN, which TCP delivers after them.
                // Drawn at the read, as much as it took in: when and in
                // which segments the untraced end sent it is not traced
                // (audit 34 M2: drawn as segments of the reads' sizes,
                // before a FIN that left after them).
                // At the copy's first sample in the read (the data was there
                // by then; audit 46 F4: drawn at a read's entry, 156 ms before
                // the retransmission that brought it), else at its entry.
                if !failed, !peerTraced, let transfer = DataTransfer(call), transfer.bytes > 0 {
                    let copied = (call.kernel?.samples ?? []).first { ["tcp:tcp_rcv_space_adjust", "skb:skb_copy_datagram_iovec", "sock:sock_recv_length"].contains($0.tracepoint) }?.time
                    let at = copied.map { max($0, call.startTime) } ?? call.startTime
                    add(.message(from: peerKernel, to: kernel, text: "data \(transfer.bytes) B, as this \(call.name) took it in (the untraced end's segments not drawn)",
                                 reply: false, time: at), at: at)
                }
                // A peek leaves the bytes queued for the read that takes them
                // (audit 26 F12: wget's peek and its reads drawn as 380 B for 190).
                // Bytes the peer's sends left queued (above), taken in here:
                // they left later, outside those calls.
                // Drawn once this end has taken in the stream up to their
                // last byte (TCP delivers in order; audit 36 F1: drawn at the
                // next read, which took 12,000 B sent before them), when the
                // first segment with data sampled leaving the peer outside
                // its calls after them left, else at that read.
                if !failed, value > 0, peerTraced, queuedBytes(!isClient) > 0 { flushQueuedLeaving(before: exit, inclusive: true) }
                if !failed, value > 0, peerTraced, let waiting = queued[!isClient], waiting.bytes > 0,
                   streamReceived[isClient, default: 0] >= waiting.streamEnd {
                    let sends = earlierSends(!isClient)
                    queued[!isClient] = nil
                    add(.message(from: peerKernel, to: kernel, text: "data \(waiting.bytes) B, queued by \(sends), left after it (when, not sampled)",
                                 reply: false, time: exit), at: exit)
                }
                let text = failed ? "\(call.name) = \(call.returnText)"
                    : DataTransfer.peeks(call) ? "\(call.name)(MSG_PEEK) = \(value) B, left queued" : "\(call.name) = \(value) B"
                add(.message(from: kernel, to: process, text: text, reply: true, time: exit), at: exit)
            case .shutdown, .close:
                endRun()
                if call.syscall == .shutdown && !failed && call.argument(1) != 1 { readsShut[isClient] = true }
                add(.message(from: process, to: kernel, text: call.syscall == .close ? "close" : "shutdown", reply: false, time: call.startTime), at: call.startTime)
                // With kernel samples we know whether a segment left, and the
                // close's operation says which (a FIN, or a reset with
                // SO_LINGER 0) or why none (one of several references; no
                // connection left); without them, only a refusal is known.
                // Chosen from what the tracer knew of the socket (its other
                // references, its TCP state at the entry) when nothing was sampled.
                let operation = call.kernel?.operation
                let sentSegment = call.kernel.map { $0.samples.contains { $0.tracepoint == "net:net_dev_queue" } } ?? true
                let alreadyShut = call.socket?.state == .shutDown
                if connection.refused != nil {
                    if call.syscall == .close { addNote(.note(over: [kernel], text: "no FIN: the connection was refused")) }
                // Without samples, a socket an earlier shutdown had shut for
                // writing sends no second FIN (audit 25: drawn at each close).
                } else if sentSegment && !(alreadyShut && call.kernel == nil) && (call.syscall == .close || call.argument(1) != 0) {
                    let segment = operation?.contains("close_reset") == true ? "RST" : "FIN"
                    // When it left, where the kernel's sample says; an untraced peer's FIN before it first.
                    let transmits = call.kernel?.samples.filter { $0.tracepoint == "net:net_dev_queue" } ?? []
                    let sent = transmits.first?.time ?? call.startTime
                    drawUntracedFins(before: sent)
                    // Data earlier sends left queued goes first, in this call's
                    // segments (audit 38 F4: a FIN drawn, then the data "when,
                    // not sampled"; one segment carried both).
                    let queuedBefore = queuedBytes(isClient)
                    if segment == "FIN", queuedBefore > 0 { flushQueuedLeaving(before: exit, inclusive: true) }
                    if segment == "FIN", queuedBefore > 0, queuedBytes(isClient) == 0 {
                        let own = Self.ownSegments(call)
                        if own.count == 1, let only = own.first, lastQueuedSegment[isClient]?.time == only.time {
                            add(.message(from: kernel, to: peerKernel, text: "FIN, in that segment (the only one this \(call.name) queued)", reply: false, time: only.time), at: only.time)
                        } else {
                            let last = own.last?.time ?? sent
                            add(.message(from: kernel, to: peerKernel, text: "FIN", reply: false, time: last), at: last)
                        }
                    } else if segment == "FIN", queuedBefore > 0 {
                        // Data still queued goes first: the FIN waits behind it.
                        finWaitsBehindQueued()
                    } else {
                        add(.message(from: kernel, to: peerKernel, text: segment, reply: false, time: sent), at: sent)
                    }
                    // Its segment dropped, as sampled in this call (audit 45 F3:
                    // a FIN the peer's input rule dropped drawn as delivered).
                    let own = Self.ownTransmits(call).compactMap(\.skbAddress)
                    for drop in call.kernel?.samples ?? [] {
                        guard let reason = Self.dropCause(drop) else { continue }
                        if Self.isDroppedOnArrival(drop), let skb = drop.skbAddress, own.contains(skb) {
                            add(.note(over: [peerKernel], text: "its \(segment) dropped on arrival (\(reason): its skb, queued by this \(call.name), freed in the receive on its stack)"),
                                at: drop.time)
                        } else if !Self.isDroppedOnArrival(drop), !drop.chain.contains(where: KernelSample.packetReceiveFrames.contains), segment == "FIN" || segment == "RST" {
                            add(.note(over: [kernel], text: "a segment of this \(call.name) dropped before leaving (\(reason) on its own path)"), at: drop.time)
                        }
                    }
                    Self.note(call, over: kernel).map(addNote)
                } else if queuedBytes(isClient) > 0, !failed, call.syscall == .close || call.argument(1) != 0,
                          call.kernel?.samples.contains(where: { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["newstate"]?.number == TCPState.finWait1 }) == true {
                    // Its FIN waits behind data still queued (audit 38 M1: "no
                    // FIN: none was sampled", and the FIN never drawn).
                    finWaitsBehindQueued()
                } else if call.syscall == .close || call.argument(1) != 0,
                          let dropped = Self.closingSegmentDropped(call, reset: operation?.contains("close_reset") == true) {
                    // Its FIN (or reset) built and dropped on the call's own
                    // path, before any device saw it (audit 51 N2: "no FIN:
                    // none was sampled" beside the close's own NETFILTER_DROP).
                    let reset = operation?.contains("close_reset") == true
                    add(.note(over: [kernel], text: "\(reset ? "RST" : "FIN") not sent: dropped before leaving (\(Self.dropCause(dropped) ?? "") in this \(call.name))"
                              + (reset ? "" : "; left in TCP's queue")), at: dropped.time)
                } else if call.syscall == .close {
                    let why = switch operation {
                    case _ where alreadyShut && call.kernel == nil: "shutdown sent it"
                    case "socket_reference_dropped": "another descriptor still holds the socket"
                    case let name? where name.hasSuffix("close_unconnected"): "the socket was already in TCP_CLOSE"
                    case let name? where name.hasSuffix("close_after_shutdown"): "shutdown sent it"
                    case let name? where name.hasSuffix("close_listener"): "a listener"
                    case let name? where name.hasSuffix("close_connecting"): "the connect under way was abandoned"
                    default: "none was sampled"
                    }
                    addNote(.note(over: [kernel], text: "no FIN: " + why))
                } else if call.result?.errno == nil {
                    // A shutdown that sends nothing: SHUT_RD, or the FIN already left.
                    let why = operation?.hasSuffix("shutdown_connecting") == true ? "the connect under way was abandoned (tcp_disconnect)"
                        : operation?.hasSuffix("shutdown_listener") == true || operation?.hasSuffix("shutdown_listener_write") == true ? "a listener"
                        : call.argument(1) == 0 ? "SHUT_RD sends nothing"
                        : alreadyShut || operation?.hasSuffix("shutdown_again") == true ? "an earlier shutdown sent it"
                        : "none was sampled"
                    addNote(.note(over: [kernel], text: "no FIN: " + why))
                }
            default:
                // A call that is neither a send nor a receive may push what
                // sends left queued (setsockopt(TCP_CORK, 0), audit 38 F3).
                if queuedBytes(isClient) > 0, !Self.ownTransmits(call).isEmpty {
                    endRun()
                    add(.message(from: process, to: kernel, text: call.name, reply: false, time: call.startTime), at: call.startTime)
                    flushQueuedLeaving(before: exit, inclusive: true)
                }
                continue
            }
        }
        endRun()
        flushQueuedLeaving(before: MonotonicTime(nanoseconds: .max), inclusive: true)
        drawUntracedFins(before: nil)
        // Resets sent on this connection that no traced call of its ends
        // draws (those draw their own: a close with SO_LINGER 0 or unread
        // data, connect(AF_UNSPEC)): a listener's close or shutdown resetting
        // a connection it never accepted, a reset answering a segment for a
        // closed socket (audit 28 M2), at their time, with the kernel's reason.
        for (reset, fromClient) in connectionResets where !refusalsDrawn.contains(reset.time) {
            let drawnByItsCall = sides.contains { side in
                side.id == connection.id && side.isClient == fromClient && [.close, .connect, .shutdown].contains(side.call.syscall)
                    && side.call.startTime <= reset.time && reset.time <= (side.call.endTime ?? side.call.startTime)
            }
            guard !drawnByItsCall else { continue }
            let (from, to): (Participant, Participant) = fromClient ? (.clientKernel, .serverKernel) : (.serverKernel, .clientKernel)
            add(.message(from: from, to: to, text: Self.resetText(reset), reply: false, time: reset.time), at: reset.time)
        }
        // Segments the kernel sent again (tcp:tcp_retransmit_skb on this
        // connection's 4-tuple, in whatever task: a SYN retransmitted by the
        // timer while connect slept was not drawn), at their times; the
        // socket's state at the event tells a SYN from a segment of data.
        var firstRetransmission: MonotonicTime?
        for sample in retransmissions {
            guard let (source, destination) = sample.flowEndpoints else { continue }
            let fromClient: Bool
            if source == connection.client && destination == connection.server { fromClient = true }
            else if source == connection.server && destination == connection.client { fromClient = false }
            else { continue }
            if fromClient && retransmitsDrawn.contains(where: { $0.0 <= sample.time && sample.time <= $0.1 }) { continue }
            let state = sample.fields["state"]?.number
            let what = state == TCPState.synSent ? "SYN" : state == TCPState.synRecv ? "SYN-ACK" : "segment"
            let (from, to): (Participant, Participant) = fromClient ? (.clientKernel, .serverKernel) : (.serverKernel, .clientKernel)
            let task = sample.task ?? "the traced task"
            if let err = sample.fields["err"]?.number, err != 0 {
                // The tracepoint's err: the retransmission was not handed on.
                add(.note(over: [from], text: "\(what) retransmission failed (err \(err), \(retransmission) in \(task))"), at: sample.time)
            } else {
                // Its packet, sampled leaving in the same call of
                // tcp_retransmit_skb (audit 44 N4: 30,014 B sent again, the
                // 30,000 B a lost ACK left unacknowledged and a 14 B probe,
                // drawn as "segment retransmitted").
                let packet = allTransmits.last { $0.time <= sample.time && Self.sent($0, inCallOf: sample) }
                // A SYN's options are no data: its length alone.
                let size = packet?.packetLength.map { length in
                    "len \(length)" + (what != "segment" ? "" : headers.map { length > $0 ? ", \(Self.dataBytes(length, headers: $0, ipv6: ipv6)) B of data" : "" } ?? "") + " (net:net_dev_queue); "
                } ?? ""
                add(.message(from: from, to: to, text: "\(what) retransmitted (\(size)\(retransmission) in \(task))", reply: false, time: sample.time),
                    at: sample.time)
            }
            firstRetransmission = min(firstRetransmission ?? sample.time, sample.time)
        }
        for sample in synAcksElsewhere {
            let task = sample.task ?? "another task"
            guard sample.chain.contains("tcp_rtx_synack") else {
                // What sent it, as its stack shows it: a SYN taken in only
                // with tcp_conn_request on it.
                let builder = sample.chain.contains("tcp_v6_send_synack") ? "tcp_v6_send_synack" : "tcp_v4_send_synack"
                let why = sample.chain.contains("tcp_conn_request") ? "a SYN taken in: tcp_conn_request → \(builder)" : builder
                add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK (\(why) in \(task))", reply: false, time: sample.time), at: sample.time)
                continue
            }
            let why = sample.chain.contains("reqsk_timer_handler") ? "the request socket's timer: reqsk_timer_handler → tcp_rtx_synack"
                : sample.chain.contains("tcp_check_req") ? "the SYN taken in again: tcp_check_req → tcp_rtx_synack" : "tcp_rtx_synack"
            add(.message(from: .serverKernel, to: .clientKernel, text: "SYN-ACK sent again (\(why) in \(task))",
                         reply: false, time: sample.time), at: sample.time)
            firstRetransmission = min(firstRetransmission ?? sample.time, sample.time)
        }
        // Packets of this connection dropped outside the traced tasks (audit
        // 44 N3: the handshake's ACK, dropped by an input rule in swapper's
        // softirq, was drawn as delivered and nothing said it was lost), at
        // their times: which end's packet by its headers, where it was freed
        // by the drop's stack, and its skb's transmit when one was sampled.
        for drop in dropsElsewhere where !dropsDrawn.contains(drop.time) {
            guard let (source, destination) = drop.flowEndpoints, let cause = dropCause(drop) ?? (isQueuePurge(drop) ? drop.heading : nil) else { continue }
            let fromClient: Bool
            if source == connection.client && destination == connection.server { fromClient = true }
            else if source == connection.server && destination == connection.client { fromClient = false }
            else { continue }
            let (sender, receiver): (Participant, Participant) = fromClient ? (.clientKernel, .serverKernel) : (.serverKernel, .clientKernel)
            let whose = fromClient ? "the client's" : "the server's"
            let task = drop.task ?? "another task"
            let onArrival = isDroppedOnArrival(drop)
            let sent = transmit(droppedBy: drop)
            let queued = sent.map { transmit in
                let micros = (drop.time.nanoseconds - transmit.time.nanoseconds) / 1000
                // About: each time is its sample's, tens of µs after the hit
                // (audit 48 F2: 1–33 µs less than bpftrace's intervals for
                // the same hits; docs/trace-format.md).
                return "; its skb queued ~\(micros) µs before (sample times)" + (transmit.packetLength.map { ", \($0) B" } ?? "")
                    + " in \(transmit.task ?? "a traced call")"
            } ?? ""
            if isQueuePurge(drop) {
                // A socket's queue emptied (its close, a reset): an skb kept
                // there, taken in and not read or kept to be sent again, is
                // freed; no packet is lost on its way (CI: a client's
                // retransmission queue purged at its close drawn "dropped
                // before leaving").
                // Whose queue (the sender's to send again, the receiver's
                // unread) the drop does not say: over both.
                add(.note(over: [.clientKernel, .serverKernel],
                          text: "a packet of \(whose) freed with a socket's queue (\(cause) in \(task), by its headers' ports: not lost on its way)"),
                    at: drop.time)
            } else if onArrival {
                add(.note(over: [receiver], text: "a packet of \(whose) dropped on arrival (\(cause) in \(task), by its headers' ports\(queued))"),
                    at: drop.time)
            } else {
                add(.note(over: [sender], text: "a packet of \(whose) dropped before leaving (\(cause) in \(task), by its headers' ports\(queued))"),
                    at: drop.time)
            }
        }
        if let firstRetransmission {
            // What led to them may not be drawn (audit 43 F4: a loss probe
            // dropped on arrival in ksoftirqd, then the RTO's retransmission
            // with no visible cause): outside the traced tasks, drops are
            // sampled only where the kernel ran the drop program, and only
            // for packets whose headers name a traced flow's port.
            add(.note(over: [.clientKernel, .serverKernel], text: dropsElsewhere.isEmpty
                      ? "no drop of this connection's packets was sampled outside the traced tasks (sampled there only where the kernel "
                        + "runs the drop program: skb:kfree_skb elsewhere); a retransmission may follow a loss not drawn"
                      : "drops outside the traced tasks are drawn where sampled (skb:kfree_skb elsewhere, by the packets' headers)"),
                at: firstRetransmission)
        }
        var steps: [Step] = []
        var last: MonotonicTime?
        for entry in timed.sorted(by: { ($0.time, $0.order) < ($1.time, $1.order) }) {
            if let last, entry.time > last, Double(entry.time.nanoseconds - last.nanoseconds) / 1e9 >= 50e-6 {
                steps.append(.delay(TextTimeline.duration(Double(entry.time.nanoseconds - last.nanoseconds) / 1e9)))
            }
            last = max(last ?? entry.time, entry.time)
            steps.append(entry.step)
        }
        return SequenceDiagram(connection: connection, names: names, steps: steps, others: all)
    }

    /// "SYN", or "SYN, dropped (skb:kfree_skb NETFILTER_DROP)" when the
    /// connect's own samples show the skb it queued freed as a drop (on
    /// loopback the same skb is taken in, where a netfilter rule may drop
    /// it: audit 25, drawn as an ordinary arrow).
    static func synText(_ call: SyscallInvocation) -> String {
        let samples = call.kernel?.samples ?? []
        guard let queued = samples.first(where: { $0.tracepoint == "net:net_dev_queue" }), let skb = queued.fields["skbaddr"]?.number,
              let freed = samples.first(where: { $0.tracepoint == "skb:kfree_skb" && $0.fields["skbaddr"]?.number == skb && $0.time >= queued.time }),
              let cause = dropCause(freed) else { return "SYN" }
        return "SYN, dropped (" + cause + ")"
    }

    /// A note with the kernel chain's verdict for a call, when one was observed.
    static func note(_ call: SyscallInvocation, over participant: Participant) -> Step? {
        guard let activity = call.kernel, let operation = activity.operation else { return nil }
        if let verdict = activity.verdict {
            return .note(over: [participant], text: "\(operation): \(verdict.rawValue)")
        } else if activity.source == .expected {
            return .note(over: [participant], text: "\(operation) (not observed)")
        }
        return nil
    }
}

/// Mermaid `sequenceDiagram` text.
public enum MermaidRenderer {
    static let ids: [SequenceDiagram.Participant: String] = [.client: "C", .clientKernel: "CK", .serverKernel: "SK", .server: "S"]

    /// Mermaid's entity escapes for the characters its grammar reserves.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case ";": out += "#59;"
            case "#": out += "#35;"
            case "<": out += "#lt;"
            case ">": out += "#gt;"
            case ":": out += "#58;"
            case "\n", "\r": out += " "
            default: out.append(character)
            }
        }
        return out
    }

    /// A participant's alias runs to the end of its line, where Mermaid
    /// reads no entity (`#` or `;` would end it): those characters, and the
    /// HTML ones, are replaced; a colon (an address's port) stays.
    static func alias(_ text: String) -> String {
        String(text.map { "#;<>\n\r".contains($0) ? "_" : $0 })
    }

    public static func render(_ diagram: SequenceDiagram) -> String {
        var out = "sequenceDiagram\n"
        out += "    %% connection #\(diagram.connection.id): \(escape(diagram.connection.title))\n"
        for other in diagram.others where other.id != diagram.connection.id {
            out += "    %% also connection #\(other.id): \(escape(other.title)) (--connection \(other.id))\n"
        }
        for participant in SequenceDiagram.Participant.allCases {
            out += "    participant \(ids[participant]!) as \(alias(diagram.names[participant] ?? participant.rawValue))\n"
        }
        for step in diagram.steps {
            switch step {
            case let .message(from, to, text, reply, _):
                out += "    \(ids[from]!)\(reply ? "-->>" : "->>")\(ids[to]!): \(escape(text))\n"
            case let .note(over, text):
                out += "    Note over \(over.map { ids[$0]! }.joined(separator: ",")): \(escape(text))\n"
            case let .delay(text):
                out += "    Note right of \(ids[.server]!): +\(escape(text))\n"
            }
        }
        return out
    }
}

extension SequenceDiagram {
    /// A sampled reset as an arrow says it: `RST (tcp:tcp_send_reset, NO_SOCKET)`.
    static func resetText(_ reset: KernelSample) -> String {
        let reason: String = if case let .symbol(name, _)? = reset.fields["reason"] { ", " + name } else { "" }
        return "RST (tcp:tcp_send_reset\(reason))"
    }

    /// Bounds on the data a SYN carried, from its net:net_dev_queue length
    /// on an Ethernet-framed device (loopback included: 14 bytes of link
    /// header): the IP header (20 bytes, or 40 for IPv6 on the wire: not an
    /// IPv4-mapped peer) and a TCP header of 20 to 60 bytes (its options)
    /// come off. Nil where the framing is not known.
    static func synPayload(_ sample: KernelSample?, ipv6: Bool) -> (least: Int64?, most: Int64?) {
        guard let sample, let length = sample.packetLength, let device = sample.device,
              device == "lo" || device.hasPrefix("eth") || device.hasPrefix("en") || device.hasPrefix("veth") else { return (nil, nil) }
        let beforeTCP = 14 + (ipv6 ? 40 : 20) as Int64
        return (max(0, length - beforeTCP - 60), max(0, length - beforeTCP - 20))
    }

    /// What a send's own samples say of its data leaving.
    enum Departure: Equatable {
        /// A segment was queued to a device on its path.
        case sent
        /// Dropped on its way out, on the send's own path (netfilter's
        /// output hook): the reason the kernel gave.
        case dropped(String)
        /// Transmits were sampled, none in this send: queued (Nagle, a full
        /// window, cork) for a later transmission.
        case held
        /// It left, and its skb was freed with a reason in the receive on the
        /// same stack (loopback: netfilter's input hook): the kernel's reason.
        case droppedOnArrival(String, skbs: [Int64])
    }

    /// A call's samples of its own socket's packets queued on its own path
    /// (at the transmit tracepoint; not a softirq's on its stack, which may
    /// be a retransmission or the peer's answer).
    static func ownTransmits(_ call: SyscallInvocation) -> [KernelSample] {
        (call.kernel?.samples ?? []).filter {
            $0.tracepoint == KernelSample.transmitTracepoint && !$0.sides.softirq && ($0.flow == nil || $0.flow?.owner == .ownSocket)
        }
    }

    /// A call's own new segments (`ownTransmits`, retransmissions left out).
    static func ownSegments(_ call: SyscallInvocation) -> [KernelSample] {
        ownTransmits(call).filter { !isRetransmission($0) }
    }

    /// A send's own segments the device split into new skbs on its way
    /// (GSO: a segment larger than the device takes): one never received
    /// with its own address, followed on the call's stack, before its next
    /// own segment, by receives of skbs no traced call queued whose lengths
    /// add up to its own (less the Ethernet header) with one more IP and
    /// TCP header (the connection's shortest packet's) for each piece after
    /// the first.
    static func splitSegments(_ call: SyscallInvocation, headers: Int64?) -> [(segment: KernelSample, pieces: [KernelSample])] {
        guard let headers, headers > ethernetHeader else { return [] }
        let samples = call.kernel?.samples ?? []
        let received = Set(samples.filter { $0.tracepoint == KernelSample.receiveTracepoint }.compactMap(\.skbAddress))
        let own = ownSegments(call)
        var found: [(segment: KernelSample, pieces: [KernelSample])] = []
        for (index, segment) in own.enumerated() {
            guard let skb = segment.skbAddress, !received.contains(skb), let length = segment.packetLength else { continue }
            let end = index + 1 < own.count ? own[index + 1].time : MonotonicTime(nanoseconds: .max)
            let pieces = samples.filter { sample in
                sample.tracepoint == KernelSample.receiveTracepoint && sample.time > segment.time && sample.time < end
                    && sample.flow?.owner == .unverified && sample.flow?.evidence.hasSuffix("was not seen leaving a traced call") == true
            }
            let lengths = pieces.compactMap(\.packetLength)
            guard pieces.count >= 2, lengths.count == pieces.count,
                  lengths.reduce(0, +) == length - ethernetHeader + Int64(pieces.count - 1) * (headers - ethernetHeader) else { continue }
            found.append((segment, pieces))
        }
        return found
    }
    /// Whether `transmit` was taken deeper in the call of `start`'s
    /// function that `start` was then taken in (its tcp:tcp_retransmit_skb
    /// fires after the packet left): the same CPU, and under the same
    /// return addresses, as the trace file keeps them (function and offset).
    static func sent(_ transmit: KernelSample, inCallOf start: KernelSample) -> Bool {
        guard transmit.cpu == start.cpu, transmit.chain.count > start.chain.count, start.chain.count >= 2,
              transmit.offsets.count == transmit.chain.count, start.offsets.count == start.chain.count else { return false }
        let depth = transmit.chain.count - start.chain.count
        guard transmit.chain[depth] == start.chain[0] else { return false }
        return (1..<start.chain.count).allSatisfy { transmit.chain[depth + $0] == start.chain[$0] && transmit.offsets[depth + $0] == start.offsets[$0] }
    }

    /// The data a packet of `length` (net_dev_queue's, the Ethernet header
    /// in it) carries, less the connection's headers (its shortest
    /// packet's): over IPv6, BIG TCP's jumbo hop-by-hop option, 8 B that
    /// ip6_xmit inserts where the payload passes 65,535 B, is no data
    /// either (audit 45 F2: 95,232 B drawn as 95,240).
    static func dataBytes(_ length: Int64, headers: Int64, ipv6: Bool) -> Int64 {
        length - headers - (ipv6 && length > ethernetHeader + 40 + 65_535 ? 8 : 0)
    }

    /// Whether a socket's packets are IPv6 ones (an IPv4-mapped address's
    /// are IPv4: `forPairing` gives it as the IPv4 address it is).
    static func sendsIPv6(_ endpoint: SocketEndpoint?) -> Bool {
        if case .inet6? = endpoint?.forPairing { return true }
        return false
    }

    /// What loopback's receive strips (net_dev_queue's len has it, netif_receive_skb's not).
    static let ethernetHeader: Int64 = 14

    /// Whether the probes sampled transmits at all: only then does a call
    /// with none say its data did not leave in it.
    static func transmitsSampled(_ calls: [SyscallInvocation]) -> Bool {
        calls.contains { $0.kernel?.samples.contains { $0.tracepoint == KernelSample.transmitTracepoint } == true }
    }

    /// How many segments a send's samples show it queue on its own path
    /// (distinct skbs, `ownTransmits`); nil without kernel samples for the
    /// call, or when the probe set samples no transmits.
    static func segmentsQueued(_ call: SyscallInvocation, transmitSampled: Bool) -> Int? {
        guard transmitSampled, call.kernel?.source == .observed else { return nil }
        return Set(ownSegments(call).compactMap(\.skbAddress)).count
    }

    /// The bytes a send queued that its own segments did not carry (their
    /// lengths less the connection's headers, `headers`): 0 unless short by
    /// more than 40 B a segment (TCP options a header may have beyond the
    /// shortest packet's), so a header estimate never makes a shortfall.
    static func leftBehind(_ call: SyscallInvocation, value: Int64, headers: Int64?) -> Int64 {
        guard let headers else { return 0 }
        let own = ownSegments(call)
        let lengths = own.compactMap(\.packetLength)
        guard !own.isEmpty, lengths.count == own.count else { return 0 }
        let ipv6 = sendsIPv6(call.socket?.local)
        let carried = lengths.reduce(0) { $0 + dataBytes($1, headers: headers, ipv6: ipv6) }
        return value - carried > 40 * Int64(own.count) ? value - carried : 0
    }

    /// Whether a drop's stack shows it freed on a receive's way in (IP's
    /// input, after the device took it in) rather than on a way out (IP's
    /// output, before the device): the innermost of the two wins, as a
    /// receive's softirq may itself send (an ACK letting data go).
    static func isDroppedOnArrival(_ sample: KernelSample) -> Bool {
        let input: Set<String> = ["ip_rcv", "ip_rcv_core", "ip_rcv_finish", "ip_local_deliver", "ip_local_deliver_finish", "ip6_rcv", "ipv6_rcv",
                                  "ip6_rcv_core", "ip6_input", "ip6_input_finish", "tcp_v4_rcv", "tcp_v6_rcv", "udp_rcv", "udpv6_rcv",
                                  "__netif_receive_skb_core", "__netif_receive_skb_one_core"]
        let output: Set<String> = ["__ip_local_out", "ip_local_out", "ip_output", "ip_finish_output", "ip_finish_output2", "__ip_queue_xmit",
                                   "ip_queue_xmit", "__ip6_local_out", "ip6_local_out", "ip6_output", "ip6_finish_output", "ip6_xmit",
                                   "__dev_queue_xmit", "ip_send_skb", "ip6_send_skb"]
        // The chain runs innermost first: the first of each kind is the innermost.
        let innermostIn = sample.chain.firstIndex(where: input.contains), innermostOut = sample.chain.firstIndex(where: output.contains)
        guard let innermostIn else { return false }
        return innermostOut.map { innermostIn < $0 } ?? true
    }

    /// Drops of packets a receive on the call's stack built as its answer,
    /// on their way out (`PacketFlow` turned them round): the function that
    /// built each, and whether the peer's end did (else this end's).
    /// A connect draws its handshake's own (its ACK dropped before leaving).
    static func answersDropped(_ call: SyscallInvocation) -> [(sample: KernelSample, cause: String, builder: String, byPeer: Bool, onArrival: Bool)] {
        guard call.syscall != .connect else { return [] }
        let samples = call.kernel?.samples ?? []
        return samples.compactMap { sample in
            guard let cause = dropCause(sample), let flow = sample.flow, flow.owner == .peer || flow.owner == .ownSocket else { return nil }
            guard isDroppedOnArrival(sample) else {
                guard let builder = sample.answerBuilder else { return nil }
                return (sample, cause, builder, flow.owner == .peer, false)
            }
            // Dropped on arrival: an answer whose transmit, on this stack,
            // queued the skb freed (audit 48 F3: the client's ACK of the
            // server's FIN, built in the FIN's receive on the close's
            // stack and dropped by an input rule, was in the text and the
            // trace file but not drawn; the FIN was sent again).
            // (A segment of the call's own, drawn with the call, is not an answer.)
            guard let skb = sample.skbAddress,
                  let sent = samples.last(where: { $0.tracepoint == KernelSample.transmitTracepoint && $0.skbAddress == skb && $0.time <= sample.time }),
                  let builder = sent.answerBuilder, !ownTransmits(call).contains(where: { $0.skbAddress == skb }) else { return nil }
            return (sample, cause, builder, flow.owner == .peer, true)
        }
    }

    /// The functions that build a SYN-ACK answering a SYN taken in.
    static let synAckBuilders: Set<String> = ["tcp_v4_send_synack", "tcp_v6_send_synack"]

    /// The SYN-ACK sampled leaving in `call` (built in the SYN's receive on
    /// its stack: `synAckBuilders`) by `until`.
    static func synAckSent(in call: SyscallInvocation, until: MonotonicTime) -> KernelSample? {
        (call.kernel?.samples ?? []).first { sample in
            sample.tracepoint == KernelSample.transmitTracepoint && sample.time >= call.startTime && sample.time <= until
                && sample.chain.contains(where: synAckBuilders.contains)
        }
    }

    /// The segment a close or shutdown built and that was dropped on its
    /// way out, on the call's own path: its FIN (the call's own state
    /// change to FIN_WAIT1 or LAST_ACK sampled: the FIN was queued; built
    /// by __tcp_transmit_skb) or, for `reset`, its RST (tcp_send_active_reset).
    static func closingSegmentDropped(_ call: SyscallInvocation, reset: Bool) -> KernelSample? {
        let samples = call.kernel?.samples ?? []
        let finQueued = samples.contains { sample in
            sample.tracepoint == "sock:inet_sock_set_state" && !sample.sides.softirq
                && [TCPState.finWait1, TCPState.lastAck].contains(sample.fields["newstate"]?.number ?? -1)
        }
        guard reset || finQueued else { return nil }
        return samples.first { drop in
            dropCause(drop) != nil && !isDroppedOnArrival(drop) && !drop.sides.softirq
                && !drop.chain.contains(where: KernelSample.packetReceiveFrames.contains)
                && drop.chain.contains(reset ? "tcp_send_active_reset" : "__tcp_transmit_skb")
        }
    }

    /// A drop the kernel gave a reason for, as the notes name it
    /// (`skb:kfree_skb NETFILTER_DROP`); nil for any other sample.
    /// A socket's queue emptied as the socket is destroyed (QUEUE_PURGE:
    /// `sk_stream_kill_queues`) frees what it held — a FIN taken in and
    /// never read, a segment kept to be sent again — and loses nothing on
    /// the way: never a drop (audit 47: "its FIN dropped on arrival" for a
    /// FIN taken in and acknowledged, freed with the closed client's queue).
    static func dropCause(_ sample: KernelSample) -> String? {
        guard sample.tracepoint == "skb:kfree_skb", sample.summary.hasPrefix("drop: "), !isQueuePurge(sample) else { return nil }
        return sample.heading.replacingOccurrences(of: "drop: ", with: "")
    }

    static func isQueuePurge(_ sample: KernelSample) -> Bool {
        if sample.tracepoint == "skb:kfree_skb", case .symbol("QUEUE_PURGE", _)? = sample.fields["reason"] { return true }
        return false
    }

    /// A segment sent again (on __tcp_retransmit_skb's path: an ACK the
    /// call's backlog took in led to it), drawn as such from its
    /// tcp:tcp_retransmit_skb, not as one of the call's new segments
    /// (audit 37 F1: counted in a run's segments and drawn again).
    static func isRetransmission(_ sample: KernelSample) -> Bool {
        sample.chain.contains("__tcp_retransmit_skb") || sample.chain.contains("tcp_retransmit_skb")
    }

    /// Nil without kernel samples for the call, or when the probe set
    /// samples no transmits.
    static func departure(_ call: SyscallInvocation, transmitSampled: Bool) -> Departure? {
        guard transmitSampled, let kernel = call.kernel, kernel.source == .observed else { return nil }
        let own = kernel.samples.filter { $0.flow == nil || $0.flow?.owner == .ownSocket }
        let sent = own.filter { $0.tracepoint == KernelSample.transmitTracepoint && !isRetransmission($0) }
        if !sent.isEmpty {
            // This send's own segments: those queued on its path, not a
            // retransmission a softirq on its stack sent.
            // Freed as it arrived: on the receive's path, not on a way out
            // (audit 40 F1: a reused address dropped by netfilter on output,
            // in the call's backlog, said "dropped on arrival"); and the skb
            // that address last held before the drop was one of this send's
            // own segments (audit 42 F2: a retransmission of an earlier
            // send's bytes on a reused address).
            let transmits = kernel.samples.filter { $0.tracepoint == KernelSample.transmitTracepoint }
            let mine = Set(ownSegments(call).map(\.time))
            var dropped: [Int64] = [], reason: String?
            for sample in kernel.samples where sample.tracepoint == "skb:kfree_skb" && isDroppedOnArrival(sample) {
                guard let skb = sample.skbAddress, case let .symbol(why, _)? = sample.fields["reason"], why != "NOT_SPECIFIED", why != "QUEUE_PURGE",
                      let held = transmits.last(where: { $0.skbAddress == skb && $0.time <= sample.time }), mine.contains(held.time) else { continue }
                dropped.append(skb)
                reason = reason ?? why
            }
            if let reason { return .droppedOnArrival(reason, skbs: dropped) }
            return .sent
        }
        for sample in own where sample.tracepoint == "skb:kfree_skb" && !sample.chain.contains(where: KernelSample.packetReceiveFrames.contains) {
            if case let .symbol(reason, _)? = sample.fields["reason"], reason != "NOT_SPECIFIED", reason != "QUEUE_PURGE" { return .dropped(reason) }
        }
        return .held
    }
}

/// PlantUML sequence diagram text.
public enum PlantUMLRenderer {
    static let ids: [SequenceDiagram.Participant: String] = [.client: "client", .clientKernel: "clientKernel", .serverKernel: "serverKernel", .server: "server"]

    /// PlantUML reads `\n` in a message as a line break and `~` as its escape.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "~", with: "~~").replacingOccurrences(of: "\\", with: "~\\")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\"", with: "'")
    }

    public static func render(_ diagram: SequenceDiagram) -> String {
        var out = "@startuml\n"
        out += "title connection #\(diagram.connection.id): \(escape(diagram.connection.title))\n"
        for other in diagram.others where other.id != diagram.connection.id {
            out += "' also connection #\(other.id): \(other.title) (--connection \(other.id))\n"
        }
        let kinds: [SequenceDiagram.Participant: String] = [.client: "participant", .clientKernel: "box", .serverKernel: "box", .server: "participant"]
        for participant in SequenceDiagram.Participant.allCases {
            let keyword = kinds[participant] == "box" ? "control" : "participant"
            out += "\(keyword) \"\(escape(diagram.names[participant] ?? participant.rawValue))\" as \(ids[participant]!)\n"
        }
        for step in diagram.steps {
            switch step {
            case let .message(from, to, text, reply, _):
                out += "\(ids[from]!) \(reply ? "-->" : "->") \(ids[to]!) : \(escape(text))\n"
            case let .note(over, text):
                out += "note over \(over.map { ids[$0]! }.joined(separator: ", ")) : \(escape(text))\n"
            case let .delay(text):
                out += "... \(escape(text)) ...\n"
            }
        }
        out += "@enduml\n"
        return out
    }
}
