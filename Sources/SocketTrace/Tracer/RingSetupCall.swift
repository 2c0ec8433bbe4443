import Foundation

/// io_uring_setup. A process with a ring opens, closes and accepts
/// descriptors through it (IORING_OP_SOCKET, _ACCEPT, _CLOSE, run in
/// io_uring_enter or its workers), out of sight of the calls traced: a
/// number its table names may by now be another file (audit 98 B, and a
/// UDP socket io_uring made at a closed TCP one's number was shown with
/// that connection's addresses). The call stops at its entry only, not
/// shown, and marks its process (`TracedProcess.descriptorsChangeUnseen`):
/// each later call's descriptors are checked against /proc before use.
enum RingSetupCall {
    /// Its number, the same on x86_64 and i386 (both since 5.1).
    static let number: UInt32 = 425

    static func matches(_ number: UInt64) -> Bool { number == UInt64(Self.number) }

    /// What /proc/PID/fd/N links to for a ring's descriptor.
    static let ringTarget = "anon_inode:[io_uring]"
}

extension RingSetupCall {
    /// Whether process `pid` holds an io_uring instance now (a process
    /// attached to may have made one before).
    static func held(by pid: Int32) -> Bool {
        guard let open = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return false }
        return open.contains { KernelSocketLookup.descriptorTarget(pid: pid, fd: Int32($0) ?? -1) == ringTarget }
    }
}
