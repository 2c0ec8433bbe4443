/// sock_diag for AF_INET and AF_INET6: requests (`struct inet_diag_req_v2`,
/// the older `struct inet_diag_req`) with their filter bytecode, replies
/// (`struct inet_diag_msg`) with their INET_DIAG_ attributes.
enum InetDiagMessage {
    static func request(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "sdiag_family", size: SockDiagConstants.inetRequestSize, fields: { data in
            "sdiag_protocol=" + text.named(SocketConstants.ipProtocols, UInt64(data.u8(1)))
                + ", idiag_ext=" + text.flags(SockDiagConstants.extensions, UInt64(data.u8(2)), unknown: "1<<INET_DIAG_???-1")
                + ", idiag_states=" + text.flags(SockDiagConstants.tcpStateBits, UInt64(data.u32(4)), unknown: "1<<TCP_???")
                + ", id=" + socketID(data.dropFirst(8), family: family, text: text)
        }, attributes: requestAttributes)
    }

    static func compatRequest(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "idiag_family", size: SockDiagConstants.inetCompatRequestSize, fields: { data in
            "idiag_src_len=\(data.u8(1)), idiag_dst_len=\(data.u8(2))"
                + ", idiag_ext=" + text.flags(SockDiagConstants.extensions, UInt64(data.u8(3)), unknown: "1<<INET_DIAG_???-1")
                + ", id=" + socketID(data.dropFirst(4), family: family, text: text)
                + ", idiag_states=" + text.flags(SockDiagConstants.tcpStateBits, UInt64(data.u32(52)), unknown: "1<<TCP_???")
                + ", idiag_dbs=\(data.u32(56))"
        }, attributes: requestAttributes)
    }

    static func reply(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "idiag_family", size: SockDiagConstants.inetMessageSize, fields: { data in
            "idiag_state=" + text.named(SockDiagConstants.tcpStates, UInt64(data.u8(1)))
                + ", idiag_timer=\(data.u8(2)), idiag_retrans=\(data.u8(3))"
                + ", id=" + socketID(data.dropFirst(4), family: family, text: text)
                + ", idiag_expires=\(data.u32(52)), idiag_rqueue=\(data.u32(56)), idiag_wqueue=\(data.u32(60))"
                + ", idiag_uid=\(data.u32(64)), idiag_inode=\(data.u32(68))"
        }, attributes: replyAttributes)
    }

    /// `struct inet_diag_sockid`: `{idiag_sport=htons(22), …, idiag_cookie=[1, 0]}`.
    static func socketID(_ id: NetlinkData, family: UInt8, text: NetlinkText) -> String {
        "{idiag_sport=htons(\(id.be16(0))), idiag_dport=htons(\(id.be16(2)))"
            + ", " + address(id.dropFirst(4).prefix(16), family: family, field: "idiag_src", text: text)
            + ", " + address(id.dropFirst(20).prefix(16), family: family, field: "idiag_dst", text: text)
            + ", idiag_if=" + text.interfaceIndex(id.u32(36))
            + ", idiag_cookie=" + text.cookie(id, at: 40) + "}"
    }

    /// An address field of the ID: the whole 16 bytes in hex for a family
    /// that is neither INET nor INET6.
    static func address(_ data: NetlinkData, family: UInt8, field: String, text: NetlinkText) -> String {
        if family == NetlinkFamilies.inet || family == NetlinkFamilies.inet6 {
            return text.inetAddress(family: family, data, field: field)
        }
        return field + "=" + QuotedString.render(data.bytes(), truncated: false, hex: .all)
    }

    // MARK: request attributes

    static let requestAttributes = AttributeSchema(SockDiagConstants.inetRequestAttributes, [
        1: bytecode,
        3: AttributeValue.named(SocketConstants.ipProtocols, size: 0),
    ])

    /// INET_DIAG_REQ_BYTECODE: one `struct inet_diag_bc_op` and what follows it.
    static let bytecode: AttributeDecoder = { data, text in
        guard data.count >= 4 else { return nil }
        guard data.canRead(4) else { return text.context.pointer(data.address) }
        let code = data.u8(0)
        let operation = "{code=" + text.named(SockDiagConstants.bytecodes, UInt64(code))
            + ", yes=\(data.u8(1)), no=\(data.u16(2))}"
        guard data.count > 4 else { return operation }
        return operation + ", " + bytecodeData(data.dropFirst(4), code: code, text: text)
    }

    /// The operand of a bytecode operation, by its code.
    static func bytecodeData(_ data: NetlinkData, code: UInt8, text: NetlinkText) -> String {
        switch code {
        case 7, 8: // S_COND, D_COND: struct inet_diag_hostcond and the address
            guard data.count >= 8 else { return text.hexString(data) }
            guard data.canRead(8) else { return text.context.pointer(data.address) }
            let family = data.u8(0)
            var result = "{family=" + text.named(SocketConstants.addressFamilies, UInt64(family))
                + ", prefix_len=\(data.u8(1)), port=\(data.u32(4))"
            if data.count > 8 { result += ", " + text.inetAddress(family: family, data.dropFirst(8), field: "addr") }
            return result + "}"
        case 9: // DEV_COND
            guard data.count >= 4 else { return text.hexString(data) }
            guard data.canRead(4) else { return text.context.pointer(data.address) }
            return text.interfaceIndex(data.u32(0))
        case 2...5: // port comparisons: another inet_diag_bc_op holds the port
            guard data.count >= 4 else { return text.hexString(data) }
            guard data.canRead(4) else { return text.context.pointer(data.address) }
            return "{code=" + text.named(SockDiagConstants.bytecodes, UInt64(data.u8(0)))
                + ", yes=\(data.u8(1)), no=\(data.u16(2))}"
        case 10: // MARK_COND
            guard data.count >= 8 else { return text.hexString(data) }
            guard data.canRead(8) else { return text.context.pointer(data.address) }
            return "{mark=\(data.u32(0)), mask=\(data.u32(4))}"
        default:
            return text.hexString(data)
        }
    }

    // MARK: reply attributes

    static let replyAttributes = AttributeSchema(SockDiagConstants.inetAttributes, [
        Attribute.memoryInfo: AttributeValue.unsignedFields(["idiag_rmem", "idiag_wmem", "idiag_fmem", "idiag_tmem"], fieldSize: 4),
        Attribute.vegasInfo: AttributeValue.unsignedFields(["tcpv_enabled", "tcpv_rttcnt", "tcpv_rtt", "tcpv_minrtt"], fieldSize: 4),
        Attribute.congestion: AttributeValue.string,
        Attribute.typeOfService: AttributeValue.u8,
        Attribute.trafficClass: AttributeValue.u8,
        Attribute.socketMemory: { data, text in text.memoryInfo(data) },
        Attribute.shutdown: shutdown,
        Attribute.dctcpInfo: AttributeValue.unsignedFields(
            ["dctcp_enabled", "dctcp_ce_state", "dctcp_alpha", "dctcp_ab_ecn", "dctcp_ab_tot"], fieldSize: 4),
        Attribute.protocolNumber: AttributeValue.named(SocketConstants.ipProtocols, size: 0),
        Attribute.v6Only: AttributeValue.u8,
        Attribute.mark: AttributeValue.u32,
        Attribute.classID: AttributeValue.u32,
        Attribute.cgroupID: AttributeValue.u64,
        Attribute.socketOptions: socketOptions,
    ])

    /// INET_DIAG_SHUTDOWN: the value with its flags in a comment (the
    /// kernel's names of them are not part of its API): `0x3 /* RCV_SHUTDOWN|SEND_SHUTDOWN */`.
    static let shutdown: AttributeDecoder = { data, text in
        guard data.count <= 8, data.count >= 1 else { return nil }
        guard data.canRead(1) else { return text.context.pointer(data.address) }
        let value = UInt64(data.u8(0))
        if value == 0 { return "0" }
        let names = SockDiagConstants.shutdownFlags.render(value)
        if names.hasPrefix("0x") { return "\(cHex(value)) /* ???_SHUTDOWN */" }
        return "\(cHex(value)) /* \(names) */"
    }

    /// INET_DIAG_SOCKOPT: `struct inet_diag_sockopt`, two bytes of bit
    /// fields; abbreviated, only the bits that are set.
    static let socketOptions: AttributeDecoder = { data, text in
        guard data.count >= 2 else { return nil }
        guard data.canRead(2) else { return text.context.pointer(data.address) }
        let low = data.u8(0), high = data.u8(1)
        var fields: [String] = []
        for (bit, name) in socketOptionBits.enumerated() {
            let value = bit < 8 ? (low >> bit) & 1 : (high >> (bit - 8)) & 1
            if !text.abbreviated || value != 0 { fields.append("\(name)=\(value)") }
        }
        let unused = high >> 3
        if !text.abbreviated || unused != 0 { fields.append("unused=\(cHex(UInt64(unused))) /* bits 3..8 */") }
        var result = "{" + fields.joined(separator: ", ") + "}"
        let rest = data.dropFirst(2)
        if rest.count > 0, rest.canRead(min(rest.count, 4096)), rest.bytes(min(rest.count, 4096)).contains(where: { $0 != 0 }) {
            result += ", " + text.hexString(rest.prefix(4096))
        }
        return result
    }

    static let socketOptionBits = [
        "recverr", "is_icsk", "freebind", "hdrincl", "mc_loop", "transparent", "mc_all", "nodefrag",
        "bind_address_no_port", "recverr_rfc4884", "defer_connect",
    ]

    /// INET_DIAG_ attribute types (include/uapi/linux/inet_diag.h).
    enum Attribute {
        static let memoryInfo: UInt16 = 1
        static let vegasInfo: UInt16 = 3
        static let congestion: UInt16 = 4
        static let typeOfService: UInt16 = 5
        static let trafficClass: UInt16 = 6
        static let socketMemory: UInt16 = 7
        static let shutdown: UInt16 = 8
        static let dctcpInfo: UInt16 = 9
        static let protocolNumber: UInt16 = 10
        static let v6Only: UInt16 = 11
        static let mark: UInt16 = 15
        static let classID: UInt16 = 17
        static let cgroupID: UInt16 = 21
        static let socketOptions: UInt16 = 22
    }
}
