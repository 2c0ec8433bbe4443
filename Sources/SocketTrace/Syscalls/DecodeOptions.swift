/// How much of the tracee's data a decoder shows, as strace's `-s`, `-x` and
/// `-xx` set it.
public struct DecodeOptions: Sendable {
    public enum HexStrings: Sendable {
        /// Escapes as C does, octal for other bytes (strace's default).
        case none
        /// A whole string in `\xHH` when it has a non-printable byte (`-x`).
        case nonASCII
        /// Every string in `\xHH` (`-xx`).
        case all
    }

    /// Bytes of payload shown before `...` (strace's `-s`, default 32).
    public var stringLimit: Int
    public var hexStrings: HexStrings
    /// How many array elements are shown before `...` (strace uses `-s` for this too).
    public var arrayLimit: Int

    public init(stringLimit: Int = 32, hexStrings: HexStrings = .none) {
        self.stringLimit = stringLimit
        self.hexStrings = hexStrings
        self.arrayLimit = stringLimit
    }
}
