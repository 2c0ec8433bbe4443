import CSyscall
import Foundation
import Glibc

/// A buffered writer on a file descriptor: the trace's output (stderr by
/// default, `-o FILE`), flushed when the tracer waits and when tracing ends.
/// Locked: the output thread (`BackgroundSink`) and the tracer's
/// diagnostics share standard error.
public final class TraceOutput: @unchecked Sendable {
    let fd: Int32
    let ownsDescriptor: Bool
    let lock = NSLock()
    var buffer: [UInt8] = []
    public private(set) var writeError: Int32?

    public init(fd: Int32, ownsDescriptor: Bool = false) {
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        buffer.reserveCapacity(1 << 16)
    }

    /// Opens `path` for writing without following a symlink planted at it,
    /// readable only by its owner (a trace holds the program's data).
    /// `/dev/stdout`, `/dev/stderr` and `/dev/fd/N` are the tracer's own
    /// descriptors, written as they are (they are symlinks, which the
    /// file's open refuses: audit 87 F3; strace -o /dev/stderr works).
    public static func create(path: String) throws -> TraceOutput {
        switch path {
        case "/dev/stdout", "/proc/self/fd/1", "/dev/fd/1": return .standardOutput
        case "/dev/stderr", "/proc/self/fd/2", "/dev/fd/2": return .standardError
        default: break
        }
        // (A name there that is no number is opened as any path, and not found.)
        for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
            guard let number = Int32(path.dropFirst(prefix.count)), number >= 0 else { break }
            guard fcntl(number, F_GETFD) >= 0 else { throw TraceError(operation: "Can't open '\(path)'", errno: EBADF) }
            return TraceOutput(fd: number)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw TraceError(operation: "Can't open '\(path)'", errno: errno) }
        return TraceOutput(fd: fd, ownsDescriptor: true)
    }

    /// A stream that keeps what is written (fd -1), for building documents.
    public static func capturing() -> TraceOutput { TraceOutput(fd: -1) }

    /// Everything written to a capturing stream.
    public var captured: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: kept, as: UTF8.self)
    }
    var kept: [UInt8] = []

    public static let standardError = TraceOutput(fd: 2)
    public static let standardOutput = TraceOutput(fd: 1)

    public var isTerminal: Bool { isatty(fd) == 1 }

    /// The terminal's width in columns, nil when the output is not a terminal.
    public var terminalWidth: Int? {
        let width = Int(cs_terminal_width(fd))
        return width > 0 ? width : nil
    }

    public func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    /// A line of UTF-8 bytes (the newline is added).
    func writeLine(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        buffer.append(contentsOf: bytes)
        buffer.append(0x0a)
        if buffer.count >= 1 << 16 { flushLocked() }
    }

    public func flush() {
        lock.lock()
        defer { lock.unlock() }
        flushLocked()
    }

    func flushLocked() {
        if fd < 0 {
            kept.append(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
            return
        }
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                writeError = errno
                break
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() {
        flush()
        if ownsDescriptor && fd >= 0 { Glibc.close(fd) }
    }
}
