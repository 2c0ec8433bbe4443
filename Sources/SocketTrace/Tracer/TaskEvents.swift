/// The stops that change the task table: a task seen for the first time,
/// fork/vfork/clone events, exec, and a task's end.
extension Tracer {
    /// An event about a tracee, with its current name.
    func processEvent(_ kind: ProcessEvent.Kind, tid: Int32, pid: Int32, parent: Int32? = nil) -> ProcessEvent {
        var event = ProcessEvent(kind, tid: tid, pid: pid)
        event.parent = parent
        event.name = tasks.name(of: tid, reading: kind == .started || kind == .attached || kind == .exec, from: ptrace)
        return event
    }

    /// A task's first stop, before its creator's event says who it is.
    func newTracee(_ tid: Int32) -> TracedThread {
        let (tgid, parent) = ptrace.ids(of: tid)
        tasks.awaitingCreatorEvent.insert(tid)
        if tgid != tid, let process = tasks.processes[tgid] {
            // A new thread whose first stop came before its creator's clone
            // event: said now (the clone event then finds it known), so its
            // lines are its process's.
            let thread = tasks.add(tid, to: process, starting: true)
            emit(.process(processEvent(.started, tid: tid, pid: tgid, parent: tgid)))
            return thread
        }
        let process = tasks.newProcess(tgid, parent: parent.flatMap { tasks[$0]?.process })
        recordDataCalls(of: process, running: true)
        let thread = tasks.add(tid, to: process, starting: true)
        thread.awaitingParent = tracesFunctions && parent.flatMap { tasks[$0]?.process.breakpoints } != nil
        emit(.process(processEvent(.started, tid: tid, pid: tgid, parent: parent)))
        return thread
    }

    /// A fork, vfork or clone event: `child` is known now, unless its first
    /// stop came first.
    func childCreated(_ child: Int32, by parent: TracedThread, vfork: Bool) {
        let (tgid, _) = ptrace.ids(of: child)
        if tracesFunctions && tgid == child, let setup = childBreakpoints(of: parent, vfork: vfork) {
            if let early = tasks[child], early.awaitingParent {
                // Its first stop came first and it was held there.
                early.awaitingParent = false
                adoptParentBreakpoints(setup, child: early)
                resume(early)
            } else if tasks[child] == nil {
                functionTracing?.pendingChildren[child] = setup
            }
        }
        tasks.awaitingCreatorEvent.remove(child)
        // It ended before this event came: not made anew (it would stay in the table for good).
        if tasks.endedBeforeCreatorEvent.remove(child) != nil { return }
        // If the child's first stop came first, it copied the table then, before the parent ran on.
        guard tasks[child] == nil else { return }
        if tgid != child, let process = tasks.processes[tgid] {
            tasks.add(child, to: process, starting: true)
            emit(.process(processEvent(.started, tid: child, pid: tgid, parent: parent.tid)))
            return
        }
        let process = tasks.newProcess(child, parent: parent.process)
        recordDataCalls(of: process, running: true)
        tasks.add(child, to: process, starting: true)
        emit(.process(processEvent(.started, tid: child, pid: child, parent: parent.process.pid)))
    }

    /// A successful exec: the process's other threads are gone, and a
    /// non-leader that execs takes the leader's id (the event message has
    /// the id it had).
    func execed(_ thread: TracedThread) {
        let former = ptrace.eventMessage(thread.tid).map { Int32(truncatingIfNeeded: $0) } ?? thread.tid
        let process = thread.process
        for tid in process.threads where tid != thread.tid {
            if tid == former { continue }
            if let gone = tasks[tid] { unwindAllFunctions(gone) }
            tasks.forget(tid)
        }
        if former != thread.tid {
            if let gone = tasks[former] { unwindAllFunctions(gone) }
            tasks.forget(former)
        }
        process.threads = [thread.tid]
        thread.current = nil
        if tracesFunctions {
            unwindAllFunctions(thread)
            process.breakpoints = nil
            placeFunctionBreakpoints(process, tid: thread.tid)
        }
        let carried = droppingReleased(from: process, by: nil) { process.table.applyExec() }
        recordDataCalls(of: process, running: true)
        endExitCaptureAtExec(process)
        unwinder?.forget(process.pid)
        var event = processEvent(.exec, tid: thread.tid, pid: process.pid)
        event.formerTid = former
        event.command = ptrace.commandLine(of: process.pid)
        if !carried.isEmpty { event.releasedInMessages = carried }
        // The close-on-exec releases ran before this stop (task work in
        // its ptrace_notify): written before the exec, not after it with
        // earlier times (audit 80 minor).
        emitStrayKernelSamples()
        emit(.process(event))
    }

    /// A task exited or was killed: its call in flight never returns, and
    /// the launched program's end is the tracer's exit status.
    func threadGone(_ tid: Int32, stop: Stop) {
        guard let (thread, processEnded) = tasks.remove(ended: tid) else { return }
        if tasks.awaitingCreatorEvent.remove(tid) != nil { tasks.endedBeforeCreatorEvent.insert(tid) }
        thread.stopped = false
        let heldSockets = !thread.releasesOnReturn.isEmpty
        thread.process.heldByEndedCalls += thread.releasesOnReturn
        thread.releasesOnReturn = []
        dataCalls?.forgetThread(tid)
        stopWatchingDestination(of: tid)
        threadEndedInCall(tid)
        unwindAllFunctions(thread)
        if processEnded {
            unwinder?.forget(thread.process.pid)
            recordDataCalls(of: thread.process, running: false)
        }
        if var call = thread.current, thread.currentShown {
            // Its end lets go of the sockets another thread's call left to it (audit 83 P2).
            if heldSockets { call.releasesHeldSockets = true }
            // The socket it ran on, as at its entry (its packets are named by it: audit 83 c).
            if call.socket == nil, let socket = thread.socketAtEntry, case .arguments([0]) = call.syscall.socketPlace {
                call.socket = SocketSnapshot(fd: Int32(truncatingIfNeeded: call.argument(0)), socket: socket)
            }
            // The kernel's times of it: a call the kernel ended (its
            // sys_exit: done, or cut short by the signal that ended the
            // thread) before the program could see its result (audit 84 a:
            // a sendto that had sent 3.9 MB said only "never returned").
            if let times = dataCalls?.kernelTimes(of: tid), times.entered(call) {
                call.kernelEntryTime = times.entry
                if let exit = times.exit, exit >= times.entry { call.kernelExitTime = exit }
            }
            emit(.syscallAbandoned(call))
        }
        var event: ProcessEvent
        switch stop {
        case let .killed(signal, coreDumped):
            event = ProcessEvent(.killed, tid: tid, pid: thread.process.pid)
            event.signal = signal
            event.coreDumped = coreDumped
            if tid == launchedPid { launchedStatus = .killed(signal: signal, coreDumped: coreDumped) }
        case let .exited(status):
            event = ProcessEvent(.exited, tid: tid, pid: thread.process.pid)
            event.status = status
            if tid == launchedPid { launchedStatus = .exited(status) }
        default:
            return
        }
        event.name = tasks.takeName(of: tid)
        // The thread's work outside its calls (a file's release in task
        // work as its last call returned) is written before its end, not
        // after it with earlier times (audit 82 P3).
        emitStrayKernelSamples()
        guard processEnded else {
            emit(.process(event))
            return
        }
        (event.releasedSockets, event.releasedInMessages) = releaseAtExit(thread.process)
        event.perhapsReleasedSockets = perhapsReleasedAtExit(thread.process)
        processEndedEvent(event, process: thread.process)
    }
}
