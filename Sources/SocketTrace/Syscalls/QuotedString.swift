/// Bytes written as strace writes them: a C string literal with `\n`, `\t`
/// and the shortest octal escapes, or `\xHH` with `-x`/`-xx`.
public enum QuotedString {
    /// `"text"`, followed by `...` when `truncated`.
    public static func render(_ bytes: some Collection<UInt8>, truncated: Bool, hex: DecodeOptions.HexStrings) -> String {
        var out = "\""
        let array = Array(bytes)
        let useHex: Bool
        switch hex {
        case .all: useHex = true
        case .none: useHex = false
        case .nonASCII: useHex = array.contains { $0 > 0x7e || ($0 < 0x20 && !(9...13).contains($0)) }
        }
        out.reserveCapacity(array.count + 8)
        for (index, byte) in array.enumerated() {
            if useHex {
                out += "\\x" + twoHexDigits(byte)
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x0c: out += "\\f"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x0b: out += "\\v"
            case 0x20...0x7e: out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let nextIsOctalDigit = index + 1 < array.count && (0x30...0x37).contains(array[index + 1])
                let octal = String(byte, radix: 8)
                out += "\\" + (nextIsOctalDigit ? String(repeating: "0", count: 3 - octal.count) + octal : octal)
            }
        }
        out += "\""
        if truncated { out += "..." }
        return out
    }

    static func twoHexDigits(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
