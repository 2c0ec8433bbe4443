/// The nested attributes of a link: IFLA_XDP (the program attached) and
/// IFLA_AF_SPEC (per address family: IPv4's and IPv6's device settings).
enum LinkFamilyAttributes {
    // MARK: IFLA_XDP

    static let xdpAttributes = ConstantTable("IFLA_XDP_", indexed: [
        "IFLA_XDP_UNSPEC", "IFLA_XDP_FD", "IFLA_XDP_ATTACHED", "IFLA_XDP_FLAGS", "IFLA_XDP_PROG_ID",
        "IFLA_XDP_DRV_PROG_ID", "IFLA_XDP_SKB_PROG_ID", "IFLA_XDP_HW_PROG_ID", "IFLA_XDP_EXPECTED_FD",
    ])
    static let xdpAttachModes = ConstantTable("XDP_ATTACHED_", indexed: [
        "XDP_ATTACHED_NONE", "XDP_ATTACHED_DRV", "XDP_ATTACHED_SKB", "XDP_ATTACHED_HW", "XDP_ATTACHED_MULTI",
    ])
    static let xdpFlags = FlagTable([
        0x0e: "XDP_FLAGS_MODES", 0x01: "XDP_FLAGS_UPDATE_IF_NOEXIST", 0x02: "XDP_FLAGS_SKB_MODE",
        0x04: "XDP_FLAGS_DRV_MODE", 0x08: "XDP_FLAGS_HW_MODE", 0x10: "XDP_FLAGS_REPLACE",
    ])

    static let descriptor: AttributeDecoder = { data, text in
        guard data.count >= 4 else { return nil }
        guard data.canRead(4) else { return text.context.pointer(data.address) }
        return text.context.describeDescriptor(data.s32(0))
    }

    static let xdp = AttributeSchema(xdpAttributes, [
        1: descriptor,
        2: AttributeValue.named(xdpAttachModes, size: 1),
        3: AttributeValue.flags(xdpFlags, unknown: "XDP_FLAGS_???", size: 4),
        4: AttributeValue.u32, 5: AttributeValue.u32, 6: AttributeValue.u32, 7: AttributeValue.u32,
        8: descriptor,
    ])

    // MARK: IFLA_LINKINFO

    /// The link's kind (`"veth"`, `"bridge"`); the kind's own data is shown as bytes.
    static let linkInfo = AttributeSchema(ConstantTable("IFLA_INFO_", indexed: [
        "IFLA_INFO_UNSPEC", "IFLA_INFO_KIND", "IFLA_INFO_DATA", "IFLA_INFO_XSTATS", "IFLA_INFO_SLAVE_KIND",
        "IFLA_INFO_SLAVE_DATA",
    ]), [1: AttributeValue.string, 4: AttributeValue.string])

    // MARK: IFLA_AF_SPEC

    /// IFLA_AF_SPEC of a link that is not a bridge port: one nested list per
    /// address family, typed by the family (`nla_type=AF_INET6`).
    static let perFamily = AttributeSchema(SocketConstants.addressFamilies, familyDecoders)

    static let familyDecoders: [UInt16: AttributeDecoder] = [
        UInt16(NetlinkFamilies.inet): AttributeValue.nested(inet),
        UInt16(NetlinkFamilies.inet6): AttributeValue.nested(inet6),
    ]

    static let inet = AttributeSchema(ConstantTable("IFLA_INET_", indexed: ["IFLA_INET_UNSPEC", "IFLA_INET_CONF"]), [
        1: { data, text in
            text.indexedValues(data, size: 4, signed: true, names: inetSettings, unknown: "IPV4_DEVCONF_???")
        },
    ])

    static let inet6 = AttributeSchema(ConstantTable("IFLA_INET6_", indexed: [
        "IFLA_INET6_UNSPEC", "IFLA_INET6_FLAGS", "IFLA_INET6_CONF", "IFLA_INET6_STATS", "IFLA_INET6_MCAST",
        "IFLA_INET6_CACHEINFO", "IFLA_INET6_ICMP6STATS", "IFLA_INET6_TOKEN", "IFLA_INET6_ADDR_GEN_MODE",
        "IFLA_INET6_RA_MTU",
    ]), [
        1: AttributeValue.flags(FlagTable([0x10: "IF_RS_SENT", 0x20: "IF_RA_RCVD", 0x40: "IF_RA_MANAGED",
                                           0x80: "IF_RA_OTHERCONF", 0x8000_0000: "IF_READY"]),
                                unknown: "IF_???", size: 4),
        2: { data, text in text.indexedValues(data, size: 4, signed: true, names: inet6Settings, unknown: "DEVCONF_???") },
        3: { data, text in text.indexedValues(data, size: 8, signed: false, names: ipStatistics, unknown: "IPSTATS_MIB_???") },
        5: AttributeValue.unsignedFields(["max_reasm_len", "tstamp", "reachable_time", "retrans_time"], fieldSize: 4),
        6: { data, text in text.indexedValues(data, size: 8, signed: false, names: icmp6Statistics, unknown: "ICMP6_MIB_???") },
        7: { data, text in data.count >= 16 ? text.inetAddress(family: NetlinkFamilies.inet6, data) : nil },
        8: AttributeValue.named(ConstantTable("IN6_ADDR_GEN_MODE_", indexed: [
            "IN6_ADDR_GEN_MODE_EUI64", "IN6_ADDR_GEN_MODE_NONE", "IN6_ADDR_GEN_MODE_STABLE_PRIVACY",
            "IN6_ADDR_GEN_MODE_RANDOM",
        ]), size: 1),
        9: AttributeValue.u32,
    ])

    /// IFLA_INET_CONF's values, from IPV4_DEVCONF_FORWARDING (index 0, the setting's number minus one).
    static let inetSettings = ConstantTable("IPV4_DEVCONF_", indexed: [
        "FORWARDING", "MC_FORWARDING", "PROXY_ARP", "ACCEPT_REDIRECTS", "SECURE_REDIRECTS", "SEND_REDIRECTS",
        "SHARED_MEDIA", "RP_FILTER", "ACCEPT_SOURCE_ROUTE", "BOOTP_RELAY", "LOG_MARTIANS", "TAG", "ARPFILTER",
        "MEDIUM_ID", "NOXFRM", "NOPOLICY", "FORCE_IGMP_VERSION", "ARP_ANNOUNCE", "ARP_IGNORE",
        "PROMOTE_SECONDARIES", "ARP_ACCEPT", "ARP_NOTIFY", "ACCEPT_LOCAL", "SRC_VMARK", "PROXY_ARP_PVLAN",
        "ROUTE_LOCALNET", "IGMPV2_UNSOLICITED_REPORT_INTERVAL", "IGMPV3_UNSOLICITED_REPORT_INTERVAL",
        "IGNORE_ROUTES_WITH_LINKDOWN", "DROP_UNICAST_IN_L2_MULTICAST", "DROP_GRATUITOUS_ARP", "BC_FORWARDING",
        "ARP_EVICT_NOCARRIER",
    ].map { "IPV4_DEVCONF_\($0)-1" })

    /// IFLA_INET6_CONF's values.
    static let inet6Settings = ConstantTable("DEVCONF_", indexed: [
        "FORWARDING", "HOPLIMIT", "MTU6", "ACCEPT_RA", "ACCEPT_REDIRECTS", "AUTOCONF", "DAD_TRANSMITS",
        "RTR_SOLICITS", "RTR_SOLICIT_INTERVAL", "RTR_SOLICIT_DELAY", "USE_TEMPADDR", "TEMP_VALID_LFT",
        "TEMP_PREFERED_LFT", "REGEN_MAX_RETRY", "MAX_DESYNC_FACTOR", "MAX_ADDRESSES", "FORCE_MLD_VERSION",
        "ACCEPT_RA_DEFRTR", "ACCEPT_RA_PINFO", "ACCEPT_RA_RTR_PREF", "RTR_PROBE_INTERVAL",
        "ACCEPT_RA_RT_INFO_MAX_PLEN", "PROXY_NDP", "OPTIMISTIC_DAD", "ACCEPT_SOURCE_ROUTE", "MC_FORWARDING",
        "DISABLE_IPV6", "ACCEPT_DAD", "FORCE_TLLAO", "NDISC_NOTIFY", "MLDV1_UNSOLICITED_REPORT_INTERVAL",
        "MLDV2_UNSOLICITED_REPORT_INTERVAL", "SUPPRESS_FRAG_NDISC", "ACCEPT_RA_FROM_LOCAL", "USE_OPTIMISTIC",
        "ACCEPT_RA_MTU", "STABLE_SECRET", "USE_OIF_ADDRS_ONLY", "ACCEPT_RA_MIN_HOP_LIMIT",
        "IGNORE_ROUTES_WITH_LINKDOWN", "DROP_UNICAST_IN_L2_MULTICAST", "DROP_UNSOLICITED_NA", "KEEP_ADDR_ON_DOWN",
        "RTR_SOLICIT_MAX_INTERVAL", "SEG6_ENABLED", "SEG6_REQUIRE_HMAC", "ENHANCED_DAD", "ADDR_GEN_MODE",
        "DISABLE_POLICY", "ACCEPT_RA_RT_INFO_MIN_PLEN", "NDISC_TCLASS", "RPL_SEG_ENABLED", "RA_DEFRTR_METRIC",
        "IOAM6_ENABLED", "IOAM6_ID", "IOAM6_ID_WIDE", "NDISC_EVICT_NOCARRIER", "ACCEPT_UNTRACKED_NA",
    ].map { "DEVCONF_" + $0 })

    /// IFLA_INET6_STATS's counters.
    static let ipStatistics = ConstantTable("IPSTATS_MIB_", indexed: [
        "NUM", "INPKTS", "INOCTETS", "INDELIVERS", "OUTFORWDATAGRAMS", "OUTPKTS", "OUTOCTETS", "INHDRERRORS",
        "INTOOBIGERRORS", "INNOROUTES", "INADDRERRORS", "INUNKNOWNPROTOS", "INTRUNCATEDPKTS", "INDISCARDS",
        "OUTDISCARDS", "OUTNOROUTES", "REASMTIMEOUT", "REASMREQDS", "REASMOKS", "REASMFAILS", "FRAGOKS",
        "FRAGFAILS", "FRAGCREATES", "INMCASTPKTS", "OUTMCASTPKTS", "INBCASTPKTS", "OUTBCASTPKTS",
        "INMCASTOCTETS", "OUTMCASTOCTETS", "INBCASTOCTETS", "OUTBCASTOCTETS", "CSUMERRORS", "NOECTPKTS",
        "ECT1PKTS", "ECT0PKTS", "CEPKTS", "REASM_OVERLAPS",
    ].map { "IPSTATS_MIB_" + $0 })

    /// IFLA_INET6_ICMP6STATS's counters.
    static let icmp6Statistics = ConstantTable("ICMP6_MIB_", indexed: [
        "ICMP6_MIB_NUM", "ICMP6_MIB_INMSGS", "ICMP6_MIB_INERRORS", "ICMP6_MIB_OUTMSGS", "ICMP6_MIB_OUTERRORS",
        "ICMP6_MIB_CSUMERRORS",
    ])
}

extension NetlinkText {
    /// An array of integers each named by its index: `[[DEVCONF_HOPLIMIT]=64, …]`
    /// (an unknown index as `[58 /* DEVCONF_??? */]`), cut after `-s` of them unless `-v`.
    func indexedValues(_ data: NetlinkData, size: Int, signed: Bool, names: ConstantTable, unknown: String) -> String? {
        let count = data.count / size
        guard count > 0 else { return nil }
        let shown = elementLimit.map { min($0, count) } ?? count
        guard data.canRead(size) else { return context.pointer(data.address) }
        var parts: [String] = []
        for index in 0..<shown {
            guard data.canRead((index + 1) * size) else {
                parts.append("... /* \(hex(data.address + UInt64(index * size))) */")
                return list(parts, truncated: false)
            }
            let raw = data.unsigned(size: size, at: index * size)
            let value = signed ? String(Int64(truncatingIfNeeded: size == 4 ? UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: raw))) : raw))
                : String(raw)
            let name = names.name(UInt64(index)) ?? "\(index) /* \(unknown) */"
            parts.append("[\(name)]=\(value)")
        }
        return list(parts, truncated: shown < count)
    }
}
