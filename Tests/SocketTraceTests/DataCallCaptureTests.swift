import Foundation
import Glibc
import Testing
@testable import SocketTrace

/// The kernel's records of reads and writes on sockets (`DataCallCapture`),
/// checked against calls this test makes itself: what it wrote and read,
/// on which descriptor and socket, and nothing for a pipe.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.canObserveKernel, "needs root and BPF"))
struct DataCallCaptureTests {
    @Test("a socket's read and write recorded with their bytes, times and inode; a pipe's not; a forgotten process not")
    func recordsSocketCalls() throws {
        let capture = try DataCallCapture(bytesCaptured: 8)
        defer { capture.close() }
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        defer { for fd in pair + pipeEnds { close(fd) } }
        // This thread's id (Glibc's gettid is not imported): /proc/thread-self is "PID/task/TID".
        let tid = try #require(Int32(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self").split(separator: "/").last ?? ""))
        capture.follow(getpid())
        let message = Array("hello, kernel: more than eight bytes".utf8)
        let before = MonotonicTime.now()
        #expect(write(pair[0], message, message.count) == message.count)
        #expect(write(pipeEnds[1], message, message.count) == message.count)
        var received = [UInt8](repeating: 0, count: 64)
        #expect(read(pair[1], &received, received.count) == message.count)
        #expect(read(pipeEnds[0], &received, received.count) == message.count)
        let after = MonotonicTime.now()
        capture.forget(getpid())
        #expect(write(pair[0], message, 3) == 3)
        let records = capture.drain().filter { $0.tid == tid }
        #expect(records.count == 2, "\(records)")
        guard records.count == 2 else { return }
        var stat = stat()
        #expect(fstat(pair[0], &stat) == 0)
        let (sent, got) = (records[0], records[1])
        #expect(sent.pid == getpid() && sent.number == 1 && sent.descriptor == UInt64(pair[0]))
        #expect(sent.count == UInt64(message.count) && sent.result == Int64(message.count))
        #expect(sent.bytes == Array(message.prefix(8)))
        #expect(sent.family == UInt16(AF_UNIX) && sent.inode == UInt64(stat.st_ino))
        #expect(got.number == 0 && got.descriptor == UInt64(pair[1]) && got.count == 64 && got.result == Int64(message.count))
        #expect(got.bytes == Array(message.prefix(8)))
        #expect(before <= sent.entryTime && sent.entryTime <= sent.exitTime && sent.exitTime <= got.entryTime && got.exitTime <= after)
        #expect(capture.lost == 0)
    }

    @Test("a thread blocked reading a socket is in flight; one blocked reading a pipe is not (it would hold back every later record)")
    func inFlightOnSocketsOnly() throws {
        let capture = try DataCallCapture(bytesCaptured: 8)
        defer { capture.close() }
        var pair: [Int32] = [0, 0], pipeEnds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        #expect(pipe(&pipeEnds) == 0)
        defer { for fd in pair + pipeEnds { close(fd) } }
        capture.follow(getpid())
        defer { capture.forget(getpid()) }
        func blockedReader(_ fd: Int32) -> (tid: Int32, done: DispatchSemaphore) {
            let started = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var tid: Int32 = 0
            Thread.detachNewThread {
                tid = Int32(String((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"))?
                    .split(separator: "/").last ?? "")) ?? 0
                started.signal()
                var byte: UInt8 = 0
                _ = read(fd, &byte, 1)
                done.signal()
            }
            started.wait()
            usleep(100_000)
            return (tid, done)
        }
        let onSocket = blockedReader(pair[1]), onPipe = blockedReader(pipeEnds[0])
        let running = capture.inFlight(among: [onSocket.tid, onPipe.tid])
        #expect(running[onSocket.tid] != nil, "the socket's read is not in flight")
        #expect(running[onPipe.tid] == nil, "the pipe's read is in flight")
        #expect(write(pair[0], "x", 1) == 1 && write(pipeEnds[1], "x", 1) == 1)
        onSocket.done.wait()
        onPipe.done.wait()
        #expect(capture.inFlight(among: [onSocket.tid]).isEmpty)
    }
}
