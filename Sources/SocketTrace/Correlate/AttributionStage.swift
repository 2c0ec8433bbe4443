import Foundation

/// The attribution stage of a trace's pipeline: the tracer drains the
/// kernel's rings and finishes calls; this stage gives each call the
/// samples that are its own (`KernelCorrelator`: by thread, time and
/// flow), aligns them with the model, and hands calls and kernel events
/// to the sink.
///
/// Steps run in the order the tracer hands them over; while tracing, the
/// correlator is touched by this stage only. They run on the tracer's
/// thread: run on the output thread, or on a third thread of its own, the
/// 20,000-round-trip ping-pong took 2.66 s and 2.45 s median against
/// 2.36 s here (8 rounds in random order, benchmarks/builds.py), on this
/// 2-core machine, where the tracee, the tracer and the renderer already
/// share both cores.
public final class AttributionStage {
    public enum Step {
        /// Samples drained from the rings: the traced tasks' own, and hits
        /// of probes sampled everywhere taken in untraced tasks.
        /// `repeated`: copies of traced tasks' hits left out.
        case samples(traced: [KernelSample], elsewhere: [KernelSample], repeated: Int)
        /// A call that returned (or was let run to its exit): its samples
        /// taken, those of its thread before it written as strays first,
        /// and the work elsewhere for traced flows that came before it.
        case finishedCall(SyscallInvocation, functionGraph: FunctionGraph?)
        /// Samples no traced call can claim any more: each thread's taken
        /// before the time given (`otherwise` for the rest; nil: all), with
        /// the work elsewhere up to `otherwise` and other flows' samples.
        case stray(before: [Int32: MonotonicTime], otherwise: MonotonicTime?)
        /// A process's end, with the samples its exit's capture took.
        case processEnded(ProcessEvent, exitSamples: [KernelSample])
        /// A call its thread ended in (it never returned): the thread's
        /// samples from its entry on are in it (`KernelCorrelator.abandonedCalls`).
        /// `releasesHeld`: another thread's call left it sockets to release (`releasesHeldSockets`).
        case abandonedCall(tid: Int32, from: MonotonicTime, name: String, inode: UInt64?, socket: SocketSnapshot?, releasesHeld: Bool)
    }

    let correlator: KernelCorrelator

    public init(correlator: KernelCorrelator) {
        self.correlator = correlator
    }

    public func perform(_ step: consuming Step, into sink: TraceSink) {
        switch consume step {
        case let .samples(traced, elsewhere, repeated):
            correlator.repeated += repeated
            if !traced.isEmpty { correlator.add(traced) }
            if !elsewhere.isEmpty { correlator.addBackground(elsewhere) }
        case let .finishedCall(call, graph):
            finished(call, functionGraph: graph, into: sink)
        case let .abandonedCall(tid, from, name, inode, socket, releasesHeld):
            correlator.abandonedCalls[tid] = (from, name, inode, socket?.local?.forPairing, socket?.peer?.forPairing, releasesHeld)
        case let .stray(before, otherwise):
            var events: [KernelSample] = []
            for tid in correlator.waitingThreads {
                events += correlator.takeStray(tid: tid, before: before[tid] ?? otherwise)
            }
            // Only those taken by `otherwise`, when the tracer saw no stop
            // waiting: the rings, drained when this step comes, also hold
            // later ones, taken while stops it had not yet seen were made
            // (a delayed ACK in the tracer written before the calls of the
            // 120 ms before it, which came after this step in the output).
            events += correlator.takeBackground(upTo: otherwise, through: otherwise)
            events += correlator.takeOtherFlows()
            // In time order across threads and the background (audit 11: a
            // retransmitted packet's receive was written before the
            // tcp_retransmit_skb that sent it).
            for sample in events.sorted(by: { $0.time < $1.time }) { sink.handle(.kernelEvent(sample)) }
        case let .processEnded(event, samples):
            var event = event
            // With the sockets only messages waiting at a released one held (`CarriedSocket`).
            let carried = event.releasedInMessages ?? []
            event.exitKernel = correlator.exitActivity(samples: samples, released: (event.releasedSockets ?? []) + carried.filter { !$0.perhapsEarlier }.map(\.socket),
                                                       tid: event.tid, pid: event.pid,
                                                       perhaps: (event.perhapsReleasedSockets ?? []) + carried.filter(\.perhapsEarlier).map(\.socket))
            sink.handle(.process(event))
            for sample in correlator.takeOtherFlows() { sink.handle(.kernelEvent(sample)) }
        }
    }

    func finished(_ call: consuming SyscallInvocation, functionGraph: FunctionGraph?, into sink: TraceSink) {
        var before = correlator.takeStray(tid: call.tid, before: call.entryTime)
        // A thread of a reused id: the ended call's work is taken.
        correlator.abandonedCalls[call.tid] = nil
        var activity = correlator.activity(for: call)
        activity.functionGraph = functionGraph
        call.kernel = activity
        // Work elsewhere for traced flows taken before this call began (a
        // SYN retransmitted by a timer while an earlier connect slept, the
        // state change that ended it) goes now, before the call's lines:
        // held until the next idle moment it came after later calls (a
        // timed-out connect's retransmissions written after its close).
        // Later hits wait for a later call (audit 25: a shutdown's state
        // changes, already in the rings, were written right after the
        // connect before it).
        if correlator.backgroundWaiting {
            before += correlator.takeBackground(upTo: .now(), through: call.entryTime)
        }
        // The thread's own work before the call and that work elsewhere, in
        // time order (audit 72 c: a released file's FIN and receive, taken
        // between the calls, written before the state change the same
        // __fput made 50 µs earlier, which as a probe sampled everywhere
        // waited with the background).
        for sample in before.sorted(by: { $0.time < $1.time }) { sink.handle(.kernelEvent(sample)) }
        // Other connections' samples taken out of the call are written with
        // the stray and background ones, in time order with them (audit 14: a
        // retransmitted packet's receive before the tcp_retransmit_skb that
        // sent it); at once only when many wait (a tracer never idle).
        if correlator.otherFlowsWaiting > KernelCorrelator.otherFlowsHeld {
            for sample in correlator.takeOtherFlows() { sink.handle(.kernelEvent(sample)) }
        }
        sink.handle(.syscallExited(call))
    }
}
