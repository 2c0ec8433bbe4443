/// Marks around a descriptor's decoration in decoded text, so a call is
/// decoded once and both of its texts come from it: the decorated one
/// (marks removed) and strace's plain one (marked spans removed). The
/// marks are private-use characters, which decoded text never holds
/// (strings are escaped, as strace escapes them).
///
/// Both texts are cut from the UTF-8 bytes: a mark is three bytes
/// (EE 80 80 opens, EE 80 81 closes) that no other character's encoding
/// contains, and Character-by-Character iteration cost a fifth of the
/// tracer's time at every stop of a ping-pong.
public enum DecorationMarks {
    static let open: Character = "\u{E000}"
    static let close: Character = "\u{E001}"

    static func wrap(_ decoration: String) -> String {
        String(open) + decoration + String(close)
    }

    /// The text with its decorations and without the marks.
    public static func decorated(_ text: String) -> String {
        rebuilt(text, keepingMarkedSpans: true)
    }

    /// The text without its decorations (plain descriptor numbers).
    public static func plain(_ text: String) -> String {
        rebuilt(text, keepingMarkedSpans: false)
    }

    /// The lead bytes of both marks; their third byte tells which.
    private static let markLead: (UInt8, UInt8) = (0xEE, 0x80)
    private static let openLast: UInt8 = 0x80
    private static let closeLast: UInt8 = 0x81

    private static func rebuilt(_ text: String, keepingMarkedSpans: Bool) -> String {
        var text = text
        return text.withUTF8 { bytes -> String in
            guard let first = firstMark(in: bytes) else { return String(decoding: bytes, as: UTF8.self) }
            var out = [UInt8]()
            out.reserveCapacity(bytes.count)
            out.append(contentsOf: bytes[..<first])
            var depth = 0
            var index = first
            while index < bytes.count {
                if index + 2 < bytes.count, bytes[index] == markLead.0, bytes[index + 1] == markLead.1,
                   bytes[index + 2] == openLast || bytes[index + 2] == closeLast {
                    depth = bytes[index + 2] == openLast ? depth + 1 : max(0, depth - 1)
                    index += 3
                    continue
                }
                if keepingMarkedSpans || depth == 0 { out.append(bytes[index]) }
                index += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    private static func firstMark(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count >= 3 else { return nil }
        var index = 0
        while index + 2 < bytes.count {
            if bytes[index] == markLead.0, bytes[index + 1] == markLead.1,
               bytes[index + 2] == openLast || bytes[index + 2] == closeLast {
                return index
            }
            index += 1
        }
        return nil
    }
}
