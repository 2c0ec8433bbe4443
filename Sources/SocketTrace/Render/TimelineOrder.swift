/// The text timeline's order, apart from its formatting: each line in the
/// order things began across all tasks (a call by its entry, an event by
/// its time), written only once nothing still running began before it.
/// A call running for longer than `holdLimit` (a blocked accept) lets the
/// lines after it go: it is written as unfinished at its entry, and its end
/// later as resumed, at its exit, as strace writes them. Pure: events in,
/// lines out, tested with synthetic events.
public struct TimelineOrder {
    /// What the timeline writes, in order.
    public enum Line {
        /// A finished call: whole, or (`resumed`) the end of one written as unfinished.
        case call(SyscallInvocation, resumed: Bool)
        /// A call still running when the lines after it had to go.
        case unfinished(SyscallInvocation)
        /// A call whose thread ended inside it (killed, or the trace ended): at `time`.
        case abandoned(SyscallInvocation, resumed: Bool, time: MonotonicTime)
        case process(ProcessEvent)
        case kernel(KernelSample)
        case function(FunctionEvent)
    }

    struct Pending {
        let time: MonotonicTime
        let line: Line
    }
    /// By time; items of equal time in the order they came.
    var queue: [Pending] = []
    /// Shown calls that began and have not finished, by thread.
    var inFlight: [Int32: SyscallInvocation] = [:]
    /// Threads inside a call the kernel records, not yet known, and since
    /// when (`hold`): lines that began after that wait, up to `holdLimit`.
    var recordedInFlight: [Int32: MonotonicTime] = [:]
    /// Threads whose running call was written as unfinished.
    var unfinished: Set<Int32> = []
    /// Calls written unfinished whose thread ended in them: their end is
    /// written at the thread's end (its process event), not at the time
    /// of whatever came last (audit 82 c: another thread's close).
    var endingWithThread: [Int32: SyscallInvocation] = [:]
    /// The latest time seen in any event: the timeline's "now".
    var latest = MonotonicTime(nanoseconds: 0)
    /// How long a running call may hold back the lines after it (in trace time).
    public static let holdLimit: UInt64 = 100_000_000

    public init() {}

    /// Takes an event; returns the lines that can be written now.
    public mutating func take(_ event: consuming TraceEvent) -> [Line] {
        switch consume event {
        case let .syscallEntered(call):
            endAbandoned(of: call.tid, at: latest)
            inFlight[call.tid] = call
            advance(to: call.startTime)
        case let .syscallExited(call):
            inFlight[call.tid] = nil
            if unfinished.remove(call.tid) != nil {
                enqueue(call.endTime ?? call.startTime, .call(call, resumed: true))
            } else {
                enqueue(call.startTime, .call(call, resumed: false))
            }
            advance(to: call.endTime ?? call.startTime)
        case let .syscallAbandoned(call):
            inFlight[call.tid] = nil
            endAbandoned(of: call.tid, at: latest)
            if unfinished.remove(call.tid) != nil {
                endingWithThread[call.tid] = call
            } else {
                enqueue(call.startTime, .abandoned(call, resumed: false, time: call.startTime))
            }
            advance(to: call.startTime)
        case let .process(event):
            endAbandoned(of: event.tid, at: event.time)
            enqueue(event.time, .process(event))
            advance(to: event.time)
        case let .kernelEvent(sample):
            enqueue(sample.time, .kernel(sample))
            advance(to: sample.time)
        case let .function(event):
            enqueue(event.time, .function(event))
            advance(to: event.time)
        }
        return release()
    }

    /// The calls the kernel records that are running now, and since when
    /// (and calls written unfinished that the kernel has returned from,
    /// with when, their exit stop not yet come: these hold without limit):
    /// lines that began after one wait for it (audit 22: a read blocked for
    /// 23 ms came after a getsockname begun during it). One running for
    /// longer than `holdLimit` holds nothing: it cannot be written as
    /// unfinished before it is known, and is written whole when it is.
    public mutating func hold(_ since: [Int32: MonotonicTime]) -> [Line] {
        recordedInFlight = since
        return release()
    }

    /// Everything that began before `now` is known (the tracer was idle
    /// then): calls running for longer than the hold limit are written
    /// unfinished, and the lines they held go.
    public mutating func tick(_ now: MonotonicTime) -> [Line] {
        advance(to: now)
        return release()
    }

    /// The end of the trace: calls still running are unfinished, and every
    /// line goes.
    public mutating func finish() -> [Line] {
        for tid in endingWithThread.keys.sorted() { endAbandoned(of: tid, at: latest) }
        for call in inFlight.values.sorted(by: { $0.startTime < $1.startTime }) {
            enqueue(call.startTime, .unfinished(call))
        }
        inFlight = [:]
        recordedInFlight = [:]
        return release(all: true)
    }

    /// The end of a call written unfinished whose thread ended in it, at `time`.
    mutating func endAbandoned(of tid: Int32, at time: MonotonicTime) {
        guard let call = endingWithThread.removeValue(forKey: tid) else { return }
        enqueue(time, .abandoned(call, resumed: true, time: time))
    }

    mutating func enqueue(_ time: MonotonicTime, _ line: Line) {
        // Mostly in order already: find the place from the end.
        var index = queue.count
        while index > 0 && queue[index - 1].time > time { index -= 1 }
        queue.insert(Pending(time: time, line: line), at: index)
    }

    /// Calls running for longer than the hold limit are written as unfinished.
    mutating func advance(to time: MonotonicTime) {
        if time > latest { latest = time }
        for (tid, call) in inFlight where latest.nanoseconds &- call.startTime.nanoseconds > Self.holdLimit && latest > call.startTime {
            inFlight[tid] = nil
            unfinished.insert(tid)
            enqueue(call.startTime, .unfinished(call))
        }
    }

    /// What began before every call still running.
    mutating func release(all: Bool = false) -> [Line] {
        // A thread written unfinished whose call the kernel has returned
        // from holds without limit: its end is known to be coming.
        let recorded = recordedInFlight.filter { tid, since in
            unfinished.contains(tid) || latest.nanoseconds &- since.nanoseconds <= Self.holdLimit || since > latest
        }.values
        let barrier = all ? nil : (inFlight.values.map(\.startTime) + recorded).min()
        var count = 0
        while count < queue.count, barrier.map({ queue[count].time < $0 }) ?? true { count += 1 }
        guard count > 0 else { return [] }
        let ready = queue[..<count].map(\.line)
        queue.removeFirst(count)
        return ready
    }
}
