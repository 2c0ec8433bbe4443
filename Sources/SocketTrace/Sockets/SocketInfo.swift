/// What sockettrace knows about one socket (an open file description): its
/// family, type and protocol, addresses and state. Descriptors made by dup
/// and fork share one `SocketInfo`, as they share the kernel's socket.
public final class SocketInfo {
    public enum State: String, Sendable, Codable {
        case created, bound, listening, connecting, connected, shutDown = "shut down", closed
    }

    public var inode: UInt64?
    public var family: UInt64 { didSet { readableText = nil } }
    public var type: UInt64 { didSet { readableText = nil } }
    public var protocolNumber: UInt64 { didSet { readableText = nil } }
    public var local: SocketEndpoint? { didSet { readableText = nil } }
    public var peer: SocketEndpoint? { didSet { readableText = nil } }
    public var state: State { didSet { readableText = nil } }
    /// `DescriptorRenderer.readable`'s text, kept until one of the above
    /// changes (made for every call on the socket, it was 2% of the
    /// tracer's time on the ping-pong).
    var readableText: String?
    /// References in SCM_RIGHTS messages a traced process sent and no
    /// traced process has received yet: the kernel holds the socket for
    /// them (a close meanwhile releases nothing).
    public var inFlight = 0
    /// Of `inFlight`, the references in messages a receive may have taken
    /// without room for them (no control buffer: the kernel then closes
    /// them), which are not known to be held any more.
    public var inFlightUnsure = 0
    /// The network namespace it was made in (as its process's
    /// /proc/PID/ns/net), when read: the same address in two namespaces
    /// is two endpoints.
    public var netns: UInt64?

    /// The same socket: the same object (dup, fork), or the same inode (a
    /// descriptor received over SCM_RIGHTS is looked up anew).
    public func isSame(as other: SocketInfo) -> Bool {
        other === self || (inode != nil && other.inode == inode)
    }

    public init(inode: UInt64? = nil, family: UInt64, type: UInt64, protocolNumber: UInt64,
                local: SocketEndpoint? = nil, peer: SocketEndpoint? = nil, state: State = .created) {
        self.inode = inode
        self.family = family
        self.type = type & 0xf
        self.protocolNumber = protocolNumber
        self.local = local
        self.peer = peer
        self.state = state
    }

    /// strace's protocol label: TCP, UDP, TCPv6, UDPv6, UNIX-STREAM, NETLINK…
    public var protocolLabel: String {
        switch family {
        case 2, 10:
            let six = family == 10 ? "v6" : ""
            switch type {
            case 1: return protocolNumber == 262 ? "MPTCP" + six : "TCP" + six
            case 2: return (protocolNumber == 136 ? "UDPLITE" : "UDP") + six
            case 3: return "RAW" + six
            default: return (family == 10 ? "INET6" : "INET")
            }
        case 1:
            // strace's names: only stream sockets say their type.
            switch type {
            case 1: return "UNIX-STREAM"
            case 5: return "UNIX-SEQPACKET"
            default: return "UNIX"
            }
        case 0:
            // Not learnt (the descriptor was closed, by another thread, before
            // the kernel was asked): strace's form for a socket it cannot name.
            return "socket:[\(inode ?? 0)]"
        case 16: return "NETLINK"
        case 17: return "PACKET"
        default: return SocketConstants.addressFamilies.name(family) ?? "SOCKET"
        }
    }
}

/// An SCM_RIGHTS message a traced process sent on a connected UNIX socket,
/// waiting at its peer: the sockets it carries (their `inFlight` counts
/// them). `unsure`: a receive that takes no descriptors (a recv, a read)
/// may have taken it, closing its references.
struct RightsMessage {
    let sockets: [SocketInfo]
    /// What the message carried besides (`MessageData`), when read.
    var data: MessageData?
    var unsure = false
    /// The most messages kept waiting for one socket (a peer never reading).
    static let waitingLimit = 1024
}
