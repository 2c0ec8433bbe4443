import Foundation
import Testing

/// Where things are, how to run them, and what this machine can do.
enum TestSupport {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The sockettrace binary next to the test bundle (the test target depends on it).
    static var sockettrace: String {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return executable.deletingLastPathComponent().appendingPathComponent("sockettrace").path
    }

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

    /// Kernel call chains need root (CAP_PERFMON), readable kallsyms and tracefs.
    static let canObserveKernel: Bool = underCI || (getuid() == 0
        && FileManager.default.isReadableFile(atPath: "/proc/kallsyms")
        && FileManager.default.fileExists(atPath: "/sys/kernel/tracing"))
    static let hasPerf: Bool = underCI || commandExists("perf")

    static let hasStrace: Bool = underCI || commandExists("strace")
    static let canBuild32: Bool = underCI || FileManager.default.fileExists(atPath: "/usr/lib32/libc.so")
        || FileManager.default.fileExists(atPath: "/usr/lib/gcc/x86_64-linux-gnu/12/32/libgcc.a")

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
    static func build(_ source: String, bits32: Bool = false, directory: String = "Tests/Programs") throws -> String {
        let name = (source as NSString).deletingPathExtension + (bits32 ? "-32" : "")
        let output = buildDirectory.appendingPathComponent(name).path
        try buildLock.withLock {
            if FileManager.default.fileExists(atPath: output) { return }
            var flags = ["-g", "-O0", "-w", "-pthread", "-o", output, packageRoot.appendingPathComponent(directory).appendingPathComponent(source).path]
            if bits32 { flags.insert("-m32", at: 0) }
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

    /// A port unlikely to be in use, different for every call in this run.
    static func freshPort() -> Int {
        portLock.withLock {
            nextPort += 10
            return nextPort
        }
    }

    nonisolated(unsafe) static var nextPort = 20000 + Int(getpid() % 1000) * 10
    static let portLock = NSLock()

    static func temporaryFile(_ name: String) -> String {
        buildDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
    }
}
