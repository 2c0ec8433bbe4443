import CElfUtils
import Glibc

/// Kernel frames to source lines (`tcp_sendmsg+0x35` → `net/ipv4/tcp.c:1158`)
/// from a vmlinux with debug info, read with libdw as an offline module.
/// A frame is placed by its function's name and its offset in it, so the
/// running kernel's address layout (KASLR) does not matter: the vmlinux must
/// only be the build of the running kernel.
public final class KernelSourceResolver {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let dwfl: OpaquePointer
    let module: OpaquePointer
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    /// Function symbols of the vmlinux: name → address as linked.
    var functions: [String: UInt64] = [:]
    var cache: [String: String?] = [:]
    public let path: String

    public init(vmlinux path: String) throws(Failure) {
        self.path = path
        guard access(path, R_OK) == 0 else {
            throw Failure(description: "--vmlinux \(path): \(String(cString: strerror(errno)))")
        }
        callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(find_elf: dwfl_build_id_find_elf, find_debuginfo: dwfl_standard_find_debuginfo,
                                                section_address: dwfl_offline_section_address, debuginfo_path: nil))
        guard let dwfl = dwfl_begin(callbacks) else {
            callbacks.deallocate()
            throw Failure(description: "--vmlinux \(path): libdw could not start")
        }
        dwfl_report_begin(dwfl)
        guard let module = dwfl_report_offline(dwfl, "vmlinux", path, -1), dwfl_report_end(dwfl, nil, nil) == 0 else {
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw Failure(description: "--vmlinux \(path): not an ELF file libdw can read")
        }
        var bias: Dwarf_Addr = 0
        guard dwfl_module_getdwarf(module, &bias) != nil else {
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw Failure(description: "--vmlinux \(path): has no DWARF debug info (a vmlinux built with CONFIG_DEBUG_INFO is needed)")
        }
        self.dwfl = dwfl
        self.module = module
        let count = dwfl_module_getsymtab(module)
        for index in 0..<max(count, 0) {
            var symbol = GElf_Sym()
            var address: GElf_Addr = 0
            guard let name = dwfl_module_getsym_info(module, index, &symbol, &address, nil, nil, nil),
                  symbol.st_info & 0xf == UInt8(STT_FUNC) else { continue }
            let text = String(cString: name)
            if functions[text] == nil { functions[text] = address }
        }
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
    }

    /// `file:line` of the instruction at `offset` into `function`; for a
    /// return address (every frame but the innermost), the call before it.
    public func source(function: String, offset: UInt64, returnAddress: Bool) -> String? {
        let key = function + "+" + String(offset) + (returnAddress ? "r" : "")
        if let known = cache[key] { return known }
        var found: String?
        if let start = functions[function] {
            let address = start &+ offset &- (returnAddress && offset > 0 ? 1 : 0)
            if let line = dwfl_module_getsrc(module, address) {
                var number: Int32 = 0
                if let file = dwfl_lineinfo(line, nil, &number, nil, nil, nil) {
                    found = String(cString: file) + ":" + String(number)
                }
            }
        }
        cache[key] = found
        return found
    }
}
