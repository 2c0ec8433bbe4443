import Foundation

/// A trace as Perfetto / chrome://tracing JSON (the Trace Event Format): a
/// process track per process and a thread track per thread, each syscall a
/// complete slice (`ph: "X"`), each kernel sample (a tracepoint's hit,
/// with its stack) an instant event at its time, and flows
/// (`bind_id` with `flow_out`/`flow_in`) from each connect to its accept
/// and from each send to the receive that consumed its first byte. Slices
/// nest strictly per thread, as Perfetto's importer requires. The program's
/// own functions (`--functions`) are slices around the calls made in them;
/// without them, a call's user stack (`-k`) from main on is a column of
/// parent slices just around the call.
public struct PerfettoExporter {
    let records: [TraceRecord]
    let origin: UInt64

    public init(records: [TraceRecord]) {
        self.records = records
        origin = records.map(\.time.nanoseconds).min() ?? 0
    }

    /// Microseconds since the trace began (Trace Event Format's unit).
    func micros(_ time: MonotonicTime) -> Double {
        Double(time.nanoseconds &- origin) / 1000
    }

    public func export() throws -> Data {
        var events: [[String: Any]] = []
        // Each track keeps the last name it had (a process is renamed by exec);
        // the metadata events are written once, at the end.
        var processNames: [Int32: String] = [:]
        var threadNames: [Int32: (pid: Int32, name: String)] = [:]
        func name(_ pid: Int32, _ tid: Int32, _ name: String?) {
            guard let name else { return }
            if tid == pid || processNames[pid] == nil { processNames[pid] = "\(name) \(pid)" }
            threadNames[tid] = (pid, "\(name) \(tid)")
        }

        var calls: [SyscallInvocation] = []
        var last: MonotonicTime = records.last?.time ?? MonotonicTime(nanoseconds: origin)
        for record in records {
            if record.time > last { last = record.time }
            switch record {
            case let .process(event):
                if event.kind == .started || event.kind == .attached || event.kind == .exec { name(event.pid, event.tid, event.name) }
                if event.kind != .started && event.kind != .attached {
                    events.append(instant(event.pid, event.tid, event.time, processText(event), category: "process"))
                }
                // What the exit's release of sockets did in the kernel.
                for sample in event.exitKernel?.samples ?? [] { events.append(kernelInstant(sample)) }
            case let .syscall(call):
                calls.append(call)
                for sample in call.kernel?.samples ?? [] { events.append(kernelInstant(sample)) }
            case let .kernelEvent(sample):
                events.append(kernelInstant(sample))
            default:
                break
            }
        }
        // A forked child's inherited frames span its track from its start.
        for span in FunctionSpan.spans(in: records) {
            events.append(functionSlice(span.entry, exit: span.exit, end: span.exit?.time ?? last))
        }

        for (pid, name) in processNames {
            events.append(["ph": "M", "name": "process_name", "pid": pid, "tid": pid, "args": ["name": name]])
        }
        for (tid, thread) in threadNames {
            events.append(["ph": "M", "name": "thread_name", "pid": thread.pid, "tid": tid, "args": ["name": thread.name]])
        }
        let flows = FlowPlanner(calls: calls)
        for (index, call) in calls.enumerated() {
            events += slices(for: call, flowsOut: flows.outgoing[index] ?? [], flowsIn: flows.incoming[index] ?? [])
        }
        let document: [String: Any] = ["traceEvents": events, "displayTimeUnit": "ns",
                                       "otherData": ["generator": "sockettrace"]]
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
    }

    /// A function call as a slice; one still running when the trace ended
    /// lasts to the end.
    func functionSlice(_ entry: FunctionEvent, exit: FunctionEvent?, end: MonotonicTime) -> [String: Any] {
        var args: [String: Any] = ["call": entry.text]
        if let exit { args["return"] = exit.unwound == true ? "unwound" : (exit.returnValue ?? "void") } else { args["return"] = "unfinished" }
        let start = micros(entry.time)
        return ["ph": "X", "name": entry.function, "cat": "function", "pid": entry.pid, "tid": entry.tid,
                "ts": start, "dur": max(micros(end) - start, 0), "args": args]
    }

    func instant(_ pid: Int32, _ tid: Int32, _ time: MonotonicTime, _ name: String, category: String) -> [String: Any] {
        ["ph": "i", "s": "t", "name": name, "cat": category, "pid": pid, "tid": tid, "ts": micros(time)]
    }

    /// A kernel sample at its time, its stack (outermost first, each frame
    /// with its offset) in its arguments: what was seen, at the moment it was.
    func kernelInstant(_ sample: KernelSample) -> [String: Any] {
        var event = instant(sample.pid, sample.tid, sample.time, sample.heading, category: "kernel")
        if !sample.chain.isEmpty {
            event["args"] = ["stack": sample.frames.reversed().map(\.location).joined(separator: " → ")]
        }
        return event
    }

    func processText(_ event: ProcessEvent) -> String {
        switch event.kind {
        case .exec: "exec " + TextTimeline.abbreviated(event.command ?? [])
        case .exited: "exited with \(event.status ?? 0)"
        case .killed: "killed by " + SignalName.name(event.signal ?? 0)
        case .signal: SignalName.name(event.signal ?? 0)
        default: event.kind.rawValue
        }
    }

    /// A syscall slice, its flow ends (first and last twentieth of the
    /// call) and its kernel chain (nested in the middle, one level per frame).
    func slices(for call: SyscallInvocation, flowsOut: [Int], flowsIn: [Int]) -> [[String: Any]] {
        let start = micros(call.startTime)
        let end = max(micros(call.endTime ?? call.startTime), start + 0.001)
        let duration = end - start
        var args: [String: Any] = ["call": call.entryText + call.exitText + ") = " + call.returnText]
        if let operation = call.kernel?.operation { args["operation"] = operation }
        if let verdict = call.kernel?.verdict { args["verdict"] = verdict.rawValue }
        if let socket = call.socket { args["socket"] = socket.protocolLabel + " " + [socket.local, socket.peer].compactMap { $0?.description }.joined(separator: " -> ") }
        var out: [[String: Any]] = [["ph": "X", "name": call.name, "cat": "syscall", "pid": call.pid, "tid": call.tid,
                                     "ts": start, "dur": duration, "args": args]]
        if call.functions == nil, let stack = call.userStack {
            // Outermost first, each a nanosecond wider on both sides than the one it holds.
            let frames = stack.fromMain
            for (index, frame) in frames.enumerated() {
                let margin = Double(frames.count - index) * 0.001
                out.append(["ph": "X", "name": frame.function ?? frame.shortText, "cat": "user-stack", "pid": call.pid, "tid": call.tid,
                            "ts": start - margin, "dur": duration + 2 * margin, "args": ["frame": frame.shortText]])
            }
        }
        // Each flow end a nanosecond at its moment (audit 40 M1: a twentieth
        // of the call at its start or end, so a read's "← data" lay before
        // the send): a send's where its first own segment was sampled
        // leaving (else its return), a connect's at its SYN's (else its
        // entry); a receive's and an accept's at their return, when what
        // they took in was theirs. Named by what they carry.
        let opensConnection = call.syscall == .connect || call.syscall == .accept || call.syscall == .accept4
        let what = opensConnection ? "connection" : "data"
        let leftAt = SequenceDiagram.ownSegments(call).map(\.time).min()
            .map(micros).flatMap { $0 >= start && $0 < end ? $0 : nil }
        for (index, id) in flowsIn.enumerated() {
            // Half a nanosecond inside the call's end: its microseconds are
            // a Double, and at + 0.001 must not pass it (a fresh clone's CI:
            // "← connection [18666.595, 18666.596] overlaps accept […, 18666.595999999998]").
            let at = max(start, end - Double(flowsIn.count - index) * 0.001 - 0.0005)
            out.append(["ph": "X", "name": "← \(what)", "cat": "flow", "pid": call.pid, "tid": call.tid,
                        "ts": at, "dur": 0.001, "bind_id": "0x\(String(id, radix: 16))", "flow_in": true])
        }
        for (index, id) in flowsOut.enumerated() {
            let base = leftAt ?? (call.syscall == .connect ? start : max(start, end - Double(flowsOut.count) * 0.001 - 0.001))
            let at = min(base + Double(index) * 0.001, end - 0.0015)
            out.append(["ph": "X", "name": "\(what) →", "cat": "flow", "pid": call.pid, "tid": call.tid,
                        "ts": at, "dur": 0.001, "bind_id": "0x\(String(id, radix: 16))", "flow_out": true])
        }
        if let graph = call.kernel?.functionGraph, !graph.calls.isEmpty, let exit = call.exitTime {
            // The kernel's own graph, at its times, inside the call.
            let from = call.startTime.nanoseconds &- origin
            let to = (exit.nanoseconds &- origin) - 1
            out += graphSlices(graph, pid: call.pid, tid: call.tid, from: from, to: to)
        }
        // A sampled stack is one moment, not a span: it is on its sample's
        // instant (`kernelInstant`). Audit 27: drawn as nested slices, each
        // level a fixed step inside the one above, its durations were invented
        // (tcp_connect's slice held the handshake's ACK, sent after it returned).
        return out
    }
}

extension PerfettoExporter {
    /// A call's function graph as nested slices, within `from`…`to`
    /// (nanoseconds since the trace began). The tracer's times are cut to
    /// microseconds: a slice is moved or cut (by less than that, or to the
    /// region's edges) so that each lies inside its caller and after the
    /// sibling before it, a nanosecond apart, as Perfetto requires; its
    /// `duration_us` keeps the tracer's figure.
    func graphSlices(_ graph: FunctionGraph, pid: Int32, tid: Int32, from: UInt64, to: UInt64) -> [[String: Any]] {
        var out: [[String: Any]] = []
        // Per depth: the caller's end and where its next callee may begin (nil: no room).
        var frames: [(end: UInt64, next: UInt64)?] = [(to, from)]
        for call in graph.calls {
            if frames.count > call.depth + 1 { frames.removeLast(frames.count - call.depth - 1) }
            guard frames.count == call.depth + 1, let caller = frames[call.depth], caller.next < caller.end else {
                frames.append(nil)
                continue
            }
            let start = max(call.time.nanoseconds &- origin, caller.next)
            guard start < caller.end else {
                frames.append(nil)
                continue
            }
            let end = min(call.duration.map { start + $0 } ?? caller.end, caller.end - 1)
            guard end >= start else {
                frames.append(nil)
                continue
            }
            frames[call.depth] = (caller.end, end + 1)
            frames.append((end, start))
            out.append(["ph": "X", "name": call.function, "cat": "function_graph", "pid": pid, "tid": tid,
                        "ts": Double(start) / 1000, "dur": Double(end - start) / 1000,
                        "args": ["duration_us": call.duration.map { Double($0) / 1000 } ?? "unfinished", "depth": call.depth] as [String: Any]])
        }
        return out
    }
}

/// Which calls a flow arrow joins: connect → accept of one connection, and
/// each send → the receive on the other end that consumed its first byte.
struct FlowPlanner {
    var outgoing: [Int: [Int]] = [:]
    var incoming: [Int: [Int]] = [:]
    var nextID = 1

    init(calls: [SyscallInvocation]) {
        let tracker = ConnectionTracker()
        struct Stream {
            var sends: [(call: Int, from: Int64, to: Int64)] = []
            var receives: [(call: Int, from: Int64, to: Int64)] = []
            var sent: Int64 = 0
            var received: Int64 = 0
        }
        // By connection and direction (true: client to server).
        var streams: [Int: [Bool: Stream]] = [:]
        // Either of connect and accept may return first.
        var connects: [Int: Int] = [:]
        var accepts: [Int: Int] = [:]
        for (index, call) in calls.enumerated() {
            tracker.observe(call)
            // A non-blocking connect opens its connection with EINPROGRESS.
            let opened = call.result.map { !$0.failed || (call.syscall == .connect && $0.errno == EINPROGRESS) } ?? false
            guard let side = tracker.side(of: call), opened else { continue }
            switch call.syscall {
            case .connect:
                connects[side.id] = connects[side.id] ?? index
            case .accept, .accept4:
                accepts[side.id] = accepts[side.id] ?? index
            default:
                guard let transfer = DataTransfer(call) else { continue }
                let clientToServer = (transfer.direction == .sent) == side.isClient
                var stream = streams[side.id, default: [:]][clientToServer, default: Stream()]
                if transfer.direction == .sent {
                    stream.sends.append((index, stream.sent, stream.sent + transfer.bytes))
                    stream.sent += transfer.bytes
                } else {
                    stream.receives.append((index, stream.received, stream.received + transfer.bytes))
                    stream.received += transfer.bytes
                }
                streams[side.id, default: [:]][clientToServer] = stream
            }
        }
        let sentNothing = { (call: SyscallInvocation) -> Bool in
            call.kernel?.source == .observed && SequenceDiagram.ownSegments(call).isEmpty
        }
        let transmitSampled = SequenceDiagram.transmitsSampled(calls)
        for (connection, connect) in connects.sorted(by: { $0.value < $1.value }) {
            // A connect whose SYN did not visibly leave in it (dropped, sent
            // again by the timer) starts no flow (audit 42 M1: 1.02 s early).
            if transmitSampled && sentNothing(calls[connect]) { continue }
            if let accept = accepts[connection] { link(connect, accept) }
        }
        // A send whose data did not visibly leave in it (the probes sample
        // transmits, none of its own in it: queued behind a window, a cork,
        // a drop) starts no flow: its bytes left later, elsewhere (audit 41
        // M1: flows drawn from sends whose first byte left 200-550 ms later).
        for stream in streams.values.flatMap(\.values) {
            for send in stream.sends {
                if transmitSampled && sentNothing(calls[send.call]) { continue }
                if let receive = stream.receives.first(where: { $0.from <= send.from && send.from < $0.to }) {
                    link(send.call, receive.call)
                }
            }
        }
    }

    mutating func link(_ from: Int, _ to: Int) {
        outgoing[from, default: []].append(nextID)
        incoming[to, default: []].append(nextID)
        nextID += 1
    }
}
