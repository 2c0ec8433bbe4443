import Foundation
import Testing

/// Checks sockettrace's claims about the kernel's code (`f+0x44: jmp g`)
/// without its reader or its disassembler: bpftrace reads the bytes at each
/// site (`*(uint8 *)(kaddr("f") + 0x44)`…), and the branch is decoded here from
/// its opcode (e8/e9 rel32, eb rel8, 0f 8x rel32, 7x rel8), its target
/// compared with /proc/kallsyms.
enum KernelCodeOracle {
    struct Site: Hashable {
        let function: String
        let offset: UInt64
        let kind: String
        let target: String
    }

    /// The direct calls and jumps named in evidence texts.
    static func sites(_ evidence: [String]) -> Set<Site> {
        var found: Set<Site> = []
        for text in evidence {
            for claim in text.split(separator: ";").flatMap({ $0.components(separatedBy: " or ") }) {
                guard let match = claim.firstMatch(of: /([A-Za-z0-9_.]+)\+0x([0-9a-f]+): (call|jmp) ([A-Za-z0-9_.]+)$/) else { continue }
                found.insert(Site(function: String(match.output.1), offset: UInt64(match.output.2, radix: 16)!,
                                  kind: String(match.output.3), target: String(match.output.4)))
            }
        }
        return found
    }

    /// Text symbols named once in /proc/kallsyms (a name with local copies cannot be checked by name).
    static func uniqueSymbols() throws -> [String: UInt64] {
        var addresses: [String: UInt64] = [:]
        var repeated: Set<String> = []
        // Read through cat: Foundation reads a /proc file only as far as its (zero) size says.
        for line in try TestSupport.run("/bin/cat", ["/proc/kallsyms"]).stdout.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, "tTwW".contains(fields[1]), let address = UInt64(fields[0], radix: 16) else { continue }
            let name = String(fields[2].split(separator: "\t").first ?? "")
            if addresses.updateValue(address, forKey: name) != nil { repeated.insert(name) }
        }
        for name in repeated { addresses[name] = nil }
        return addresses
    }

    /// Where the branch at `address` goes, from its bytes.
    static func target(of bytes: [UInt8], at address: UInt64) -> (kind: String, target: UInt64)? {
        func rel32(_ at: Int) -> Int64 { Int64(Int32(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)) }
        func rel8(_ at: Int) -> Int64 { Int64(Int8(bitPattern: bytes[at])) }
        // Kernel addresses are above 2^63: wrapping arithmetic on the bit patterns.
        func after(_ length: Int, _ relative: Int64) -> UInt64 { address &+ UInt64(length) &+ UInt64(bitPattern: relative) }
        guard let opcode = bytes.first else { return nil }
        switch opcode {
        case 0xe8 where bytes.count >= 5: return ("call", after(5, rel32(1)))
        case 0xe9 where bytes.count >= 5: return ("jmp", after(5, rel32(1)))
        case 0xeb where bytes.count >= 2: return ("jmp", after(2, rel8(1)))
        case 0x70...0x7f where bytes.count >= 2: return ("jmp", after(2, rel8(1)))
        case 0x0f where bytes.count >= 6 && (0x80...0x8f).contains(bytes[1]): return ("jmp", after(6, rel32(2)))
        default: return nil
        }
    }

    /// Reads every checkable site with bpftrace and compares; returns how many were checked.
    @discardableResult
    static func check(_ evidence: [String]) throws -> Int {
        let symbols = try uniqueSymbols()
        let named = sites(evidence)
        let sites = named.filter { symbols[$0.function] != nil && symbols[$0.target] != nil }.sorted { "\($0)" < "\($1)" }
        #expect(!sites.isEmpty, "no claim names functions with a single symbol: \(named.count) sites named, \(symbols.count) unique symbols, \(evidence.prefix(3))")
        guard !sites.isEmpty else { return 0 }
        var program = "BEGIN { "
        for (index, site) in sites.enumerated() {
            // Byte by byte as numbers: %r's escapes are ambiguous (a backslash byte is printed bare).
            let bytes = (0..<6).map { "*(uint8 *)($a\(index) + \($0))" }.joined(separator: ", ")
            program += "$a\(index) = kaddr(\"\(site.function)\") + \(site.offset); printf(\"site \(index) %d %d %d %d %d %d\\n\", \(bytes)); "
        }
        program += "exit(); }"
        // bpftrace wants tracefs at /sys/kernel/tracing: found there, or mounted in a namespace of its own.
        let result = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c",
                                                              "{ mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; } && exec bpftrace -e '\(program)'"], timeout: 120)
        #expect(result.status == 0, "bpftrace: \(result.stderr)")
        var checked = 0
        for line in result.stdout.split(separator: "\n") {
            guard let match = line.firstMatch(of: /^site (\d+) (.*)$/), let index = Int(match.output.1), index < sites.count else { continue }
            let site = sites[index]
            let address = symbols[site.function]! + site.offset
            let decoded = target(of: match.output.2.split(separator: " ").compactMap { UInt8($0) }, at: address)
            #expect(decoded?.kind == site.kind && decoded?.target == symbols[site.target],
                    "\(site.function)+0x\(String(site.offset, radix: 16)): claimed \(site.kind) \(site.target), bytes say \(String(describing: decoded))")
            checked += 1
        }
        #expect(checked == sites.count, "bpftrace answered \(checked) of \(sites.count) sites")
        return checked
    }
}
