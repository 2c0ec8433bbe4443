/// The constants of the socket API, by the names strace prints.
public enum SocketConstants {
    public static let addressFamilies = ConstantTable("AF_", [
        0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK",
        6: "AF_NETROM", 7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE",
        12: "AF_DECnet", 13: "AF_NETBEUI", 14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK",
        17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET", 20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA",
        23: "AF_IRDA", 24: "AF_PPPOX", 25: "AF_WANPIPE", 26: "AF_LLC", 27: "AF_IB", 28: "AF_MPLS",
        29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC", 34: "AF_ISDN",
        35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK",
        41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP", 45: "AF_MCTP",
    ])

    public static let socketTypes = ConstantTable("SOCK_", [
        1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
        6: "SOCK_DCCP", 10: "SOCK_PACKET",
    ])

    public static let socketTypeFlags = FlagTable([0x80000: "SOCK_CLOEXEC", 0x800: "SOCK_NONBLOCK"])

    /// `SOCK_STREAM|SOCK_CLOEXEC`, as socket(2)'s type argument.
    public static func renderSocketType(_ value: UInt64) -> String {
        let text = socketTypes.render(value & 0xf)
        let rest = value & ~UInt64(0xf)
        return rest == 0 ? text : text + "|" + socketTypeFlags.render(rest)
    }

    public static let ipProtocols = ConstantTable("IPPROTO_", [
        0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 2: "IPPROTO_IGMP", 4: "IPPROTO_IPIP", 6: "IPPROTO_TCP",
        8: "IPPROTO_EGP", 12: "IPPROTO_PUP", 17: "IPPROTO_UDP", 22: "IPPROTO_IDP", 29: "IPPROTO_TP",
        33: "IPPROTO_DCCP", 41: "IPPROTO_IPV6", 46: "IPPROTO_RSVP", 47: "IPPROTO_GRE",
        50: "IPPROTO_ESP", 51: "IPPROTO_AH", 58: "IPPROTO_ICMPV6", 92: "IPPROTO_MTP",
        94: "IPPROTO_BEETPH", 98: "IPPROTO_ENCAP", 103: "IPPROTO_PIM", 108: "IPPROTO_COMP",
        115: "IPPROTO_L2TP", 132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 137: "IPPROTO_MPLS",
        143: "IPPROTO_ETHERNET", 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP",
    ])

    public static let netlinkProtocols = ConstantTable("NETLINK_", [
        0: "NETLINK_ROUTE", 1: "NETLINK_UNUSED", 2: "NETLINK_USERSOCK", 3: "NETLINK_FIREWALL",
        4: "NETLINK_SOCK_DIAG", 5: "NETLINK_NFLOG", 6: "NETLINK_XFRM", 7: "NETLINK_SELINUX",
        8: "NETLINK_ISCSI", 9: "NETLINK_AUDIT", 10: "NETLINK_FIB_LOOKUP", 11: "NETLINK_CONNECTOR",
        12: "NETLINK_NETFILTER", 13: "NETLINK_IP6_FW", 14: "NETLINK_DNRTMSG",
        15: "NETLINK_KOBJECT_UEVENT", 16: "NETLINK_GENERIC", 18: "NETLINK_SCSITRANSPORT",
        19: "NETLINK_ECRYPTFS", 20: "NETLINK_RDMA", 21: "NETLINK_CRYPTO", 22: "NETLINK_SMC",
    ])

    public static let ethernetProtocols = ConstantTable("ETH_P_", [
        0x0001: "ETH_P_802_3", 0x0002: "ETH_P_AX25", 0x0003: "ETH_P_ALL", 0x0004: "ETH_P_802_2",
        0x0800: "ETH_P_IP", 0x0806: "ETH_P_ARP", 0x8035: "ETH_P_RARP", 0x8100: "ETH_P_8021Q",
        0x86DD: "ETH_P_IPV6", 0x8847: "ETH_P_MPLS_UC", 0x8863: "ETH_P_PPP_DISC",
        0x8864: "ETH_P_PPP_SES", 0x888E: "ETH_P_PAE", 0x88A8: "ETH_P_8021AD", 0x88CC: "ETH_P_LLDP",
    ])

    /// Link-layer device types (ARPHRD_), strace 6.1's list.
    public static let hardwareTypes = ConstantTable("ARPHRD_", [
        0: "ARPHRD_NETROM", 1: "ARPHRD_ETHER", 2: "ARPHRD_EETHER", 3: "ARPHRD_AX25", 4: "ARPHRD_PRONET",
        5: "ARPHRD_CHAOS", 6: "ARPHRD_IEEE802", 7: "ARPHRD_ARCNET", 8: "ARPHRD_APPLETLK", 15: "ARPHRD_DLCI",
        19: "ARPHRD_ATM", 23: "ARPHRD_METRICOM", 24: "ARPHRD_IEEE1394", 27: "ARPHRD_EUI64", 32: "ARPHRD_INFINIBAND",
        256: "ARPHRD_SLIP", 257: "ARPHRD_CSLIP", 258: "ARPHRD_SLIP6", 259: "ARPHRD_CSLIP6", 260: "ARPHRD_RSRVD",
        264: "ARPHRD_ADAPT", 270: "ARPHRD_ROSE", 271: "ARPHRD_X25", 272: "ARPHRD_HWX25", 280: "ARPHRD_CAN",
        290: "ARPHRD_MCTP", 512: "ARPHRD_PPP", 513: "ARPHRD_CISCO", 516: "ARPHRD_LAPB", 517: "ARPHRD_DDCMP",
        518: "ARPHRD_RAWHDLC", 519: "ARPHRD_RAWIP", 768: "ARPHRD_TUNNEL", 769: "ARPHRD_TUNNEL6", 770: "ARPHRD_FRAD",
        771: "ARPHRD_SKIP", 772: "ARPHRD_LOOPBACK", 773: "ARPHRD_LOCALTLK", 774: "ARPHRD_FDDI", 775: "ARPHRD_BIF",
        776: "ARPHRD_SIT", 777: "ARPHRD_IPDDP", 778: "ARPHRD_IPGRE", 779: "ARPHRD_PIMREG", 780: "ARPHRD_HIPPI",
        781: "ARPHRD_ASH", 782: "ARPHRD_ECONET", 783: "ARPHRD_IRDA", 784: "ARPHRD_FCPP", 785: "ARPHRD_FCAL",
        786: "ARPHRD_FCPL", 787: "ARPHRD_FCFABRIC", 800: "ARPHRD_IEEE802_TR", 801: "ARPHRD_IEEE80211",
        802: "ARPHRD_IEEE80211_PRISM", 803: "ARPHRD_IEEE80211_RADIOTAP", 804: "ARPHRD_IEEE802154",
        805: "ARPHRD_IEEE802154_MONITOR", 820: "ARPHRD_PHONET", 821: "ARPHRD_PHONET_PIPE", 822: "ARPHRD_CAIF",
        823: "ARPHRD_IP6GRE", 824: "ARPHRD_NETLINK", 825: "ARPHRD_6LOWPAN", 826: "ARPHRD_VSOCKMON",
        65534: "ARPHRD_NONE", 65535: "ARPHRD_VOID",
    ])

    public static let packetTypes = ConstantTable("PACKET_", [
        0: "PACKET_HOST", 1: "PACKET_BROADCAST", 2: "PACKET_MULTICAST", 3: "PACKET_OTHERHOST",
        4: "PACKET_OUTGOING", 5: "PACKET_LOOPBACK", 6: "PACKET_USER", 7: "PACKET_KERNEL",
    ])

    public static let messageFlags = FlagTable([
        0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x4: "MSG_DONTROUTE", 0x8: "MSG_CTRUNC", 0x10: "MSG_PROBE",
        0x20: "MSG_TRUNC", 0x40: "MSG_DONTWAIT", 0x80: "MSG_EOR", 0x100: "MSG_WAITALL",
        0x200: "MSG_FIN", 0x400: "MSG_SYN", 0x800: "MSG_CONFIRM", 0x1000: "MSG_RST",
        0x2000: "MSG_ERRQUEUE", 0x4000: "MSG_NOSIGNAL", 0x8000: "MSG_MORE",
        0x10000: "MSG_WAITFORONE", 0x40000: "MSG_BATCH", 0x100000: "MSG_SOCK_DEVMEM",
        0x4000000: "MSG_ZEROCOPY", 0x20000000: "MSG_FASTOPEN", 0x40000000: "MSG_CMSG_CLOEXEC",
    ])

    public static let shutdownModes = ConstantTable("SHUT_", [0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"])

    public static let socketLevels = ConstantTable("SOL_", [
        0: "SOL_IP", 1: "SOL_SOCKET", 6: "SOL_TCP", 17: "SOL_UDP", 41: "SOL_IPV6", 58: "SOL_ICMPV6",
        132: "SOL_SCTP", 136: "SOL_UDPLITE", 255: "SOL_RAW", 256: "SOL_IPX", 257: "SOL_AX25",
        258: "SOL_ATALK", 259: "SOL_NETROM", 260: "SOL_ROSE", 261: "SOL_DECNET", 262: "SOL_X25",
        263: "SOL_PACKET", 264: "SOL_ATM", 265: "SOL_AAL", 266: "SOL_IRDA", 267: "SOL_NETBEUI",
        268: "SOL_LLC", 269: "SOL_DCCP", 270: "SOL_NETLINK", 271: "SOL_TIPC", 272: "SOL_RXRPC",
        273: "SOL_PPPOL2TP", 274: "SOL_BLUETOOTH", 275: "SOL_PNPIPE", 276: "SOL_RDS", 277: "SOL_IUCV",
        278: "SOL_CAIF", 279: "SOL_ALG", 280: "SOL_NFC", 281: "SOL_KCM", 282: "SOL_TLS", 283: "SOL_XDP",
        284: "SOL_MPTCP", 285: "SOL_MCTP", 286: "SOL_SMC",
    ])

    public static let socketOptions = ConstantTable("SO_", [
        1: "SO_DEBUG", 2: "SO_REUSEADDR", 3: "SO_TYPE", 4: "SO_ERROR", 5: "SO_DONTROUTE",
        6: "SO_BROADCAST", 7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 10: "SO_OOBINLINE",
        11: "SO_NO_CHECK", 12: "SO_PRIORITY", 13: "SO_LINGER", 14: "SO_BSDCOMPAT", 15: "SO_REUSEPORT",
        16: "SO_PASSCRED", 17: "SO_PEERCRED", 18: "SO_RCVLOWAT", 19: "SO_SNDLOWAT",
        20: "SO_RCVTIMEO_OLD", 21: "SO_SNDTIMEO_OLD", 22: "SO_SECURITY_AUTHENTICATION",
        23: "SO_SECURITY_ENCRYPTION_TRANSPORT", 24: "SO_SECURITY_ENCRYPTION_NETWORK",
        25: "SO_BINDTODEVICE", 26: "SO_ATTACH_FILTER", 27: "SO_DETACH_FILTER", 28: "SO_PEERNAME",
        29: "SO_TIMESTAMP_OLD", 30: "SO_ACCEPTCONN", 31: "SO_PEERSEC", 32: "SO_SNDBUFFORCE",
        33: "SO_RCVBUFFORCE", 34: "SO_PASSSEC", 35: "SO_TIMESTAMPNS_OLD", 36: "SO_MARK",
        37: "SO_TIMESTAMPING_OLD", 38: "SO_PROTOCOL", 39: "SO_DOMAIN", 40: "SO_RXQ_OVFL",
        41: "SO_WIFI_STATUS", 42: "SO_PEEK_OFF", 43: "SO_NOFCS", 44: "SO_LOCK_FILTER",
        45: "SO_SELECT_ERR_QUEUE", 46: "SO_BUSY_POLL", 47: "SO_MAX_PACING_RATE",
        48: "SO_BPF_EXTENSIONS", 49: "SO_INCOMING_CPU", 50: "SO_ATTACH_BPF",
        51: "SO_ATTACH_REUSEPORT_CBPF", 52: "SO_ATTACH_REUSEPORT_EBPF", 53: "SO_CNX_ADVICE",
        55: "SO_MEMINFO", 56: "SO_INCOMING_NAPI_ID", 57: "SO_COOKIE", 59: "SO_PEERGROUPS",
        60: "SO_ZEROCOPY", 61: "SO_TXTIME", 62: "SO_BINDTOIFINDEX", 63: "SO_TIMESTAMP_NEW",
        64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW", 66: "SO_RCVTIMEO_NEW",
        67: "SO_SNDTIMEO_NEW", 68: "SO_DETACH_REUSEPORT_BPF", 69: "SO_PREFER_BUSY_POLL",
        70: "SO_BUSY_POLL_BUDGET", 71: "SO_NETNS_COOKIE", 72: "SO_BUF_LOCK", 73: "SO_RESERVE_MEM",
        74: "SO_TXREHASH", 75: "SO_RCVMARK", 76: "SO_PASSPIDFD", 77: "SO_PEERPIDFD",
    ])

    public static let tcpOptions = ConstantTable("TCP_", [
        1: "TCP_NODELAY", 2: "TCP_MAXSEG", 3: "TCP_CORK", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL",
        6: "TCP_KEEPCNT", 7: "TCP_SYNCNT", 8: "TCP_LINGER2", 9: "TCP_DEFER_ACCEPT",
        10: "TCP_WINDOW_CLAMP", 11: "TCP_INFO", 12: "TCP_QUICKACK", 13: "TCP_CONGESTION",
        14: "TCP_MD5SIG", 15: "TCP_COOKIE_TRANSACTIONS", 16: "TCP_THIN_LINEAR_TIMEOUTS",
        17: "TCP_THIN_DUPACK", 18: "TCP_USER_TIMEOUT", 19: "TCP_REPAIR", 20: "TCP_REPAIR_QUEUE",
        21: "TCP_QUEUE_SEQ", 22: "TCP_REPAIR_OPTIONS", 23: "TCP_FASTOPEN", 24: "TCP_TIMESTAMP",
        25: "TCP_NOTSENT_LOWAT", 26: "TCP_CC_INFO", 27: "TCP_SAVE_SYN", 28: "TCP_SAVED_SYN",
        29: "TCP_REPAIR_WINDOW", 30: "TCP_FASTOPEN_CONNECT", 31: "TCP_ULP", 32: "TCP_MD5SIG_EXT",
        33: "TCP_FASTOPEN_KEY", 34: "TCP_FASTOPEN_NO_COOKIE", 35: "TCP_ZEROCOPY_RECEIVE",
        36: "TCP_INQ", 37: "TCP_TX_DELAY",
    ])

    public static let ipOptions = ConstantTable("IP_", [
        1: "IP_TOS", 2: "IP_TTL", 3: "IP_HDRINCL", 4: "IP_OPTIONS", 5: "IP_ROUTER_ALERT",
        6: "IP_RECVOPTS", 7: "IP_RETOPTS", 8: "IP_PKTINFO", 9: "IP_PKTOPTIONS",
        10: "IP_MTU_DISCOVER", 11: "IP_RECVERR", 12: "IP_RECVTTL", 13: "IP_RECVTOS", 14: "IP_MTU",
        15: "IP_FREEBIND", 16: "IP_IPSEC_POLICY", 17: "IP_XFRM_POLICY", 18: "IP_PASSSEC",
        19: "IP_TRANSPARENT", 20: "IP_ORIGDSTADDR", 21: "IP_MINTTL", 22: "IP_NODEFRAG",
        23: "IP_CHECKSUM", 24: "IP_BIND_ADDRESS_NO_PORT", 25: "IP_RECVFRAGSIZE",
        26: "IP_RECVERR_RFC4884", 32: "IP_MULTICAST_IF", 33: "IP_MULTICAST_TTL",
        34: "IP_MULTICAST_LOOP", 35: "IP_ADD_MEMBERSHIP", 36: "IP_DROP_MEMBERSHIP",
        37: "IP_UNBLOCK_SOURCE", 38: "IP_BLOCK_SOURCE", 39: "IP_ADD_SOURCE_MEMBERSHIP",
        40: "IP_DROP_SOURCE_MEMBERSHIP", 41: "IP_MSFILTER", 42: "MCAST_JOIN_GROUP",
        43: "MCAST_BLOCK_SOURCE", 44: "MCAST_UNBLOCK_SOURCE", 45: "MCAST_LEAVE_GROUP",
        46: "MCAST_JOIN_SOURCE_GROUP", 47: "MCAST_LEAVE_SOURCE_GROUP", 48: "MCAST_MSFILTER",
        49: "IP_MULTICAST_ALL", 50: "IP_UNICAST_IF", 51: "IP_LOCAL_PORT_RANGE", 52: "IP_PROTOCOL",
    ])

    public static let ipv6Options = ConstantTable("IPV6_", [
        1: "IPV6_ADDRFORM", 2: "IPV6_2292PKTINFO", 3: "IPV6_2292HOPOPTS", 4: "IPV6_2292DSTOPTS",
        5: "IPV6_2292RTHDR", 6: "IPV6_2292PKTOPTIONS", 7: "IPV6_CHECKSUM", 8: "IPV6_2292HOPLIMIT",
        9: "IPV6_NEXTHOP", 10: "IPV6_AUTHHDR", 11: "IPV6_FLOWINFO", 16: "IPV6_UNICAST_HOPS",
        17: "IPV6_MULTICAST_IF", 18: "IPV6_MULTICAST_HOPS", 19: "IPV6_MULTICAST_LOOP",
        20: "IPV6_ADD_MEMBERSHIP", 21: "IPV6_DROP_MEMBERSHIP", 22: "IPV6_ROUTER_ALERT",
        23: "IPV6_MTU_DISCOVER", 24: "IPV6_MTU", 25: "IPV6_RECVERR", 26: "IPV6_V6ONLY",
        27: "IPV6_JOIN_ANYCAST", 28: "IPV6_LEAVE_ANYCAST", 29: "IPV6_MULTICAST_ALL",
        30: "IPV6_ROUTER_ALERT_ISOLATE", 31: "IPV6_RECVERR_RFC4884", 32: "IPV6_FLOWLABEL_MGR",
        33: "IPV6_FLOWINFO_SEND", 34: "IPV6_IPSEC_POLICY", 35: "IPV6_XFRM_POLICY",
        36: "IPV6_HDRINCL", 49: "IPV6_RECVPKTINFO", 50: "IPV6_PKTINFO", 51: "IPV6_RECVHOPLIMIT",
        52: "IPV6_HOPLIMIT", 53: "IPV6_RECVHOPOPTS", 54: "IPV6_HOPOPTS", 55: "IPV6_RTHDRDSTOPTS",
        56: "IPV6_RECVRTHDR", 57: "IPV6_RTHDR", 58: "IPV6_RECVDSTOPTS", 59: "IPV6_DSTOPTS",
        60: "IPV6_RECVPATHMTU", 61: "IPV6_PATHMTU", 62: "IPV6_DONTFRAG", 66: "IPV6_RECVTCLASS",
        67: "IPV6_TCLASS", 70: "IPV6_AUTOFLOWLABEL", 72: "IPV6_ADDR_PREFERENCES",
        73: "IPV6_MINHOPCOUNT", 74: "IPV6_ORIGDSTADDR", 75: "IPV6_TRANSPARENT",
        76: "IPV6_UNICAST_IF", 77: "IPV6_RECVFRAGSIZE", 78: "IPV6_FREEBIND",
    ])

    public static let udpOptions = ConstantTable("UDP_", [
        1: "UDP_CORK", 100: "UDP_ENCAP", 101: "UDP_NO_CHECK6_TX", 102: "UDP_NO_CHECK6_RX",
        103: "UDP_SEGMENT", 104: "UDP_GRO",
    ])

    /// SOL_NETLINK options (include/uapi/linux/netlink.h).
    public static let netlinkOptions = ConstantTable("NETLINK_", [
        1: "NETLINK_ADD_MEMBERSHIP", 2: "NETLINK_DROP_MEMBERSHIP", 3: "NETLINK_PKTINFO",
        4: "NETLINK_BROADCAST_ERROR", 5: "NETLINK_NO_ENOBUFS", 6: "NETLINK_RX_RING", 7: "NETLINK_TX_RING",
        8: "NETLINK_LISTEN_ALL_NSID", 9: "NETLINK_LIST_MEMBERSHIPS", 10: "NETLINK_CAP_ACK",
        11: "NETLINK_EXT_ACK", 12: "NETLINK_GET_STRICT_CHK",
    ])

    /// The option-name table for a `setsockopt`/`getsockopt` level, if known.
    public static func options(forLevel level: UInt64) -> ConstantTable? {
        switch level {
        case 1: socketOptions
        case 0: ipOptions
        case 6: tcpOptions
        case 17: udpOptions
        case 41: ipv6Options
        case 270: netlinkOptions
        default: nil
        }
    }

    public static let controlMessageTypes = ConstantTable("SCM_", [
        1: "SCM_RIGHTS", 2: "SCM_CREDENTIALS", 3: "SCM_SECURITY", 4: "SCM_PIDFD",
        29: "SO_TIMESTAMP_OLD", 35: "SO_TIMESTAMPNS_OLD", 37: "SO_TIMESTAMPING_OLD", 40: "SO_RXQ_OVFL",
        63: "SO_TIMESTAMP_NEW", 64: "SO_TIMESTAMPNS_NEW", 65: "SO_TIMESTAMPING_NEW",
    ])

    public static let fileStatusFlags = FlagTable([
        0o1: "O_WRONLY", 0o2: "O_RDWR", 0o100: "O_CREAT", 0o200: "O_EXCL", 0o400: "O_NOCTTY",
        0o1000: "O_TRUNC", 0o2000: "O_APPEND", 0o4000: "O_NONBLOCK", 0o10000: "O_DSYNC",
        0o20000: "O_ASYNC", 0o40000: "O_DIRECT", 0o100000: "O_LARGEFILE", 0o200000: "O_DIRECTORY",
        0o400000: "O_NOFOLLOW", 0o1000000: "O_NOATIME", 0o2000000: "O_CLOEXEC", 0o4010000: "O_SYNC",
        0o10000000: "O_PATH", 0o20200000: "O_TMPFILE",
    ])

    /// open(2)-style flags with the access mode first: `O_RDONLY|O_NONBLOCK`.
    public static func renderOpenFlags(_ value: UInt64) -> String {
        let modes = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"]
        let rest = value & ~UInt64(3)
        let mode = modes[Int(value & 3)]
        return rest == 0 ? mode : mode + "|" + fileStatusFlags.render(rest)
    }

    public static let fcntlCommands = ConstantTable("F_", [
        0: "F_DUPFD", 1: "F_GETFD", 2: "F_SETFD", 3: "F_GETFL", 4: "F_SETFL", 5: "F_GETLK",
        6: "F_SETLK", 7: "F_SETLKW", 8: "F_SETOWN", 9: "F_GETOWN", 10: "F_SETSIG", 11: "F_GETSIG",
        15: "F_SETOWN_EX", 16: "F_GETOWN_EX", 36: "F_OFD_GETLK", 37: "F_OFD_SETLK",
        38: "F_OFD_SETLKW", 1024: "F_SETLEASE", 1025: "F_GETLEASE", 1026: "F_NOTIFY",
        1030: "F_DUPFD_CLOEXEC", 1031: "F_SETPIPE_SZ", 1032: "F_GETPIPE_SZ", 1033: "F_ADD_SEALS",
        1034: "F_GET_SEALS",
    ])

    public static let descriptorFlags = FlagTable([1: "FD_CLOEXEC"])

    public static let spliceFlags = FlagTable([
        1: "SPLICE_F_MOVE", 2: "SPLICE_F_NONBLOCK", 4: "SPLICE_F_MORE", 8: "SPLICE_F_GIFT",
    ])

    public static let closeRangeFlags = FlagTable([2: "CLOSE_RANGE_UNSHARE", 4: "CLOSE_RANGE_CLOEXEC"])
}
