/// RTM_NEWRULE/DELRULE/GETRULE (`ip rule`): `struct fib_rule_hdr` and the
/// rule's FRA_ attributes, as strace's rtnl_rule decodes them.
enum RuleMessage {
    static let size = 12

    static func render(_ data: NetlinkData, text: NetlinkText) -> String {
        let family = data.u8(0)
        return text.familyHeaded(data, familyField: "family", size: size, fields: { data in
            "dst_len=\(data.u8(1)), src_len=\(data.u8(2)), tos=\(data.u8(3))"
                + ", table=" + text.named(RouteNetlinkConstants.tables, UInt64(data.u8(4)), comment: false)
                + ", action=" + text.named(actions, UInt64(data.u8(7)))
                + ", flags=" + text.flags(flags, UInt64(data.u32(8)), unknown: "FIB_RULE_???")
        }, attributes: attributes(family: family))
    }

    static let actions = ConstantTable("FR_ACT_", indexed: [
        "FR_ACT_UNSPEC", "FR_ACT_TO_TBL", "FR_ACT_GOTO", "FR_ACT_NOP", "FR_ACT_RES3", "FR_ACT_RES4",
        "FR_ACT_BLACKHOLE", "FR_ACT_UNREACHABLE", "FR_ACT_PROHIBIT",
    ])

    static let flags = FlagTable([
        0x1: "FIB_RULE_PERMANENT", 0x2: "FIB_RULE_INVERT", 0x4: "FIB_RULE_UNRESOLVED", 0x8: "FIB_RULE_IIF_DETACHED",
        0x10: "FIB_RULE_OIF_DETACHED", 0x10000: "FIB_RULE_FIND_SADDR",
    ])

    static let attributeNames = ConstantTable("FRA_", indexed: [
        "FRA_UNSPEC", "FRA_DST", "FRA_SRC", "FRA_IIFNAME", "FRA_GOTO", "FRA_UNUSED2", "FRA_PRIORITY", "FRA_UNUSED3",
        "FRA_UNUSED4", "FRA_UNUSED5", "FRA_FWMARK", "FRA_FLOW", "FRA_TUN_ID", "FRA_SUPPRESS_IFGROUP",
        "FRA_SUPPRESS_PREFIXLEN", "FRA_TABLE", "FRA_FWMASK", "FRA_OIFNAME", "FRA_PAD", "FRA_L3MDEV", "FRA_UID_RANGE",
        "FRA_PROTOCOL", "FRA_IP_PROTO", "FRA_SPORT_RANGE", "FRA_DPORT_RANGE",
    ])

    static func attributes(family: UInt8) -> AttributeSchema {
        let address = AttributeValue.inetAddress(family: family)
        var decoders: [UInt16: AttributeDecoder] = [
            1: address, 2: address, 3: AttributeValue.string, 17: AttributeValue.string,
            15: AttributeValue.named(RouteNetlinkConstants.tables, size: 4, comment: false),
            19: AttributeValue.u8,
            21: AttributeValue.named(RouteNetlinkConstants.protocols, size: 1),
        ]
        for type: UInt16 in [4, 6, 10, 11, 13, 14, 16] { decoders[type] = AttributeValue.u32 }
        return AttributeSchema(attributeNames, decoders)
    }
}
