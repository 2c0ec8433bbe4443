/// sock_diag for AF_UNIX: requests (`struct unix_diag_req`) and replies
/// (`struct unix_diag_msg`) with their UNIX_DIAG_ attributes.
enum UnixDiagMessage {
    static func request(_ data: NetlinkData, text: NetlinkText) -> String {
        text.familyHeaded(data, familyField: "sdiag_family", size: SockDiagConstants.unixRequestSize, fields: { data in
            "sdiag_protocol=\(data.u8(1))"
                + ", udiag_states=" + text.flags(SockDiagConstants.tcpStateBits, UInt64(data.u32(4)), unknown: "1<<TCP_???")
                + ", udiag_ino=\(data.u32(8))"
                + ", udiag_show=" + text.flags(SockDiagConstants.unixShow, UInt64(data.u32(12)), unknown: "UDIAG_SHOW_???")
                + ", udiag_cookie=" + text.cookie(data, at: 16)
        }, attributes: nil)
    }

    static func reply(_ data: NetlinkData, text: NetlinkText) -> String {
        text.familyHeaded(data, familyField: "udiag_family", size: SockDiagConstants.unixMessageSize, fields: { data in
            "udiag_type=" + text.named(SocketConstants.socketTypes, UInt64(data.u8(1)))
                + ", udiag_state=" + text.named(SockDiagConstants.tcpStates, UInt64(data.u8(2)))
                + ", udiag_ino=\(data.u32(4)), udiag_cookie=" + text.cookie(data, at: 8)
        }, attributes: attributes)
    }

    static let attributes = AttributeSchema(SockDiagConstants.unixAttributes, [
        Attribute.name: AttributeValue.string,
        Attribute.fileSystem: { data, text in
            guard data.count >= 8 else { return nil }
            guard data.canRead(8) else { return text.context.pointer(data.address) }
            return "{udiag_vfs_dev=" + device(UInt64(data.u32(4))) + ", udiag_vfs_ino=\(data.u32(0))}"
        },
        Attribute.peer: AttributeValue.u32,
        Attribute.incomingConnections: { data, text in
            let count = data.count / 4
            guard count > 0 else { return nil }
            let shown = text.elementLimit.map { min($0, count) } ?? count
            guard data.canRead(shown * 4) else { return text.context.pointer(data.address) }
            return text.list((0..<shown).map { String(data.u32($0 * 4)) }, truncated: shown < count)
        },
        Attribute.queueLengths: AttributeValue.unsignedFields(["udiag_rqueue", "udiag_wqueue"], fieldSize: 4),
        Attribute.memoryInfo: { data, text in text.memoryInfo(data) },
        Attribute.shutdown: AttributeValue.u8,
        Attribute.userID: { data, text in
            guard data.count >= 4 else { return nil }
            guard data.canRead(4) else { return text.context.pointer(data.address) }
            let uid = data.u32(0)
            return uid == UInt32.max ? "-1" : String(uid)
        },
    ])

    /// A device number as strace writes it: `makedev(0x8, 0x1)`.
    static func device(_ value: UInt64) -> String {
        let major = ((value >> 8) & 0xfff) | ((value >> 32) & ~0xfff)
        let minor = (value & 0xff) | ((value >> 12) & ~0xff)
        return "makedev(\(cHex(major)), \(cHex(minor)))"
    }

    /// UNIX_DIAG_ attribute types (include/uapi/linux/unix_diag.h).
    enum Attribute {
        static let name: UInt16 = 0
        static let fileSystem: UInt16 = 1
        static let peer: UInt16 = 2
        static let incomingConnections: UInt16 = 3
        static let queueLengths: UInt16 = 4
        static let memoryInfo: UInt16 = 5
        static let shutdown: UInt16 = 6
        static let userID: UInt16 = 7
    }
}
