import Foundation

/// A sink that renders on a thread of its own: the tracer hands each event
/// over and goes back to its tracees and the kernel's rings, while another
/// core formats the lines (the text timeline's rendering was a quarter of
/// the tracer's time on the ping-pong). Events reach the inner sink in the
/// order they were handed over; `flush` is passed on in its place;
/// `finish` waits until the inner sink has had everything and finished.
/// The tracer waits when `limit` items are queued (a renderer slower than
/// the tracer holds it back instead of growing without bound).
public final class BackgroundSink: TraceSink, @unchecked Sendable {
    enum Item {
        case event(TraceEvent)
        case inFlight([Int32: MonotonicTime], MonotonicTime)
        case flush
        case finish
    }

    let inner: TraceSink
    let limit: Int
    /// Guards `queue`, `finishing` and `finished`; signalled when the queue or `finished` changes.
    let condition = NSCondition()
    var queue: [Item] = []
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

    public func handle(_ event: TraceEvent) { enqueue(.event(event)) }
    public func flush() { enqueue(.flush) }
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
        if !already { enqueue(.finish) }
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    func enqueue(_ item: Item) {
        condition.lock()
        while queue.count >= limit { condition.wait() }
        queue.append(item)
        if queue.count == 1 { condition.broadcast() }
        condition.unlock()
    }

    /// The output thread: takes what is queued, all at once, and gives it
    /// to the inner sink outside the lock.
    func render() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.broadcast()
            condition.unlock()
            for item in batch {
                switch item {
                case let .event(event): inner.handle(event)
                case let .inFlight(since, time): inner.recordedCallsInFlight(since, at: time)
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
