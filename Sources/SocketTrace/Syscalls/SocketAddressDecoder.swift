import Glibc

/// Decodes a `struct sockaddr` of any family the way strace prints it.
public struct SocketAddressDecoder {
    let context: DecodingContext

    public init(_ context: DecodingContext) { self.context = context }

    /// The sockaddr at `address` of `length` bytes, or its address when it
    /// cannot be read.
    public func render(_ address: UInt64, length: Int) -> String {
        if address == 0 { return "NULL" }
        if length <= 0 { return context.pointer(address) }
        let size = min(length, 128)
        guard let bytes = context.memory.readExactly(address, count: size) else {
            return context.pointer(address)
        }
        return render(bytes: bytes)
    }

    /// The sockaddr made of these bytes (already read from the tracee).
    public func render(bytes: [UInt8]) -> String {
        guard bytes.count >= 2 else {
            return "{sa_family=" + (bytes.isEmpty ? "" : QuotedString.render(bytes, truncated: false, hex: context.options.hexStrings)) + "}"
        }
        let family = UInt64(bytes.loadLittleEndian(UInt16.self, at: 0))
        let head = "{sa_family=" + SocketConstants.addressFamilies.render(family)
        switch family {
        case 2 where bytes.count >= 8:
            return head + ", " + inetFields(bytes) + "}"
        case 10 where bytes.count >= 24:
            return head + ", " + inet6Fields(bytes) + "}"
        case 1:
            return head + unixFields(bytes) + "}"
        case 16 where bytes.count >= 12:
            let pid = bytes.loadLittleEndian(UInt32.self, at: 4)
            let groups = bytes.loadLittleEndian(UInt32.self, at: 8)
            // strace's %#08x: eight characters, "0x" counted among them (none for zero).
            let digits = String(groups, radix: 16)
            let groupsText = groups == 0 ? "00000000" : "0x" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
            return head + ", nl_pid=\(Int32(bitPattern: pid)), nl_groups=" + groupsText + "}"
        case 17 where bytes.count >= 12:
            return head + ", " + packetFields(bytes) + "}"
        default:
            return head + ", sa_data=" + QuotedString.render(bytes[2...], truncated: false, hex: context.options.hexStrings) + "}"
        }
    }

    func inetFields(_ bytes: [UInt8]) -> String {
        let port = bytes.loadBigEndian(UInt16.self, at: 2)
        return "sin_port=htons(\(port)), sin_addr=inet_addr(" + context.quote(Self.ipv4Text(bytes, at: 4)) + ")"
    }

    func inet6Fields(_ bytes: [UInt8]) -> String {
        let port = bytes.loadBigEndian(UInt16.self, at: 2)
        let flow = bytes.loadBigEndian(UInt32.self, at: 4)
        let scope = bytes.loadLittleEndian(UInt32.self, at: 24)
        var text = "sin6_port=htons(\(port)), sin6_flowinfo=htonl(\(flow)), "
        text += "inet_pton(AF_INET6, " + context.quote(Self.ipv6Text(bytes, at: 8)) + ", &sin6_addr)"
        if bytes.count >= 28 {
            let isLinkLocal = bytes[8] == 0xfe && bytes[9] & 0xc0 == 0x80
            let isMulticastLinkLocal = bytes[8] == 0xff && bytes[9] & 0x0f == 0x02
            if (isLinkLocal || isMulticastLinkLocal), let name = interfaceName(scope) {
                text += ", sin6_scope_id=if_nametoindex(" + context.quote(name) + ")"
            } else {
                text += ", sin6_scope_id=\(scope)"
            }
        }
        return text
    }

    func unixFields(_ bytes: [UInt8]) -> String {
        let path = bytes[2...]
        if path.isEmpty { return "" }
        if path.first == 0 {
            return ", sun_path=@" + QuotedString.render(path.dropFirst(), truncated: false, hex: context.options.hexStrings)
        }
        let end = path.firstIndex(of: 0) ?? path.endIndex
        return ", sun_path=" + QuotedString.render(path[path.startIndex..<end], truncated: false, hex: context.options.hexStrings)
    }

    func packetFields(_ bytes: [UInt8]) -> String {
        let protocolValue = UInt64(bytes.loadBigEndian(UInt16.self, at: 2))
        let index = bytes.loadLittleEndian(UInt32.self, at: 4)
        let hardware = UInt64(bytes.loadLittleEndian(UInt16.self, at: 8))
        let packetType = UInt64(bytes[10])
        let addressLength = Int(bytes[11])
        var text = "sll_protocol=htons(" + SocketConstants.ethernetProtocols.render(protocolValue) + "), "
        if let name = interfaceName(index) {
            text += "sll_ifindex=if_nametoindex(" + context.quote(name) + "), "
        } else {
            text += "sll_ifindex=\(Int32(bitPattern: index)), "
        }
        text += "sll_hatype=" + SocketConstants.hardwareTypes.render(hardware)
        text += ", sll_pkttype=" + SocketConstants.packetTypes.render(packetType)
        text += ", sll_halen=\(addressLength)"
        if addressLength > 0 {
            let available = bytes.count > 12 ? Array(bytes[12..<min(bytes.count, 12 + min(addressLength, 8))]) : []
            text += ", sll_addr=[" + available.map { "0x" + QuotedString.twoHexDigits($0) }.joined(separator: ", ") + "]"
        }
        return text
    }

    static func ipv4Text(_ bytes: [UInt8], at offset: Int) -> String {
        (0..<4).map { String(bytes[offset + $0]) }.joined(separator: ".")
    }

    static func ipv6Text(_ bytes: [UInt8], at offset: Int) -> String {
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { target in
            for index in 0..<16 { target[index] = bytes[offset + index] }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(cBuffer: buffer)
    }
}
