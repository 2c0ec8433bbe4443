/// The type and data of one control message (a `struct cmsghdr`'s payload),
/// as strace prints them for SOL_SOCKET and SOL_IP (descriptors, credentials,
/// timestamps, `in_pktinfo`, `sock_extended_err` of the error queue, …), and
/// in the same style for what strace leaves raw: IPv6's (`in6_pktinfo`, its
/// error queue's `sock_extended_err`, hop limit, traffic class), UDP's GRO
/// and GSO sizes and TCP's bytes-in-queue.
struct ControlMessageDecoder {
    let context: DecodingContext

    static let solSocket: UInt64 = 1, solIP: UInt64 = 0, solIPv6: UInt64 = 41, solTCP: UInt64 = 6, solUDP: UInt64 = 17

    var word: Int { context.wordSize }

    /// `SCM_RIGHTS`, `IP_RECVERR`, `IPV6_PKTINFO`, …; hex for a level it has no names for.
    func typeName(level: UInt64, type: UInt64) -> String {
        switch level {
        case Self.solSocket: return SocketConstants.controlMessageTypes.render(type)
        case Self.solIP: return type == 3 ? "SCM_SECURITY" : SocketConstants.ipOptions.render(type)
        case Self.solIPv6: return SocketConstants.ipv6Options.render(type)
        case Self.solUDP: return SocketConstants.udpOptions.render(type)
        case Self.solTCP: return SocketConstants.tcpOptions.render(type)
        default: return hex(type)
        }
    }

    /// The data, decoded when its level and type are known and it is long
    /// enough; otherwise quoted as bytes.
    func render(level: UInt64, type: UInt64, _ data: [UInt8]) -> String {
        decoded(level: level, type: type, data) ?? QuotedString.render(data, truncated: false, hex: context.options.hexStrings)
    }

    func decoded(level: UInt64, type: UInt64, _ data: [UInt8]) -> String? {
        switch (level, type) {
        case (Self.solSocket, 1): return descriptors(data)
        case (Self.solSocket, 2) where data.count >= 12:
            return "{pid=\(data.loadLittleEndian(Int32.self, at: 0)), uid=\(data.loadLittleEndian(UInt32.self, at: 4)), gid=\(data.loadLittleEndian(UInt32.self, at: 8))}"
        case (Self.solSocket, 3) where !data.isEmpty, (Self.solIP, 3) where !data.isEmpty:
            return QuotedString.render(data, truncated: false, hex: context.options.hexStrings)
        // SO_TIMESTAMP_OLD, SO_TIMESTAMPNS_OLD, SO_TIMESTAMPING_OLD: the kernel's longs.
        case (Self.solSocket, 29): return time(data, at: 0, fieldSize: word, fraction: "tv_usec")
        case (Self.solSocket, 35): return time(data, at: 0, fieldSize: word, fraction: "tv_nsec")
        case (Self.solSocket, 37): return times(data, fieldSize: word)
        // SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_NEW, SO_TIMESTAMPING_NEW: 64-bit fields.
        case (Self.solSocket, 63): return time(data, at: 0, fieldSize: 8, fraction: "tv_usec")
        case (Self.solSocket, 64): return time(data, at: 0, fieldSize: 8, fraction: "tv_nsec")
        case (Self.solSocket, 65): return times(data, fieldSize: 8)
        case (Self.solSocket, 40): return unsignedInts(data)  // SO_RXQ_OVFL: datagrams dropped
        case (Self.solIP, 8) where data.count >= 12:  // IP_PKTINFO
            return "{ipi_ifindex=" + context.interfaceIndex(data.loadLittleEndian(UInt32.self, at: 0))
                + ", ipi_spec_dst=inet_addr(" + context.quote(SocketAddressDecoder.ipv4Text(data, at: 4))
                + "), ipi_addr=inet_addr(" + context.quote(SocketAddressDecoder.ipv4Text(data, at: 8)) + ")}"
        case (Self.solIP, 2), (Self.solIP, 23), (Self.solIP, 25): return unsignedInts(data)  // IP_TTL, IP_CHECKSUM, IP_RECVFRAGSIZE
        case (Self.solIP, 1), (Self.solIP, 6), (Self.solIP, 7): return hexBytes(data)  // IP_TOS, IP_RECVOPTS, IP_RETOPTS
        case (Self.solIP, 11) where data.count >= 32: return extendedError(data, offenderSize: 16)  // IP_RECVERR
        case (Self.solIP, 20) where data.count >= 8: return address(data)  // IP_ORIGDSTADDR
        case (Self.solIPv6, 50) where data.count >= 20:  // IPV6_PKTINFO
            return "{ipi6_addr=inet_pton(AF_INET6, " + context.quote(SocketAddressDecoder.ipv6Text(data, at: 0))
                + "), ipi6_ifindex=" + context.interfaceIndex(data.loadLittleEndian(UInt32.self, at: 16)) + "}"
        case (Self.solIPv6, 52), (Self.solIPv6, 67), (Self.solIPv6, 77): return signedInts(data)  // IPV6_HOPLIMIT, IPV6_TCLASS, IPV6_RECVFRAGSIZE
        case (Self.solIPv6, 25) where data.count >= 44: return extendedError(data, offenderSize: 28)  // IPV6_RECVERR
        case (Self.solIPv6, 74) where data.count >= 24: return address(data)  // IPV6_ORIGDSTADDR
        case (Self.solIPv6, 61) where data.count >= 32:  // IPV6_PATHMTU: struct ip6_mtuinfo
            return "{ip6m_addr=" + address(Array(data[0..<28])) + ", ip6m_mtu=\(data.loadLittleEndian(UInt32.self, at: 28))}"
        case (Self.solUDP, 104): return signedInts(data)  // UDP_GRO: the size of the segments coalesced
        case (Self.solUDP, 103) where data.count >= 2: return "[\(data.loadLittleEndian(UInt16.self, at: 0))]"  // UDP_SEGMENT
        case (Self.solTCP, 36): return signedInts(data)  // TCP_CM_INQ: bytes left to read
        default: return nil
        }
    }

    /// SCM_RIGHTS: the descriptors passed, each described as strace -y does.
    func descriptors(_ data: [UInt8]) -> String {
        let all = Array(stride(from: 0, to: data.count - 3, by: 4))
        let fds = all.prefix(context.options.arrayLimit).map { context.describeDescriptor(data.loadLittleEndian(Int32.self, at: $0)) }
        return MessageDecoder.array(fds, truncated: fds.count < all.count)
    }

    /// A `struct sock_extended_err` and the address of whoever sent the
    /// error after it (SO_EE_OFFENDER), fields as strace prints them.
    func extendedError(_ data: [UInt8], offenderSize: Int) -> String {
        let offender = Array(data[16..<min(data.count, 16 + offenderSize)])
        return "{ee_errno=\(data.loadLittleEndian(UInt32.self, at: 0)), ee_origin=\(data[4]), ee_type=\(data[5]), ee_code=\(data[6])"
            + ", ee_info=\(data.loadLittleEndian(UInt32.self, at: 8)), ee_data=\(data.loadLittleEndian(UInt32.self, at: 12))"
            + ", offender=" + address(offender) + "}"
    }

    func address(_ bytes: [UInt8]) -> String { SocketAddressDecoder(context).render(bytes: bytes) }

    func unsignedInts(_ data: [UInt8]) -> String? { ints(data) { String($0) } }

    func signedInts(_ data: [UInt8]) -> String? { ints(data) { String(Int32(bitPattern: $0)) } }

    func ints(_ data: [UInt8], _ text: (UInt32) -> String) -> String? {
        guard data.count >= 4 else { return nil }
        let all = Array(stride(from: 0, through: data.count - 4, by: 4))
        let shown = all.prefix(context.options.arrayLimit).map { text(data.loadLittleEndian(UInt32.self, at: $0)) }
        return MessageDecoder.array(shown, truncated: shown.count < all.count)
    }

    func hexBytes(_ data: [UInt8]) -> String? {
        guard !data.isEmpty else { return nil }
        let shown = data.prefix(context.options.arrayLimit).map { $0 == 0 ? "0" : "0x" + String($0, radix: 16) }
        return MessageDecoder.array(shown, truncated: shown.count < data.count)
    }

    /// A `timeval` or `timespec` whose two fields are `fieldSize` bytes.
    func time(_ data: [UInt8], at offset: Int, fieldSize: Int, fraction: String) -> String? {
        guard data.count >= offset + 2 * fieldSize else { return nil }
        func field(_ at: Int) -> Int64 {
            fieldSize == 8 ? data.loadLittleEndian(Int64.self, at: at) : Int64(data.loadLittleEndian(Int32.self, at: at))
        }
        return "{tv_sec=\(field(offset)), \(fraction)=\(field(offset + fieldSize))}"
    }

    /// SO_TIMESTAMPING: three timespecs (software, deprecated, hardware).
    func times(_ data: [UInt8], fieldSize: Int) -> String? {
        let size = 2 * fieldSize
        guard data.count >= size else { return nil }
        let parts = stride(from: 0, through: min(data.count, 3 * size) - size, by: size).compactMap {
            time(data, at: $0, fieldSize: fieldSize, fraction: "tv_nsec")
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}
