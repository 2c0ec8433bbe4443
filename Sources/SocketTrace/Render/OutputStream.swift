import Glibc

/// A buffered writer on a file descriptor: the trace's output (stderr by
/// default, `-o FILE`), flushed when the tracer waits and when tracing ends.
public final class OutputStream: @unchecked Sendable {
    let fd: Int32
    let ownsDescriptor: Bool
    var buffer: [UInt8] = []
    public private(set) var writeError: Int32?

    public init(fd: Int32, ownsDescriptor: Bool = false) {
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        buffer.reserveCapacity(1 << 16)
    }

    /// Opens `path` for writing without following a symlink planted at it,
    /// readable only by its owner (a trace holds the program's data).
    public static func create(path: String) throws -> OutputStream {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw TraceError(operation: "Can't open '\(path)'", errno: errno) }
        return OutputStream(fd: fd, ownsDescriptor: true)
    }

    public static let standardError = OutputStream(fd: 2)
    public static let standardOutput = OutputStream(fd: 1)

    public var isTerminal: Bool { isatty(fd) == 1 }

    public func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
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
        if ownsDescriptor { Glibc.close(fd) }
    }
}
