/// RTM_NEWNEIGH/DELNEIGH/GETNEIGH: `struct ndmsg` and the neighbour's NDA_
/// attributes (a bridge's GETNEIGH carries an ifinfomsg instead).
enum NeighbourMessage {
    static let bridgeFamily: UInt8 = 7

    static func render(_ data: NetlinkData, type: UInt16, text: NetlinkText) -> String {
        let family = data.u8(0)
        if type == RouteNetlinkConstants.getNeighbour && family == bridgeFamily {
            return LinkMessage.render(data, text: text)
        }
        return text.familyHeaded(data, familyField: "ndm_family", size: RouteNetlinkConstants.neighbourMessageSize, fields: { data in
            "ndm_ifindex=" + text.interfaceIndex(data.u32(4))
                + ", ndm_state=" + text.flags(RouteNetlinkConstants.neighbourStates, UInt64(data.u16(8)),
                                              unknown: "NUD_???", zero: "NUD_NONE")
                + ", ndm_flags=" + text.flags(RouteNetlinkConstants.neighbourFlags, UInt64(data.u8(10)), unknown: "NTF_???")
                + ", ndm_type=" + text.named(RouteNetlinkConstants.routeTypes, UInt64(data.u8(11)))
        }, attributes: attributes(family: family))
    }

    static func attributes(family: UInt8) -> AttributeSchema {
        AttributeSchema(RouteNetlinkConstants.neighbourAttributes, [
            Attribute.destination: AttributeValue.inetAddress(family: family),
            Attribute.linkLayerAddress: { data, text in text.hardwareAddress(data, deviceType: nil) },
            Attribute.cacheInfo: AttributeValue.unsignedFields(["ndm_confirmed", "ndm_used", "ndm_updated", "ndm_refcnt"], fieldSize: 4),
            Attribute.probes: AttributeValue.u32,
            Attribute.vlan: AttributeValue.u16,
            Attribute.port: { data, text in
                guard data.count >= 2 else { return nil }
                guard data.canRead(2) else { return text.context.pointer(data.address) }
                return "htons(\(data.be16(0)))"
            },
            Attribute.vni: AttributeValue.u32,
            Attribute.interfaceIndex: AttributeValue.interfaceIndex,
            Attribute.master: AttributeValue.interfaceIndex,
            Attribute.linkNamespace: AttributeValue.u32,
            Attribute.sourceVNI: AttributeValue.u32,
            Attribute.protocolNumber: AttributeValue.named(SocketConstants.ipProtocols, size: 0),
            Attribute.nexthopID: AttributeValue.u32,
            Attribute.extendedFlags: AttributeValue.flags(FlagTable([1: "NTF_EXT_MANAGED"]), unknown: "NTF_EXT_???", size: 4),
            Attribute.stateMask: AttributeValue.flags(RouteNetlinkConstants.neighbourStates, unknown: "NUD_???", size: 2),
            Attribute.flagsMask: AttributeValue.flags(RouteNetlinkConstants.neighbourFlags, unknown: "NTF_???", size: 1),
        ])
    }

    /// NDA_ attribute types (include/uapi/linux/neighbour.h).
    enum Attribute {
        static let destination: UInt16 = 1
        static let linkLayerAddress: UInt16 = 2
        static let cacheInfo: UInt16 = 3
        static let probes: UInt16 = 4
        static let vlan: UInt16 = 5
        static let port: UInt16 = 6
        static let vni: UInt16 = 7
        static let interfaceIndex: UInt16 = 8
        static let master: UInt16 = 9
        static let linkNamespace: UInt16 = 10
        static let sourceVNI: UInt16 = 11
        static let protocolNumber: UInt16 = 12
        static let nexthopID: UInt16 = 13
        static let extendedFlags: UInt16 = 15
        static let stateMask: UInt16 = 16
        static let flagsMask: UInt16 = 17
    }
}
