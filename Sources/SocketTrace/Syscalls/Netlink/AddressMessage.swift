/// RTM_NEWADDR/DELADDR/GETADDR (and GETMULTICAST, GETANYCAST): `struct
/// ifaddrmsg` and the address's IFA_ attributes.
enum AddressMessage {
    static func render(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "ifa_family", size: RouteNetlinkConstants.addressMessageSize, fields: { data in
            "ifa_prefixlen=\(data.u8(1))"
                + ", ifa_flags=" + text.flags(RouteNetlinkConstants.addressFlags, UInt64(data.u8(2)), unknown: "IFA_F_???")
                + ", ifa_scope=" + text.named(RouteNetlinkConstants.scopes, UInt64(data.u8(3)), comment: false)
                + ", ifa_index=" + text.interfaceIndex(data.u32(4))
        }, attributes: attributes(family: family))
    }

    static func attributes(family: UInt8) -> AttributeSchema {
        let address = AttributeValue.inetAddress(family: family)
        return AttributeSchema(RouteNetlinkConstants.addressAttributes, [
            Attribute.address: address, Attribute.local: address, Attribute.label: AttributeValue.string,
            Attribute.broadcast: address, Attribute.anycast: address, Attribute.cacheInfo: cacheInfo,
            Attribute.multicast: address,
            Attribute.flags: AttributeValue.flags(RouteNetlinkConstants.addressFlags, unknown: "IFA_F_???", size: 4),
            Attribute.routePriority: AttributeValue.u32, Attribute.targetNamespace: AttributeValue.s32,
        ])
    }

    /// IFA_CACHEINFO: `struct ifa_cacheinfo`.
    static let cacheInfo = AttributeValue.unsignedFields(["ifa_prefered", "ifa_valid", "cstamp", "tstamp"], fieldSize: 4)

    /// IFA_ attribute types (include/uapi/linux/if_addr.h).
    enum Attribute {
        static let address: UInt16 = 1
        static let local: UInt16 = 2
        static let label: UInt16 = 3
        static let broadcast: UInt16 = 4
        static let anycast: UInt16 = 5
        static let cacheInfo: UInt16 = 6
        static let multicast: UInt16 = 7
        static let flags: UInt16 = 8
        static let routePriority: UInt16 = 9
        static let targetNamespace: UInt16 = 10
    }
}
