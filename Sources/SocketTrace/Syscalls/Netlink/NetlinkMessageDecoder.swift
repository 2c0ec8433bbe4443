/// `struct nlmsghdr`, the head of every netlink message.
struct NetlinkHeader {
    let length: UInt32
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let portID: UInt32

    init(_ data: NetlinkData) {
        length = data.u32(0)
        type = data.u16(4)
        flags = data.u16(6)
        sequence = data.u32(8)
        portID = data.u32(12)
    }

    var isRequest: Bool { UInt64(flags) & NetlinkConstants.requestFlag != 0 }
}

/// What a netlink protocol adds to the generic layer: the names of its
/// message types, the flags of each type, and how its payloads read.
protocol NetlinkFamilyDecoder {
    /// The family's message types (those from NLMSG_MIN_TYPE on).
    var messageTypes: ConstantTable { get }
    /// The flags a message of `type` may carry besides netlink's own.
    func typeFlags(_ type: UInt16) -> FlagTable?
    /// The payload of a message of the family (its own types and
    /// NLMSG_DONE); nil leaves it to the generic layer.
    func payload(_ data: NetlinkData, header: NetlinkHeader, text: NetlinkText) -> String?
}

/// Decodes a buffer of netlink messages sent or received on an AF_NETLINK
/// socket as strace 6.1 does: each `nlmsghdr` with its payload, several in
/// brackets (`...` after `-s` of them unless `-v`), the payload by the
/// socket's protocol (NETLINK_ROUTE, NETLINK_SOCK_DIAG) or in hex.
struct NetlinkMessageDecoder {
    let text: NetlinkText
    let family: (any NetlinkFamilyDecoder)?

    /// A decoder for messages of netlink protocol `protocolNumber` (nil: not known).
    init(_ context: DecodingContext, protocolNumber: UInt64?) {
        text = NetlinkText(context: context)
        switch protocolNumber {
        case NetlinkConstants.routeProtocol?: family = RouteNetlinkDecoder()
        case NetlinkConstants.sockDiagProtocol?: family = SockDiagDecoder()
        default: family = nil
        }
    }

    /// The `length` bytes at `address` in the tracee.
    func render(_ address: UInt64, length: Int) -> String {
        if address == 0 { return "NULL" }
        return render(NetlinkData(memory: text.context.memory, address: address, count: length))
    }

    func render(_ data: NetlinkData) -> String {
        var parts: [String] = []
        var isList = false
        var rest = data
        var index = 0
        while true {
            guard rest.count >= NetlinkConstants.headerSize else {
                parts.append(text.hexString(rest))
                break
            }
            guard rest.canRead(NetlinkConstants.headerSize) else {
                parts.append(isList ? "... /* \(hex(rest.address)) */" : text.context.pointer(rest.address))
                break
            }
            if let limit = text.elementLimit, index == limit {
                parts.append("...")
                break
            }
            let header = NetlinkHeader(rest)
            let aligned = netlinkAligned(Int(header.length))
            var next: NetlinkData?
            if Int(header.length) >= NetlinkConstants.headerSize && rest.count > aligned {
                next = rest.dropFirst(aligned)
            }
            if next != nil { isList = true }
            parts.append(message(rest, header: header))
            guard let following = next else { break }
            rest = following
            index += 1
        }
        return isList ? "[" + parts.joined(separator: ", ") + "]" : parts.joined(separator: ", ")
    }

    /// One message: `{nlmsg_len=…}` alone, or `[{nlmsg_len=…}, payload]`.
    func message(_ data: NetlinkData, header: NetlinkHeader) -> String {
        let length = min(Int(header.length), data.count)
        let headerText = render(header)
        guard length > NetlinkConstants.headerSize else { return headerText }
        let body = data.dropFirst(NetlinkConstants.headerSize).prefix(length - NetlinkConstants.headerSize)
        return "[" + headerText + ", " + payload(body, header: header) + "]"
    }

    func render(_ header: NetlinkHeader) -> String {
        "{nlmsg_len=\(header.length), nlmsg_type=" + typeName(header.type)
            + ", nlmsg_flags=" + flagsText(header) + ", nlmsg_seq=\(header.sequence)"
            + ", nlmsg_pid=\(Int32(bitPattern: header.portID))}"
    }

    func typeName(_ type: UInt16) -> String {
        if type >= NetlinkConstants.firstFamilyType, let family {
            return text.named(family.messageTypes, UInt64(type))
        }
        return text.named(NetlinkConstants.controlTypes, UInt64(type))
    }

    func flagsText(_ header: NetlinkHeader) -> String {
        var table = NetlinkConstants.flags
        if header.type < NetlinkConstants.firstFamilyType {
            if header.type == NetlinkConstants.error { table = table.followed(by: NetlinkConstants.acknowledgementFlags) }
        } else if let extra = family?.typeFlags(header.type) {
            table = table.followed(by: extra)
        }
        return text.flags(table, UInt64(header.flags), unknown: "NLM_F_???")
    }

    func payload(_ data: NetlinkData, header: NetlinkHeader) -> String {
        if header.type == NetlinkConstants.error {
            return acknowledgement(data, capped: UInt64(header.flags) & NetlinkConstants.cappedFlag != 0)
        }
        if header.type >= NetlinkConstants.firstFamilyType || header.type == NetlinkConstants.done,
           let family, let decoded = family.payload(data, header: header, text: text) {
            return decoded
        }
        if header.type == NetlinkConstants.done && data.count == 4 {
            return data.canRead(4) ? String(data.s32(0)) : text.context.pointer(data.address)
        }
        return text.hexString(data)
    }

    /// NLMSG_ERROR: `{error=-ENOENT, msg=…}` with the request it answers
    /// (its header only when capped), then any extended-ACK attributes.
    func acknowledgement(_ data: NetlinkData, capped: Bool) -> String {
        let errorSize = 4 + NetlinkConstants.headerSize
        guard data.count >= errorSize else { return text.hexString(data) }
        guard data.canRead(errorSize) else { return text.context.pointer(data.address) }
        let request = data.dropFirst(4)
        let requestHeader = NetlinkHeader(request)
        let requestLength = capped ? NetlinkConstants.headerSize : max(NetlinkConstants.headerSize, Int(requestHeader.length))
        let shown = min(request.count, requestLength)
        let body = "{error=" + text.errorCode(data.s32(0)) + ", msg=" + message(request.prefix(shown), header: requestHeader) + "}"
        guard request.count > shown else { return body }
        let attributes = AttributeListDecoder(text: text).render(request.dropFirst(shown), Self.acknowledgementSchema)
        return "[" + body + ", " + attributes + "]"
    }

    static let acknowledgementSchema = AttributeSchema(NetlinkConstants.errorAttributes, [
        1: AttributeValue.string,
        2: AttributeValue.u32,
        3: { data, text in
            let shown = text.elementLimit.map { min($0, data.count) } ?? data.count
            guard data.count > 0 else { return nil }
            guard data.canRead(shown) else { return text.context.pointer(data.address) }
            return text.list(data.bytes(shown).map { String($0) }, truncated: shown < data.count)
        },
    ])
}
