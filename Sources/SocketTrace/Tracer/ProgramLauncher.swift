import CSpawn
import Glibc

/// Finds the program to run the way a shell does (a name with a slash is a
/// path; otherwise each directory of PATH), and says why when it cannot.
public enum ProgramLocator {
    public static func resolve(_ program: String, path: String? = getenv("PATH").map { String(cString: $0) }) throws -> String {
        if program.contains("/") {
            try check(program, name: program)
            return program
        }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        var sawNotExecutable = false
        for directory in directories {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            var info = stat()
            guard stat(candidate, &info) == 0, info.st_mode & S_IFMT != S_IFDIR else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            sawNotExecutable = true
        }
        if sawNotExecutable {
            throw TraceError(.programNotExecutable, operation: "Can't execute '\(program)'", errno: EACCES)
        }
        throw TraceError(.programNotFound, operation: "Can't stat '\(program)'", errno: ENOENT)
    }

    static func check(_ path: String, name: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            throw TraceError(code == ENOENT || code == ENOTDIR ? .programNotFound : .programNotExecutable,
                             operation: "Can't stat '\(name)'", errno: code)
        }
        if info.st_mode & S_IFMT == S_IFDIR || access(path, X_OK) != 0 {
            throw TraceError(.programNotExecutable, operation: "Can't execute '\(name)'",
                             errno: info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EACCES)
        }
    }
}

/// Starts a program stopped, ready to be seized: fork, SIGSTOP, then (once
/// resumed) the seccomp filter and exec. The filter is built here; the
/// child (C, CSpawn) only installs it.
enum ProgramLauncher {
    struct Launched {
        let pid: Int32
        let execErrorPipe: Int32
    }

    /// `runFree`: x86-64 calls that never stop, whose records come from the
    /// kernel (`DataCallCapture`); an i386 process's stop as before (the kernel times them only).
    static func spawn(path: String, arguments: [String], stopSyscalls: Set<Syscall>?,
                      alsoStopAt extra: MemoryMapCalls? = nil, runFree: Set<Syscall> = []) throws -> Launched {
        // io_uring_setup stops too (at its entry only): its process's
        // descriptors may then change out of the calls' sight (`RingSetupCall`).
        let ring = stopSyscalls == nil ? [] : [RingSetupCall.number]
        let x86 = ((stopSyscalls ?? []).subtracting(runFree).compactMap(\.x86_64Number)
            + (stopSyscalls == nil ? [] : extra?.x86_64 ?? []) + ring).sorted()
        var i386 = ((stopSyscalls ?? []).compactMap(\.i386Number) + (stopSyscalls == nil ? [] : extra?.i386 ?? []) + ring).sorted()
        if let set = stopSyscalls, !set.isEmpty, let socketcall = Syscall.socketcall.i386Number, !i386.contains(socketcall) {
            i386.append(socketcall)
        }
        // argv[0] stays as the user typed it, as a shell would pass it.
        let argv = (arguments.isEmpty ? [path] : arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var cArgv: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        // No numbers, no filter: every call stops (or none is traced).
        let filter = x86.isEmpty && i386.isEmpty ? [] : try SeccompFilter(x86_64: x86, i386: i386).cProgram
        var errorPipe: Int32 = -1
        let pid = filter.withUnsafeBufferPointer { filterBuffer in
            cArgv.withUnsafeMutableBufferPointer { argvBuffer in
                cs_spawn_stopped(path, argvBuffer.baseAddress, environ,
                                 filterBuffer.baseAddress, UInt16(filter.count), &errorPipe)
            }
        }
        guard pid > 0 else { throw TraceError.system("fork") }
        return Launched(pid: pid, execErrorPipe: errorPipe)
    }
}
