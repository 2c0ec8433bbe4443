/// The constants of netlink's own layer (include/uapi/linux/netlink.h), by
/// the names strace 6.1 prints.
enum NetlinkConstants {
    /// `struct nlmsghdr`: length, type, flags, sequence number, port id.
    static let headerSize = 16
    /// `struct nlattr`: length and type.
    static let attributeHeaderSize = 4
    /// Types below this are netlink's own control messages, the same in every family.
    static let firstFamilyType: UInt16 = 0x10

    static let noop: UInt16 = 1
    static let error: UInt16 = 2
    static let done: UInt16 = 3

    static let controlTypes = ConstantTable("NLMSG_", [
        1: "NLMSG_NOOP", 2: "NLMSG_ERROR", 3: "NLMSG_DONE", 4: "NLMSG_OVERRUN",
    ])

    static let requestFlag: UInt64 = 0x1
    /// An acknowledgement carries only the header of the request (its payload cut).
    static let cappedFlag: UInt64 = 0x100

    /// Flags of every message.
    static let flags = FlagTable([
        0x1: "NLM_F_REQUEST", 0x2: "NLM_F_MULTI", 0x4: "NLM_F_ACK", 0x8: "NLM_F_ECHO",
        0x10: "NLM_F_DUMP_INTR", 0x20: "NLM_F_DUMP_FILTERED",
    ])
    /// Flags of GET requests.
    static let getFlags = FlagTable([0x300: "NLM_F_DUMP", 0x100: "NLM_F_ROOT", 0x200: "NLM_F_MATCH", 0x400: "NLM_F_ATOMIC"])
    /// Flags of NEW requests.
    static let newFlags = FlagTable([0x100: "NLM_F_REPLACE", 0x200: "NLM_F_EXCL", 0x400: "NLM_F_CREATE", 0x800: "NLM_F_APPEND"])
    /// Flags of DEL requests.
    static let deleteFlags = FlagTable([0x100: "NLM_F_NONREC", 0x200: "NLM_F_BULK"])
    /// Flags of NLMSG_ERROR acknowledgements.
    static let acknowledgementFlags = FlagTable([0x100: "NLM_F_CAPPED", 0x200: "NLM_F_ACK_TLVS"])

    /// The attributes after an acknowledgement's request (extended ACK).
    static let errorAttributes = ConstantTable("NLMSGERR_ATTR_", indexed: [
        "NLMSGERR_ATTR_UNUSED", "NLMSGERR_ATTR_MSG", "NLMSGERR_ATTR_OFFS", "NLMSGERR_ATTR_COOKIE",
        "NLMSGERR_ATTR_POLICY", "NLMSGERR_ATTR_MISS_TYPE", "NLMSGERR_ATTR_MISS_NEST",
    ])

    /// The netlink protocols (socket(2)'s third argument) with their own decoders.
    static let routeProtocol: UInt64 = 0
    static let sockDiagProtocol: UInt64 = 4
}

/// Address families and link-layer facts the netlink decoders need.
enum NetlinkFamilies {
    static let unix: UInt8 = 1
    static let inet: UInt8 = 2
    static let inet6: UInt8 = 10
    static let netlink: UInt64 = 16

    /// MAX_ADDR_LEN: a longer link-layer address is shown as bytes.
    static let maximumHardwareAddressLength = 32

    /// How many bytes of a link-layer address strace shows for a device
    /// type (ARPHRD_ value); types not listed show all of it.
    static let hardwareAddressSizes: [UInt64: Int] = [
        0: 7, 1: 6, 3: 7, 6: 6, 7: 1, 15: 2, 24: 16, 27: 8, 32: 20, 256: 0, 270: 5, 271: 0, 280: 0, 290: 1,
        512: 0, 518: 0, 519: 0, 768: 4, 769: 16, 772: 6, 773: 1, 774: 6, 776: 4, 777: 0, 778: 4, 779: 0,
        780: 6, 783: 4, 801: 6, 802: 6, 803: 6, 804: 8, 805: 8, 820: 1, 821: 1, 822: 0, 823: 16, 824: 0,
        825: 8, 826: 0,
    ]
}
