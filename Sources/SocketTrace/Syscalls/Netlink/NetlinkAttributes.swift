/// How the value of one attribute type is shown; nil when the value does not
/// fit the decoder (too short), and the bytes are shown in hex instead.
typealias AttributeDecoder = @Sendable (NetlinkData, NetlinkText) -> String?

/// The attributes a message kind (or a nested attribute) carries: the names
/// of their types and how each type's value is shown.
struct AttributeSchema: Sendable {
    let names: ConstantTable
    let decoders: [UInt16: AttributeDecoder]

    init(_ names: ConstantTable, _ decoders: [UInt16: AttributeDecoder] = [:]) {
        self.names = names
        self.decoders = decoders
    }
}

/// A list of `struct nlattr` (length, type, value, each padded to 4 bytes):
/// `[{nla_len=8, nla_type=IFA_ADDRESS}, inet_addr("127.0.0.1")]`, several in
/// brackets, cut after `-s` of them unless `-v`, as strace's decode_nlattr.
struct AttributeListDecoder {
    static let nestedFlag: UInt16 = 0x8000
    static let networkByteOrderFlag: UInt16 = 0x4000
    static let typeMask: UInt16 = 0x3fff

    let text: NetlinkText

    func render(_ data: NetlinkData, _ schema: AttributeSchema) -> String {
        var parts: [String] = []
        var isList = false
        var rest = data
        var index = 0
        while true {
            guard rest.count >= NetlinkConstants.attributeHeaderSize else {
                parts.append(text.hexString(rest))
                break
            }
            guard rest.canRead(NetlinkConstants.attributeHeaderSize) else {
                parts.append(isList ? "... /* \(hex(rest.address)) */" : text.context.pointer(rest.address))
                break
            }
            if let limit = text.elementLimit, index == limit {
                parts.append("...")
                break
            }
            let length = Int(rest.u16(0))
            let aligned = netlinkAligned(length)
            var next: NetlinkData?
            if length >= NetlinkConstants.attributeHeaderSize && rest.count > aligned {
                next = rest.dropFirst(aligned)
            }
            if next != nil { isList = true }
            parts.append(attribute(rest, schema))
            guard let following = next else { break }
            rest = following
            index += 1
        }
        return isList ? "[" + parts.joined(separator: ", ") + "]" : parts.joined(separator: ", ")
    }

    /// One attribute: its header, and its value when it has one.
    func attribute(_ data: NetlinkData, _ schema: AttributeSchema) -> String {
        let declared = Int(data.u16(0))
        let type = data.u16(2)
        var typeText = ""
        if type & Self.nestedFlag != 0 { typeText += "NLA_F_NESTED|" }
        if type & Self.networkByteOrderFlag != 0 { typeText += "NLA_F_NET_BYTEORDER|" }
        typeText += text.named(schema.names, UInt64(type & Self.typeMask))
        let header = "{nla_len=\(declared), nla_type=\(typeText)}"
        let length = min(declared, data.count)
        guard length > NetlinkConstants.attributeHeaderSize else { return header }
        let value = data.dropFirst(NetlinkConstants.attributeHeaderSize).prefix(length - NetlinkConstants.attributeHeaderSize)
        let shown = schema.decoders[type & Self.typeMask]?(value, text) ?? text.hexString(value)
        return "[" + header + ", " + shown + "]"
    }
}

/// The value decoders strace shares between families: integers, strings,
/// named values and flags, interface indexes, addresses, nested lists.
enum AttributeValue {
    static let u8 = unsigned(size: 1)
    static let u16 = unsigned(size: 2)
    static let u32 = unsigned(size: 4)
    static let u64 = unsigned(size: 8)

    static func unsigned(size: Int) -> AttributeDecoder {
        { data, text in
            guard data.count >= size else { return nil }
            guard data.canRead(size) else { return text.context.pointer(data.address) }
            return String(data.unsigned(size: size))
        }
    }

    static let s32: AttributeDecoder = { data, text in
        guard data.count >= 4 else { return nil }
        guard data.canRead(4) else { return text.context.pointer(data.address) }
        return String(data.s32(0))
    }

    static let string: AttributeDecoder = { data, text in text.attributeString(data) }

    static let interfaceIndex: AttributeDecoder = { data, text in
        guard data.count >= 4 else { return nil }
        guard data.canRead(4) else { return text.context.pointer(data.address) }
        return text.interfaceIndex(data.u32(0))
    }

    /// A value named in `table`, of `size` bytes (or any up to 8 when 0).
    static func named(_ table: ConstantTable, size: Int, comment: Bool = true) -> AttributeDecoder {
        { data, text in
            guard data.count <= 8, data.count >= size else { return nil }
            let width = size > 0 ? min(data.count, size) : data.count
            guard data.canRead(width) else { return text.context.pointer(data.address) }
            return text.named(table, data.unsigned(size: width), comment: comment)
        }
    }

    /// Flags of `table` in a value of `size` bytes.
    static func flags(_ table: FlagTable, unknown: String, size: Int) -> AttributeDecoder {
        { data, text in
            guard data.count <= 8, data.count >= size else { return nil }
            let width = min(data.count, size)
            guard data.canRead(width) else { return text.context.pointer(data.address) }
            return text.flags(table, data.unsigned(size: width), unknown: unknown)
        }
    }

    /// A network address of the message's family.
    static func inetAddress(family: UInt8) -> AttributeDecoder {
        { data, text in text.inetAddress(family: family, data) }
    }

    /// Nested attributes of another schema.
    static func nested(_ schema: AttributeSchema) -> AttributeDecoder {
        { data, text in AttributeListDecoder(text: text).render(data, schema) }
    }

    /// A structure of unsigned fields, each of `fieldSize` bytes, shown when
    /// the value holds all of them, or exactly the first `shorter` of them
    /// (older layouts): `{rx_packets=1, …}`.
    static func unsignedFields(_ names: [String], fieldSize: Int, shorter: [Int] = []) -> AttributeDecoder {
        { data, text in
            var fields = data.count >= names.count * fieldSize ? names.count : 0
            if fields == 0, let older = shorter.first(where: { $0 * fieldSize == data.count }) { fields = older }
            guard fields > 0 else { return nil }
            guard data.canRead(fields * fieldSize) else { return text.context.pointer(data.address) }
            let parts = (0..<fields).map { names[$0] + "=" + String(data.unsigned(size: fieldSize, at: $0 * fieldSize)) }
            return "{" + parts.joined(separator: ", ") + "}"
        }
    }
}

extension NetlinkData {
    /// A little-endian unsigned value of 1, 2, 4 or 8 bytes (other widths: its first bytes).
    func unsigned(size: Int, at offset: Int = 0) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<min(size, 8) { value |= UInt64(u8(offset + index)) << (8 * index) }
        return value
    }
}
