import Foundation

/// The output stage of the loop: events and finished calls wait in
/// `DeferredOutput` until no tracee waits for the tracer, then the kernel's
/// samples are drained and, with the calls, handed to the attribution
/// stage (`AttributionStage`), which hands them on to the sink.
extension Tracer {
    /// Queues output for the next moment no tracee waits (see
    /// `DeferredOutput`); a tracer that never has one writes in batches.
    /// A batch, too, stops at a call's entry whose thread has not reached
    /// the kernel yet (for up to `kernelEntryWait`; audit 58 M1: forced
    /// while a thread waited 15-22 ms for its CPU and another's calls
    /// piled up, its `<unfinished ...>` line had the entry stop's time, the
    /// calls the kernel ran before it after it); the backlog grows
    /// meanwhile, looked at again every quarter of the limit.
    func submit(_ item: DeferredOutput.Item) {
        output.append(item)
        guard output.count > outputBacklogThreshold else { return }
        let waits = performOutput(limit: DeferredOutput.backlogLimit / 4, force: false)
        outputBacklogThreshold = waits ? output.count + DeferredOutput.backlogLimit / 4 : DeferredOutput.backlogLimit
    }

    /// Handles deferred output, oldest first, `limit` items at most.
    /// Unless `force`d, it stops at a call's entry whose thread, let go
    /// from its entry stop, has not reached the kernel yet
    /// (`withKernelEntry`), and returns true: what follows waits for it.
    @discardableResult
    func performOutput(limit: Int, force: Bool = true) -> Bool {
        var done = 0
        while done < limit, !output.isEmpty {
            if let call = output.firstEntryWithoutKernelTime {
                let (entered, waits) = withKernelEntry(call)
                if waits && !force { return true }
                output.replaceFirst(with: .event(.syscallEntered(entered)))
            }
            if let item = output.popFirst() { performOutput(item) }
            done += 1
        }
        return false
    }

    /// How long a call's entry may wait for its thread to reach the kernel.
    static let kernelEntryWait: UInt64 = 200_000_000

    /// A shown call's entry with the kernel's entry time (`KernelCallTimes`)
    /// once its thread, still inside it, has reached the kernel: the
    /// timeline places the call (and, should it block, its `<unfinished
    /// ...>` line) where the kernel began it, not where the tracer let the
    /// thread go, which on a busy machine can be milliseconds earlier
    /// (audit 55 F1: a close drawn unfinished before a sendto the kernel ran
    /// 22 ms before it). `waits`: the thread has not reached it yet, for
    /// less than `kernelEntryWait`.
    func withKernelEntry(_ call: SyscallInvocation) -> (call: SyscallInvocation, waits: Bool) {
        // Returned already: its end, waiting behind it, has the kernel's times.
        if let finished = output.finishedCall(tid: call.tid, entryTime: call.entryTime) {
            var call = call
            call.kernelEntryTime = finished.kernelEntryTime
            return (call, false)
        }
        guard let dataCalls, dataCalls.followed.contains(call.pid),
              let thread = tasks[call.tid], thread.current?.entryTime == call.entryTime else { return (call, false) }
        // The thread is still in this call: an entry that can be its is.
        if let times = dataCalls.kernelTimes(of: call.tid), times.entered(call) {
            var call = call
            call.kernelEntryTime = times.entry
            return (call, false)
        }
        return (call, MonotonicTime.now().nanoseconds &- call.entryTime.nanoseconds < Self.kernelEntryWait)
    }

    func emit(_ event: TraceEvent) { submit(.event(event)) }

    /// Everything that touches the sink, the sampler's rings and the
    /// attribution stage while tracing goes through here.
    func performOutput(_ item: consuming DeferredOutput.Item) {
        switch consume item {
        case let .event(event):
            if case let .syscallAbandoned(call) = event, kernel?.sampler != nil {
                // Its thread's work from its entry on was in it (audit 80 F1:
                // said to be in a call the trace does not record).
                attribute(.abandonedCall(tid: call.tid, from: call.entryTime, name: call.name, inode: call.inodeAtEntry ?? call.socket?.inode,
                                          socket: call.socket, releasesHeld: call.releasesHeldSockets == true))
            }
            sink.handle(event)
        case let .finishedCall(call):
            finished(call)
        case let .strayKernelSamples(before, otherwise):
            guard let kernel, let sampler = kernel.sampler else { return }
            drainKernelSamples(sampler)
            attribute(.stray(before: before, otherwise: otherwise))
        case let .awaitedExits(tid, seen):
            if awaitedExits.isWaiting(tid, seen: seen), let kernel, let sampler = kernel.sampler {
                drainKernelSamples(sampler)
            }
            for outcome in awaitedExits.takeSettled(of: tid, seen: seen) { performOutput(outcome) }
        case .settledExits:
            if let kernel, let sampler = kernel.sampler { drainKernelSamples(sampler) }
            for outcome in awaitedExits.takeSettled() { performOutput(outcome) }
        case let .processEnded(event, captured):
            performProcessEnded(event, captured: captured)
        case let .recordedCallsInFlight(since, time):
            sink.recordedCallsInFlight(since, at: time)
        case let .flush(caughtUp):
            sink.caughtUp(to: caughtUp)
            sink.flush()
        }
    }

    func performOutput(_ outcome: AwaitedExits.Outcome) {
        switch outcome {
        case let .returned(call): performOutput(.finishedCall(returned(call)))
        case let .unknown(call): sink.handle(.syscallAbandoned(call))
        }
    }

    /// Hands a step to the attribution stage.
    func attribute(_ step: __owned AttributionStage.Step) {
        attribution?.perform(step, into: sink)
    }

    /// Takes what the rings hold: the samples go to the attribution stage,
    /// the exit records settle the calls let run to their exit.
    func drainKernelSamples(_ sampler: KernelSampler) {
        var paired = false
        repeat {
            drainedAt = .now()
            let drained = sampler.drain()
            // A probe sampled everywhere also hits untraced tasks: their hits
            // are kept only for traced flows. (A traced thread that has ended
            // since its sample was taken is still its sample's.)
            // (One the elsewhere program kept in a traced task, which it
            // learnt of late, repeats that task's own event's: dropped.)
            var elsewhere: [KernelSample] = [], mine: [KernelSample] = [], repeated = 0
            for sample in drained.samples {
                guard sample.everywhere else { mine.append(sample); continue }
                if !tasks.wasTraced(sample.tid, at: sample.time) {
                    elsewhere.append(sample)
                } else if !sample.sampledElsewhere {
                    mine.append(sample)
                } else {
                    repeated += 1
                }
            }
            if !mine.isEmpty || !elsewhere.isEmpty || repeated > 0 {
                attribute(.samples(traced: mine, elsewhere: elsewhere, repeated: repeated))
            }
            // A call's samples on another CPU can reach their ring after this
            // drain read it and before its exit record reached its own: one
            // more drain, begun after the exit, has them all.
            paired = !awaitedExits.isEmpty && awaitedExits.match(drained.exits, entries: drained.entries, drainBegan: drainedAt)
        } while paired
    }

    /// Drains the rings when the last drain is older than `ringDrainInterval`:
    /// a tracer working through a backlog of calls the kernel recorded
    /// (the program running on meanwhile) keeps the rings from filling up.
    func drainKernelSamplesIfStale() {
        guard let kernel, let sampler = kernel.sampler,
              MonotonicTime.now().nanoseconds &- drainedAt.nanoseconds > Self.ringDrainInterval else { return }
        drainKernelSamples(sampler)
    }

    /// A call let run to its exit, with the result from the kernel's record.
    func returned(_ call: SyscallInvocation) -> SyscallInvocation {
        var call = call
        let context = DecodingContext(memory: MemoryImage(), architecture: call.architecture,
                                      options: configuration.decodeOptions)
        let text = SyscallDecoder(context).returnText(call)
        call.returnText = text
        if call.plainText != nil { call.plainText?.returnText = text }
        return call
    }

    /// Samples that no traced call can claim any more: taken while their
    /// thread was outside a traced call (up to now), or before its call began.
    /// A thread inside a read or write the kernel records (`DataCallCapture`)
    /// keeps its samples from that call's entry; a call that returned before
    /// the look is taken from the ring before the samples are judged.
    func emitStrayKernelSamples() {
        guard kernel?.sampler != nil else { return }
        let now = MonotonicTime.now()
        let recording = recordedCalls?.inFlight(among: tasks.threads.keys) ?? [:]
        var before: [Int32: MonotonicTime] = [:]
        for (tid, thread) in tasks.threads {
            if let entry = awaitedExits.earliestEntry(of: tid) ?? thread.current?.entryTime ?? recording[tid] {
                before[tid] = entry
            }
        }
        takeRecordedCalls(running: recording)
        for held in heldCalls {
            before[held.call.tid] = min(before[held.call.tid] ?? held.call.entryTime, held.call.entryTime)
        }
        submit(.strayKernelSamples(before: before, otherwise: now))
    }

    /// A finished call goes to the attribution stage, after the samples
    /// it may own: the rings are drained when the last drain began before
    /// its exit (output lagging behind drains once for many calls).
    func finished(_ call: __owned SyscallInvocation) {
        guard let kernel else {
            sink.handle(.syscallExited(call))
            return
        }
        if let sampler = kernel.sampler {
            // The call's samples were in the rings before its exit stop: a
            // drain begun after that has them.
            if call.exitTime.map({ $0 >= drainedAt }) ?? true {
                drainKernelSamples(sampler)
            } else {
                drainKernelSamplesIfStale()
            }
        }
        attribute(.finishedCall(call, functionGraph: kernel.functionGraph?.graph(for: call)))
    }

    /// The thread is seen again: the calls it was let run through have
    /// returned, and are written before anything of this stop.
    func settleAwaitedExits(_ tid: Int32) {
        guard !awaitedExits.isEmpty, awaitedExits.holds(tid) else { return }
        let now = MonotonicTime.now()
        if let times = dataCalls?.kernelTimes(of: tid) { awaitedExits.kernelTimes(times, of: tid) }
        awaitedExits.threadSeen(tid, at: now)
        submit(.awaitedExits(tid: tid, seen: now))
    }
}
