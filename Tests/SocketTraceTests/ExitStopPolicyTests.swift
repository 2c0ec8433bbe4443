import Testing
@testable import SocketTrace

/// When a call may run to its exit without a stop: each condition of the
/// policy, against a scripted source of exit records.
@Suite struct ExitStopPolicyTests {
    final class Records: ExitRecordSource {
        var exitSyscalls: Set<Syscall> = [.write, .sendto]
        var atRisk = false
        var canSample = true
        var asked: [Int32] = []
        func exitRecordsAtRisk() -> Bool { atRisk }
        func sampleExits(of tid: Int32) -> Bool {
            asked.append(tid)
            return canSample
        }
    }

    static func call(_ syscall: Syscall, architecture: Architecture = .x86_64, viaSocketcall: Bool = false) -> SyscallInvocation {
        SyscallInvocation(pid: 5, tid: 5, architecture: architecture, syscall: syscall, arguments: [3, 0, 1, 0, 0, 0],
                          viaSocketcall: viaSocketcall, entryTime: MonotonicTime(nanoseconds: 1))
    }

    @Test("a lone thread's write with exit records sampled runs to its exit; anything else stops there")
    func conditions() {
        let records = Records()
        let policy = ExitStopPolicy(records: records, seccompActive: true)
        #expect(policy.letsRunToExit(Self.call(.write), tracedThreads: 1))
        #expect(records.asked == [5], "exit records are opened for the thread at its first such call")
        #expect(!policy.letsRunToExit(Self.call(.write), tracedThreads: 2), "more threads: the exit stop overlaps other work")
        #expect(!policy.letsRunToExit(Self.call(.recvfrom), tracedThreads: 1), "no exit tracepoint sampled for it")
        #expect(!policy.letsRunToExit(Self.call(.write, architecture: .i386), tracedThreads: 1), "no exit records for 32-bit calls")
        #expect(!policy.letsRunToExit(Self.call(.sendto, viaSocketcall: true), tracedThreads: 1))
        #expect(!ExitStopPolicy(records: records, seccompActive: false).letsRunToExit(Self.call(.write), tracedThreads: 1),
                "without seccomp every call stops at its exit anyway")
        #expect(!ExitStopPolicy(records: nil, seccompActive: true).letsRunToExit(Self.call(.write), tracedThreads: 1))
        records.atRisk = true
        #expect(!policy.letsRunToExit(Self.call(.write), tracedThreads: 1), "a ring filling up could lose the record")
        records.atRisk = false
        records.canSample = false
        #expect(!policy.letsRunToExit(Self.call(.write), tracedThreads: 1))
    }
}
