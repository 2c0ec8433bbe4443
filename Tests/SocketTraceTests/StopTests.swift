import Foundation
import CSpawn
import Glibc
import Testing
@testable import SocketTrace

/// `Stop`, the loop's reading of a wait status: every kind a tracer meets,
/// from statuses written out as the kernel encodes them, and from real
/// processes that exit, are killed and stop.
@Suite struct StopTests {
    /// A ptrace stop's status: 0x7f, the signal in bits 8–15, the event in 16–23.
    static func stopped(_ signal: Int32, event: Int32 = 0) -> Int32 { 0x7f | (signal << 8) | (event << 16) }

    @Test("every stop a tracer meets, as the kernel encodes it")
    func encodings() {
        let cases: [(Int32, Stop)] = [
            (0, .exited(status: 0)),
            (7 << 8, .exited(status: 7)),
            (255 << 8, .exited(status: 255)),
            (SIGKILL, .killed(signal: SIGKILL, coreDumped: false)),
            (SIGSEGV | 0x80, .killed(signal: SIGSEGV, coreDumped: true)),
            (Self.stopped(SIGTRAP | 0x80), .syscall),
            (Self.stopped(SIGTRAP), .signal(SIGTRAP)),
            (Self.stopped(SIGUSR1), .signal(SIGUSR1)),
            (Self.stopped(SIGTRAP, event: 7), .seccomp),
            (Self.stopped(SIGTRAP, event: 1), .created(.fork)),
            (Self.stopped(SIGTRAP, event: 2), .created(.vfork)),
            (Self.stopped(SIGTRAP, event: 3), .created(.clone)),
            (Self.stopped(SIGTRAP, event: 4), .exec),
            (Self.stopped(SIGTRAP, event: 5), .otherEvent(5)),
            (Self.stopped(SIGTRAP, event: 6), .exiting),
            (Self.stopped(SIGSTOP, event: 128), .groupStop(signal: SIGSTOP)),
            (Self.stopped(SIGTTOU, event: 128), .groupStop(signal: SIGTTOU)),
            (Self.stopped(SIGTRAP, event: 128), .eventStop(signal: SIGTRAP)),
            (0xffff, .other(0xffff)),
        ]
        for (status, expected) in cases {
            #expect(Stop(waitStatus: status) == expected, "status \(String(status, radix: 16))")
        }
        #expect(Stop(waitStatus: Self.stopped(SIGTRAP, event: 128)).isInterrupt)
        #expect(Stop(waitStatus: Self.stopped(SIGUSR1)).pendingSignal == SIGUSR1)
        #expect(Stop(waitStatus: Self.stopped(SIGTRAP | 0x80)).pendingSignal == nil, "a syscall-stop delivers nothing on detach")
        #expect(Stop(waitStatus: SIGKILL).isEnd && !Stop(waitStatus: SIGKILL).isStopped)
    }

    /// Runs `script` in a shell and returns the status wait gives for it.
    static func status(of script: String, signal: Int32? = nil, options: Int32 = 0) throws -> Int32 {
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", script]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        _ = cs_spawn_actions_close_from(&actions, 3)
        #expect(posix_spawn(&pid, "/bin/sh", &actions, nil, &argv, environ) == 0)
        if let signal {
            usleep(100_000)
            kill(pid, signal)
        }
        var status: Int32 = 0
        #expect(waitpid(pid, &status, options) == pid)
        if Stop(waitStatus: status).isStopped {
            kill(pid, SIGKILL)
            var ended: Int32 = 0
            waitpid(pid, &ended, 0)
        }
        return status
    }

    @Test("real processes: an exit status, a kill, a stop")
    func realStatuses() throws {
        #expect(Stop(waitStatus: try Self.status(of: "exit 7")) == .exited(status: 7))
        #expect(Stop(waitStatus: try Self.status(of: "exec sleep 10", signal: SIGKILL)) == .killed(signal: SIGKILL, coreDumped: false))
        // Not traced, a stopped child reports as a signal-delivery-stop's encoding does.
        #expect(Stop(waitStatus: try Self.status(of: "kill -STOP $$; exit 3", options: WUNTRACED)) == .signal(SIGSTOP))
    }
}
