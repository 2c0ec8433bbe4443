/// RTM_NEWLINK/DELLINK/GETLINK/SETLINK: `struct ifinfomsg` and the link's
/// IFLA_ attributes.
enum LinkMessage {
    static func render(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "ifi_family", size: RouteNetlinkConstants.linkMessageSize, fields: { data in
            "ifi_type=" + text.named(SocketConstants.hardwareTypes, UInt64(data.u16(2)))
                + ", ifi_index=" + text.interfaceIndex(data.u32(4))
                + ", ifi_flags=" + text.flags(RouteNetlinkConstants.interfaceFlags, UInt64(data.u32(8)), unknown: "IFF_???")
                + ", ifi_change=" + cHex(UInt64(data.u32(12)))
        }, attributes: attributes(family: family))
    }

    /// The IFLA_ attributes; link-layer addresses are cut to the length
    /// strace takes the family's value, read as a device type, to have.
    static func attributes(family: UInt8) -> AttributeSchema {
        let hardwareAddress: AttributeDecoder = { data, text in text.hardwareAddress(data, deviceType: UInt64(family)) }
        var decoders: [UInt16: AttributeDecoder] = [
            Attribute.address: hardwareAddress, Attribute.broadcast: hardwareAddress,
            Attribute.permanentAddress: hardwareAddress,
            Attribute.statistics: AttributeValue.unsignedFields(RouteNetlinkConstants.linkStatistics.dropLast(1).map { $0 },
                                                                fieldSize: 4, shorter: [23]),
            Attribute.statistics64: AttributeValue.unsignedFields(RouteNetlinkConstants.linkStatistics, fieldSize: 8,
                                                                  shorter: [24, 23]),
            Attribute.map: interfaceMap,
            Attribute.extendedMask: AttributeValue.flags(RouteNetlinkConstants.extendedFilterFlags,
                                                         unknown: "RTEXT_FILTER_???", size: 4),
            Attribute.namespaceDescriptor: LinkFamilyAttributes.descriptor,
            Attribute.xdp: AttributeValue.nested(LinkFamilyAttributes.xdp),
            Attribute.linkInfo: AttributeValue.nested(LinkFamilyAttributes.linkInfo),
            Attribute.newInterfaceIndex: AttributeValue.interfaceIndex,
            Attribute.propertyList: AttributeValue.nested(AttributeSchema(RouteNetlinkConstants.linkAttributes,
                                                                          [Attribute.alternativeName: AttributeValue.string])),
        ]
        if family != NeighbourMessage.bridgeFamily {
            // A bridge's are the bridge's own attributes, not decoded here.
            decoders[Attribute.familySpecific] = AttributeValue.nested(LinkFamilyAttributes.perFamily)
        }
        for type in Attribute.strings { decoders[type] = AttributeValue.string }
        for type in Attribute.unsigned32 { decoders[type] = AttributeValue.u32 }
        for type in Attribute.unsigned8 { decoders[type] = AttributeValue.u8 }
        for type in Attribute.signed32 { decoders[type] = AttributeValue.s32 }
        return AttributeSchema(RouteNetlinkConstants.linkAttributes, decoders)
    }

    /// IFLA_MAP: `struct rtnl_link_ifmap`.
    static let interfaceMap: AttributeDecoder = { data, text in
        let size = 28
        guard data.count >= size else { return nil }
        guard data.canRead(size) else { return text.context.pointer(data.address) }
        return "{mem_start=\(cHex(data.u64(0))), mem_end=\(cHex(data.u64(8))), base_addr=\(cHex(data.u64(16)))"
            + ", irq=\(data.u16(24)), dma=\(data.u8(26)), port=\(data.u8(27))}"
    }

    /// IFLA_ attribute types (include/uapi/linux/if_link.h).
    enum Attribute {
        static let address: UInt16 = 1
        static let broadcast: UInt16 = 2
        static let statistics: UInt16 = 7
        static let map: UInt16 = 14
        static let linkInfo: UInt16 = 18
        static let statistics64: UInt16 = 23
        static let familySpecific: UInt16 = 26
        static let namespaceDescriptor: UInt16 = 28
        static let extendedMask: UInt16 = 29
        static let xdp: UInt16 = 43
        static let newInterfaceIndex: UInt16 = 49
        static let propertyList: UInt16 = 52
        static let alternativeName: UInt16 = 53
        static let permanentAddress: UInt16 = 54

        /// IFNAME, QDISC, IFALIAS, PHYS_PORT_NAME, ALT_IFNAME, PARENT_DEV_NAME, PARENT_DEV_BUS_NAME.
        static let strings: [UInt16] = [3, 6, 20, 38, 53, 56, 57]
        /// MTU, LINK, MASTER, TXQLEN, WEIGHT, NET_NS_PID, NUM_VF, GROUP, PROMISCUITY,
        /// NUM_TX/RX_QUEUES, CARRIER_CHANGES, GSO_MAX_SEGS/SIZE, CARRIER_UP/DOWN_COUNT,
        /// MIN/MAX_MTU, GRO_MAX_SIZE, TSO_MAX_SIZE/SEGS, ALLMULTI.
        static let unsigned32: [UInt16] = [4, 5, 10, 13, 15, 19, 21, 27, 30, 31, 32, 35, 40, 41, 47, 48, 50, 51, 58, 59, 60, 61]
        /// OPERSTATE, LINKMODE, CARRIER, PROTO_DOWN.
        static let unsigned8: [UInt16] = [16, 17, 33, 39]
        /// LINK_NETNSID, NEW_NETNSID, IF_NETNSID.
        static let signed32: [UInt16] = [37, 45, 46]
    }
}
