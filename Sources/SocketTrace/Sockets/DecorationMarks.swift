/// Marks around a descriptor's decoration in decoded text, so a call is
/// decoded once and both of its texts come from it: the decorated one
/// (marks removed) and strace's plain one (marked spans removed). The
/// marks are private-use characters, which decoded text never holds
/// (strings are escaped, as strace escapes them).
///
/// Both texts are cut from the UTF-8 bytes: a mark's three bytes
/// (EE 80 80 opens, EE 80 81 closes) are no part of any other character's
/// encoding, and Character-by-Character iteration cost a fifth of the
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

    /// The mark starting at `index` (+1 opens, -1 closes), or nil: the
    /// marks' UTF-8 is EE 80 80 and EE 80 81 (DecorationMarksTests checks
    /// these against `open` and `close`).
    @inline(__always)
    private static func mark(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        guard index + 2 < bytes.count, bytes[index] == 0xEE, bytes[index + 1] == 0x80 else { return nil }
        switch bytes[index + 2] {
        case 0x80: return 1
        case 0x81: return -1
        default: return nil
        }
    }

    private static func rebuilt(_ text: String, keepingMarkedSpans: Bool) -> String {
        var text = text
        return text.withUTF8 { bytes -> String in
            guard let first = bytes.indices.first(where: { mark(in: bytes, at: $0) != nil }) else {
                return String(decoding: bytes, as: UTF8.self)
            }
            var out = [UInt8]()
            out.reserveCapacity(bytes.count)
            out.append(contentsOf: bytes[..<first])
            var depth = 0
            var index = first
            while index < bytes.count {
                if let step = mark(in: bytes, at: index) {
                    depth = max(0, depth + step)
                    index += 3
                    continue
                }
                if keepingMarkedSpans || depth == 0 { out.append(bytes[index]) }
                index += 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
