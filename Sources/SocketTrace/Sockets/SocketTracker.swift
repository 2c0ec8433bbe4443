import Glibc

/// Keeps a process's `DescriptorTable` true to what its syscalls did: new
/// sockets from socket, socketpair and accept, addresses from bind, connect
/// and accept, descriptors copied by dup and fcntl, closed by close.
public struct SocketTracker {
    let pid: Int32
    let table: DescriptorTable
    let memory: any TraceeMemory
    /// Whether to ask the kernel for addresses it chose (ephemeral ports):
    /// not needed when nothing shows or pairs addresses.
    let resolveAddresses: Bool

    public init(pid: Int32, table: DescriptorTable, memory: any TraceeMemory, resolveAddresses: Bool = true) {
        self.pid = pid
        self.table = table
        self.memory = memory
        self.resolveAddresses = resolveAddresses
    }

    /// The socket behind `fd`, asking /proc the first time an unknown
    /// descriptor is seen (inherited, received, or from before an attach).
    public func socket(_ fd: Int32) -> SocketInfo? {
        if let entry = table[fd] { return entry.socket }
        if fd < 0 || table.isKnownNotSocket(fd) { return nil }
        guard let inode = KernelSocketLookup.socketInode(pid: pid, fd: fd) else {
            table.markNotSocket(fd)
            return nil
        }
        let info: SocketInfo
        if let found = KernelSocketLookup.find(inode: inode, pid: pid) {
            info = SocketInfo(inode: inode, family: found.family, type: found.type, protocolNumber: found.protocolNumber,
                              local: found.local.isUnspecified ? nil : found.local,
                              peer: found.remote.isUnspecified ? nil : found.remote,
                              state: found.tcpState == 10 ? .listening : (found.remote.isUnspecified ? .bound : .connected))
        } else if let protocolNumber = KernelSocketLookup.netlinkProtocol(inode: inode, pid: pid) {
            // Its messages are decoded by its protocol (the kernel does not say its type).
            info = SocketInfo(inode: inode, family: UInt64(NetlinkFamilies.netlink), type: 3, protocolNumber: protocolNumber)
        } else if let found = KernelSocketLookup.described(pid: pid, fd: fd) {
            // Listed nowhere (a TCP socket in TCP_CLOSE, an unbound UDP one):
            // the socket says what it is. A TCP socket in TCP_CLOSE may have
            // been reset or never connected: it is taken as unconnected,
            // which claims nothing the kernel did.
            let local = found.local.flatMap { $0.isUnspecified ? nil : $0 }
            let peer = found.peer.flatMap { $0.isUnspecified || $0.port == 0 ? nil : $0 }
            let state: SocketInfo.State = switch found.tcpState {
            case TCPState.listen?: .listening
            case TCPState.synSent?: .connecting
            case TCPState.close?: local == nil ? .created : .bound
            default: peer != nil ? .connected : (local == nil ? .created : .bound)
            }
            info = SocketInfo(inode: inode, family: found.family, type: found.type, protocolNumber: found.protocolNumber,
                              local: local, peer: state == .bound || state == .created ? nil : peer, state: state)
        } else {
            info = SocketInfo(inode: inode, family: 0, type: 0, protocolNumber: 0)
        }
        info.netns = KernelSocketLookup.networkNamespace(pid: pid)
        table.insert(info, at: fd, closeOnExec: false)
        return info
    }

    /// What a receive on a UNIX socket did with the SCM_RIGHTS messages
    /// waiting for it.
    public enum RightsTaken {
        /// A message's descriptors taken in (a recvmsg with room).
        case received([SocketInfo])
        /// A message whose control data found no room (MSG_CTRUNC): the
        /// references not taken in (those given) were closed by the kernel.
        case cut(taken: [SocketInfo])
        /// Data taken with no control buffer (a recv, a read): a message
        /// with rights may have been taken, its references closed, or not.
        case maybe
        /// One datagram taken with no control buffer (a recv, recvfrom or
        /// read on a UNIX datagram or seqpacket socket): the oldest message
        /// waiting; one whose data differs from a rights message's was not
        /// that message (`MessageData.couldBe`).
        case datagram(returned: Int64, room: Int64, wholeLength: Bool, received: [UInt8])
    }

    /// Applies a finished call to the table; `received` is told of each
    /// socket a recvmsg took in with SCM_RIGHTS, `took` of what each
    /// receive on a UNIX socket did with the rights waiting for it.
    /// `sent`: each SCM_RIGHTS message sent on a connected UNIX socket, with
    /// its peer's inode (where it waits) and the sockets it carries.
    public func apply(_ call: SyscallInvocation, received: (SocketInfo) -> Void = { _ in },
                      took: (SocketInfo, RightsTaken) -> Void = { _, _ in },
                      sent: (UInt64, [SocketInfo], MessageData?) -> Void = { _, _, _ in }) {
        guard let result = call.result else { return }
        let a = call.argument
        let fd = Int32(truncatingIfNeeded: a(0))
        if result.failed {
            // A non-blocking connect, or a sendto(MSG_FASTOPEN) without a cookie (its SYN left without the data);
            // or a TCP connect a signal interrupted, whose connect goes on in the kernel (audit 97 F2: kept
            // "created", its close told a FIN's where nothing left).
            let interrupted = (result.isRestart || result.errno == EINTR) && socket(fd)?.type == SocketTypeNumber.stream
            if let (address, length) = call.connectAddress, result.errno == EINPROGRESS || interrupted, let socket = socket(fd) {
                socket.peer = endpoint(address, length: length)
                socket.state = .connecting
                // The SYN has left: the kernel has chosen the local port, and
                // the calls that follow (after poll or epoll) need it to be
                // paired with the connection.
                refreshFromKernel(socket, fd: fd)
            }
            if Self.closesConnection(result.errno), call.syscall.sendsData || call.syscall.receivesData, let socket = socket(fd),
               socket.type == SocketTypeNumber.stream, socket.state == .connected || socket.state == .connecting {
                // The kernel has put the connection in TCP_CLOSE (a reset
                // received, retransmissions or keepalives given up): a close
                // now sends nothing.
                socket.state = .closed
            }
            return
        }
        let returned = Int32(truncatingIfNeeded: result.value)
        if result.value > 0, call.syscall.sendsData || call.syscall.receivesData, let socket = table[fd]?.socket,
           socket.state == .connecting, socket.type == SocketTypeNumber.stream {
            // Data moved: the non-blocking connect had completed (its end
            // seen by poll and SO_ERROR, not by a call that says so). Left
            // connecting, a shutdown after the peer's quick answer found it
            // in TCP_CLOSE and was taken for one that abandoned the connect
            // (audit 66 N2: the close after it unexplained).
            socket.state = .connected
        }
        switch call.syscall {
        case .socket:
            let info = SocketInfo(inode: KernelSocketLookup.socketInode(pid: pid, fd: returned),
                                  family: a(0), type: a(1), protocolNumber: a(2))
            if a(0) == UInt64(AF_INET) || a(0) == UInt64(AF_INET6) { info.netns = KernelSocketLookup.networkNamespace(pid: pid) }
            table.insert(info, at: returned, closeOnExec: a(1) & 0x80000 != 0)
        case .socketpair:
            guard let bytes = memory.readExactly(a(3), count: 8) else { return }
            for index in 0..<2 {
                let newFd = bytes.loadLittleEndian(Int32.self, at: index * 4)
                let info = SocketInfo(inode: KernelSocketLookup.socketInode(pid: pid, fd: newFd),
                                      family: a(0), type: a(1), protocolNumber: a(2), state: .connected)
                table.insert(info, at: newFd, closeOnExec: a(1) & 0x80000 != 0)
            }
        case .accept, .accept4:
            let listener = socket(fd)
            let info = SocketInfo(inode: KernelSocketLookup.socketInode(pid: pid, fd: returned),
                                  family: listener?.family ?? 0, type: listener?.type ?? 1,
                                  protocolNumber: listener?.protocolNumber ?? 0,
                                  local: listener?.local, state: .connected)
            info.netns = listener?.netns
            // The address as far as the buffer held it: the kernel writes back
            // the address's whole length (`[16 => 28]` for an IPv6 peer in a
            // sockaddr_in's room), not what it copied (audit 26: the bytes past
            // a 16-byte buffer were read as an IPv6 address). Without the
            // length given (the call was not decoded), the kernel says.
            if a(1) != 0, a(2) != 0, let given = call.saved.first, let length = memory.readInt32(a(2)) {
                info.peer = endpoint(a(1), length: UInt64(max(min(Int64(length), given), 0)))
            }
            // accept(fd, NULL, NULL) names no peer, and a wildcard listener
            // no local address: the kernel knows both.
            if info.peer == nil || info.local == nil || info.local?.isAnyAddress == true { refreshFromKernel(info, fd: returned) }
            let flags = call.syscall == .accept4 ? a(3) : 0
            table.insert(info, at: returned, closeOnExec: flags & 0x80000 != 0)
        case .bind:
            guard let socket = socket(fd) else { return }
            socket.local = endpoint(a(1), length: a(2))
            socket.state = .bound
            if socket.local?.port == 0 { refreshFromKernel(socket, fd: fd) }
        case .listen:
            socket(fd)?.state = .listening
        case .connect,
             .sendto where call.isFastOpen:
            // TCP Fast Open's sendto connects too, its data in the SYN (audit 18).
            guard let socket = socket(fd), let (address, length) = call.connectAddress else { return }
            if call.syscall == .connect, socket.family != AddressFamily.unix,
               let family = memory.readExactly(address, count: 2)?.loadLittleEndian(UInt16.self, at: 0), family == AF_UNSPEC {
                // connect(AF_UNSPEC) dissolves the association: a TCP socket's
                // connection is reset or dropped (tcp_disconnect: TCP_CLOSE),
                // a UDP socket forgets its peer. The local port goes too
                // unless it was bound: the kernel says.
                socket.peer = nil
                socket.local = nil
                refreshFromKernel(socket, fd: fd)
                socket.state = socket.type == SocketTypeNumber.stream ? .closed : (socket.local == nil ? .created : .bound)
                return
            }
            socket.peer = endpoint(address, length: length)
            socket.state = .connected
            // The kernel chose the local address and port: ask it once.
            refreshFromKernel(socket, fd: fd)
        case .shutdown:
            guard let socket = socket(fd) else { return }
            if socket.state == .listening {
                // SHUT_RD or SHUT_RDWR stops a listener (tcp_disconnect: TCP_CLOSE); SHUT_WR leaves it be.
                if a(1) != 1 { socket.state = .closed }
            } else if socket.state == .connecting, KernelSocketLookup.tcpState(pid: pid, fd: fd) == TCPState.close {
                // In SYN_SENT any shutdown disconnects (inet_shutdown → tcp_disconnect):
                // the connect is abandoned, no FIN. (Its handshake may have completed
                // meanwhile: then it is an established socket's shutdown.)
                socket.state = .closed
            } else if a(1) != 0 {
                // SHUT_WR or SHUT_RDWR sends the FIN; SHUT_RD alone sends nothing.
                socket.state = .shutDown
            }
        case .close:
            table.remove(fd)
        case .close_range:
            let first = UInt32(truncatingIfNeeded: a(0))
            let last = UInt32(truncatingIfNeeded: a(1))
            for open in table.entries.keys where open >= 0 && UInt32(open) >= first && UInt32(open) <= last {
                if a(2) & 4 != 0 { table.setCloseOnExec(open, true) } else { table.remove(open) }
            }
        case .dup:
            table.duplicate(fd, to: returned, closeOnExec: false)
        case .dup2:
            if fd != returned { table.duplicate(fd, to: returned, closeOnExec: false) }
        case .dup3:
            table.duplicate(fd, to: returned, closeOnExec: a(2) & 0o2000000 != 0)
        case .fcntl, .fcntl64:
            switch a(1) {
            case 0: table.duplicate(fd, to: returned, closeOnExec: false)
            case 1030: table.duplicate(fd, to: returned, closeOnExec: true)
            case 2: table.setCloseOnExec(fd, a(2) & 1 != 0)
            default: break
            }
        case .sendmsg, .sendmmsg:
            // Each descriptor passed is one more reference, in the message
            // until a process receives it (sendmmsg: in each message it sent,
            // audit 78 F3: not counted).
            for message in sentMessages(call) {
                let passed = message.descriptors.compactMap { socket($0) }
                for socket in passed { socket.inFlight += 1 }
                // Where the message waits: the peer of a connected UNIX socket.
                if !passed.isEmpty, let sender = socket(fd), sender.family == AddressFamily.unix, let inode = sender.inode,
                   let peer = try? UnixSocketDiag(inode: UInt32(truncatingIfNeeded: inode)).peer, peer != 0 {
                    sent(UInt64(peer), passed, sentData(headerAt: message.header, length: message.length, call))
                }
            }
        case .recvmsg, .recvmmsg, .recvmmsg_time64:
            // Descriptors received with SCM_RIGHTS are new numbers: forget what
            // those numbers meant and ask /proc now, so the socket counts as
            // held here (a close elsewhere then releases nothing).
            var taken: [SocketInfo] = []
            for number in receivedDescriptors(call) {
                table.remove(number)
                if let socket = socket(number) {
                    received(socket)
                    taken.append(socket)
                }
            }
            // Messages whose SCM_RIGHTS found no room (MSG_CTRUNC): the
            // kernel closed the references they carried. A peek takes nothing.
            let peek = a(call.syscall.messageFlagsIndex ?? 3) & UInt64(MSG_PEEK) != 0
            let cut = peek ? 0 : call.syscall == .recvmsg ? (controlTruncated(call) ? 1 : 0) : truncatedMessages(call)
            guard !peek, let receiver = table[fd]?.socket, receiver.family == AddressFamily.unix else { break }
            if cut > 0 {
                took(receiver, .cut(taken: taken))
                for _ in 1..<cut { took(receiver, .cut(taken: [])) }
            } else if !taken.isEmpty {
                took(receiver, .received(taken))
            } else if call.syscall != .recvmsg, result.value > 0 {
                // recvmmsg's messages without a cut: rights taken in are not read.
                took(receiver, .maybe)
            }
        case .recv, .recvfrom, .read, .readv:
            // No control buffer: a message's SCM_RIGHTS references are closed
            // as it is taken in; whether the data taken carried one is not
            // read (audit 75 F1: a data-only message taken was counted as
            // the rights message, the socket said released by an exit while
            // that message still held it). A peek takes nothing.
            let peek = (call.syscall == .recv || call.syscall == .recvfrom) && a(3) & UInt64(MSG_PEEK) != 0
            guard !peek, let receiver = table[fd]?.socket, receiver.family == AddressFamily.unix else { break }
            if call.syscall != .readv, receiver.type == SocketTypeNumber.datagram || receiver.type == SocketTypeNumber.seqpacket {
                // One datagram, whole (an empty one too): its length and first bytes tell which.
                let wholeLength = call.syscall != .read && a(3) & UInt64(MSG_TRUNC) != 0
                let received = memory.readExactly(a(1), count: Int(min(result.value, Int64(MessageData.kept), Int64(clamping: a(2))))) ?? []
                took(receiver, .datagram(returned: result.value, room: Int64(clamping: a(2)), wholeLength: wholeLength, received: received))
            } else if result.value > 0 {
                took(receiver, .maybe)
            }
        default:
            break
        }
    }

    /// Fills in the addresses the kernel chose (ephemeral ports, the local
    /// address of an accepted connection) from /proc/net.
    /// Asks the kernel for addresses it chose: getsockname/getpeername on a
    /// copy of the descriptor (pidfd_getfd, a few microseconds), else the
    /// /proc/net tables (which walk the kernel's whole hash, milliseconds).
    func refreshFromKernel(_ socket: SocketInfo, fd: Int32) {
        guard resolveAddresses, socket.family == 2 || socket.family == 10 else { return }
        if let (local, peer) = KernelSocketLookup.addresses(pid: pid, fd: fd) {
            if let local, !local.isUnspecified { socket.local = local }
            if let peer, !peer.isUnspecified, peer.port != 0 { socket.peer = peer }
            return
        }
        guard let inode = socket.inode,
              let found = KernelSocketLookup.find(inode: inode, pid: pid, family: socket.family, type: socket.type) else { return }
        if !found.local.isUnspecified { socket.local = found.local }
        if !found.remote.isUnspecified && found.remote.port != 0 { socket.peer = found.remote }
    }

    func endpoint(_ address: UInt64, length: UInt64) -> SocketEndpoint? {
        let size = Int(min(length, 128))
        guard address != 0, size >= 2, let bytes = memory.readExactly(address, count: size) else { return nil }
        return SocketEndpoint(sockaddr: bytes)
    }

    /// The decoder of the message headers `call` names, in this memory.
    func messages(of call: SyscallInvocation) -> MessageDecoder {
        MessageDecoder(DecodingContext(memory: memory, architecture: call.architecture, options: DecodeOptions()))
    }

    /// The descriptor numbers a recvmsg delivered in SCM_RIGHTS messages.
    func receivedDescriptors(_ call: SyscallInvocation) -> [Int32] {
        guard call.syscall == .recvmsg, call.result?.failed == false else { return [] }
        return messages(of: call).passedDescriptors(inHeaderAt: call.argument(1))
    }

    /// Whether a recvmsg's control data was cut (`MessageHeader.controlCut`).
    func controlTruncated(_ call: SyscallInvocation) -> Bool {
        messages(of: call).readHeader(call.argument(1)).map(\.controlCut) ?? false
    }

    /// How many of the messages a recvmmsg took found their control data
    /// cut (in each `struct mmsghdr`'s msg_flags).
    func truncatedMessages(_ call: SyscallInvocation) -> Int {
        guard call.syscall == .recvmmsg || call.syscall == .recvmmsg_time64, let taken = call.result?.value, taken > 0 else { return 0 }
        let decoder = messages(of: call)
        let stride = UInt64(decoder.mmsghdrSize)
        return (0..<UInt64(min(taken, 1024))).filter { index in
            decoder.readHeader(call.argument(1) + index * stride).map(\.controlCut) ?? false
        }.count
    }

    /// The headers of the messages a sendmsg or sendmmsg names: one, or
    /// `count` `struct mmsghdr`s (a msghdr and its msg_len, padded to the word).
    func messageHeaders(_ call: SyscallInvocation, count: Int64) -> [UInt64] {
        switch call.syscall {
        case .sendmsg: return [call.argument(1)]
        case .sendmmsg:
            let stride = UInt64(messages(of: call).mmsghdrSize)
            return (0..<UInt64(max(min(count, 1024), 0))).map { call.argument(1) + $0 * stride }
        default: return []
        }
    }

    /// Whether a sendmsg or sendmmsg about to run passes descriptors (read at its entry).
    func passesDescriptors(_ call: SyscallInvocation) -> Bool {
        let decoder = messages(of: call)
        return messageHeaders(call, count: call.syscall == .sendmmsg ? Int64(clamping: call.argument(2)) : 1).contains {
            !decoder.passedDescriptors(inHeaderAt: $0).isEmpty
        }
    }

    /// The messages a sendmsg or sendmmsg sent: each one's header, the
    /// descriptors it passed, and its length (sendmsg's result, each
    /// mmsghdr's msg_len).
    func sentMessages(_ call: SyscallInvocation) -> [(header: UInt64, descriptors: [Int32], length: Int64?)] {
        guard let result = call.result, !result.failed else { return [] }
        let decoder = messages(of: call)
        let headers = messageHeaders(call, count: call.syscall == .sendmmsg ? result.value : 1)
        return headers.map { header in
            let length = call.syscall == .sendmsg ? result.value
                : memory.readUInt32(header + UInt64(decoder.headerSize)).map { Int64($0) }
            return (header, decoder.passedDescriptors(inHeaderAt: header), length)
        }
    }

    /// A message's data (`MessageData`): its length, and its first bytes
    /// read from the iovecs of the msghdr at `address`.
    func sentData(headerAt address: UInt64, length: Int64?, _ call: SyscallInvocation) -> MessageData? {
        let decoder = messages(of: call)
        guard let sent = length, sent >= 0, let header = decoder.readHeader(address) else { return nil }
        let count = Int(min(header.iovCount, 1024))
        guard count == 0 || header.iov != 0, let vectors = count == 0 ? [] : decoder.iovecs(header.iov, count: count) else { return nil }
        var prefix: [UInt8] = []
        for (base, length) in vectors where prefix.count < min(MessageData.kept, Int(sent)) {
            let take = min(Int(clamping: length), min(MessageData.kept, Int(sent)) - prefix.count)
            guard take > 0 else { continue }
            guard let bytes = memory.readExactly(base, count: take) else { return nil }
            prefix += bytes
        }
        return MessageData(length: sent, prefix: prefix)
    }

    /// Errors a data call returns once the kernel has closed the connection
    /// under the socket: ECONNRESET (a reset received), EPIPE (sending after
    /// the kernel shut it down, on a socket not shut down by its owner),
    /// ETIMEDOUT (retransmissions or keepalives given up).
    static func closesConnection(_ errno: Int32?) -> Bool {
        errno == ECONNRESET || errno == EPIPE || errno == ETIMEDOUT
    }
}
