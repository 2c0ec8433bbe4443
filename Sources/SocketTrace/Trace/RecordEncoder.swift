/// Writes trace records as JSON text directly, with the same keys and values
/// as their Codable form (which the reader decodes): JSONEncoder spends most
/// of a trace's time building its generic containers. The text is built as
/// UTF-8 bytes, which is what the output takes.
struct RecordEncoder {
    private(set) var bytes: [UInt8] = []
    /// When set, sample chains are written once as `chain` records and
    /// referred to by `chain_id`.
    let chains: ChainInterner?

    init(chains: ChainInterner? = nil) {
        self.chains = chains
        bytes.reserveCapacity(2048)
    }

    /// The record as text.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func append(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// A number in decimal, without going through a String.
    mutating func append<N: BinaryInteger>(number value: N) {
        if value == 0 {
            bytes.append(0x30)
            return
        }
        var magnitude = value.magnitude
        let negative = value < 0
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while magnitude > 0 {
                raw[count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            }
            if negative { bytes.append(UInt8(ascii: "-")) }
            while count > 0 {
                count -= 1
                bytes.append(raw[count])
            }
        }
    }

    // MARK: JSON pieces

    mutating func string(_ value: String) {
        var value = value
        // One pass over the bytes: runs that need no escaping (most strings
        // are all one run) are copied whole, the rest escaped between them.
        value.withUTF8 { raw in
            bytes.append(0x22)
            var start = 0
            for index in 0..<raw.count {
                let byte = raw[index]
                if byte >= 0x20 && byte != 0x22 && byte != 0x5c { continue }
                if index > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start..<index])) }
                escape(byte)
                start = index + 1
            }
            if start < raw.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start...])) }
            bytes.append(0x22)
        }
    }

    /// A byte JSON strings cannot hold as it is.
    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case 0x22: append("\\\"")
        case 0x5c: append("\\\\")
        case 0x0a: append("\\n")
        case 0x0d: append("\\r")
        case 0x09: append("\\t")
        default:
            let hex = String(byte, radix: 16)
            append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
        }
    }

    /// A member's key: a name of ASCII letters and underscores, written as it is.
    mutating func key(_ name: StaticString) {
        bytes.append(0x22)
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(0x22)
        bytes.append(UInt8(ascii: ":"))
    }

    /// An object whose members `body` writes with `member`.
    mutating func object(_ body: (inout ObjectWriter) -> Void) {
        var writer = ObjectWriter(encoder: self)
        bytes = []
        writer.encoder.append(UInt8(ascii: "{"))
        body(&writer)
        writer.encoder.append(UInt8(ascii: "}"))
        self = writer.encoder
    }

    mutating func array<T>(_ items: [T], _ each: (inout RecordEncoder, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (index, item) in items.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            each(&self, item)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    struct ObjectWriter {
        var encoder: RecordEncoder
        var chains: ChainInterner? { encoder.chains }
        var first = true

        mutating func key(_ name: StaticString) {
            if !first { encoder.append(UInt8(ascii: ",")) }
            first = false
            encoder.key(name)
        }

        /// A key not known until run time (a tracepoint's field name).
        mutating func key(named name: String) {
            if !first { encoder.append(UInt8(ascii: ",")) }
            first = false
            encoder.string(name)
            encoder.append(UInt8(ascii: ":"))
        }

        mutating func member(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            encoder.string(value)
        }

        mutating func member<N: BinaryInteger>(_ name: StaticString, _ value: N?) {
            guard let value else { return }
            key(name)
            encoder.append(number: value)
        }

        mutating func member(_ name: StaticString, _ value: Bool?) {
            guard let value else { return }
            key(name)
            encoder.append(value ? "true" : "false")
        }

        mutating func member(_ name: StaticString, _ value: MonotonicTime?) {
            member(name, value?.nanoseconds)
        }

        mutating func member(_ name: StaticString, strings: [String]?) {
            guard let strings else { return }
            key(name)
            encoder.array(strings) { $0.string($1) }
        }

        mutating func member(_ name: StaticString, _ write: (inout RecordEncoder) -> Void) {
            key(name)
            write(&encoder)
        }
    }

    // MARK: records

    mutating func record(_ record: TraceRecord) -> Bool {
        switch record {
        case let .syscallEntry(call): syscall(call, type: "syscall_entry")
        case let .syscall(call): syscall(call, type: "syscall")
        case let .syscallAbandoned(call): syscall(call, type: "syscall_abandoned")
        case let .kernelEvent(sample):
            object { o in
                o.member("type", "kernel_event")
                Self.sampleMembers(sample, into: &o)
            }
        default:
            return false
        }
        return true
    }

    mutating func socket(_ socket: SocketSnapshot) {
        object { s in
            s.member("fd", socket.fd)
            if let inode = socket.inode { s.member("inode", inode) }
            s.member("family", socket.family)
            s.member("type", socket.type)
            s.member("protocol_label", socket.protocolLabel)
            s.member("local", socket.local?.description)
            s.member("peer", socket.peer?.description)
            s.member("state", socket.state.rawValue)
            s.member("other_references", socket.otherReferences)
            s.member("other_references_in_messages", socket.otherReferencesInMessages.flatMap { $0 > 0 ? $0 : nil })
            s.member("tcp_state", socket.tcpState)
            if let netns = socket.netns { s.member("netns", netns) }
        }
    }

    mutating func syscall(_ call: SyscallInvocation, type: String) {
        object { o in
            o.member("type", type)
            o.member("pid", call.pid)
            o.member("tid", call.tid)
            o.member("architecture", call.architecture.rawValue)
            o.member("syscall", call.syscall.rawValue)
            o.member("arguments") { $0.array(call.arguments) { $0.append(number: $1) } }
            o.member("via_socketcall", call.viaSocketcall)
            if let recordedBy = call.recordedBy { o.member("recorded_by", recordedBy) }
            o.member("entry_time", call.entryTime)
            if let wall = call.wallClock {
                o.member("wall_clock") { $0.object { w in w.member("seconds", wall.seconds); w.member("microseconds", wall.microseconds) } }
            }
            o.member("entry_text", call.entryText)
            o.member("exit_text", call.exitText)
            o.member("saved") { $0.array(call.saved) { $0.append(number: $1) } }
            o.member("transferred_bytes", call.transferredBytes)
            o.member("exit_time", call.exitTime)
            if let kernelEntry = call.kernelEntryTime { o.member("kernel_entry_time", kernelEntry) }
            if let kernelExit = call.kernelExitTime { o.member("kernel_exit_time", kernelExit) }
            if let file = call.closedFile { o.member("closed_file", file) }
            if let result = call.result {
                o.member("result") { $0.object { r in r.member("value", result.value); r.member("errno", result.errno) } }
                if type == "syscall" {
                    o.member("text", call.entryText + call.exitText + ") = " + call.returnText)
                    if let errno = result.errno { o.member("error", ErrnoName.name(Int(errno)) ?? String(errno)) }
                }
            }
            o.member("return_text", call.returnText)
            if let plain = call.plainText {
                o.member("plain_text") { $0.object { p in
                    p.member("entry_text", plain.entryText)
                    p.member("exit_text", plain.exitText)
                    p.member("return_text", plain.returnText)
                } }
            }
            if let socket = call.socket {
                o.member("socket") { $0.socket(socket) }
            }
            if let carried = call.releasedInMessages {
                o.member("released_in_messages") { $0.array(carried) { encoder, carried in
                    encoder.object { c in
                        c.member("socket") { $0.socket(carried.socket) }
                        c.member("waiting_at", carried.waitingAt)
                        c.member("perhaps_earlier", carried.perhapsEarlier)
                    }
                } }
            }
            if let start = call.connectStart {
                o.member("connect_start") { $0.object { c in
                    c.member("state", start.state?.rawValue)
                    c.member("address_family", start.addressFamily)
                } }
            }
            o.member("functions", strings: call.functions)
            if let stack = call.userStack {
                o.member("user_stack") { $0.array(stack) { encoder, frame in
                    encoder.object { f in
                        f.member("module", frame.module)
                        f.member("function", frame.function)
                        f.member("offset", frame.offset)
                        f.member("module_offset", frame.moduleOffset)
                        f.member("file", frame.file)
                        f.member("line", frame.line)
                        f.member("exported_name", frame.exportedName)
                        f.member("exported_offset", frame.exportedOffset)
                    }
                } }
            }
            if let kernel = call.kernel {
                o.member("kernel") { $0.activity(kernel) }
            }
        }
    }

    mutating func activity(_ activity: KernelActivity) {
        if let chains { return internedActivity(activity, chains) }
        object { o in
            o.member("operation", activity.operation)
            o.member("source", activity.source.rawValue)
            o.member("expected", strings: activity.expected)
            o.member("observed") { $0.array(activity.alignments) { encoder, alignment in
                encoder.array(alignment.observed) { $0.string($1) }
            } }
            o.member("verdict", activity.verdict?.rawValue)
            o.member("alignments") { $0.array(activity.alignments) { encoder, alignment in
                encoder.object { a in
                    Self.steps(alignment, into: &a)
                    a.member("sample", alignment.sample)
                }
            } }
            o.member("samples") { $0.array(activity.samples) { encoder, sample in
                encoder.object { Self.sampleMembers(sample, into: &$0) }
            } }
            Self.functionMembers(activity, into: &o)
        }
    }

    /// Format 1.2: the model's chain and each alignment written once (as
    /// `chain` and `alignment` records) and referred to by id; a call keeps
    /// its own samples and each alignment's `sample`.
    mutating func internedActivity(_ activity: KernelActivity, _ chains: ChainInterner) {
        object { o in
            o.member("operation", activity.operation)
            o.member("source", activity.source.rawValue)
            if activity.expected.isEmpty {
                // No operation, no chain: nothing to intern (no `"frames":[]` record).
                o.member("expected", strings: [])
            } else {
                o.member("expected_id", chains.id(for: activity.expected))
            }
            o.member("verdict", activity.verdict?.rawValue)
            o.member("alignments") { $0.array(activity.alignments) { encoder, alignment in
                encoder.object { a in
                    a.member("alignment_id", chains.id(for: alignment))
                    a.member("sample", alignment.sample)
                }
            } }
            o.member("samples") { $0.array(activity.samples) { encoder, sample in
                encoder.object { Self.sampleMembers(sample, into: &$0) }
            } }
            Self.functionMembers(activity, into: &o)
        }
    }

    /// With kprobes (format 1.4): the functions entered, and those not.
    static func functionMembers(_ activity: KernelActivity, into o: inout ObjectWriter) {
        // Format 1.8: the socket's state as the kernel's events gave it.
        if let state = activity.socketState { o.member("socket_state", state) }
        if let release = activity.fileRelease { o.member("file_release", release) }
        // Format 1.14: a connect's socket closed by the kernel in another task.
        if let closed = activity.closedElsewhere {
            o.member("closed_elsewhere") { $0.object { t in
                t.member("local", closed.local)
                t.member("peer", closed.peer)
                t.member("evidence", closed.evidence)
            } }
        }
        if !activity.hits.isEmpty {
            o.member("hits") { $0.array(activity.hits) { encoder, hit in
                encoder.object { h in
                    h.member("function", hit.function)
                    h.member("operation", hit.operation)
                    h.member("layer", hit.layer?.rawValue)
                    h.member("count", hit.count)
                    h.member("time", hit.time)
                    h.member("context", hit.context)
                    h.member("stack", strings: hit.stack)
                    h.member("returned", hit.returned)
                    h.member("inside_nanoseconds", hit.insideNanoseconds)
                }
            } }
        }
        if !activity.notHit.isEmpty {
            o.member("not_hit") { $0.array(activity.notHit) { encoder, missed in
                encoder.object { m in
                    m.member("function", missed.function)
                    m.member("reason", missed.reason)
                }
            } }
        }
        if let graph = activity.functionGraph {
            // Format 1.5: the function_graph tracer's calls, outermost first, in the order of entry.
            o.member("function_graph") { encoder in
                encoder.object { g in
                    g.member("max_depth", graph.maxDepth)
                    if graph.omitted > 0 { g.member("omitted", graph.omitted) }
                    if graph.lost { g.member("lost", true) }
                    g.member("calls") { $0.array(graph.calls) { encoder, call in
                        encoder.object { c in
                            c.member("function", call.function)
                            c.member("depth", call.depth)
                            c.member("time", call.time)
                            c.member("duration", call.duration)
                        }
                    } }
                }
            }
        }
    }

    /// An alignment's members but its sample (shared by the full form and `alignment` records).
    static func steps(_ alignment: ChainAlignment, into o: inout ObjectWriter) {
        o.member("operation", alignment.operation)
        o.member("steps") { $0.array(alignment.steps) { encoder, step in
            encoder.object { s in
                s.member("function", step.function)
                s.member("layer", step.layer.rawValue)
                s.member("status", step.status.rawValue)
                s.member("evidence", step.evidence)
                s.member("beside_path", step.besidePath)
            }
        } }
        o.member("extra_frames", strings: alignment.extraFrames)
        o.member("observed", strings: alignment.observed)
        o.member("context", alignment.context)
    }

    static func sampleMembers(_ sample: KernelSample, into o: inout ObjectWriter) {
        o.member("tracepoint", sample.tracepoint)
        o.member("role", sample.role.rawValue)
        o.member("pid", sample.pid)
        o.member("tid", sample.tid)
        o.member("time", sample.time)
        o.member("cpu", sample.cpu)
        if let chains = o.chains {
            o.member("chain_id", chains.id(for: sample))
        } else {
            o.member("chain", strings: sample.chain)
            o.member("symbols", strings: sample.symbols)
        }
        if !sample.offsets.isEmpty { o.member("offsets") { $0.array(sample.offsets) { $0.append(number: $1) } } }
        o.member("sources", strings: sample.sources)
        if let inlined = sample.inlined, inlined.contains(where: { !$0.isEmpty }) {
            o.member("inlined") { encoder in
                encoder.array(inlined) { frame, calls in
                    frame.array(calls) { call, inline in
                        call.object { c in c.member("function", inline.function); c.member("site", inline.site) }
                    }
                }
            }
        }
        o.member("fields") { encoder in
            encoder.object { f in
                for (name, field) in sample.fields.sorted(by: { $0.key < $1.key }) {
                    f.key(named: name)
                    switch field {
                    case let .number(value): f.encoder.append(number: value)
                    case let .string(value): f.encoder.string(value)
                    case let .bytes(bytes): f.encoder.array(bytes) { $0.append(number: $1) }
                    case let .symbol(symbol, value):
                        f.encoder.object { s in s.member("symbol", symbol); s.member("value", value) }
                    }
                }
            }
        }
        if let flow = sample.flow {
            o.member("flow") { $0.object { f in f.member("owner", flow.owner.rawValue); f.member("evidence", flow.evidence); f.member("of_socket", flow.ofSocket)
                if let said = flow.said { f.member("said", said) } } }
        }
        o.member("task", sample.task)
        o.member("in_traced_task", sample.inTracedTask)
        if let alignments = sample.alignments {
            o.member("alignments") { $0.array(alignments) { encoder, alignment in
                encoder.object { a in
                    Self.steps(alignment, into: &a)
                    a.member("sample", alignment.sample)
                }
            } }
        }
    }
}

/// Gives each distinct kernel chain of a trace file an id; the writer puts
/// a `chain` record before the first record that uses a new one.
final class ChainInterner {
    private var ids: [ChainKey: Int] = [:]
    /// Chains given an id since the last `takeNew()`.
    private var fresh: [(id: Int, frames: [String], symbols: [String]?)] = []

    /// Ids by the sampler's chain serial: a sample's chain found without hashing its frames.
    private var idsBySerial: [Int: Int] = [:]

    func id(for sample: KernelSample) -> Int {
        guard let serial = sample.chainSerial else { return id(for: sample.chain, symbols: sample.symbols) }
        if let known = idsBySerial[serial] { return known }
        let found = id(for: sample.chain, symbols: sample.symbols)
        // Bounded as the sampler's chains are: a serial not kept is looked up by its frames.
        if idsBySerial.count >= KernelSampler.chainCacheLimit { idsBySerial.removeAll(keepingCapacity: true) }
        idsBySerial[serial] = found
        return found
    }

    /// `symbols`: the frames' symbols when some are compiler copies
    /// (KernelSample.symbols); a chain of copies differs from one of the
    /// plain functions.
    func id(for chain: [String], symbols: [String]? = nil) -> Int {
        let key = ChainKey(symbols ?? chain)
        if let known = ids[key] { return known }
        let id = ids.count + 1
        ids[key] = id
        fresh.append((id, chain, symbols))
        return id
    }

    func takeNew() -> [(id: Int, frames: [String], symbols: [String]?)] {
        defer { fresh.removeAll() }
        return fresh
    }

    private var alignmentIDs: [ChainAlignment.Shape: Int] = [:]
    private var freshAlignments: [(id: Int, alignment: ChainAlignment)] = []

    /// The id of an alignment's shape (all but its sample), new ones kept for `takeNewAlignments`.
    func id(for alignment: ChainAlignment) -> Int {
        let shape = alignment.shape
        if let known = alignmentIDs[shape] { return known }
        let id = alignmentIDs.count + 1
        alignmentIDs[shape] = id
        var shared = alignment
        shared.sample = nil
        freshAlignments.append((id, shared))
        return id
    }

    func takeNewAlignments() -> [(id: Int, alignment: ChainAlignment)] {
        defer { freshAlignments.removeAll() }
        return freshAlignments
    }
}
