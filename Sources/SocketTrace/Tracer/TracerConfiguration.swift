/// Which syscalls a trace shows: strace's `-e trace=` set, and whether calls
/// that take any descriptor (read, write, close…) are shown only on sockets.
public struct SyscallSelection: Sendable {
    public var syscalls: Set<Syscall>
    public var onlySocketDescriptors: Bool

    public init(syscalls: Set<Syscall>, onlySocketDescriptors: Bool) {
        self.syscalls = syscalls
        self.onlySocketDescriptors = onlySocketDescriptors
    }

    /// Every socket call, and descriptor calls on sockets.
    public static let sockets = SyscallSelection(
        syscalls: Set(Syscall.allCases.filter { $0 != .socketcall }), onlySocketDescriptors: true)

    public func contains(_ syscall: Syscall) -> Bool { syscalls.contains(syscall) }

    /// Parses strace's `-e trace=SET`: names, `%net`/`%network`, `all`, a
    /// leading `!` to negate. Names sockettrace does not decode are an error.
    public static func parse(_ expression: String) throws -> SyscallSelection {
        var text = Substring(expression)
        if text.hasPrefix("trace=") { text = text.dropFirst(6) }
        var negate = false
        if text.hasPrefix("!") {
            negate = true
            text = text.dropFirst()
        }
        var chosen: Set<Syscall> = []
        for item in text.split(separator: ",") {
            switch item {
            case "%net", "%network", "network":
                chosen.formUnion(Syscall.allCases.filter(\.isNetwork))
            case "all", "%all":
                chosen.formUnion(Syscall.allCases.filter { $0 != .socketcall })
            case "%desc":
                chosen.formUnion(Syscall.allCases.filter { $0 != .socketcall })
            default:
                guard let syscall = Syscall(rawValue: String(item)) else {
                    throw TraceError(.usage, operation: "invalid system call '\(item)' (sockettrace decodes: "
                        + Syscall.allCases.map(\.rawValue).joined(separator: ",") + ")")
                }
                chosen.insert(syscall)
                if syscall == .fcntl { chosen.insert(.fcntl64) }
                if syscall == .sendfile { chosen.insert(.sendfile64) }
                if syscall == .recvmmsg { chosen.insert(.recvmmsg_time64) }
            }
        }
        if negate {
            chosen = Set(Syscall.allCases.filter { $0 != .socketcall }).subtracting(chosen)
        }
        return SyscallSelection(syscalls: chosen, onlySocketDescriptors: false)
    }
}

/// How a descriptor argument is written.
public enum DescriptorStyle: Sendable {
    /// `3`
    case number
    /// strace's `-yy`: `3<TCP:[127.0.0.1:40000->127.0.0.1:12345]>`, paths for files.
    case straceDecorated
    /// sockettrace's own: sockets decorated, other descriptors plain.
    case socketsDecorated
}

/// Everything that decides what a trace records.
public struct TracerConfiguration: Sendable {
    public var followForks: Bool = true
    /// Read each traced thread's CPU time at its entry and exit stops (`-c`):
    /// the calls' system time.
    public var measuresSystemTime = false
    /// Stop only on traced syscalls (seccomp-bpf), where the kernel allows it.
    public var useSeccomp: Bool = true
    /// With kernel observation: stop each thread at its exit
    /// (PTRACE_EVENT_EXIT) to sample what its process's end releases.
    public var capturesExits: Bool = true
    /// With kernel observation: reads and writes on sockets recorded by the
    /// kernel (`DataCallCapture`) instead of stopping at them.
    public var capturesDataCalls: Bool = true
    public var selection: SyscallSelection = .sockets
    public var decodeOptions = DecodeOptions()
    public var descriptorStyle: DescriptorStyle = .socketsDecorated
    /// Also decode each call with plain descriptors (strace's text), for trace files.
    public var recordPlainText = false
    /// Whether outputs show or pair socket addresses (so the kernel is asked
    /// for the ones it chose); strace's own lines without -yy do not.
    public var resolveAddresses = true
    /// User stacks at each shown call (`-k`), with DWARF source lines (`-kk`).
    public var stackTraces: StackTraces = .off
    /// Globs of the program's own functions to trace (`--functions`); none: off.
    public var functionPatterns: [String] = []

    public enum StackTraces: Sendable { case off, functions, lines }

    public init() {}

    /// With `-k`: the calls that change a process's mappings, after which its
    /// module list must be read again (and only then).
    var memoryMapCalls: MemoryMapCalls? { stackTraces == .off ? nil : MemoryMapCalls() }

    /// Why reads and writes must stop here, or nil when the kernel can
    /// record them (`DataCallCapture`): its records hold the call's
    /// arguments, result, times and the first bytes; not its user stack,
    /// CPU time, the functions it ran in, a file's bytes, or more than 4096.
    public var dataCallsMustStop: String? {
        if !capturesDataCalls { return "--stop-data-calls" }
        if !useSeccomp || !followForks { return "every call stops (no seccomp filter)" }
        if stackTraces != .off { return "-k reads each call's stack" }
        if !functionPatterns.isEmpty { return "--functions follows the program's functions between calls" }
        if measuresSystemTime { return "-c reads each call's CPU time" }
        if !selection.onlySocketDescriptors { return "-e trace= shows reads and writes of files too" }
        if !selection.contains(.read) && !selection.contains(.write) { return "no read or write is traced" }
        if decodeOptions.stringLimit > Int(DataCallProgram.maximumCapture) { return "-s above \(DataCallProgram.maximumCapture)" }
        return nil
    }

    /// The syscalls that must stop the tracee: those shown, and those that
    /// change which descriptors are sockets.
    var stopSyscalls: Set<Syscall> {
        selection.syscalls.union(Syscall.allCases.filter(\.changesDescriptors))
    }
}
