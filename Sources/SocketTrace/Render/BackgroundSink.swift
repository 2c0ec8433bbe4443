import CSyscall
import Foundation

/// Hands events to another sink on a thread of its own, in order: the
/// tracer's thread queues a finished call and goes back to its tracees
/// while the record is encoded and written (a trace file's JSON is a
/// quarter of the tracer's work at a ping-pong's pace; with two cores the
/// writing runs beside the stops instead of between them).
///
/// The queue is bounded (`limit` events): a writer that falls behind
/// holds the tracer back rather than letting memory grow. `finish`
/// writes everything queued, then finishes the sink it wraps; `stop`
/// (for paths that end without `finish`) writes everything queued and
/// flushes.
public final class BackgroundSink: TraceSink, @unchecked Sendable {
    enum Item {
        case event(TraceEvent)
        case flush
    }

    let inner: TraceSink
    let limit: Int
    /// Guards everything below.
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var stopping = false
    private var running = false
    private var workerWaits = false
    private var producerWaits = false

    /// Linux's SCHED_IDLE (sched.h defines it only with _GNU_SOURCE).
    static let idlePolicy: Int32 = 5

    public init(_ inner: TraceSink, limit: Int = 1024) {
        self.inner = inner
        self.limit = max(limit, 1)
        running = true
        Thread { [self] in work() }.start()
    }

    public func handle(_ event: TraceEvent) { enqueue(.event(event)) }

    /// Asks for a flush once what was queued before it is written; does not wait.
    public func flush() { enqueue(.flush) }

    public func finish() {
        stop()
        inner.finish()
    }

    /// Writes everything queued, ends the thread, flushes the wrapped sink.
    /// Called again, or after `finish`, it does nothing more.
    public func stop() {
        condition.lock()
        guard running else {
            condition.unlock()
            return
        }
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
        inner.flush()
    }

    private func enqueue(_ item: Item) {
        condition.lock()
        while queue.count >= limit && running {
            producerWaits = true
            condition.wait()
        }
        if running {
            queue.append(item)
            if workerWaits { condition.broadcast() }
            condition.unlock()
        } else {
            // Stopped: written here, on the caller's thread.
            condition.unlock()
            perform(item)
        }
    }

    /// The writer thread's name (`ps -L`, `top -H`).
    public static let threadName = "st-output"

    private func work() {
        _ = cs_thread_set_name(Self.threadName)
        // Runs only on a core nothing else wants (SCHED_IDLE): a tracee
        // waiting for its stop to be handled goes first, as it did when
        // the tracer wrote between stops.
        var parameters = sched_param()
        _ = pthread_setschedparam(pthread_self(), Self.idlePolicy, &parameters)
        var batch: [Item] = []
        while true {
            condition.lock()
            while queue.isEmpty && !stopping {
                workerWaits = true
                condition.wait()
                workerWaits = false
            }
            if queue.isEmpty && stopping {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            if producerWaits {
                producerWaits = false
                condition.broadcast()
            }
            condition.unlock()
            for item in batch { perform(item) }
            batch.removeAll(keepingCapacity: true)
        }
    }

    private func perform(_ item: Item) {
        switch item {
        case let .event(event): inner.handle(event)
        case .flush: inner.flush()
        }
    }
}
