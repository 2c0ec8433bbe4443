import Dispatch
import Foundation
import Glibc

/// Reads `trace_pipe` (non-blocking): on a thread of its own while
/// tracing, which only moves the kernel's text into memory (so the
/// kernel's buffer does not fill while the tracer waits), and on the
/// tracer's thread before each call is given its graph (whose lines were
/// in the kernel's buffer before its exit stop), which also reads the text
/// into graphs. Each lock is held for little: a few reads, or the parse
/// of what was read.
final class FunctionGraphReader: @unchecked Sendable {
    let fd: Int32
    /// Held for `read` and for appending to `raw`, so the text stays in order.
    let pipeLock = NSLock()
    var raw: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var stopping = false
    /// Held while text is taken from `raw` and parsed.
    let parseLock = NSLock()
    var assembler: FunctionGraphAssembler
    /// A line cut by a read's end.
    var partial: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
    /// Text kept unparsed before the thread parses it itself.
    static let rawLimit = 8 << 20

    init(fd: Int32, assembler: FunctionGraphAssembler) {
        self.fd = fd
        self.assembler = assembler
    }

    func start() {
        let thread = Thread { [self] in
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while true {
                _ = poll(&request, 1, 50)
                pipeLock.lock()
                let stop = stopping
                if !stop { readAvailable(limit: 16) }
                let backlog = raw.count
                pipeLock.unlock()
                if stop { break }
                if backlog > Self.rawLimit { update() }
            }
            done.signal()
        }
        thread.name = "st-fgraph"
        thread.start()
    }

    /// Up to `limit` reads of what the kernel has (under `pipeLock`).
    func readAvailable(limit: Int) {
        var reads = 0
        while reads < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            raw.append(contentsOf: chunk[0..<count])
            reads += 1
        }
    }

    /// Everything the kernel has now, read and parsed into graphs.
    func update() {
        parseLock.lock()
        defer { parseLock.unlock() }
        pipeLock.lock()
        // What the kernel has (bounded, should a traced thread never stop producing).
        readAvailable(limit: 256)
        var text = raw
        raw = []
        pipeLock.unlock()
        guard text.contains(0x0a) else {
            partial += text
            return
        }
        if !partial.isEmpty {
            text = partial + text
            partial = []
        }
        let end = text.lastIndex(of: 0x0a)!
        partial = Array(text[(end + 1)...])
        text.withUnsafeBufferPointer { assembler.add(lines: UnsafeBufferPointer(rebasing: $0[..<end])) }
    }

    func take(tid: Int32, entry: MonotonicTime, exit: MonotonicTime) -> FunctionGraph? {
        update()
        parseLock.lock()
        defer { parseLock.unlock() }
        return assembler.take(tid: tid, entry: entry, exit: exit)
    }

    var lostEvents: Int {
        parseLock.lock()
        defer { parseLock.unlock() }
        return assembler.lostEvents
    }

    func stop() {
        pipeLock.lock()
        stopping = true
        pipeLock.unlock()
        done.wait()
    }
}
