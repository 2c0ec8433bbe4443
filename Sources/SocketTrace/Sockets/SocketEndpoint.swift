/// One end of a socket: an IP address and port, a UNIX path, or an
/// identifier for families without addresses we can print.
public enum SocketEndpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    case inet(address: String, port: UInt16)
    case inet6(address: String, port: UInt16)
    case unix(path: String)
    case other(String)

    /// Parses the bytes of a `struct sockaddr` (as passed to bind, connect,
    /// sendto or returned by accept).
    public init?(sockaddr bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        switch bytes.loadLittleEndian(UInt16.self, at: 0) {
        case 2 where bytes.count >= 8:
            self = .inet(address: SocketAddressDecoder.ipv4Text(bytes, at: 4), port: bytes.loadBigEndian(UInt16.self, at: 2))
        case 10 where bytes.count >= 24:
            self = .inet6(address: SocketAddressDecoder.ipv6Text(bytes, at: 8), port: bytes.loadBigEndian(UInt16.self, at: 2))
        case 1:
            let path = bytes.dropFirst(2)
            if path.first == 0 {
                self = .unix(path: "@" + String(decoding: path.dropFirst(), as: UTF8.self))
            } else {
                self = .unix(path: String(decoding: path.prefix { $0 != 0 }, as: UTF8.self))
            }
        default:
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .inet(address, port): "\(address):\(port)"
        case let .inet6(address, port): "[\(address)]:\(port)"
        case let .unix(path): path
        case let .other(text): text
        }
    }

    /// Written as its text: `127.0.0.1:40000`, `[::1]:80`, `/run/app.sock`.
    public init(from decoder: any Decoder) throws {
        self.init(text: try decoder.singleValueContainer().decode(String.self))
    }

    /// Parses the text `description` writes.
    public init(text: String) {
        if text.hasPrefix("["), let close = text.lastIndex(of: "]"),
           let port = UInt16(text[text.index(after: close)...].dropFirst()) {
            self = .inet6(address: String(text[text.index(after: text.startIndex)..<close]), port: port)
        } else if let colon = text.lastIndex(of: ":"), text.first?.isNumber == true,
                  let port = UInt16(text[text.index(after: colon)...]) {
            self = .inet(address: String(text[..<colon]), port: port)
        } else if text.hasPrefix("/") || text.hasPrefix("@") || text.isEmpty {
            self = .unix(path: text)
        } else {
            self = .other(text)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var port: UInt16? {
        switch self {
        case let .inet(_, port), let .inet6(_, port): port
        default: nil
        }
    }

    /// True for the wildcard addresses 0.0.0.0 and :: (any port).
    public var isAnyAddress: Bool {
        switch self {
        case let .inet(address, _): address == "0.0.0.0"
        case let .inet6(address, _): address == "::"
        default: false
        }
    }

    /// True for 0.0.0.0:0 and [::]:0, the "nothing yet" of /proc/net.
    public var isUnspecified: Bool {
        switch self {
        case let .inet(address, port): address == "0.0.0.0" && port == 0
        case let .inet6(address, port): address == "::" && port == 0
        case let .unix(path): path.isEmpty
        case .other: false
        }
    }
}
