import CPerf
import Glibc

/// A process's exit, sampled (`ExitCaptureSource`): the probe set's
/// tracepoints (those sampled in the traced tasks, but the data calls'
/// own) opened on every CPU for every task, each with an in-kernel filter
/// on the exiting threads' ids (`common_pid == TID || …`, and the probe's
/// own filter), writing to the same rings as the rest. Opened at the first
/// exiting thread's exit stop, more events for the threads that stop at
/// their exit later, all closed when the process's end is written.
extension KernelSampler: ExitCaptureSource {
    /// `(common_pid == 41 || common_pid == 42)`, and the probe's own filter.
    static func exitFilter(threads: [Int32], own: String?) -> String {
        let names = "(" + threads.map { "common_pid == \($0)" }.joined(separator: " || ") + ")"
        return own.map { "(\($0)) && " + names } ?? names
    }

    /// The tracepoints that report what the program's data calls move (a
    /// send's or a receive's length, the copy to the program): a release
    /// does not hit them, so a capture does not open them.
    static let dataCallTracepoints: Set<String> = [
        "sock:sock_send_length", "sock:sock_recv_length", "tcp:tcp_rcv_space_adjust", "skb:skb_copy_datagram_iovec",
    ]

    /// The probes a capture opens: those sampled in the traced tasks that a release can hit.
    var exitCaptureProbes: [Probe] {
        probes.filter { !$0.everywhere && !Self.dataCallTracepoints.contains($0.name) }
    }

    func captureExit(of pid: Int32, threads: [Int32]) -> Bool {
        guard !closed, !threads.isEmpty else { return false }
        var capture = exitCaptureEvents[pid] ?? ExitCaptureEvents()
        // A tracepoint event's filter is set once (the kernel refuses a
        // second one, EEXIST): threads that reach their exit later get
        // events of their own.
        let added = threads.filter { !capture.threads.contains($0) }
        if added.isEmpty { return exitCaptureEvents[pid] != nil }
        let opened = descriptors.count
        var ids: [UInt64] = []
        var events: [(fd: Int32, probe: Probe)] = []
        do {
            // Into the rings the traced tasks' events write to (every CPU has one once a task is followed).
            for cpu in cpus where rings[cpu] != nil {
                for probe in exitCaptureProbes {
                    guard let format = formats[probe.name] else { continue }
                    let filter = Self.exitFilter(threads: added, own: try filterText(probe))
                    guard let id = try open(format, pid: -1, cpu: cpu, inherit: false, chain: true, filter: filter) else { continue }
                    events.append((descriptors[descriptors.count - 1], probe))
                    ids.append(id)
                    probeByID[id] = probe
                    exitCaptureOwner[id] = pid
                }
            }
        } catch {
            let undone = descriptors[opened...]
            for fd in undone { cs_perf_disable(fd); Glibc.close(fd) }
            descriptors.removeSubrange(opened...)
            for id in ids { probeByID[id] = nil; exitCaptureOwner[id] = nil }
            return exitCaptureEvents[pid] != nil
        }
        guard !events.isEmpty else { return exitCaptureEvents[pid] != nil }
        let now = MonotonicTime.now().nanoseconds
        for thread in added { exitCaptureThreads[thread] = (pid, now) }
        capture.events += events
        capture.ids += ids
        capture.threads += added
        exitCaptureEvents[pid] = capture
        return true
    }

    func endExitCapture(of pid: Int32) -> [KernelSample] {
        if let capture = exitCaptureEvents.removeValue(forKey: pid) {
            let fds = capture.events.map(\.fd)
            for fd in fds { cs_perf_disable(fd) }
            for fd in fds { lostByClosedEvents += PerfEvent.lostSamples(of: fd) ?? 0 }
            // Not the tracepoints' last events (the traced tasks' stay open): no wait for their unregistering.
            for fd in fds { Glibc.close(fd) }
            let closing = Set(fds)
            descriptors.removeAll { closing.contains($0) }
            // Records of them still in the rings (none: the caller drained) are dropped by their unknown id.
            for id in capture.ids { probeByID[id] = nil; exitCaptureOwner[id] = nil }
            for thread in capture.threads { exitCaptureThreads[thread] = nil }
        }
        return exitSamples.removeValue(forKey: pid) ?? []
    }

    var capturedExits: [Int32] { Array(exitCaptureEvents.keys) }

    /// Keeps a drain's captured samples for their processes' captures, but
    /// those the exiting thread's own events took too (until the kernel
    /// detaches them, early in do_exit): the same hit, twice.
    func keepCaptured(_ drained: inout Drained) {
        guard !drained.captured.isEmpty else { return }
        struct Hit: Hashable {
            let tid: Int32
            let time: UInt64
            let tracepoint: String
        }
        let tids = Set(drained.captured.map(\.sample.tid))
        let seen = Set(drained.samples.filter { tids.contains($0.tid) }.map { Hit(tid: $0.tid, time: $0.time.nanoseconds, tracepoint: $0.tracepoint) })
        for (pid, sample) in drained.captured.sorted(by: { $0.sample.time < $1.sample.time })
        where !seen.contains(Hit(tid: sample.tid, time: sample.time.nanoseconds, tracepoint: sample.tracepoint)) {
            exitSamples[pid, default: []].append(sample)
            sampleCount += 1
        }
        drained.captured = []
    }
}
