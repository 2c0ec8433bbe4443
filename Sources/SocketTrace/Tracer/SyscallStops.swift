import Foundation

/// A syscall stop, in strace's phases: at the entry, decode (the call from
/// the registers), trace (shown or only tracked, the socket table, the
/// text) and finish (resume, then report); at the exit the same three on
/// the result. The thread runs on before anything is written.
extension Tracer {
    func syscallStop(_ thread: TracedThread) {
        switch ptrace.syscallInfo(thread.tid) {
        case let .entry(auditArch, number, arguments)?:
            syscallEntry(thread, auditArch: auditArch, number: number, arguments: arguments)
        case let .exit(rval, isError)?:
            syscallExit(thread, rval: rval, isError: isError)
        case .none?, nil:
            resume(thread)
        }
    }

    /// What the entry's trace phase leaves for its finish.
    struct TracedEntry {
        let shown: Bool
        let tracker: SocketTracker
        /// What was read of the stopped thread, sealed when it runs on.
        let memory: StopMemory
    }

    // MARK: entry

    func syscallEntry(_ thread: TracedThread, auditArch: UInt32, number: UInt64, arguments: [UInt64]) {
        thread.current = nil
        guard var call = decodeEntry(thread, auditArch: auditArch, number: number, arguments: arguments),
              let entry = traceEntry(thread, &call) else {
            resume(thread)
            return
        }
        finishEntry(thread, call, entry)
    }

    /// The call from the stop's registers (a socketcall's from its argument
    /// block); nil for a call sockettrace does not know.
    func decodeEntry(_ thread: TracedThread, auditArch: UInt32, number: UInt64, arguments: [UInt64]) -> SyscallInvocation? {
        guard let architecture = Architecture(auditArch: auditArch),
              var syscall = Syscall(number: number, architecture: architecture) else {
            if RingSetupCall.matches(number) { thread.process.descriptorsChangeUnseen = true }
            if let unwinder, let calls = configuration.memoryMapCalls, let architecture = Architecture(auditArch: auditArch),
               calls.contains(number, architecture: architecture) {
                // Its mappings are about to change: the next stack reads them again.
                unwinder.mappingsChanged(thread.process.pid)
            }
            return nil
        }
        let process = thread.process
        if process.architecture != architecture {
            // Said when a process starts running in another mode (exec of a
            // 32-bit program), not when a child inherits its parent's.
            if process.architecture != nil || architecture == .i386 {
                var event = processEvent(.personality, tid: thread.tid, pid: process.pid)
                event.architecture = architecture
                emit(.process(event))
            }
            process.architecture = architecture
        }
        var arguments = arguments
        var viaSocketcall = false
        if syscall == .socketcall {
            let memory = ptrace.memory(of: process.pid)
            guard let sub = Syscall(socketcallNumber: arguments[0] & 0xffff_ffff) else { return nil }
            let base = arguments[1] & 0xffff_ffff
            arguments = (0..<sub.argumentCount).map { memory.readUInt32(base + UInt64($0 * 4)).map(UInt64.init) ?? 0 }
            syscall = sub
            viaSocketcall = true
        }
        var call = SyscallInvocation(pid: process.pid, tid: thread.tid, architecture: architecture, syscall: syscall,
                                     arguments: arguments, viaSocketcall: viaSocketcall, entryTime: .now())
        if process.descriptorsChangeUnseen { forgetChangedDescriptors(of: call, in: process) }
        if tracesFunctions && !thread.functionStack.isEmpty { call.functions = thread.functionStack.map(\.function.name) }
        return call
    }

    /// Whether the call is shown or only tracked (nil: neither), its entry
    /// text, and what close changes in the socket table.
    func traceEntry(_ thread: TracedThread, _ call: inout SyscallInvocation) -> TracedEntry? {
        let process = thread.process
        let syscall = call.syscall
        let memory = StopMemory(ptrace.memory(of: process.pid))
        let (context, tracker) = self.context(for: process, architecture: call.architecture, memory: memory, marking: needsPlainText)
        let selection = configuration.selection
        var shown = selection.contains(syscall)
        if shown && selection.onlySocketDescriptors && syscall.isDescriptorCall {
            shown = involvesSocket(call, tracker: tracker)
        }
        let tracked = syscall.changesDescriptors && needsTableUpdate(call, tracker: tracker)
        guard shown || tracked else {
            if syscall == .close { process.table.remove(Int32(truncatingIfNeeded: call.argument(0))) }
            return nil
        }
        if shown {
            call.wallClock = WallClock.now()
            decodeShownEntry(&call, context)
            let atEntry = syscall != .socket && syscall != .socketpair ? tracker.socket(Int32(truncatingIfNeeded: call.argument(0))) : nil
            if dataCalls != nil { call.inodeAtEntry = atEntry?.inode }
            thread.socketAtEntry = syscall.takesSocketFirst ? atEntry : nil
            if syscall == .close {
                // close removes the descriptor: remember its socket now, and
                // whether other descriptors still hold it (then nothing is released).
                call.socket = socketSnapshot(for: call, tracker: tracker)
                if kernel?.sampler != nil, let socket = call.socket, socket.isTCP, ConnectionStates.callsLeaveOpen(socket.state) {
                    // What the kernel did to it without a call there to see it (a reset another task took in).
                    call.socket?.tcpState = KernelSocketLookup.tcpState(pid: thread.process.pid, fd: socket.fd)
                }
                if configuration.followForks, let fd = call.socket?.fd, let socket = process.table[fd]?.socket {
                    call.socket?.otherReferences = otherReferences(to: socket, besides: fd, in: process)
                    call.socket?.otherReferencesInMessages = referencesInMessages(to: socket)
                    // Its last reference: the messages waiting at it go with it,
                    // and the sockets only they held.
                    let thisOne = { (table: DescriptorTable, number: Int32) in table === process.table && number == fd }
                    if references(to: socket, excluding: thisOne) == 0 {
                        if let holder = holder(of: socket, besides: thread) {
                            // Another thread's call holds the file: the socket goes as it returns
                            // (or with the exit that ends that thread: audit 81 N1, a TCP one left out).
                            holder.releasesOnReturn.append(socket)
                        } else {
                            let carried = dropRightsWaiting(at: socket, fd: fd, table: process.table, excluding: thisOne)
                            call.releasedInMessages = carried.isEmpty ? nil : carried
                        }
                    }
                    // The descriptor is gone as soon as close begins (even when it
                    // fails): another process's close that follows counts it
                    // only while this one is in flight (`closing`).
                    process.table.remove(fd)
                    captureExitsLeftHolding(socket, closer: process, by: call)
                    thread.closing = socket
                }
            } else if syscall == .shutdown || syscall == .listen {
                // The socket as the call found it: whether its FIN already
                // left, or it listens, decides what this one does.
                call.socket = socketSnapshot(for: call, tracker: tracker)
            } else if syscall == .connect {
                // Whether it starts a connection, completes or repeats one, or ends it (AF_UNSPEC).
                let family = call.argument(1) == 0 ? nil
                    : memory.readExactly(call.argument(1), count: 2).map { UInt64($0.loadLittleEndian(UInt16.self, at: 0)) }
                // Its socket's packets sent elsewhere are kept by their
                // destination until its local port is known (its exit).
                if let elsewhere = kernel?.sampler?.elsewhereTransmits, family == UInt64(AF_INET) || family == UInt64(AF_INET6),
                   let bytes = memory.readExactly(call.argument(1), count: 4) {
                    let port = bytes.loadBigEndian(UInt16.self, at: 2)
                    if let earlier = connectDestinations.updateValue(port, forKey: thread.tid) { elsewhere.unwatch(destination: earlier) }
                    elsewhere.watch(destination: port)
                }
                call.connectStart = ConnectStart(state: tracker.socket(Int32(truncatingIfNeeded: call.argument(0)))?.state,
                                                 addressFamily: family)
                // A disconnect acts on the connection the socket had: the socket as the call found it.
                if call.connectStart?.disconnects == true { call.socket = socketSnapshot(for: call, tracker: tracker) }
            }
        }
        return TracedEntry(shown: shown, tracker: tracker, memory: memory)
    }

    /// Resumes the thread, to the call's exit stop or through it
    /// (`ExitStopPolicy`), and reports the entry.
    func finishEntry(_ thread: TracedThread, _ call: SyscallInvocation, _ entry: TracedEntry) {
        var call = call
        // A sendmsg passing descriptors stops at its exit: the table counts
        // the references it put in flight once it has succeeded (audit 73
        // M2: let run, they were never counted).
        if entry.shown && letsRunToExit(call) && !entry.tracker.passesDescriptors(call) {
            // Its exit gives nothing but the result, which the kernel's exit
            // record has: no second stop. What the exit stop would read of the
            // thread is read now (its stack is the same at both).
            if call.socket == nil { call.socket = socketSnapshot(for: call, tracker: entry.tracker) }
            // The only traced task: no other close can overlap it.
            thread.closing = nil
            if let unwinder { call.userStack = unwinder.stack(pid: thread.process.pid, tid: thread.tid, bits32: false) }
            // The call begins now: its duration leaves out the tracer's work
            // at the entry stop (the first such send opening its exit
            // tracepoint, up to ~20 ms, was counted in it).
            call.entryTime = .now()
            resume(thread, sealing: entry.memory)
            awaitedExits.add(call)
            emit(.syscallEntered(call))
            return
        }
        if configuration.measuresSystemTime { call.cpuTimeAtEntry = ThreadCPUTime.nanoseconds(tid: thread.tid) }
        // Everything read from the stopped thread is in `call` (and `memory`):
        // let it run while the entry is written. The call begins now.
        call.entryTime = .now()
        resume(thread, toSyscallExit: true, sealing: entry.memory)
        exitStopDue = true
        thread.current = call
        thread.currentShown = entry.shown
        if entry.shown { emit(.syscallEntered(call)) }
    }

    /// Whether a call's result can come from the kernel's exit record (`ExitStopPolicy`).
    func letsRunToExit(_ call: SyscallInvocation) -> Bool {
        ExitStopPolicy(records: exitRecords, seccompActive: seccompActive).letsRunToExit(call, tracedThreads: tasks.count)
    }

    // MARK: exit

    func syscallExit(_ thread: TracedThread, rval: Int64, isError: Bool) {
        guard var call = decodeExit(thread, rval: rval, isError: isError) else {
            resume(thread)
            return
        }
        let memory = traceExit(thread, &call)
        finishExit(thread, call, memory: memory)
    }

    /// The call the thread is inside, with its result and times; nil when
    /// sockettrace waited for no exit (a stop it did not ask for).
    func decodeExit(_ thread: TracedThread, rval: Int64, isError: Bool) -> SyscallInvocation? {
        thread.closing = nil
        guard var call = thread.current else { return nil }
        thread.current = nil
        let stopped = MonotonicTime.now()
        call.exitTime = stopped
        if let times = dataCalls?.kernelTimes(of: thread.tid), times.belong(to: call, returnedBy: stopped) {
            // The kernel's own entry (a busy machine can hold the thread from
            // a CPU for milliseconds after its entry stop). The call ends at
            // this stop, not at sys_exit: work deferred to the return to user
            // mode runs before it (a close's release in task_work before
            // 6.6: tcp_close after sys_exit, the lab's 6.1).
            call.kernelEntryTime = times.entry
            call.kernelExitTime = times.exit
            call.closedFile = times.closedFile
        }
        if let start = call.cpuTimeAtEntry, let end = ThreadCPUTime.nanoseconds(tid: thread.tid), end >= start {
            call.systemTime = Double(end - start) / 1e9
        }
        call.result = SyscallResult(rval: rval, isError: isError)
        return call
    }

    /// The socket table after the call, and a shown call's exit text, socket
    /// and stack. Returns what was read of the stopped thread.
    func traceExit(_ thread: TracedThread, _ call: inout SyscallInvocation) -> StopMemory {
        let memory = StopMemory(ptrace.memory(of: thread.process.pid))
        let (context, tracker) = self.context(for: thread.process, architecture: call.architecture, memory: memory,
                                              marking: thread.currentShown && needsPlainText)
        rightsDropped = []
        if !thread.releasesOnReturn.isEmpty { call.releasesHeldSockets = true }
        let carried = droppingReleased(from: thread.process, by: call.syscall, in: thread) {
            tracker.apply(call, received: receivedInFlight, took: tookRights, sent: sentRights)
        } + releasedOnReturn(of: thread)
        if !rightsDropped.isEmpty { call.rightsDropped = rightsDropped }
        if !carried.isEmpty { call.releasedInMessages = (call.releasedInMessages ?? []) + carried }
        guard thread.currentShown else { return memory }
        if call.socket == nil, let socket = thread.socketAtEntry, call.result?.errno != EBADF {
            // The socket the call ran on (as its own work left it), though
            // another thread's close took the descriptor away meanwhile:
            // looked up again, it was gone or half gone (audit 72 e: no
            // socket, or one of no family, and so no operation).
            call.socket = SocketSnapshot(fd: Int32(truncatingIfNeeded: call.argument(0)), socket: socket)
        }
        thread.socketAtEntry = nil
        decodeShownExit(&call, context, tracker: tracker, memory: memory)
        if let unwinder { call.userStack = unwinder.stack(pid: thread.process.pid, tid: thread.tid, bits32: thread.process.architecture == .i386) }
        return memory
    }

    /// A shown call's entry text (and strace's plain text beside it).
    func decodeShownEntry(_ call: inout SyscallInvocation, _ context: DecodingContext) {
        SyscallDecoder(context).enter(&call)
        if needsPlainText {
            // Decoded once: strace's plain text is the marked text without its decorations.
            call.plainText = PlainText(entryText: DecorationMarks.plain(call.entryText), exitText: DecorationMarks.plain(call.exitText))
            call.entryText = DecorationMarks.decorated(call.entryText)
            call.exitText = DecorationMarks.decorated(call.exitText)
        }
    }

    /// A shown call's exit and return texts, what it moved and its socket.
    func decodeShownExit(_ call: inout SyscallInvocation, _ context: DecodingContext, tracker: SocketTracker, memory: any TraceeMemory) {
        call.transferredBytes = Self.messageBytes(of: call, memory: memory)
        let exitTextAtEntry = call.exitText
        let decoder = SyscallDecoder(context)
        decoder.exit(&call)
        call.returnText = decoder.returnText(call)
        if needsPlainText {
            let entry = call.plainText
            let exitText = call.exitText == exitTextAtEntry ? (entry?.exitText ?? exitTextAtEntry) : DecorationMarks.plain(call.exitText)
            call.plainText = PlainText(entryText: entry?.entryText ?? call.entryText, exitText: exitText,
                                       returnText: DecorationMarks.plain(call.returnText))
            call.exitText = DecorationMarks.decorated(call.exitText)
            call.returnText = DecorationMarks.decorated(call.returnText)
        }
        if call.socket == nil { call.socket = socketSnapshot(for: call, tracker: tracker) }
    }

    func finishExit(_ thread: TracedThread, _ call: SyscallInvocation, memory: StopMemory) {
        guard thread.currentShown else {
            resume(thread)
            return
        }
        // Nothing below reads the thread: it runs on while the kernel's
        // samples (already in the rings) are attributed and the call written.
        resume(thread, sealing: memory)
        watchPorts(of: call.socket, tid: call.tid)
        submit(.finishedCall(call))
    }

    /// A traced call's socket's ports, both ends: the kernel's filter of
    /// packets sent outside the traced tasks keeps its flow's
    /// (`ElsewhereTransmits`).
    /// A connect's destination stops being watched once its own ports are.
    func watchPorts(of socket: SocketSnapshot?, tid: Int32) {
        guard let elsewhere = kernel?.sampler?.elsewhereTransmits else { return }
        // UDP too: a datagram dropped on its way in (elsewhere, by its headers) names its port.
        if let socket, socket.isTCP || socket.isUDP { elsewhere.watch(ports: [socket.local?.port, socket.peer?.port].compactMap { $0 }) }
        stopWatchingDestination(of: tid)
    }

    /// `tid`'s connect returned (its socket's own ports are watched now) or
    /// the thread ended inside it: its destination is no longer watched for it.
    func stopWatchingDestination(of tid: Int32) {
        if let port = connectDestinations.removeValue(forKey: tid) { kernel?.sampler?.elsewhereTransmits?.unwatch(destination: port) }
    }
}
