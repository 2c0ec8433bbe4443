import Glibc

/// Signal-delivery-stops and group-stops, resuming a stopped thread, and
/// detaching.
extension Tracer {
    // MARK: signals

    /// A signal about to be delivered: reported with its siginfo, then
    /// passed on as it came.
    func signalStop(_ thread: TracedThread, signal: Int32) {
        if let info = ptrace.signalInfo(thread.tid) {
            var event = processEvent(.signal, tid: thread.tid, pid: thread.process.pid)
            event.signal = info.signal
            event.signalInfo = info
            if let unwinder { event.userStack = unwinder.stack(pid: thread.process.pid, tid: thread.tid, bits32: thread.process.architecture == .i386) }
            emit(.process(event))
        }
        resume(thread, signal: signal)
    }

    /// A group-stop (SIGSTOP, SIGTSTP…): reported, and the thread kept
    /// stopped as the signal asked.
    func groupStop(_ thread: TracedThread, signal: Int32) {
        var event = processEvent(.stopped, tid: thread.tid, pid: thread.process.pid)
        event.signal = signal
        emit(.process(event))
        // Stay stopped as the signal asked, without blocking other events.
        _ = ptrace.listen(thread.tid)
        thread.stopped = false
        thread.listening = true
    }

    // MARK: resuming

    /// Lets a stopped thread run on: to the next traced syscall (seccomp), or
    /// to the next syscall stop (without seccomp, or to see this one's exit).
    func resume(_ thread: TracedThread, toSyscallExit: Bool = false, signal requested: Int32 = 0) {
        thread.stopped = false
        var signal = requested
        if signal == 0 && thread.deferredSignal != 0 {
            signal = thread.deferredSignal
            thread.deferredSignal = 0
        }
        let wantSyscallStops = !seccompActive || toSyscallExit
        // A failure is ESRCH: killed meanwhile (SIGKILL, exit_group), its
        // exit status is on its way.
        _ = ptrace.resume(thread.tid, wantSyscallStops ? .toSyscall : .toSeccompStop, signal: signal)
    }

    func resume(_ thread: TracedThread, toSyscallExit: Bool = false, sealing memory: StopMemory) {
        resume(thread, toSyscallExit: toSyscallExit)
        memory.seal()
    }

    // MARK: detaching

    /// Detaches from every tracee, leaving them running: each is interrupted
    /// into a ptrace-stop first, as PTRACE_DETACH requires.
    func detachAll() {
        // Stops already collected (and, with --functions, every thread's) go first, with their signals.
        for stop in removeFunctionBreakpointsForDetach() {
            detach(tid: stop.tid, after: stop.status)
        }
        for thread in tasks.threads.values where !thread.stopped {
            _ = ptrace.interrupt(thread.tid)
        }
        for thread in tasks.threads.values where thread.stopped {
            _ = ptrace.detach(thread.tid, signal: 0)
            tasks.forget(thread.tid)
            emit(.process(processEvent(.detached, tid: thread.tid, pid: thread.process.pid)))
        }
        while !tasks.isEmpty {
            switch ptrace.waitAny(.block) {
            case let .stop(tid, status):
                detach(tid: tid, after: status)
            case .failed(EINTR), .nothing:
                continue
            case .failed:
                return
            }
        }
    }

    /// Detaches a thread from the stop `status` reported (or records its end).
    func detach(tid: Int32, after status: Int32) {
        guard let thread = tasks[tid] else { return }
        settleAwaitedExits(tid)
        let stop = Stop(waitStatus: status)
        if stop.isEnd {
            threadGone(tid, stop: stop)
            return
        }
        // A signal that was about to be delivered is delivered on detach.
        var pending = stop.pendingSignal ?? 0
        if pending == 0 { pending = thread.deferredSignal }
        _ = ptrace.detach(tid, signal: pending)
        tasks.forget(tid)
        emit(.process(processEvent(.detached, tid: thread.tid, pid: thread.process.pid)))
    }
}
