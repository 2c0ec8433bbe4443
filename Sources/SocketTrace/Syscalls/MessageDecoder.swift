import Glibc

/// Decodes the vectors of the message calls: `struct iovec` arrays,
/// `struct msghdr` with its control messages, and `struct mmsghdr` arrays, in
/// the layout of the tracee's architecture.
public struct MessageDecoder {
    let context: DecodingContext

    public init(_ context: DecodingContext) { self.context = context }

    var word: Int { context.wordSize }

    /// The fields of a msghdr in the tracee.
    struct MessageHeader {
        var name: UInt64
        var nameLength: UInt32
        var iov: UInt64
        var iovCount: UInt64
        var control: UInt64
        var controlLength: UInt64
        var flags: UInt32

        /// Whether the control data was cut (MSG_CTRUNC): SCM_RIGHTS
        /// references there was no room for were closed by the kernel.
        var controlCut: Bool { flags & UInt32(MSG_CTRUNC) != 0 }
    }

    var headerSize: Int { word == 8 ? 56 : 28 }
    /// A `struct mmsghdr`: a msghdr and its msg_len (at `headerSize`),
    /// padded to the word (64 bytes on x86-64, 32 on i386).
    var mmsghdrSize: Int { headerSize + word }

    func readHeader(_ address: UInt64) -> MessageHeader? {
        guard let bytes = context.memory.readExactly(address, count: headerSize) else { return nil }
        return parseHeader(bytes, at: 0)
    }

    func parseHeader(_ bytes: [UInt8], at offset: Int) -> MessageHeader {
        func wordAt(_ index: Int) -> UInt64 {
            word == 8 ? bytes.loadLittleEndian(UInt64.self, at: offset + index * 8)
                : UInt64(bytes.loadLittleEndian(UInt32.self, at: offset + index * 4))
        }
        return MessageHeader(
            name: wordAt(0),
            nameLength: UInt32(truncatingIfNeeded: wordAt(1)),
            iov: wordAt(2),
            iovCount: wordAt(3),
            control: wordAt(4),
            controlLength: wordAt(5),
            flags: UInt32(truncatingIfNeeded: wordAt(6)))
    }

    /// The `count` iovecs at `address`: each buffer's address and length.
    func iovecs(_ address: UInt64, count: Int) -> [(base: UInt64, length: UInt64)]? {
        guard let bytes = context.memory.readExactly(address, count: count * 2 * word) else { return nil }
        return (0..<count).map { index in
            word == 8 ? (bytes.loadLittleEndian(UInt64.self, at: index * 16), bytes.loadLittleEndian(UInt64.self, at: index * 16 + 8))
                : (UInt64(bytes.loadLittleEndian(UInt32.self, at: index * 8)), UInt64(bytes.loadLittleEndian(UInt32.self, at: index * 8 + 4)))
        }
    }

    /// `[{iov_base="…", iov_len=N}, …]`, showing at most `dataLimit` bytes of
    /// data in all (the syscall's result for reads, everything for writes);
    /// nil data limit prints only addresses (failed calls). `payload` shows
    /// each buffer's bytes when they are more than bytes (netlink messages).
    public func iovecArray(_ address: UInt64, count: UInt64, dataLimit: Int?,
                           payload: ((UInt64, Int) -> String)? = nil) -> String {
        if address == 0 { return "NULL" }
        let shownCount = Int(min(count, UInt64(context.options.arrayLimit)))
        guard count <= 1024, let vectors = iovecs(address, count: shownCount) else {
            return context.pointer(address)
        }
        var remaining = dataLimit ?? 0
        var parts: [String] = []
        for (base, length) in vectors {
            let baseText: String
            if dataLimit == nil {
                baseText = context.pointer(base)
            } else {
                let take = min(Int(clamping: length), remaining)
                remaining -= take
                baseText = (payload ?? context.buffer)(base, take)
            }
            parts.append("{iov_base=\(baseText), iov_len=\(length)}")
        }
        return Self.array(parts, truncated: UInt64(shownCount) < count)
    }

    /// `[a, b, ...]`, or `[...]` when nothing could be shown.
    static func array(_ parts: [String], truncated: Bool) -> String {
        if parts.isEmpty && truncated { return "[...]" }
        return "[" + parts.joined(separator: ", ") + (truncated ? ", ..." : "") + "]"
    }

    /// A msghdr: `{msg_name=…, msg_namelen=…, msg_iov=[…], msg_iovlen=…,
    /// msg_control=[…], msg_controllen=…, msg_flags=…}`.
    /// The data of a message whose name is a netlink address is netlink
    /// messages, read by the protocol of socket `fd` (strace's rule).
    public func messageHeader(_ address: UInt64, dataLimit: Int?, nameLengthBefore: UInt32? = nil, fd: UInt64? = nil) -> String {
        if address == 0 { return "NULL" }
        guard let header = readHeader(address) else { return context.pointer(address) }
        return render(header, dataLimit: dataLimit, nameLengthBefore: nameLengthBefore, fd: fd)
    }

    func render(_ header: MessageHeader, dataLimit: Int?, nameLengthBefore: UInt32? = nil, fd: UInt64? = nil) -> String {
        let addresses = SocketAddressDecoder(context)
        var text = "{msg_name="
        text += header.name == 0 ? "NULL" : addresses.render(header.name, length: Int(header.nameLength))
        text += ", msg_namelen="
        if let before = nameLengthBefore, before != header.nameLength {
            text += "\(before) => \(header.nameLength)"
        } else {
            text += "\(Int32(bitPattern: header.nameLength))"
        }
        let shownNameLength = min(Int32(bitPattern: nameLengthBefore ?? header.nameLength), Int32(bitPattern: header.nameLength))
        let payload = fd.flatMap { netlinkPayload(fd: $0, name: header.name, nameLength: shownNameLength) }
        text += ", msg_iov=" + iovecArray(header.iov, count: header.iovCount, dataLimit: dataLimit, payload: payload)
        text += ", msg_iovlen=\(header.iovCount)"
        if header.control != 0 && header.controlLength > 0 {
            text += ", msg_control=" + controlMessages(header.control, length: Int(min(header.controlLength, 1 << 16)))
        }
        text += ", msg_controllen=\(header.controlLength)"
        text += ", msg_flags=" + SocketConstants.messageFlags.render(UInt64(header.flags))
        return text + "}"
    }

    /// How the buffers of a message to or from a netlink address read: as
    /// netlink messages of socket `fd`'s protocol; nil for other addresses.
    func netlinkPayload(fd: UInt64, name: UInt64, nameLength: Int32) -> ((UInt64, Int) -> String)? {
        guard name != 0, nameLength >= 2, let family = context.memory.readExactly(name, count: 2),
              UInt64(family.loadLittleEndian(UInt16.self, at: 0)) == NetlinkFamilies.netlink else { return nil }
        let decoder = NetlinkMessageDecoder(context, protocolNumber: context.netlinkProtocol(fd))
        return { address, length in decoder.render(address, length: length) }
    }

    /// One `struct cmsghdr` of a control buffer, with its data.
    struct ControlMessage {
        let length: Int
        let level: UInt64
        let type: UInt64
        let data: [UInt8]
    }

    /// The chain of control messages at `address` (stops after one whose
    /// length is too short to move on).
    func readControlMessages(_ address: UInt64, length: Int) -> [ControlMessage]? {
        guard let bytes = context.memory.readExactly(address, count: length) else { return nil }
        let headerLength = word == 8 ? 16 : 12
        var offset = 0
        var messages: [ControlMessage] = []
        while offset + headerLength <= bytes.count {
            let cmsgLength = word == 8 ? Int(clamping: bytes.loadLittleEndian(UInt64.self, at: offset))
                : Int(bytes.loadLittleEndian(UInt32.self, at: offset))
            let dataStart = offset + headerLength
            let dataEnd = min(offset + max(cmsgLength, headerLength), bytes.count)
            messages.append(ControlMessage(length: cmsgLength,
                                           level: UInt64(bytes.loadLittleEndian(UInt32.self, at: offset + word)),
                                           type: UInt64(bytes.loadLittleEndian(UInt32.self, at: offset + word + 4)),
                                           data: Array(bytes[dataStart..<max(dataStart, dataEnd)])))
            guard cmsgLength >= headerLength else { break }
            offset += (cmsgLength + word - 1) / word * word
        }
        return messages
    }

    /// The descriptors passed in SCM_RIGHTS messages of the msghdr at `address`.
    func passedDescriptors(inHeaderAt address: UInt64) -> [Int32] {
        guard let header = readHeader(address), header.control != 0, header.controlLength > 0,
              let messages = readControlMessages(header.control, length: Int(min(header.controlLength, 1 << 16))) else { return [] }
        return messages.filter { $0.level == 1 && $0.type == 1 }.flatMap { message in
            stride(from: 0, to: message.data.count - 3, by: 4).map { message.data.loadLittleEndian(Int32.self, at: $0) }
        }
    }

    /// The control messages (`struct cmsghdr` chain) of a msghdr, as text.
    func controlMessages(_ address: UInt64, length: Int) -> String {
        guard let messages = readControlMessages(address, length: length) else { return context.pointer(address) }
        let decoder = ControlMessageDecoder(context: context)
        let parts = messages.map { message in
            "{cmsg_len=\(message.length), cmsg_level=" + SocketConstants.socketLevels.render(message.level)
                + ", cmsg_type=" + decoder.typeName(level: message.level, type: message.type)
                + ", cmsg_data=" + decoder.render(level: message.level, type: message.type, message.data) + "}"
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    /// An mmsghdr array of `count` entries: `[{msg_hdr={…}, msg_len=N}, …]`.
    /// Received data is limited per entry by its msg_len when `received`.
    public func messageVector(_ address: UInt64, count: Int, received: Bool, fd: UInt64? = nil) -> String {
        if address == 0 { return "NULL" }
        let entrySize = mmsghdrSize
        let shown = min(count, context.options.arrayLimit)
        guard count >= 0, let bytes = context.memory.readExactly(address, count: shown * entrySize) else {
            return context.pointer(address)
        }
        var parts: [String] = []
        for index in 0..<shown {
            let header = parseHeader(bytes, at: index * entrySize)
            let messageLength = bytes.loadLittleEndian(UInt32.self, at: index * entrySize + headerSize)
            let limit = received ? Int(messageLength) : Int.max
            parts.append("{msg_hdr=" + render(header, dataLimit: limit, fd: fd) + ", msg_len=\(messageLength)}")
        }
        return Self.array(parts, truncated: shown < count)
    }
}
