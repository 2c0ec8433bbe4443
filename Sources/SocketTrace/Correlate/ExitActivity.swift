/// What a process's exit did in the kernel for the sockets it released:
/// the samples its exit capture took (`ExitCaptureSource`), aligned with
/// the model's close operations by their `exit` entry (do_exit →
/// task_work_run → __fput → sock_close → …). The frames above do_exit
/// (exit_group's, or a fatal signal's get_signal) are shown as they are.
extension KernelCorrelator {
    /// The model's entry for an exit (`entry exit`).
    static let exitEntry = StackOperation.exitEntry

    /// Whether `samples` show the TCP socket's own connect abandoned: its
    /// 4-tuple's state change SYN_SENT → TCP_CLOSE, not in softirq work.
    static func abandonsConnect(_ socket: SocketSnapshot, _ samples: [KernelSample]) -> Bool {
        guard socket.isTCP, let local = socket.local?.forPairing, let peer = socket.peer?.forPairing else { return false }
        return samples.contains { sample in
            sample.tracepoint == "sock:inet_sock_set_state" && !sample.sides.softirq
                && sample.fields["oldstate"]?.number == TCPState.synSent && sample.fields["newstate"]?.number == TCPState.close
                && sample.flowEndpoints.map { $0.source == local && $0.destination == peer } == true
        }
    }

    /// The exit's activity: `samples` (the capture's, oldest first), their
    /// packets attributed (one released socket: its flow), each chain
    /// aligned with the close operation among those the released sockets
    /// fit that explains it best.
    /// `perhaps`: sockets it may release (`ProcessEvent.perhapsReleasedSockets`).
    /// `pid`: the process (its release runs in whichever of its threads lets go of its files last).
    public func exitActivity(samples: [KernelSample], released: [SocketSnapshot], tid: Int32, pid: Int32? = nil,
                             perhaps: [SocketSnapshot] = []) -> KernelActivity {
        let pid = pid ?? tid
        // Files freed at the exit are no close's release (`FileRelease`).
        let samples = keepingOwnFileFree(samples, in: nil)
        // One entry per socket: two descriptors of one socket (a dup) are
        // one socket released (audit 78 F5: counted twice).
        let released = Self.distinct(released)
        let perhaps = Self.distinct(perhaps).filter { socket in !released.contains { $0.inode != nil && $0.inode == socket.inode } }
        var candidates: [StackOperation] = []
        // Each released socket's operations, narrowest first, for the samples that name it.
        var bySocket: [(socket: SocketSnapshot, operations: [StackOperation])] = []
        for snapshot in released + perhaps {
            // A connection the kernel closed before the exit (a reset): its release sends nothing.
            var socket = connectionStates.asKernelLeftIt(snapshot, before: samples.first?.time ?? .now()).socket ?? snapshot
            // A connect still under way (a deferred Fast Open connect, which
            // the calls believe connected), as the exit's own state change
            // of the socket shows it: SYN_SENT → TCP_CLOSE, nothing to send
            // (audit 97 F1: told a FIN's, or with SO_LINGER 0 a reset's).
            if Self.abandonsConnect(socket, samples) { socket.state = .connecting }
            let fitting = model?.exitOperations(socket: socket) ?? []
            bySocket.append((socket, fitting))
            for operation in fitting where !candidates.contains(where: { $0.name == operation.name }) {
                candidates.append(operation)
            }
        }
        connectionStates.record(samples)
        // Several sockets released: which one a packet on the exit's path is
        // (a listener's release may reset connections not yet accepted) is not read.
        let count = "\(released.count) socket\(released.count == 1 ? "" : "s")" + (perhaps.isEmpty ? "" : " and perhaps \(perhaps.count) more")
        let attributed = attributeFlows(samples, socket: released.count == 1 && perhaps.isEmpty ? released.first : nil, by: "the exit of process \(pid)",
                                        noSocket: released.count == 1 && perhaps.isEmpty ? nil : "the exit released \(count), and which one's packet this is is not read",
                                        released: released.count == 1 && perhaps.isEmpty && released[0].peer != nil ? nil
                                            : ReleasedSockets(sockets: released, by: "the exit"))
        otherFlows += attributed.others
        let mine = attributed.kept
        let chains = mine.filter { $0.role == .chain && !$0.chain.isEmpty }
        var (operation, perSample) = operations(for: chains, candidates: candidates, entry: Self.exitEntry)
        // Several sockets released: the exit's task work releases the files
        // one after another on the exiting thread (task_work_run → __fput),
        // and a TCP socket's release begins with its state change, whose
        // addresses name it (taken on the release's own frames, not in a
        // softirq on them, which names the packet's socket). So the samples
        // from a socket's named state change up to another socket's are its
        // release, their operation chosen together among the narrowest that
        // fit that socket, as a close's are (audit 73 M1: a listener's LISTEN
        // → CLOSE named tcp_close_reset_unread, another released socket's;
        // audit 74 N1: an unread-data reset's state change named tcp_close,
        // the others' FIN close, without the reset sent after it). The
        // exit's whole choice wins a tie; the exit has one operation only
        // when all of its samples agree.
        if bySocket.count > 1 {
            var releases: [Int: [Int]] = [:]
            var releasing: Int?
            for (index, sample) in chains.enumerated() {
                if !sample.sides.softirq, let socket = Self.releasedSocket(named: sample, among: bySocket.map(\.socket)) { releasing = socket }
                if let releasing { releases[releasing, default: []].append(index) }
            }
            for (socket, indices) in releases {
                // Those for its state when the model has some (a listener's
                // release is tcp_close_listener's, whatever else its frames
                // fit); else all that fit its family (a v4-mapped IPv6
                // socket's reset leaves through IPv4's output: audit 75 m3).
                let fitting = bySocket[socket].operations
                let stated = fitting.filter { $0.sockets.specificity >= SocketKind.stateSpecificity }
                var narrowest = stated.isEmpty ? fitting : stated.filter { $0.sockets.specificity == stated.first?.sockets.specificity }
                if let whole = operation, let index = narrowest.firstIndex(where: { $0.name == whole.name }) {
                    narrowest.insert(narrowest.remove(at: index), at: 0)
                }
                let chosen = narrowest.isEmpty ? indices.map { _ in nil }
                    : operations(for: indices.map { chains[$0] }, candidates: narrowest, entry: Self.exitEntry).perSample
                for (index, choice) in zip(indices, chosen) { perSample[index] = choice }
            }
            if Set(perSample.map { $0?.name }).count > 1 { operation = nil }
        }
        // Nothing sampled: one operation is said for the exit only when it
        // is every released socket's own (audit 24: a UDP, a raw and a UNIX
        // socket's release were labelled tcp_close_unconnected, a TCP
        // socket's beside them; 9401276 had dropped this rule).
        if chains.isEmpty && Set(bySocket.map { $0.operations.first?.name }).count > 1 { operation = nil }
        var alignments: [ChainAlignment] = []
        for (sample, sampleOperation) in zip(chains, perSample) {
            for var alignment in align(sample.frames, operation: sampleOperation, entry: Self.exitEntry, family: sample.pathFamily) {
                alignment.sample = sample.heading
                alignments.append(alignment)
            }
        }
        return KernelActivity(operation: operation?.name, source: mine.isEmpty ? .expected : .observed,
                              expected: expected(operation, entry: Self.exitEntry).names, samples: mine, alignments: alignments)
    }

    /// `sockets` with one entry per socket (inode).
    static func distinct(_ sockets: [SocketSnapshot]) -> [SocketSnapshot] {
        var seen: Set<UInt64> = []
        return sockets.filter { $0.inode.map { seen.insert($0).inserted } ?? true }
    }

    /// Which of `sockets` a sample's addresses are: its local end and its
    /// peer (a listener's, or an unconnected socket's, no peer).
    static func releasedSocket(named sample: KernelSample, among sockets: [SocketSnapshot]) -> Int? {
        guard let (source, destination) = sample.flowEndpoints else { return nil }
        let found = sockets.indices.filter { index in
            guard let local = sockets[index].local?.forPairing, local == source else { return false }
            if let peer = sockets[index].peer?.forPairing { return peer == destination }
            return destination.isUnspecified
        }
        return found.count == 1 ? found[0] : nil
    }
}
