/// A system call sockettrace decodes. Each has its number on every
/// architecture it exists on; i386 programs may also reach the socket calls
/// through the `socketcall` multiplexer, whose sub-calls are listed here too
/// (`send`, `recv` exist only that way).
public enum Syscall: String, CaseIterable, Sendable, Codable {
    case socket, socketpair, bind, connect, listen, accept, accept4
    case getsockname, getpeername, sendto, recvfrom, send, recv
    case sendmsg, recvmsg, sendmmsg, recvmmsg, recvmmsg_time64
    case shutdown, setsockopt, getsockopt
    case read, write, readv, writev, close, close_range
    case sendfile, sendfile64, splice
    case dup, dup2, dup3, fcntl, fcntl64
    case socketcall

    /// The number on x86_64, nil where the call does not exist there.
    public var x86_64Number: UInt32? {
        switch self {
        case .read: 0
        case .write: 1
        case .close: 3
        case .readv: 19
        case .writev: 20
        case .dup: 32
        case .dup2: 33
        case .sendfile: 40
        case .socket: 41
        case .connect: 42
        case .accept: 43
        case .sendto: 44
        case .recvfrom: 45
        case .sendmsg: 46
        case .recvmsg: 47
        case .shutdown: 48
        case .bind: 49
        case .listen: 50
        case .getsockname: 51
        case .getpeername: 52
        case .socketpair: 53
        case .setsockopt: 54
        case .getsockopt: 55
        case .fcntl: 72
        case .splice: 275
        case .accept4: 288
        case .dup3: 292
        case .recvmmsg: 299
        case .sendmmsg: 307
        case .close_range: 436
        case .send, .recv, .socketcall, .sendfile64, .fcntl64, .recvmmsg_time64: nil
        }
    }

    /// The number on i386 (also for 32-bit programs on an x86_64 kernel).
    public var i386Number: UInt32? {
        switch self {
        case .read: 3
        case .write: 4
        case .close: 6
        case .dup: 41
        case .fcntl: 55
        case .dup2: 63
        case .socketcall: 102
        case .readv: 145
        case .writev: 146
        case .sendfile: 187
        case .fcntl64: 221
        case .sendfile64: 239
        case .splice: 313
        case .dup3: 330
        case .recvmmsg: 337
        case .sendmmsg: 345
        case .socket: 359
        case .socketpair: 360
        case .bind: 361
        case .connect: 362
        case .listen: 363
        case .accept4: 364
        case .getsockopt: 365
        case .setsockopt: 366
        case .getsockname: 367
        case .getpeername: 368
        case .sendto: 369
        case .sendmsg: 370
        case .recvfrom: 371
        case .recvmsg: 372
        case .shutdown: 373
        case .recvmmsg_time64: 417
        case .close_range: 436
        case .accept, .send, .recv: nil
        }
    }

    /// Calls whose exit gives nothing but the return value: no memory to
    /// read and nothing for the socket table (SyscallDecoder.exit and
    /// SocketTracker.apply pass them by). With the kernel's syscall exit
    /// tracepoints sampled, their result comes from there and the thread is
    /// not stopped a second time.
    public static let resultOnlyExits: Set<Syscall> = [.write, .writev, .sendto, .sendmsg]

    public func number(on architecture: Architecture) -> UInt32? {
        architecture == .x86_64 ? x86_64Number : i386Number
    }

    private static let byX86_64: [UInt32: Syscall] = Dictionary(
        uniqueKeysWithValues: allCases.compactMap { c in c.x86_64Number.map { ($0, c) } })
    private static let byI386: [UInt32: Syscall] = Dictionary(
        uniqueKeysWithValues: allCases.compactMap { c in c.i386Number.map { ($0, c) } })

    public init?(number: UInt64, architecture: Architecture) {
        guard number <= UInt64(UInt32.max) else { return nil }
        let table = architecture == .x86_64 ? Syscall.byX86_64 : Syscall.byI386
        guard let found = table[UInt32(number)] else { return nil }
        self = found
    }

    /// The `socketcall(call, args)` sub-call numbers of linux/net.h.
    public init?(socketcallNumber: UInt64) {
        let subcalls: [Syscall] = [
            .socket, .bind, .connect, .listen, .accept, .getsockname, .getpeername,
            .socketpair, .send, .recv, .sendto, .recvfrom, .shutdown, .setsockopt,
            .getsockopt, .sendmsg, .recvmsg, .accept4, .recvmmsg, .sendmmsg,
        ]
        guard socketcallNumber >= 1, socketcallNumber <= UInt64(subcalls.count) else { return nil }
        self = subcalls[Int(socketcallNumber) - 1]
    }

    /// How many arguments the call takes (the socketcall sub-calls read them
    /// from the tracee's array).
    public var argumentCount: Int {
        switch self {
        case .close, .dup: 1
        case .listen, .shutdown, .dup2, .socketcall: 2
        case .socket, .bind, .connect, .accept, .getsockname, .getpeername, .sendmsg, .recvmsg,
             .read, .write, .readv, .writev, .dup3, .fcntl, .fcntl64, .close_range: 3
        case .socketpair, .accept4, .send, .recv, .sendmmsg, .sendfile, .sendfile64: 4
        case .setsockopt, .getsockopt, .recvmmsg, .recvmmsg_time64: 5
        case .sendto, .recvfrom, .splice: 6
        }
    }

    /// strace's `%net` class (TN): the calls `-e trace=%net` selects.
    public var isNetwork: Bool {
        switch self {
        case .read, .write, .readv, .writev, .close, .close_range, .splice,
             .dup, .dup2, .dup3, .fcntl, .fcntl64:
            false
        default:
            true
        }
    }

    /// Calls that act on a descriptor which may or may not be a socket; they
    /// are shown by default only when it is one.
    public var isDescriptorCall: Bool { !isNetwork || self == .sendfile || self == .sendfile64 }

    /// Where a call names the socket it acts on.
    public enum SocketPlace: Equatable, Sendable {
        /// The descriptor it returns (socket, accept).
        case returned
        /// The first of the pair it writes (socketpair).
        case pair
        /// The first of these arguments that is a socket's descriptor.
        case arguments([Int])
        /// None (close_range's range).
        case none
    }

    public var socketPlace: SocketPlace {
        switch self {
        case .socket, .accept, .accept4: .returned
        case .socketpair: .pair
        // sendfile's and splice's socket end.
        case .sendfile, .sendfile64: .arguments([0, 1])
        case .splice: .arguments([2, 0])
        case .close_range: .none
        default: .arguments([0])
        }
    }

    /// Calls whose socket, when they have one, is the descriptor in their
    /// first argument (not one they make, nor one of two).
    public var takesSocketFirst: Bool { socketPlace == .arguments([0]) }

    /// Which argument holds the call's message flags (MSG_*): recv's and
    /// send's fourth, recvmsg's and sendmsg's third, the mmsg calls' fourth;
    /// nil for calls without them.
    public var messageFlagsIndex: Int? {
        switch self {
        case .recv, .recvfrom, .send, .sendto, .recvmmsg, .recvmmsg_time64, .sendmmsg: 3
        case .recvmsg, .sendmsg: 2
        default: nil
        }
    }

    /// Calls that move data out through their descriptor (a send, a write).
    public var sendsData: Bool {
        [.send, .sendto, .sendmsg, .sendmmsg, .write, .writev, .sendfile, .sendfile64, .splice].contains(self)
    }

    /// Calls that take data in through their descriptor (a receive, a read).
    public var receivesData: Bool {
        [.recv, .recvfrom, .recvmsg, .recvmmsg, .recvmmsg_time64, .read, .readv].contains(self)
    }

    /// Calls that change which descriptors a process has, so the socket
    /// table must see them even when they are not shown.
    public var changesDescriptors: Bool {
        switch self {
        case .socket, .socketpair, .accept, .accept4, .close, .close_range, .dup, .dup2, .dup3,
             .fcntl, .fcntl64, .recvmsg, .recvmmsg, .recvmmsg_time64, .socketcall:
            true
        default:
            false
        }
    }
}
