/// Calls a thread was let run through to their exit without a second stop
/// (`Syscall.resultOnlyExits`), waiting for the kernel's record of that exit
/// (`SyscallExitRecord`) to learn their result and end time.
///
/// A thread is in one call at a time, so its calls and its exit records
/// pair up in order: a record from before a call's entry is some other
/// call's (a write to a file, let run without waiting); a record from after
/// the thread's next stop cannot be the call's, whose record was then lost
/// (a full ring), as it is when a drain begun after that stop did not have it.
/// Settled calls stay, in their thread's order, until taken to be written.
struct AwaitedExits {
    enum Outcome {
        /// With its result and exit time from the kernel.
        case returned(SyscallInvocation)
        /// Returned, but its record was lost.
        case unknown(SyscallInvocation)
    }

    struct Awaited {
        var call: SyscallInvocation
        /// When the thread was next seen stopped (or gone): the call had returned by then.
        var seenAgain: MonotonicTime?
        var outcome: Outcome?
    }

    private var byThread: [Int32: [Awaited]] = [:]

    var isEmpty: Bool { byThread.isEmpty }

    /// Whether `tid` has calls not yet taken.
    func holds(_ tid: Int32) -> Bool { byThread[tid] != nil }

    /// Whether `tid` has calls it had returned from by its stop at `seen`
    /// whose record has not been read.
    func isWaiting(_ tid: Int32, seen: MonotonicTime) -> Bool {
        byThread[tid]?.contains { $0.outcome == nil && ($0.seenAgain.map { $0 <= seen } ?? false) } ?? false
    }

    mutating func add(_ call: SyscallInvocation) {
        byThread[call.tid, default: []].append(Awaited(call: call))
    }

    /// The earliest entry among `tid`'s calls: its samples from then on may
    /// still be theirs.
    func earliestEntry(of tid: Int32) -> MonotonicTime? {
        byThread[tid]?.first?.call.entryTime
    }

    /// The kernel's times of the thread's last timed call, read as it is
    /// seen again (before its new call's `sys_enter`): a close it was let
    /// run through gets the file its `sys_enter` named (`FileRelease`).
    mutating func kernelTimes(_ times: KernelCallTimes, of tid: Int32) {
        guard let file = times.closedFile, times.exit != nil, var calls = byThread[tid], let last = calls.indices.last,
              calls[last].seenAgain == nil, times.entered(calls[last].call) else { return }
        calls[last].call.closedFile = file
        if case var .returned(call)? = calls[last].outcome {
            call.closedFile = file
            calls[last].outcome = .returned(call)
        }
        byThread[tid] = calls
    }

    /// The thread stopped or ended at `time`: its calls had all returned.
    mutating func threadSeen(_ tid: Int32, at time: MonotonicTime) {
        guard var calls = byThread[tid], calls.last?.seenAgain == nil else { return }
        for index in calls.indices where calls[index].seenAgain == nil { calls[index].seenAgain = time }
        byThread[tid] = calls
    }

    /// Pairs the records of one drain (oldest first) with the calls, and
    /// gives up on calls whose thread was seen again before the drain
    /// began. Returns whether a record was paired. `entries`: the kernel's
    /// entries of those calls, which give each its `kernelEntryTime` (an
    /// entry can come in an earlier drain than its exit).
    mutating func match(_ records: [SyscallExitRecord], entries: [SyscallEntryRecord] = [], drainBegan: MonotonicTime) -> Bool {
        for entry in entries { enter(entry) }
        var paired = false
        for record in records {
            guard var calls = byThread[record.tid] else { continue }
            for index in calls.indices where calls[index].outcome == nil {
                let awaited = calls[index]
                if let seen = awaited.seenAgain, record.time > seen {
                    calls[index].outcome = .unknown(awaited.call)
                    continue
                }
                if record.time >= awaited.call.entryTime,
                   record.number == awaited.call.syscall.number(on: awaited.call.architecture).map(Int64.init) {
                    var call = awaited.call
                    call.exitTime = record.time
                    if let entered = call.kernelEntryTime, entered > record.time { call.kernelEntryTime = nil }
                    // Its exit is the kernel's own: said so in the file as a
                    // stopped call's is (audit 74 m1: only reads had it).
                    if call.kernelEntryTime != nil { call.kernelExitTime = record.time }
                    call.result = record.result
                    calls[index].outcome = .returned(call)
                    paired = true
                }
                break
            }
            byThread[record.tid] = calls
        }
        for tid in Array(byThread.keys) {
            for index in byThread[tid]!.indices {
                let awaited = byThread[tid]![index]
                if awaited.outcome == nil, let seen = awaited.seenAgain, seen < drainBegan {
                    byThread[tid]![index].outcome = .unknown(awaited.call)
                }
            }
        }
        return paired
    }

    /// The kernel entered a call: the first of its thread's calls still
    /// waiting, with no entry yet, of the same number, which the tracer had
    /// let go by then and whose thread was not seen again before it.
    mutating func enter(_ entry: SyscallEntryRecord) {
        guard var calls = byThread[entry.tid],
              let index = calls.firstIndex(where: { $0.outcome == nil && $0.call.kernelEntryTime == nil }) else { return }
        let call = calls[index].call
        guard entry.number == call.syscall.number(on: call.architecture).map(Int64.init), call.entryTime <= entry.time,
              calls[index].seenAgain.map({ entry.time <= $0 }) ?? true else { return }
        calls[index].call.kernelEntryTime = entry.time
        byThread[entry.tid] = calls
    }

    /// `tid`'s settled calls, in order, up to the first still waiting; with
    /// `seen`, only those it had returned from by its stop at that time
    /// (not the calls it made after, whose records a later drain may have).
    mutating func takeSettled(of tid: Int32, seen: MonotonicTime? = nil) -> [Outcome] {
        guard let calls = byThread[tid] else { return [] }
        let settled = calls.prefix { awaited in
            guard awaited.outcome != nil else { return false }
            guard let seen else { return true }
            return awaited.seenAgain.map { $0 <= seen } ?? false
        }.compactMap(\.outcome)
        let rest = calls.dropFirst(settled.count)
        byThread[tid] = rest.isEmpty ? nil : Array(rest)
        return settled
    }

    /// Every thread's settled calls.
    mutating func takeSettled() -> [Outcome] {
        byThread.keys.sorted().flatMap { takeSettled(of: $0) }
    }

    /// Every call still waiting (at the end of a trace).
    mutating func takeAll() -> [SyscallInvocation] {
        defer { byThread.removeAll() }
        return byThread.values.flatMap { $0.map(\.call) }.sorted { $0.entryTime < $1.entryTime }
    }
}
