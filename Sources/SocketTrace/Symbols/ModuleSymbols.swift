import CElfUtils
import Glibc

/// The symbols a module's own file carries (its .symtab, else .dynsym:
/// a stripped shared library's exported names), without its separate
/// debug symbols: the names strace -k prints, which finds no others.
/// libc's static `open_socket` is then `svc_run+0x34b4` (the nearest
/// exported symbol below it), and of several names at one address the
/// first in the table (`send`, weak, before the global `__send`; `__connect`
/// before `connect`), as libdwfl gives them to strace. The timeline keeps
/// the debug names; strace's lines use these.
final class ModuleSymbols {
    struct Symbol {
        let address: UInt64
        let name: String
        /// Its place in the table: the first at an address is the name.
        let index: Int
    }

    /// By address; at one address the preferred first.
    let symbols: [Symbol]

    init(symbols: [Symbol]) {
        self.symbols = symbols.sorted { ($0.address, $0.index) < ($1.address, $1.index) }
    }

    /// `name+offset` of the nearest symbol at or below `address`.
    func name(of address: UInt64) -> (name: String, offset: UInt64)? {
        var low = 0, high = symbols.count
        while low < high {
            let middle = (low + high) / 2
            if symbols[middle].address <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        // The first (preferred) of the symbols at that address.
        var index = low - 1
        while index > 0 && symbols[index - 1].address == symbols[index].address { index -= 1 }
        return (symbols[index].name, address - symbols[index].address)
    }

    /// The file's own symbol table; nil when it cannot be read.
    static func load(path: String) -> ModuleSymbols? {
        elf_version(UInt32(EV_CURRENT))
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        var tables: [(type: UInt32, data: UnsafeMutablePointer<Elf_Data>, header: GElf_Shdr)] = []
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil, header.sh_type == UInt32(SHT_SYMTAB) || header.sh_type == UInt32(SHT_DYNSYM),
                  header.sh_entsize > 0, let data = elf_getdata(next, nil) else { continue }
            tables.append((header.sh_type, data, header))
        }
        let chosen = tables.contains { $0.type == UInt32(SHT_SYMTAB) } ? tables.filter { $0.type == UInt32(SHT_SYMTAB) } : tables
        var symbols: [Symbol] = []
        for table in chosen {
            for index in 0..<Int(table.header.sh_size / table.header.sh_entsize) {
                var symbol = GElf_Sym()
                guard gelf_getsym(table.data, Int32(index), &symbol) != nil, symbol.st_shndx != UInt16(SHN_UNDEF), symbol.st_value != 0,
                      let raw = elf_strptr(elf, Int(table.header.sh_link), Int(symbol.st_name)) else { continue }
                let kind = Int32(symbol.st_info & 0xf)
                guard kind == STT_FUNC || kind == STT_NOTYPE || kind == STT_GNU_IFUNC else { continue }
                let name = String(String(cString: raw).prefix { $0 != "@" })
                guard !name.isEmpty else { continue }
                symbols.append(Symbol(address: symbol.st_value, name: name, index: symbols.count))
            }
        }
        return ModuleSymbols(symbols: symbols)
    }
}
