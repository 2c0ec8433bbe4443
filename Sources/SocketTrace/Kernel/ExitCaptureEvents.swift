import CPerf
import Glibc

/// A process's exit, sampled (`ExitCaptureSource`): the probe set's
/// tracepoints (those sampled in the traced tasks) opened on every CPU for
/// every task, each with an in-kernel filter on the exiting threads' ids
/// (`common_pid == TID || …`, and the probe's own filter), writing to the
/// same rings as the rest. Opened at the first exiting thread's exit stop,
/// widened at the next ones, closed when the process's end is written.
extension KernelSampler: ExitCaptureSource {
    /// `(common_pid == 41 || common_pid == 42)`, and the probe's own filter.
    static func exitFilter(threads: [Int32], own: String?) -> String {
        let names = "(" + threads.map { "common_pid == \($0)" }.joined(separator: " || ") + ")"
        return own.map { "(\($0)) && " + names } ?? names
    }

    func captureExit(of pid: Int32, threads: [Int32]) -> Bool {
        guard !closed, !threads.isEmpty else { return false }
        if var capture = exitCaptureEvents[pid] {
            if capture.threads == threads { return true }
            for event in capture.events {
                let filter = Self.exitFilter(threads: threads, own: try? filterText(event.probe))
                if cs_perf_set_filter(event.fd, filter) != 0 { return false }
            }
            capture.threads = threads
            exitCaptureEvents[pid] = capture
            return true
        }
        var capture = ExitCaptureEvents(threads: threads)
        let opened = descriptors.count
        do {
            // Into the rings the traced tasks' events write to (every CPU has one once a task is followed).
            for cpu in cpus where rings[cpu] != nil {
                for probe in probes where !probe.everywhere {
                    guard let format = formats[probe.name] else { continue }
                    let filter = Self.exitFilter(threads: threads, own: try filterText(probe))
                    guard let id = try open(format, pid: -1, cpu: cpu, inherit: false, chain: true, filter: filter) else { continue }
                    capture.events.append((descriptors[descriptors.count - 1], probe))
                    capture.ids.append(id)
                    probeByID[id] = probe
                    exitCaptureOwner[id] = pid
                }
            }
        } catch {
            let undone = descriptors[opened...]
            for fd in undone { cs_perf_disable(fd); Glibc.close(fd) }
            descriptors.removeSubrange(opened...)
            for id in capture.ids { probeByID[id] = nil; exitCaptureOwner[id] = nil }
            return false
        }
        guard !capture.events.isEmpty else { return false }
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
