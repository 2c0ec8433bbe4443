import Dispatch
import Foundation
import Glibc

/// One line of the function_graph tracer's text (`trace_pipe`), with the
/// options this run sets (funcgraph-abstime, -proc, -tail):
///
///     26.415785 |   1)   server-270   |               |          tcp_sendmsg() {
///     26.423264 |   1)   server-270   | + 21.928 us   |                                        loopback_xmit();
///     26.426101 |   1)   server-270   | * 10316.22 us |          } /* tcp_sendmsg */
public struct FunctionGraphLine: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `f() {`: entered, its return comes later.
        case entry
        /// `f();`: entered and returned, nothing it called was recorded.
        case leaf
        /// `} /* f */`: returned.
        case exit
    }

    public let kind: Kind
    /// `""` for an exit without funcgraph-tail's comment.
    public let function: String
    public let depth: Int
    public let time: MonotonicTime
    public let cpu: Int
    public let tid: Int32
    /// Nanoseconds, on leaves and exits.
    public let duration: UInt64?

    /// A line of the trace, or nil for headers, context switches (`=>`),
    /// comments and anything else.
    public static func parse(_ line: Substring) -> FunctionGraphLine? {
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBufferPointer { parse($0) }
    }

    static let bar = UInt8(ascii: "|"), space = UInt8(ascii: " "), dot = UInt8(ascii: ".")

    /// A range of a line's bytes (no generics and no slices: a trace holds
    /// thousands of lines per call, and debug builds do not specialise).
    struct Span {
        var from: Int
        var to: Int
        var isEmpty: Bool { from >= to }
        var count: Int { to - from }
    }

    /// The same from the line's bytes (no newline).
    static func parse(_ line: UnsafeBufferPointer<UInt8>) -> FunctionGraphLine? {
        guard let p = line.baseAddress else { return nil }
        let n = line.count
        // TIME | CPU) TASK-TID | DURATION | FUNCTION (a task's name may hold a `|`).
        var first = 0
        while first < n && p[first] != bar { first += 1 }
        var last = n - 1
        while last > first && p[last] != bar { last -= 1 }
        var secondLast = last - 1
        while secondLast > first && p[secondLast] != bar { secondLast -= 1 }
        guard first < n, last > first, secondLast > first, let time = abstime(p, Span(from: 0, to: first)) else { return nil }
        var close = first + 1
        while close < secondLast && p[close] != UInt8(ascii: ")") { close += 1 }
        guard close < secondLast, let cpu = number(p, trimmed(p, Span(from: first + 1, to: close))) else { return nil }
        let task = trimmed(p, Span(from: close + 1, to: secondLast))
        var dash = task.to - 1
        while dash > task.from && p[dash] != UInt8(ascii: "-") { dash -= 1 }
        guard dash > task.from, let tid = number(p, Span(from: dash + 1, to: task.to)) else { return nil }
        let duration = Self.duration(p, Span(from: secondLast + 1, to: last))
        var bodyStart = last + 1
        while bodyStart < n && p[bodyStart] == space { bodyStart += 1 }
        let depth = max(0, (bodyStart - last - 1 - 2) / 2)
        let body = trimmed(p, Span(from: bodyStart, to: n))
        guard !body.isEmpty else { return nil }
        if p[body.from] == UInt8(ascii: "}") {
            var name = ""
            // `} /* f */`
            if let open = find(p, body, 0x2f, 0x2a), let end = find(p, Span(from: open + 2, to: body.to), 0x2a, 0x2f) {
                name = baseName(p, Span(from: open + 2, to: end))
            }
            return FunctionGraphLine(kind: .exit, function: name, depth: depth, time: time, cpu: cpu, tid: Int32(tid), duration: duration)
        }
        if body.count > 4 && p[body.to - 4] == UInt8(ascii: "(") && p[body.to - 3] == UInt8(ascii: ")")
            && p[body.to - 2] == space && p[body.to - 1] == UInt8(ascii: "{") {
            return FunctionGraphLine(kind: .entry, function: baseName(p, Span(from: body.from, to: body.to - 4)), depth: depth, time: time,
                                     cpu: cpu, tid: Int32(tid), duration: nil)
        }
        if body.count > 3 && p[body.to - 3] == UInt8(ascii: "(") && p[body.to - 2] == UInt8(ascii: ")") && p[body.to - 1] == UInt8(ascii: ";") {
            return FunctionGraphLine(kind: .leaf, function: baseName(p, Span(from: body.from, to: body.to - 3)), depth: depth, time: time,
                                     cpu: cpu, tid: Int32(tid), duration: duration)
        }
        return nil
    }

    static func trimmed(_ p: UnsafePointer<UInt8>, _ span: Span) -> Span {
        var span = span
        while span.from < span.to && p[span.from] == space { span.from += 1 }
        while span.to > span.from && p[span.to - 1] == space { span.to -= 1 }
        return span
    }

    static func number(_ p: UnsafePointer<UInt8>, _ span: Span) -> Int? {
        guard !span.isEmpty, span.count <= 18 else { return nil }
        var value = 0
        var at = span.from
        while at < span.to {
            let digit = p[at]
            guard digit >= 0x30 && digit <= 0x39 else { return nil }
            value = value * 10 + Int(digit - 0x30)
            at += 1
        }
        return value
    }

    /// Where the two bytes `a b` first are in the span.
    static func find(_ p: UnsafePointer<UInt8>, _ span: Span, _ a: UInt8, _ b: UInt8) -> Int? {
        var at = span.from
        while at + 1 < span.to {
            if p[at] == a && p[at + 1] == b { return at }
            at += 1
        }
        return nil
    }

    /// `ovl_flush [overlay]` → `ovl_flush`: a module's function, by its name.
    static func baseName(_ p: UnsafePointer<UInt8>, _ span: Span) -> String {
        var name = trimmed(p, span)
        if let bracket = find(p, name, space, UInt8(ascii: "[")) { name.to = bracket }
        return String(decoding: UnsafeBufferPointer(start: p + name.from, count: name.count), as: UTF8.self)
    }

    /// `   26.415785 ` (seconds, microseconds) as nanoseconds.
    static func abstime(_ p: UnsafePointer<UInt8>, _ field: Span) -> MonotonicTime? {
        let text = trimmed(p, field)
        var point = text.from
        while point < text.to && p[point] != dot { point += 1 }
        let fraction = Span(from: point + 1, to: text.to)
        guard point < text.to, let seconds = number(p, Span(from: text.from, to: point)), !fraction.isEmpty, fraction.count <= 9,
              var nanos = number(p, fraction) else { return nil }
        for _ in fraction.count..<9 { nanos *= 10 }
        return MonotonicTime(nanoseconds: UInt64(seconds) * 1_000_000_000 + UInt64(nanos))
    }

    /// `+ 21.928 us`, `* 10316.22 us`, `$ 3000000 us` (the marks say how
    /// long, by threshold) as nanoseconds; nil for an empty column.
    static func duration(_ p: UnsafePointer<UInt8>, _ field: Span) -> UInt64? {
        var text = trimmed(p, field)
        while text.from < text.to, [0x2b, 0x21, 0x23, 0x2a, 0x40, 0x24].contains(p[text.from]) { text = trimmed(p, Span(from: text.from + 1, to: text.to)) }
        guard text.count > 3, p[text.to - 3] == space, p[text.to - 2] == UInt8(ascii: "u"), p[text.to - 1] == UInt8(ascii: "s") else { return nil }
        let value = Span(from: text.from, to: text.to - 3)
        var point = value.from
        while point < value.to && p[point] != dot { point += 1 }
        guard let micros = number(p, Span(from: value.from, to: point)) else { return nil }
        var nanos = 0
        if point < value.to {
            let digits = Span(from: point + 1, to: min(point + 4, value.to))
            if !digits.isEmpty {
                guard let parsed = number(p, digits) else { return nil }
                nanos = parsed * [1, 100, 10, 1][digits.count]
            }
        }
        return UInt64(micros) * 1000 + UInt64(nanos)
    }

    static func abstime(_ field: Substring) -> MonotonicTime? {
        Array(field.utf8).withUnsafeBufferPointer { abstime($0.baseAddress!, Span(from: 0, to: $0.count)) }
    }

    static func duration(_ field: Substring) -> UInt64? {
        Array(field.utf8).withUnsafeBufferPointer { duration($0.baseAddress!, Span(from: 0, to: $0.count)) }
    }
}
