/// What a process's exit did in the kernel for the sockets it released:
/// the samples its exit capture took (`ExitCaptureSource`), aligned with
/// the model's close operations by their `exit` entry (do_exit →
/// task_work_run → __fput → sock_close → …). The frames above do_exit
/// (exit_group's, or a fatal signal's get_signal) are shown as they are.
extension KernelCorrelator {
    /// The model's entry for an exit (`entry exit`).
    static let exitEntry = StackOperation.exitEntry

    /// The exit's activity: `samples` (the capture's, oldest first), their
    /// packets attributed (one released socket: its flow), each chain
    /// aligned with the close operation among those the released sockets
    /// fit that explains it best.
    public func exitActivity(samples: [KernelSample], released: [SocketSnapshot], tid: Int32) -> KernelActivity {
        // Files freed at the exit are no close's release (`FileRelease`).
        let samples = keepingOwnFileFree(samples, in: nil)
        var candidates: [StackOperation] = []
        // Each released socket's own operation (nil: the model has none for it).
        var own: [String?] = []
        for snapshot in released {
            // A connection the kernel closed before the exit (a reset): its release sends nothing.
            let socket = connectionStates.asKernelLeftIt(snapshot, before: samples.first?.time ?? .now()).socket ?? snapshot
            let fitting = model?.exitOperations(socket: socket) ?? []
            own.append(fitting.first?.name)
            for operation in fitting where !candidates.contains(where: { $0.name == operation.name }) {
                candidates.append(operation)
            }
        }
        connectionStates.record(samples)
        // Several sockets released: which one a packet on the exit's path is
        // (a listener's release may reset connections not yet accepted) is not read.
        let attributed = attributeFlows(samples, socket: released.count == 1 ? released.first : nil, by: "the exit of \(tid)",
                                        noSocket: "the exit released \(released.count) sockets, and which one's packet this is is not read")
        otherFlows += attributed.others
        let mine = attributed.kept
        let chains = mine.filter { $0.role == .chain && !$0.chain.isEmpty }
        var (operation, perSample) = operations(for: chains, candidates: candidates, entry: Self.exitEntry)
        // Nothing sampled: one operation is said for the exit only when it
        // is every released socket's (audit 24: a UDP, a raw and a UNIX
        // socket's release were labelled tcp_close_unconnected, a TCP
        // socket's beside them).
        if chains.isEmpty && Set(own).count > 1 { operation = nil }
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
}
