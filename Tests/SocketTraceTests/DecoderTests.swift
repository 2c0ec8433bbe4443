import Glibc
import Testing
@testable import SocketTrace

/// Decoders on memory images built by hand: no tracee, exact expectations.
struct DecoderTests {
    static let base: UInt64 = 0x7ffd_0000_1000

    func context(_ memory: MemoryImage, _ architecture: Architecture = .x86_64, limit: Int = 32,
                 hex: DecodeOptions.HexStrings = .none) -> DecodingContext {
        DecodingContext(memory: memory, architecture: architecture, options: DecodeOptions(stringLimit: limit, hexStrings: hex))
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8((v >> (8 * UInt64($0))) & 0xff) } }

    func sockaddr(_ bytes: [UInt8]) -> String {
        var memory = MemoryImage()
        memory.place(bytes, at: Self.base)
        return SocketAddressDecoder(context(memory)).render(Self.base, length: bytes.count)
    }

    @Test func inet() {
        let bytes = le16(2) + be16(12345) + [127, 0, 0, 1] + [UInt8](repeating: 0, count: 8)
        #expect(sockaddr(bytes) == #"{sa_family=AF_INET, sin_port=htons(12345), sin_addr=inet_addr("127.0.0.1")}"#)
    }

    @Test func inet6() {
        var bytes = le16(10) + be16(443) + [0, 0, 0, 0] + [UInt8](repeating: 0, count: 15) + [1] + le32(0)
        #expect(sockaddr(bytes) == #"{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}"#)
        bytes[8] = 0x20; bytes[9] = 0x01; bytes[10] = 0x0d; bytes[11] = 0xb8
        #expect(sockaddr(bytes).contains(#""2001:db8::1""#))
    }

    @Test func unixPathAndAbstract() {
        let path = le16(1) + Array("/run/app.sock".utf8) + [0, 0, 0]
        #expect(sockaddr(path) == #"{sa_family=AF_UNIX, sun_path="/run/app.sock"}"#)
        let abstract = le16(1) + [0] + Array("hidden".utf8)
        #expect(sockaddr(abstract) == #"{sa_family=AF_UNIX, sun_path=@"hidden"}"#)
        #expect(sockaddr(le16(1)) == "{sa_family=AF_UNIX}")
    }

    @Test func netlinkAndPacket() {
        let netlink = le16(16) + le16(0) + le32(1234) + le32(0x11)
        #expect(sockaddr(netlink) == "{sa_family=AF_NETLINK, nl_pid=1234, nl_groups=0x000011}")
        let packet = le16(17) + be16(0x0806) + le32(999_999) + le16(1) + [1, 6] + [0, 1, 2, 3, 4, 5, 0, 0]
        #expect(sockaddr(packet) == "{sa_family=AF_PACKET, sll_protocol=htons(ETH_P_ARP), sll_ifindex=999999, sll_hatype=ARPHRD_ETHER, sll_pkttype=PACKET_BROADCAST, sll_halen=6, sll_addr=[0x00, 0x01, 0x02, 0x03, 0x04, 0x05]}")
    }

    @Test func unknownFamilyRaw() {
        let bytes = le16(5) + [1, 2, 0x41, 0x42]
        #expect(sockaddr(bytes) == #"{sa_family=AF_APPLETALK, sa_data="\1\2AB"}"#)
        #expect(sockaddr(le16(0x3039) + [0]) == #"{sa_family=0x3039 /* AF_??? */, sa_data="\0"}"#)
    }

    @Test func unreadableAddressIsShownAsPointer() {
        let decoder = SocketAddressDecoder(context(MemoryImage()))
        #expect(decoder.render(0xdead_beef, length: 16) == "0xdeadbeef")
        #expect(decoder.render(0, length: 16) == "NULL")
    }

    @Test(arguments: [
        ([UInt8]("hi\n".utf8), "\"hi\\n\""),
        ([0, 7, 0x31, 0x7f, 0xff], "\"\\0\\0071\\177\\377\""),
        ([UInt8]("tab\there \"q\" \\".utf8), "\"tab\\there \\\"q\\\" \\\\\""),
    ])
    func quoting(_ bytes: [UInt8], _ expected: String) {
        #expect(QuotedString.render(bytes, truncated: false, hex: .none) == expected)
    }

    @Test func quotingHexModes() {
        #expect(QuotedString.render(Array("ok\n".utf8), truncated: false, hex: .nonASCII) == "\"ok\\n\"")
        #expect(QuotedString.render([0x41, 0x00], truncated: true, hex: .nonASCII) == "\"\\x41\\x00\"...")
        #expect(QuotedString.render(Array("ab".utf8), truncated: false, hex: .all) == "\"\\x61\\x62\"")
    }

    @Test func constants() {
        #expect(SocketConstants.renderSocketType(0x80801) == "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK")
        #expect(SocketConstants.renderSocketType(0xf) == "0xf /* SOCK_??? */")
        #expect(SocketConstants.messageFlags.render(0x140) == "MSG_DONTWAIT|MSG_WAITALL")
        #expect(SocketConstants.messageFlags.render(0x80000000) == "0x80000000")
        #expect(SocketConstants.socketOptions.render(9999) == "0x270f /* SO_??? */")
        #expect(SocketConstants.renderOpenFlags(0o4002) == "O_RDWR|O_NONBLOCK")
        #expect(ErrnoName.name(111) == "ECONNREFUSED")
        #expect(errnoMessage(111) == "Connection refused")
    }

    /// sendmsg of an x86_64 msghdr with two iovecs and an SCM_RIGHTS message.
    @Test func messageHeader64() {
        var memory = MemoryImage()
        let iov = Self.base + 0x100, data1 = Self.base + 0x200, data2 = Self.base + 0x300, control = Self.base + 0x400
        memory.place(le64(0) + le64(0) + le64(iov) + le64(2) + le64(control) + le64(24) + le64(0), at: Self.base)
        memory.place(le64(data1) + le64(3) + le64(data2) + le64(4), at: iov)
        memory.place(Array("abc".utf8), at: data1)
        memory.place(Array("defg".utf8), at: data2)
        memory.place(le64(20) + le32(1) + le32(1) + le32(7) + le32(0), at: control)
        let text = MessageDecoder(context(memory)).messageHeader(Self.base, dataLimit: Int.max)
        #expect(text == #"{msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="abc", iov_len=3}, {iov_base="defg", iov_len=4}], msg_iovlen=2, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[7]}], msg_controllen=24, msg_flags=0}"#)
        // A receive shows only as many bytes as the call returned.
        let received = MessageDecoder(context(memory)).messageHeader(Self.base, dataLimit: 5)
        #expect(received.contains(#"iov_base="abc", iov_len=3}, {iov_base="de", iov_len=4}"#))
    }

    /// The same on i386: 4-byte pointers, 12-byte cmsghdr, SCM_CREDENTIALS.
    @Test func messageHeader32() {
        var memory = MemoryImage()
        let b: UInt64 = 0xffd0_0000
        memory.place(le32(0) + le32(0) + le32(UInt32(b + 0x40)) + le32(1) + le32(UInt32(b + 0x80)) + le32(24) + le32(0x40), at: b)
        memory.place(le32(UInt32(b + 0x60)) + le32(4), at: b + 0x40)
        memory.place(Array("cred".utf8), at: b + 0x60)
        memory.place(le32(24) + le32(1) + le32(2) + le32(42) + le32(1000) + le32(100), at: b + 0x80)
        let text = MessageDecoder(context(memory, .i386)).messageHeader(b, dataLimit: Int.max)
        #expect(text == #"{msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="cred", iov_len=4}], msg_iovlen=1, msg_control=[{cmsg_len=24, cmsg_level=SOL_SOCKET, cmsg_type=SCM_CREDENTIALS, cmsg_data={pid=42, uid=1000, gid=100}}], msg_controllen=24, msg_flags=MSG_DONTWAIT}"#)
    }

    /// Control messages strace leaves raw, in the same style (audit 98 and 100: IPv6's error queue,
    /// UDP's GRO and GSO sizes printed as bytes), and timestamps in both layouts.
    @Test func controlMessageData() {
        let decoder = ControlMessageDecoder(context: context(MemoryImage()))
        let loopback6: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let mapped6: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1]
        #expect(decoder.typeName(level: 41, type: 50) == "IPV6_PKTINFO" && decoder.typeName(level: 17, type: 104) == "UDP_GRO"
                && decoder.typeName(level: 0, type: 11) == "IP_RECVERR" && decoder.typeName(level: 1, type: 65) == "SO_TIMESTAMPING_NEW")
        #expect(decoder.render(level: 41, type: 50, loopback6 + le32(1))
                == #"{ipi6_addr=inet_pton(AF_INET6, "::1"), ipi6_ifindex=if_nametoindex("lo")}"#)
        // IPV6_RECVERR: an ICMPv6 port unreachable (origin 3, type 1, code 4) from ::ffff:127.0.0.1.
        let offender: [UInt8] = [10, 0, 0, 0] + le32(0) + mapped6 + le32(0)
        #expect(decoder.render(level: 41, type: 25, le32(111) + [3, 1, 4, 0] + le32(0) + le32(0) + offender)
                == #"{ee_errno=111, ee_origin=3, ee_type=1, ee_code=4, ee_info=0, ee_data=0, offender={sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}}"#)
        #expect(decoder.render(level: 41, type: 52, le32(64)) == "[64]")
        #expect(decoder.render(level: 17, type: 104, le32(1400)) == "[1400]")
        #expect(decoder.render(level: 17, type: 103, [0x78, 0x05]) == "[1400]")
        #expect(decoder.render(level: 1, type: 29, le64(1_700_000_000) + le64(250_000)) == "{tv_sec=1700000000, tv_usec=250000}")
        #expect(decoder.render(level: 1, type: 37, le64(5) + le64(6) + le64(0) + le64(0) + le64(7) + le64(8))
                == "[{tv_sec=5, tv_nsec=6}, {tv_sec=0, tv_nsec=0}, {tv_sec=7, tv_nsec=8}]")
        // i386: the old timestamps' fields are 32-bit, the new ones 64-bit.
        let decoder32 = ControlMessageDecoder(context: context(MemoryImage(), .i386))
        #expect(decoder32.render(level: 1, type: 35, le32(9) + le32(10)) == "{tv_sec=9, tv_nsec=10}")
        #expect(decoder32.render(level: 1, type: 64, le64(9) + le64(10)) == "{tv_sec=9, tv_nsec=10}")
        // Too short for its structure, or unknown: the bytes, quoted.
        #expect(decoder.render(level: 0, type: 11, [1, 2]) == #""\1\2""#)
        #expect(decoder.render(level: 99, type: 1, [0x41]) == #""A""#)
    }

    /// accept's value-result length: `[128 => 16]`, and the whole line.
    @Test func acceptLine() {
        var memory = MemoryImage()
        let addr = Self.base, length = Self.base + 0x100
        memory.place(le16(2) + be16(40000) + [10, 0, 0, 2] + [UInt8](repeating: 0, count: 8), at: addr)
        memory.place(le32(128), at: length)
        var call = SyscallInvocation(pid: 1, tid: 1, architecture: .x86_64, syscall: .accept4,
                                     arguments: [3, addr, length, 0x80000, 0, 0], entryTime: .now())
        let decoder = SyscallDecoder(context(memory))
        decoder.enter(&call)
        #expect(call.entryText == "accept4(3, ")
        memory.place(le32(16), at: length)
        let exitDecoder = SyscallDecoder(context(memory))
        call.result = SyscallResult(value: 4, errno: nil)
        exitDecoder.exit(&call)
        #expect(call.exitText == #"{sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr("10.0.0.2")}, [128 => 16], SOCK_CLOEXEC"#)
        #expect(exitDecoder.returnText(call) == "4")
    }

    @Test func errorAndRestartResults() {
        let decoder = SyscallDecoder(context(MemoryImage()))
        var call = SyscallInvocation(pid: 1, tid: 1, architecture: .x86_64, syscall: .connect, arguments: [3, 0, 16], entryTime: .now())
        call.result = SyscallResult(rval: -111, isError: true)
        #expect(decoder.returnText(call) == "-1 ECONNREFUSED (Connection refused)")
        call.result = SyscallResult(rval: -512, isError: true)
        #expect(decoder.returnText(call) == "? ERESTARTSYS (To be restarted if SA_RESTART is set)")
    }

    @Test func socketOptionValues() {
        var memory = MemoryImage()
        memory.place(le32(1) + le32(5), at: Self.base)
        let options = SocketOptionDecoder(context(memory))
        #expect(options.setValue(level: 1, name: 13, address: Self.base, length: 8) == "{l_onoff=1, l_linger=5}")
        #expect(options.setValue(level: 1, name: 2, address: Self.base, length: 4) == "[1]")
        #expect(options.setValue(level: 1, name: 8, address: Self.base, length: 2) == "0x7ffd00001000")
        #expect(options.setValue(level: 0, name: 2, address: Self.base, length: 2) == #""\1\0""#)
        memory.place(le32(111), at: Self.base + 0x10)
        #expect(SocketOptionDecoder(context(memory)).getValue(level: 1, name: 4, address: Self.base + 0x10, before: 4, after: 4) == "[ECONNREFUSED]")
    }

    @Test func selectionParsing() throws {
        let net = try SyscallSelection.parse("trace=%net")
        #expect(net.contains(.sendto) && net.contains(.sendfile) && !net.contains(.read))
        let named = try SyscallSelection.parse("trace=read,write")
        #expect(named.syscalls == [.read, .write])
        let negated = try SyscallSelection.parse("trace=!close")
        #expect(!negated.contains(.close) && negated.contains(.connect))
        #expect(throws: TraceError.self) { try SyscallSelection.parse("trace=openat") }
    }

    @Test func socketTableFollowsDupForkExec() {
        let table = DescriptorTable()
        let socket = SocketInfo(family: 2, type: 1, protocolNumber: 6)
        table.insert(socket, at: 3, closeOnExec: false)
        table.duplicate(3, to: 7, closeOnExec: true)
        #expect(table[7]?.socket === socket)
        let child = table.copy()
        child.remove(3)
        #expect(table[3] != nil && child[3] == nil)
        table.applyExec()
        #expect(table[3] != nil && table[7] == nil)
    }

    @Test("a socket no /proc/net table lists (TCP never connected, unbound UDP) says itself what it is: not AF_UNSPEC (audit 9 D5)")
    func unlistedSocketsDescribed() throws {
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), udp = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(tcp); close(udp) }
        try #require(tcp >= 0 && udp >= 0)
        let tracker = SocketTracker(pid: getpid(), table: DescriptorTable(), memory: MemoryImage())
        let tcpInfo = try #require(tracker.socket(tcp)), udpInfo = try #require(tracker.socket(udp))
        #expect(tcpInfo.family == 2 && tcpInfo.type == 1 && tcpInfo.protocolNumber == 6 && tcpInfo.state == .created)
        #expect(udpInfo.family == 10 && udpInfo.type == 2 && udpInfo.state == .created)
    }

    @Test("a socket whose family was never learnt (closed by another thread before the kernel was asked) is named by its inode, as strace does: not AF_UNSPEC (audit 72 d)")
    func unlearntSocketNamedByInode() {
        let socket = SocketInfo(inode: 4321, family: 0, type: 0, protocolNumber: 0)
        #expect(socket.protocolLabel == "socket:[4321]")
        #expect(DescriptorRenderer.readableText(socket) == "socket:[4321]")
        #expect(DescriptorRenderer.straceSocket(socket, pid: getpid()) == "socket:[4321]")
    }

    @Test("a non-blocking connect's socket is connected once data moves on it (its end seen by poll, not by a call): a shutdown after it is a connected socket's, not an abandoned connect (audit 66 N2)")
    func dataEndsConnecting() {
        let table = DescriptorTable()
        let tracker = SocketTracker(pid: getpid(), table: table, memory: MemoryImage(), resolveAddresses: false)
        func call(_ syscall: Syscall, fd: UInt64, _ arguments: [UInt64] = [], result: Int64) -> SyscallInvocation {
            var call = SyscallInvocation(pid: getpid(), tid: getpid(), architecture: .x86_64, syscall: syscall,
                                         arguments: [fd] + arguments + Array(repeating: 0, count: 5 - arguments.count),
                                         entryTime: MonotonicTime(nanoseconds: 1))
            call.result = SyscallResult(value: result, errno: nil)
            return call
        }
        let sent = SocketInfo(family: 2, type: 1, protocolNumber: 6, state: .connecting)
        let read = SocketInfo(family: 2, type: 1, protocolNumber: 6, state: .connecting)
        let idle = SocketInfo(family: 2, type: 1, protocolNumber: 6, state: .connecting)
        let datagram = SocketInfo(family: 2, type: 2, protocolNumber: 17, state: .connecting)
        for (fd, socket) in [(900, sent), (901, read), (902, idle), (903, datagram)] { table.insert(socket, at: Int32(fd), closeOnExec: false) }
        tracker.apply(call(.sendmsg, fd: 900, result: 14))
        tracker.apply(call(.readv, fd: 901, result: 12))
        tracker.apply(call(.sendto, fd: 902, result: 0))
        tracker.apply(call(.sendto, fd: 903, result: 5))
        #expect(sent.state == .connected && read.state == .connected, "\(sent.state) \(read.state)")
        #expect(idle.state == .connecting, "no byte moved: nothing shown")
        #expect(datagram.state == .connecting, "a stream's connect only")
        tracker.apply(call(.shutdown, fd: 900, [1], result: 0))
        #expect(sent.state == .shutDown)
    }

    @Test func procNetAddresses() {
        #expect(KernelSocketLookup.parseInet("0100007F:3039", six: false) == .inet(address: "127.0.0.1", port: 12345))
        #expect(KernelSocketLookup.parseInet("00000000000000000000000001000000:0050", six: true) == .inet6(address: "::1", port: 80))
    }
}

/// A call decoded once gives both texts: decorated (marks dropped) and
/// strace's plain one (marked spans dropped), byte for byte.
struct DecorationMarksTests {
    @Test func bothTextsFromOneDecoding() {
        let marked = "sendto(3" + DecorationMarks.wrap("<TCP:[127.0.0.1:1->127.0.0.1:2]>") + ", \"é\\n\", 2, 0, NULL, 0)"
        #expect(DecorationMarks.decorated(marked) == "sendto(3<TCP:[127.0.0.1:1->127.0.0.1:2]>, \"é\\n\", 2, 0, NULL, 0)")
        #expect(DecorationMarks.plain(marked) == "sendto(3, \"é\\n\", 2, 0, NULL, 0)")
    }

    @Test func marksAreTheBytesCutOn() {
        #expect(Array(String(DecorationMarks.open).utf8) == [0xEE, 0x80, 0x80])
        #expect(Array(String(DecorationMarks.close).utf8) == [0xEE, 0x80, 0x81])
    }

    @Test func unmarkedAndNestedText() {
        #expect(DecorationMarks.plain("close(3)") == "close(3)")
        #expect(DecorationMarks.decorated("") == "")
        // U+E002 shares the marks' first two bytes and is kept.
        let nested = "a" + DecorationMarks.wrap("b" + DecorationMarks.wrap("c") + "d") + "\u{E002}e"
        #expect(DecorationMarks.decorated(nested) == "abcd\u{E002}e")
        #expect(DecorationMarks.plain(nested) == "a\u{E002}e")
    }
}
