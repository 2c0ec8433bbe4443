import CSyscall
import Foundation
import Glibc

/// Asks the kernel, through /proc, what a descriptor is and, for a socket,
/// its addresses: `/proc/PID/fd/N` names the socket's inode and
/// `/proc/PID/net/{tcp,udp,…}` list the sockets of the process's network
/// namespace by inode.
public enum KernelSocketLookup {
    /// The target of /proc/PID/fd/FD: `socket:[123]`, a path, `pipe:[9]`.
    public static func descriptorTarget(pid: Int32, fd: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")
    }

    /// The network namespace process `pid` is in (the inode of
    /// /proc/PID/ns/net, `net:[4026531833]`); nil when it cannot be read.
    public static func networkNamespace(pid: Int32) -> UInt64? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net"),
              target.hasPrefix("net:["), target.hasSuffix("]") else { return nil }
        return UInt64(target.dropFirst(5).dropLast())
    }

    /// The inode of a socket descriptor, nil when the fd is not a socket.
    public static func socketInode(pid: Int32, fd: Int32) -> UInt64? {
        guard let target = descriptorTarget(pid: pid, fd: fd) else { return nil }
        return socketInode(fromTarget: target)
    }

    static func socketInode(fromTarget target: String) -> UInt64? {
        guard target.hasPrefix("socket:["), target.hasSuffix("]") else { return nil }
        return UInt64(target.dropFirst(8).dropLast())
    }

    /// One row of /proc/net/{tcp,udp,…}.
    /// A socket's local and peer addresses, from a copy of process `pid`'s
    /// descriptor `fd`; nil when the kernel cannot copy it (before Linux 5.6).
    public static func addresses(pid: Int32, fd: Int32) -> (local: SocketEndpoint?, peer: SocketEndpoint?)? {
        guard let copy = try? copyOfDescriptor(pid: pid, fd: fd) else { return nil }
        defer { Glibc.close(copy) }
        return (socketAddress(copy, getsockname), socketAddress(copy, getpeername))
    }

    /// The TCP state the kernel gives process `pid`'s socket `fd` now
    /// (TCP_INFO's first byte, `tcpi_state`: TCP_ESTABLISHED 1 … TCP_CLOSE 7),
    /// read on a copy of the descriptor; nil when it cannot be read.
    public static func tcpState(pid: Int32, fd: Int32) -> Int64? {
        guard let copy = try? copyOfDescriptor(pid: pid, fd: fd) else { return nil }
        defer { Glibc.close(copy) }
        var info = [UInt8](repeating: 0, count: 8)
        var length = socklen_t(info.count)
        let result = info.withUnsafeMutableBytes { getsockopt(copy, Int32(IPPROTO_TCP), Self.tcpInfoOption, $0.baseAddress, &length) }
        guard result == 0, length >= 1 else { return nil }
        return Int64(info[0])
    }

    /// TCP_INFO (linux/tcp.h).
    static let tcpInfoOption: Int32 = 11

    /// What a socket descriptor is, as the socket itself says (SO_DOMAIN,
    /// SO_TYPE, SO_PROTOCOL on a copy), with its addresses and, for TCP,
    /// its state: for a socket no /proc/net table lists (a TCP socket in
    /// TCP_CLOSE, reset or never connected; an unbound UDP socket), seen
    /// first after an attach. nil when it cannot be copied.
    public static func described(pid: Int32, fd: Int32) -> (family: UInt64, type: UInt64, protocolNumber: UInt64,
                                                             local: SocketEndpoint?, peer: SocketEndpoint?, tcpState: Int64?)? {
        guard let copy = try? copyOfDescriptor(pid: pid, fd: fd) else { return nil }
        defer { Glibc.close(copy) }
        func option(_ level: Int32, _ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(copy, level, name, &value, &length) == 0 ? value : nil
        }
        guard let domain = option(SOL_SOCKET, SO_DOMAIN), let type = option(SOL_SOCKET, SO_TYPE) else { return nil }
        let protocolNumber = option(SOL_SOCKET, SO_PROTOCOL) ?? 0
        var state: Int64?
        if (domain == AF_INET || domain == AF_INET6) && type == Int32(SOCK_STREAM.rawValue) {
            var info = [UInt8](repeating: 0, count: 8)
            var length = socklen_t(info.count)
            if info.withUnsafeMutableBytes({ getsockopt(copy, Int32(IPPROTO_TCP), tcpInfoOption, $0.baseAddress, &length) }) == 0, length >= 1 {
                state = Int64(info[0])
            }
        }
        return (UInt64(domain), UInt64(type), UInt64(protocolNumber), socketAddress(copy, getsockname), socketAddress(copy, getpeername), state)
    }

    /// A copy of process `pid`'s descriptor `fd` in this process (pidfd_getfd).
    static func copyOfDescriptor(pid: Int32, fd: Int32) throws(Errno) -> Int32 {
        let pidfd = try Errno.check(cs_pidfd_open(pid))
        defer { Glibc.close(pidfd) }
        return try Errno.check(cs_pidfd_getfd(pidfd, fd))
    }

    /// getsockname or getpeername of `fd`; nil when the kernel says none.
    static func socketAddress(_ fd: Int32, _ call: (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?) -> Int32) -> SocketEndpoint? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard result == 0, length > 0 else { return nil }
        let bytes = withUnsafeBytes(of: storage) { Array($0.prefix(Int(min(length, socklen_t(MemoryLayout<sockaddr_storage>.size))))) }
        return SocketEndpoint(sockaddr: bytes)
    }

    public struct Entry: Equatable {
        public var family: UInt64
        public var type: UInt64
        public var protocolNumber: UInt64
        public var local: SocketEndpoint
        public var remote: SocketEndpoint
        public var tcpState: Int
    }

    static let inetTables: [(file: String, family: UInt64, type: UInt64, protocolNumber: UInt64)] = [
        ("tcp", 2, 1, 6), ("tcp6", 10, 1, 6), ("udp", 2, 2, 17), ("udp6", 10, 2, 17),
        ("udplite", 2, 2, 136), ("udplite6", 10, 2, 136), ("raw", 2, 3, 255), ("raw6", 10, 3, 255),
    ]

    /// Finds a socket by inode in the namespace of `pid`.
    public static func find(inode: UInt64, pid: Int32, family: UInt64? = nil, type: UInt64? = nil) -> Entry? {
        let wanted = String(inode)
        // Each table read makes the kernel walk its whole hash: read only the socket's own.
        for table in inetTables where (family == nil || family == table.family) && (type == nil || type == table.type) {
            guard let text = ProcFile.text("/proc/\(pid)/net/\(table.file)") else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[9] == wanted else { continue }
                guard let local = parseInet(fields[1], six: table.family == 10),
                      let remote = parseInet(fields[2], six: table.family == 10) else { return nil }
                return Entry(family: table.family, type: table.type, protocolNumber: table.protocolNumber,
                             local: local, remote: remote, tcpState: Int(fields[3], radix: 16) ?? 0)
            }
        }
        if family == nil || family == 1, let text = ProcFile.text("/proc/\(pid)/net/unix") {
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: true)
                guard fields.count > 6, fields[6] == wanted else { continue }
                let type = UInt64(fields[4], radix: 16) ?? 1
                let path = fields.count > 7 ? String(fields[7]) : ""
                return Entry(family: 1, type: type, protocolNumber: 0, local: .unix(path: path),
                             remote: .unix(path: ""), tcpState: 0)
            }
        }
        return nil
    }

    /// The NETLINK_ protocol of a netlink socket of `pid`'s namespace, from
    /// /proc/PID/net/netlink (its Eth column); nil when it is not listed there.
    public static func netlinkProtocol(inode: UInt64, pid: Int32) -> UInt64? {
        guard let text = ProcFile.text("/proc/\(pid)/net/netlink") else { return nil }
        let wanted = String(inode)
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9, fields[9] == wanted else { continue }
            return UInt64(fields[1])
        }
        return nil
    }

    /// `0100007F:3039` → 127.0.0.1:12345 (the address words are in host order).
    static func parseInet(_ field: Substring, six: Bool) -> SocketEndpoint? {
        let parts = field.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1], radix: 16) else { return nil }
        let hexAddress = Array(parts[0])
        var bytes: [UInt8] = []
        let words = six ? 4 : 1
        guard hexAddress.count == words * 8 else { return nil }
        for word in 0..<words {
            let chunk = String(hexAddress[(word * 8)..<(word * 8 + 8)])
            guard let value = UInt32(chunk, radix: 16) else { return nil }
            bytes += [UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff), UInt8(value >> 24)]
        }
        if six {
            return .inet6(address: SocketAddressDecoder.ipv6Text(bytes, at: 0), port: port)
        }
        return .inet(address: SocketAddressDecoder.ipv4Text(bytes, at: 0), port: port)
    }
}
