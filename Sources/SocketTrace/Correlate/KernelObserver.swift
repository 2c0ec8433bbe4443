import Foundation
import Glibc

/// Kernel observation for one trace: the sampler (when the kernel and the
/// user's privileges allow it) and the correlator that turns its samples into
/// per-syscall activity. Without a sampler, calls are annotated from the
/// model alone, marked as expected.
public final class KernelObserver {
    public enum Mode: String, Sendable, CaseIterable {
        case auto, on, off
    }

    public let sampler: KernelSampler?
    public let correlator: KernelCorrelator
    public let model: StackModel?
    /// Why chains are not observed, said once to the user.
    public let unavailableReason: String?
    /// The probe set sampled (`auto` resolved), and what `auto` chose and why.
    public private(set) var probeSet = "default"
    public private(set) var probeSetNote: String?
    /// Being read while the trace is set up (`KernelSymbols.loadInBackground`).
    let symbols: KernelSymbols?
    /// With `--function-graph`: the kernel's function_graph tracer on the traced threads.
    public private(set) var functionGraph: FunctionGraphTracer?

    /// What `--function-graph` asks for: graphs of these syscalls, this deep.
    public struct FunctionGraphRequest: Sendable {
        public var syscalls: [Syscall]
        public var maxDepth: Int

        public init(syscalls: [Syscall], maxDepth: Int) {
            self.syscalls = syscalls
            self.maxDepth = maxDepth
        }
    }

    init(sampler: KernelSampler?, correlator: KernelCorrelator, model: StackModel?, unavailableReason: String?,
         symbols: KernelSymbols?) {
        self.sampler = sampler
        self.symbols = symbols
        self.correlator = correlator
        self.model = model
        self.unavailableReason = unavailableReason
    }

    /// Sets up observation. `.on` fails when it cannot observe; `.auto`
    /// falls back to the model alone and says why.
    /// The probe set `auto` stands for: `functions` where the kernel has kprobes.
    public static let automaticProbeSet = "auto"
    public static let functionsProbeSet = "functions"

    public static func make(mode: Mode, model: StackModel?, probeSet requested: String,
                            ringPages: UInt64 = KernelSampler.defaultRingPages,
                            functionGraph graph: FunctionGraphRequest? = nil) throws -> KernelObserver? {
        if mode == .off {
            if graph != nil { throw TraceError(.usage, operation: "--function-graph: kernel observation is off (--kernel off, --format strace without --save, or -c)") }
            return nil
        }
        // Asked for a tracer the kernel does not have: a usage error, whatever the mode.
        let graphTracefs = try graph.map { _ in try openForFunctionGraph() }
        let kprobes = Kprobes.available
        var probeSet = requested
        var note: String?
        if requested == automaticProbeSet {
            let functions = kprobes && model?.probeSets[functionsProbeSet] != nil
            probeSet = functions ? functionsProbeSet : "default"
            note = functions ? "--probe-set auto: this kernel has kprobes, so every model function is probed (functions)"
                : "--probe-set auto: default (\(!kprobes ? Kprobes.unavailable : "the model has no set 'functions'"))"
        }
        let observer: KernelObserver?
        do {
            observer = try make(mode: mode, model: model, probeSet: probeSet, kprobes: kprobes, ringPages: ringPages, tracefs: graphTracefs)
        } catch {
            graphTracefs?.release()
            throw error
        }
        if let graph, let graphTracefs, let observer {
            // The sampler (if any) unmounts a tracefs it shares when it closes, after the graph's tracer.
            observer.functionGraph = FunctionGraphTracer(tracefs: graphTracefs, releasesTracefs: observer.sampler == nil,
                                                         syscalls: graph.syscalls, maxDepth: graph.maxDepth)
        }
        observer?.probeSet = probeSet
        observer?.probeSetNote = note
        return observer
    }

    /// Tracefs, where its `available_tracers` has function_graph; else a usage error saying why.
    static func openForFunctionGraph() throws -> Tracefs {
        let tracefs: Tracefs
        do {
            tracefs = try Tracefs.open(mountIfNeeded: true)
        } catch let error as TraceError {
            throw TraceError(.usage, operation: "--function-graph: tracefs cannot be used (\(error.description))")
        }
        if let reason = FunctionGraphTracer.unavailableReason(tracefs) {
            tracefs.release()
            throw TraceError(.usage, operation: "--function-graph: " + reason)
        }
        return tracefs
    }

    static func make(mode: Mode, model: StackModel?, probeSet: String, kprobes: Bool, ringPages: UInt64,
                     tracefs shared: Tracefs? = nil) throws -> KernelObserver? {
        let symbols = KernelSymbols.loadInBackground()
        let correlator = KernelCorrelator(model: model, symbols: symbols, code: KernelCorrelator.readCode(symbols))
        func unavailable(_ reason: String) throws -> KernelObserver {
            if mode == .on { throw TraceError(operation: "kernel observation unavailable: \(reason)") }
            return KernelObserver(sampler: nil, correlator: correlator, model: model, unavailableReason: reason, symbols: symbols)
        }
        guard let model else { return try unavailable("no reference model (Probes/) was found; use --probes DIR") }
        guard let probes = model.probeSets[probeSet] else {
            throw TraceError(.usage, operation: "no probe set '\(probeSet)' in \(model.directory)/probes.conf (have: \(model.probeSets.keys.sorted().joined(separator: ", ")))")
        }
        // Asked for kprobes on a kernel without them: a usage error, whatever the mode.
        if probes.contains(where: \.isKprobe) && !kprobes {
            throw TraceError(.usage, operation: "--probe-set \(probeSet) puts kprobes on the model's functions, but \(Kprobes.unavailable)")
        }
        guard let symbols else {
            return try unavailable("/proc/kallsyms hides kernel addresses (kptr_restrict, or not root): chains cannot be named")
        }
        let paranoid = ProcFile.text("/proc/sys/kernel/perf_event_paranoid").flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 2
        if geteuid() != 0 && paranoid > 1 {
            return try unavailable("kernel call chains need root or CAP_PERFMON (perf_event_paranoid is \(paranoid))")
        }
        let tracefs: Tracefs
        do {
            tracefs = try shared ?? Tracefs.open(mountIfNeeded: true)
        } catch let error as TraceError {
            return try unavailable(error.description)
        }
        do {
            let sampler = try KernelSampler(probes: probes, tracefs: tracefs, symbols: symbols, ringPages: ringPages,
                                            exitSyscalls: Syscall.resultOnlyExits,
                                            functions: model.kprobeTargets(probes, kernel: .running))
            correlator.fileFreesSampled = FileRelease.isSampled(by: probes)
            correlator.samplesLost = { [unowned sampler] in sampler.lostSamples > 0 }
            // (The BPF program is loaded at the first task followed.)
            correlator.packetSocket = { [unowned sampler] sample in
                guard let elsewhere = sampler.elsewhereTransmits, let skb = sample.skbAddress else { return nil }
                return elsewhere.socket(ofSkb: UInt64(bitPattern: skb), at: sample.time.nanoseconds, tid: sample.tid, cpu: sample.cpu)
            }
            return KernelObserver(sampler: sampler, correlator: correlator, model: model, unavailableReason: nil, symbols: symbols)
        } catch let error as TraceError {
            if shared == nil { tracefs.release() }
            return try unavailable(error.description)
        }
    }

    /// Starts sampling a task (and its future children); the program runs
    /// while the kernel's symbols are still being read.
    func follow(_ pid: Int32) throws {
        try sampler?.follow(pid: pid, inherit: true)
        try functionGraph?.follow(pid)
        if let status = sampler?.functionProbes { correlator.functionProbes = status }
    }

    /// Whether the kernel's symbols are read. Until then the tracer leaves
    /// its output (which names kernel frames) waiting and only handles
    /// stops: a stopped tracee never waits for the symbols, so no call's
    /// duration includes their reading (~65 ms of the kernel formatting
    /// /proc/kallsyms when no kept copy serves), and the program does not
    /// wait for it to start.
    var symbolsRead: Bool { symbols?.isRead ?? true }

    /// The graph's tracer first: the sampler unmounts a tracefs it mounted.
    func close() {
        functionGraph?.close()
        sampler?.close()
    }
}
