import Foundation

/// The output stage of the loop: events and finished calls wait in
/// `DeferredOutput` until no tracee waits for the tracer, then the kernel's
/// samples are drained and, with the calls, handed to the attribution
/// stage (`AttributionStage`), which hands them on to the sink.
extension Tracer {
    /// Queues output for the next moment no tracee waits (see
    /// `DeferredOutput`); a tracer that never has one writes in batches.
    func submit(_ item: DeferredOutput.Item) {
        output.append(item)
        if output.count > DeferredOutput.backlogLimit { performOutput(limit: DeferredOutput.backlogLimit / 4) }
    }

    /// Handles deferred output, oldest first, `limit` items at most.
    func performOutput(limit: Int) {
        var done = 0
        while done < limit, let item = output.popFirst() {
            performOutput(item)
            done += 1
        }
    }

    func emit(_ event: TraceEvent) { submit(.event(event)) }

    /// Everything that touches the sink, the sampler's rings and the
    /// attribution stage while tracing goes through here.
    func performOutput(_ item: DeferredOutput.Item) {
        switch item {
        case let .event(event):
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
        case .flush:
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
    func attribute(_ step: AttributionStage.Step) {
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
            paired = !awaitedExits.isEmpty && awaitedExits.match(drained.exits, drainBegan: drainedAt)
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
        let recording = dataCalls?.inFlight(among: tasks.threads.keys) ?? [:]
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
    func finished(_ call: SyscallInvocation) {
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
        awaitedExits.threadSeen(tid, at: now)
        submit(.awaitedExits(tid: tid, seen: now))
    }
}
