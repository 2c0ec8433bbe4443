/// A table of named constants, rendered the way strace renders them: a name
/// when the value is known, `0x270f /* SO_??? */` when it is not.
public struct ConstantTable: Sendable {
    public let unknownPrefix: String
    let names: [UInt64: String]

    public init(_ unknownPrefix: String, _ entries: KeyValuePairs<UInt64, String>) {
        self.unknownPrefix = unknownPrefix
        var names: [UInt64: String] = [:]
        for (value, name) in entries where names[value] == nil { names[value] = name }
        self.names = names
    }

    public func name(_ value: UInt64) -> String? { names[value] }

    /// The name, or the hex value with strace's `/* X_??? */` comment.
    public func render(_ value: UInt64) -> String {
        if let name = names[value] { return name }
        return "\(hex(value)) /* \(unknownPrefix)??? */"
    }
}

/// A set of single-bit flags rendered as `A|B|0x100` (`0` when empty), in the
/// order of the table, with bits the table does not know shown in hex.
public struct FlagTable: Sendable {
    var flags: [(UInt64, String)]

    public init(_ flags: KeyValuePairs<UInt64, String>) {
        self.flags = flags.map { ($0.key, $0.value) }
    }

    /// The bit a name stands for (`MSG_ERRQUEUE` → 0x2000), if the table has it.
    public func value(named name: String) -> UInt64? {
        flags.first { $0.1 == name }?.0
    }

    public func render(_ value: UInt64, zero: String = "0") -> String {
        if value == 0 { return zero }
        var parts: [String] = []
        var rest = value
        for (bit, name) in flags where bit != 0 && rest & bit == bit {
            parts.append(name)
            rest &= ~bit
        }
        if rest != 0 { parts.append(hex(rest)) }
        return parts.joined(separator: "|")
    }
}

func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

extension ConstantTable {
    /// A table whose values are the names' positions (strace's
    /// `#value_indexed` lists): `names[0]` is 0, `names[1]` is 1…
    public init(_ unknownPrefix: String, indexed names: [String]) {
        self.unknownPrefix = unknownPrefix
        var table: [UInt64: String] = [:]
        for (value, name) in names.enumerated() { table[UInt64(value)] = name }
        self.names = table
    }
}

extension FlagTable {
    /// The flags of both tables, this one's first (strace's printflags with
    /// two tables: generic flags, then those of a message kind).
    public func followed(by other: FlagTable) -> FlagTable {
        var table = self
        table.flags += other.flags
        return table
    }
}
