/// A queue read from the front: taking costs what is taken, not what waits
/// behind it, and what was taken is let go once the queue empties or once
/// it is over half of the storage (so a queue that never empties stays flat).
/// Taking moves an element out of its slot rather than copying it (a
/// finished call's copy was 6% of the tracer's time on the ping-pong).
struct FrontQueue<Element> {
    /// Slots before `head` were taken (nil).
    private var items: [Element?] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var count: Int { items.count - head }

    mutating func append(_ element: __owned Element) { items.append(element) }

    /// Appends `element`, then moves it towards the front past every
    /// waiting element `comesAfter` says belongs behind it.
    mutating func append(_ element: __owned Element, placedBefore comesAfter: (Element) -> Bool) {
        items.append(element)
        var index = items.count - 1
        while index > head && comesAfter(items[index - 1]!) {
            items.swapAt(index - 1, index)
            index -= 1
        }
    }

    var first: Element? { head < items.count ? items[head] : nil }

    /// Whether there is a first element and `matches` holds for it (without
    /// copying it out).
    func firstMatches(_ matches: (Element) -> Bool) -> Bool {
        head < items.count && matches(items[head]!)
    }

    /// The first waiting element for which `matches` holds.
    func first(where matches: (Element) -> Bool) -> Element? {
        for index in head..<items.count where matches(items[index]!) { return items[index] }
        return nil
    }

    mutating func replaceFirst(with element: __owned Element) {
        guard head < items.count else { return }
        items[head] = element
    }

    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head].take()
        head += 1
        release()
        return element
    }

    /// Removes and returns the elements at the front for which `belongs` holds.
    mutating func takeFront(while belongs: (Element) -> Bool) -> [Element] {
        var end = head
        while end < items.count && belongs(items[end]!) { end += 1 }
        guard end > head else { return [] }
        var taken: [Element] = []
        taken.reserveCapacity(end - head)
        for index in head..<end { taken.append(items[index].take()!) }
        head = end
        release()
        return taken
    }

    private mutating func release() {
        if head == items.count {
            items.removeAll(keepingCapacity: items.count < 4096)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
