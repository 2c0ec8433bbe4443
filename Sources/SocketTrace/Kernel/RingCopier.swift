import Foundation

/// Copies the perf rings' records out to memory on a thread of its own,
/// every millisecond while they bring records (every 10 ms when they do
/// not), so that a ring never fills while the tracer works: a program
/// running without stops writes far faster than the tracer attributes
/// (the ping-pong's 20,000 round trips, free-running, filled a 4 MiB ring
/// in a 91–127 ms stretch the tracer spent aligning its first chains, and
/// lost 275–8,829 samples in 7 of 10 runs). The tracer parses the copies
/// when it drains (`take`), in the order they were copied.
///
/// Every read of a ring (its tail moved) goes through this object's lock:
/// one reader at a time, as the ring wants.
final class RingCopier: @unchecked Sendable {
    let lock = NSLock()
    /// The rings to copy; changed under the lock.
    private var rings: [PerfRing] = []
    /// Copied records, oldest first (whole records each).
    private var chunks: [[UInt8]] = []
    private var chunkBytes = 0
    private var stopped = false
    private var thread: Thread?
    /// Where a ring's records are copied first (under the lock): not
    /// zeroed, so its pages are touched only as far as copies fill it
    /// (zeroing 4 MiB took 1,024 page faults before the program could
    /// start).
    private var scratch: [UInt8]
    /// Copies stop past this many bytes held (the tracer that far behind):
    /// the rings then fill, and the kernel counts what they lose.
    let limit: Int

    init(bufferSize: Int, limit: Int = 512 << 20) {
        scratch = [UInt8](unsafeUninitializedCapacity: bufferSize) { _, count in count = bufferSize }
        self.limit = limit
    }

    /// The rings to copy from now on (the caller unmaps none still listed).
    func setRings(_ rings: [PerfRing]) {
        lock.lock()
        self.rings = rings
        lock.unlock()
        if thread == nil && !rings.isEmpty {
            let thread = Thread { [self] in run() }
            thread.name = "sockettrace rings"
            self.thread = thread
            thread.start()
        }
    }

    /// Everything copied so far and what the rings hold now, oldest first.
    func take() -> [[UInt8]] {
        lock.lock()
        copyLocked()
        let taken = chunks
        chunks.removeAll()
        chunkBytes = 0
        lock.unlock()
        return taken
    }

    /// Copies what the rings hold now (the tracer's thread: `KernelSampler.stash`).
    func copyNow() {
        lock.lock()
        copyLocked()
        lock.unlock()
    }

    /// Stops copying; the rings may then be unmapped.
    func stop() {
        lock.lock()
        stopped = true
        rings = []
        lock.unlock()
    }

    private func run() {
        while true {
            lock.lock()
            if stopped {
                lock.unlock()
                return
            }
            let copied = copyLocked()
            lock.unlock()
            usleep(copied > 0 ? 1000 : 10_000)
        }
    }

    /// Copies each ring out, a run at a time; the bytes copied.
    @discardableResult
    private func copyLocked() -> Int {
        var copied = 0
        for ring in rings {
            while chunkBytes < limit {
                let length = scratch.withUnsafeMutableBytes { ring.drain(into: $0) }
                if length == 0 { break }
                chunks.append(Array(scratch[0..<length]))
                chunkBytes += length
                copied += length
                if length < scratch.count / 2 { break }
            }
        }
        return copied
    }
}
