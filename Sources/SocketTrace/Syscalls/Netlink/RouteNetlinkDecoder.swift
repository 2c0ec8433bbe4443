/// NETLINK_ROUTE: links, addresses, routes and neighbours, each a fixed
/// header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg) and attributes; other
/// message kinds as their family and bytes, as strace 6.1 shows them.
struct RouteNetlinkDecoder: NetlinkFamilyDecoder {
    var messageTypes: ConstantTable { RouteNetlinkConstants.messageTypes }

    func typeFlags(_ type: UInt16) -> FlagTable? {
        if type == RouteNetlinkConstants.deleteAction { return NetlinkConstants.getFlags }
        switch type & 3 {
        case 0: return NetlinkConstants.newFlags
        case 1: return NetlinkConstants.deleteFlags
        case 2: return NetlinkConstants.getFlags
        default: return nil
        }
    }

    func payload(_ data: NetlinkData, header: NetlinkHeader, text: NetlinkText) -> String? {
        if header.type == NetlinkConstants.done { return nil }
        guard data.canRead(1) else { return text.context.pointer(data.address) }
        switch header.type {
        case 16...19: return LinkMessage.render(data, text: text)
        case 20...22, 58, 62: return AddressMessage.render(data, text: text)
        case 24...26: return RouteMessage.render(data, text: text)
        case 28...30: return NeighbourMessage.render(data, type: header.type, text: text)
        case 32...34: return RuleMessage.render(data, text: text)
        default: return Self.familyAndBytes(data, text: text)
        }
    }

    /// A message strace does not decode further: `{family=AF_INET, data="\x…"}`.
    static func familyAndBytes(_ data: NetlinkData, text: NetlinkText) -> String {
        var result = "{family=" + text.named(SocketConstants.addressFamilies, UInt64(data.u8(0)))
        if data.count > 1 { result += ", data=" + text.hexString(data.dropFirst(1)) }
        return result + "}"
    }
}

extension NetlinkText {
    /// A message made of a fixed header whose first byte is an address
    /// family, then attributes: `{ifa_family=AF_INET, ifa_prefixlen=8, …},
    /// [attributes]`; `{ifa_family=AF_UNSPEC, ...}` when the payload is
    /// shorter than the header (a bare `struct rtgenmsg`).
    func familyHeaded(_ data: NetlinkData, familyField: String, size: Int, fields: (NetlinkData) -> String,
                      attributes: AttributeSchema?) -> String {
        var result = "{" + familyField + "=" + named(SocketConstants.addressFamilies, UInt64(data.u8(0))) + ", "
        var complete = false
        if data.count < size {
            result += "..."
        } else if !data.canRead(size) {
            result += context.pointer(data.address + 1)
        } else {
            result += fields(data)
            complete = true
        }
        result += "}"
        let attributesStart = netlinkAligned(size)
        if complete, let attributes, data.count > attributesStart {
            result += ", " + AttributeListDecoder(text: self).render(data.dropFirst(attributesStart), attributes)
        }
        return result
    }
}
