/// One thread's kernel samples not yet given to a call, oldest first. Calls
/// take them from the front (`FrontQueue`): when output lags behind the
/// tracer, thousands of later samples wait here.
struct SampleQueue {
    private var samples = FrontQueue<KernelSample>()

    var isEmpty: Bool { samples.isEmpty }
    var count: Int { samples.count }

    mutating func append(_ sample: KernelSample) {
        // Rings are read one CPU after another: a sample may come after a
        // later one from another CPU. It goes back to its place.
        samples.append(sample, placedBefore: { $0.time > sample.time })
    }

    /// Removes and returns the samples taken before `time` (every one if nil).
    mutating func take(before time: MonotonicTime?) -> [KernelSample] {
        guard let time else { return samples.takeFront(while: { _ in true }) }
        return samples.takeFront(while: { $0.time < time })
    }

    /// Removes and returns the samples taken at or before `time`.
    mutating func take(through time: MonotonicTime) -> [KernelSample] {
        samples.takeFront(while: { $0.time <= time })
    }
}
