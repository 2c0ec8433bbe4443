/// One thread's kernel samples not yet given to a call, oldest first. Calls
/// take them from the front, so taking costs what is taken, not what waits:
/// when output lags behind the tracer, thousands of later samples wait here.
struct SampleQueue {
    private var items: [KernelSample] = []
    /// Items before `head` were taken.
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func append(_ sample: KernelSample) {
        items.append(sample)
        // Rings are read one CPU after another: a sample may come after a
        // later one from another CPU. It goes back to its place.
        var index = items.count - 1
        while index > head && items[index - 1].time > sample.time {
            items.swapAt(index - 1, index)
            index -= 1
        }
    }

    /// Removes and returns the samples taken before `time` (every one if nil).
    mutating func take(before time: MonotonicTime?) -> [KernelSample] {
        guard let time else { return takeFront(upTo: items.count) }
        return takeFront(upTo: frontEnd { $0.time < time })
    }

    /// Removes and returns the samples taken at or before `time`.
    mutating func take(through time: MonotonicTime) -> [KernelSample] {
        takeFront(upTo: frontEnd { $0.time <= time })
    }

    private func frontEnd(_ belongs: (KernelSample) -> Bool) -> Int {
        var end = head
        while end < items.count && belongs(items[end]) { end += 1 }
        return end
    }

    private mutating func takeFront(upTo end: Int) -> [KernelSample] {
        guard end > head else { return [] }
        let taken = Array(items[head..<end])
        head = end
        if head == items.count {
            items.removeAll(keepingCapacity: items.count < 4096)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return taken
    }
}
