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
    public convenience init(kallsyms text: String) {
        self.init(kallsyms: Array(text.utf8))
    }

    /// Parses the bytes of /proc/kallsyms in one pass (it has over 100,000
    /// lines; only the text symbols become strings).
    public init(kallsyms bytes: [UInt8]) {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(bytes.count / 40)
        var names = Set<String>(minimumCapacity: bytes.count / 40)
        var copies: [String: String] = [:]
        bytes.withUnsafeBufferPointer { text in
            let count = text.count
            var position = 0
            while position < count {
                // ADDRESS TYPE NAME[\t[MODULE]]\n
                var address: UInt64 = 0
                while position < count, text[position] != 0x20, text[position] != 0x0a {
                    let byte = text[position]
                    let digit: UInt8 = byte <= 0x39 ? byte &- 0x30 : (byte | 0x20) &- 0x61 &+ 10
                    address = address << 4 | UInt64(digit & 0xf)
                    position += 1
                }
                let kind: UInt8 = position + 1 < count ? text[position + 1] : 0
                position += 3
                let start = min(position, count)
                while position < count, text[position] != 0x0a, text[position] != 0x09 { position += 1 }
                let end = position
                while position < count, text[position] != 0x0a { position += 1 }
                position += 1
                guard kind == UInt8(ascii: "t") || kind == UInt8(ascii: "T") || kind == UInt8(ascii: "w") || kind == UInt8(ascii: "W"),
                      end > start else { continue }
                let nameBytes = UnsafeBufferPointer(rebasing: text[start..<end])
                if let dot = nameBytes.firstIndex(of: UInt8(ascii: ".")) {
                    let base = String(decoding: UnsafeBufferPointer(rebasing: nameBytes[..<dot]), as: UTF8.self)
                    if copies[base] == nil { copies[base] = String(decoding: nameBytes, as: UTF8.self) }
                    symbols.append(Symbol(address: address, name: base))
                } else {
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    symbols.append(Symbol(address: address, name: name))
                    names.insert(name)
                }
            }
        }
        symbols.sort { $0.address < $1.address }
        self.symbols = symbols
        self.names = names
        self.specialisedCopies = copies.filter { !names.contains($0.key) }
    }

    /// /proc/kallsyms of the running kernel.
    public static func load() -> KernelSymbols? {
        guard let bytes = KernelSocketLookup.readSmallFileBytes("/proc/kallsyms"), !bytes.isEmpty else { return nil }
        let table = KernelSymbols(kallsyms: bytes)
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
