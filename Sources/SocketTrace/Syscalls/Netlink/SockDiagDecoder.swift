/// NETLINK_SOCK_DIAG: requests and replies about sockets, by the address
/// family in their first byte and by direction (a request carries
/// NLM_F_REQUEST); INET, INET6 and UNIX decoded, other families shown as
/// their family and bytes, as strace 6.1 shows those it does not know.
struct SockDiagDecoder: NetlinkFamilyDecoder {
    var messageTypes: ConstantTable { SockDiagConstants.messageTypes }

    func typeFlags(_ type: UInt16) -> FlagTable? { NetlinkConstants.getFlags }

    func payload(_ data: NetlinkData, header: NetlinkHeader, text: NetlinkText) -> String? {
        if header.type == NetlinkConstants.done { return nil }
        guard data.canRead(1) else { return text.context.pointer(data.address) }
        let family = data.u8(0)
        if data.count > 1 {
            switch family {
            case NetlinkFamilies.inet, NetlinkFamilies.inet6:
                if !header.isRequest { return InetDiagMessage.reply(data, text: text) }
                if header.type == SockDiagConstants.tcpGetSocket || header.type == SockDiagConstants.dccpGetSocket {
                    return InetDiagMessage.compatRequest(data, text: text)
                }
                return InetDiagMessage.request(data, text: text)
            case NetlinkFamilies.unix:
                return header.isRequest ? UnixDiagMessage.request(data, text: text) : UnixDiagMessage.reply(data, text: text)
            default:
                break
            }
        }
        return RouteNetlinkDecoder.familyAndBytes(data, text: text)
    }
}

extension NetlinkText {
    /// A socket cookie, two 32-bit halves: `[4137, 0]`.
    func cookie(_ data: NetlinkData, at offset: Int) -> String {
        "[\(data.u32(offset)), \(data.u32(offset + 4))]"
    }

    /// `sk_meminfo`: `[[SK_MEMINFO_RMEM_ALLOC]=0, …]`.
    func memoryInfo(_ data: NetlinkData) -> String? {
        let count = data.count / 4
        guard count > 0 else { return nil }
        let shown = elementLimit.map { min($0, count) } ?? count
        var parts: [String] = []
        for index in 0..<shown {
            guard data.canRead((index + 1) * 4) else {
                parts.append(index == 0 ? context.pointer(data.address) : "... /* \(hex(data.address + UInt64(index * 4))) */")
                return index == 0 ? parts[0] : list(parts, truncated: false)
            }
            let name = SockDiagConstants.memoryIndexes.name(UInt64(index)) ?? "\(index) /* SK_MEMINFO_??? */"
            parts.append("[\(name)]=\(data.u32(index * 4))")
        }
        return list(parts, truncated: shown < count)
    }
}
