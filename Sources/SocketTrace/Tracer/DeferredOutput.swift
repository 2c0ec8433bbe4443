import Foundation

/// The tracer's output, kept until the tracer has nothing else to do:
/// attributing kernel samples to calls, encoding and writing happen while
/// every tracee runs, not while one waits at a stop. (Measured on this
/// 2-CPU VM, ping-pong of 5,000 round trips, trace file with kernel chains:
/// written at each stop 1.85 s; by an output thread 1.59 s, as waking it costs
/// an interrupt to the other CPU; between stops 1.34 s.)
struct DeferredOutput {
    enum Item {
        case event(TraceEvent)
        /// A finished call: its kernel activity is attached, then it is written.
        case finishedCall(SyscallInvocation)
        /// Samples a thread took before `before[tid]` (its call in flight's
        /// entry), or before `otherwise` (it was between calls; nil: the
        /// trace ended, every sample left) belong to no call.
        case strayKernelSamples(before: [Int32: MonotonicTime], otherwise: MonotonicTime?)
        /// The thread stopped again at `seen`: the calls it was let run
        /// through (`AwaitedExits`) are written before anything of that stop.
        case awaitedExits(tid: Int32, seen: MonotonicTime)
        /// Calls let run through whose records came, while the tracer was idle.
        case settledExits
        /// A process's end whose exit's work the sampler captured
        /// (`ExitCaptureSource`): written with it.
        case processEnded(ProcessEvent, captured: Bool)
        /// Threads inside calls the kernel records, and since when (`TraceSink.recordedCallsInFlight`).
        case recordedCallsInFlight([Int32: MonotonicTime], at: MonotonicTime)
        /// The tracer was idle at this time (`TraceSink.caughtUp`), then the sinks flush.
        case flush(caughtUp: MonotonicTime)
    }

    /// A tracer that is never idle (its tracees stop again before it looks)
    /// writes a quarter of this many items at once, so memory stays flat.
    /// (At 4096, a 10M-call run pinned to one CPU peaked at 59 MiB.)
    /// `SOCKETTRACE_OUTPUT_BACKLOG` (4 or more) sets it otherwise: a test
    /// then sees a batch come after a few items, as a busy program's come
    /// after hundreds.
    static let backlogLimit: Int = {
        guard let text = ProcessInfo.processInfo.environment["SOCKETTRACE_OUTPUT_BACKLOG"], let limit = Int(text), limit >= 4 else { return 512 }
        return limit
    }()

    private var items = FrontQueue<Item>()

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func append(_ item: Item) { items.append(item) }

    mutating func popFirst() -> Item? { items.popFirst() }

    /// The first item's call, when it is a stopped call's entry without the
    /// kernel's entry time yet (the other items are not copied to see). A
    /// call the kernel recorded was timed by it.
    var firstEntryWithoutKernelTime: SyscallInvocation? {
        guard items.firstMatches({ item in
            if case let .event(.syscallEntered(call)) = item { return call.kernelEntryTime == nil && call.recordedBy == nil }
            return false
        }), case let .event(.syscallEntered(call))? = items.first else { return nil }
        return call
    }

    /// The finished call waiting here that `tid` entered at `entryTime`.
    func finishedCall(tid: Int32, entryTime: MonotonicTime) -> SyscallInvocation? {
        guard case let .finishedCall(call)? = items.first(where: { item in
            if case let .finishedCall(call) = item { return call.tid == tid && call.entryTime == entryTime }
            return false
        }) else { return nil }
        return call
    }

    mutating func replaceFirst(with item: Item) { items.replaceFirst(with: item) }
}
