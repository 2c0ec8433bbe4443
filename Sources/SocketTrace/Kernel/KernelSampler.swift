import CPerf
import CSpawn
import Glibc

/// Samples tracepoints in the traced tasks with perf_event_open: one event
/// per (task, CPU, tracepoint) with `inherit` so children are covered, all of
/// a CPU's events writing to one ring buffer, each hit with its kernel call
/// chain (CLOCK_MONOTONIC time, the clock the tracer stamps syscalls with).
/// Every descriptor and mapping is released by `close()`.
public final class KernelSampler {
    let probes: [Probe]
    /// The probe set's tracepoints this kernel does not have.
    public let missingProbes: [String]
    let formats: [String: TracepointFormat]
    /// `syscalls:sys_exit_NAME` of a call whose result is taken from the
    /// kernel (x86-64 tasks; the kernel has no such events for 32-bit ones),
    /// and where its record has the syscall number and the return value.
    /// Its `syscalls:sys_enter_NAME` beside it, where the kernel has one,
    /// gives the call's kernel entry (`SyscallEntryRecord`).
    struct ExitEvent {
        let format: TracepointFormat
        let number: Int
        let returned: Int
        let entry: (format: TracepointFormat, number: Int)?
    }
    let exitEvents: [ExitEvent]
    /// The calls whose exits can be sampled (`sampleExits(of:)`).
    public let exitSyscalls: Set<Syscall>
    /// Where an exit record's syscall number and return value are, by
    /// sample id (no return value: an entry record).
    var exitFieldsByID: [UInt64: (number: Int, returned: Int?)] = [:]
    let symbols: KernelSymbols
    let tracefs: Tracefs
    let cpus: [Int32]
    /// Data pages of each CPU's ring (a power of two), perf's --mmap-pages.
    let ringPages: UInt64
    public static let defaultRingPages: UInt64 = 256
    /// When reads and writes run without stops (`DataCallCapture`): the
    /// program's samples pile up while the tracer works (its first chains'
    /// evidence takes ~0.2 s); at 256 the ping-pong lost 3,000–6,000 samples.
    public static let dataCallRingPages: UInt64 = 1024

    var rings: [Int32: PerfRing] = [:] {
        didSet { copier.setRings(Array(rings.values)) }
    }
    /// Copies the rings out on a thread of its own (`RingCopier`).
    let copier = RingCopier(bufferSize: 4 << 20)
    var descriptors: [Int32] = []
    /// perf's sample id → the probe it belongs to.
    var probeByID: [UInt64: Probe] = [:]
    public private(set) var lostSamples: UInt64 = 0
    /// Whether a drain (or `exitRecordsAtRisk()`) found a ring more than half full.
    var ringFoundHalfFull = false

    /// Whether `bytes` waiting in a ring fill more than half of it.
    func fillsHalfARing(_ bytes: UInt64) -> Bool {
        bytes > ringPages * UInt64(sysconf(Int32(_SC_PAGESIZE))) / 2
    }

    /// Whether a ring lost a sample or was found more than half full (by a
    /// drain, or now): from then on syscall exit records may be lost too.
    /// Reads the rings' positions, no system call.
    public func exitRecordsAtRisk() -> Bool {
        if lostSamples > 0 || ringFoundHalfFull { return true }
        ringFoundHalfFull = rings.values.contains { fillsHalfARing($0.unread) }
        return ringFoundHalfFull
    }
    public internal(set) var sampleCount: UInt64 = 0
    var closed = false
    /// With `--vmlinux`: kernel frames to source lines.
    public var sourceResolver: KernelSourceResolver? {
        didSet { chainCache.removeAll() }
    }
    /// Decoded fields by event and raw record: a connection's samples repeat
    /// the same few records (its addresses, the same lengths). Bounded.
    struct RawRecord: Hashable {
        let id: UInt64
        let bytes: [UInt8]
    }
    /// (With the heading they give: `KernelSample.heading` depends on the
    /// tracepoint and its fields only, and making it was 3% of the tracer's
    /// time on the ping-pong.)
    var fieldsCache: [RawRecord: (fields: [String: TracepointValue], heading: String)] = [:]
    static let fieldsCacheLimit = 4096
    /// Chains by their addresses (bounded, so memory stays flat).
    var chainCache: [[UInt64]: Symbolized] = [:]
    /// `addresses`: the cached copy, which every sample of the chain shares
    /// (a sample's own array of 30-70 frames, kept while it waits for its
    /// call, was ~0.5 KB of each of the ping-pong's 200,000 samples).
    typealias Symbolized = (addresses: [UInt64], chain: [String], offsets: [UInt64], symbols: [String]?, sources: [String]?, inlined: [[InlinedCall]]?,
                            sides: ChainSides, serial: Int)
    var filterTexts: [String: String] = [:]
    static let chainCacheLimit = 4096
    /// The name of the process that closes the events (`close()`).
    public static let releaserName = "st-release"

    /// Functions to put a kprobe on (every copy of each).
    let functionTargets: [String]
    /// The kprobe events created at the first `follow`: the function each is on, and its format.
    var kprobeEvents: [(function: String, format: TracepointFormat)]?
    /// A return probe (kretprobe) beside each entry probe the kernel took:
    /// each function's time inside the call.
    var kretprobeEvents: [(function: String, format: TracepointFormat)] = []
    /// `kprobe_events`, open for writing while this run's events exist.
    var kprobeControl: Int32 = -1
    /// Which functions carry a kprobe and why the others do not (known after the first `follow`).
    public internal(set) var functionProbes: FunctionProbeStatus?

    /// Samples `probes` with their chains, the entries of `functions` with
    /// theirs (kprobe events), and the exits of `exitSyscalls` that the
    /// kernel has tracepoints for (without chains).
    public init(probes: [Probe], tracefs: Tracefs, symbols: KernelSymbols, ringPages: UInt64 = KernelSampler.defaultRingPages,
                exitSyscalls: Set<Syscall> = [], functions: [String] = []) throws {
        self.functionTargets = functions
        self.ringPages = ringPages
        self.tracefs = tracefs
        self.symbols = symbols
        // A tracepoint this kernel does not have (sock:sock_send_length
        // before 6.3) is left out and said; none at all is an error.
        var formats: [String: TracepointFormat] = [:]
        var missing: [String] = []
        for probe in probes where !probe.isKprobe {
            if let format = try? tracefs.format(of: probe.name) { formats[probe.name] = format } else { missing.append(probe.name) }
        }
        guard !formats.isEmpty || !functionTargets.isEmpty else {
            throw TraceError(operation: "none of the probe set's tracepoints is in \(tracefs.path)/events (\(missing.joined(separator: ", ")))")
        }
        self.probes = probes.filter { !$0.isKprobe && formats[$0.name] != nil }
        self.missingProbes = missing
        self.formats = formats
        var exitEvents: [ExitEvent] = []
        var sampled: Set<Syscall> = []
        for syscall in exitSyscalls.sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let format = try? tracefs.format(of: "syscalls:sys_exit_\(syscall.rawValue)"),
                  let number = format.fields.first(where: { $0.name == "__syscall_nr" && $0.size == 4 }),
                  let returned = format.fields.first(where: { $0.name == "ret" && $0.size == 8 }) else { continue }
            let entry = (try? tracefs.format(of: "syscalls:sys_enter_\(syscall.rawValue)")).flatMap { format in
                format.fields.first { $0.name == "__syscall_nr" && $0.size == 4 }.map { (format, $0.offset) }
            }
            exitEvents.append(ExitEvent(format: format, number: number.offset, returned: returned.offset, entry: entry))
            sampled.insert(syscall)
        }
        self.exitEvents = exitEvents
        self.exitSyscalls = sampled
        let count = Int32(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        self.cpus = Array(0..<max(count, 1))
    }

    /// Whether the probes sampled everywhere are open (once, for every task).
    var openedEverywhere = false
    /// The kernel's filter of traced flows' packets sent outside the traced
    /// tasks (a probe marked `elsewhere`), once opened; and why it could
    /// not be, if it could not.
    public private(set) var elsewhereTransmits: ElsewhereTransmits?
    public private(set) var elsewhereUnavailable: String?

    /// Exit captures (`ExitCaptureSource`), by process: the events each
    /// opened on every CPU, and the threads its filter names.
    struct ExitCaptureEvents {
        var events: [(fd: Int32, probe: Probe)] = []
        var ids: [UInt64] = []
        var threads: [Int32] = []
    }
    var exitCaptureEvents: [Int32: ExitCaptureEvents] = [:]
    /// A capture's sample id → its process.
    var exitCaptureOwner: [UInt64: Int32] = [:]
    /// The threads of open captures → their process and when their capture
    /// began: what a probe sampled everywhere (not reopened by a capture)
    /// takes of their exit is the capture's.
    var exitCaptureThreads: [Int32: (pid: Int32, since: UInt64)] = [:]
    /// What each capture sampled so far, oldest first.
    var exitSamples: [Int32: [KernelSample]] = [:]
    /// Samples lost by events closed before the end (their own counts).
    var lostByClosedEvents: UInt64 = 0

    /// The tasks whose syscall exits are sampled, and whether opening them failed.
    var exitTasks: Set<Int32> = []
    var exitsUnavailable = false

    /// Samples `pid`'s probes (and, with `inherit`, every task it creates
    /// from now on); at the first, the probes sampled everywhere.
    public func follow(pid: Int32, inherit: Bool) throws {
        if !openedEverywhere {
            openedEverywhere = true
            for cpu in cpus {
                for probe in probes where probe.everywhere {
                    guard let format = formats[probe.name],
                          let id = try open(format, pid: -1, cpu: cpu, inherit: false, chain: true, filter: try filterText(probe)) else { continue }
                    probeByID[id] = probe
                }
            }
            openElsewhere()
        }
        for cpu in cpus {
            for probe in probes where !probe.everywhere {
                guard let format = formats[probe.name] else { continue }
                guard let id = try open(format, pid: pid, cpu: cpu, inherit: inherit, chain: true, filter: try filterText(probe)) else { continue }
                probeByID[id] = probe
            }
        }
        if !functionTargets.isEmpty { try followFunctions(pid: pid, inherit: inherit) }
    }

    /// Loads the sampling of traced flows' packets outside the traced tasks
    /// for a probe marked `elsewhere` (`ElsewhereTransmits`: net_dev_queue).
    /// Where BPF or BTF is not allowed they are sampled in the traced tasks
    /// only, and that is said (`elsewhereUnavailable`).
    /// A probe marked `elsewhere` on skb:kfree_skb loads the drop program
    /// too (`ElsewhereDropProgram`): traced flows' drops outside the traced
    /// tasks, by the packets' own headers.
    func openElsewhere() {
        let marked = probes.filter(\.elsewhere)
        guard !marked.isEmpty else { return }
        if let other = marked.first(where: { ![Self.elsewhereTracepoint, Self.dropTracepoint].contains($0.name) }) {
            elsewhereUnavailable = "only \(Self.elsewhereTracepoint) and \(Self.dropTracepoint) can be sampled elsewhere, not \(other.name)"
            return
        }
        do {
            elsewhereTransmits = try ElsewhereTransmits(drops: marked.contains { $0.name == Self.dropTracepoint })
        } catch {
            elsewhereUnavailable = "\(error)"
        }
    }

    static let elsewhereTracepoint = "net:net_dev_queue", dropTracepoint = "skb:kfree_skb"

    /// The packets the elsewhere program kept, as samples of the tracepoint
    /// taken outside the traced tasks.
    func elsewhereSamples() -> [KernelSample] {
        guard let filter = elsewhereTransmits else { return [] }
        return filter.take().map { record in
            // Its own frames first (the program, bpf_trace_run1,
            // __bpf_trace_net_dev_queue), then the tracepoint's iterator,
            // where a perf sample's chain of the tracepoint begins too
            // (`__traceiter_net_dev_queue+0x29`, then __dev_queue_xmit;
            // __traceiter_kfree_skb, then sk_skb_reason_drop for a drop).
            // Audit 61 F1: begun one frame later, at the caller, the chain
            // was not perf's. Without the iterator (the program the only
            // probe, called straight from the tracepoint), at the caller.
            let names = record.stack.prefix(8).map { symbols.location(of: $0)?.function }
            let iterator = names.firstIndex { $0?.hasPrefix("__traceiter_") ?? false }
            let start = iterator ?? (names.lastIndex { $0.map(ChainAligner.isTracepointMachinery) ?? false }).map { $0 + 1 } ?? 0
            var fields = record.fields
            if record.isDrop {
                // The reason named as the tracepoint's own format names it.
                let reason = Int64(record.reason)
                fields["reason"] = formats[Self.dropTracepoint]?.symbolicValues["reason"]?[reason].map { .symbol($0, reason) } ?? .number(reason)
                fields["location"] = .number(Int64(bitPattern: record.location))
                fields["protocol"] = .number(record.family == UInt16(AF_INET6) ? 0x86DD : 0x0800)
                fields["ip_protocol"] = .number(Int64(record.ipProtocol))
            }
            let probe = record.isDrop ? probes.first { $0.name == Self.dropTracepoint } : nil
            var sample = kernelSample(tracepoint: record.isDrop ? Self.dropTracepoint : Self.elsewhereTracepoint, role: probe?.role ?? .chain,
                                      pid: record.pid, tid: record.tid, time: MonotonicTime(nanoseconds: record.time), cpu: record.cpu,
                                      addresses: Array(record.stack[start...]), fields: fields)
            sample.everywhere = true
            sample.sampledElsewhere = true
            return sample
        }
    }

    /// Samples the kprobes in `pid`: at the first call, creates a kprobe
    /// event on every copy of each target function that the kernel accepts
    /// (the others are said in `functionProbes`).
    func followFunctions(pid: Int32, inherit: Bool) throws {
        let events = try kprobeEvents ?? createKprobeEvents()
        for event in events {
            for cpu in cpus {
                guard let id = try open(event.format, pid: pid, cpu: cpu, inherit: inherit, chain: true) else { continue }
                probeByID[id] = Probe(group: Probe.kprobeGroup, event: event.function, role: .hit, meaning: "")
            }
        }
        for event in kretprobeEvents {
            for cpu in cpus {
                guard let id = try open(event.format, pid: pid, cpu: cpu, inherit: inherit, chain: false) else { continue }
                probeByID[id] = Probe(group: Probe.kprobeGroup, event: event.function, role: .returned, meaning: "")
            }
        }
    }

    /// The lines of `kprobe_events` that remove this run's events.
    var removal: [String] = []

    /// Sends `fd`'s samples to `cpu`'s ring, mapping it with the first event.
    func attachToRing(_ fd: Int32, cpu: Int32) throws {
        if let ring = rings[cpu] {
            guard cs_perf_set_output(fd, ring.fd) == 0 else {
                throw TraceError(operation: "PERF_EVENT_IOC_SET_OUTPUT", errno: errno)
            }
        } else {
            do {
                rings[cpu] = try PerfRing.map(fd: fd, dataPages: Int(ringPages))
            } catch {
                throw TraceError(operation: "mmap of the perf ring buffer", error: error)
            }
        }
    }

    /// Samples the exits of `exitSyscalls` in one task (not its children),
    /// from now on; true when they are (or already were) sampled. Opened
    /// only when a call is about to use them: while any syscall tracepoint
    /// is registered every syscall takes the kernel's slow path (a million
    /// untraced getppid calls with kernel chains: ~110 ns more each).
    public func sampleExits(of tid: Int32) -> Bool {
        if exitTasks.contains(tid) { return true }
        guard !exitsUnavailable, !exitEvents.isEmpty, !closed else { return false }
        let opened = descriptors.count
        do {
            for cpu in cpus {
                for event in exitEvents {
                    guard let id = try open(event.format, pid: tid, cpu: cpu, inherit: false, chain: false) else { continue }
                    exitFieldsByID[id] = (event.number, event.returned)
                    if let entry = event.entry, let id = try open(entry.format, pid: tid, cpu: cpu, inherit: false, chain: false) {
                        exitFieldsByID[id] = (entry.number, nil)
                    }
                }
            }
        } catch {
            // Not worth failing the trace for: the calls take their exit stop.
            let undone = Set(descriptors[opened...])
            // Out of the copier's list (`rings`' didSet) before unmapped.
            for (cpu, ring) in rings where undone.contains(ring.fd) {
                rings[cpu] = nil
                ring.unmap()
            }
            for fd in undone { cs_perf_disable(fd); Glibc.close(fd) }
            descriptors.removeSubrange(opened...)
            exitsUnavailable = true
            return false
        }
        exitTasks.insert(tid)
        return true
    }

    /// Opens one event writing to `cpu`'s ring and enables it; its sample
    /// id, or nil for an offline CPU.
    func open(_ format: TracepointFormat, pid: Int32, cpu: Int32, inherit: Bool, chain: Bool, filter: String? = nil) throws -> UInt64? {
        let fd: Int32
        do {
            fd = try PerfEvent.open(PerfEventAttributes(tracepoint: format.id, inherit: inherit, kernelChain: chain), pid: pid, cpu: cpu)
        } catch {
            if error == .noSuchDevice || error == .invalidArgument && cpu > 0 { return nil }  // an offline CPU
            throw TraceError(operation: "perf_event_open(\(format.name), pid \(pid), cpu \(cpu))", error: error)
        }
        descriptors.append(fd)
        if let filter, cs_perf_set_filter(fd, filter) != 0 {
            throw TraceError(operation: "the filter of \(format.name) (\(filter))", errno: errno)
        }
        let id: UInt64
        do { id = try PerfEvent.id(of: fd) } catch { throw TraceError(operation: "PERF_EVENT_IOC_ID", error: error) }
        try attachToRing(fd, cpu: cpu)
        cs_perf_enable(fd)
        return id
    }

    /// A probe's filter in the kernel's syntax: `(call_site >= 0x… &&
    /// call_site < 0x…) || …` over every copy of each function (`|| name
    /// == "filp"` for an `or name is filp`); worked out
    /// once (it waits for the kernel's symbols).
    func filterText(_ probe: Probe) throws -> String? {
        guard let filter = probe.filter else { return nil }
        if let known = filterTexts[probe.name] { return known }
        var ranges: [String] = []
        for function in filter.functions {
            for start in symbols.starts(of: function) {
                guard let extent = symbols.extent(of: start) else { continue }
                ranges.append("(\(filter.field) >= 0x\(String(extent.start, radix: 16)) && \(filter.field) < 0x\(String(extent.end, radix: 16)))")
            }
        }
        guard !ranges.isEmpty else {
            throw TraceError(operation: "the filter of \(probe.name): none of \(filter.functions.joined(separator: ", ")) is a symbol here")
        }
        if let equal = filter.orEqual { ranges.append("\(equal.field) == \"\(equal.value)\"") }
        let text = ranges.joined(separator: " || ")
        filterTexts[probe.name] = text
        return text
    }

    /// What one drain of the rings gave: samples and syscall exits, each oldest first.
    public struct Drained {
        public var samples: [KernelSample] = []
        public var exits: [SyscallExitRecord] = []
        /// The entries of the calls whose exits are sampled.
        public var entries: [SyscallEntryRecord] = []
        /// Exit captures' samples, by process (kept by the sampler until the capture ends).
        var captured: [(pid: Int32, sample: KernelSample)] = []
    }

    /// Everything sampled since the last call, oldest first.
    public func drain() -> Drained {
        var drained = Drained()
        for chunk in copier.take() {
            if fillsHalfARing(UInt64(chunk.count)) { ringFoundHalfFull = true }
            parse(chunk, into: &drained)
        }
        drained.samples += elsewhereSamples()
        drained.samples.sort { $0.time < $1.time }
        drained.exits.sort { $0.time < $1.time }
        drained.entries.sort { $0.time < $1.time }
        sampleCount += UInt64(drained.samples.count)
        keepCaptured(&drained)
        return drained
    }

    /// Copies the rings out without reading the samples (`RingCopier`,
    /// which does it every millisecond anyway): before the kernel's symbols
    /// are read (which naming frames needs), a program that runs without
    /// stops would fill them. `drain` reads these first.
    public func stash() {
        guard !closed else { return }
        copier.copyNow()
    }

    /// Reads perf records (PERF_RECORD_SAMPLE, PERF_RECORD_LOST) from a
    /// run of them the copier took out of a ring.
    func parse(_ buffer: [UInt8], into drained: inout Drained) {
        for record in PerfRecords(buffer, length: buffer.count) {
            guard case let .sample(sample) = record else {
                if case let .lost(count) = record { lostSamples += count }
                continue
            }
            let time = MonotonicTime(nanoseconds: sample.time)
            if let exit = exitFieldsByID[sample.id] {
                // No chain: the raw record has the number and the result.
                let raw = sample.raw
                guard exit.number + 4 <= raw.count else { continue }
                let number = buffer.loadLittleEndian(Int32.self, at: raw.lowerBound + exit.number)
                guard let returnedAt = exit.returned else {
                    drained.entries.append(SyscallEntryRecord(tid: sample.tid, time: time, number: Int64(number)))
                    continue
                }
                guard returnedAt + 8 <= raw.count else { continue }
                let returned = buffer.loadLittleEndian(Int64.self, at: raw.lowerBound + returnedAt)
                drained.exits.append(SyscallExitRecord(tid: sample.tid, time: time, number: Int64(number), returned: returned))
                continue
            }
            guard let probe = probeByID[sample.id] else { continue }
            let addresses = PerfRecords.kernelFrames(buffer, of: sample)
            let record = RawRecord(id: sample.id, bytes: Array(buffer[sample.raw]))
            let fields: [String: TracepointValue], heading: String?
            if let known = fieldsCache[record] {
                (fields, heading) = known
            } else {
                fields = formats[probe.name]?.decode(record.bytes) ?? [:]
                heading = nil
            }
            var kernelSample = self.kernelSample(tracepoint: probe.name, role: probe.role, pid: sample.pid, tid: sample.tid,
                                            time: time, cpu: sample.cpu, addresses: addresses, fields: fields, heading: heading)
            if heading == nil {
                if fieldsCache.count >= Self.fieldsCacheLimit { fieldsCache.removeAll(keepingCapacity: true) }
                fieldsCache[record] = (fields, kernelSample.heading)
            }
            kernelSample.everywhere = probe.everywhere
            if let owner = exitCaptureOwner[sample.id]
                ?? (probe.everywhere ? exitCaptureThreads[sample.tid].flatMap { sample.time >= $0.since ? $0.pid : nil } : nil) {
                drained.captured.append((owner, kernelSample))
                continue
            }
            drained.samples.append(kernelSample)
        }
    }

    /// A sample whose chain is `addresses` (innermost first), named and
    /// placed (`symbolized`): a perf record's, or a packet the elsewhere
    /// program kept.
    func kernelSample(tracepoint: String, role: Probe.Role, pid: Int32, tid: Int32, time: MonotonicTime, cpu: UInt32,
                      addresses: [UInt64], fields: [String: TracepointValue], heading: String? = nil) -> KernelSample {
        let (shared, chain, offsets, symbols, sources, inlined, sides, serial) = symbolized(addresses, at: time, innermostReturns: role != .hit)
        var sample = KernelSample(tracepoint: tracepoint, role: role, pid: pid, tid: tid, time: time, cpu: cpu, chain: chain, fields: fields,
                                  heading: heading)
        sample.knownSides = sides
        sample.chainSerial = serial
        sample.symbols = symbols
        sample.sources = sources
        sample.inlined = inlined
        sample.addresses = shared
        sample.offsets = offsets
        return sample
    }

    /// Function names (and, with `--vmlinux`, source lines) of a chain's
    /// addresses. A workload repeats a few chains: each distinct one is
    /// looked up once and its arrays shared by every sample that has it.
    /// Every frame's address is a return address, so its line and inline
    /// chain are the call's before it — the innermost too, where a
    /// tracepoint fired: its call to the tracepoint (audit 91 F3: placed at
    /// the address itself, `inet_sk_state_store+0x51` was in
    /// `__preempt_count_dec_and_test`, run after the call); not a kprobe
    /// hit's (`innermostReturns` false), whose address is the probed
    /// instruction.
    func symbolized(_ addresses: [UInt64], at time: MonotonicTime? = nil, innermostReturns: Bool = true) -> Symbolized {
        if let known = chainCache[addresses] { return known }
        // A frame in a BPF program (or in nothing known) is named for the
        // programs loaded at this sample's time: such a chain is not kept.
        var lasting = true
        var chain: [String] = []
        chain.reserveCapacity(addresses.count)
        var offsets: [UInt64] = []
        offsets.reserveCapacity(addresses.count)
        var names: [String] = []
        names.reserveCapacity(addresses.count)
        var copies = false
        var sources: [String]? = sourceResolver == nil ? nil : []
        var inlined: [[InlinedCall]]? = sourceResolver == nil ? nil : []
        for ip in addresses {
            let returns = !chain.isEmpty || innermostReturns
            let location = returns ? symbols.location(ofReturnAddress: ip, at: time) : symbols.location(of: ip, at: time)
            if location.map({ $0.function.hasPrefix("bpf_prog_") }) ?? true { lasting = false }
            chain.append(location?.function ?? "0x" + String(ip, radix: 16))
            offsets.append(location?.offset ?? 0)
            names.append(location?.symbol ?? chain[chain.count - 1])
            if location?.symbol != nil { copies = true }
            if let sourceResolver {
                let line = location.flatMap {
                    sourceResolver.source(function: $0.symbol ?? $0.function, offset: $0.offset, returnAddress: returns, runtime: ip)
                }
                sources?.append(line ?? "")
                inlined?.append(location.map {
                    sourceResolver.inlinedCalls(function: $0.symbol ?? $0.function, offset: $0.offset, returnAddress: returns, runtime: ip)
                } ?? [])
            }
        }
        let found = (addresses, chain, offsets, copies ? names : nil, sources, inlined, ChainAligner.sides(chain), KernelSample.newChainSerial())
        guard lasting else { return found }
        if chainCache.count >= Self.chainCacheLimit { chainCache.removeAll(keepingCapacity: true) }
        chainCache[addresses] = found
        return found
    }

    /// Disables and closes every event, unmaps the rings, unmounts tracefs if
    /// it was mounted for this trace. The last close of a tracepoint's event
    /// waits for the kernel to unregister it (an RCU grace period, ~40 ms
    /// each here, one after another): a detached helper does that, so the
    /// trace ends when its events are disabled, not 0.4 s later.
    public func close() {
        guard !closed else { return }
        closed = true
        for fd in descriptors { cs_perf_disable(fd) }
        defer { elsewhereTransmits?.close() }
        // A loss is written into the ring only when a later sample finds room,
        // so losses at the end of a trace are known only from the events
        // themselves: each counts its own, and the kernel counts a child's
        // inherited event's losses on the event it was inherited from (a
        // forked child's 4,000 samples, most lost at its end: kept + lost =
        // 4,000, KernelTests.lostSamplesOfAChildCountedExactly). Kernels
        // before 6.0 cannot say (no PERF_FORMAT_LOST): the ring's reports
        // are then a lower bound.
        var lostByEvents: UInt64 = 0
        var eventsCount = true
        for fd in descriptors {
            guard let lost = PerfEvent.lostSamples(of: fd) else { eventsCount = false; break }
            lostByEvents += lost
        }
        if eventsCount { lostSamples = max(lostSamples, lostByEvents + lostByClosedEvents) }
        copier.stop()
        for ring in rings.values { ring.unmap() }
        // This run's kprobe events go once their perf events are closed:
        // the release helper removes them after closing those.
        let removing = removal.map { $0 + "\n" }.joined()
        let sorted = (descriptors + (kprobeControl >= 0 ? [kprobeControl] : [])).sorted()
        if sorted.isEmpty || cs_close_detached(sorted, Int32(sorted.count), Self.releaserName, kprobeControl, removing) != 0 {
            for fd in descriptors { Glibc.close(fd) }
            for line in removal { _ = Glibc.write(kprobeControl, line, line.utf8.count) }
            if kprobeControl >= 0 { Glibc.close(kprobeControl) }
        }
        kprobeControl = -1
        descriptors.removeAll()
        rings.removeAll()
        tracefs.release()
    }

    deinit { close() }
}
