/// What `sockettrace compare` says about a trace's kernel side, beyond each
/// operation's chains (`OperationSummary`): per operation and tracepoint,
/// how many samples and how long after the call's entry they came; the
/// chains no operation of the model was chosen for; samples taken outside
/// any traced call; and each connection's handshake as the kernel saw it.
public struct KernelComparison: Sendable, Codable {
    /// Samples of one tracepoint under calls of one operation.
    public struct Timing: Sendable, Codable {
        public var operation: String
        public var tracepoint: String
        public var samples = 0
        /// Microseconds from the call's entry to each sample, sorted.
        public var fromEntry: [Double] = []
        /// Whose clock stamped the calls' entries: `kernel` (a read or
        /// write the kernel recorded: its sys_enter), `tracer` (a call the
        /// tracer stopped at: its entry stop, some tens of µs before the
        /// kernel's entry), or nil (an `exit` row, from its first sample).
        /// Rows never mix them (audit 34 M1).
        public var entryClock: String?
        /// Of `samples`, those of another connection taken out of the call
        /// they were sampled in (not timed: that call is not theirs).
        public var outsideItsCall = 0
        /// Of `samples`, softirq work a traced thread ran between its calls
        /// for packets not known to be a traced socket's (not timed).
        public var unknownBetweenCalls = 0

        /// The middle value; of an even count, the mean of the two middle ones.
        public var median: Double? {
            guard !fromEntry.isEmpty else { return nil }
            let middle = fromEntry.count / 2
            return fromEntry.count % 2 == 1 ? fromEntry[middle] : (fromEntry[middle - 1] + fromEntry[middle]) / 2
        }
    }

    /// A chain, or a softirq part of one, that no operation was chosen for.
    public struct Unmodelled: Sendable, Codable {
        public var context: String
        /// Outermost first, plumbing left out.
        public var frames: [String]
        public var samples = 0
    }

    /// connect's SYN to ESTABLISHED on the client's socket (sock:inet_sock_set_state).
    public struct KernelHandshake: Sendable, Codable {
        public var connection: String
        public var microseconds: Double
    }

    public var timings: [Timing] = []
    public var unmodelled: [Unmodelled] = []
    /// Kernel events recorded outside every traced call, of every kind
    /// below (audit 50 F3: the line that said "outside every traced call"
    /// counted only the first kind, 0 beside 31 such events).
    public var eventsOutsideCalls = 0
    /// Of them: taken in traced threads between their calls, not known to
    /// be work for a traced connection or another connection's.
    public var outsideCalls = 0
    /// Of them: work for traced connections outside the traced tasks; the
    /// same taken in traced threads between their calls; other
    /// connections' packets and events (taken out of the calls).
    public var elsewhereEvents = 0, betweenCallsEvents = 0, otherFlowEvents = 0
    /// Softirq samples under calls, by whose packet they handled
    /// (`PacketFlow.Owner`), and other connections' packets taken out of
    /// the calls they were sampled in.
    public var packets: [String: Int] = [:]
    /// Softirq samples under calls that carry no packet (a TCP state change
    /// a packet caused), by whose socket changed (audit 15: counted among
    /// the packets, a peer's state change read as a packet from the peer).
    public var socketChanges: [String: Int] = [:]
    /// Work for traced connections outside the traced tasks (timers on any
    /// CPU, ksoftirqd), by the operation its chain was aligned with.
    public var elsewhere: [String: Int] = [:]
    /// The same work taken in a traced thread between its calls (a timer
    /// that fired while it ran), by operation (audit 11: counted as outside).
    public var betweenCalls: [String: Int] = [:]
    /// Softirq work traced threads ran between their calls for packets not
    /// known to be a traced socket's (perhaps another program's).
    public var unknownBetweenCalls = 0
    public var handshakes: [KernelHandshake] = []

    /// `exits`: processes whose exit released sockets, with their kernel
    /// activity: its samples count under `exit OPERATION`, timed from the
    /// release's first sample.
    public init(calls: [SyscallInvocation], strayEvents: [KernelSample], exits: [ProcessEvent] = []) {
        // Not counted outside the calls: other connections' packets taken out of calls, and work for traced connections.
        eventsOutsideCalls = strayEvents.count
        for event in strayEvents {
            if event.flow?.owner == .otherFlow { otherFlowEvents += 1 }
            else if event.task == nil { outsideCalls += 1 }
            else if event.inTracedTask != nil { betweenCallsEvents += 1 }
            else { elsewhereEvents += 1 }
        }
        unknownBetweenCalls = strayEvents.filter { $0.task == nil && $0.inTracedTask != nil && $0.flow?.owner == .unverified }.count
        for event in strayEvents where event.task != nil {
            let operation = event.alignments?.first?.operation ?? "(unmodelled) " + event.tracepoint
            if event.inTracedTask != nil { betweenCalls[operation, default: 0] += 1 } else { elsewhere[operation, default: 0] += 1 }
        }
        packets[PacketFlow.Owner.otherFlow.rawValue] = strayEvents.filter { $0.flow?.owner == .otherFlow }.count
        var timingIndex: [String: Int] = [:]
        var unmodelledIndex: [String: Int] = [:]
        let works: [(call: SyscallInvocation?, activity: KernelActivity, start: MonotonicTime, title: String?)] =
            calls.compactMap { call in call.kernel.map { (call, $0, call.startTime, nil) } }
            + exits.compactMap { event in
                event.exitKernel.map { activity in
                    (nil, activity, activity.samples.map(\.time).min() ?? .now(), activity.operation.map { "exit " + $0 } ?? "exit")
                }
            }
        for (call, activity, start, title) in works {
            guard activity.source == .observed else { continue }
            for sample in activity.samples {
                if let owner = sample.flow?.owner {
                    if sample.fields["skbaddr"] != nil { packets[owner.rawValue, default: 0] += 1 } else { socketChanges[owner.rawValue, default: 0] += 1 }
                }
                // A sample counts once, under its own operation: softirq work
                // on the call's stack under the softirq's (a delayed ACK's
                // timer during a UDP send is not the send's).
                let parts = sample.chain.isEmpty ? nil : ChainAligner.split(sample.chain)
                var operation = title ?? activity.operation ?? "(no operation)"
                // A syscall's own frames under the operation they were aligned with (the handshake's
                // last ACK under tcp_connect_ack, its SYN under tcp_connect: audit 6).
                if sample.role == .chain, let syscall = parts?.syscall, !syscall.isEmpty,
                   let own = activity.alignment(of: sample, where: { $0.observed == syscall && $0.isSyscallPart && $0.countsTheSample }) {
                    operation = (title == nil ? "" : "exit ") + own.operation
                }
                if let softirq = parts?.softirq, !softirq.isEmpty {
                    // An event's stack is not aligned (probes.conf's role): it is no unmodelled chain.
                    operation = sample.role != .chain ? "(event in softirq work)"
                        : activity.alignment(of: sample) { $0.observed == softirq && $0.countsTheSample }?.operation ?? "(unmodelled softirq)"
                }
                let clock = call.map { $0.recordedByKernel ? "kernel" : "tracer" }
                let key = operation + "|" + sample.tracepoint + "|" + (clock ?? "")
                if timingIndex[key] == nil {
                    timingIndex[key] = timings.count
                    var timing = Timing(operation: operation, tracepoint: sample.tracepoint)
                    timing.entryClock = clock
                    timings.append(timing)
                }
                timings[timingIndex[key]!].samples += 1
                timings[timingIndex[key]!].fromEntry.append(Double(sample.time.nanoseconds &- start.nanoseconds) / 1000)
                guard sample.role == .chain, let parts else { continue }
                var missing: [(String, [String])] = []
                if activity.operation == nil && !parts.syscall.isEmpty {
                    missing.append((call.map { "syscall \($0.syscall.rawValue)" } ?? "exit", parts.syscall))
                }
                if !parts.softirq.isEmpty && !activity.alignments.contains(where: { $0.observed == parts.softirq && $0.countsTheSample }) {
                    missing.append(("softirq", parts.softirq))
                }
                for (context, frames) in missing {
                    let key = context + "|" + frames.joined(separator: ",")
                    if unmodelledIndex[key] == nil {
                        unmodelledIndex[key] = unmodelled.count
                        unmodelled.append(Unmodelled(context: context, frames: frames))
                    }
                    unmodelled[unmodelledIndex[key]!].samples += 1
                }
            }
            if let call, call.syscall == .connect, let handshake = Self.handshake(activity) {
                let title = call.socket.map { "\($0.protocolLabel) \($0.local.map { "\($0)" } ?? "?") → \($0.peer.map { "\($0)" } ?? "?")" } ?? "?"
                handshakes.append(KernelHandshake(connection: title, microseconds: handshake))
            }
        }
        // Other connections' work taken out of the calls it ran in counts
        // under its own operation too (audit 19: a delayed ACK's timer that
        // fired during a UDP call had no row); its call is not its own, so
        // it has no time from an entry.
        for event in strayEvents where event.flow?.owner == .otherFlow || (event.task == nil && event.inTracedTask != nil && event.flow?.owner == .unverified) {
            let operation = event.role != .chain ? "(event in softirq work)"
                : event.alignments?.first(where: \.countsTheSample)?.operation ?? "(unmodelled softirq)"
            let key = operation + "|" + event.tracepoint
            if timingIndex[key] == nil {
                timingIndex[key] = timings.count
                timings.append(Timing(operation: operation, tracepoint: event.tracepoint))
            }
            timings[timingIndex[key]!].samples += 1
            if event.flow?.owner == .otherFlow { timings[timingIndex[key]!].outsideItsCall += 1 } else { timings[timingIndex[key]!].unknownBetweenCalls += 1 }
        }
        for index in timings.indices { timings[index].fromEntry.sort() }
    }

    /// SYN_SENT to ESTABLISHED among a connect's state changes, in µs.
    /// The handshake of a connect that TCP Fast Open deferred (it left the
    /// socket in SYN_SENT and sent nothing), made by the first send: from
    /// that send's SYN, queued on tcp_connect's path, to ESTABLISHED, in
    /// microseconds. (From SYN_SENT it would count the program's pause
    /// between its connect and its send.)
    static func handshakeFromSyn(_ activity: KernelActivity) -> Double? {
        guard let syn = activity.samples.first(where: { $0.tracepoint == KernelSample.transmitTracepoint && !$0.sides.softirq
                                                        && $0.chain.contains("tcp_connect") }),
              let established = activity.samples.first(where: { $0.tracepoint == "sock:inet_sock_set_state"
                  && $0.fields["oldstate"]?.number == TCPState.synSent && $0.fields["newstate"]?.number == TCPState.established }),
              established.time >= syn.time else { return nil }
        return Double(established.time.nanoseconds - syn.time.nanoseconds) / 1000
    }

    static func handshake(_ activity: KernelActivity) -> Double? {
        let changes = activity.samples.filter { $0.tracepoint == "sock:inet_sock_set_state" }
        guard let sent = changes.first(where: { $0.fields["newstate"]?.number == TCPState.synSent }),
              let established = changes.first(where: { $0.fields["oldstate"]?.number == TCPState.synSent
                  && $0.fields["newstate"]?.number == TCPState.established }),
              established.time >= sent.time else { return nil }
        return Double(established.time.nanoseconds - sent.time.nanoseconds) / 1000
    }

    public var text: String {
        var out = ""
        if !timings.isEmpty {
            out += "\nsamples per operation and tracepoint (softirq work under its own operation; µs from the entry of the call it ran in, min / median / max:"
                + " `from entry stop` rows from the tracer's stop at the call's entry, tens of µs or more (under load) before the kernel's own entry;"
                + " `from kernel entry` rows from the kernel's sys_enter, for the reads and writes it recorded; `exit` rows from the release's first sample)\n"
            // Columns as wide as their longest entry (audit 19: names cut to 22 ran into the tracepoint).
            let operationWidth = timings.map(\.operation.count).max()! + 2, tracepointWidth = timings.map(\.tracepoint.count).max()! + 2
            for timing in timings {
                let range = [timing.fromEntry.first, timing.median, timing.fromEntry.last].map { $0.map { String(Int($0.rounded())) } ?? "?" }
                out += "  " + timing.operation.padding(toLength: operationWidth, withPad: " ", startingAt: 0)
                    + timing.tracepoint.padding(toLength: tracepointWidth, withPad: " ", startingAt: 0)
                    + "\(timing.samples) sample\(timing.samples == 1 ? "" : "s"), "
                    + (timing.fromEntry.isEmpty ? "" : range.joined(separator: " / ")
                        + (timing.entryClock.map { $0 == "kernel" ? " from kernel entry" : " from entry stop" } ?? ""))
                    + [timing.outsideItsCall == 0 ? nil : "\(timing.outsideItsCall) another connection's, taken out of the call it ran in (not timed)",
                       timing.unknownBetweenCalls == 0 ? nil : "\(timing.unknownBetweenCalls) between calls, whose not known (not timed)"]
                        .compactMap { $0 }.joined(separator: "; ").prefixed(by: timing.fromEntry.isEmpty ? "" : "; ") + "\n"
            }
        }
        out += "\nunmodelled chains (no operation of the model was chosen for them): \(unmodelled.map(\.samples).reduce(0, +)) samples\n"
        for chain in unmodelled {
            out += "  \(chain.context) (×\(chain.samples)): " + chain.frames.joined(separator: " → ") + "\n"
        }
        out += "kernel events outside every traced call: \(eventsOutsideCalls)"
        let kinds = [outsideCalls == 0 ? nil : "\(outsideCalls) in traced threads between their calls"
                        + (unknownBetweenCalls == 0 ? "" : ", \(unknownBetweenCalls) of them softirq work for packets not known to be a traced socket's"),
                     elsewhereEvents == 0 ? nil : "\(elsewhereEvents) work for traced connections outside the traced tasks",
                     betweenCallsEvents == 0 ? nil : "\(betweenCallsEvents) work for traced connections in traced threads between their calls",
                     otherFlowEvents == 0 ? nil : "\(otherFlowEvents) other connections', taken out of the calls"].compactMap { $0 }
        out += (kinds.isEmpty ? "" : " (" + kinds.joined(separator: "; ") + ")") + "\n"
        let owners: [(PacketFlow.Owner, String)] = [(.ownSocket, "sent by the call's socket"), (.peer, "sent to it by its peer"), (.kernelReply, "the kernel's answers to its packets"),
                                                    (.unverified, "unverified"), (.otherFlow, "other connections' (taken out of the calls)")]
        if !elsewhere.isEmpty {
            out += "work for traced connections outside the traced tasks (timers, ksoftirqd): "
                + elsewhere.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "\n"
        }
        if !betweenCalls.isEmpty {
            out += "work for traced connections in traced threads between their calls (timers that fired there): "
                + betweenCalls.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "\n"
        }
        out += "softirq samples on calls' stacks, by whose packet: "
            + owners.map { "\(packets[$0.0.rawValue] ?? 0) \($0.1)" }.joined(separator: ", ") + "\n"
        if !socketChanges.isEmpty {
            let sockets: [(PacketFlow.Owner, String)] = [(.ownSocket, "the call's socket's"), (.peer, "its peer's"), (.unverified, "unverified")]
            out += "state changes in softirqs on calls' stacks, by whose socket changed: "
                + sockets.map { "\(socketChanges[$0.0.rawValue] ?? 0) \($0.1)" }.joined(separator: ", ") + "\n"
        }
        for handshake in handshakes {
            out += "handshake as the kernel saw it (SYN_SENT → ESTABLISHED): \(handshake.connection) \(Int(handshake.microseconds.rounded())) µs\n"
        }
        return out
    }
}

private extension String {
    /// `prefix` and the string, or nothing when it is empty.
    func prefixed(by prefix: String) -> String { isEmpty ? "" : prefix + self }
}
