import Glibc
import Testing
@testable import SocketTrace

/// The sock_diag client for AF_UNIX sockets: the request's bytes, replies
/// built by hand, and one question to the kernel about a socket pair.
@Suite struct UnixSocketDiagTests {
    static func reply(type: UInt16 = 20, attributes: [(UInt16, [UInt8])]) -> [UInt8] {
        // struct unix_diag_msg: family, type, state, pad, inode, cookie[2].
        var payload: [UInt8] = [1, 1, 1, 0]
        payload.appendLittleEndian(UInt32(4242))
        payload.appendLittleEndian(UInt64(0))
        for (type, data) in attributes {
            payload.appendLittleEndian(UInt16(4 + data.count))
            payload.appendLittleEndian(type)
            payload += data
            payload += [UInt8](repeating: 0, count: Netlink.aligned(data.count) - data.count)
        }
        return Netlink.message(type: type, flags: 0, sequence: 7, payload: payload)
    }

    static func peer(_ inode: UInt32) -> (UInt16, [UInt8]) {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(inode)
        return (2, bytes)
    }

    @Test("the request: nlmsghdr, then unix_diag_req for one inode, name and peer")
    func request() {
        let expected: [UInt8] = [
            40, 0, 0, 0,  20, 0,  1, 0,  0, 0, 0, 0,  0, 0, 0, 0,   // len, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, pid
            1, 0, 0, 0,                                           // AF_UNIX, protocol, pad
            0xff, 0xff, 0xff, 0xff,                               // every state
            0x78, 0x56, 0x34, 0x12,                               // inode
            5, 0, 0, 0,                                           // UDIAG_SHOW_NAME | UDIAG_SHOW_PEER
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,       // no cookie
        ]
        #expect(UnixSocketDiag.request(inode: 0x1234_5678) == expected)
    }

    @Test("replies: a path, an abstract name, a peer, padding, none of them")
    func replies() throws {
        let path = Array("/run/x.sock".utf8) + [0]
        var info = try UnixSocketDiag(reply: Self.reply(attributes: [(0, path), Self.peer(99)]))
        #expect(info == UnixSocketDiag(peer: 99, path: "/run/x.sock"))
        // An abstract name: a NUL byte first, no terminator (length 5: padded to 8).
        info = try UnixSocketDiag(reply: Self.reply(attributes: [(0, [0] + Array("name".utf8)), Self.peer(7)]))
        #expect(info == UnixSocketDiag(peer: 7, path: "@name"))
        // Attributes it does not ask for (UNIX_DIAG_VFS) are passed over.
        info = try UnixSocketDiag(reply: Self.reply(attributes: [(1, [1, 2, 3, 4, 5, 6, 7, 8]), Self.peer(5)]))
        #expect(info == UnixSocketDiag(peer: 5, path: ""))
        #expect(try UnixSocketDiag(reply: Self.reply(attributes: [])) == UnixSocketDiag())
    }

    @Test("an error, a short or a cut message: ENOENT")
    func failures() throws {
        var error = Self.reply(attributes: [])
        error[4] = 2   // NLMSG_ERROR
        #expect(throws: Errno.noSuchFileOrDirectory) { try UnixSocketDiag(reply: error) }
        #expect(throws: Errno.noSuchFileOrDirectory) { try UnixSocketDiag(reply: [1, 2, 3]) }
        let whole = Self.reply(attributes: [Self.peer(1)])
        #expect(throws: Errno.noSuchFileOrDirectory) { try UnixSocketDiag(reply: Array(whole.dropLast(4))) }
        // An attribute whose length overruns the message ends the list.
        var overrun = Self.reply(attributes: [Self.peer(1)])
        overrun[32] = 200
        #expect(try UnixSocketDiag(reply: overrun) == UnixSocketDiag())
    }

    @Test("the kernel's answer for a connected pair: each is the other's peer")
    func socketPair() throws {
        var fds: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { fds.forEach { close($0) } }
        func inode(_ fd: Int32) -> UInt32 {
            var info = stat()
            fstat(fd, &info)
            return UInt32(truncatingIfNeeded: info.st_ino)
        }
        let info: UnixSocketDiag
        do {
            info = try UnixSocketDiag(inode: inode(fds[0]))
        } catch {
            // A kernel without unix_diag (CONFIG_UNIX_DIAG) answers nothing.
            try #require(error == .noSuchFileOrDirectory, "\(error)")
            return
        }
        #expect(info.peer == inode(fds[1]))
        #expect(info.path == "")
    }
}
