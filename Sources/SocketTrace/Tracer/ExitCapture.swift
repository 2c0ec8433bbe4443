import Foundation

/// The kernel's work at a process's exit: when it holds sockets no other
/// traced process holds, its end releases them (do_exit → exit_files …
/// task_work_run → __fput → sock_close → … tcp_close: the FIN). The
/// kernel detaches a task's own perf events early in do_exit, before its
/// files go (6.18: a per-task `perf record` misses that FIN, a system-wide
/// one sees it), so the tracer stops each exiting thread at
/// PTRACE_EVENT_EXIT (before exit_files) and, before resuming it, has the
/// sampler open events on every CPU for every task with an in-kernel
/// filter on the exiting threads' ids; they are drained and closed when
/// the process's end is written.
protocol ExitCaptureSource: AnyObject {
    /// Samples what `threads` of process `pid` do from now on (widening a
    /// capture already open for it); false when it cannot.
    func captureExit(of pid: Int32, threads: [Int32]) -> Bool
    /// Closes the process's capture; what it sampled, oldest first. The
    /// caller drains the rings first (`KernelSampler.drain`).
    func endExitCapture(of pid: Int32) -> [KernelSample]
    /// The processes whose capture is open.
    var capturedExits: [Int32] { get }
}

extension Tracer {
    /// Whether threads stop at their exit: only while the kernel's work is
    /// sampled (the stop costs a wait and a resume per thread that ends).
    var stopsAtExits: Bool { exitCaptures != nil }

    /// PTRACE_EVENT_EXIT: the thread has begun to exit and still holds its
    /// files. When its process holds sockets its end would release (no
    /// other traced process holds them), their release is captured from
    /// now on: this thread's, and every exiting thread's of the process
    /// (whichever drops the descriptor table last releases the sockets).
    func threadExiting(_ thread: TracedThread) {
        guard let capture = exitCaptures else { return }
        let process = thread.process
        reconcileDescriptors(process, tid: thread.tid)
        if process.exitingThreads.isEmpty && releasedAtExit(process, closesInFlight: false) == nil {
            if !process.table.entries.isEmpty { process.exitStoppedSharing.insert(thread.tid) }
            return
        }
        process.exitingThreads.insert(thread.tid)
        process.exitCaptured = capture.captureExit(of: process.pid, threads: process.exitingThreads.sorted())
    }

    /// The process's descriptors as its table still is at a thread's exit
    /// stop (/proc/TID/fd), where the traced calls did not show them all:
    /// those they left open that it no longer holds were closed out of
    /// their sight (io_uring's IORING_OP_CLOSE, in io_uring_enter or its
    /// workers), so the exit does not release them (audit 98 B: an exit was
    /// said to release a socket io_uring had closed 75 ms before); one that
    /// now names another file went the same way. And where it holds an
    /// io_uring instance (`anon_inode:[io_uring]`), the sockets it holds
    /// that no traced call made (IORING_OP_SOCKET, IORING_OP_ACCEPT) are
    /// learnt from /proc, so the exit names what it releases (audit 99 F:
    /// two connections' FINs were given to their listener's release).
    /// Nothing changes when the table cannot be read.
    func reconcileDescriptors(_ process: TracedProcess, tid: Int32) {
        guard let open = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(tid)/fd") else { return }
        // What each descriptor names (`socket:[123]`, a path), read once.
        var targets: [Int32: String] = [:]
        for fd in open.compactMap({ Int32($0) }) { targets[fd] = KernelSocketLookup.descriptorTarget(pid: tid, fd: fd) ?? "" }
        for fd in process.table.entries.keys { forgetIfChanged(fd, in: process.table, target: targets[fd]) }
        let unknown = targets.filter { process.table[$0.key] == nil && KernelSocketLookup.socketInode(fromTarget: $0.value) != nil }.keys
        // Sockets a traced call made that io_uring connected: no addresses yet (`5<TCP>`, created).
        let unaddressed = process.table.entries.filter { $0.value.socket.peer == nil && [.created, .bound].contains($0.value.socket.state) }
        guard !unknown.isEmpty || !unaddressed.isEmpty, targets.values.contains(RingSetupCall.ringTarget) else { return }
        let tracker = SocketTracker(pid: tid, table: process.table, memory: ptrace.memory(of: tid), resolveAddresses: configuration.resolveAddresses)
        for fd in unknown.sorted() { _ = tracker.socket(fd) }
        // Their addresses and state as the kernel has them.
        for (fd, entry) in unaddressed {
            tracker.refreshFromKernel(entry.socket, fd: fd)
            guard entry.socket.peer != nil, entry.socket.type == SocketTypeNumber.stream else { continue }
            switch KernelSocketLookup.tcpState(pid: tid, fd: fd) {
            case TCPState.synSent?: entry.socket.state = .connecting
            case TCPState.close?, TCPState.listen?, nil: break
            default: entry.socket.state = .connected
            }
        }
    }

    /// A close of `socket` by `closer` (at its entry, its descriptor gone
    /// from its table): a process that stopped at its exit while the
    /// closer still held its sockets may now be the last to hold them, so
    /// its exit may release them after all (audit 17: a forking server's
    /// child exits holding the connection while its parent has yet to
    /// close its copy). Its capture opens now, before the close runs: its
    /// threads may not have reached their files yet.
    func captureExitsLeftHolding(_ socket: SocketInfo, closer: TracedProcess, by call: SyscallInvocation) {
        guard let capture = exitCaptures else { return }
        for other in tasks.processes.values where other !== closer && !other.exitStoppedSharing.isEmpty && !other.exitCaptured {
            guard other.table.entries.values.contains(where: { socket.isSame(as: $0.socket) }),
                  releasedAtExit(other, closesInFlight: false) != nil else { continue }
            other.exitingThreads.formUnion(other.exitStoppedSharing)
            other.exitStoppedSharing = []
            other.exitCaptured = capture.captureExit(of: other.pid, threads: other.exitingThreads.sorted())
            if other.exitCaptured { other.exitCaptureOpenedBy = "\(call.pid)'s close(\(call.argument(0)))" }
        }
    }

    /// Why a process's release was not sampled, when it was not.
    func exitNotObserved(_ process: TracedProcess) -> String {
        if exitCaptures == nil {
            return kernel?.sampler == nil ? "kernel observation is off" : "exits are not captured (--no-exit-capture)"
        }
        if !process.exitingThreads.isEmpty { return "the capture of its exit could not be opened" }
        if !process.exitStoppedSharing.isEmpty {
            return "at its exit stop another traced process still held them (no capture was opened), and no traced close let go of them before it ended"
        }
        return "its threads did not stop at their exit"
    }

    /// A process ended (its last thread's exit status): a process whose
    /// exit was captured is written with what the capture saw, at output time.
    func processEndedEvent(_ event: ProcessEvent, process: TracedProcess) {
        var event = event
        if event.releasedSockets != nil || event.perhapsReleasedSockets != nil {
            if process.exitCaptured {
                event.exitCaptureOpened = process.exitCaptureOpenedBy.map { "when \($0) let go of the last other reference" } ?? "at the exit stop"
            } else {
                event.exitNotObserved = exitNotObserved(process)
            }
        }
        if process.exitCaptured || !process.exitingThreads.isEmpty {
            submit(.processEnded(event, captured: process.exitCaptured))
            process.exitCaptured = false
            process.exitingThreads = []
        } else {
            emit(.process(event))
        }
        process.exitStoppedSharing = []
        process.exitCaptureOpenedBy = nil
    }

    /// Writes a process's end with what its exit's release did in the
    /// kernel: the samples its capture took, attributed and aligned with
    /// the model's close operations (`exitKernel`). Without a capture (it
    /// could not be opened) the event says nothing of the kernel's work.
    func performProcessEnded(_ event: ProcessEvent, captured: Bool) {
        guard let capture = exitCaptures, captured else {
            sink.handle(.process(event))
            return
        }
        // The release ran before the exit status came: its samples are in the rings.
        if let kernel, let sampler = kernel.sampler { drainKernelSamples(sampler) }
        let samples = capture.endExitCapture(of: event.pid)
        if attribution != nil {
            attribute(.processEnded(event, exitSamples: samples))
        } else {
            sink.handle(.process(event))
        }
    }

    /// After an exec, the threads de_thread ended are gone; the process
    /// lives on: their capture (which names only them) ends with nothing.
    func endExitCaptureAtExec(_ process: TracedProcess) {
        guard let capture = exitCaptures, process.exitCaptured || !process.exitingThreads.isEmpty else { return }
        process.exitingThreads = []
        if process.exitCaptured { _ = capture.endExitCapture(of: process.pid) }
        process.exitCaptured = false
    }
}
