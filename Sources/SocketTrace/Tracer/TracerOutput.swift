import Foundation

/// The output stage of the loop: events and finished calls wait in
/// `DeferredOutput` until no tracee waits for the tracer, then the kernel's
/// samples are drained and attributed, and everything reaches the sink.
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
    /// correlator while tracing goes through here.
    func performOutput(_ item: DeferredOutput.Item) {
        switch item {
        case let .event(event):
            sink.handle(event)
        case var .finishedCall(call):
            attachKernelActivity(&call)
            sink.handle(.syscallExited(call))
        case let .strayKernelSamples(before, otherwise):
            guard let kernel, let sampler = kernel.sampler else { return }
            drainKernelSamples(sampler, into: kernel.correlator)
            var events: [KernelSample] = []
            for tid in kernel.correlator.waitingThreads {
                events += kernel.correlator.takeStray(tid: tid, before: before[tid] ?? otherwise)
            }
            events += kernel.correlator.takeBackground(upTo: otherwise)
            events += kernel.correlator.takeOtherFlows()
            // In time order across threads and the background (audit 11: a
            // retransmitted packet's receive was written before the
            // tcp_retransmit_skb that sent it).
            for sample in events.sorted(by: { $0.time < $1.time }) { sink.handle(.kernelEvent(sample)) }
        case let .awaitedExits(tid, seen):
            if awaitedExits.isWaiting(tid, seen: seen), let kernel, let sampler = kernel.sampler {
                drainKernelSamples(sampler, into: kernel.correlator)
            }
            for outcome in awaitedExits.takeSettled(of: tid, seen: seen) { performOutput(outcome) }
        case .settledExits:
            if let kernel, let sampler = kernel.sampler { drainKernelSamples(sampler, into: kernel.correlator) }
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

    func drainKernelSamples(_ sampler: KernelSampler, into correlator: KernelCorrelator) {
        var paired = false
        repeat {
            drainedAt = .now()
            let drained = sampler.drain()
            // A probe sampled everywhere also hits untraced tasks: their hits
            // are kept only for traced flows. (A traced thread that has ended
            // since its sample was taken is still its sample's.)
            // (One the elsewhere program kept in a traced task, which it
            // learnt of late, repeats that task's own event's: dropped.)
            var elsewhere: [KernelSample] = [], mine: [KernelSample] = []
            for sample in drained.samples {
                guard sample.everywhere else { mine.append(sample); continue }
                if !tasks.wasTraced(sample.tid, at: sample.time) {
                    elsewhere.append(sample)
                } else if !sample.sampledElsewhere {
                    mine.append(sample)
                }
            }
            correlator.add(mine)
            if !elsewhere.isEmpty { correlator.addBackground(elsewhere) }
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
        drainKernelSamples(sampler, into: kernel.correlator)
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

    /// Attaches the kernel's activity to a finished call.
    func attachKernelActivity(_ call: inout SyscallInvocation) {
        guard let kernel else { return }
        if let sampler = kernel.sampler {
            // The call's samples were in the rings before its exit stop: a
            // drain begun after that has them (output lagging behind drains
            // once for many calls).
            if call.exitTime.map({ $0 >= drainedAt }) ?? true {
                drainKernelSamples(sampler, into: kernel.correlator)
            } else {
                drainKernelSamplesIfStale()
            }
            for sample in kernel.correlator.takeStray(tid: call.tid, before: call.entryTime) {
                sink.handle(.kernelEvent(sample))
            }
        }
        var activity = kernel.correlator.activity(for: call)
        if let graphs = kernel.functionGraph { activity.functionGraph = graphs.graph(for: call) }
        call.kernel = activity
        // Work elsewhere for traced flows taken before this call began (a
        // SYN retransmitted by a timer while an earlier connect slept, the
        // state change that ended it) goes now, before the call's lines:
        // held until the next idle moment it came after later calls (a
        // timed-out connect's retransmissions written after its close).
        // Later hits wait for a later call (audit 25: a shutdown's state
        // changes, already in the rings, were written right after the
        // connect before it).
        if kernel.correlator.backgroundWaiting {
            for sample in kernel.correlator.takeBackground(upTo: .now(), through: call.entryTime) {
                sink.handle(.kernelEvent(sample))
            }
        }
        // Other connections' samples taken out of the call are written with
        // the stray and background ones, in time order with them (audit 14: a
        // retransmitted packet's receive before the tcp_retransmit_skb that
        // sent it); at once only when many wait (a tracer never idle).
        if kernel.correlator.otherFlowsWaiting > KernelCorrelator.otherFlowsHeld {
            for sample in kernel.correlator.takeOtherFlows() { sink.handle(.kernelEvent(sample)) }
        }
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
