import Glibc

/// An errno value as a type: what a failed system call reports, thrown by
/// the Swift wrappers over the C layer (`throws(Errno)`) instead of a bare
/// -1 and a global.
public struct Errno: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno, as the last failed call left it.
    public static var current: Errno { Errno(rawValue: Glibc.errno) }

    /// The C library's message for it (strerror), as strace prints it.
    public var description: String { String(cString: strerror(rawValue)) }

    public static let noSuchFileOrDirectory = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let badAddress = Errno(rawValue: EFAULT)
    public static let busy = Errno(rawValue: EBUSY)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let noSuchDevice = Errno(rawValue: ENODEV)
    public static let permissionDenied = Errno(rawValue: EACCES)

    /// `result`, or the current errno thrown when it is -1 (a libc-style
    /// return: -1 with errno set on failure).
    @inlinable
    public static func check<T: BinaryInteger>(_ result: T) throws(Errno) -> T {
        if result == -1 { throw Errno.current }
        return result
    }
}

extension TraceError {
    /// A failed `operation`, with its errno.
    init(_ kind: Kind = .system, operation: String, pid: Int32? = nil, error: Errno) {
        self.init(kind, operation: operation, pid: pid, errno: error.rawValue)
    }
}
