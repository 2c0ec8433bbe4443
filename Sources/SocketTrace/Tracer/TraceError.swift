import Glibc

/// A failure of the tracer, with the operation, the process and errno.
public struct TraceError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        case programNotFound
        case programNotExecutable
        case system
        case usage
    }

    public let kind: Kind
    public let operation: String
    public let pid: Int32?
    public let errno: Int32?

    public init(_ kind: Kind = .system, operation: String, pid: Int32? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.operation = operation
        self.pid = pid
        self.errno = errno
    }

    /// A failed system call, from the current errno.
    static func system(_ operation: String, pid: Int32? = nil) -> TraceError {
        TraceError(.system, operation: operation, pid: pid, errno: Glibc.errno)
    }

    public var description: String {
        var text = operation
        if let pid { text += " (pid \(pid))" }
        if let errno { text += ": " + errnoMessage(errno) }
        return text
    }

    /// The exit status a command-line tool gives for this error
    /// (127 and 126 as a shell does for a missing or unrunnable program).
    public var exitStatus: Int32 {
        switch kind {
        case .programNotFound: 127
        case .programNotExecutable: 126
        case .usage: 2
        case .system: 1
        }
    }
}
