import CElfUtils
import CUnwind
import Glibc

/// Unwinds the user stack of a ptrace-stopped thread with libdwfl: modules
/// from /proc/PID/maps, read again only after the process mapped or
/// unmapped memory (the tracer reports mmap, munmap, mprotect, mremap and
/// brk; exec ends the session), functions from the ELF symbol tables, and
/// source lines from DWARF when asked. One libdwfl session per process,
/// ended with it; a frame cache per process, keyed by address.
public final class UserStackUnwinder {
    /// A libdwfl session: the modules of one address-space layout. Processes
    /// with the same mappings (a fork and its parent) share one; an x86_64
    /// session is attached with sockettrace's own thread callbacks, which
    /// unwind whichever process and thread is set before each walk.
    final class Session {
        let dwfl: OpaquePointer
        let maps: String
        /// The shared callbacks' target (x86_64), nil when libdwfl's own
        /// /proc attach is used (one process only).
        let target: UnsafeMutableRawPointer?
        var users: Set<Int32> = []
        /// Frames already resolved, by address.
        var frames: [UInt64: UserFrame] = [:]
        init(dwfl: OpaquePointer, maps: String, target: UnsafeMutableRawPointer?) {
            self.dwfl = dwfl
            self.maps = maps
            self.target = target
        }
        deinit { dwfl_end(dwfl) }
    }

    let withLines: Bool
    let maximumDepth: Int
    /// The session each traced process uses.
    var sessions: [Int32: Session] = [:]
    /// Shareable sessions by the mappings they were reported from.
    var byMaps: [String: Session] = [:]
    /// Processes whose mappings changed since their session was chosen.
    var stale: Set<Int32> = []
    /// libdwfl keeps a pointer to its callbacks for the session's life.
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>

    public init(withLines: Bool, maximumDepth: Int = 256) {
        self.withLines = withLines
        self.maximumDepth = maximumDepth
        callbacks = UnsafeMutablePointer<Dwfl_Callbacks>.allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(find_elf: dwfl_linux_proc_find_elf, find_debuginfo: dwfl_standard_find_debuginfo,
                                                section_address: nil, debuginfo_path: nil))
    }

    deinit {
        sessions.removeAll()
        byMaps.removeAll()
        callbacks.deallocate()
    }

    /// How many times a process's mappings were read (for tests and benchmarks).
    public private(set) var mapsReads = 0

    /// Process `pid` is about to map, unmap or protect memory.
    public func mappingsChanged(_ pid: Int32) {
        stale.insert(pid)
    }

    func session(for pid: Int32, bits32: Bool) -> Session? {
        if let existing = sessions[pid], !stale.contains(pid) { return existing }
        stale.remove(pid)
        let maps = ProcFile.text("/proc/\(pid)/maps") ?? ""
        mapsReads += 1
        if let existing = sessions[pid], existing.maps == maps { return existing }
        release(pid)
        if !bits32, let shared = byMaps[maps] {
            shared.users.insert(pid)
            sessions[pid] = shared
            return shared
        }
        guard let dwfl = dwfl_begin(callbacks) else { return nil }
        guard dwfl_linux_proc_report(dwfl, pid) == 0, dwfl_report_end(dwfl, nil, nil) == 0 else {
            dwfl_end(dwfl)
            return nil
        }
        var target: UnsafeMutableRawPointer?
        if bits32 {
            guard dwfl_linux_proc_attach(dwfl, pid, true) == 0 else {
                dwfl_end(dwfl)
                return nil
            }
        } else {
            guard let attached = cs_unwind_attach(UnsafeMutableRawPointer(dwfl), pid) else {
                dwfl_end(dwfl)
                return nil
            }
            target = attached
        }
        let session = Session(dwfl: dwfl, maps: maps, target: target)
        session.users.insert(pid)
        sessions[pid] = session
        if !bits32 { byMaps[maps] = session }
        return session
    }

    /// Process `pid` no longer uses its session; the last user ends it.
    func release(_ pid: Int32) {
        guard let session = sessions.removeValue(forKey: pid) else { return }
        session.users.remove(pid)
        if session.users.isEmpty, byMaps[session.maps] === session { byMaps[session.maps] = nil }
    }

    /// The process exited or execed: its session goes (with its last user).
    public func forget(_ pid: Int32) {
        release(pid)
        stale.remove(pid)
    }

    final class Walk {
        var addresses: [(pc: UInt64, activation: Bool)] = []
        let limit: Int
        init(limit: Int) { self.limit = limit }
    }

    /// The stack of thread `tid` of process `pid`, innermost frame first.
    /// The thread must be in a ptrace-stop of this tracer.
    public func stack(pid: Int32, tid: Int32, bits32: Bool = false) -> [UserFrame] {
        guard let session = session(for: pid, bits32: bits32) else { return [] }
        if let target = session.target { cs_unwind_target_set(target, pid, tid) }
        let walk = Walk(limit: maximumDepth)
        let context = Unmanaged.passUnretained(walk).toOpaque()
        _ = dwfl_getthread_frames(session.dwfl, tid, { frame, argument in
            guard let frame, let argument else { return 1 }
            let walk = Unmanaged<Walk>.fromOpaque(argument).takeUnretainedValue()
            var pc: Dwarf_Addr = 0
            var activation = false
            guard dwfl_frame_pc(frame, &pc, &activation) else { return -1 }
            walk.addresses.append((pc, activation))
            return walk.addresses.count >= walk.limit ? 1 : 0
        }, context)
        return walk.addresses.map { resolve(session: session, pc: $0.pc, activation: $0.activation) }
    }

    /// Each module's own symbol table (strace's names), read once; nil for
    /// a module that cannot be read.
    var moduleSymbols: [String: ModuleSymbols?] = [:]

    func exportedSymbols(of path: String) -> ModuleSymbols? {
        if let known = moduleSymbols[path] { return known }
        let loaded = path.hasPrefix("/") ? ModuleSymbols.load(path: path) : nil
        moduleSymbols[path] = .some(loaded)
        return loaded
    }

    /// Names and offsets use the frame's address as it is (strace's -k
    /// output); the source line uses the call instruction's address (one
    /// byte before a return address), which is the line that made the call.
    func resolve(session: Session, pc: UInt64, activation: Bool) -> UserFrame {
        if let known = session.frames[pc] { return known }
        var frame = UserFrame(module: "?", function: nil, offset: 0, moduleOffset: pc, file: nil, line: nil)
        if let module = dwfl_addrmodule(session.dwfl, pc) {
            // The address in the module, as dwfl_module_relocate_address gives
            // it, without that call's loading of the module's whole DWARF
            // (libc's separate debug info, decompressed: ~40 ms a session).
            // dwfl_module_relocations needs the module's ELF type, which
            // dwfl_module_getelf reads from its main file (not its DWARF).
            var bias: GElf_Addr = 0
            _ = dwfl_module_getelf(module, &bias)
            var start: Dwarf_Addr = 0
            if let name = dwfl_module_info(module, nil, &start, nil, nil, nil, nil, nil) { frame.module = String(cString: name) }
            var relative = pc
            var relocated = true
            switch dwfl_module_relocations(module) {
            case 0: break                    // ET_EXEC: addresses are absolute
            case 1: relative = pc &- start    // ET_DYN: relative to the module's start
            default: relocated = dwfl_module_relocate_address(module, &relative) >= 0
            }
            if relocated {
                frame.moduleOffset = relative
                if let exported = exportedSymbols(of: frame.module)?.name(of: relative) {
                    frame.exportedName = exported.name
                    frame.exportedOffset = exported.offset
                }
            }
            var symbol = GElf_Sym()
            if let name = dwfl_module_addrsym(module, pc, &symbol, nil) {
                // `__libc_start_main@@GLIBC_2.34`: the version is not part of the name.
                frame.function = String(String(cString: name).prefix { $0 != "@" })
                frame.offset = pc &- symbol.st_value
            }
            if withLines, let line = dwfl_module_getsrc(module, activation ? pc : pc - 1) {
                var number: Int32 = 0
                if let file = dwfl_lineinfo(line, nil, &number, nil, nil, nil) {
                    frame.file = String(cString: file)
                    frame.line = Int(number)
                }
            }
        }
        session.frames[pc] = frame
        return frame
    }
}
