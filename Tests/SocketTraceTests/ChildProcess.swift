import Foundation
import CSpawn
import Glibc

/// A child process started with posix_spawn, an empty signal mask and
/// default signal dispositions (Foundation's Process passes on the test
/// runner's blocked signals, which breaks shells and signal tests), with its
/// standard streams on pipes, and no other descriptor: tests run in
/// parallel, and a pipe or a bound socket of another test inherited by a
/// long-lived child would keep that test's reader from its end of file, or
/// a port bound, or shift the descriptors a traced program is given.
final class ChildProcess {
    let pid: pid_t
    /// The command line, as a timeout names it.
    let command: String
    private(set) var stdinFD: Int32
    let stdoutFD: Int32
    let stderrFD: Int32
    private var reapedStatus: Int32?

    init(_ path: String, _ arguments: [String], stdinFromPipe: Bool = false) throws {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func makePipe(_ fds: inout [Int32]) throws {
            guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
            fds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        }
        try makePipe(&outPipe)
        try makePipe(&errPipe)
        if stdinFromPipe { try makePipe(&inPipe) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdinFromPipe {
            posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        _ = cs_spawn_actions_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group, so a timeout can end everything it started.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        close(outPipe[1])
        close(errPipe[1])
        if stdinFromPipe { close(inPipe[0]) }
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT) }
        pid = child
        command = ([path] + arguments).joined(separator: " ")
        stdinFD = inPipe[1]
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        stdoutReader = PipeReader(stdoutFD)
        stderrReader = PipeReader(stderrFD)
    }

    private var stdoutReader: PipeReader!
    private var stderrReader: PipeReader!

    func writeStdin(_ text: String) {
        _ = text.withCString { write(stdinFD, $0, strlen($0)) }
    }

    func closeStdin() {
        if stdinFD >= 0 { close(stdinFD) }
        stdinFD = -1
    }

    /// Blocks until the child printed `text` on standard output.
    func waitForOutput(_ text: String, timeout: TimeInterval = 20) -> Bool {
        Self.poll(timeout: timeout) { stdoutReader.snapshot().contains(text) }
    }

    /// What the child printed on standard error so far.
    func stderrSoFar() -> String { stderrReader.snapshot() }

    /// Blocks until the child printed `text` on standard error.
    func waitForError(_ text: String, timeout: TimeInterval = 20) -> Bool {
        Self.poll(timeout: timeout) { stderrReader.snapshot().contains(text) }
    }

    /// Checks `condition` every 10 ms until it holds or `timeout` passes.
    static func poll(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    /// What the child printed on standard output so far.
    var outputSoFar: String { stdoutReader.snapshot() }

    var isRunning: Bool {
        if reapedStatus != nil { return false }
        var status: Int32 = 0
        let got = waitpid(pid, &status, WNOHANG)
        if got == pid { reapedStatus = status }
        return got == 0
    }

    /// Waits for the child; on timeout it is killed and an error thrown.
    func wait(timeout: TimeInterval = 60) throws -> TestSupport.Output {
        let deadline = Date().addingTimeInterval(timeout)
        while reapedStatus == nil {
            var status: Int32 = 0
            let got = waitpid(pid, &status, WNOHANG)
            if got == pid { reapedStatus = status; break }
            if Date() > deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw TestSupport.TimedOut(command: "pid \(pid): \(command.prefix(300)); its stderr so far: \(stderrReader.snapshot().suffix(1000))"
                                           + "; its stdout so far: \(stdoutReader.snapshot().suffix(3000))")
            }
            usleep(5_000)
        }
        let status = reapedStatus!
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return TestSupport.Output(status: code, stdout: stdoutReader.finish(), stderr: stderrReader.finish())
    }

    /// Collects a pipe on its own thread so the child never blocks on a full pipe.
    final class PipeReader: @unchecked Sendable {
        private var data: [UInt8] = []
        private let lock = NSLock()
        private let done = DispatchSemaphore(value: 0)

        init(_ fd: Int32) {
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    lock.withLock { data.append(contentsOf: buffer[0..<n]) }
                }
                close(fd)
                done.signal()
            }
        }

        func snapshot() -> String { lock.withLock { String(decoding: data, as: UTF8.self) } }

        func finish() -> String {
            done.wait()
            return snapshot()
        }
    }
}
