import Foundation

/// Reads and writes on sockets that ran without a stop: the kernel
/// recorded them (`DataCallCapture`), and each record goes through the
/// phases of a stop, decoded from the bytes it carries instead of the
/// thread's memory. Records are taken before every stop is handled and
/// before samples are judged to belong to no call, so a thread's calls
/// stay in order with the ones that stop, and its samples with its calls.
extension Tracer {
    /// Loads the kernel's recorder when the configuration and the kernel
    /// allow it (`TracerConfiguration.dataCallsMustStop`); the calls it
    /// records are left out of the seccomp filter. Where reads and writes
    /// must stop, it only times the calls and names a close's file
    /// (`DataCallCapture.recordsData`).
    func startDataCallCapture() {
        guard dataCalls == nil, seccompActive, let kernel, kernel.sampler != nil, kernel.functionGraph == nil else { return }
        let recordsData = configuration.dataCallsMustStop == nil
        do {
            dataCalls = try DataCallCapture(bytesCaptured: configuration.decodeOptions.stringLimit, recordsData: recordsData)
        } catch where !recordsData {
            diagnostic?("the kernel cannot time the calls (\(error)): what a close released is not told")
        } catch {
            diagnostic?("reads and writes stop the program: the kernel cannot record them (\(error))")
        }
    }

    /// Handles the records the ring holds: each is decoded at once (the
    /// socket table must be as the call found it), and written once no
    /// traced thread is inside a read or write it entered earlier, so that
    /// the timeline learns of calls in the order they began (the ring has
    /// them in the order they returned).
    /// `stopped`: the thread whose stop is about to be handled, and whether
    /// that stop shows it alive (not at its exit): what it says of an
    /// interrupted call of its applies before anything is written, so the
    /// call comes before the stop's own lines (a signal after ERESTARTSYS).
    /// `running`: the in-flight map if the caller has just looked at it.
    @discardableResult
    func takeRecordedCalls(stopped: (tid: Int32, alive: Bool)? = nil, running looked: [Int32: MonotonicTime]? = nil) -> Int {
        guard let dataCalls, dataCalls.recordsData else { return 0 }
        // Looked at before the ring is read: a call that returns after the
        // look has its record in a later drain.
        let runningByThread = looked?.filter { tasks[$0.key] != nil } ?? dataCalls.inFlight(among: tasks.threads.keys)
        let running = runningByThread.values.min()
        // Calls written unfinished that have returned hold the sinks before
        // any line is let go below.
        let returned = returnedBeforeTheirStop()
        if returned.contains(where: { tid, time in lastInFlightSent[tid].map { time < $0 } ?? true }) {
            lastInFlightSent.merge(returned, uniquingKeysWith: min)
            submit(.recordedCallsInFlight(lastInFlightSent, at: .now()))
        }
        let records = dataCalls.drain()
        for (index, record) in records.enumerated() {
            if index % 64 == 63 { drainKernelSamplesIfStale() }
            // The thread went on to another call: one it was interrupted in
            // had returned to it, and so had one it was let run through to
            // its exit (audit 33 F1: a sendto's samples taken as strays by
            // the recorded write after it, and the sendto written after it).
            settleAwaitedExits(record.tid)
            threadSeenAlive(record.tid)
            if let held = recordedCall(record) {
                if held.awaitsThread { interruptedHeld += 1 }
                heldCalls.append(held)
            }
        }
        if let stopped {
            if stopped.alive { threadSeenAlive(stopped.tid) } else { threadEndedInCall(stopped.tid) }
        }
        // The stopped thread's own held calls go before its stop's lines,
        // whatever other threads still run: its later call would take their
        // samples as its strays (audit 45 F1: socat's recorded writes held
        // behind its child's blocked read, their samples given to the next
        // stopped call of the same thread, and written late).
        let released = releaseHeldCalls(before: running, thread: stopped?.tid)
        // What the sinks cannot know yet: the calls running (but those just
        // written, which returned after the look) and those held back.
        var since = runningByThread.filter { !released.contains(ThreadInstant(tid: $0.key, time: $0.value)) }
        for held in heldCalls { since[held.call.tid] = min(since[held.call.tid] ?? held.call.entryTime, held.call.entryTime) }
        since.merge(returned, uniquingKeysWith: min)
        if since != lastInFlightSent {
            submit(.recordedCallsInFlight(since, at: .now()))
            lastInFlightSent = since
        }
        return records.count
    }

    /// Writes the decoded calls that began before `time` (all without it):
    /// their entries and ends in time order, as stops would have seen them.
    /// A call interrupted to be restarted (ERESTARTSYS and its kin) waits,
    /// and the calls that began after it, until its thread is seen again:
    /// alive (a signal's stop, another call), it returned so; ended (killed
    /// inside it, SIGKILL or another thread's exit_group), it never returned
    /// and is written unfinished, as strace writes it (audit 22).
    /// `thread`: a thread about to stop, whose calls all go (the sinks put
    /// lines in order across threads; a thread's own calls must come in its
    /// order, each with its samples).
    @discardableResult
    func releaseHeldCalls(before time: MonotonicTime?, thread: Int32? = nil) -> Set<ThreadInstant> {
        guard !heldCalls.isEmpty else { return [] }
        let interrupted = interruptedHeld == 0 ? nil : heldCalls.lazy.filter(\.awaitsThread).map(\.call.entryTime).min()
        let barrier = [time, interrupted].compactMap { $0 }.min()
        let (ready, waiting) = heldCalls.partitioned { held in
            !held.awaitsThread && (held.call.tid == thread || barrier.map { held.call.entryTime < $0 } ?? true)
        }
        heldCalls = waiting
        // Sorted as small tuples.
        var moments: [(time: UInt64, isExit: Bool, index: Int)] = []
        moments.reserveCapacity(ready.count * 2)
        for (index, held) in ready.enumerated() {
            moments.append((held.call.entryTime.nanoseconds, false, index))
            moments.append(((held.call.exitTime ?? held.call.entryTime).nanoseconds, true, index))
        }
        moments.sort { $0.time < $1.time || ($0.time == $1.time && !$0.isExit && $1.isExit) }
        for (_, isExit, index) in moments {
            let held = ready[index]
            switch (isExit, held.abandoned) {
            case (false, _): emit(.syscallEntered(held.entered ?? held.call))
            case (true, false): submit(.finishedCall(held.call))
            case (true, true): emit(.syscallAbandoned(held.entered ?? held.call))
            }
        }
        return Set(ready.map { ThreadInstant(tid: $0.call.tid, time: $0.call.entryTime) })
    }

    /// `tid` was seen running after its interrupted call: that call returned.
    func threadSeenAlive(_ tid: Int32) { settleInterruptedCalls(of: tid, returned: true) }

    /// `tid` ended (or reached its exit) after its interrupted call: that call never returned.
    func threadEndedInCall(_ tid: Int32) { settleInterruptedCalls(of: tid, returned: false) }

    func settleInterruptedCalls(of tid: Int32, returned: Bool) {
        guard interruptedHeld > 0 else { return }
        for index in heldCalls.indices where heldCalls[index].awaitsThread && heldCalls[index].call.tid == tid {
            heldCalls[index].awaitsThread = false
            heldCalls[index].abandoned = !returned
            interruptedHeld -= 1
        }
    }

    /// How long a stopped call must have run before its thread is looked
    /// at (one that blocks is written unfinished after
    /// `TimelineOrder.holdLimit`, twice as long), and how often the threads
    /// are searched for such calls.
    static let returnLookAge: UInt64 = 50_000_000, returnCandidatesInterval: UInt64 = 1_000_000

    /// Threads whose shown stopped call the kernel returned from (its
    /// `sys_exit` in `DataCallCapture`'s times) while its exit stop has not
    /// come, and when: a thread held from its CPU between the two reached
    /// its stop up to 1.96 s later under audit 56's spinner, and the
    /// timeline wrote the lines of events after its return before it. A
    /// sink holds the lines after that time until the call's end is known.
    /// Looked at before any line is let go (audit 57 M1: looked at once a
    /// millisecond, a return 288 µs before its exit stop let three later
    /// calls' lines go first); the threads are searched for calls older
    /// than `returnLookAge` once per `returnCandidatesInterval` (a call is
    /// written unfinished only at twice that age).
    func returnedBeforeTheirStop() -> [Int32: MonotonicTime] {
        guard let dataCalls else { return [:] }
        let now = MonotonicTime.now()
        if now.nanoseconds &- returnCandidates.time.nanoseconds >= Self.returnCandidatesInterval {
            var threads: [(tid: Int32, entry: MonotonicTime)] = []
            for (tid, thread) in tasks.threads {
                guard thread.currentShown, let call = thread.current, now.nanoseconds &- call.entryTime.nanoseconds > Self.returnLookAge,
                      dataCalls.followed.contains(call.pid) else { continue }
                threads.append((tid, call.entryTime))
            }
            returnCandidates = (now, threads)
        }
        var returned: [Int32: MonotonicTime] = [:]
        for (tid, entry) in returnCandidates.threads {
            guard let thread = tasks[tid], thread.currentShown, let call = thread.current, call.entryTime == entry,
                  let times = dataCalls.kernelTimes(of: tid), times.belong(to: call, returnedBy: now), let exit = times.exit else { continue }
            returned[tid] = exit
        }
        return returned
    }

    /// Starts or stops recording a process's calls as it starts, execs or
    /// ends. An i386 program's calls are timed only (its filter stops its
    /// reads and writes; the kernel's program records none of its).
    func recordDataCalls(of process: TracedProcess, running: Bool) {
        if let elsewhere = kernel?.sampler?.elsewhereTransmits {
            if running { elsewhere.follow(process.pid) } else { elsewhere.forget(process.pid) }
        }
        guard let dataCalls else { return }
        if running {
            dataCalls.follow(process.pid)
        } else {
            dataCalls.forget(process.pid)
        }
    }

    /// A record as a finished call, decoded as its stops would have;
    /// nil for a call not shown.
    func recordedCall(_ record: DataCallRecord) -> HeldCall? {
        guard let process = tasks[record.tid]?.process ?? tasks.processes[record.pid],
              let syscall = Syscall(number: UInt64(record.number), architecture: .x86_64) else { return nil }
        var call = SyscallInvocation(pid: process.pid, tid: record.tid, architecture: .x86_64, syscall: syscall,
                                     arguments: [record.descriptor, record.buffer, record.count, 0, 0, 0],
                                     viaSocketcall: false, entryTime: record.entryTime)
        if process.descriptorsChangeUnseen { forgetChangedDescriptors(of: call, in: process) }
        let memory = RecordedMemory(address: record.buffer, bytes: record.bytes)
        let (context, tracker) = self.context(for: process, architecture: .x86_64, memory: memory, marking: needsPlainText)
        guard configuration.selection.contains(syscall), involvesSocket(call, tracker: tracker) else { return nil }
        call.wallClock = WallClock.at(record.entryTime)
        call.recordedBy = "kernel"
        decodeShownEntry(&call, context)
        let entered = call
        call.exitTime = record.exitTime
        call.result = SyscallResult(rval: record.result, isError: (-4095 ... -1).contains(record.result))
        tracker.apply(call, received: receivedInFlight, took: tookRights, sent: sentRights)
        decodeShownExit(&call, context, tracker: tracker, memory: memory)
        watchPorts(of: call.socket, tid: call.tid)
        let interrupted = call.result.map { $0.failed && HeldCall.restartErrnos.contains($0.errno ?? 0) } ?? false
        return HeldCall(call: call, entered: interrupted ? entered : nil, awaitsThread: interrupted)
    }

    /// Says how many records the ring had no room for, and unloads the recorder.
    func endDataCallCapture() {
        guard let dataCalls else { return }
        let lost = dataCalls.lost
        if lost > 0 { diagnostic?("\(lost) reads and writes on sockets were lost: the kernel's ring of them was full") }
        dataCalls.close()
    }
}

/// A recorded call decoded and not yet written, with what its entry alone
/// says (for a call that turns out never to have returned). A class: the
/// held calls are partitioned and sorted as they go, and a call is large
/// to move (moving them was a tenth of the tracer's time on the ping-pong).
final class HeldCall {
    let call: SyscallInvocation
    /// What its entry alone says, kept for a call interrupted to be restarted.
    let entered: SyscallInvocation?
    /// Interrupted to be restarted: whether it returned is known when its thread is seen again.
    var awaitsThread: Bool
    var abandoned = false

    init(call: SyscallInvocation, entered: SyscallInvocation?, awaitsThread: Bool) {
        self.call = call
        self.entered = entered
        self.awaitsThread = awaitsThread
    }

    /// ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK.
    static let restartErrnos: Set<Int32> = [512, 513, 514, 516]
}

/// A thread and a moment: a call by the thread that entered it then.
struct ThreadInstant: Hashable {
    let tid: Int32
    let time: MonotonicTime
}
