/// The edges the kernel patches into its code, beside its jumps: each
/// static key's jump-label site (`__jump_table`: it goes on, or jumps to
/// its target, as the key is set) and each access that may fault
/// (`__ex_table`: on to its fixup). Both tables are read once, through the
/// kernel text reader; x86-64 stores their addresses relative to the entry.
public struct PatchedEdges: Sendable {
    /// (site, target), sorted by site.
    let edges: [(site: UInt64, target: UInt64)]

    init(edges: [(site: UInt64, target: UInt64)]) {
        self.edges = edges.sorted { $0.site < $1.site }
    }

    /// The edges whose site lies in [start, end).
    public func within(_ start: UInt64, _ end: UInt64) -> [(site: UInt64, target: UInt64)] {
        var low = 0, high = edges.count
        while low < high {
            let middle = (low + high) / 2
            if edges[middle].site < start { low = middle + 1 } else { high = middle }
        }
        var found: [(site: UInt64, target: UInt64)] = []
        while low < edges.count, edges[low].site < end {
            found.append(edges[low])
            low += 1
        }
        return found
    }

    /// `struct jump_entry { s32 code; s32 target; long key; }` (16 bytes).
    static let jumpEntry = 16
    /// `struct exception_table_entry { int insn, fixup, data; }` (12 bytes).
    static let exceptionEntry = 12

    /// The edges of a jump table and an exception table read at their addresses.
    static func parse(jumpTable: [UInt8], at jumpStart: UInt64, exceptionTable: [UInt8], at exceptionStart: UInt64) -> PatchedEdges {
        var edges: [(site: UInt64, target: UInt64)] = []
        for (bytes, start, size) in [(jumpTable, jumpStart, jumpEntry), (exceptionTable, exceptionStart, exceptionEntry)] {
            var offset = 0
            while offset + size <= bytes.count {
                let entry = Int64(bitPattern: start) + Int64(offset)
                let site = UInt64(bitPattern: entry + relative(bytes, offset))
                let target = UInt64(bitPattern: entry + 4 + relative(bytes, offset + 4))
                edges.append((site, target))
                offset += size
            }
        }
        return PatchedEdges(edges: edges)
    }

    /// Reads both tables of the running kernel; nil when their bounds are
    /// not in kallsyms or they cannot be read, or when what was read does
    /// not point into the kernel's code (`isCode`): then the patched edges
    /// are not known, and nothing is said about where code cannot go.
    /// `bounds`: the tables' bounds from kallsyms (KernelSymbols.tableBounds).
    static func read(text: KernelText, bounds: [String: UInt64], isCode: (UInt64) -> Bool) -> PatchedEdges? {
        guard let jumpStart = bounds["__start___jump_table"], let jumpEnd = bounds["__stop___jump_table"], jumpEnd >= jumpStart,
              let exceptionStart = bounds["__start___ex_table"], let exceptionEnd = bounds["__stop___ex_table"], exceptionEnd >= exceptionStart,
              jumpEnd - jumpStart < 16 << 20, exceptionEnd - exceptionStart < 16 << 20,
              let jumps = text.read(jumpStart, count: Int(jumpEnd - jumpStart)),
              let exceptions = text.read(exceptionStart, count: Int(exceptionEnd - exceptionStart)) else { return nil }
        let parsed = parse(jumpTable: jumps, at: jumpStart, exceptionTable: exceptions, at: exceptionStart)
        return pointIntoCode(parsed.edges.map(\.site), isCode: isCode) ? parsed : nil
    }

    /// The signed 32-bit offset at `offset`: the kernel's tables store
    /// their addresses relative to the field that holds them (x86-64).
    static func relative(_ bytes: [UInt8], _ offset: Int) -> Int64 {
        Int64(Int32(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                    | UInt32(bytes[offset + 3]) << 24))
    }

    /// Whether the addresses a table was read as hold together: module
    /// code and init text gone since boot aside, nearly every one is the
    /// kernel's code (checked on up to 200 of them, evenly spread).
    static func pointIntoCode(_ addresses: [UInt64], isCode: (UInt64) -> Bool) -> Bool {
        let sample = stride(from: 0, to: addresses.count, by: max(1, addresses.count / 200)).map { addresses[$0] }
        return !sample.isEmpty && sample.filter(isCode).count * 10 >= sample.count * 8
    }
}
