import CElfUtils
import Glibc

/// Unwinds the user stack of a ptrace-stopped thread with libdwfl: modules
/// from /proc/PID/maps, read again only after the process mapped or
/// unmapped memory (the tracer reports mmap, munmap, mprotect, mremap and
/// brk; exec ends the session), functions from the ELF symbol tables, and
/// source lines from DWARF when asked. One libdwfl session per process,
/// ended with it; a frame cache per process, keyed by address.
public final class UserStackUnwinder: @unchecked Sendable {
    final class Session {
        let dwfl: OpaquePointer
        var maps: String
        /// Set when the process changed its mappings since `maps` was read.
        var stale = false
        init(dwfl: OpaquePointer, maps: String) {
            self.dwfl = dwfl
            self.maps = maps
        }
        deinit { dwfl_end(dwfl) }
    }

    let withLines: Bool
    let maximumDepth: Int
    var sessions: [Int32: Session] = [:]
    /// Frames already resolved, per process and address.
    var cache: [Int32: [UInt64: UserFrame]] = [:]
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
        callbacks.deallocate()
    }

    /// How many times a process's mappings were read (for tests and benchmarks).
    public private(set) var mapsReads = 0

    /// Process `pid` is about to map, unmap or protect memory.
    public func mappingsChanged(_ pid: Int32) {
        sessions[pid]?.stale = true
    }

    func session(for pid: Int32) -> Session? {
        if let existing = sessions[pid], !existing.stale { return existing }
        let maps = KernelSocketLookup.readSmallFile("/proc/\(pid)/maps") ?? ""
        mapsReads += 1
        if let existing = sessions[pid] {
            existing.stale = false
            if existing.maps == maps { return existing }
            // New mappings (mmap, exec): report the modules again.
            dwfl_report_begin(existing.dwfl)
            guard dwfl_linux_proc_report(existing.dwfl, pid) == 0, dwfl_report_end(existing.dwfl, nil, nil) == 0 else { return nil }
            existing.maps = maps
            cache[pid] = [:]
            return existing
        }
        guard let dwfl = dwfl_begin(callbacks) else { return nil }
        guard dwfl_linux_proc_report(dwfl, pid) == 0, dwfl_report_end(dwfl, nil, nil) == 0,
              dwfl_linux_proc_attach(dwfl, pid, true) == 0 else {
            dwfl_end(dwfl)
            return nil
        }
        let session = Session(dwfl: dwfl, maps: maps)
        sessions[pid] = session
        return session
    }

    /// The process exited or execed: its modules and cache go.
    public func forget(_ pid: Int32) {
        sessions[pid] = nil
        cache[pid] = nil
    }

    final class Walk {
        var addresses: [(pc: UInt64, activation: Bool)] = []
        let limit: Int
        init(limit: Int) { self.limit = limit }
    }

    /// The stack of thread `tid` of process `pid`, innermost frame first.
    /// The thread must be in a ptrace-stop of this tracer.
    public func stack(pid: Int32, tid: Int32) -> [UserFrame] {
        guard let session = session(for: pid) else { return [] }
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
        return walk.addresses.map { resolve(pid: pid, session: session, pc: $0.pc, activation: $0.activation) }
    }

    /// Names and offsets use the frame's address as it is (strace's -k
    /// output); the source line uses the call instruction's address (one
    /// byte before a return address), which is the line that made the call.
    func resolve(pid: Int32, session: Session, pc: UInt64, activation: Bool) -> UserFrame {
        if let known = cache[pid]?[pc] { return known }
        var frame = UserFrame(module: "?", function: nil, offset: 0, moduleOffset: pc, file: nil, line: nil)
        if let module = dwfl_addrmodule(session.dwfl, pc) {
            if let name = dwfl_module_info(module, nil, nil, nil, nil, nil, nil, nil) { frame.module = String(cString: name) }
            var symbol = GElf_Sym()
            if let name = dwfl_module_addrsym(module, pc, &symbol, nil) {
                // `__libc_start_main@@GLIBC_2.34`: the version is not part of the name.
                frame.function = String(String(cString: name).prefix { $0 != "@" })
                frame.offset = pc &- symbol.st_value
            }
            var relative = pc
            if dwfl_module_relocate_address(module, &relative) >= 0 { frame.moduleOffset = relative }
            if withLines, let line = dwfl_module_getsrc(module, activation ? pc : pc - 1) {
                var number: Int32 = 0
                if let file = dwfl_lineinfo(line, nil, &number, nil, nil, nil) {
                    frame.file = String(cString: file)
                    frame.line = Int(number)
                }
            }
        }
        cache[pid, default: [:]][pc] = frame
        return frame
    }
}
