/// A connection seen from both ends: the client's connect paired with the
/// server's accept by their 4-tuple (the client's local address is the
/// server's peer), the handshake time (connect entry → accept return) and
/// the bytes each side sent and received.
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

    /// connect's entry to accept's return in seconds, when both ends were traced.
    public private(set) var handshake: Double?

    mutating func pairingChanged() {
        guard let connectTime, let acceptTime, acceptTime >= connectTime else { return }
        handshake = acceptTime.seconds - connectTime.seconds
    }

    public var title: String { "\(protocolLabel) \(client) → \(server)" }
}

/// Pairs connects with accepts and counts bytes per connection, from the
/// calls as they finish (live, or read back from a trace file).
public final class ConnectionTracker: @unchecked Sendable {
    public private(set) var connections: [Connection] = []
    var index: [String: Int] = [:]

    public init() {}

    static func key(client: SocketEndpoint, server: SocketEndpoint) -> String { "\(client)|\(server)" }

    func find(_ a: SocketEndpoint, _ b: SocketEndpoint) -> (index: Int, localIsClient: Bool)? {
        if let found = index[Self.key(client: a, server: b)] { return (found, true) }
        if let found = index[Self.key(client: b, server: a)] { return (found, false) }
        return nil
    }

    func add(client: SocketEndpoint, server: SocketEndpoint, label: String) -> Int {
        connections.append(Connection(id: connections.count + 1, protocolLabel: label, client: client, server: server))
        index[Self.key(client: client, server: server)] = connections.count - 1
        return connections.count - 1
    }

    /// Takes a finished call into account; returns the connection it
    /// completed a pairing for (the second of connect and accept), if any.
    @discardableResult
    public func observe(_ call: SyscallInvocation) -> Connection? {
        guard let socket = call.socket, socket.isTCP, let result = call.result,
              let local = socket.local, let peer = socket.peer, peer.port != 0, local.port != 0 else { return nil }
        let failed = result.failed && result.errno != 115
        if failed { return nil }
        switch call.syscall {
        case .connect:
            let slot = find(local, peer)?.index ?? add(client: local, server: peer, label: socket.protocolLabel)
            if connections[slot].connectTime == nil {
                connections[slot].connectTime = call.entryTime
                connections[slot].clientPid = call.pid
                connections[slot].pairingChanged()
                return connections[slot].acceptTime != nil ? connections[slot] : nil
            }
        case .accept, .accept4:
            let slot = find(peer, local)?.index ?? add(client: peer, server: local, label: socket.protocolLabel)
            if connections[slot].acceptTime == nil {
                connections[slot].acceptTime = call.exitTime
                connections[slot].serverPid = call.pid
                connections[slot].pairingChanged()
                return connections[slot].connectTime != nil ? connections[slot] : nil
            }
        case let data where data.sendsData:
            guard result.value > 0, let (slot, localIsClient) = find(local, peer) else { return nil }
            if localIsClient { connections[slot].sentByClient += result.value } else { connections[slot].sentByServer += result.value }
        case let data where data.receivesData:
            guard result.value > 0, let (slot, localIsClient) = find(local, peer) else { return nil }
            if localIsClient { connections[slot].receivedByClient += result.value } else { connections[slot].receivedByServer += result.value }
        default:
            break
        }
        return nil
    }

    /// The connection a call's socket belongs to, if known.
    public func connection(of call: SyscallInvocation) -> Connection? {
        guard let local = call.socket?.local, let peer = call.socket?.peer, let found = find(local, peer) else { return nil }
        return connections[found.index]
    }
}
