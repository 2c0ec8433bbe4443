import Dispatch
import Foundation
import Glibc

/// Builds each traced thread's graphs from the tracer's lines: a graph
/// begins at a depth-0 entry (a syscall's entry function, the only
/// functions `set_graph_function` lets begin one) and ends at its return.
/// Depths come from the lines themselves (the kernel records each entry's
/// depth in the task's own call stack), so a thread's lines may come from
/// several CPUs.
public struct FunctionGraphAssembler: @unchecked Sendable {
    /// A class: a graph grows a call at a time, in place.
    final class Building {
        var graph: FunctionGraph
        var open: [Int] = []

        init(maxDepth: Int) { graph = FunctionGraph(calls: [], maxDepth: maxDepth) }
    }

    let maxDepth: Int
    let callLimit: Int
    var building: [Int32: Building] = [:]
    /// Finished graphs by thread, oldest first (at most `keptPerThread`: the output may lag the calls by a few hundred).
    var finished: [Int32: [FunctionGraph]] = [:]
    static let keptPerThread = 512
    /// `[LOST N EVENTS]` lines seen.
    public private(set) var lostEvents = 0

    public init(maxDepth: Int, callLimit: Int = 20_000) {
        self.maxDepth = maxDepth
        self.callLimit = callLimit
    }

    public mutating func add(text: Substring) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { add(lines: $0) }
    }

    /// Whole lines, each ending with a newline (a last one without is taken too).
    mutating func add(lines bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && p[end] != 0x0a { end += 1 }
            let line = UnsafeBufferPointer(start: p + start, count: end - start)
            let span = FunctionGraphLine.Span(from: start, to: end)
            start = end + 1
            if let parsed = FunctionGraphLine.parse(line) {
                add(parsed)
            } else if let lost = FunctionGraphLine.find(p, span, UInt8(ascii: "["), UInt8(ascii: "L")) {
                // `CPU:1 [LOST 123 EVENTS]`: which thread's is unknown.
                var digits = FunctionGraphLine.Span(from: lost + 6, to: lost + 6)
                while digits.to < span.to && p[digits.to] >= 0x30 && p[digits.to] <= 0x39 { digits.to += 1 }
                lostEvents += FunctionGraphLine.number(p, digits) ?? 1
                for current in building.values { current.graph.lost = true }
            }
        }
    }

    public mutating func add(_ line: FunctionGraphLine) {
        switch line.kind {
        case .entry, .leaf:
            if line.depth == 0 {
                if let unfinished = building.removeValue(forKey: line.tid) { finish(unfinished.graph, tid: line.tid) }
                building[line.tid] = Building(maxDepth: maxDepth)
            }
            // Below a graph begun before tracing did: nothing to hang it on.
            guard let current = building[line.tid] else { return }
            // A deeper line than the open calls allow: frames the tracer does
            // not record (an interrupt's, funcgraph-irqs off) sit between.
            if current.open.count > line.depth { current.open.removeLast(current.open.count - line.depth) }
            if current.graph.calls.count >= callLimit {
                current.graph.omitted += 1
            } else {
                current.graph.calls.append(.init(function: line.function, depth: line.depth, time: line.time, duration: line.duration))
                if line.kind == .entry { current.open.append(current.graph.calls.count - 1) }
            }
            if line.depth == 0 && line.kind == .leaf {
                building[line.tid] = nil
                finish(current.graph, tid: line.tid)
            }
        case .exit:
            guard let current = building[line.tid] else { return }
            if current.open.count > line.depth + 1 { current.open.removeLast(current.open.count - line.depth - 1) }
            if current.open.count == line.depth + 1 {
                let index = current.open.removeLast()
                if line.function.isEmpty || current.graph.calls[index].function == line.function {
                    current.graph.calls[index].duration = line.duration
                }
            }
            if line.depth == 0 {
                building[line.tid] = nil
                finish(current.graph, tid: line.tid)
            }
        }
    }

    mutating func finish(_ graph: FunctionGraph, tid: Int32) {
        guard !graph.calls.isEmpty else { return }
        if finished[tid, default: []].count >= Self.keptPerThread { finished[tid]!.removeFirst() }
        finished[tid, default: []].append(graph)
    }

    /// The graph of the call on `tid` between `entry` and `exit`: its root
    /// was entered in between (the tracer's time is cut to microseconds, so
    /// up to 1 µs before `entry`). Earlier graphs of the thread (calls not
    /// shown) are dropped. A graph whose return was not seen yet is given
    /// as it is.
    public mutating func take(tid: Int32, entry: MonotonicTime, exit: MonotonicTime) -> FunctionGraph? {
        let earliest = entry.nanoseconds &- 1000
        var found: FunctionGraph?
        if var list = finished.removeValue(forKey: tid) {
            while let first = list.first, let root = first.calls.first, root.time.nanoseconds <= exit.nanoseconds {
                list.removeFirst()
                if found == nil && root.time.nanoseconds >= earliest { found = first }
            }
            finished[tid] = list.isEmpty ? nil : list
        }
        if found == nil, let current = building[tid], let root = current.graph.calls.first,
           root.time.nanoseconds >= earliest, root.time.nanoseconds <= exit.nanoseconds {
            found = current.graph
        }
        return found
    }
}
