/// The constants of NETLINK_ROUTE (include/uapi/linux/rtnetlink.h,
/// if_link.h, if_addr.h, neighbour.h), by the names strace 6.1 prints.
enum RouteNetlinkConstants {
    static let messageTypes = ConstantTable("RTM_", [
        16: "RTM_NEWLINK", 17: "RTM_DELLINK", 18: "RTM_GETLINK", 19: "RTM_SETLINK",
        20: "RTM_NEWADDR", 21: "RTM_DELADDR", 22: "RTM_GETADDR",
        24: "RTM_NEWROUTE", 25: "RTM_DELROUTE", 26: "RTM_GETROUTE",
        28: "RTM_NEWNEIGH", 29: "RTM_DELNEIGH", 30: "RTM_GETNEIGH",
        32: "RTM_NEWRULE", 33: "RTM_DELRULE", 34: "RTM_GETRULE",
        36: "RTM_NEWQDISC", 37: "RTM_DELQDISC", 38: "RTM_GETQDISC",
        40: "RTM_NEWTCLASS", 41: "RTM_DELTCLASS", 42: "RTM_GETTCLASS",
        44: "RTM_NEWTFILTER", 45: "RTM_DELTFILTER", 46: "RTM_GETTFILTER",
        48: "RTM_NEWACTION", 49: "RTM_DELACTION", 50: "RTM_GETACTION",
        52: "RTM_NEWPREFIX", 58: "RTM_GETMULTICAST", 62: "RTM_GETANYCAST",
        64: "RTM_NEWNEIGHTBL", 66: "RTM_GETNEIGHTBL", 67: "RTM_SETNEIGHTBL", 68: "RTM_NEWNDUSEROPT",
        72: "RTM_NEWADDRLABEL", 73: "RTM_DELADDRLABEL", 74: "RTM_GETADDRLABEL",
        78: "RTM_GETDCB", 79: "RTM_SETDCB",
        80: "RTM_NEWNETCONF", 81: "RTM_DELNETCONF", 82: "RTM_GETNETCONF",
        84: "RTM_NEWMDB", 85: "RTM_DELMDB", 86: "RTM_GETMDB",
        88: "RTM_NEWNSID", 89: "RTM_DELNSID", 90: "RTM_GETNSID",
        92: "RTM_NEWSTATS", 94: "RTM_GETSTATS", 96: "RTM_NEWCACHEREPORT",
        100: "RTM_NEWCHAIN", 101: "RTM_DELCHAIN", 102: "RTM_GETCHAIN",
        104: "RTM_NEWNEXTHOP", 105: "RTM_DELNEXTHOP", 106: "RTM_GETNEXTHOP",
        108: "RTM_NEWLINKPROP", 109: "RTM_DELLINKPROP", 110: "RTM_GETLINKPROP",
        112: "RTM_NEWVLAN", 113: "RTM_DELVLAN", 114: "RTM_GETVLAN",
        116: "RTM_NEWNEXTHOPBUCKET", 117: "RTM_DELNEXTHOPBUCKET", 118: "RTM_GETNEXTHOPBUCKET",
    ])

    /// RTM_DELACTION takes the flags of a GET (NLM_F_ROOT).
    static let deleteAction: UInt16 = 49
    static let getNeighbour: UInt16 = 30

    // MARK: links

    /// `struct ifinfomsg`: family, pad, type, index, flags, change.
    static let linkMessageSize = 16

    static let linkAttributes = ConstantTable("IFLA_", indexed: [
        "IFLA_UNSPEC", "IFLA_ADDRESS", "IFLA_BROADCAST", "IFLA_IFNAME", "IFLA_MTU", "IFLA_LINK", "IFLA_QDISC",
        "IFLA_STATS", "IFLA_COST", "IFLA_PRIORITY", "IFLA_MASTER", "IFLA_WIRELESS", "IFLA_PROTINFO",
        "IFLA_TXQLEN", "IFLA_MAP", "IFLA_WEIGHT", "IFLA_OPERSTATE", "IFLA_LINKMODE", "IFLA_LINKINFO",
        "IFLA_NET_NS_PID", "IFLA_IFALIAS", "IFLA_NUM_VF", "IFLA_VFINFO_LIST", "IFLA_STATS64",
        "IFLA_VF_PORTS", "IFLA_PORT_SELF", "IFLA_AF_SPEC", "IFLA_GROUP", "IFLA_NET_NS_FD", "IFLA_EXT_MASK",
        "IFLA_PROMISCUITY", "IFLA_NUM_TX_QUEUES", "IFLA_NUM_RX_QUEUES", "IFLA_CARRIER", "IFLA_PHYS_PORT_ID",
        "IFLA_CARRIER_CHANGES", "IFLA_PHYS_SWITCH_ID", "IFLA_LINK_NETNSID", "IFLA_PHYS_PORT_NAME",
        "IFLA_PROTO_DOWN", "IFLA_GSO_MAX_SEGS", "IFLA_GSO_MAX_SIZE", "IFLA_PAD", "IFLA_XDP", "IFLA_EVENT",
        "IFLA_NEW_NETNSID", "IFLA_IF_NETNSID", "IFLA_CARRIER_UP_COUNT", "IFLA_CARRIER_DOWN_COUNT",
        "IFLA_NEW_IFINDEX", "IFLA_MIN_MTU", "IFLA_MAX_MTU", "IFLA_PROP_LIST", "IFLA_ALT_IFNAME",
        "IFLA_PERM_ADDRESS", "IFLA_PROTO_DOWN_REASON", "IFLA_PARENT_DEV_NAME", "IFLA_PARENT_DEV_BUS_NAME",
        "IFLA_GRO_MAX_SIZE", "IFLA_TSO_MAX_SIZE", "IFLA_TSO_MAX_SEGS", "IFLA_ALLMULTI",
    ])

    static let interfaceFlags = FlagTable([
        0x1: "IFF_UP", 0x2: "IFF_BROADCAST", 0x4: "IFF_DEBUG", 0x8: "IFF_LOOPBACK", 0x10: "IFF_POINTOPOINT",
        0x20: "IFF_NOTRAILERS", 0x40: "IFF_RUNNING", 0x80: "IFF_NOARP", 0x100: "IFF_PROMISC",
        0x200: "IFF_ALLMULTI", 0x400: "IFF_MASTER", 0x800: "IFF_SLAVE", 0x1000: "IFF_MULTICAST",
        0x2000: "IFF_PORTSEL", 0x4000: "IFF_AUTOMEDIA", 0x8000: "IFF_DYNAMIC", 0x10000: "IFF_LOWER_UP",
        0x20000: "IFF_DORMANT", 0x40000: "IFF_ECHO",
    ])

    static let extendedFilterFlags = FlagTable([
        0x1: "RTEXT_FILTER_VF", 0x2: "RTEXT_FILTER_BRVLAN", 0x4: "RTEXT_FILTER_BRVLAN_COMPRESSED",
        0x8: "RTEXT_FILTER_SKIP_STATS", 0x10: "RTEXT_FILTER_MRP", 0x20: "RTEXT_FILTER_CFM_CONFIG",
        0x40: "RTEXT_FILTER_CFM_STATUS",
    ])

    /// `struct rtnl_link_stats64`, whose last field came later (strace
    /// shows the older, shorter structure too).
    static let linkStatistics = [
        "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped",
        "tx_dropped", "multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors",
        "rx_frame_errors", "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors",
        "tx_fifo_errors", "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed",
        "rx_nohandler", "rx_otherhost_dropped",
    ]

    // MARK: addresses

    /// `struct ifaddrmsg`: family, prefix length, flags, scope, index.
    static let addressMessageSize = 8

    static let addressAttributes = ConstantTable("IFA_", indexed: [
        "IFA_UNSPEC", "IFA_ADDRESS", "IFA_LOCAL", "IFA_LABEL", "IFA_BROADCAST", "IFA_ANYCAST", "IFA_CACHEINFO",
        "IFA_MULTICAST", "IFA_FLAGS", "IFA_RT_PRIORITY", "IFA_TARGET_NETNSID", "IFA_PROTO",
    ])

    static let addressFlags = FlagTable([
        0x1: "IFA_F_SECONDARY", 0x2: "IFA_F_NODAD", 0x4: "IFA_F_OPTIMISTIC", 0x8: "IFA_F_DADFAILED",
        0x10: "IFA_F_HOMEADDRESS", 0x20: "IFA_F_DEPRECATED", 0x40: "IFA_F_TENTATIVE", 0x80: "IFA_F_PERMANENT",
        0x100: "IFA_F_MANAGETEMPADDR", 0x200: "IFA_F_NOPREFIXROUTE", 0x400: "IFA_F_MCAUTOJOIN",
        0x800: "IFA_F_STABLE_PRIVACY",
    ])

    static let scopes = ConstantTable("RT_SCOPE_", [
        0: "RT_SCOPE_UNIVERSE", 200: "RT_SCOPE_SITE", 253: "RT_SCOPE_LINK", 254: "RT_SCOPE_HOST", 255: "RT_SCOPE_NOWHERE",
    ])

    // MARK: routes

    /// `struct rtmsg`: family, lengths, tos, table, protocol, scope, type, flags.
    static let routeMessageSize = 12

    static let routeAttributes = ConstantTable("RTA_", indexed: [
        "RTA_UNSPEC", "RTA_DST", "RTA_SRC", "RTA_IIF", "RTA_OIF", "RTA_GATEWAY", "RTA_PRIORITY", "RTA_PREFSRC",
        "RTA_METRICS", "RTA_MULTIPATH", "RTA_PROTOINFO", "RTA_FLOW", "RTA_CACHEINFO", "RTA_SESSION",
        "RTA_MP_ALGO", "RTA_TABLE", "RTA_MARK", "RTA_MFC_STATS", "RTA_VIA", "RTA_NEWDST", "RTA_PREF",
        "RTA_ENCAP_TYPE", "RTA_ENCAP", "RTA_EXPIRES", "RTA_PAD", "RTA_UID", "RTA_TTL_PROPAGATE",
        "RTA_IP_PROTO", "RTA_SPORT", "RTA_DPORT", "RTA_NH_ID",
    ])

    static let metricAttributes = ConstantTable("RTAX_", indexed: [
        "RTAX_UNSPEC", "RTAX_LOCK", "RTAX_MTU", "RTAX_WINDOW", "RTAX_RTT", "RTAX_RTTVAR", "RTAX_SSTHRESH",
        "RTAX_CWND", "RTAX_ADVMSS", "RTAX_REORDERING", "RTAX_HOPLIMIT", "RTAX_INITCWND", "RTAX_FEATURES",
        "RTAX_RTO_MIN", "RTAX_INITRWND", "RTAX_QUICKACK", "RTAX_CC_ALGO", "RTAX_FASTOPEN_NO_COOKIE",
    ])

    static let tables = ConstantTable("RT_TABLE_", [
        0: "RT_TABLE_UNSPEC", 252: "RT_TABLE_COMPAT", 253: "RT_TABLE_DEFAULT", 254: "RT_TABLE_MAIN", 255: "RT_TABLE_LOCAL",
    ])

    static let protocols = ConstantTable("RTPROT_", [
        0: "RTPROT_UNSPEC", 1: "RTPROT_REDIRECT", 2: "RTPROT_KERNEL", 3: "RTPROT_BOOT", 4: "RTPROT_STATIC",
        8: "RTPROT_GATED", 9: "RTPROT_RA", 10: "RTPROT_MRT", 11: "RTPROT_ZEBRA", 12: "RTPROT_BIRD",
        13: "RTPROT_DNROUTED", 14: "RTPROT_XORP", 15: "RTPROT_NTK", 16: "RTPROT_DHCP", 17: "RTPROT_MROUTED",
        18: "RTPROT_KEEPALIVED", 42: "RTPROT_BABEL", 99: "RTPROT_OPENR", 186: "RTPROT_BGP", 187: "RTPROT_ISIS",
        188: "RTPROT_OSPF", 189: "RTPROT_RIP", 192: "RTPROT_EIGRP",
    ])

    static let routeTypes = ConstantTable("RTN_", indexed: [
        "RTN_UNSPEC", "RTN_UNICAST", "RTN_LOCAL", "RTN_BROADCAST", "RTN_ANYCAST", "RTN_MULTICAST",
        "RTN_BLACKHOLE", "RTN_UNREACHABLE", "RTN_PROHIBIT", "RTN_THROW", "RTN_NAT", "RTN_XRESOLVE",
    ])

    static let routeFlags = FlagTable([
        0x100: "RTM_F_NOTIFY", 0x200: "RTM_F_CLONED", 0x400: "RTM_F_EQUALIZE", 0x800: "RTM_F_PREFIX",
        0x1000: "RTM_F_LOOKUP_TABLE", 0x2000: "RTM_F_FIB_MATCH", 0x4000: "RTM_F_OFFLOAD", 0x8000: "RTM_F_TRAP",
        0x2000_0000: "RTM_F_OFFLOAD_FAILED",
    ])

    static let typesOfService = FlagTable([
        0x10: "IPTOS_LOWDELAY", 0x08: "IPTOS_THROUGHPUT", 0x04: "IPTOS_RELIABILITY", 0x02: "IPTOS_MINCOST",
    ])

    static let nexthopFlags = FlagTable([
        1: "RTNH_F_DEAD", 2: "RTNH_F_PERVASIVE", 4: "RTNH_F_ONLINK", 8: "RTNH_F_OFFLOAD", 16: "RTNH_F_LINKDOWN",
        32: "RTNH_F_UNRESOLVED", 64: "RTNH_F_TRAP",
    ])

    static let tunnelEncapsulations = ConstantTable("LWTUNNEL_ENCAP_", indexed: [
        "LWTUNNEL_ENCAP_NONE", "LWTUNNEL_ENCAP_MPLS", "LWTUNNEL_ENCAP_IP", "LWTUNNEL_ENCAP_ILA",
        "LWTUNNEL_ENCAP_IP6", "LWTUNNEL_ENCAP_SEG6", "LWTUNNEL_ENCAP_BPF", "LWTUNNEL_ENCAP_SEG6_LOCAL",
        "LWTUNNEL_ENCAP_RPL",
    ])

    // MARK: neighbours

    /// `struct ndmsg`: family, pads, index, state, flags, type.
    static let neighbourMessageSize = 12

    static let neighbourAttributes = ConstantTable("NDA_", indexed: [
        "NDA_UNSPEC", "NDA_DST", "NDA_LLADDR", "NDA_CACHEINFO", "NDA_PROBES", "NDA_VLAN", "NDA_PORT", "NDA_VNI",
        "NDA_IFINDEX", "NDA_MASTER", "NDA_LINK_NETNSID", "NDA_SRC_VNI", "NDA_PROTOCOL", "NDA_NH_ID",
        "NDA_FDB_EXT_ATTRS", "NDA_FLAGS_EXT", "NDA_NDM_STATE_MASK", "NDA_NDM_FLAGS_MASK",
    ])

    static let neighbourStates = FlagTable([
        0x01: "NUD_INCOMPLETE", 0x02: "NUD_REACHABLE", 0x04: "NUD_STALE", 0x08: "NUD_DELAY", 0x10: "NUD_PROBE",
        0x20: "NUD_FAILED", 0x40: "NUD_NOARP", 0x80: "NUD_PERMANENT",
    ])

    static let neighbourFlags = FlagTable([
        0x01: "NTF_USE", 0x02: "NTF_SELF", 0x04: "NTF_MASTER", 0x08: "NTF_PROXY", 0x10: "NTF_EXT_LEARNED",
        0x20: "NTF_OFFLOADED", 0x40: "NTF_STICKY", 0x80: "NTF_ROUTER",
    ])
}
