import CSyscall
import Glibc
import Synchronization

/// The kernel's function symbols from /proc/kallsyms: resolves call-chain
/// addresses to names, and answers whether a function exists as a symbol
/// (if not, it is always inlined, or renamed, in this build).
public final class KernelSymbols {
    /// A text symbol: its address and where its name lies in the kallsyms
    /// bytes (the base name is the name up to a compiler suffix such as
    /// `.constprop.0`).
    struct Symbol {
        let address: UInt64
        let start: UInt32
        let length: UInt16
        let baseLength: UInt16
    }

    /// Names stay bytes of the kallsyms text until asked for: 120,000
    /// strings (and a set of them) cost more to make and to free than the
    /// whole parse.
    struct Table {
        let text: [UInt8]
        /// Sorted by address.
        let symbols: [Symbol]
        /// Hash of a name without suffix → a symbol with exactly that name.
        let plain: [UInt64: Int32]
        /// Hash of a base name → a symbol that is a specialised copy of it.
        let copies: [UInt64: Int32]
        /// Each symbol's base-name hash with its low `indexBits` replaced
        /// by its index in `symbols`, sorted: every copy of a name is one
        /// binary search away, in address order. (Plain numbers sort in
        /// milliseconds; indices sorted by a closure cost 30 ms more at
        /// every start.)
        let byBaseHash: [UInt64]
        static let indexBits: UInt64 = 24
        static let indexMask: UInt64 = (1 << indexBits) - 1
        /// The bounds of the kernel's tables of patched code (`__start___jump_table`, …): data symbols, kept apart.
        var tableBounds: [String: UInt64] = [:]

        func name(_ symbol: Symbol, base: Bool = true) -> String {
            let length = Int(base ? symbol.baseLength : symbol.length)
            return text.withUnsafeBufferPointer {
                String(decoding: UnsafeBufferPointer(rebasing: $0[Int(symbol.start)..<Int(symbol.start) + length]), as: UTF8.self)
            }
        }

        /// Whether the symbol's name begins with `prefix`.
        func startsWith(_ symbol: Symbol, _ prefix: [UInt8]) -> Bool {
            Int(symbol.length) >= prefix.count && text[Int(symbol.start)..<Int(symbol.start) + prefix.count].elementsEqual(prefix)
        }

        /// Whether the symbol is a loaded BPF program's, as the kernel names
        /// them: `bpf_prog_`, its 16-hex-digit tag, then `_NAME` or nothing.
        /// Not the kernel's own functions that begin the same way
        /// (`bpf_prog_by_id.part.0`, `bpf_prog_run_generic_xdp`; audit 67
        /// H2: a frame of one shown as a bare address).
        func isBPFProgram(_ symbol: Symbol) -> Bool {
            let prefix = KernelSymbols.bpfProgramPrefix, tag = 16
            guard startsWith(symbol, prefix), Int(symbol.length) >= prefix.count + tag else { return false }
            let start = Int(symbol.start) + prefix.count
            let isHex = text[start..<start + tag].allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) }
            return isHex && (Int(symbol.length) == prefix.count + tag || text[start + tag] == UInt8(ascii: "_"))
        }

        /// The symbol at `index` in `symbols`, if its name (base or whole) is `name`.
        func matches(_ index: Int32, _ name: [UInt8], base: Bool) -> Bool {
            let symbol = symbols[Int(index)]
            let length = Int(base ? symbol.baseLength : symbol.length)
            guard length == name.count else { return false }
            return text[Int(symbol.start)..<Int(symbol.start) + length].elementsEqual(name)
        }
    }

    private var loaded: Table?
    /// The thread reading /proc/kallsyms (`loadInBackground`), joined on first use.
    private var loader: pthread_t?
    /// Where the kallsyms copy is kept, and its key (`loadInBackground`),
    /// told before the thread starts.
    private var cache: KallsymsCache?
    private var cacheKey: UInt64?

    var table: Table {
        if let loaded { return loaded }
        if let loader {
            pthread_join(loader, nil)
            self.loader = nil
        }
        if loaded == nil { loaded = Self.parse([]) }
        return loaded!
    }

    /// Parses kallsyms text; only text (code) symbols are kept. Addresses
    /// of zero mean kptr_restrict hides them: then nothing resolves.
    public convenience init(kallsyms text: String) {
        self.init(kallsyms: Array(text.utf8))
    }

    /// Parses the bytes of /proc/kallsyms in one pass (it has over 100,000 lines).
    public init(kallsyms bytes: [UInt8]) {
        loaded = Self.parse(bytes)
    }

    private init() {}

    /// FNV-1a: names are looked up by this hash, then compared byte for byte.
    static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return value
    }

    static let tableBoundNames: [[UInt8]] = ["__start___jump_table", "__stop___jump_table", "__start___ex_table", "__stop___ex_table",
                                             "__start___bug_table", "__stop___bug_table"]
        .map { Array($0.utf8) }

    static func parse(_ bytes: [UInt8]) -> Table {
        var tableBounds: [String: UInt64] = [:]
        var symbols: [Symbol] = []
        symbols.reserveCapacity(bytes.count / 40)
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
                var dot: Int?
                while position < count, text[position] != 0x0a, text[position] != 0x09 {
                    if dot == nil && text[position] == UInt8(ascii: ".") { dot = position }
                    position += 1
                }
                let end = position
                while position < count, text[position] != 0x0a { position += 1 }
                position += 1
                guard kind == UInt8(ascii: "t") || kind == UInt8(ascii: "T") || kind == UInt8(ascii: "w") || kind == UInt8(ascii: "W"),
                      end > start, end - start <= Int(UInt16.max) else {
                    if end - start >= 17, text[start] == 0x5f, text[start + 2] == 0x73,
                       let name = tableBoundNames.first(where: { $0.count == end - start && $0.elementsEqual(text[start..<end]) }) {
                        tableBounds[String(decoding: name, as: UTF8.self)] = address
                    }
                    continue
                }
                symbols.append(Symbol(address: address, start: UInt32(start), length: UInt16(end - start),
                                      baseLength: UInt16((dot ?? end) - start)))
            }
        }
        // Several names at one address (`__softirqentry_text_end` and
        // `__x86_indirect_thunk_array` on 6.12): section markers first, so
        // that an address resolves to the code's own name (the last one).
        bytes.withUnsafeBufferPointer { text in
            func isMarker(_ symbol: Symbol) -> Bool {
                let name = UnsafeBufferPointer(rebasing: text[Int(symbol.start)..<Int(symbol.start) + Int(symbol.length)])
                return name.starts(with: "__start_".utf8) || name.starts(with: "__stop_".utf8)
                    || name.reversed().starts(with: "dne_".utf8) || name.reversed().starts(with: "trats_".utf8)
            }
            symbols.sort { $0.address != $1.address ? $0.address < $1.address : isMarker($0) && !isMarker($1) }
        }
        var plain: [UInt64: Int32] = [:]
        plain.reserveCapacity(symbols.count)
        var copies: [UInt64: Int32] = [:]
        precondition(UInt64(symbols.count) <= Table.indexMask, "more kernel symbols than the index holds")
        var byBaseHash: [UInt64] = []
        byBaseHash.reserveCapacity(symbols.count)
        bytes.withUnsafeBufferPointer { text in
            for (index, symbol) in symbols.enumerated() {
                let base = UnsafeBufferPointer(rebasing: text[Int(symbol.start)..<Int(symbol.start) + Int(symbol.baseLength)])
                let key = hash(base)
                byBaseHash.append((key & ~Table.indexMask) | UInt64(index))
                if symbol.baseLength == symbol.length {
                    if plain[key] == nil { plain[key] = Int32(index) }
                } else if copies[key] == nil {
                    copies[key] = Int32(index)
                }
            }
        }
        byBaseHash.sort()
        var table = Table(text: bytes, symbols: symbols, plain: plain, copies: copies, byBaseHash: byBaseHash)
        table.tableBounds = tableBounds
        return table
    }

    /// Whether /proc/kallsyms shows real addresses: kptr_restrict (or not
    /// being root) shows every one as zero. Judged by the first text
    /// symbol: absolute ones (`A fixed_percpu_data`, first on Debian's
    /// kernels) are zero even when addresses are shown.
    static func addressesVisible() -> Bool {
        guard let head = ProcFile.bytes("/proc/kallsyms", limit: 16384) else { return false }
        return firstTextAddress(head).map { $0 != 0 } ?? false
    }

    /// The address of the first `t`/`T` line of kallsyms text.
    static func firstTextAddress(_ text: [UInt8]) -> UInt64? {
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count >= 3, fields[1].count == 1, fields[1].first == UInt8(ascii: "t") || fields[1].first == UInt8(ascii: "T") else { continue }
            return UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16)
        }
        return nil
    }

    /// /proc/kallsyms of the running kernel; nil when its addresses are hidden.
    public static func load() -> KernelSymbols? {
        guard addressesVisible() else { return nil }
        return KernelSymbols(kallsyms: readKallsyms())
    }

    /// The text of /proc/kallsyms: the copy kept from an earlier run when it
    /// is still this kernel's (`KallsymsCache`), else read and kept.
    /// `key`: what the kernel's symbols depend on, told before this run
    /// loads a BPF program of its own (`KernelText`), whose symbol would
    /// otherwise make every run's key new.
    static func readKallsyms(cache: KallsymsCache? = .standard(), key: UInt64? = KallsymsCache.currentKey()) -> [UInt8] {
        guard let cache, let key else {
            return ProcFile.bytes("/proc/kallsyms") ?? []
        }
        if let kept = cache.read(key: key) {
            cache.removeAbandonedCopies()
            return kept
        }
        let text = KallsymsCache.withoutOwnPrograms(ProcFile.bytes("/proc/kallsyms") ?? [])
        if !text.isEmpty { cache.write(text, key: key) }
        return text
    }

    /// /proc/kallsyms of the running kernel, read (or its kept copy) and
    /// parsed on a thread of its own while the trace starts; the first
    /// lookup waits for it. Nil at once when its addresses are hidden.
    /// What the copy is kept for is told here, before the thread starts:
    /// the caller loads its kernel-code reader next.
    public static func loadInBackground() -> KernelSymbols? { loadInBackground(cache: .standard()) }

    static func loadInBackground(cache: KallsymsCache?) -> KernelSymbols? {
        guard addressesVisible() else { return nil }
        let symbols = KernelSymbols()
        symbols.cache = cache
        symbols.cacheKey = KallsymsCache.currentKey()
        var thread = pthread_t()
        let context = Unmanaged.passRetained(symbols).toOpaque()
        let started = pthread_create(&thread, nil, { context in
            let symbols = Unmanaged<KernelSymbols>.fromOpaque(context!).takeRetainedValue()
            symbols.loaded = KernelSymbols.parse(KernelSymbols.readKallsyms(cache: symbols.cache, key: symbols.cacheKey))
            return nil
        }, context)
        guard started == 0 else {
            Unmanaged<KernelSymbols>.fromOpaque(context).release()
            symbols.loaded = parse(readKallsyms(cache: cache, key: symbols.cacheKey))
            return symbols
        }
        symbols.loader = thread
        return symbols
    }

    /// Whether the symbols are read, without waiting for them.
    var isRead: Bool {
        if let loader {
            guard cs_thread_try_join(loader) == 0 else { return false }
            self.loader = nil
        }
        return true
    }

    deinit {
        if let loader { pthread_join(loader, nil) }
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

    /// The function containing `address` and how far into it the address
    /// is. `symbol`: when the address lies in a compiler's copy of the
    /// function (`do_softirq.part.0`), that copy's whole name, the symbol
    /// `offset` counts from; nil when it is the function's own symbol.
    public func location(of address: UInt64, at time: MonotonicTime? = nil) -> (function: String, offset: UInt64, symbol: String?)? {
        let table = self.table
        switch resolve(address, in: table, at: time) {
        case let .symbol(index):
            let symbol = table.symbols[index]
            return (table.name(symbol), address &- symbol.address, symbol.length == symbol.baseLength ? nil : table.name(symbol, base: false))
        case let .program(image):
            return (image.name, address - image.start, nil)
        case .none:
            return nil
        }
    }

    /// The same for a return address: one just past a function that
    /// ends with a call that does not return (x86_64_start_reservations'
    /// call of start_kernel) lies at the start of the next symbol, the
    /// padding before the next function (`__pfx_clear_bss`, as perf names
    /// it): it is the calling function's, at its end (audit 95 F3).
    public func location(ofReturnAddress address: UInt64, at time: MonotonicTime? = nil) -> (function: String, offset: UInt64, symbol: String?)? {
        let found = location(of: address, at: time)
        guard let found, found.offset == 0, found.function.hasPrefix(Self.paddingPrefix),
              let caller = location(of: address &- 1, at: time), !caller.function.hasPrefix(Self.paddingPrefix) else { return found }
        return (caller.function, caller.offset + 1, caller.symbol)
    }

    /// The prefix of the symbols of the padding before functions (for call depth tracking and FineIBT).
    static let paddingPrefix = "__pfx_"

    /// No kernel function is this long: an address this far past the last
    /// symbol below it is in none of them (the BPF area above the kernel's
    /// text, a gigabyte past `_einittext`).
    static let longestFunction: UInt64 = 1 << 20

    enum Resolved {
        case symbol(Int)
        case program(BPFProgramImages.Image)
        case none
    }

    /// What holds `address`: a kallsyms symbol; or, where kallsyms has a
    /// BPF program's symbol below it or nothing within reach, the image of
    /// a program loaded now, and loaded by `time` when it is given
    /// (`BPFProgramImages`); or nothing known.
    func resolve(_ address: UInt64, in table: Table, at time: MonotonicTime?) -> Resolved {
        let index = index(containing: address, in: table)
        if let index, address &- table.symbols[index].address < Self.longestFunction,
           !table.isBPFProgram(table.symbols[index]) {
            return .symbol(index)
        }
        return programImage(at: address, time: time).map { .program($0) } ?? .none
    }

    static let bpfProgramPrefix = Array("bpf_prog_".utf8)

    /// The loaded programs' images, read when a frame first falls where one
    /// may be, and again (at most every 50 ms) when one falls in none.
    private let programs = Mutex<(images: [BPFProgramImages.Image], read: MonotonicTime?, bootOffset: UInt64)>(([], nil, 0))

    func programImage(at address: UInt64, time: MonotonicTime?) -> BPFProgramImages.Image? {
        programs.withLock { known in
            func find() -> BPFProgramImages.Image? {
                known.images.first { image in
                    // A program loaded after the sample was not what ran there.
                    image.contains(address) && (time.map { image.loaded <= $0.nanoseconds &+ known.bootOffset } ?? true)
                }
            }
            func read() {
                known.images = BPFProgramImages.loaded()
                known.bootOffset = BPFProgramImages.bootOffset()
                known.read = MonotonicTime.now()
            }
            // One remembered is the frame's only while it is still loaded
            // (loaded before the sample, loaded after it: there throughout).
            if let found = find() {
                if BPFProgramImages.stillLoaded(found.id) { return found }
                read()
                return find()
            }
            let now = MonotonicTime.now()
            guard known.read.map({ now.nanoseconds &- $0.nanoseconds >= 50_000_000 }) ?? true else { return nil }
            read()
            return find()
        }
    }

    /// The index of the last symbol at or below `address`.
    func index(containing address: UInt64, in table: Table) -> Int? {
        let symbols = table.symbols
        var low = 0, high = symbols.count - 1
        var found: Int?
        while low <= high {
            let middle = (low + high) / 2
            if symbols[middle].address <= address { found = middle; low = middle + 1 } else { high = middle - 1 }
        }
        return found
    }

    /// The function containing `address`: its name, start, and where the
    /// next symbol begins (the most its code can span).
    public func extent(of address: UInt64) -> (function: String, start: UInt64, end: UInt64)? {
        let table = self.table
        switch resolve(address, in: table, at: nil) {
        case let .symbol(index):
            let start = table.symbols[index].address
            let end = table.symbols[(index + 1)...].first { $0.address > start }?.address ?? start + 4096
            return (table.name(table.symbols[index]), start, end)
        case let .program(image):
            return (image.name, image.start, image.start + image.length)
        case .none:
            return nil
        }
    }

    /// The whole name (compiler suffix included) of the symbol containing `address`.
    public func fullName(at address: UInt64) -> String? {
        let table = self.table
        return index(containing: address, in: table).map { table.name(table.symbols[$0], base: false) }
    }

    /// The addresses of the kernel's tables of patched code, by bound name
    /// (`__start___jump_table`, `__stop___jump_table`, `__start___ex_table`, `__stop___ex_table`).
    public var tableBounds: [String: UInt64] { table.tableBounds }

    /// The start of every symbol whose base name is `name` (local copies
    /// and specialised ones included: `dst_output` has several).
    public func starts(of name: String) -> [UInt64] {
        if let known = startsByName[name] { return known }
        let table = self.table
        let bytes = Array(name.utf8)
        let key = Self.hash(bytes)
        // The first index entry with `key`'s high bits, by binary search
        // (a pass over all 120,000 symbols took seconds in a debug build,
        // with the traced thread stopped meanwhile), then each entry after
        // it that shares them.
        let prefix = key & ~Table.indexMask
        let keys = table.byBaseHash
        var low = 0, high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] < prefix { low = middle + 1 } else { high = middle }
        }
        var found: [UInt64] = []
        // Hashes alike in their high bits are told apart by the name.
        while low < keys.count, keys[low] & ~Table.indexMask == prefix {
            let index = Int32(keys[low] & Table.indexMask)
            if table.matches(index, bytes, base: true) { found.append(table.symbols[Int(index)].address) }
            low += 1
        }
        startsByName[name] = found
        return found
    }
    /// `starts(of:)`'s answers (the table never changes once loaded).
    private var startsByName: [String: [UInt64]] = [:]

    /// How a function name appears among the symbols.
    public enum Presence: Equatable, Sendable {
        case symbol
        /// Only as a compiler-specialised copy, e.g. `name.constprop.0`.
        case specialised(String)
        case absent
    }

    public func presence(of name: String) -> Presence {
        let table = self.table
        let bytes = Array(name.utf8)
        let key = Self.hash(bytes)
        if let index = table.plain[key], table.matches(index, bytes, base: false) { return .symbol }
        if let index = table.copies[key], table.matches(index, bytes, base: true) {
            return .specialised(table.name(table.symbols[Int(index)], base: false))
        }
        // A hash shared with another name (never seen in practice): look at every symbol.
        if table.plain[key] != nil || table.copies[key] != nil {
            var copy: String?
            for index in table.symbols.indices {
                if table.matches(Int32(index), bytes, base: false) { return .symbol }
                if copy == nil, table.matches(Int32(index), bytes, base: true) { copy = table.name(table.symbols[index], base: false) }
            }
            if let copy { return .specialised(copy) }
        }
        return .absent
    }
}
