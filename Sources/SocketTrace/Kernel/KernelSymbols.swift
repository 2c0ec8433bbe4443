/// The kernel's function symbols from /proc/kallsyms: resolves call-chain
/// addresses to names, and answers whether a function exists as a symbol
/// (if not, it is always inlined, or renamed, in this build).
public final class KernelSymbols: @unchecked Sendable {
    struct Symbol {
        let address: UInt64
        let name: String
    }

    /// Sorted by address; names already without compiler suffixes.
    let symbols: [Symbol]
    let names: Set<String>
    /// For functions only present as compiler-specialised copies
    /// (`.constprop.0`, `.isra.0`, `.part.0`): base name → a copy's name.
    let specialisedCopies: [String: String]

    /// Parses kallsyms text; only text (code) symbols are kept. Addresses
    /// of zero mean kptr_restrict hides them: then nothing resolves.
    public init(kallsyms text: String) {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(150_000)
        var names = Set<String>()
        var copies: [String: String] = [:]
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 3)
            guard fields.count >= 3, let kind = fields[1].first else { continue }
            guard kind == UInt8(ascii: "t") || kind == UInt8(ascii: "T") || kind == UInt8(ascii: "w") || kind == UInt8(ascii: "W") else { continue }
            var nameBytes = fields[2]
            if let tab = nameBytes.firstIndex(of: UInt8(ascii: "\t")) { nameBytes = nameBytes[..<tab] }
            let address = UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16) ?? 0
            if let dot = nameBytes.firstIndex(of: UInt8(ascii: ".")) {
                let base = String(decoding: nameBytes[..<dot], as: UTF8.self)
                if copies[base] == nil { copies[base] = String(decoding: nameBytes, as: UTF8.self) }
                symbols.append(Symbol(address: address, name: base))
            } else {
                let name = String(decoding: nameBytes, as: UTF8.self)
                symbols.append(Symbol(address: address, name: name))
                names.insert(name)
            }
        }
        symbols.sort { $0.address < $1.address }
        self.symbols = symbols
        self.names = names
        self.specialisedCopies = copies.filter { !names.contains($0.key) }
    }

    /// /proc/kallsyms of the running kernel.
    public static func load() -> KernelSymbols? {
        guard let text = KernelSocketLookup.readSmallFile("/proc/kallsyms"), !text.isEmpty else { return nil }
        let table = KernelSymbols(kallsyms: text)
        return table.symbols.last?.address == 0 ? nil : table
    }

    /// `__netif_receive_skb_core.constprop.0` → `__netif_receive_skb_core`.
    public static func baseName(_ name: String) -> String {
        guard let dot = name.firstIndex(of: ".") else { return name }
        return String(name[..<dot])
    }

    /// The function containing `address`, as its name without compiler suffixes.
    public func function(at address: UInt64) -> String? {
        location(of: address)?.function
    }

    /// The function containing `address` and how far into it the address is.
    public func location(of address: UInt64) -> (function: String, offset: UInt64)? {
        var low = 0, high = symbols.count - 1
        var found: Int?
        while low <= high {
            let middle = (low + high) / 2
            if symbols[middle].address <= address {
                found = middle
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found.map { (symbols[$0].name, address &- symbols[$0].address) }
    }

    /// How a function name appears among the symbols.
    public enum Presence: Equatable, Sendable {
        case symbol
        /// Only as a compiler-specialised copy, e.g. `name.constprop.0`.
        case specialised(String)
        case absent
    }

    public func presence(of name: String) -> Presence {
        if names.contains(name) { return .symbol }
        if let copy = specialisedCopies[name] { return .specialised(copy) }
        return .absent
    }
}
