import Glibc

/// Everything a decoder needs to turn a syscall's raw arguments into text:
/// the tracee's memory and architecture, the output options, how to show
/// a file descriptor (plain, strace's `-yy`, or sockettrace's readable form)
/// and what socket it is (a netlink socket's protocol decides how its
/// messages read).
public struct DecodingContext {
    public let memory: any TraceeMemory
    public let architecture: Architecture
    public let options: DecodeOptions
    public let describeDescriptor: (Int32) -> String
    public let socket: (Int32) -> SocketInfo?

    public init(memory: any TraceeMemory, architecture: Architecture, options: DecodeOptions,
                describeDescriptor: @escaping (Int32) -> String = { String($0) },
                socket: @escaping (Int32) -> SocketInfo? = { _ in nil }) {
        self.memory = memory
        self.architecture = architecture
        self.options = options
        self.describeDescriptor = describeDescriptor
        self.socket = socket
    }

    var wordSize: Int { architecture.wordSize }

    /// An address as strace prints it: `NULL` or `0x7ffc…`.
    public func pointer(_ address: UInt64) -> String {
        address == 0 ? "NULL" : hex(address)
    }

    public func descriptor(_ value: UInt64) -> String {
        describeDescriptor(Int32(truncatingIfNeeded: value))
    }

    /// A buffer of `length` bytes shown up to the `-s` limit.
    public func buffer(_ address: UInt64, length: Int) -> String {
        if address == 0 { return "NULL" }
        let shown = min(max(length, 0), options.stringLimit)
        guard let bytes = memory.readExactly(address, count: shown) else { return pointer(address) }
        return QuotedString.render(bytes, truncated: length > shown, hex: options.hexStrings)
    }

    /// The NETLINK_ protocol of descriptor `fd` when it is a netlink socket.
    func netlinkProtocol(_ fd: UInt64) -> UInt64? {
        guard let socket = socket(Int32(truncatingIfNeeded: fd)), socket.family == NetlinkFamilies.netlink else { return nil }
        return socket.protocolNumber
    }

    /// A buffer sent or received on socket `fd`: netlink messages on a
    /// netlink socket (as strace decodes them), else bytes up to `-s`.
    public func socketBuffer(fd: UInt64, _ address: UInt64, length: Int) -> String {
        guard let protocolNumber = netlinkProtocol(fd) else { return buffer(address, length: length) }
        return NetlinkMessageDecoder(self, protocolNumber: protocolNumber).render(address, length: length)
    }

    /// An interface index: `if_nametoindex("lo")` when the index names an
    /// interface here, else the number.
    func interfaceIndex(_ index: UInt32) -> String {
        guard let name = interfaceName(index) else { return String(index) }
        return "if_nametoindex(" + quote(name) + ")"
    }

    /// A string literal of text the decoder made (an address, a name), quoted
    /// as strace quotes it, in hex with `-xx`.
    public func quote(_ text: String) -> String {
        QuotedString.render(Array(text.utf8), truncated: false, hex: options.hexStrings)
    }

    /// `[N]`: an int the tracee passed by pointer.
    public func indirectInt(_ address: UInt64) -> String {
        if address == 0 { return "NULL" }
        guard let value = memory.readInt32(address) else { return pointer(address) }
        return "[\(value)]"
    }

    /// `[in => out]` or `[out]`: a value-result length.
    public static func valueResult(_ before: Int32, _ after: Int32) -> String {
        before == after ? "[\(after)]" : "[\(before) => \(after)]"
    }

    /// Reads an int the tracee passed by pointer.
    public func int32(at address: UInt64) -> Int32? {
        address == 0 ? nil : memory.readInt32(address)
    }
}

/// The decimal text of a signed 32-bit argument (fds, lengths, backlogs).
func int32Text(_ value: UInt64) -> String { String(Int32(truncatingIfNeeded: value)) }

/// The name of a network interface by index, via if_indextoname(3).
func interfaceName(_ index: UInt32) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
    guard if_indextoname(index, &buffer) != nil else { return nil }
    return String(cBuffer: buffer)
}

extension String {
    /// The text of a NUL-terminated C buffer.
    init(cBuffer buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
