import CElfUtils
import Foundation
import Glibc

/// How a function's parameter or return value is shown, from its DWARF type.
public enum ValueKind: Sendable, Equatable {
    /// A signed integer of this many bytes (int, long, an enum).
    case signed(Int)
    case unsigned(Int)
    case boolean
    case pointer
    /// `char *`: shown as the string it points to.
    case string
    /// Floating point, structures and whatever else is not passed in an
    /// integer register: not shown.
    case other
    case void

    /// Whether the value travels in one general-purpose register (SysV x86-64).
    var inIntegerRegister: Bool {
        switch self {
        case .signed, .unsigned, .boolean, .pointer, .string: true
        case .other, .void: false
        }
    }
}

/// A named parameter of a traced function.
public struct FunctionParameter: Sendable, Equatable {
    public var name: String
    public var kind: ValueKind
}

/// One function of the traced program, as its ELF symbol table and DWARF
/// describe it (addresses as linked, before the load bias).
public struct ProgramFunction: Sendable {
    public var name: String
    public var address: UInt64
    public var size: UInt64
    /// nil without DWARF for the function.
    public var parameters: [FunctionParameter]?
    public var returns: ValueKind?
}

/// The functions of a program file that match the user's patterns, with
/// what it takes to find them in a running process.
public struct ProgramFunctions: Sendable {
    public let path: String
    public let functions: [ProgramFunction]
    /// ET_DYN (PIE): loaded at a bias chosen at exec.
    public let positionIndependent: Bool
    /// The page of the lowest PT_LOAD segment, as linked.
    let firstSegmentPage: UInt64
    /// The PT_LOAD segments: linked address, file offset, size in the file.
    let segments: [(address: UInt64, offset: UInt64, size: UInt64)]

    /// Where the byte linked at `address` is in the program file.
    public func fileOffset(of address: UInt64) -> UInt64? {
        segments.first { address >= $0.address && address - $0.address < $0.size }.map { address - $0.address + $0.offset }
    }

    /// Whether `name` matches one of the comma-separated globs of `patterns`.
    public static func matches(_ name: String, patterns: [String]) -> Bool {
        patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    /// The globs of a `--functions` value: `handle_*,main`.
    public static func patterns(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case notSupported(String, String)

        public var description: String {
            switch self {
            case let .unreadable(path, why): "\(path): \(why)"
            case let .notSupported(path, why): "\(path): \(why)"
            }
        }
    }

    /// Reads the symbol table (libelf) and the parameters (libdw) of the
    /// functions of `path` matching `patterns`. Only x86_64 programs: their
    /// arguments are read from the registers at entry.
    public static func load(path: String, patterns: [String]) throws(LoadError) -> ProgramFunctions {
        elf_version(UInt32(EV_CURRENT))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path, String(cString: strerror(errno))) }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { throw .unreadable(path, "not an ELF file") }
        defer { elf_end(elf) }
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw .unreadable(path, "not an ELF file") }
        guard header.e_machine == UInt16(EM_X86_64) else {
            throw .notSupported(path, "--functions reads arguments from x86_64 registers; this program is for another machine (e_machine \(header.e_machine))")
        }
        var lowest = UInt64.max
        var segments: [(address: UInt64, offset: UInt64, size: UInt64)] = []
        var count = 0
        elf_getphdrnum(elf, &count)
        for index in 0..<count {
            var segment = GElf_Phdr()
            if gelf_getphdr(elf, Int32(index), &segment) != nil, segment.p_type == UInt32(PT_LOAD) {
                lowest = min(lowest, segment.p_vaddr)
                segments.append((segment.p_vaddr, segment.p_offset, segment.p_filesz))
            }
        }
        let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        var functions = symbols(elf, patterns: patterns)
        describe(&functions, elf: elf)
        return ProgramFunctions(path: path, functions: functions.values.sorted { $0.address < $1.address },
                                positionIndependent: header.e_type == UInt16(ET_DYN),
                                firstSegmentPage: lowest == .max ? 0 : lowest & ~(page - 1), segments: segments)
    }

    /// Defined functions of the symbol table (.symtab, else .dynsym) whose
    /// names match; one per address.
    static func symbols(_ elf: OpaquePointer, patterns: [String]) -> [UInt64: ProgramFunction] {
        var tables: [(Int, UnsafeMutablePointer<Elf_Data>, GElf_Shdr)] = []
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var sectionHeader = GElf_Shdr()
            guard gelf_getshdr(next, &sectionHeader) != nil,
                  sectionHeader.sh_type == UInt32(SHT_SYMTAB) || sectionHeader.sh_type == UInt32(SHT_DYNSYM),
                  sectionHeader.sh_entsize > 0, let data = elf_getdata(next, nil) else { continue }
            tables.append((Int(sectionHeader.sh_type), data, sectionHeader))
        }
        // The full table when the program has one; the dynamic one of a stripped program.
        let chosen = tables.contains { $0.0 == Int(SHT_SYMTAB) } ? tables.filter { $0.0 == Int(SHT_SYMTAB) } : tables
        var found: [UInt64: ProgramFunction] = [:]
        for (_, data, sectionHeader) in chosen {
            for index in 0..<Int(sectionHeader.sh_size / sectionHeader.sh_entsize) {
                var symbol = GElf_Sym()
                guard gelf_getsym(data, Int32(index), &symbol) != nil,
                      symbol.st_info & 0xf == UInt8(STT_FUNC), symbol.st_shndx != UInt16(SHN_UNDEF),
                      symbol.st_value != 0, symbol.st_size > 0,
                      let rawName = elf_strptr(elf, Int(sectionHeader.sh_link), Int(symbol.st_name)) else { continue }
                let name = String(String(cString: rawName).prefix { $0 != "@" })
                guard matches(name, patterns: patterns), found[symbol.st_value] == nil else { continue }
                found[symbol.st_value] = ProgramFunction(name: name, address: symbol.st_value, size: symbol.st_size)
            }
        }
        return found
    }

    final class DwarfWalk {
        var functions: [UInt64: ProgramFunction]
        init(_ functions: [UInt64: ProgramFunction]) { self.functions = functions }
    }

    /// Adds parameter names and kinds from DWARF, where the program has it.
    static func describe(_ functions: inout [UInt64: ProgramFunction], elf: OpaquePointer) {
        guard !functions.isEmpty, let dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nil) else { return }
        defer { dwarf_end(dwarf) }
        let walk = DwarfWalk(functions)
        var offset: Dwarf_Off = 0
        var next: Dwarf_Off = 0
        var headerSize = 0
        while dwarf_nextcu(dwarf, offset, &next, &headerSize, nil, nil, nil) == 0 {
            var unit = Dwarf_Die()
            if dwarf_offdie(dwarf, offset + Dwarf_Off(headerSize), &unit) != nil {
                _ = dwarf_getfuncs(&unit, { die, argument in
                    guard let die, let argument else { return 0 }
                    let walk = Unmanaged<DwarfWalk>.fromOpaque(argument).takeUnretainedValue()
                    var low: Dwarf_Addr = 0
                    guard dwarf_lowpc(die, &low) == 0, walk.functions[low] != nil,
                          walk.functions[low]?.parameters == nil else { return 0 }
                    walk.functions[low]?.parameters = ProgramFunctions.parameters(of: die)
                    walk.functions[low]?.returns = ProgramFunctions.kind(ofTypeOf: die)
                    return 0
                }, Unmanaged.passUnretained(walk).toOpaque(), 0)
            }
            offset = next
        }
        functions = walk.functions
    }

    static func parameters(of function: UnsafeMutablePointer<Dwarf_Die>) -> [FunctionParameter] {
        var parameters: [FunctionParameter] = []
        var child = Dwarf_Die()
        guard dwarf_child(function, &child) == 0 else { return [] }
        repeat {
            if dwarf_tag(&child) == 0x05 { // DW_TAG_formal_parameter
                let name = dwarf_diename(&child).map { String(cString: $0) } ?? "arg\(parameters.count)"
                parameters.append(FunctionParameter(name: name, kind: kind(ofTypeOf: &child)))
            }
            var sibling = Dwarf_Die()
            guard dwarf_siblingof(&child, &sibling) == 0 else { break }
            child = sibling
        } while true
        return parameters
    }

    /// The kind of the type a DIE's DW_AT_type names (void when it has none).
    static func kind(ofTypeOf die: UnsafeMutablePointer<Dwarf_Die>) -> ValueKind {
        var attribute = Dwarf_Attribute()
        var typeDie = Dwarf_Die()
        guard dwarf_attr_integrate(die, 0x49, &attribute) != nil, // DW_AT_type
              dwarf_formref_die(&attribute, &typeDie) != nil else { return .void }
        var peeled = Dwarf_Die()
        guard dwarf_peel_type(&typeDie, &peeled) == 0 else { return .other }
        switch dwarf_tag(&peeled) {
        case 0x24: // DW_TAG_base_type
            let size = Int(dwarf_bytesize(&peeled))
            var encoding: Dwarf_Word = 0
            var encodingAttribute = Dwarf_Attribute()
            guard dwarf_attr(&peeled, 0x3e, &encodingAttribute) != nil, // DW_AT_encoding
                  dwarf_formudata(&encodingAttribute, &encoding) == 0, size > 0, size <= 8 else { return .other }
            switch encoding {
            case 0x02: return .boolean
            case 0x05, 0x06: return .signed(size)
            case 0x07, 0x08, 0x10: return .unsigned(size)
            default: return .other
            }
        case 0x04: // DW_TAG_enumeration_type
            let size = Int(dwarf_bytesize(&peeled))
            return .signed(size > 0 ? size : 4)
        case 0x0f: // DW_TAG_pointer_type: char * is a string
            var pointee = Dwarf_Die()
            var pointeeAttribute = Dwarf_Attribute()
            if dwarf_attr_integrate(&peeled, 0x49, &pointeeAttribute) != nil,
               dwarf_formref_die(&pointeeAttribute, &pointee) != nil {
                var base = Dwarf_Die()
                var encodingAttribute = Dwarf_Attribute()
                var encoding: Dwarf_Word = 0
                if dwarf_peel_type(&pointee, &base) == 0, dwarf_tag(&base) == 0x24, dwarf_bytesize(&base) == 1,
                   dwarf_attr(&base, 0x3e, &encodingAttribute) != nil, dwarf_formudata(&encodingAttribute, &encoding) == 0,
                   encoding == 0x06 || encoding == 0x08 {
                    return .string
                }
            }
            return .pointer
        default:
            return .other
        }
    }

    /// How far the program was moved when loaded into process `pid`: the
    /// start of its first mapping minus its first segment's page as linked
    /// (0 for a program that is not position-independent).
    public func loadBias(pid: Int32) -> UInt64? {
        guard positionIndependent else { return 0 }
        guard let maps = ProcFile.text("/proc/\(pid)/maps") else { return nil }
        let executable = Self.executablePath(pid: pid) ?? path
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5...].joined(separator: " ") == executable,
                  UInt64(fields[2], radix: 16) == 0,
                  let start = fields[0].split(separator: "-").first.flatMap({ UInt64($0, radix: 16) }) else { continue }
            return start &- firstSegmentPage
        }
        return nil
    }

    /// /proc/PID/exe: the program file a process runs.
    public static func executablePath(pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
