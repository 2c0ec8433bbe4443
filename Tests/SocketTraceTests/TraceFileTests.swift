import Foundation
import Testing
@testable import SocketTrace

/// The trace file: round trips, and what a damaged file does.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct TraceFileTests {
    func script(port: Int) throws -> [String] {
        return ["/bin/sh", "-c", try TestSupport.serverAndClientScript(port: port)]
    }

    @Test("trace → file → report reproduces the live text output")
    func textRoundTrip() throws {
        let live = TestSupport.temporaryFile("live")
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let kernel = TestSupport.canObserveKernel ? "on" : "off"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "-o", live, "--save", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0, "\(result.stderr)")
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", saved])
        #expect(report.status == 0)
        let liveText = try String(contentsOfFile: live, encoding: .utf8)
        #expect(liveText.contains("accept(3<TCP 127.0.0.1:"))
        #expect(report.stdout == liveText)
    }

    @Test("report --format strace reproduces the live strace lines")
    func straceRoundTrip() throws {
        let live = TestSupport.temporaryFile("live")
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-f", "-o", live, "--save", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0)
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "strace", saved])
        #expect(report.stdout == (try String(contentsOfFile: live, encoding: .utf8)))
    }

    @Test("format 1.16: a recorded read blocked past the timeline's hold while other calls stop: report renders it as live did (audit 23)")
    func leftOutEntriesRoundTrip() throws {
        let script = TestSupport.temporaryFile("late-read") + ".py"
        try """
            import os, socket, time
            a, b = socket.socketpair()
            if os.fork() == 0:
                os.read(b.fileno(), 8)
                os._exit(0)
            for _ in range(30):
                socket.socket().close()
                time.sleep(0.01)
            a.send(b"x")
            os.wait()
            """.write(toFile: script, atomically: true, encoding: .utf8)
        for format in ["text", "strace"] {
            let live = TestSupport.temporaryFile("late-live"), saved = TestSupport.temporaryFile("late-saved") + ".jsonl"
            let kernel = TestSupport.canObserveKernel ? "on" : "off"
            let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "--format", format, "-f", "-o", live, "--save", saved,
                                                                       "/usr/bin/python3", script])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", format, saved])
            let liveText = try String(contentsOfFile: live, encoding: .utf8)
            #expect(liveText.contains("read(") && report.stdout == liveText, "\(format): live\n\(liveText)\nreport\n\(report.stdout)")
        }
    }

    func savedTrace() throws -> String {
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--format", "jsonl", "-o", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0)
        return saved
    }

    @Test("a trace cut mid-line: every complete record, then where it stopped")
    func truncated() throws {
        let saved = try savedTrace()
        var data = try Data(contentsOf: URL(fileURLWithPath: saved))
        let lines = data.split(separator: UInt8(ascii: "\n")).count
        data.removeLast(40)
        try data.write(to: URL(fileURLWithPath: saved))
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "jsonl", saved])
        #expect(report.status == 1)
        #expect(report.stderr == "sockettrace: \(saved):\(lines): the trace ends in the middle of a record; the \(lines - 1) complete records before it were used\n")
        // Every complete record is written out again (the cut one was the end
        // record), with a new end record of its own.
        #expect(report.stdout.split(separator: "\n").count == lines)
        #expect(report.stdout.hasSuffix("\"type\":\"end\"}\n"))
    }

    @Test("a corrupt line, a future version, an empty file: one line naming the problem")
    func damaged() throws {
        let saved = try savedTrace()
        var lines = try String(contentsOfFile: saved, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[3] = "{\"type\":\"syscall\",\"pid\":"
        let corrupt = TestSupport.temporaryFile("corrupt")
        try lines.joined(separator: "\n").write(toFile: corrupt, atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(TestSupport.sockettrace, ["report", corrupt])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("sockettrace: \(corrupt):4: not a valid trace record"))

        lines = try String(contentsOfFile: saved, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "\"version\":\"\(TraceHeader.currentVersion)\"", with: "\"version\":\"2.0\"")
        let future = TestSupport.temporaryFile("future")
        try lines.joined(separator: "\n").write(toFile: future, atomically: true, encoding: .utf8)
        let newer = try TestSupport.run(TestSupport.sockettrace, ["report", future])
        #expect(newer.status == 1)
        #expect(newer.stderr == "sockettrace: \(future):1: trace format version 2.0 is newer than this sockettrace reads (1.x)\n")

        let empty = TestSupport.temporaryFile("empty")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let none = try TestSupport.run(TestSupport.sockettrace, ["report", empty])
        #expect(none.status == 1)
        #expect(none.stderr == "sockettrace: \(empty): is empty: not a sockettrace trace\n")
    }

    @Test("compare pairs the client's connect with the server's accept, with bytes both ways")
    func connectionPairing() throws {
        let saved = try savedTrace()
        let result = try TestSupport.run(TestSupport.sockettrace, ["compare", "--json", saved])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let connections = try #require(json["connections"] as? [[String: Any]])
        #expect(connections.count == 1)
        let connection = try #require(connections.first)
        #expect((connection["server"] as? String)?.hasPrefix("127.0.0.1:") == true)
        #expect(connection["sent_by_client"] as? Int == 18)
        #expect(connection["received_by_server"] as? Int == 18)
        #expect(connection["sent_by_server"] as? Int == 14)
        #expect(connection["received_by_client"] as? Int == 14)
        let handshake = try #require(connection["handshake"] as? Double)
        #expect(handshake > 0 && handshake < 5)
        #expect(connection["client_pid"] as? Int != connection["server_pid"] as? Int)
    }

    @Test("--no-data: no payload byte reaches the trace file")
    func noData() throws {
        let port = TestSupport.freshPort()
        let saved = TestSupport.temporaryFile("nodata") + ".jsonl"
        let script = try TestSupport.serverAndClientScript(port: port)
        let result = try TestSupport.run(TestSupport.sockettrace, ["--no-data", "--kernel", "off", "--format", "jsonl", "-o", saved, "/bin/sh", "-c", script])
        #expect(result.status == 0)
        let text = try String(contentsOfFile: saved, encoding: .utf8)
        #expect(!text.contains("hello from client") && !text.contains("Hello, world"))
        #expect(text.contains("\"write(3<TCP"))
    }

    @Test("the trace file is not world-readable and is not written through a planted symlink")
    func safeOutputFile() throws {
        let saved = try savedTrace()
        let attributes = try FileManager.default.attributesOfItem(atPath: saved)
        #expect((attributes[.posixPermissions] as? Int ?? 0o777) & 0o077 == 0)
        let target = TestSupport.temporaryFile("target")
        let link = TestSupport.temporaryFile("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let result = try TestSupport.run(TestSupport.sockettrace, ["-o", link, "/bin/true"])
        #expect(result.status == 1)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("the trace file ends with its connections: both ends' pids, handshake and bytes each way")
    func connectionRecords() throws {
        let records = try TraceFileReader(path: try savedTrace()).records
        let connections = records.compactMap { record -> Connection? in
            if case let .connection(connection) = record { return connection }
            return nil
        }
        let connection = try #require(connections.first)
        #expect(connections.count == 1)
        #expect(connection.clientPid != nil && connection.serverPid != nil && connection.clientPid != connection.serverPid)
        #expect((connection.handshake ?? 0) > 0)
        #expect(connection.sentByClient == 18 && connection.receivedByServer == 18)
        #expect(connection.sentByServer == 14 && connection.receivedByClient == 14)
        // Written after the calls, before the end record.
        guard case .end? = records.last, case .connection? = records.dropLast().last else {
            Issue.record("connection records are not just before the end record")
            return
        }
    }
}

/// A process's exit with what its release did in the kernel (format 1.9's
/// `exit_kernel`), written and read back, and shown under its exit line.
@Suite struct ExitKernelRecordTests {
    static func exitEvent() -> ProcessEvent {
        var event = ProcessEvent(.killed, tid: 301, pid: 301, time: MonotonicTime(nanoseconds: 5_000_000_000))
        event.signal = SIGKILL
        event.coreDumped = false
        event.name = "client"
        event.releasedSockets = [SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: "127.0.0.1:40000"),
                                                peer: SocketEndpoint(text: "127.0.0.1:12345"), state: .connected)]
        // innermost first, as sampled
        let chain = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_write_xmit",
                     "__tcp_push_pending_frames", "__tcp_close", "tcp_close", "inet_release", "sock_close", "__fput", "task_work_run",
                     "do_exit", "do_group_exit", "get_signal", "arch_do_signal_or_restart", "exit_to_user_mode_loop", "do_syscall_64"]
        let sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 301, tid: 301,
                                  time: MonotonicTime(nanoseconds: 4_999_000_000), cpu: 1, chain: chain, fields: [:])
        let functions = ["do_exit", "task_work_run", "__fput", "sock_close", "inet_release", "tcp_close", "__tcp_close"]
        let expected = functions.map { ModelFunction(layer: .syscall, name: $0, sourceFile: nil, kernels: .any, file: "", line: 0) }
        var alignment = ChainAligner(symbols: nil).align(Array(ChainAligner.parts(sample.frames).syscall.map(\.function)), with: expected,
                                                          operation: "tcp_close")
        alignment.context = ChainAlignment.syscallContext
        alignment.sample = sample.heading
        event.exitKernel = KernelActivity(operation: "tcp_close", source: .observed, expected: functions, samples: [sample], alignments: [alignment])
        return event
    }

    /// The text timeline of one kernel event (a sample outside any call).
    static func timeline(_ sample: KernelSample, options: TextTimeline.Options = TextTimeline.Options()) -> String {
        let output = TraceOutput.capturing()
        let timeline = TextTimeline(output: output, options: options)
        timeline.handle(.kernelEvent(sample))
        timeline.finish()
        output.flush()
        return output.captured
    }

    /// The text timeline of one process event.
    static func timeline(_ event: ProcessEvent, after earlier: KernelSample? = nil) -> String {
        let output = TraceOutput.capturing()
        let timeline = TextTimeline(output: output, options: TextTimeline.Options())
        if let earlier { timeline.handle(.kernelEvent(earlier)) }
        timeline.handle(.process(event))
        timeline.finish()
        output.flush()
        return output.captured
    }

    @Test("an exit's release says when it was sampled, before the exit's end the line is stamped with (audit 95 F4: it read as after the peer's state change it set off)")
    func releaseTimed() {
        var peer = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 400, tid: 400,
                                time: MonotonicTime(nanoseconds: 4_998_000_000), cpu: 0, chain: [], fields: [:])
        peer.task = "other[400]"
        let shown = Self.timeline(Self.exitEvent(), after: peer)
        #expect(shown.contains("their release, sampled on the exiting threads from their exit stop on at 0.001000, before the exit's end (this line's time) (tcp_close):"),
                "\(shown)")
        #expect(shown.contains("   0.002000  ?[301]                +++ killed by SIGKILL +++"), "\(shown)")
    }

    @Test("compare times an exit's release samples under `exit OPERATION`, from the release's first sample (audit 6: left out)")
    func exitTimings() {
        let comparison = KernelComparison(calls: [], strayEvents: [], exits: [Self.exitEvent()])
        let timing = comparison.timings.first { $0.operation == "exit tcp_close" }
        #expect(timing?.samples == 1 && timing?.fromEntry == [0], "\(comparison.timings.map { "\($0.operation) \($0.tracepoint)" })")
    }

    @Test("an event's stack is kept and shown only with --event-stacks, whole, outermost first, with offsets (audit 6: events' stacks never shown)")
    func eventStacks() {
        var event = Self.exitEvent()
        var activity = event.exitKernel!
        let sample = activity.samples[0]
        var reset = KernelSample(tracepoint: "tcp:tcp_send_reset", role: .event, pid: sample.pid, tid: sample.tid, time: sample.time,
                                 cpu: sample.cpu, chain: sample.chain, fields: [:])
        reset.addresses = sample.addresses
        activity.samples.append(reset)
        event.exitKernel = activity
        let plain = Self.timeline(event)
        #expect(plain.contains("· tcp:tcp_send_reset") && !plain.contains("stack: "), "\(plain)")
        let output = TraceOutput.capturing()
        var options = TextTimeline.Options()
        options.eventStacks = true
        let timeline = TextTimeline(output: output, options: options)
        timeline.handle(.process(event))
        timeline.finish()
        output.flush()
        let outermost = reset.frames.last.map(\.location) ?? "?"
        let innermost = reset.frames.first.map(\.location) ?? "?"
        #expect(output.captured.contains("stack: " + outermost) && output.captured.contains(innermost), "\(output.captured)")
    }

    @Test("a line of words under a call: written whole when it fits, wrapped at spaces as the word-by-word path wraps it")
    func wordsWrapLikeParts() {
        let texts = ["packet sent by this socket: skb 0xffff888177d6b0e0 queued by write of 6151 on 127.0.0.1:59537 → 127.0.0.1:55404",
                     "at net:net_dev_queue lo len=67", "  two  spaces inside ", "", " ", "one"]
        for width in [nil, 60, 80, 200] as [Int?] {
            for text in texts {
                var options = TextTimeline.Options()
                options.width = width
                let fast = TraceOutput.capturing(), slow = TraceOutput.capturing()
                TextTimeline(output: fast, options: options).writeWords(text, continuation: "  ")
                TextTimeline(output: slow, options: options).writeWrapped(text.split(separator: " ").map(String.init), separator: " ", continuation: "  ")
                fast.flush()
                slow.flush()
                #expect(fast.captured == slow.captured, "width \(String(describing: width)): \(text)")
            }
        }
        #expect(TextTimeline.singleSpaced("a b c") && !TextTimeline.singleSpaced("a  b") && !TextTimeline.singleSpaced(" a")
                && !TextTimeline.singleSpaced("a ") && !TextTimeline.singleSpaced(""))
    }

    @Test("compare's median of an even count is the mean of the two middle times (audit 34 M1: the larger of two)")
    func timingMedian() {
        var timing = KernelComparison.Timing(operation: "tcp_send", tracepoint: "net:net_dev_queue")
        timing.fromEntry = [10, 30]
        #expect(timing.median == 20)
        timing.fromEntry = [10, 30, 50]
        #expect(timing.median == 30)
    }

    @Test("another connection's work taken out of a traced call says so, not that the call is one the trace does not record (audit 33 F2)")
    func otherFlowTakenOutOfTracedCall() {
        // A delayed-ACK timer that fired in a traced UDP sendto, on its stack (6.18).
        let chain = ["__dev_queue_xmit", "ip_finish_output2", "ip_output", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_delack_timer_handler",
                     "tcp_delack_timer", "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "do_softirq",
                     "__local_bh_enable_ip", "__dev_queue_xmit", "ip_finish_output2", "ip_output", "ip_send_skb", "udp_send_skb",
                     "udp_sendmsg", "__sys_sendto", "__x64_sys_sendto", "x64_sys_call", "do_syscall_64"]
        func shown(task: String?, inTracedTask: String?) -> String {
            var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 301, tid: 301, time: MonotonicTime(nanoseconds: 5_000),
                                      cpu: 1, chain: chain, fields: ["len": .number(66), "name": .string("lo")])
            sample.flow = PacketFlow(owner: .otherFlow, evidence: "TCP work (__tcp_transmit_skb on its stack), and this call's socket is not a TCP socket")
            sample.task = task
            sample.inTracedTask = inTracedTask
            var options = TextTimeline.Options()
            options.width = 1000
            return Self.timeline(sample, options: options)
        }
        let takenOut = shown(task: nil, inTracedTask: nil)
        #expect(takenOut.contains("taken out of it") && takenOut.contains("in the traced call it was taken out of: __x64_sys_sendto"), "\(takenOut)")
        #expect(!takenOut.contains("does not record"), "\(takenOut)")
        // Between the thread's traced calls, a syscall frame is one `-e` left out.
        let between = shown(task: nil, inTracedTask: "between its traced calls")
        #expect(between.contains("in a call the trace does not record: __x64_sys_sendto"), "\(between)")
    }

    @Test("a stack seen for two packets (×2) says whose each packet was, not the first's alone (audit 5: a FIN and its ACK)")
    func mergedPacketsEachOwned() {
        var event = Self.exitEvent()
        var activity = event.exitKernel!
        var first = activity.samples[0], second = activity.samples[0]
        first.flow = PacketFlow(owner: .ownSocket, evidence: "skb 0xaaa queued by the exit of 301 on 127.0.0.1:40000 → 127.0.0.1:12345")
        second.flow = PacketFlow(owner: .ownSocket, evidence: "skb 0xbbb queued by the exit of 301 on 127.0.0.1:40000 → 127.0.0.1:12345")
        activity.samples = [first, second]
        event.exitKernel = activity
        let shown = Self.timeline(event)
        #expect(shown.contains("(×2)") && shown.contains("skb 0xaaa") && shown.contains("skb 0xbbb"), "\(shown)")
    }

    @Test("a frame in a compiler's copy keeps the copy's name through the trace file: its offset re-checks against that symbol (audit 8: do_softirq+0x3b for do_softirq.part.0+0x3b)")
    func copiesNamed() throws {
        let chain = ["__dev_queue_xmit", "do_softirq", "__local_bh_enable_ip", "__sys_sendto"]
        func sample(copy: String?) -> KernelSample {
            var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 1),
                                      cpu: 0, chain: chain, fields: [:])
            sample.offsets = [0, 0x3b, 0x60, 0x100]
            sample.symbols = copy.map { ["__dev_queue_xmit", $0, "__local_bh_enable_ip", "__sys_sendto"] }
            return sample
        }
        let copied = sample(copy: "do_softirq.part.0"), plain = sample(copy: nil)
        #expect(copied.location(1) == "do_softirq.part.0+0x3b" && plain.location(1) == "do_softirq+0x3b")
        #expect(copied.frames[1].function == "do_softirq" && copied.frames[1].location == "do_softirq.part.0+0x3b")
        #expect(copied.frames[0].symbol == nil, "a plain frame names no copy")

        let path = TestSupport.temporaryFile("copies") + ".jsonl"
        let writer = TraceFileWriter(output: try TraceOutput.create(path: path),
                                     header: TraceHeader(command: ["x"], kernelObservation: "observed", note: nil))
        // The same functions in two symbols: two chains, each with its own names.
        for event in [copied, plain, copied] { writer.handle(.kernelEvent(event)) }
        writer.finish()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.components(separatedBy: "\"type\":\"chain\"").count == 3, "\(text)")
        let read = try TraceFileReader(path: path).records.compactMap { record -> KernelSample? in
            if case let .kernelEvent(sample) = record { return sample }
            return nil
        }
        #expect(read.map { $0.location(1) } == ["do_softirq.part.0+0x3b", "do_softirq+0x3b", "do_softirq.part.0+0x3b"])
        #expect(read.allSatisfy { $0.chain == chain }, "the model's names stay the functions'")

        // Without interning (Codable), the same.
        let data = try JSONEncoder().encode(copied)
        #expect(try JSONDecoder().decode(KernelSample.self, from: data).location(1) == "do_softirq.part.0+0x3b")
    }

    @Test("the text timeline writes a chain's lines again as they were, its evidence once: the kept lines are the ones it would write")
    func annotatedLinesKept() throws {
        var call = RecordEncoderTests.sampleCall()
        var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 41, tid: 42, time: MonotonicTime(nanoseconds: 5_000), cpu: 1,
                                  chain: ["hook", "__sys_sendto", "do_syscall_64"], fields: ["len": .number(80), "name": .string("lo")])
        sample.offsets = [4, 0x234, 0x10]
        var alignment = try #require(call.kernel?.alignments.first)
        alignment = ChainAlignment(operation: alignment.operation, steps: alignment.steps, extraFrames: alignment.extraFrames,
                                   observed: ChainAligner.parts(sample.frames).syscall.map(\.function))
        call.kernel = KernelActivity(operation: "tcp_send", source: .observed, expected: ["__sys_sendto", "sock_sendmsg"],
                                     samples: [sample], alignments: [alignment])
        call.userStack = nil
        call.functions = nil
        func rendered(_ calls: Int) -> String {
            let output = TraceOutput.capturing()
            let timeline = TextTimeline(output: output, options: TextTimeline.Options())
            for _ in 0..<calls { timeline.handle(.syscallExited(call)) }
            timeline.finish()
            output.flush()
            return output.captured
        }
        // Each call's lines under its own line.
        var blocks: [String] = []
        for line in rendered(3).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.contains("sendto(") { blocks.append("") } else if !blocks.isEmpty, !line.isEmpty { blocks[blocks.count - 1] += line + "\n" }
        }
        #expect(blocks.count == 3)
        let evidence = "(sock_sendmsg) tail call: __sys_sendto+0x234: call sock_sendmsg"
        #expect(blocks[0].contains(evidence) && !blocks[1].contains(evidence), "evidence once per trace:\n\(blocks[0])\n\(blocks[1])")
        #expect(blocks[1] == blocks[2], "the kept lines are the second call's")
        #expect(blocks[0].replacingOccurrences(of: blocks[0].components(separatedBy: "\n").first { $0.contains(evidence) }! + "\n", with: "") == blocks[1])
    }

    @Test("compare: a traced connection's work in a traced thread between its calls is not 'outside the traced tasks'; unknown softirq work between calls is counted as such (audit 11)")
    func compareBetweenCalls() {
        func event(task: String?, context: String?, owner: PacketFlow.Owner?, operation: String?) -> KernelSample {
            var sample = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5),
                                      cpu: 0, chain: ["__tcp_retransmit_skb", "tcp_write_timer"], fields: [:])
            sample.task = task
            sample.inTracedTask = context
            sample.flow = owner.map { PacketFlow(owner: $0, evidence: "x") }
            sample.alignments = operation.map { [ChainAlignment(operation: $0, steps: [], extraFrames: [], observed: [])] }
            return sample
        }
        let comparison = KernelComparison(calls: [], strayEvents: [
            event(task: "traced task 7", context: "between its traced calls", owner: .ownSocket, operation: "tcp_retransmit_timer"),
            event(task: "swapper/0", context: nil, owner: .ownSocket, operation: "tcp_retransmit_timer"),
            event(task: nil, context: "between its traced calls", owner: .unverified, operation: nil),
            event(task: nil, context: nil, owner: nil, operation: nil),
        ])
        #expect(comparison.betweenCalls == ["tcp_retransmit_timer": 1] && comparison.elsewhere == ["tcp_retransmit_timer": 1])
        #expect(comparison.outsideCalls == 2 && comparison.unknownBetweenCalls == 1)
        let text = comparison.text
        #expect(text.contains("work for traced connections in traced threads between their calls (timers that fired there): tcp_retransmit_timer ×1"), "\(text)")
        // Every event outside the calls counted in the headline, each kind said (audit 50 F3: "0" beside 31 timers' events).
        #expect(text.contains("kernel events outside every traced call: 4 (2 in traced threads between their calls, 1 of them softirq work for packets not known to be a traced socket's; "
                              + "1 work for traced connections outside the traced tasks; 1 work for traced connections in traced threads between their calls)"), "\(text)")
    }

    @Test("another connection's work taken out of a call: the timeline shows its stack and operation, compare counts it under that operation (audit 19)")
    func otherConnectionsWorkShown() {
        // A delayed ACK's timer that fired while a UDP sendto's thread sat in its entry stop.
        let chain = ["__dev_queue_xmit", "ip_finish_output2", "__ip_queue_xmit", "__tcp_transmit_skb", "tcp_delack_timer_handler", "tcp_delack_timer",
                     "call_timer_fn", "__run_timers", "run_timer_softirq", "handle_softirqs", "__irq_exit_rcu", "sysvec_apic_timer_interrupt",
                     "asm_sysvec_apic_timer_interrupt", "finish_task_switch", "__schedule", "schedule", "ptrace_stop", "ptrace_do_notify",
                     "ptrace_notify", "__seccomp_filter", "syscall_trace_enter", "do_syscall_64", "entry_SYSCALL_64_after_hwframe"]
        var sample = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5),
                                  cpu: 0, chain: chain, fields: [:])
        sample.flow = PacketFlow(owner: .otherFlow, evidence: "TCP work (__tcp_transmit_skb on its stack), and this call's socket is not a TCP socket")
        sample.alignments = [ChainAlignment(operation: "tcp_delack_timer", steps: [], extraFrames: [], observed: [], context: "softirq TIMER")]
        let text = Self.timeline(sample)
        // Where the thread was, from its stack: held at the call's entry stop, which the kernel had not begun.
        #expect(text.contains("(in this traced thread, at a call's entry stop, before the kernel began the call: another connection's than that call's)"), "\(text)")
        for frame in ["ptrace_stop", "tcp_delack_timer_handler", "__tcp_transmit_skb"] {
            #expect(text.contains(frame), "\(frame) hidden: \(text)")
        }
        // The same stack taken before a call the kernel records (timed from
        // its sys_enter, after this stop): said the same way, not "between
        // its calls" (audit 64 M1); without the call, no connection is "another".
        var before = sample
        before.flow = PacketFlow(owner: .unverified, evidence: "TIMER softirq work run in this traced thread between its traced calls")
        before.inTracedTask = "between its traced calls"
        let beforeText = Self.timeline(before)
        #expect(beforeText.contains("(in this traced thread, at a call's entry stop, before the kernel began the call)")
                && !beforeText.contains("between its calls)"), "\(beforeText)")
        // Work on the way out of an interrupt between calls (no entry stop on the stack) is between its calls.
        var between = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5), cpu: 0,
                               chain: Array(chain.prefix(13)) + ["irqentry_exit", "asm_sysvec_apic_timer_interrupt"], fields: [:])
        between.flow = before.flow
        between.inTracedTask = before.inTracedTask
        #expect(Self.timeline(between).contains("(in this traced thread between its calls)"), "\(Self.timeline(between))")
        // Just out of the entry stop, before the kernel's sys_enter (audit 66 N1: "during a call").
        var leaving = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5), cpu: 0,
                                   chain: Array(chain.prefix(13)) + ["_raw_spin_unlock_irq", "ptrace_notify", "__seccomp_filter", "syscall_trace_enter",
                                                                     "do_syscall_64", "entry_SYSCALL_64_after_hwframe"], fields: [:])
        leaving.flow = sample.flow
        #expect(Self.timeline(leaving).contains("(in this traced thread, at a call's entry stop, before the kernel began the call: another connection's than that call's)"),
                "\(Self.timeline(leaving))")
        // At a call's exit stop, after the kernel ended the call (audit 62 O2: "during a call").
        var atExit = KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5), cpu: 0,
                              chain: Array(chain.prefix(17)) + ["ptrace_do_notify", "ptrace_notify", "syscall_exit_work", "do_syscall_64",
                                                                "entry_SYSCALL_64_after_hwframe"], fields: [:])
        atExit.flow = sample.flow
        #expect(Self.timeline(atExit).contains("(in this traced thread, at a call's exit stop, after the kernel ended the call: another connection's than that call's)"),
                "\(Self.timeline(atExit))")
        #expect(text.contains("tcp_delack_timer") && text.contains("flow: TCP work"), "\(text)")

        var exit = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 9),
                                cpu: 0, chain: [], fields: [:])
        exit.flow = PacketFlow(owner: .otherFlow, evidence: "x")
        let comparison = KernelComparison(calls: [], strayEvents: [sample, exit])
        let delack = comparison.timings.first { $0.operation == "tcp_delack_timer" && $0.tracepoint == "net:net_dev_queue" }
        #expect(delack?.samples == 1 && delack?.outsideItsCall == 1 && delack?.fromEntry == [], "\(comparison.timings)")
        #expect(comparison.outsideCalls == 0 && comparison.packets["other-flow"] == 2 && comparison.eventsOutsideCalls == 2 && comparison.otherFlowEvents == 2)
        #expect(comparison.text.contains("kernel events outside every traced call: 2 (2 other connections', taken out of the calls)"), "\(comparison.text)")
        // Names longer than the old 22 columns are not cut into the tracepoint's.
        #expect(comparison.text.contains("(event in softirq work)  sock:inet_sock_set_state"), "\(comparison.text)")
        #expect(comparison.text.contains("1 another connection's, taken out of the call it ran in (not timed)"), "\(comparison.text)")
    }

    @Test("the connections' bytes: an end no traced program holds is said to be untraced, not to have moved 0 B (audit 14)")
    func bytesOfUntracedEnd() {
        var connection = Connection(id: 1, protocolLabel: "TCP", client: SocketEndpoint.inet(address: "127.0.0.1", port: 40000),
                                    server: SocketEndpoint.inet(address: "127.0.0.1", port: 8080))
        connection.clientPid = 7
        connection.sentByClient = 5
        #expect(TextTimeline.bytesLine(connection) == "client sent 5 B, received 0 B (not seen established; no traced program accepted it)",
                "bytes sent alone show no server: Fast Open's go in the SYN")
        connection.receivedByClient = 5
        #expect(TextTimeline.bytesLine(connection) == "client sent 5 B, received 5 B (server not traced)")
        connection.serverPid = 9
        connection.receivedByServer = 5
        connection.sentByServer = 5
        #expect(TextTimeline.bytesLine(connection) == "client sent 5 B (server received 5 B), server sent 5 B (client received 5 B)")
        connection.clientPid = nil
        #expect(TextTimeline.bytesLine(connection) == "server sent 5 B, received 5 B (client not traced)")
    }

    /// Kernel events written to a trace file, read back, and rendered by the text timeline from what was read.
    static func eventsThroughFile(_ name: String, _ samples: [KernelSample]) throws -> (read: [KernelSample], timeline: String) {
        let path = TestSupport.temporaryFile(name) + ".jsonl"
        let writer = TraceFileWriter(output: try TraceOutput.create(path: path),
                                     header: TraceHeader(command: ["x"], kernelObservation: "observed", note: nil))
        for sample in samples { writer.handle(.kernelEvent(sample)) }
        writer.finish()
        let read = try TraceFileReader(path: path).records.compactMap { record -> KernelSample? in
            if case let .kernelEvent(sample) = record { return sample }
            return nil
        }
        let output = TraceOutput.capturing()
        let timeline = TextTimeline(output: output, options: TextTimeline.Options())
        for sample in read { timeline.handle(.kernelEvent(sample)) }
        timeline.finish()
        output.flush()
        return (read, output.captured)
    }

    @Test("softirq work a traced thread ran between its calls: a traced socket's packet is shown with its evidence; one not known to be is shown as such, with its frames, never as the thread's (audits 11, 20)")
    func softirqWorkBetweenCallsShown() throws {
        func sample(_ owner: PacketFlow.Owner, _ evidence: String, skb: Int64) -> KernelSample {
            var sample = KernelSample(tracepoint: "net:netif_receive_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5),
                                      cpu: 1, chain: ["__netif_receive_skb_core", "net_rx_action", "handle_softirqs", "__irq_exit_rcu"],
                                      fields: ["skbaddr": .number(skb), "len": .number(52), "name": .string("lo")])
            sample.inTracedTask = "between its traced calls"
            sample.flow = PacketFlow(owner: owner, evidence: evidence)
            return sample
        }
        let (read, text) = try Self.eventsThroughFile("between-calls", [
            sample(.ownSocket, "NET_RX softirq work run in this traced thread between its traced calls: skb 0x100 queued by sendto of 9", skb: 0x100),
            sample(.unverified, "NET_RX softirq work run in this traced thread between its traced calls: skb 0x200 was not seen leaving a traced call", skb: 0x200),
        ])
        #expect(read.map(\.flow?.owner) == [.ownSocket, .unverified], "the file keeps both")
        #expect(text.contains("skb 0x100 queued by sendto of 9"), "\(text)")
        #expect(text.contains("flow: NET_RX softirq work run in this traced thread between its traced calls: skb 0x200 was not seen leaving a traced call")
                && !text.contains("during a call"), "\(text)")
        #expect(text.components(separatedBy: "(in this traced thread between its calls)").count == 3, "\(text)")
        #expect(text.components(separatedBy: "net_rx_action").count == 3, "both samples' frames: \(text)")
    }

    @Test("a traced flow's chain taken in a traced task between its calls says so, in the file and the timeline, not 'outside the traced tasks' (audit 8)")
    func inTracedTask() throws {
        func sample(_ context: String?, task: String) -> KernelSample {
            var sample = KernelSample(tracepoint: "tcp:tcp_retransmit_skb", role: .chain, pid: 7, tid: 7, time: MonotonicTime(nanoseconds: 5),
                                      cpu: 1, chain: ["__tcp_retransmit_skb", "tcp_write_timer", "call_timer_fn"], fields: [:])
            sample.task = task
            sample.inTracedTask = context
            sample.alignments = []
            return sample
        }
        let (read, text) = try Self.eventsThroughFile("in-traced-task", [sample("between its traced calls", task: "pingpong[7]"), sample(nil, task: "swapper/1")])
        #expect(read.map(\.inTracedTask) == ["between its traced calls", nil])
        #expect(text.contains("(in this traced thread, between its traced calls, on CPU 1)"), "\(text)")
        #expect(!text.contains("pingpong[7]"), "the timeline's own name for the thread, not the task string (audit 10)")
        #expect(text.contains("(outside the traced tasks: swapper/1 on CPU 1)"), "\(text)")
        #expect(text.components(separatedBy: "outside the traced tasks").count == 2, "only the swapper's hit is outside")
    }

    @Test("exit_kernel round-trips through the trace file; the timeline shows the release's chain under the kill, frames above do_exit as they are")
    func roundTrip() throws {
        let path = TestSupport.temporaryFile("exit-kernel") + ".jsonl"
        let writer = TraceFileWriter(output: try TraceOutput.create(path: path),
                                     header: TraceHeader(command: ["client"], kernelObservation: "observed", note: nil))
        writer.handle(.process(Self.exitEvent()))
        writer.finish()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"version\":\"\(TraceHeader.currentVersion)\"") && text.contains("\"exit_kernel\":{"), "\(text)")
        var read: ProcessEvent?
        for case let .process(event) in try TraceFileReader(path: path).records { read = event }
        let event = try #require(read)
        #expect(event.kind == .killed && event.releasedSockets?.first?.fd == 3)
        let activity = try #require(event.exitKernel)
        #expect(activity.operation == "tcp_close" && activity.samples.first?.chain == Self.exitEvent().exitKernel?.samples.first?.chain)
        #expect(activity.alignments.first?.steps.map(\.status) == Self.exitEvent().exitKernel?.alignments.first?.steps.map(\.status))
        #expect(activity.alignments.first?.verdict == .matches)

        let shown = Self.timeline(event)
        #expect(shown.contains("+++ killed by SIGKILL +++"), "\(shown)")
        #expect(shown.contains("↳ released by the exit: 3<TCP 127.0.0.1:40000->127.0.0.1:12345>; their release, sampled on the exiting threads from their exit stop on (tcp_close):"), "\(shown)")
        #expect(shown.contains("+exit_to_user_mode_loop → +arch_do_signal_or_restart → +get_signal → +do_group_exit → do_exit → task_work_run → __fput"), "\(shown)")
        #expect(!shown.contains("not observed"))
        // The part comes from the exit, not from a syscall.
        #expect(shown.contains("exit tcp_close: matches") && !shown.contains("syscall tcp_close"), "\(shown)")

        // Without it (a 1.8 trace, or kernel observation off): the sentence that says it was not observed.
        var older = event
        older.exitKernel = nil
        let plain = Self.timeline(older)
        #expect(plain.contains("what their release sends (a FIN) is not observed"), "\(plain)")

        // The report and the Perfetto export show the release too.
        let html = HTMLReport(records: [.process(event)], header: nil, timelineText: shown).operationTable()
        #expect(html.contains("<h3>tcp_close</h3>") && html.contains("1 calls (1 of them a process's exit)"), "\(html)")
        let exported = String(decoding: try PerfettoExporter(records: [.process(event)]).export(), as: UTF8.self)
        let heading = try #require(activity.samples.first).heading
        #expect(exported.contains("\"cat\":\"kernel\"") && exported.contains(heading), "\(exported)")
    }
}
