import Testing
@testable import SocketTrace

/// The netlink decoders on messages built by hand: exact strace 6.1 text.
struct NetlinkDecoderTests {
    static let base: UInt64 = 0x7ffd_0000_2000
    static let route: UInt64 = 0
    static let sockDiag: UInt64 = 4

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }

    /// A message: header (length filled in) and payload, padded to 4 bytes.
    func message(type: UInt16, flags: UInt16, seq: UInt32 = 7, pid: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        let length = 16 + payload.count
        let bytes = le32(UInt32(length)) + le16(type) + le16(flags) + le32(seq) + le32(pid) + payload
        return bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
    }

    func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        let bytes = le16(UInt16(4 + value.count)) + le16(type) + value
        return bytes + [UInt8](repeating: 0, count: (4 - bytes.count % 4) % 4)
    }

    func decode(_ bytes: [UInt8], protocolNumber: UInt64?, limit: Int = 32, verbose: Bool = false,
                length: Int? = nil) -> String {
        var memory = MemoryImage()
        memory.place(bytes, at: Self.base)
        let context = DecodingContext(memory: memory, architecture: .x86_64,
                                      options: DecodeOptions(stringLimit: limit, verbose: verbose))
        return NetlinkMessageDecoder(context, protocolNumber: protocolNumber).render(Self.base, length: length ?? bytes.count)
    }

    @Test func bareDumpRequestAndDone() {
        let request = message(type: 22, flags: 0x301, [2])
        #expect(decode(request, protocolNumber: Self.route, length: 17)
                == "[{nlmsg_len=17, nlmsg_type=RTM_GETADDR, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=7, nlmsg_pid=0}, {ifa_family=AF_INET, ...}]")
        let done = message(type: 3, flags: 2, pid: 0xffff_fffe, le32(0))
        #expect(decode(done, protocolNumber: Self.route)
                == "[{nlmsg_len=20, nlmsg_type=NLMSG_DONE, nlmsg_flags=NLM_F_MULTI, nlmsg_seq=7, nlmsg_pid=-2}, 0]")
    }

    @Test func addressWithAttributes() {
        let ifaddr: [UInt8] = [2, 8, 0x80, 254] + le32(1)
        let payload = ifaddr + attribute(1, [127, 0, 0, 1]) + attribute(3, Array("lo".utf8) + [0])
            + attribute(0x43, [1]) + attribute(3, Array("abc".utf8))
        let text = decode(message(type: 20, flags: 2, payload), protocolNumber: Self.route)
        let index = interfaceName(1).map { "if_nametoindex(\"\($0)\")" } ?? "1"
        #expect(text == "[{nlmsg_len=56, nlmsg_type=RTM_NEWADDR, nlmsg_flags=NLM_F_MULTI, nlmsg_seq=7, nlmsg_pid=0}, "
                + "{ifa_family=AF_INET, ifa_prefixlen=8, ifa_flags=IFA_F_PERMANENT, ifa_scope=RT_SCOPE_HOST, ifa_index=\(index)}, "
                + "[[{nla_len=8, nla_type=IFA_ADDRESS}, inet_addr(\"127.0.0.1\")], [{nla_len=7, nla_type=IFA_LABEL}, \"lo\"], "
                + "[{nla_len=5, nla_type=0x43 /* IFA_??? */}, \"\\x01\"], [{nla_len=7, nla_type=IFA_LABEL}, \"abc\"...]]]")
    }

    @Test func messagesAndAttributesCutAfterTheLimit() {
        let done = message(type: 3, flags: 2, le32(0))
        #expect(decode(done + done + done, protocolNumber: Self.route, limit: 2).hasSuffix("}, 0], ...]"))
        #expect(decode(done + done + done, protocolNumber: Self.route, limit: 2, verbose: true).components(separatedBy: "NLMSG_DONE").count == 4)
        let link: [UInt8] = [0, 0] + le16(772) + le32(0) + le32(0x9) + le32(0)
        let attributes = (0..<3).flatMap { _ in attribute(4, le32(65536)) }
        let text = decode(message(type: 16, flags: 0, link + attributes), protocolNumber: Self.route, limit: 2)
        #expect(text.hasSuffix("ifi_flags=IFF_UP|IFF_LOOPBACK, ifi_change=0}, [[{nla_len=8, nla_type=IFLA_MTU}, 65536], [{nla_len=8, nla_type=IFLA_MTU}, 65536], ...]]"))
    }

    @Test func errorWithTheRequestItAnswers() {
        let request = message(type: 18, flags: 5, [0, 0] + le16(0) + le32(0) + le32(0) + le32(0))
        let failed = message(type: 2, flags: 0, le32(UInt32(bitPattern: -19)) + request)
        #expect(decode(failed, protocolNumber: Self.route).contains(
            "{error=-ENODEV, msg=[{nlmsg_len=32, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=7, nlmsg_pid=0}, {ifi_family=AF_UNSPEC, ifi_type=ARPHRD_NETROM, ifi_index=0, ifi_flags=0, ifi_change=0}]}"))
        let capped = message(type: 2, flags: 0x100, le32(0) + Array(request.prefix(16)))
        #expect(decode(capped, protocolNumber: Self.route)
                == "[{nlmsg_len=36, nlmsg_type=NLMSG_ERROR, nlmsg_flags=NLM_F_CAPPED, nlmsg_seq=7, nlmsg_pid=0}, {error=0, msg={nlmsg_len=32, nlmsg_type=RTM_GETLINK, nlmsg_flags=NLM_F_REQUEST|NLM_F_ACK, nlmsg_seq=7, nlmsg_pid=0}}]")
    }

    @Test func unknownProtocolShowsTypesAndBytes() {
        let text = decode(message(type: 20, flags: 0x301, [1, 2]), protocolNumber: nil)
        #expect(text == #"[{nlmsg_len=18, nlmsg_type=0x14 /* NLMSG_??? */, nlmsg_flags=NLM_F_REQUEST|0x300, nlmsg_seq=7, nlmsg_pid=0}, "\x01\x02"]"#)
        #expect(decode([1, 2, 3], protocolNumber: Self.route) == #""\x01\x02\x03""#)
    }

    @Test func inetDiagRequestForIPv6() {
        var request: [UInt8] = [10, 6, 0, 0] + le32(1 << 10)
        request += be16(22) + be16(0) + [UInt8](repeating: 0, count: 15) + [1] + [UInt8](repeating: 0, count: 16)
        request += le32(0) + le32(5) + le32(0)
        let text = decode(message(type: 20, flags: 0x301, request), protocolNumber: Self.sockDiag)
        #expect(text.hasSuffix("{sdiag_family=AF_INET6, sdiag_protocol=IPPROTO_TCP, idiag_ext=0, idiag_states=1<<TCP_LISTEN, "
            + "id={idiag_sport=htons(22), idiag_dport=htons(0), inet_pton(AF_INET6, \"::1\", &idiag_src), "
            + "inet_pton(AF_INET6, \"::\", &idiag_dst), idiag_if=0, idiag_cookie=[5, 0]}}]"))
    }

    @Test func unixDiagReply() {
        let reply: [UInt8] = [1, 1, 10, 0] + le32(4242) + le32(3) + le32(0)
        let payload = reply + attribute(0, Array("/run/a.sock".utf8)) + attribute(4, le32(0) + le32(5)) + attribute(6, [0])
        let text = decode(message(type: 20, flags: 2, payload), protocolNumber: Self.sockDiag)
        #expect(text.hasSuffix("{udiag_family=AF_UNIX, udiag_type=SOCK_STREAM, udiag_state=TCP_LISTEN, udiag_ino=4242, udiag_cookie=[3, 0]}, "
            + "[[{nla_len=15, nla_type=UNIX_DIAG_NAME}, \"/run/a.sock\"...], [{nla_len=12, nla_type=UNIX_DIAG_RQLEN}, {udiag_rqueue=0, udiag_wqueue=5}], "
            + "[{nla_len=5, nla_type=UNIX_DIAG_SHUTDOWN}, 0]]]"))
    }

    @Test func sendtoOnANetlinkSocketIsDecodedAndOnOthersIsBytes() {
        var memory = MemoryImage()
        let bytes = message(type: 3, flags: 2, le32(0))
        memory.place(bytes, at: Self.base)
        let netlink = SocketInfo(family: 16, type: 3, protocolNumber: 0)
        let context = DecodingContext(memory: memory, architecture: .x86_64, options: DecodeOptions(),
                                      socket: { $0 == 3 ? netlink : nil })
        #expect(context.socketBuffer(fd: 3, Self.base, length: bytes.count).hasPrefix("[{nlmsg_len=20, nlmsg_type=NLMSG_DONE"))
        #expect(context.socketBuffer(fd: 4, Self.base, length: bytes.count).hasPrefix("\"\\24\\0\\0\\0\\3\\0\\2\\0"))
    }
}
