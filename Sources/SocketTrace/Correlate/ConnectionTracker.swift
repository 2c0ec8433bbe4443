import Glibc

/// A TCP connection seen from one end or both: the client's connect paired
/// with the server's accept by their 4-tuple (the client's local address is
/// the server's peer), the handshake time (connect entry → accept return)
/// and the bytes each side sent and received.
public struct Connection: Sendable, Codable {
    public let id: Int
    public var protocolLabel: String
    public var client: SocketEndpoint
    public var server: SocketEndpoint
    public var clientPid: Int32?
    public var serverPid: Int32?
    public var connectTime: MonotonicTime?
    public var acceptTime: MonotonicTime?
    public var sentByClient: Int64 = 0
    public var receivedByServer: Int64 = 0
    public var sentByServer: Int64 = 0
    public var receivedByClient: Int64 = 0

    /// What showed the connection was refused (the peer's kernel answered
    /// the SYN with a reset: nothing listened there), as the client's own
    /// calls told it: `getsockopt SO_ERROR read ECONNREFUSED`.
    public var refused: String?
    /// What showed the connect timed out (no answer to its SYN and its
    /// retransmissions): `connect failed with ETIMEDOUT` (format 1.16).
    public var timedOut: String?
    /// What showed a connection made was ended by the kernel, as the
    /// calls on it were told: `the client's recvfrom failed with ETIMEDOUT`
    /// (TCP_USER_TIMEOUT or retransmissions given up), ECONNRESET (a reset
    /// taken in), EPIPE (a send after the end). The first such call's.
    public var aborted: String?
    /// Refused or timed out: no connection was made.
    public var failed: Bool { refused != nil || timedOut != nil }
    /// The client's own calls showed the connection made: its connect
    /// returned 0, or bytes moved. (An EINPROGRESS alone shows nothing.)
    public var established: Bool?
    /// A traced program listened on the server's address (its accept,
    /// had it made one, would have been seen).
    public var tracedListener: Bool?

    /// connect's entry to accept's return in seconds, when both ends were
    /// traced: the calls' times, the tracer's stops and the program's own
    /// pace between them included (not the kernel's handshake).
    public private(set) var handshake: Double?
    /// The handshake as the kernel did it, in seconds: the client's
    /// SYN_SENT to ESTABLISHED, when both state changes were sampled in its
    /// connect (format 1.17); or, after a connect TCP Fast Open deferred,
    /// from the first send's SYN queued (`kernelHandshakeFrom`).
    public var kernelHandshake: Double?
    /// Where `kernelHandshake` starts when not at SYN_SENT: "SYN queued"
    /// (format 1.19).
    public var kernelHandshakeFrom: String?
    /// How the handshake's start is named.
    public var kernelHandshakeStart: String { kernelHandshakeFrom ?? "SYN_SENT" }
    /// The call that opened it on the client, when not a connect: a TCP
    /// Fast Open `sendto(MSG_FASTOPEN)`.
    public var opener: String?
    /// What opened it, as the handshake's notes name it.
    public var openedBy: String { opener ?? "connect" }

    mutating func pairingChanged() {
        guard let connectTime, let acceptTime, acceptTime >= connectTime else { return }
        handshake = acceptTime.seconds - connectTime.seconds
    }

    public var title: String { "\(protocolLabel) \(client) → \(server)" }

    /// Whether a traced process held either end.
    public var isTraced: Bool { clientPid != nil || serverPid != nil }
}

/// The one place connections are paired (the timeline, the trace file,
/// compare, the sequence diagrams and Perfetto's flows all ask it), from
/// the calls as they finish, live or read back from trace files.
///
/// A socket joins a connection by what the kernel said about it, whichever
/// call revealed it: connect (blocking, or EINPROGRESS then poll/epoll),
/// accept or accept4 (with or without the peer's address), or — for a
/// connection made before tracing began — the first call on it, when a
/// traced listener on one end says which end is the server. After that the
/// socket's inode keeps it there, whatever descriptor, process or API moved
/// its bytes.
public final class ConnectionTracker {
    public private(set) var connections: [Connection] = []
    /// By 4-tuple, client first.
    var byTuple: [Pair: Int] = [:]
    /// By socket inode: which connection, and which end.
    var bySocket: [UInt64: End] = [:]
    /// Each connection's ends' socket inodes, where known: a socket of
    /// another inode on the same 4-tuple is a later connection (a client
    /// reconnecting from the same port), not this one (audit 10).
    var endInodes: [Int: (client: UInt64?, server: UInt64?)] = [:]
    /// The addresses traced listeners listen on (port and address), so a
    /// connection first seen mid-stream can be told client from server.
    var listening: Set<Listener> = []
    /// Connections whose connect TCP Fast Open deferred (it returned 0 with
    /// no SYN sent: the kernel's operation `tcp_connect_deferred`): neither
    /// that connect nor the first send's bytes, queued with the SYN, show it
    /// made (audit 97 F3); its samples entering TCP_ESTABLISHED or bytes
    /// received do.
    var deferredConnects: Set<Int> = []

    struct Pair: Hashable {
        let client: SocketEndpoint
        let server: SocketEndpoint
    }

    struct End {
        let index: Int
        let isClient: Bool
        let local: SocketEndpoint
        let peer: SocketEndpoint
    }

    public init() {}

    /// Takes a finished call into account; returns the connection it
    /// completed a pairing for (the second of connect and accept), if any.
    @discardableResult
    public func observe(_ call: SyscallInvocation) -> Connection? {
        guard let socket = call.socket, socket.protocolLabel.hasPrefix("TCP"), let result = call.result else { return nil }
        if let refusal = Self.refusal(call) {
            if let pair = closedConnectPair(call, socket: socket) {
                connections[addClosedConnect(pair, call, socket: socket)].refused = refusal
                return nil
            }
            if let known = lookup(socket), known.isClient { connections[known.index].refused = connections[known.index].refused ?? refusal }
        }
        if result.errno == ETIMEDOUT, let pair = closedConnectPair(call, socket: socket) {
            // As a refused one: its 4-tuple from the kernel's state change
            // that closed it (the retransmit timer giving up, in whatever
            // task it ran), so that its SYNs can be drawn.
            connections[addClosedConnect(pair, call, socket: socket)].timedOut = "\(call.name) failed with ETIMEDOUT"
            return nil
        }
        if let errno = result.errno, [ETIMEDOUT, ECONNRESET, EPIPE].contains(errno), call.syscall != .connect,
           let known = lookup(socket), connections[known.index].aborted == nil, let name = ErrnoName.name(Int(errno)) {
            // A connection made, ended under the calls by the kernel (audit 101: a TCP_USER_TIMEOUT abort not said).
            connections[known.index].aborted = "the \(known.isClient ? "client" : "server")'s \(call.name) failed with \(name)"
        }
        if result.failed && !(call.connectAddress != nil && result.errno == EINPROGRESS) { return nil }
        if call.syscall == .listen, let local = socket.local {
            listening.insert(Listener(endpoint: local.forPairing, netns: socket.netns))
            return nil
        }
        guard let end = end(of: call, socket: socket) else { return nil }
        var connection = connections[end.index]
        defer { connections[end.index] = connection }
        if end.isClient && isListening(connection.server, netns: socket.netns) { connection.tracedListener = true }
        if end.isClient && call.syscall == .connect && !result.failed {
            if call.connectDeferredByFastOpen { deferredConnects.insert(end.index) } else { connection.established = true }
        }
        let transfer = DataTransfer(call)
        if end.isClient, connection.kernelHandshake == nil, call.syscall == .connect || call.isFastOpen || transfer?.direction == .sent,
           let activity = call.kernel {
            if let microseconds = KernelComparison.handshake(activity) {
                connection.kernelHandshake = microseconds / 1e6
            } else if transfer?.direction == .sent, let microseconds = KernelComparison.handshakeFromSyn(activity) {
                connection.kernelHandshake = microseconds / 1e6
                connection.kernelHandshakeFrom = "SYN queued"
            }
        }
        if end.isClient && connection.established != true && Self.kernelSawEstablished(call, connection) { connection.established = true }
        let opens = call.connectAddress != nil ? end.isClient : (call.syscall == .accept || call.syscall == .accept4) && !end.isClient
        if opens && end.isClient && connection.connectTime == nil {
            connection.connectTime = call.startTime
            connection.clientPid = call.pid
            if call.isFastOpen { connection.opener = "\(call.name)(MSG_FASTOPEN)" }
            connection.pairingChanged()
            // A Fast Open sendto's data counts (its bytes say nothing of the handshake: it may be refused yet).
            if call.isFastOpen, let transfer { connection.sentByClient += transfer.bytes }
            return connection.acceptTime != nil ? connection : nil
        }
        if opens && !end.isClient && connection.acceptTime == nil {
            connection.acceptTime = call.endTime
            connection.serverPid = call.pid
            connection.pairingChanged()
            return connection.connectTime != nil ? connection : nil
        }
        if end.isClient && connection.clientPid == nil { connection.clientPid = call.pid }
        if !end.isClient && connection.serverPid == nil { connection.serverPid = call.pid }
        guard let transfer else { return nil }
        if transfer.bytes > 0 && !call.isFastOpen && !(transfer.direction == .sent && deferredConnects.contains(end.index)) {
            connection.established = true
        }
        switch (transfer.direction, end.isClient) {
        case (.sent, true): connection.sentByClient += transfer.bytes
        case (.sent, false): connection.sentByServer += transfer.bytes
        case (.received, true): connection.receivedByClient += transfer.bytes
        case (.received, false): connection.receivedByServer += transfer.bytes
        }
        return nil
    }

    /// A connect (or Fast Open sendto) the kernel closed before it returned
    /// (refused, timed out): its 4-tuple (`refusedPair`), when it is not the
    /// connection its socket already belongs to.
    func closedConnectPair(_ call: SyscallInvocation, socket: SocketSnapshot) -> Pair? {
        guard call.connectAddress != nil, let pair = Self.refusedPair(call) else { return nil }
        if let known = lookup(socket), connections[known.index].client == pair.client, connections[known.index].server == pair.server { return nil }
        return pair
    }

    /// A connection for such a connect: its socket's later calls (its
    /// close) are this connection's until the socket connects again, from
    /// another port. Returns its index.
    func addClosedConnect(_ pair: Pair, _ call: SyscallInvocation, socket: SocketSnapshot) -> Int {
        let index = add(pair, label: socket.protocolLabel)
        connections[index].connectTime = call.startTime
        connections[index].clientPid = call.pid
        if isListening(pair.server, netns: socket.netns) { connections[index].tracedListener = true }
        _ = remember(End(index: index, isClient: true, local: pair.client, peer: pair.server), inode: socket.inode)
        return index
    }

    /// How a call told its program the connection was refused: it failed
    /// with ECONNREFUSED (a TCP socket's only source: a reset answering
    /// its SYN), or it read that error with getsockopt(SO_ERROR), as a
    /// non-blocking connect's caller does.
    static func refusal(_ call: SyscallInvocation) -> String? {
        guard let result = call.result else { return nil }
        if result.errno == ECONNREFUSED { return "\(call.name) failed with ECONNREFUSED" }
        guard call.syscall == .getsockopt, !result.failed, call.arguments.count > 2,
              call.arguments[1] == UInt64(SOL_SOCKET), call.arguments[2] == UInt64(SO_ERROR),
              call.exitText.hasPrefix("[ECONNREFUSED]") else { return nil }
        return "getsockopt SO_ERROR read ECONNREFUSED"
    }

    /// A blocking connect (or Fast Open sendto) refused or timed out: the
    /// kernel released the socket's port before the call returned, so its 4-tuple
    /// is the kernel's, from `sock:inet_sock_set_state` taking the socket
    /// from TCP_SYN_SENT to TCP_CLOSE under `__inet_stream_connect` on the
    /// call's own stack (no softirq between: the reset is taken from the
    /// backlog of the socket whose lock the connect holds, as it lets go of
    /// it). Without kernel samples there is none.
    static func refusedPair(_ call: SyscallInvocation) -> Pair? {
        // Closed in another task (a softirq while connect slept): the correlator matched it by skaddr.
        if let closed = call.kernel?.closedElsewhere {
            return Pair(client: SocketEndpoint(text: closed.local).forPairing, server: SocketEndpoint(text: closed.peer).forPairing)
        }
        return call.kernel?.samples.lazy.compactMap { sample -> Pair? in
            guard sample.tracepoint == "sock:inet_sock_set_state", sample.fields["oldstate"]?.number == TCPState.synSent,
                  sample.fields["newstate"]?.number == TCPState.close, !sample.sides.softirq,
                  sample.chain.contains("__inet_stream_connect"),
                  let (source, destination) = sample.flowEndpoints, source.port != 0, destination.port != 0 else { return nil }
            return Pair(client: source, server: destination)
        }.first
    }

    /// Whether the call's kernel samples show the client's socket enter
    /// TCP_ESTABLISHED (`sock:inet_sock_set_state` on its 4-tuple, client
    /// to server: the SYN-ACK taken in, as a non-blocking connect's is on
    /// loopback) though no call of the program asked (audit 18).
    static func kernelSawEstablished(_ call: SyscallInvocation, _ connection: Connection) -> Bool {
        call.kernel?.samples.contains { sample in
            guard sample.tracepoint == "sock:inet_sock_set_state", sample.fields["newstate"]?.number == TCPState.established,
                  let (source, destination) = sample.flowEndpoints else { return false }
            return source == connection.client && destination == connection.server
        } ?? false
    }

    /// The connection a call's socket belongs to, if known.
    public func connection(of call: SyscallInvocation) -> Connection? {
        call.socket.flatMap(lookup).map { connections[$0.index] }
    }

    /// Which connection (its id) and which end of it a call's socket is.
    public func side(of call: SyscallInvocation) -> (id: Int, isClient: Bool)? {
        call.socket.flatMap(lookup).map { (connections[$0.index].id, $0.isClient) }
    }

    /// Which end of a known connection a socket is: by its inode, else by its 4-tuple.
    func lookup(_ socket: SocketSnapshot) -> End? {
        let local = socket.local?.forPairing, peer = socket.peer?.forPairing
        // An inode is reused only after its socket is gone: another 4-tuple is another socket.
        if let inode = socket.inode, let known = bySocket[inode],
           local == nil || (local == known.local && (peer == nil || peer == known.peer)) {
            return known
        }
        guard let local, let peer else { return nil }
        if let index = byTuple[Pair(client: local, server: peer)], !isOther(socket.inode, index: index, client: true) {
            return End(index: index, isClient: true, local: local, peer: peer)
        }
        if let index = byTuple[Pair(client: peer, server: local)], !isOther(socket.inode, index: index, client: false) {
            return End(index: index, isClient: false, local: local, peer: peer)
        }
        return nil
    }

    /// Whether `inode` is another socket than the one known at that end of connection `index`.
    func isOther(_ inode: UInt64?, index: Int, client: Bool) -> Bool {
        guard let inode, let known = client ? endInodes[index]?.client : endInodes[index]?.server else { return false }
        return known != inode
    }

    /// Which end of which connection the call's socket is, joining it (and
    /// starting its connection) when this call is the first to reveal it.
    func end(of call: SyscallInvocation, socket: SocketSnapshot) -> End? {
        if let known = lookup(socket) { return remember(known, inode: socket.inode) }
        guard let local = socket.local?.forPairing, let peer = socket.peer?.forPairing, local.port != 0, peer.port != 0 else {
            return nil
        }
        let isClient: Bool
        switch call.syscall {
        case .connect,
             .sendto where call.isFastOpen: isClient = true
        case .accept, .accept4: isClient = false
        // Mid-stream: only a traced listener says which end serves.
        case _ where isListening(local, netns: socket.netns): isClient = false
        case _ where isListening(peer, netns: socket.netns): isClient = true
        default: return nil
        }
        let pair = isClient ? Pair(client: local, server: peer) : Pair(client: peer, server: local)
        let index = add(pair, label: socket.protocolLabel)
        return remember(End(index: index, isClient: isClient, local: local, peer: peer), inode: socket.inode)
    }

    /// Whether a traced program listened on `endpoint` in network
    /// namespace `netns` (either unknown: on the endpoint alone, as trace
    /// files before 1.13 give it).
    func isListening(_ endpoint: SocketEndpoint, netns: UInt64?) -> Bool {
        var addresses = [endpoint, endpoint.wildcard]
        // A dual-stack listener on :: takes IPv4 connections too.
        if case let .inet(_, port) = endpoint { addresses.append(.inet6(address: "::", port: port)) }
        return listening.contains { listener in
            addresses.contains(listener.endpoint) && (listener.netns == nil || netns == nil || listener.netns == netns)
        }
    }

    /// A traced listener's address and network namespace.
    struct Listener: Hashable {
        let endpoint: SocketEndpoint
        let netns: UInt64?
    }

    func add(_ pair: Pair, label: String) -> Int {
        // An IPv4 peer of a dual-stack listener: IPv4 on the wire, whichever end told it first.
        var label = label
        if case .inet = pair.client, label.hasSuffix("v6") { label.removeLast(2) }
        connections.append(Connection(id: connections.count + 1, protocolLabel: label, client: pair.client, server: pair.server))
        byTuple[pair] = connections.count - 1
        return connections.count - 1
    }

    func remember(_ end: End, inode: UInt64?) -> End {
        if let inode {
            bySocket[inode] = end
            var ends = endInodes[end.index] ?? (nil, nil)
            if end.isClient { ends.client = inode } else { ends.server = inode }
            endInodes[end.index] = ends
        }
        return end
    }
}

extension SocketEndpoint {
    /// The form both ends agree on: an IPv4 peer of a dual-stack (`::`)
    /// listener is `[::ffff:127.0.0.1]:80` there and `127.0.0.1:80` to itself.
    var forPairing: SocketEndpoint {
        if case let .inet6(address, port) = self, address.hasPrefix("::ffff:"), address.contains(".") {
            return .inet(address: String(address.dropFirst(7)), port: port)
        }
        return self
    }

    /// The wildcard address on the same port (what a listener bound to
    /// 0.0.0.0 or :: accepts for).
    var wildcard: SocketEndpoint {
        switch self {
        case let .inet(_, port): .inet(address: "0.0.0.0", port: port)
        case let .inet6(_, port): .inet6(address: "::", port: port)
        default: self
        }
    }
}
