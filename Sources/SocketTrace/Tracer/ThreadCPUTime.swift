/// A thread's CPU time so far, from /proc/TID/schedstat (nanoseconds on a
/// CPU, the scheduler's own account): clock_gettime cannot read another
/// process's thread clocks, and /proc/TID/stat counts in 10 ms ticks.
enum ThreadCPUTime {
    static func nanoseconds(tid: Int32) -> UInt64? {
        guard let bytes = ProcFile.bytes("/proc/\(tid)/schedstat", limit: 128) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { break }
            value = value &* 10 &+ UInt64(byte - 0x30)
            digits += 1
        }
        return digits > 0 ? value : nil
    }
}
