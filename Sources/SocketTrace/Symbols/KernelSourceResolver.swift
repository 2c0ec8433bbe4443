import CElfUtils
import Glibc

/// Kernel frames to source lines (`tcp_sendmsg+0x35` → `net/ipv4/tcp.c:1158`)
/// from a vmlinux with debug info, read with libdw as an offline module.
/// A frame is placed by its runtime address less KASLR's slide (learnt from
/// the first frame of a function whose name the vmlinux has once), when the
/// vmlinux's symbol there is the frame's function; else by its function's
/// name and its offset in it, unless the vmlinux has several functions of
/// that name (local copies: `dst_output` in several files), where which one
/// is not known and nothing is said. The vmlinux must be the build of the
/// running kernel.
public final class KernelSourceResolver {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    let dwfl: OpaquePointer
    let module: OpaquePointer
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    /// Function symbols of the vmlinux: name → address as linked (the first of a duplicated name).
    var functions: [String: UInt64] = [:]
    /// Names the vmlinux gives several functions (static functions of different files).
    var duplicated: Set<String> = []
    /// Runtime address less linked address (KASLR's slide), once a frame showed it.
    var slide: UInt64?
    var cache: [String: String?] = [:]
    var inlineCache: [String: [InlinedCall]] = [:]
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
            if let known = functions[text] {
                if known != address { duplicated.insert(text) }
            } else {
                functions[text] = address
            }
        }
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
    }

    /// `file:line` of the instruction at `offset` into `function`; for a
    /// return address (every frame of a stack sampled at a tracepoint, the
    /// innermost too: its call to the tracepoint), the call before it.
    /// The line is the innermost one: in the body of the innermost function
    /// inlined there, if any (`inlinedCalls` says which).
    public func source(function: String, offset: UInt64, returnAddress: Bool, runtime: UInt64? = nil) -> String? {
        let key = function + "+" + String(offset) + (returnAddress ? "r" : "") + (duplicated.contains(function) ? "@" + String(runtime ?? 0) : "")
        if let known = cache[key] { return known }
        var found: String?
        if let address = address(function: function, offset: offset, returnAddress: returnAddress, runtime: runtime),
           let line = dwfl_module_getsrc(module, address) {
            var number: Int32 = 0
            if let file = dwfl_lineinfo(line, nil, &number, nil, nil, nil) {
                found = relative(String(cString: file), address: address) + ":" + String(number)
            }
        }
        cache[key] = found
        return found
    }

    /// The vmlinux's address (as linked) of the frame at `runtime`, less
    /// KASLR's slide, where the vmlinux's function there is `function`; else
    /// of `function`+`offset` by name, where the name is one function's;
    /// for a return address, the last byte of the call before it.
    func address(function: String, offset: UInt64, returnAddress: Bool, runtime: UInt64? = nil) -> UInt64? {
        let back: UInt64 = returnAddress && offset > 0 ? 1 : 0
        if let runtime {
            if slide == nil, !duplicated.contains(function), let linked = functions[function] { slide = (runtime &- offset) &- linked }
            if let slide {
                let linked = runtime &- slide
                // The vmlinux's function there must be the frame's (it is this kernel's build).
                if symbolName(at: linked) == function { return linked &- back }
            }
        }
        // By name only where the name is one function's.
        guard !duplicated.contains(function) else { return nil }
        return functions[function].map { $0 &+ offset &- back }
    }

    /// The vmlinux's function symbol containing `address` (as linked).
    func symbolName(at address: UInt64) -> String? {
        dwfl_module_addrname(module, address).map { String(cString: $0) }
    }

    /// The functions inlined at `function`+`offset`, innermost first, from
    /// the DWARF scopes that contain the address
    /// (`DW_TAG_inlined_subroutine`, named by its `DW_AT_abstract_origin`,
    /// with its `DW_AT_call_file`:`DW_AT_call_line`, the line in its parent
    /// where it was inlined). Empty when nothing is inlined there.
    public func inlinedCalls(function: String, offset: UInt64, returnAddress: Bool, runtime: UInt64? = nil) -> [InlinedCall] {
        let key = function + "+" + String(offset) + (returnAddress ? "r" : "") + (duplicated.contains(function) ? "@" + String(runtime ?? 0) : "")
        if let known = inlineCache[key] { return known }
        var found: [InlinedCall] = []
        if let address = address(function: function, offset: offset, returnAddress: returnAddress, runtime: runtime) {
            found = inlinedCalls(at: address)
        }
        inlineCache[key] = found
        return found
    }

    func inlinedCalls(at address: UInt64) -> [InlinedCall] {
        var bias: Dwarf_Addr = 0
        guard let cu = dwfl_module_addrdie(module, address, &bias) else { return [] }
        // dwarf_getscopes goes from an inlined subroutine up through its
        // abstract definition's scopes; the scopes that physically contain
        // the innermost one (each inlined copy in its caller's body) come
        // from dwarf_getscopes_die on it, as eu-addr2line -i does.
        var found: UnsafeMutablePointer<Dwarf_Die>?
        guard dwarf_getscopes(cu, address &- bias, &found) > 0, let found else { return [] }
        var innermost = found[0]
        free(found)
        var scopes: UnsafeMutablePointer<Dwarf_Die>?
        let count = dwarf_getscopes_die(&innermost, &scopes)
        guard count > 0, let scopes else { return [] }
        defer { free(scopes) }
        var files: OpaquePointer?
        var fileCount = 0
        if dwarf_getsrcfiles(cu, &files, &fileCount) != 0 { files = nil }
        var calls: [InlinedCall] = []
        for index in 0..<Int(count) where dwarf_tag(&scopes[index]) == Int32(DW_TAG_inlined_subroutine) {
            var attribute = Dwarf_Attribute()
            var name = "?"
            if let text = dwarf_formstring(dwarf_attr_integrate(&scopes[index], UInt32(DW_AT_name), &attribute)) {
                name = String(cString: text)
            }
            var file: Dwarf_Word = 0
            var line: Dwarf_Word = 0
            var site = ""
            if dwarf_formudata(dwarf_attr(&scopes[index], UInt32(DW_AT_call_file), &attribute), &file) == 0,
               let files, Int(file) < fileCount, let path = dwarf_filesrc(files, Int(file), nil, nil) {
                site = relative(String(cString: path), address: address)
                if dwarf_formudata(dwarf_attr(&scopes[index], UInt32(DW_AT_call_line), &attribute), &line) == 0 {
                    site += ":" + String(line)
                }
            }
            calls.append(InlinedCall(function: name, site: site))
        }
        return calls
    }

    /// A source path without the build's directory (`DW_AT_comp_dir`), or
    /// the source tree above it for a build out of the tree (Debian builds
    /// in `/build/reproducible-path/linux-6.1.192/debian/build/build_amd64_none_amd64`):
    /// `net/ipv4/tcp.c`. Paths elsewhere (a compiler's headers) stay whole.
    func relative(_ path: String, address: UInt64) -> String {
        var bias: Dwarf_Addr = 0
        guard path.hasPrefix("/"), let cu = dwfl_module_addrdie(module, address, &bias) else { return path }
        var attribute = Dwarf_Attribute()
        guard let text = dwarf_formstring(dwarf_attr(cu, UInt32(DW_AT_comp_dir), &attribute)) else { return path }
        return Self.relative(path, to: String(cString: text))
    }

    static func relative(_ path: String, to directory: String) -> String {
        let file = normalized(path)
        let base = normalized(directory)
        var common = 0
        while common < min(file.count - 1, base.count), file[common] == base[common] { common += 1 }
        // At least two directories in common (`/build/x`), so that `/usr/...` stays whole.
        guard common >= 2 else { return path }
        return file[common...].joined(separator: "/")
    }

    /// A path's components with `.` and `dir/..` removed.
    static func normalized(_ path: String) -> [String] {
        var parts: [String] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", !parts.isEmpty, parts.last != ".." { parts.removeLast() } else { parts.append(String(part)) }
        }
        return parts
    }
}

/// A function inlined at a frame's address (DWARF's
/// `DW_TAG_inlined_subroutine`): its name, and where its parent (the next
/// one out, or the frame's function) inlined it, `file:line`.
public struct InlinedCall: Sendable, Hashable, Codable {
    public let function: String
    public let site: String

    public init(function: String, site: String) {
        self.function = function
        self.site = site
    }
}
