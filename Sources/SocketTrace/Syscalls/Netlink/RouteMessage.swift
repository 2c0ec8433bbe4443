/// RTM_NEWROUTE/DELROUTE/GETROUTE: `struct rtmsg` and the route's RTA_
/// attributes (metrics and multipath next hops nested).
enum RouteMessage {
    static func render(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "rtm_family", size: RouteNetlinkConstants.routeMessageSize, fields: { data in
            "rtm_dst_len=\(data.u8(1)), rtm_src_len=\(data.u8(2))"
                + ", rtm_tos=" + text.flags(RouteNetlinkConstants.typesOfService, UInt64(data.u8(3)), unknown: "IPTOS_TOS_???")
                + ", rtm_table=" + text.named(RouteNetlinkConstants.tables, UInt64(data.u8(4)), comment: false)
                + ", rtm_protocol=" + text.named(RouteNetlinkConstants.protocols, UInt64(data.u8(5)))
                + ", rtm_scope=" + text.named(RouteNetlinkConstants.scopes, UInt64(data.u8(6)), comment: false)
                + ", rtm_type=" + text.named(RouteNetlinkConstants.routeTypes, UInt64(data.u8(7)))
                + ", rtm_flags=" + text.flags(RouteNetlinkConstants.routeFlags, UInt64(data.u32(8)), unknown: "RTM_F_???")
        }, attributes: attributes(family: family))
    }

    static func attributes(family: UInt8) -> AttributeSchema {
        let address = AttributeValue.inetAddress(family: family)
        var decoders: [UInt16: AttributeDecoder] = [
            Attribute.destination: address, Attribute.source: address, Attribute.gateway: address,
            Attribute.preferredSource: address, Attribute.newDestination: address,
            Attribute.inputInterface: AttributeValue.interfaceIndex, Attribute.outputInterface: AttributeValue.interfaceIndex,
            Attribute.metrics: AttributeValue.nested(metrics),
            Attribute.cacheInfo: cacheInfo,
            Attribute.table: AttributeValue.named(RouteNetlinkConstants.tables, size: 4, comment: false),
            Attribute.multicastStatistics: AttributeValue.unsignedFields(["mfcs_packets", "mfcs_bytes", "mfcs_wrong_if"], fieldSize: 8),
            Attribute.via: via,
            Attribute.encapsulationType: AttributeValue.named(RouteNetlinkConstants.tunnelEncapsulations, size: 2),
            Attribute.expires: AttributeValue.u64,
            Attribute.sourcePort: AttributeValue.u16, Attribute.destinationPort: AttributeValue.u16,
        ]
        for type in Attribute.unsigned32 { decoders[type] = AttributeValue.u32 }
        for type in Attribute.unsigned8 { decoders[type] = AttributeValue.u8 }
        // RTA_MULTIPATH holds next hops, each with attributes of this same schema.
        let withoutHops = AttributeSchema(RouteNetlinkConstants.routeAttributes, decoders)
        decoders[Attribute.multipath] = { data, text in nextHops(data, text: text, attributes: withoutHops) }
        return AttributeSchema(RouteNetlinkConstants.routeAttributes, decoders)
    }

    /// RTA_METRICS: RTAX_ values, all u32 but the congestion algorithm's name.
    static let metrics: AttributeSchema = {
        var decoders: [UInt16: AttributeDecoder] = [:]
        for type: UInt16 in 1...15 { decoders[type] = AttributeValue.u32 }
        decoders[16] = AttributeValue.string
        return AttributeSchema(RouteNetlinkConstants.metricAttributes, decoders)
    }()

    /// RTA_CACHEINFO: `struct rta_cacheinfo` (rta_id in hex).
    static let cacheInfo: AttributeDecoder = { data, text in
        let size = 32
        guard data.count >= size else { return nil }
        guard data.canRead(size) else { return text.context.pointer(data.address) }
        return "{rta_clntref=\(data.u32(0)), rta_lastuse=\(data.u32(4)), rta_expires=\(data.u32(8))"
            + ", rta_error=\(data.u32(12)), rta_used=\(data.u32(16)), rta_id=\(cHex(UInt64(data.u32(20))))"
            + ", rta_ts=\(data.u32(24)), rta_tsage=\(data.u32(28))}"
    }

    /// RTA_VIA: `struct rtvia`, a family and an address of it.
    static let via: AttributeDecoder = { data, text in
        guard data.count >= 2 else { return nil }
        guard data.canRead(2) else { return text.context.pointer(data.address) }
        let family = data.u16(0)
        var result = "{rtvia_family=" + text.named(SocketConstants.addressFamilies, UInt64(family))
        if data.count > 2 {
            result += ", " + text.inetAddress(family: UInt8(truncatingIfNeeded: family), data.dropFirst(2), field: "rtvia_addr")
        }
        return result + "}"
    }

    /// RTA_MULTIPATH: `[[{rtnh_len=…, rtnh_flags=…, rtnh_hops=…, rtnh_ifindex=…}, [attributes]], …]`.
    static func nextHops(_ data: NetlinkData, text: NetlinkText, attributes: AttributeSchema) -> String? {
        let headerSize = 8
        guard data.count >= headerSize else { return nil }
        var parts: [String] = []
        var rest = data
        var isList = false
        while rest.canRead(headerSize) {
            let declared = Int(rest.u16(0))
            let length = min(rest.count, declared)
            if rest.address == data.address && declared < data.count { isList = true }
            var hop = "{rtnh_len=\(declared), rtnh_flags="
                + text.flags(RouteNetlinkConstants.nexthopFlags, UInt64(rest.u8(2)), unknown: "RTNH_F_???")
                + ", rtnh_hops=\(rest.u8(3)), rtnh_ifindex=" + text.interfaceIndex(rest.u32(4)) + "}"
            if length > headerSize {
                hop = "[" + hop + ", " + AttributeListDecoder(text: text).render(rest.dropFirst(headerSize).prefix(length - headerSize), attributes) + "]"
            }
            parts.append(hop)
            let step = netlinkAligned(length)
            if step >= rest.count || step == 0 { break }
            rest = rest.dropFirst(step)
        }
        if !rest.canRead(headerSize) && rest.count >= headerSize { parts.append(text.context.pointer(rest.address)) }
        return isList ? "[" + parts.joined(separator: ", ") + "]" : parts.joined(separator: ", ")
    }

    /// RTA_ attribute types (include/uapi/linux/rtnetlink.h).
    enum Attribute {
        static let destination: UInt16 = 1
        static let source: UInt16 = 2
        static let inputInterface: UInt16 = 3
        static let outputInterface: UInt16 = 4
        static let gateway: UInt16 = 5
        static let preferredSource: UInt16 = 7
        static let metrics: UInt16 = 8
        static let multipath: UInt16 = 9
        static let cacheInfo: UInt16 = 12
        static let table: UInt16 = 15
        static let multicastStatistics: UInt16 = 17
        static let via: UInt16 = 18
        static let newDestination: UInt16 = 19
        static let encapsulationType: UInt16 = 21
        static let expires: UInt16 = 23
        static let sourcePort: UInt16 = 28
        static let destinationPort: UInt16 = 29

        /// PRIORITY, PROTOINFO, FLOW, MP_ALGO, MARK, UID.
        static let unsigned32: [UInt16] = [6, 10, 11, 14, 16, 25]
        /// PREF, TTL_PROPAGATE, IP_PROTO.
        static let unsigned8: [UInt16] = [20, 26, 27]
    }
}
