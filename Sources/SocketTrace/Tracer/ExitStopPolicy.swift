/// Where a call's result can come from the kernel's exit record instead of
/// a syscall-exit stop: the one policy behind the tracer's skipped stops.
///
/// Resumed without an exit stop (seccomp stops only at the entry), an
/// x86-64 call whose exit tracepoint is sampled (opened at the first such
/// call: while one is registered every syscall on the machine takes the
/// slow path), while the thread is the only one traced, and until the rings
/// fill up (a lost record would leave the call without its result: then
/// exit stops again). Then every stop is on the program's critical path
/// and one fewer per write or send is time saved (UDP flood of 25,000
/// datagrams with kernel chains: 7.9 s → 6.1 s). With more tasks an exit
/// stop overlaps with the other side's work, and skipping it measured
/// slower (TCP ping-pong of 5,000 round trips, 12 interleaved runs:
/// 1.48 s → 1.67 s).
struct ExitStopPolicy {
    /// The source of exit records (the kernel sampler).
    let records: (any ExitRecordSource)?
    /// Whether the tracees stop only at traced calls' entries (seccomp).
    let seccompActive: Bool

    func letsRunToExit(_ call: SyscallInvocation, tracedThreads: Int) -> Bool {
        // A Fast Open sendto connects: its exit stop reads the addresses the kernel chose.
        guard seccompActive, tracedThreads == 1, !call.viaSocketcall, call.architecture == .x86_64, !call.isFastOpen,
              let records, records.exitSyscalls.contains(call.syscall), !records.exitRecordsAtRisk() else { return false }
        return records.sampleExits(of: call.tid)
    }
}

/// What the policy needs of the kernel sampler.
protocol ExitRecordSource: AnyObject {
    /// The calls whose exits the kernel has tracepoints for.
    var exitSyscalls: Set<Syscall> { get }
    /// Whether a ring lost a sample or is over half full (records may be lost).
    func exitRecordsAtRisk() -> Bool
    /// Samples `tid`'s exits from now on; false when that cannot be done.
    func sampleExits(of tid: Int32) -> Bool
}

extension KernelSampler: ExitRecordSource {}
