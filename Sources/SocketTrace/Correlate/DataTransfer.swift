/// The bytes a finished call moved through its socket, and which way: what
/// connection byte counts add up. Every call of the read/write, send/recv,
/// sendfile and splice families counts (sendmmsg and recvmmsg by their
/// messages' lengths: their result counts messages); peeks (MSG_PEEK) do not.
public struct DataTransfer: Sendable, Equatable {
    public enum Direction: Sendable, Equatable { case sent, received }

    public let direction: Direction
    public let bytes: Int64
    /// MSG_PEEK.
    static let peekFlag: UInt64 = 0x2

    /// A receive with MSG_PEEK: it copies the bytes and leaves them queued.
    public static func peeks(_ call: SyscallInvocation) -> Bool {
        guard [.recv, .recvfrom, .recvmsg].contains(call.syscall), let index = call.syscall.messageFlagsIndex else { return false }
        return call.argument(index) & peekFlag != 0
    }

    public init?(_ call: SyscallInvocation) {
        guard let result = call.result, !result.failed, result.value > 0, let socket = call.socket else { return nil }
        switch call.syscall {
        case .sendmmsg, .recvmmsg, .recvmmsg_time64:
            // Their result counts messages: the bytes are the messages' msg_len.
            guard let transferred = call.transferredBytes, transferred > 0 else { return nil }
            direction = call.syscall == .sendmmsg ? .sent : .received
            bytes = transferred
            return
        case _ where Self.peeks(call):
            // MSG_PEEK leaves the data queued: the read that takes it counts it.
            return nil
        case .splice:
            // splice(fd_in, off_in, fd_out, …): the socket is whichever end it was.
            direction = socket.fd == Int32(truncatingIfNeeded: call.argument(2)) ? .sent : .received
        case let syscall where syscall.sendsData:
            direction = .sent
        case let syscall where syscall.receivesData:
            direction = .received
        default:
            return nil
        }
        bytes = result.value
    }
}
