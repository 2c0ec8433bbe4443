/// A socket released with a UNIX socket whose queue held it: its last
/// reference was in an SCM_RIGHTS message waiting at that socket, and the
/// kernel drops the messages waiting at a socket as it releases it
/// (unix_release_sock purges the queue, skb:kfree_skb SOCKET_CLOSE),
/// closing the descriptors they carried (format 1.24; audit 77 F2: an
/// exit that released the receiving socket released the carried one too,
/// left out of its list and count).
public struct CarriedSocket: Sendable, Codable, Equatable {
    /// The socket (`fd` -1: no descriptor of the traced processes held it).
    public var socket: SocketSnapshot
    /// The descriptor of the released UNIX socket the message waited at;
    /// nil when that socket was itself carried in a message.
    public var waitingAt: Int32?
    /// Whether a receive with no room for descriptors may have taken the
    /// message before (the kernel then closed its references then): the
    /// socket was released here or at that receive.
    public var perhapsEarlier: Bool

    public init(socket: SocketSnapshot, waitingAt: Int32?, perhapsEarlier: Bool) {
        self.socket = socket
        self.waitingAt = waitingAt
        self.perhapsEarlier = perhapsEarlier
    }
}
