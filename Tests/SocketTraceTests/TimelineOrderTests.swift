import Testing
@testable import SocketTrace

/// The timeline's order as a pure stage: synthetic events in, lines out.
@Suite struct TimelineOrderTests {
    static let ms: UInt64 = 1_000_000

    func call(_ tid: Int32, _ syscall: Syscall, at entry: UInt64, until exit: UInt64? = nil) -> SyscallInvocation {
        var call = SyscallInvocation(pid: tid, tid: tid, architecture: .x86_64, syscall: syscall, arguments: [3, 0, 0, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: entry))
        call.exitTime = exit.map { MonotonicTime(nanoseconds: $0) }
        return call
    }

    /// A line as `tid syscall` (`+resumed`, `+unfinished`, `+abandoned`), or a kernel event's tracepoint.
    func names(_ lines: [TimelineOrder.Line]) -> [String] {
        lines.map { line in
            switch line {
            case let .call(call, resumed): "\(call.tid) \(call.syscall.rawValue)" + (resumed ? " resumed" : "")
            case let .unfinished(call): "\(call.tid) \(call.syscall.rawValue) unfinished"
            case let .abandoned(call, resumed, _): "\(call.tid) \(call.syscall.rawValue) abandoned" + (resumed ? " resumed" : "")
            case let .kernel(sample): sample.tracepoint
            case .process: "process"
            case .function: "function"
            }
        }
    }

    @Test("a call the kernel records, running but not yet known, holds the lines begun after it (audit 22), for up to the hold limit")
    func recordedCallHolds() {
        var order = TimelineOrder()
        // Thread 1 is inside a read the kernel records, since 1 ms; thread 2 stops at a getsockname at 2 ms.
        #expect(order.hold([1: MonotonicTime(nanoseconds: 1 * Self.ms)]).isEmpty)
        let name = call(2, .getsockname, at: 2 * Self.ms, until: 3 * Self.ms)
        #expect(order.take(.syscallEntered(name)).isEmpty)
        #expect(order.take(.syscallExited(name)).isEmpty)
        // The read's record comes, then the tracer says nothing runs: it began first, so it is written first.
        let read = call(1, .read, at: 1 * Self.ms, until: 24 * Self.ms)
        #expect(order.take(.syscallEntered(read)).isEmpty)
        #expect(order.take(.syscallExited(read)).isEmpty)
        #expect(names(order.hold([:])) == ["1 read", "2 getsockname"])
        // One running for longer than the hold limit holds nothing.
        let later = 200 * Self.ms
        #expect(order.hold([1: MonotonicTime(nanoseconds: later)]).isEmpty)
        let other = call(2, .getsockname, at: later + TimelineOrder.holdLimit + 2 * Self.ms, until: later + TimelineOrder.holdLimit + 3 * Self.ms)
        #expect(order.take(.syscallEntered(other)).isEmpty)
        #expect(names(order.take(.syscallExited(other))) == ["2 getsockname"])
    }

    @Test("a call blocked with nothing else happening is unfinished once the clock passes the hold limit, not only when a later event comes (audit 87 F2: a server's blocked accept not shown while it waited)")
    func clockTickWritesBlockedCallUnfinished() {
        var order = TimelineOrder()
        let accept = call(1, .accept, at: 1 * Self.ms, until: 900 * Self.ms)
        #expect(order.take(.syscallEntered(accept)).isEmpty)
        // Within the hold limit: still held.
        #expect(order.tick(MonotonicTime(nanoseconds: 60 * Self.ms)).isEmpty)
        #expect(names(order.tick(MonotonicTime(nanoseconds: 150 * Self.ms))) == ["1 accept unfinished"])
        #expect(order.tick(MonotonicTime(nanoseconds: 300 * Self.ms)).isEmpty)
        #expect(names(order.take(.syscallExited(accept))) == ["1 accept resumed"])
    }

    @Test("lines in the order their calls began, held while an earlier call runs, released when it ends")
    func beginTimeOrder() {
        var order = TimelineOrder()
        let slow = call(1, .recvfrom, at: 1 * Self.ms, until: 5 * Self.ms)
        let fast = call(2, .sendto, at: 2 * Self.ms, until: 3 * Self.ms)
        #expect(order.take(.syscallEntered(slow)).isEmpty)
        #expect(order.take(.syscallEntered(fast)).isEmpty)
        // The later call ends first: held, as the earlier one began before it.
        #expect(order.take(.syscallExited(fast)).isEmpty)
        #expect(names(order.take(.syscallExited(slow))) == ["1 recvfrom", "2 sendto"])
    }

    @Test("a call held over the hold limit is unfinished at its entry; its end is resumed at its exit; events between keep their place")
    func unfinishedThenResumed() {
        var order = TimelineOrder()
        let accept = call(1, .accept, at: 1 * Self.ms, until: 300 * Self.ms)
        let connect = call(2, .connect, at: 200 * Self.ms, until: 201 * Self.ms)
        #expect(order.take(.syscallEntered(accept)).isEmpty)
        // 199 ms past accept's entry: over the hold, so it is written as unfinished, and the connect may go when it ends.
        #expect(names(order.take(.syscallEntered(connect))) == ["1 accept unfinished"])
        #expect(names(order.take(.syscallExited(connect))) == ["2 connect"])
        let sample = KernelSample(tracepoint: "net:net_dev_queue", role: .event, pid: 3, tid: 3, time: MonotonicTime(nanoseconds: 250 * Self.ms),
                                  cpu: 0, chain: [], fields: [:])
        #expect(names(order.take(.kernelEvent(sample))) == ["net:net_dev_queue"])
        #expect(names(order.take(.syscallExited(accept))) == ["1 accept resumed"])
    }

    @Test("a call placed where the kernel began it: a thread let go from its entry stop that waited for its CPU holds only the lines begun after its kernel entry, and is unfinished there (audit 55 F1)")
    func placedAtKernelEntry() {
        var order = TimelineOrder()
        // The tracer let thread 1 go into a close at 1 ms; it reached the kernel at 30 ms.
        var close = call(1, .close, at: 1 * Self.ms, until: 31 * Self.ms)
        close.kernelEntryTime = MonotonicTime(nanoseconds: 30 * Self.ms)
        let send = call(2, .sendto, at: 10 * Self.ms, until: 11 * Self.ms)
        #expect(order.take(.syscallEntered(close)).isEmpty)
        #expect(order.take(.syscallEntered(send)).isEmpty)
        // The sendto began (and ended) before the close's kernel entry: it goes first, and the close after it.
        #expect(names(order.take(.syscallExited(send))) == ["2 sendto"])
        #expect(names(order.take(.syscallExited(close))) == ["1 close"])
        // One that blocks: unfinished at its kernel entry, after the lines begun before it.
        var accept = call(1, .accept, at: 40 * Self.ms, until: 400 * Self.ms)
        accept.kernelEntryTime = MonotonicTime(nanoseconds: 60 * Self.ms)
        let connect = call(2, .connect, at: 50 * Self.ms, until: 300 * Self.ms)
        #expect(order.take(.syscallEntered(accept)).isEmpty)
        #expect(order.take(.syscallEntered(connect)).isEmpty)
        #expect(names(order.take(.kernelEvent(KernelSample(tracepoint: "net:net_dev_queue", role: .event, pid: 3, tid: 3,
                                                                time: MonotonicTime(nanoseconds: 250 * Self.ms), cpu: 0, chain: [], fields: [:]))))
                == ["2 connect unfinished", "1 accept unfinished", "net:net_dev_queue"])
    }

    @Test("a call written unfinished that the kernel returned from before its thread reached its exit stop holds the lines after its return until its end is known (audit 56 F1)")
    func returnedBeforeItsStop() {
        var order = TimelineOrder()
        var accept = call(1, .accept, at: 1 * Self.ms, until: 900 * Self.ms)
        accept.kernelEntryTime = MonotonicTime(nanoseconds: 1 * Self.ms)
        accept.kernelExitTime = MonotonicTime(nanoseconds: 300 * Self.ms)
        #expect(order.take(.syscallEntered(accept)).isEmpty)
        let connect = call(2, .connect, at: 200 * Self.ms, until: 201 * Self.ms)
        #expect(names(order.take(.syscallEntered(connect))) == ["1 accept unfinished"])
        #expect(names(order.take(.syscallExited(connect))) == ["2 connect"])
        // The tracer saw the kernel return the accept at 300 ms; its exit stop comes at 900 ms.
        #expect(order.hold([1: MonotonicTime(nanoseconds: 300 * Self.ms)]).isEmpty)
        let later = KernelSample(tracepoint: "net:net_dev_queue", role: .event, pid: 3, tid: 3, time: MonotonicTime(nanoseconds: 800 * Self.ms),
                                 cpu: 0, chain: [], fields: [:])
        #expect(order.take(.kernelEvent(later)).isEmpty)
        #expect(names(order.take(.syscallExited(accept))) == ["1 accept resumed", "net:net_dev_queue"])
        // Known, it holds nothing more: the tracer's next word drops it.
        #expect(order.hold([:]).isEmpty)
    }

    @Test("a call still running at the end is unfinished; one its thread left is abandoned, resumed when it was unfinished")
    func endOfTrace() {
        var order = TimelineOrder()
        let blocked = call(1, .accept, at: 1 * Self.ms)
        let killed = call(2, .recvfrom, at: 2 * Self.ms)
        _ = order.take(.syscallEntered(blocked))
        _ = order.take(.syscallEntered(killed))
        #expect(order.take(.syscallAbandoned(killed)).isEmpty, "held behind the accept that began first")
        #expect(names(order.finish()) == ["1 accept unfinished", "2 recvfrom abandoned"])

        var held = TimelineOrder()
        let long = call(4, .recvfrom, at: 1 * Self.ms)
        _ = held.take(.syscallEntered(long))
        #expect(names(held.take(.syscallEntered(call(5, .sendto, at: 500 * Self.ms)))) == ["4 recvfrom unfinished"])
        // Its end is written at its thread's end, not at the time of what came last (audit 82 c).
        #expect(held.take(.syscallAbandoned(long)).isEmpty)
        #expect(names(held.take(.syscallExited(call(5, .sendto, at: 500 * Self.ms, until: 501 * Self.ms)))) == ["5 sendto"])
        let end = MonotonicTime(nanoseconds: 600 * Self.ms)
        let lines = held.take(.process(ProcessEvent(.exited, tid: 4, pid: 4, time: end)))
        #expect(names(lines) == ["4 recvfrom abandoned resumed", "process"])
        if case let .abandoned(_, _, time)? = lines.first { #expect(time == end) }
        // With no end of its thread seen, at the end of the trace.
        var cut = TimelineOrder()
        _ = cut.take(.syscallEntered(long))
        _ = cut.take(.syscallEntered(call(5, .sendto, at: 500 * Self.ms)))
        _ = cut.take(.syscallAbandoned(long))
        #expect(names(cut.finish()) == ["4 recvfrom abandoned resumed", "5 sendto unfinished"])
    }

    @Test("events of equal time keep the order they came in")
    func equalTimes() {
        var order = TimelineOrder()
        let first = call(1, .socket, at: 10, until: 10), second = call(2, .bind, at: 10, until: 10)
        #expect(names(order.take(.syscallExited(first)) + order.take(.syscallExited(second))) == ["1 socket", "2 bind"])
    }
}
