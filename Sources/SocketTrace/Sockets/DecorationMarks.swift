/// Marks around a descriptor's decoration in decoded text, so a call is
/// decoded once and both of its texts come from it: the decorated one
/// (marks removed) and strace's plain one (marked spans removed). The
/// marks are private-use characters, which decoded text never holds
/// (strings are escaped, as strace escapes them).
public enum DecorationMarks {
    static let open: Character = "\u{E000}"
    static let close: Character = "\u{E001}"

    static func wrap(_ decoration: String) -> String {
        String(open) + decoration + String(close)
    }

    /// The text with its decorations and without the marks.
    public static func decorated(_ text: String) -> String {
        guard text.contains(open) else { return text }
        return String(text.filter { $0 != open && $0 != close })
    }

    /// The text without its decorations (plain descriptor numbers).
    public static func plain(_ text: String) -> String {
        guard text.contains(open) else { return text }
        var out = ""
        var depth = 0
        for character in text {
            if character == open { depth += 1; continue }
            if character == close { depth = max(0, depth - 1); continue }
            if depth == 0 { out.append(character) }
        }
        return out
    }
}
