/// How much of the tracee's data a decoder shows, as strace's `-s`, `-x`,
/// `-xx` and `-v` set it.
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
    /// Structures in full (strace's `-v`): netlink messages and attributes
    /// are not cut after `arrayLimit` of them.
    public var verbose: Bool

    public init(stringLimit: Int = 32, hexStrings: HexStrings = .none, verbose: Bool = false) {
        self.stringLimit = stringLimit
        self.hexStrings = hexStrings
        self.arrayLimit = stringLimit
        self.verbose = verbose
    }
}
