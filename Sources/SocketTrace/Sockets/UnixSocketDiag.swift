import Glibc

/// A netlink message as bytes: its header (struct nlmsghdr, 16 bytes) and
/// payload, and the route attributes (struct rtattr) that follow a fixed
/// part. Little-endian, as the host (x86).
enum Netlink {
    static let headerSize = 16
    static let attributeHeaderSize = 4
    /// NLMSG_ERROR (linux/netlink.h).
    static let errorType: UInt16 = 2
    /// NLM_F_REQUEST.
    static let requestFlag: UInt16 = 1

    /// NLMSG_ALIGN / RTA_ALIGN: netlink pads to 4 bytes.
    static func aligned(_ length: Int) -> Int { (length + 3) & ~3 }

    /// A message with this header and payload (padded to 4 bytes).
    static func message(type: UInt16, flags: UInt16, sequence: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + aligned(payload.count))
        bytes.appendLittleEndian(UInt32(headerSize + payload.count))
        bytes.appendLittleEndian(type)
        bytes.appendLittleEndian(flags)
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(UInt32(0))   // nlmsg_pid: the kernel fills ours in
        bytes += payload
        bytes += [UInt8](repeating: 0, count: aligned(payload.count) - payload.count)
        return bytes
    }

    /// The first message of a datagram: its type and payload, or nil when
    /// the bytes do not hold a whole one (NLMSG_OK).
    static func firstMessage(_ bytes: [UInt8]) -> (type: UInt16, payload: ArraySlice<UInt8>)? {
        guard bytes.count >= headerSize else { return nil }
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: 0))
        guard length >= headerSize, length <= bytes.count else { return nil }
        return (bytes.loadLittleEndian(UInt16.self, at: 4), bytes[headerSize..<length])
    }

    /// The attributes in `bytes` (RTA_OK / RTA_NEXT): type and payload each.
    static func attributes(_ bytes: ArraySlice<UInt8>) -> [(type: UInt16, payload: ArraySlice<UInt8>)] {
        var found: [(type: UInt16, payload: ArraySlice<UInt8>)] = []
        var at = bytes.startIndex
        while bytes.endIndex - at >= attributeHeaderSize {
            let length = Int(UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)
            let type = UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8
            guard length >= attributeHeaderSize, length <= bytes.endIndex - at else { break }
            found.append((type, bytes[(at + attributeHeaderSize)..<(at + length)]))
            at += aligned(length)
        }
        return found
    }
}

/// What the kernel says of an AF_UNIX socket (NETLINK_SOCK_DIAG, UNIX_DIAG,
/// as strace asks it): its peer's inode and its bound path.
struct UnixSocketDiag: Equatable {
    /// The peer's inode; 0 if none.
    var peer: UInt32 = 0
    /// The bound path, `@name` for an abstract one; empty if unbound.
    var path = ""

    /// SOCK_DIAG_BY_FAMILY (linux/sock_diag.h).
    static let byFamily: UInt16 = 20
    /// UDIAG_SHOW_NAME | UDIAG_SHOW_PEER (linux/unix_diag.h).
    static let showNameAndPeer: UInt32 = 0x1 | 0x4
    /// UNIX_DIAG_NAME and UNIX_DIAG_PEER, the reply's attributes.
    static let nameAttribute: UInt16 = 0
    static let peerAttribute: UInt16 = 2
    /// struct unix_diag_msg, before the attributes.
    static let replyFixedSize = 16

    /// The request for the socket with this inode: a nlmsghdr and a struct
    /// unix_diag_req (family AF_UNIX, every state, the inode, any cookie).
    static func request(inode: UInt32) -> [UInt8] {
        var payload: [UInt8] = [UInt8(AF_UNIX), 0, 0, 0]       // sdiag_family, sdiag_protocol, pad
        payload.appendLittleEndian(UInt32.max)                  // udiag_states: all
        payload.appendLittleEndian(inode)                       // udiag_ino
        payload.appendLittleEndian(showNameAndPeer)             // udiag_show
        payload.appendLittleEndian(UInt32.max)                  // udiag_cookie: none given
        payload.appendLittleEndian(UInt32.max)
        return Netlink.message(type: byFamily, flags: Netlink.requestFlag, payload: payload)
    }

    init(peer: UInt32 = 0, path: String = "") {
        self.peer = peer
        self.path = path
    }

    /// Reads the kernel's reply; ENOENT when it is an error or no message.
    init(reply bytes: [UInt8]) throws(Errno) {
        guard let message = Netlink.firstMessage(bytes), message.type != Netlink.errorType,
              message.payload.count >= Self.replyFixedSize else {
            throw .noSuchFileOrDirectory
        }
        let attributes = message.payload.dropFirst(Self.replyFixedSize)
        for (type, payload) in Netlink.attributes(attributes) {
            if type == Self.peerAttribute, payload.count >= 4 {
                peer = Array(payload.prefix(4)).loadLittleEndian(UInt32.self, at: 0)
            } else if type == Self.nameAttribute {
                // An abstract name starts with a NUL byte; a path ends at one.
                var name = payload[...]
                var text = ""
                if name.first == 0 {
                    text = "@"
                    name = name.dropFirst()
                }
                let end = name.firstIndex(of: 0) ?? name.endIndex
                path = text + String(decoding: name[..<end], as: UTF8.self)
            }
        }
    }

    /// Asks the kernel about the socket with this inode.
    init(inode: UInt32) throws(Errno) {
        let fd = try Errno.check(socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Self.sockDiagProtocol))
        defer { close(fd) }
        // struct sockaddr_nl of the kernel: AF_NETLINK, port 0, no groups.
        var kernel = [UInt8](repeating: 0, count: 12)
        kernel[0] = UInt8(AF_NETLINK)
        let request = Self.request(inode: inode)
        let sent = request.withUnsafeBytes { bytes in
            kernel.withUnsafeBytes {
                sendto(fd, bytes.baseAddress, bytes.count, 0, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
            }
        }
        _ = try Errno.check(sent)
        var reply = [UInt8](repeating: 0, count: 8192)
        let got = try Errno.check(reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) })
        try self.init(reply: Array(reply.prefix(got)))
    }

    /// NETLINK_SOCK_DIAG (linux/netlink.h).
    static let sockDiagProtocol: Int32 = 4
}

extension Array where Element == UInt8 {
    /// Appends an integer's bytes, little-endian.
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
