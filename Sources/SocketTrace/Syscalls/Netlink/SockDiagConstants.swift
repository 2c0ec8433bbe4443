/// The constants of NETLINK_SOCK_DIAG (include/uapi/linux/sock_diag.h,
/// inet_diag.h, unix_diag.h), by the names strace 6.1 prints.
enum SockDiagConstants {
    static let messageTypes = ConstantTable("SOCK_DIAG_", [
        18: "TCPDIAG_GETSOCK", 19: "DCCPDIAG_GETSOCK", 20: "SOCK_DIAG_BY_FAMILY", 21: "SOCK_DESTROY",
    ])

    /// The old inet_diag requests (`struct inet_diag_req`) of these types.
    static let tcpGetSocket: UInt16 = 18
    static let dccpGetSocket: UInt16 = 19

    static let tcpStates = ConstantTable("TCP_", [
        1: "TCP_ESTABLISHED", 2: "TCP_SYN_SENT", 3: "TCP_SYN_RECV", 4: "TCP_FIN_WAIT1", 5: "TCP_FIN_WAIT2",
        6: "TCP_TIME_WAIT", 7: "TCP_CLOSE", 8: "TCP_CLOSE_WAIT", 9: "TCP_LAST_ACK", 10: "TCP_LISTEN",
        11: "TCP_CLOSING", 12: "TCP_NEW_SYN_RECV",
    ])

    /// A set of TCP states, a bit each (idiag_states, udiag_states).
    static let tcpStateBits = FlagTable([
        1 << 1: "1<<TCP_ESTABLISHED", 1 << 2: "1<<TCP_SYN_SENT", 1 << 3: "1<<TCP_SYN_RECV",
        1 << 4: "1<<TCP_FIN_WAIT1", 1 << 5: "1<<TCP_FIN_WAIT2", 1 << 6: "1<<TCP_TIME_WAIT",
        1 << 7: "1<<TCP_CLOSE", 1 << 8: "1<<TCP_CLOSE_WAIT", 1 << 9: "1<<TCP_LAST_ACK",
        1 << 10: "1<<TCP_LISTEN", 1 << 11: "1<<TCP_CLOSING", 1 << 12: "1<<TCP_NEW_SYN_RECV",
    ])

    // MARK: inet_diag

    /// `struct inet_diag_sockid`: ports, addresses, interface, cookie.
    static let socketIDSize = 48
    /// `struct inet_diag_req_v2`.
    static let inetRequestSize = 56
    /// `struct inet_diag_req` (TCPDIAG_GETSOCK, DCCPDIAG_GETSOCK).
    static let inetCompatRequestSize = 60
    /// `struct inet_diag_msg`.
    static let inetMessageSize = 72

    static let inetAttributes = ConstantTable("INET_DIAG_", indexed: [
        "INET_DIAG_NONE", "INET_DIAG_MEMINFO", "INET_DIAG_INFO", "INET_DIAG_VEGASINFO", "INET_DIAG_CONG",
        "INET_DIAG_TOS", "INET_DIAG_TCLASS", "INET_DIAG_SKMEMINFO", "INET_DIAG_SHUTDOWN",
        "INET_DIAG_DCTCPINFO", "INET_DIAG_PROTOCOL", "INET_DIAG_SKV6ONLY", "INET_DIAG_LOCALS",
        "INET_DIAG_PEERS", "INET_DIAG_PAD", "INET_DIAG_MARK", "INET_DIAG_BBRINFO", "INET_DIAG_CLASS_ID",
        "INET_DIAG_MD5SIG", "INET_DIAG_ULP_INFO", "INET_DIAG_SK_BPF_STORAGES", "INET_DIAG_CGROUP_ID",
        "INET_DIAG_SOCKOPT",
    ])

    static let inetRequestAttributes = ConstantTable("INET_DIAG_REQ_", indexed: [
        "INET_DIAG_REQ_NONE", "INET_DIAG_REQ_BYTECODE", "INET_DIAG_REQ_SK_BPF_STORAGES", "INET_DIAG_REQ_PROTOCOL",
    ])

    /// idiag_ext: which INET_DIAG_ attributes to add, a bit each (1 << (attribute - 1)).
    static let extensions: FlagTable = {
        let names = ["MEMINFO", "INFO", "VEGASINFO", "CONG", "TOS", "TCLASS", "SKMEMINFO", "SHUTDOWN", "DCTCPINFO",
                     "PROTOCOL", "SKV6ONLY", "LOCALS", "PEERS", "PAD", "MARK", "BBRINFO", "CLASS_ID", "MD5SIG",
                     "ULP_INFO", "SK_BPF_STORAGES", "CGROUP_ID", "SOCKOPT"]
        var table = FlagTable([:])
        table.flags = names.enumerated().map { (UInt64(1) << UInt64($0.offset), "1<<(INET_DIAG_\($0.element)-1)") }
        return table
    }()

    static let shutdownFlags = FlagTable([1: "RCV_SHUTDOWN", 2: "SEND_SHUTDOWN"])

    static let bytecodes = ConstantTable("INET_DIAG_BC_", indexed: [
        "INET_DIAG_BC_NOP", "INET_DIAG_BC_JMP", "INET_DIAG_BC_S_GE", "INET_DIAG_BC_S_LE", "INET_DIAG_BC_D_GE",
        "INET_DIAG_BC_D_LE", "INET_DIAG_BC_AUTO", "INET_DIAG_BC_S_COND", "INET_DIAG_BC_D_COND",
        "INET_DIAG_BC_DEV_COND", "INET_DIAG_BC_MARK_COND", "INET_DIAG_BC_S_EQ", "INET_DIAG_BC_D_EQ",
        "INET_DIAG_BC_CGROUP_COND",
    ])

    /// The fields of `sk_meminfo` arrays (INET_DIAG_SKMEMINFO, UNIX_DIAG_MEMINFO).
    static let memoryIndexes = ConstantTable("SK_MEMINFO_", indexed: [
        "SK_MEMINFO_RMEM_ALLOC", "SK_MEMINFO_RCVBUF", "SK_MEMINFO_WMEM_ALLOC", "SK_MEMINFO_SNDBUF",
        "SK_MEMINFO_FWD_ALLOC", "SK_MEMINFO_WMEM_QUEUED", "SK_MEMINFO_OPTMEM", "SK_MEMINFO_BACKLOG",
        "SK_MEMINFO_DROPS",
    ])

    // MARK: unix_diag

    /// `struct unix_diag_req`.
    static let unixRequestSize = 24
    /// `struct unix_diag_msg`.
    static let unixMessageSize = 16

    static let unixAttributes = ConstantTable("UNIX_DIAG_", indexed: [
        "UNIX_DIAG_NAME", "UNIX_DIAG_VFS", "UNIX_DIAG_PEER", "UNIX_DIAG_ICONS", "UNIX_DIAG_RQLEN",
        "UNIX_DIAG_MEMINFO", "UNIX_DIAG_SHUTDOWN", "UNIX_DIAG_UID",
    ])

    static let unixShow = FlagTable([
        0x1: "UDIAG_SHOW_NAME", 0x2: "UDIAG_SHOW_VFS", 0x4: "UDIAG_SHOW_PEER", 0x8: "UDIAG_SHOW_ICONS",
        0x10: "UDIAG_SHOW_RQLEN", 0x20: "UDIAG_SHOW_MEMINFO", 0x40: "UDIAG_SHOW_UID",
    ])
}
