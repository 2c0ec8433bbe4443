import Glibc

/// The pieces strace writes netlink structures with: strings forced to hex,
/// attribute strings, named values and flags, interface indexes, addresses;
/// shown within the `-s` limit and abbreviated unless `-v`.
struct NetlinkText {
    let context: DecodingContext

    var stringLimit: Int { context.options.stringLimit }
    /// Elements of a message or attribute list shown before `...` (none cut with -v).
    var elementLimit: Int? { context.options.verbose ? nil : context.options.arrayLimit }
    var abbreviated: Bool { !context.options.verbose }

    /// Bytes strace shows only as `"\x01\x02"` (payloads it cannot decode).
    func hexString(_ data: NetlinkData) -> String {
        if data.address == 0 { return "NULL" }
        let shown = min(data.count, stringLimit)
        guard data.canRead(shown) else { return context.pointer(data.address) }
        return QuotedString.render(data.bytes(shown), truncated: data.count > shown, hex: .all)
    }

    /// A string attribute: the bytes up to a final NUL, which is not shown;
    /// `...` when there is no final NUL within the `-s` limit.
    func attributeString(_ data: NetlinkData) -> String {
        let shown = min(data.count, stringLimit)
        guard data.canRead(shown) else { return context.pointer(data.address) }
        let bytes = data.bytes(shown)
        if data.count == 0 { return "\"\"" }
        let hex = context.options.hexStrings
        let inHex = hex == .all || (hex == .nonASCII && bytes.contains { $0 > 0x7e || ($0 < 0x20 && !(9...13).contains($0)) })
        if !inHex, bytes.last == 0 {
            return QuotedString.render(bytes.dropLast(), truncated: false, hex: hex)
        }
        return QuotedString.render(bytes, truncated: true, hex: hex)
    }

    /// Bytes as any payload is shown (`"abc"...`), within the `-s` limit.
    func plainString(_ data: NetlinkData) -> String {
        let shown = min(data.count, stringLimit)
        guard data.canRead(shown) else { return context.pointer(data.address) }
        return QuotedString.render(data.bytes(shown), truncated: data.count > shown, hex: context.options.hexStrings)
    }

    /// A value by its name in `table`; unknown, its hex value with the
    /// table's `/* X_??? */` when `comment`, bare otherwise.
    func named(_ table: ConstantTable, _ value: UInt64, comment: Bool = true) -> String {
        if let name = table.name(value) { return name }
        return comment ? "\(cHex(value)) /* \(table.unknownPrefix)??? */" : cHex(value)
    }

    /// Flags as strace's printflags writes them: `A|B|0x100`, `0` (or the
    /// table's name of none) when none are set, `0x100 /* unknown */` when
    /// none is known.
    func flags(_ table: FlagTable, _ value: UInt64, unknown: String, zero: String = "0") -> String {
        if value == 0 { return zero }
        let text = table.render(value)
        if text.hasPrefix("0x") { return "\(text) /* \(unknown) */" }
        return text
    }

    /// An interface index: `if_nametoindex("lo")` when the index names an interface here.
    func interfaceIndex(_ index: UInt32) -> String { context.interfaceIndex(index) }

    /// An errno value carried in a message: `-ENOENT`, `0`, or the number.
    func errorCode(_ value: Int32) -> String {
        if value < 0, let name = ErrnoName.name(Int(-Int64(value))) { return "-" + name }
        return String(value)
    }

    /// A network address of `family` in the leading bytes of `data`, as
    /// strace's decode_inet_addr shows it: `inet_addr("127.0.0.1")`,
    /// `inet_pton(AF_INET6, "::1")`; the bytes in hex for other families.
    /// `field` names a structure's field (`idiag_src=inet_addr(…)`, `inet_pton(…, &idiag_src)`).
    func inetAddress(family: UInt8, _ data: NetlinkData, field: String? = nil) -> String {
        let label = field.map { $0 + "=" } ?? ""
        let size = family == NetlinkFamilies.inet ? 4 : (family == NetlinkFamilies.inet6 ? 16 : 0)
        guard size > 0, data.count >= size else { return label + hexString(data) }
        guard data.canRead(size) else { return label + context.pointer(data.address) }
        let bytes = Array(data.bytes(size))
        if size == 4 {
            return label + "inet_addr(" + context.quote(SocketAddressDecoder.ipv4Text(bytes, at: 0)) + ")"
        }
        let reference = field.map { ", &" + $0 } ?? ""
        return "inet_pton(AF_INET6, " + context.quote(SocketAddressDecoder.ipv6Text(bytes, at: 0)) + reference + ")"
    }

    /// A link-layer address `02:fc:00:00:00:01`, as long as strace takes
    /// addresses of `deviceType` (an ARPHRD_ value) to be.
    func hardwareAddress(_ data: NetlinkData, deviceType: UInt64?) -> String? {
        guard data.count <= NetlinkFamilies.maximumHardwareAddressLength else { return nil }
        guard data.canRead(data.count) else { return context.pointer(data.address) }
        let size = min(data.count, deviceType.flatMap { NetlinkFamilies.hardwareAddressSizes[$0] } ?? Int.max)
        return data.bytes(size).map { QuotedString.twoHexDigits($0) }.joined(separator: ":")
    }

    /// `[a, b, ...]`: the shown elements of a list, `...` when it was cut.
    func list(_ parts: [String], truncated: Bool) -> String {
        MessageDecoder.array(parts, truncated: truncated)
    }
}

/// C's `%#x`: `0` for zero, `0x1f` otherwise.
func cHex(_ value: UInt64) -> String { value == 0 ? "0" : hex(value) }
