import Foundation
import Testing
@testable import SocketTrace

/// Where things are, how to run them, and what this machine can do.
enum TestSupport {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The sockettrace binary next to the test bundle (the test target depends on it).
    static var sockettrace: String {
        _ = modelInEnvironment
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("sockettrace").path
    }

    /// The checkout's model, passed to every sockettrace the tests run
    /// ($SOCKETTRACE_PROBES), whatever build folder the binary is in.
    static let modelInEnvironment: Void = {
        setenv("SOCKETTRACE_PROBES", packageRoot.appendingPathComponent("Probes").path, 1)
    }()

    /// True under CI, where every capability must be present: a missing one
    /// fails the test instead of skipping it.
    static let underCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static func commandExists(_ name: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
        }
    }

    /// ptrace works here (no Yama restriction, not inside a tracer that forbids it).
    static let canTrace: Bool = underCI || ptraceAllowed()

    static func ptraceAllowed() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/yama/ptrace_scope", encoding: .utf8) else { return true }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == "0" || getuid() == 0
    }

    /// Kernel call chains need root (CAP_PERFMON), kallsyms with real
    /// addresses, and tracefs: found mounted, or mounted (privately, and
    /// undone) to see that it can be.
    static let canObserveKernel: Bool = underCI || (getuid() == 0 && KernelSymbols.addressesVisible() && tracefsAvailable())

    static func tracefsAvailable() -> Bool {
        guard let tracefs = try? Tracefs.open() else { return false }
        tracefs.release()
        return true
    }

    static let hasPerf: Bool = underCI || commandExists("perf")
    /// bpftrace (and tracefs for it): an independent reader of the kernel's code.
    static let hasBpftrace: Bool = underCI || (commandExists("bpftrace") && canObserveKernel)

    /// The differential tests compare with strace 6.1's lines (Debian 12's
    /// strace): another version decodes some structures differently.
    static let comparedStraceVersion = "6.1"
    static let hasStrace: Bool = underCI || straceVersion() == comparedStraceVersion

    /// The version `strace -V` reports, or nil without strace.
    static func straceVersion() -> String? {
        guard commandExists("strace"), let output = try? run("/usr/bin/env", ["strace", "-V"], timeout: 20),
              let match = output.stdout.firstMatch(of: /version (\d+\.\d+)/) else { return nil }
        return String(match.output.1)
    }

    /// gcc can build and link a 32-bit program (gcc-multilib), found by doing it.
    static let canBuild32: Bool = underCI || compiles32()

    static func compiles32() -> Bool {
        let source = temporaryFile("probe32") + ".c"
        let output = (source as NSString).deletingPathExtension
        guard FileManager.default.createFile(atPath: source, contents: Data("int main(void) { return 0; }\n".utf8)),
              let result = try? run("/usr/bin/gcc", ["-m32", "-o", output, source], timeout: 60) else { return false }
        return result.status == 0
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a program to completion, with a time limit so a hang fails the test.
    @discardableResult
    static func run(_ path: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> Output {
        try ChildProcess(path, arguments).wait(timeout: timeout)
    }

    struct TimedOut: Error, CustomStringConvertible {
        let command: String
        var description: String { "timed out: \(command)" }
    }

    /// Compiles a program of Tests/Programs (or examples/) once per test run.
    /// `optimize`: built with -O2 instead of -O0 (inlining, for DWARF's inline data).
    /// `libraries`: linked after it (`-luring`).
    static func build(_ source: String, bits32: Bool = false, optimize: Bool = false, directory: String = "Tests/Programs",
                      libraries: [String] = []) throws -> String {
        let name = (source as NSString).deletingPathExtension + (bits32 ? "-32" : "") + (optimize ? "-O2" : "")
        let output = buildDirectory.appendingPathComponent(name).path
        try buildLock.withLock {
            if FileManager.default.fileExists(atPath: output) { return }
            var flags = ["-g", optimize ? "-O2" : "-O0", "-w", "-pthread", "-o", output, packageRoot.appendingPathComponent(directory).appendingPathComponent(source).path]
            if bits32 { flags.insert("-m32", at: 0) }
            flags += libraries
            let result = try run("/usr/bin/gcc", flags)
            guard result.status == 0 else { throw BuildFailed(source: source, log: result.stderr) }
        }
        return output
    }

    struct BuildFailed: Error, CustomStringConvertible {
        let source: String
        let log: String
        var description: String { "gcc \(source) failed:\n\(log)" }
    }

    static let buildLock = NSLock()
    static let buildDirectory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sockettrace-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A shell script running the seeds' server for one connection and the
    /// client against it on `port`, both built from examples/.
    static func serverAndClientScript(port: Int) throws -> String {
        let server = try build("server.c", directory: "examples")
        let client = try build("client.c", directory: "examples")
        return "\(server) 127.0.0.1 \(port) 1 >/dev/null & \(client) 127.0.0.1 \(port) >/dev/null; wait"
    }

    /// The first of ten consecutive ports that are free (TCP and UDP on
    /// 127.0.0.1 and ::1, checked by binding them), different for every call
    /// in this run; below the ephemeral range, which the comparisons mask.
    static func freshPort() -> Int {
        portLock.withLock {
            while true {
                nextPort += 10
                if nextPort + 10 >= 32768 { nextPort = 20000 }
                if (nextPort..<nextPort + 10).allSatisfy(portIsFree) { return nextPort }
            }
        }
    }

    static func portIsFree(_ port: Int) -> Bool {
        for type in [SOCK_STREAM, SOCK_DGRAM] {
            for family in [AF_INET, AF_INET6] {
                let fd = socket(family, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { continue }
                defer { close(fd) }
                var bound: Int32 = 0
                if family == AF_INET {
                    var address = sockaddr_in()
                    address.sin_family = sa_family_t(AF_INET)
                    address.sin_port = in_port_t(UInt16(port).bigEndian)
                    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                    bound = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                } else {
                    var address = sockaddr_in6()
                    address.sin6_family = sa_family_t(AF_INET6)
                    address.sin6_port = in_port_t(UInt16(port).bigEndian)
                    address.sin6_addr = in6addr_loopback
                    bound = withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                    }
                }
                if bound != 0 && errno == EADDRINUSE { return false }
            }
        }
        return true
    }

    /// Held by a test that makes TCP timers fire on a CPU all the time
    /// (KernelTests.pacingTimer pins a paced connection to CPU 0) and by one
    /// that needs no other connection's timer work on its calls' stacks
    /// (IPv6KernelTests.delayedAck): their suites run side by side, and a
    /// timer of one connection firing on the other program's stack is that
    /// call's softirq work (its packet's flow unverified), as the tool says.
    /// Seen once, after the pacing test came: an IPv4 connection's loss
    /// probe (whose is not known) under the IPv6 test's calls.
    static let timerTrafficLock = NSLock()

    nonisolated(unsafe) static var nextPort = 20000 + Int(getpid() % 1000) * 10
    static let portLock = NSLock()

    /// A shell loop that returns once something listens on TCP `port` of
    /// 127.0.0.1 (from /proc/net/tcp), at most `seconds` later.
    static func awaitListening(port: Int, seconds: Int = 10) -> String {
        let local = String(format: "0100007F:%04X", port)
        return "for i in $(seq \(seconds * 100)); do grep -q ' \(local) 00000000:0000 0A' /proc/net/tcp && break; sleep 0.01; done"
    }

    /// Waits until process `pid` is traced (its TracerPid is set).
    static func awaitTraced(_ pid: pid_t, timeout: TimeInterval = 20) -> Bool {
        ChildProcess.poll(timeout: timeout) {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            return status.contains("TracerPid:") && !status.contains("TracerPid:\t0")
        }
    }

    static func temporaryFile(_ name: String) -> String {
        buildDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
    }
}
