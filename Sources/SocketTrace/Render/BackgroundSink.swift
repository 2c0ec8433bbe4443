import Foundation

/// A sink that renders on a thread of its own: the tracer hands each event
/// over and goes back to its tracees and the kernel's rings, while another
/// core formats the lines (the text timeline's rendering was a quarter of
/// the tracer's time on the ping-pong). Events reach the inner sink in the
/// order they were handed over; `flush` is passed on in its place;
/// `finish` waits until the inner sink has had everything and finished.
/// The tracer waits when `limit` items are queued (a renderer slower than
/// the tracer holds it back instead of growing without bound). Items are
/// handed over `batch` at a time, and at every `flush` and `finish`: the
/// tracer takes the lock and wakes the output thread once a batch, not once
/// an event (per event, the lock and the wakeups were 6% of the tracer's
/// time on the ping-pong). Events are handed over from one thread, the
/// tracer's.
public final class BackgroundSink: TraceSink, @unchecked Sendable {
    enum Item {
        case event(TraceEvent)
        case inFlight([Int32: MonotonicTime], MonotonicTime)
        case caughtUp(MonotonicTime)
        case flush
        case finish
    }

    let inner: TraceSink
    let limit: Int
    /// Guards `queue`, `finishing` and `finished`; signalled when the queue or `finished` changes.
    let condition = NSCondition()
    /// Optional, so that each item is moved out as it is rendered (not copied).
    var queue: [Item?] = []
    /// Handed over by the tracer, not yet queued (the tracer's thread only).
    var gathered: [Item?] = []
    static let batch = 64
    var finished = false
    var finishing = false
    var thread: Thread?

    public init(_ inner: TraceSink, limit: Int = 4096) {
        self.inner = inner
        self.limit = limit
        // The thread holds the sink until `finish` (a sink never finished,
        // its tracer failed before it ran, waits with its thread until the
        // process exits).
        let thread = Thread { [self] in self.render() }
        thread.name = "sockettrace output"
        self.thread = thread
        thread.start()
    }

    public func handle(_ event: __owned TraceEvent) { enqueue(.event(event)) }
    public func flush() { enqueue(.flush, now: true) }
    public func caughtUp(to time: MonotonicTime) { enqueue(.caughtUp(time)) }
    public func recordedCallsInFlight(_ since: [Int32: MonotonicTime], at time: MonotonicTime) {
        enqueue(.inFlight(since, time))
    }

    /// Everything handed over is rendered and the inner sink finished
    /// when this returns.
    /// A second call (the tracer failed after it) does nothing.
    public func finish() {
        condition.lock()
        let already = finishing
        finishing = true
        condition.unlock()
        if !already { enqueue(.finish, now: true) }
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    func enqueue(_ item: __owned Item, now: Bool = false) {
        gathered.append(item)
        if now || gathered.count >= Self.batch { handOver() }
    }

    /// Queues what was gathered for the output thread, waking it if it had
    /// nothing.
    func handOver() {
        condition.lock()
        while queue.count >= limit { condition.wait() }
        if queue.isEmpty {
            swap(&queue, &gathered)
            condition.broadcast()
        } else {
            queue.append(contentsOf: gathered)
            gathered.removeAll(keepingCapacity: true)
        }
        condition.unlock()
    }

    /// The output thread: takes what is queued, all at once, and gives it
    /// to the inner sink outside the lock.
    func render() {
        var batch: [Item?] = []
        while true {
            batch.removeAll(keepingCapacity: true)
            condition.lock()
            while queue.isEmpty { condition.wait() }
            swap(&batch, &queue)
            condition.broadcast()
            condition.unlock()
            for index in batch.indices {
                guard let item = batch[index].take() else { continue }
                switch consume item {
                case let .event(event): inner.handle(event)
                case let .inFlight(since, time): inner.recordedCallsInFlight(since, at: time)
                case let .caughtUp(time): inner.caughtUp(to: time)
                case .flush: inner.flush()
                case .finish:
                    inner.finish()
                    condition.lock()
                    finished = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
            }
        }
    }
}
