import CSyscall
import Foundation
import Testing
@testable import SocketTrace

/// A sink that notes what reaches it, and on which thread; it can be held
/// up to let the queue fill.
final class NotingSink: TraceSink, @unchecked Sendable {
    let lock = NSLock()
    var notes: [String] = []
    var threads: Set<String> = []
    let gate = NSCondition()
    var held = false

    func note(_ text: String, thread: Bool = false) {
        gate.lock()
        while held { gate.wait() }
        gate.unlock()
        lock.lock()
        notes.append(text)
        if thread {
            var name = [CChar](repeating: 0, count: 32)
            _ = cs_thread_name(&name, name.count)
            threads.insert(String(cString: name))
        }
        lock.unlock()
    }

    /// Events note the thread they are written on (flush and finish come from the caller at the end).
    func handle(_ event: TraceEvent) {
        if case let .process(process) = event { note("pid \(process.pid)", thread: process.pid < 9999) }
    }
    func flush() { note("flush") }
    func finish() { note("finish") }

    func hold(_ on: Bool) {
        gate.lock()
        held = on
        gate.broadcast()
        gate.unlock()
    }

    var written: [String] {
        lock.lock()
        defer { lock.unlock() }
        return notes
    }
}

@Suite("BackgroundSink")
struct BackgroundSinkTests {
    static func event(_ pid: Int32) -> TraceEvent {
        .process(ProcessEvent(.started, tid: pid, pid: pid, time: MonotonicTime(nanoseconds: UInt64(pid))))
    }

    @Test("events reach the wrapped sink in order, on the writer's thread; finish writes them all, then finishes it")
    func orderAndFinish() {
        let inner = NotingSink()
        let sink = BackgroundSink(inner, limit: 8)
        for pid in 1...500 {
            sink.handle(Self.event(Int32(pid)))
            if pid % 100 == 0 { sink.flush() }
        }
        sink.finish()
        var expected: [String] = []
        for pid in 1...500 {
            expected.append("pid \(pid)")
            if pid % 100 == 0 { expected.append("flush") }
        }
        // stop()'s own flush, then the wrapped sink's finish.
        #expect(inner.written == expected + ["flush", "finish"])
        #expect(inner.threads == [BackgroundSink.threadName])
        // Stopped: later calls do nothing more, or write on the caller's thread.
        sink.stop()
        sink.handle(Self.event(9999))
        #expect(inner.written.last == "pid 9999")
    }

    @Test("a full queue holds the tracer back until the writer takes from it")
    func bounded() async throws {
        let inner = NotingSink()
        inner.hold(true)
        let sink = BackgroundSink(inner, limit: 4)
        let queued = Counter()
        let producer = Thread {
            for pid in 1...20 {
                sink.handle(Self.event(Int32(pid)))
                queued.add()
            }
        }
        producer.start()
        try await Task.sleep(for: .milliseconds(300))
        // The writer holds one batch (at most the limit) and the queue the limit: the rest wait.
        #expect(queued.value <= 4 + 4 + 1)
        #expect(queued.value < 20)
        inner.hold(false)
        // The tracer finishes after its last event: here, once the producer is done.
        for _ in 0..<500 where queued.value < 20 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(queued.value == 20)
        sink.finish()
        #expect(inner.written.prefix(20) == ArraySlice((1...20).map { "pid \($0)" }))
    }

    @Test("stop without finish (a run left by an error) writes what was queued and flushes, not the end")
    func stopWritesQueued() {
        let inner = NotingSink()
        let sink = BackgroundSink(inner)
        for pid in 1...50 { sink.handle(Self.event(Int32(pid))) }
        sink.stop()
        #expect(inner.written == (1...50).map { "pid \($0)" } + ["flush"])
        sink.stop()
        #expect(inner.written.count == 51)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
