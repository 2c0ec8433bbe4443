import Glibc

/// What `--functions` keeps across stops: the programs' functions read
/// once per file, the breakpoint state a forked child inherits, and stops
/// collected while other threads were paused, for the main loop to handle.
final class FunctionTracing {
    let patterns: [String]
    /// Program file → its matching functions (nil: unreadable or unsupported).
    var programs: [String: ProgramFunctions?] = [:]
    /// New child processes whose breakpoint state is known before their first stop.
    var pendingChildren: [Int32: ChildBreakpoints] = [:]
    /// Stops waited for out of turn (a thread paused while another stepped).
    var stashed: [(tid: Int32, status: Int32)] = []
    /// Breakpoints placed, over the whole run.
    var placed = 0
    /// Programs that could not be read, each said once.
    var complaints: [String] = []

    init(patterns: [String]) { self.patterns = patterns }

    /// A forked or vforked child's view of its parent's breakpoints.
    struct ChildBreakpoints {
        let breakpoints: Breakpoints
        /// vfork: the same memory as the parent.
        let shared: Bool
        let stack: [ActiveFunction]
    }
}

extension Tracer {
    var tracesFunctions: Bool { functionTracing != nil }

    // MARK: placing

    /// Breakpoints at the entry of each matching function of the program
    /// process `process` runs now (after exec, or when attached).
    func placeFunctionBreakpoints(_ process: TracedProcess, tid: Int32) {
        guard let state = functionTracing else { return }
        process.functionsPlaced = true
        process.breakpoints = nil
        guard let path = ProgramFunctions.executablePath(pid: process.pid) else { return }
        let program: ProgramFunctions?
        if let known = state.programs[path] {
            program = known
        } else {
            do {
                program = try ProgramFunctions.load(path: path, patterns: state.patterns)
            } catch {
                program = nil
                state.complaints.append("--functions: \(error)")
                diagnostic?("--functions: \(error)")
            }
            state.programs[path] = program
        }
        guard let program, !program.functions.isEmpty, let bias = program.loadBias(pid: process.pid) else { return }
        let breakpoints = Breakpoints(ptrace: ptrace)
        for function in program.functions {
            let address = function.address &+ bias
            if breakpoints.insert(address, tid: tid) {
                breakpoints.entries[address] = function
                state.placed += 1
            }
        }
        process.breakpoints = breakpoints
    }

    /// A child's first stop: its memory holds its parent's breakpoints.
    func adoptParentBreakpoints(_ setup: FunctionTracing.ChildBreakpoints, child thread: TracedThread) {
        let process = thread.process
        process.functionsPlaced = true
        thread.functionStack = setup.stack
        guard !setup.shared else {
            process.breakpoints = setup.breakpoints
            return
        }
        let breakpoints = setup.breakpoints.copy()
        // Return breakpoints of the parent's other calls are in the copy of
        // its memory too; only the child's own calls keep theirs.
        var own: [UInt64: Int] = [:]
        for frame in setup.stack { own[frame.returnAddress, default: 0] += 1 }
        for address in Array(breakpoints.returns.keys) {
            if let count = own[address] {
                breakpoints.returns[address] = count
            } else {
                breakpoints.returns[address] = nil
                if breakpoints.entries[address] == nil { breakpoints.remove(address, tid: thread.tid) }
            }
        }
        process.breakpoints = breakpoints
    }

    /// The parent's fork event: what its child inherits.
    func childBreakpoints(of parent: TracedThread, vfork: Bool) -> FunctionTracing.ChildBreakpoints? {
        guard let breakpoints = parent.process.breakpoints else { return nil }
        return FunctionTracing.ChildBreakpoints(breakpoints: breakpoints, shared: vfork, stack: vfork ? [] : parent.functionStack)
    }

    // MARK: hitting

    /// A SIGTRAP stop: if the thread hit one of sockettrace's breakpoints,
    /// reports the entry or return, steps over it and resumes the thread.
    func functionBreakpointHit(_ thread: TracedThread) -> Bool {
        guard let breakpoints = thread.process.breakpoints else { return false }
        guard let registers = ptrace.registers(thread.tid) else { return false }
        let address = registers.ip &- 1
        if breakpoints.wasBreakpoint(address), ptrace.peekWord(thread.tid, at: address).map({ UInt8(truncatingIfNeeded: $0) != Breakpoints.int3 }) == true {
            // It hit a return breakpoint another thread's return took out while
            // its trap waited (a call in progress at attach is not counted):
            // back before the instruction, which now runs as the program has it.
            _ = ptrace.setInstructionPointer(thread.tid, to: address)
            resume(thread)
            return true
        }
        guard breakpoints.isBreakpoint(address) else { return false }
        if thread.repeatedBreakpoint == address {
            thread.repeatedBreakpoint = nil
            stepOver(thread, at: address, breakpoints)
            return true
        }
        thread.repeatedBreakpoint = nil
        let time = MonotonicTime.now()
        if breakpoints.returns[address] != nil { functionReturned(thread, to: address, registers, time: time) }
        if let function = breakpoints.entries[address] { functionEntered(thread, function, registers, time: time) }
        stepOver(thread, at: address, breakpoints)
        return true
    }

    func functionEntered(_ thread: TracedThread, _ function: ProgramFunction, _ registers: Registers, time: MonotonicTime) {
        guard let returnAddress = ptrace.peekWord(thread.tid, at: registers.sp) else { return }
        var event = FunctionEvent(.entry, pid: thread.process.pid, tid: thread.tid, function: function.name,
                                  depth: thread.functionStack.count, time: time)
        event.arguments = function.parameters.map { arguments($0, registers: registers, pid: thread.process.pid) }
        thread.functionStack.append(ActiveFunction(function: function, returnAddress: returnAddress,
                                                   entryStack: registers.sp, entryTime: time))
        thread.process.breakpoints?.expectReturn(to: returnAddress, tid: thread.tid)
        emit(.function(event))
    }

    /// At a return breakpoint: the calls of this thread that returned here
    /// (the stack pointer just above their return address), and any left
    /// without returning (longjmp) below it.
    func functionReturned(_ thread: TracedThread, to address: UInt64, _ registers: Registers, time: MonotonicTime) {
        while let top = thread.functionStack.last, top.entryStack &+ 8 < registers.sp {
            leave(thread, top, time: time, returnValue: nil)
        }
        while let top = thread.functionStack.last, top.returnAddress == address, top.entryStack &+ 8 == registers.sp {
            leave(thread, top, time: time, returnValue: registers.ret)
        }
    }

    /// Pops the innermost call: returned with `returnValue`, or unwound (nil).
    func leave(_ thread: TracedThread, _ frame: ActiveFunction, time: MonotonicTime, returnValue: UInt64?) {
        thread.functionStack.removeLast()
        thread.process.breakpoints?.returned(to: frame.returnAddress, tid: writer(for: thread))
        var event = FunctionEvent(.exit, pid: thread.process.pid, tid: thread.tid, function: frame.function.name,
                                  depth: thread.functionStack.count, time: time)
        event.entryTime = frame.entryTime
        if let returnValue, let kind = frame.function.returns, kind != .void {
            event.returnValue = value(returnValue, kind: kind, pid: thread.process.pid)
        } else if returnValue == nil {
            event.unwound = true
        }
        emit(.function(event))
    }

    /// A stopped thread of `thread`'s process to write its memory through.
    func writer(for thread: TracedThread) -> Int32 {
        if thread.stopped { return thread.tid }
        return tasks.stoppedThread(of: thread.process) ?? thread.tid
    }

    /// The thread ended or execed inside traced functions: they never return.
    func unwindAllFunctions(_ thread: TracedThread) {
        let time = MonotonicTime.now()
        while let top = thread.functionStack.last { leave(thread, top, time: time, returnValue: nil) }
    }

    /// The SysV x86-64 integer registers in order, for the parameters that
    /// travel in them; the others are shown as `?`.
    func arguments(_ parameters: [FunctionParameter], registers: Registers, pid: Int32) -> [FunctionEvent.Argument] {
        let values = registers.arguments
        var next = 0
        var registersUsable = true
        return parameters.map { parameter in
            guard registersUsable, parameter.kind.inIntegerRegister, next < values.count else {
                // A structure may take registers or the stack: what follows is unknown.
                if !parameter.kind.inIntegerRegister { registersUsable = false }
                return .init(name: parameter.name, value: "?")
            }
            defer { next += 1 }
            return .init(name: parameter.name, value: value(values[next], kind: parameter.kind, pid: pid))
        }
    }

    func value(_ raw: UInt64, kind: ValueKind, pid: Int32) -> String {
        switch kind {
        case let .signed(size):
            let shift = UInt64(64 - 8 * min(max(size, 1), 8))
            return String(Int64(bitPattern: raw << shift) >> Int64(shift))
        case let .unsigned(size):
            return String(size >= 8 ? raw : raw & ((1 << UInt64(8 * size)) - 1))
        case .boolean:
            return raw & 0xff == 0 ? "false" : "true"
        case .pointer:
            return raw == 0 ? "NULL" : "0x" + String(raw, radix: 16)
        case .string:
            guard raw != 0 else { return "NULL" }
            let limit = configuration.decodeOptions.stringLimit
            let memory = ptrace.memory(of: pid)
            guard let bytes = memory.read(raw, count: limit + 1) else { return "0x" + String(raw, radix: 16) }
            let text = bytes.prefix { $0 != 0 }
            let truncated = text.count > limit
            return QuotedString.render(text.prefix(limit), truncated: truncated, hex: configuration.decodeOptions.hexStrings)
        case .other, .void:
            return "?"
        }
    }

    // MARK: stepping

    /// Runs the instruction under a breakpoint with its original byte back,
    /// the process's other running threads paused meanwhile so that none
    /// passes the spot unseen, then puts the breakpoint back.
    func stepOver(_ thread: TracedThread, at address: UInt64, _ breakpoints: Breakpoints) {
        let tid = thread.tid
        _ = ptrace.setInstructionPointer(tid, to: address)
        let paused = pauseOtherThreads(of: thread)
        breakpoints.lift(address, tid: tid)
        var other: Int32?
        while ptrace.resume(tid, .singleStep, signal: 0) == 0 {
            guard let status = ptrace.waitStatus(of: tid, allThreads: true) else { break }
            let stop = Stop(waitStatus: status)
            if case let .signal(signal) = stop {
                if signal == SIGTRAP { break }
                // Delivered when the thread runs on, with the breakpoint back.
                thread.deferredSignal = signal
                continue
            }
            if stop.isInterrupt {
                // An interrupt asked earlier (while it was already stopped), before the step ran.
                continue
            }
            // A syscall stop, an exit: the main loop handles it.
            other = status
            break
        }
        let writer = other.map { Stop(waitStatus: $0).isStopped } ?? true ? tid : paused.first?.tid
        if let writer { breakpoints.lower(address, tid: writer) }
        for pausedThread in paused { resume(pausedThread, toSyscallExit: pausedThread.current != nil) }
        if let other {
            // Stopped before the instruction ran: the next hit here is this one again.
            if Stop(waitStatus: other).isStopped, ptrace.registers(tid)?.ip == address {
                thread.repeatedBreakpoint = address
            }
            functionTracing?.stashed.append((tid, other))
        } else {
            resume(thread)
        }
    }

    /// Interrupts the threads of `thread`'s process that may be running
    /// user code. Threads inside a traced syscall are left alone: they stop
    /// at its exit before running any. Stops other than the interrupt are
    /// kept for the main loop.
    func pauseOtherThreads(of thread: TracedThread) -> [TracedThread] {
        var paused: [TracedThread] = []
        for tid in thread.process.threads where tid != thread.tid {
            guard let other = tasks[tid], !other.stopped, !other.listening, other.current == nil,
                  !(functionTracing?.stashed.contains { $0.tid == tid } ?? false),
                  ptrace.interrupt(tid) == 0,
                  let status = ptrace.waitStatus(of: tid, allThreads: true) else { continue }
            let stop = Stop(waitStatus: status)
            other.stopped = stop.isStopped
            if stop.isInterrupt {
                other.starting = false
                paused.append(other)
            } else {
                functionTracing?.stashed.append((tid, status))
            }
        }
        return paused
    }

    // MARK: detaching

    /// The wait status of a PTRACE_INTERRUPT stop.
    static var interruptStopStatus: Int32 { 0x7f | (SIGTRAP << 8) | (Stop.Event.stop.rawValue << 16) }

    /// Before detaching: every thread stopped, every breakpoint removed,
    /// and a thread caught on a breakpoint put back before it. Returns the
    /// stops collected, for the detach to deliver their signals.
    func removeFunctionBreakpointsForDetach() -> [(tid: Int32, status: Int32)] {
        var collected = functionTracing?.stashed ?? []
        functionTracing?.stashed = []
        let spaces = tasks.processes.values.filter { $0.breakpoints != nil }
        guard !spaces.isEmpty else { return collected }
        for thread in tasks.threads.values where !thread.stopped {
            guard ptrace.interrupt(thread.tid) == 0,
                  let status = ptrace.waitStatus(of: thread.tid, allThreads: true) else { continue }
            let stop = Stop(waitStatus: status)
            thread.stopped = stop.isStopped
            thread.listening = false
            if !stop.isInterrupt { collected.append((thread.tid, status)) }
        }
        var former: [Int32: Breakpoints] = [:]
        for process in spaces {
            guard let breakpoints = process.breakpoints,
                  let writer = tasks.stoppedThread(of: process) else { continue }
            former[process.pid] = breakpoints.copy()
            breakpoints.removeAll(tid: writer)
            process.breakpoints = nil
        }
        // A thread that hit a breakpoint before the interrupt reran nothing yet: back to the instruction.
        return collected.map { stop in
            guard Stop(waitStatus: stop.status) == .signal(SIGTRAP),
                  let process = tasks[stop.tid]?.process, let breakpoints = former[process.pid] else { return stop }
            guard let registers = ptrace.registers(stop.tid),
                  breakpoints.isBreakpoint(registers.ip &- 1) || breakpoints.wasBreakpoint(registers.ip &- 1) else { return stop }
            _ = ptrace.setInstructionPointer(stop.tid, to: registers.ip &- 1)
            // Now a plain ptrace-stop with no signal to deliver.
            return (stop.tid, Self.interruptStopStatus)
        }
    }
}
