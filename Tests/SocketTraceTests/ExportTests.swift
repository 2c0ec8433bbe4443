import Foundation
import Testing
@testable import SocketTrace

/// Perfetto JSON, sequence diagrams and the HTML report from a real trace.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct ExportTests {
    /// A trace of the seeds' server and client, with a payload that must stay text.
    static let trace: Result<String, any Error> = Result {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("export") + ".jsonl"
        let kernel = TestSupport.canObserveKernel ? "on" : "off"
        let script = "\(server) 127.0.0.1 \(port) 1 >/dev/null & \(client) 127.0.0.1 \(port) '<script>document.title=\"pwned\"</script>' >/dev/null; wait"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "--format", "jsonl", "-o", file, "/bin/sh", "-c", script])
        guard result.status == 0 else { throw TestSupport.BuildFailed(source: "trace", log: result.stderr) }
        return file
    }

    func report(_ format: String, _ extra: [String] = []) throws -> String {
        let result = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", format] + extra + [try Self.trace.get()])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// The Trace Event Format's rules Perfetto's JSON importer applies:
    /// complete events need ts and dur; on one thread, slices nest strictly
    /// (a slice that starts inside another ends inside it); every flow id
    /// has exactly one flow_out and one flow_in end; metadata names tracks.
    static func checkPerfetto(_ document: [String: Any]) -> [String] {
        var problems: [String] = []
        guard let events = document["traceEvents"] as? [[String: Any]] else { return ["no traceEvents array"] }
        var slices: [Int: [(start: Double, end: Double, name: String)]] = [:]
        var flowOut: [String: Int] = [:], flowIn: [String: Int] = [:]
        var namedThreads = Set<Int>()
        for event in events {
            guard let phase = event["ph"] as? String else { problems.append("event without ph"); continue }
            switch phase {
            case "X":
                guard let ts = event["ts"] as? Double, let dur = event["dur"] as? Double, dur >= 0,
                      let tid = event["tid"] as? Int, event["pid"] is Int else { problems.append("bad X event \(event)"); continue }
                slices[tid, default: []].append((ts, ts + dur, event["name"] as? String ?? ""))
                if let id = event["bind_id"] as? String {
                    if event["flow_out"] as? Bool == true { flowOut[id, default: 0] += 1 }
                    if event["flow_in"] as? Bool == true { flowIn[id, default: 0] += 1 }
                }
            case "i":
                if event["ts"] == nil || event["s"] == nil { problems.append("instant without ts or scope") }
            case "M":
                if event["name"] as? String == "thread_name", let tid = event["tid"] as? Int { namedThreads.insert(tid) }
            default:
                problems.append("unexpected phase \(phase)")
            }
        }
        for (tid, list) in slices {
            if !namedThreads.contains(tid) { problems.append("thread \(tid) has no name") }
            var stack: [(start: Double, end: Double, name: String)] = []
            for slice in list.sorted(by: { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }) {
                while let top = stack.last, slice.start >= top.end { stack.removeLast() }
                if let top = stack.last, slice.end > top.end {
                    problems.append("thread \(tid): \(slice.name) [\(slice.start), \(slice.end)] overlaps \(top.name) [\(top.start), \(top.end)]")
                }
                stack.append(slice)
            }
        }
        for id in Set(flowOut.keys).union(flowIn.keys) where flowOut[id] != 1 || flowIn[id] != 1 {
            problems.append("flow \(id): \(flowOut[id] ?? 0) out, \(flowIn[id] ?? 0) in")
        }
        return problems
    }

    @Test("Perfetto JSON: named tracks, strictly nested slices, flows connect→accept and send→receive")
    func perfetto() throws {
        let text = try report("perfetto")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Self.checkPerfetto(document) == [])
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        #expect(events.contains { $0["ph"] as? String == "X" && $0["name"] as? String == "accept" })
        // connect → accept, client write → server recv, server send → client read.
        #expect(events.filter { $0["flow_out"] as? Bool == true }.count >= 3)
        // Each flow end a moment, and each flow forward in time: out where the data or SYN left, in where it was
        // taken in (audit 40 M1: a twentieth of the call, a read's "← data" before the send).
        let flows = events.filter { $0["cat"] as? String == "flow" }
        #expect(flows.allSatisfy { ($0["dur"] as? Double) == 0.001 })
        for out in flows where out["flow_out"] as? Bool == true {
            let into = try #require(flows.first { $0["flow_in"] as? Bool == true && $0["bind_id"] as? String == out["bind_id"] as? String })
            #expect((out["ts"] as? Double ?? 0) <= (into["ts"] as? Double ?? 0), "\(out) → \(into)")
            #expect((out["name"] as? String == "connection →") == (into["name"] as? String == "← connection"), "\(out) → \(into)")
        }
        #expect(flows.contains { $0["name"] as? String == "connection →" } && flows.contains { $0["name"] as? String == "data →" })
        if TestSupport.canObserveKernel {
            // A sample is an instant at its time with its stack, never a slice of invented length (audit 27).
            #expect(!events.contains { $0["cat"] as? String == "kernel" && $0["ph"] as? String == "X" })
            #expect(events.contains { event in
                event["cat"] as? String == "kernel" && event["ph"] as? String == "i"
                    && ((event["args"] as? [String: Any])?["stack"] as? String)?.contains("__dev_queue_xmit+0x") == true
            })
            #expect(events.contains { $0["ph"] as? String == "i" && ($0["name"] as? String)?.contains("TCP_ESTABLISHED") == true })
        }
    }

    @Test("connect → accept is one flow whichever of the two returned first")
    func flowWhateverOrder() {
        func call(_ syscall: Syscall, pid: Int32, local: String, peer: String, at time: UInt64) -> SyscallInvocation {
            var call = SyscallInvocation(pid: pid, tid: pid, architecture: .x86_64, syscall: syscall, arguments: [3],
                                         entryTime: MonotonicTime(nanoseconds: time))
            call.exitTime = MonotonicTime(nanoseconds: time + 10)
            call.result = SyscallResult(value: syscall == .accept ? 4 : 0, errno: nil)
            call.socket = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: local),
                                         peer: SocketEndpoint(text: peer), state: .connected)
            return call
        }
        let connect = call(.connect, pid: 1, local: "127.0.0.1:50000", peer: "127.0.0.1:80", at: 100)
        let accept = call(.accept, pid: 2, local: "127.0.0.1:80", peer: "127.0.0.1:50000", at: 50)
        for calls in [[connect, accept], [accept, connect]] {
            let flows = FlowPlanner(calls: calls)
            let connectIndex = calls.firstIndex { $0.syscall == .connect }!
            let acceptIndex = calls.firstIndex { $0.syscall == .accept }!
            #expect(flows.outgoing[connectIndex] == [1] && flows.incoming[acceptIndex] == [1], "\(calls.map(\.name))")
        }
    }

    @Test("a send whose data did not leave in it (transmits sampled, none of its own) starts no Perfetto flow; one whose segment did, at that segment (audit 41 M1)")
    func flowFromSendsThatSent() {
        func call(_ syscall: Syscall, pid: Int32, local: String, peer: String, at time: UInt64, value: Int64, samples: [KernelSample]?) -> SyscallInvocation {
            var call = SyscallInvocation(pid: pid, tid: pid, architecture: .x86_64, syscall: syscall, arguments: [3, 0, UInt64(value), 0, 0, 0],
                                         entryTime: MonotonicTime(nanoseconds: time))
            call.exitTime = MonotonicTime(nanoseconds: time + 1000)
            call.result = SyscallResult(value: value, errno: nil)
            call.socket = SocketSnapshot(fd: 3, family: 2, type: 1, protocolLabel: "TCP", local: SocketEndpoint(text: local),
                                         peer: SocketEndpoint(text: peer), state: .connected)
            if let samples { call.kernel = KernelActivity(operation: "tcp_send", source: .observed, expected: [], samples: samples, alignments: []) }
            return call
        }
        func transmit(at time: UInt64, tid: Int32) -> KernelSample {
            KernelSample(tracepoint: "net:net_dev_queue", role: .chain, pid: tid, tid: tid, time: MonotonicTime(nanoseconds: time), cpu: 0,
                         chain: ["__dev_queue_xmit", "ip_finish_output2", "__tcp_transmit_skb", "tcp_write_xmit", "tcp_sendmsg_locked", "__sys_sendto"],
                         fields: ["skbaddr": .number(0x100), "len": .number(76), "name": .string("lo")])
        }
        let client = "127.0.0.1:50000", server = "127.0.0.1:80"
        let sent = call(.sendto, pid: 1, local: client, peer: server, at: 100, value: 10, samples: [transmit(at: 400, tid: 1)])
        let held = call(.sendto, pid: 1, local: client, peer: server, at: 2000, value: 10, samples: [])
        let read = call(.recvfrom, pid: 2, local: server, peer: client, at: 3000, value: 20, samples: nil)
        let connect = call(.connect, pid: 1, local: client, peer: server, at: 10, value: 0, samples: nil)
        let accept = call(.accept, pid: 2, local: server, peer: client, at: 20, value: 4, samples: nil)
        let flows = FlowPlanner(calls: [connect, accept, sent, held, read])
        // connect → accept is flow 1; the send that sent, flow 2; the held one none.
        #expect(flows.outgoing[2] == [2] && flows.outgoing[3] == nil && flows.incoming[4] == [2], "\(flows.outgoing) \(flows.incoming)")
    }

    @Test("the Perfetto checker catches overlapping slices and half flows")
    func perfettoCheckerFails() {
        let bad: [String: Any] = ["traceEvents": [
            ["ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": ["name": "t"]],
            ["ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 0.0, "dur": 10.0],
            ["ph": "X", "name": "b", "pid": 1, "tid": 1, "ts": 5.0, "dur": 10.0, "bind_id": "0x1", "flow_out": true],
        ]]
        #expect(Self.checkPerfetto(bad).count == 2)
    }

    /// Mermaid's sequenceDiagram grammar, for the statements we write.
    static func checkMermaid(_ text: String) -> [String] {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == "sequenceDiagram" else { return ["does not start with sequenceDiagram"] }
        lines.removeFirst()
        var declared = Set<String>()
        var problems: [String] = []
        for line in lines {
            let statement = line.trimmingCharacters(in: .whitespaces)
            if statement.hasPrefix("%%") { continue }
            // An alias runs to its line's end: Mermaid's lexer takes [^#\n;]+ there (no entities).
            if let match = statement.wholeMatch(of: /participant (\w+) as ([^;#<>]+)/) {
                declared.insert(String(match.output.1))
            } else if let match = statement.wholeMatch(of: /(\w+)(->>|-->>)(\w+): ((?:[^;#\n]|#\w+;)+)/) {
                for id in [match.output.1, match.output.3] where !declared.contains(String(id)) { problems.append("undeclared \(id): \(line)") }
                if match.output.4.contains(":") { problems.append("unescaped colon: \(line)") }
            } else if let match = statement.wholeMatch(of: /Note (over|right of|left of) ([\w,]+): ((?:[^;#\n]|#\w+;)+)/) {
                for id in match.output.2.split(separator: ",") where !declared.contains(String(id)) { problems.append("undeclared \(id): \(line)") }
            } else {
                problems.append("not a statement: \(line)")
            }
        }
        return problems
    }

    @Test("Mermaid: a valid sequenceDiagram with four participants and the handshake")
    func mermaid() throws {
        let text = try report("mermaid")
        #expect(Self.checkMermaid(text) == [])
        #expect(text.contains("participant CK as client kernel"))
        for message in ["CK->>SK: SYN", "SK->>CK: SYN-ACK", "CK->>SK: ACK", "SK->>CK: FIN"] {
            #expect(text.contains(message), "no \(message)")
        }
        #expect(text.contains("Note over CK,SK: connect's entry → accept's return "))
        // The seeds' server accepts, then its forked child writes and reads: both are named (audit 21).
        let server = try #require(text.split(separator: "\n").first { $0.contains("participant S as ") })
        #expect(server.wholeMatch(of: /\ +participant S as server\[\d+\], server\[\d+\]/) != nil, "\(server)")
    }

    @Test("a refused connect first: the default diagram is the first connection made; the refused one's untraced server is a valid participant",
          .enabled(if: TestSupport.canObserveKernel, "the refused connect's port comes from kernel samples"))
    func refusedFirst() throws {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = TestSupport.freshPort(), closed = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("export-refused") + ".jsonl"
        let refuse = "import socket\ntry: socket.create_connection(('127.0.0.1', \(closed)))\nexcept ConnectionRefusedError: pass"
        let script = "/usr/bin/python3 -c \"$REFUSE\"; \(server) 127.0.0.1 \(port) 1 >/dev/null & \(client) 127.0.0.1 \(port) hi >/dev/null; wait"
        setenv("REFUSE", refuse, 1)
        defer { unsetenv("REFUSE") }
        let traced = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", file, "/bin/sh", "-c", script])
        #expect(traced.status == 0, "\(traced.stderr)")
        let made = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", file])
        #expect(Self.checkMermaid(made.stdout) == [], "\(made.stdout)")
        // The client may have been refused too, before the server listened: the first made is #2 or later.
        #expect(!made.stdout.contains("%% connection #1:") && made.stdout.contains("SK->>CK: SYN-ACK"), "\(made.stdout)")
        let refused = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", "--connection", "1", file])
        #expect(refused.stdout.contains("participant S as server 127.0.0.1:\(closed)"), "\(refused.stdout)")
        // What happened, and nothing that did not (audit 20: a handshake, a descriptor holding the socket).
        for step in ["CK->>SK: SYN", "SK->>CK: RST", "CK-->>C: connect = -1 ECONNREFUSED", "no FIN#58; the connection was refused"] {
            #expect(refused.stdout.contains(step), "no \(step): \(refused.stdout)")
        }
        #expect(!refused.stdout.contains("SYN-ACK") && !refused.stdout.contains("another descriptor"), "\(refused.stdout)")
        #expect(Self.checkMermaid(refused.stdout) == [], "\(refused.stdout)")
    }

    @Test("an untraced server that closes first: its FIN is drawn from the kernel's state change, before the client's (audit 20)",
          .enabled(if: TestSupport.canObserveKernel, "the FIN's evidence is a kernel sample"))
    func untracedServersFin() throws {
        let port = TestSupport.freshPort()
        let server = try ChildProcess("/usr/bin/python3", ["-c", """
            import socket
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", \(port))); l.listen()
            print("ready", flush=True)
            s, _ = l.accept(); s.sendall(b"bye"); s.close()
            """])
        defer { _ = try? server.wait(timeout: 10) }
        #expect(server.waitForOutput("ready"))
        // The client reads the data, not the end of file, waits, then closes.
        let client = "import socket, time\nc = socket.create_connection(('127.0.0.1', \(port)))\nc.recv(3)\ntime.sleep(0.3)\nc.close()"
        let file = TestSupport.temporaryFile("export-untraced") + ".jsonl"
        let traced = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", file, "/usr/bin/python3", "-c", client])
        #expect(traced.status == 0, "\(traced.stderr)")
        let diagram = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", file]).stdout
        #expect(Self.checkMermaid(diagram) == [], "\(diagram)")
        let lines = diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let serverFin = lines.firstIndex { $0.hasPrefix("SK->>CK: FIN (the kernel's TCP_ESTABLISHED → TCP_FIN_WAIT1") }
        let clientFin = lines.firstIndex { $0 == "CK->>SK: FIN" }
        #expect(serverFin != nil && clientFin != nil && serverFin! < clientFin!, "\(diagram)")
        // Its bytes too, as the client took them in (audit 26 F2), at the read: when the untraced end
        // sent them is not traced, and its close's FIN leaves after them (audit 34 M2).
        let serverData = lines.firstIndex { $0.hasPrefix("SK->>CK: data 3 B, as this recvfrom took it in") }
        let read = lines.firstIndex { $0.hasPrefix("CK-->>C: recvfrom = 3 B") }
        #expect(serverData != nil && read != nil && serverData! < read!, "\(diagram)")
        #expect(serverFin.map { lines[$0].contains("it leaves after any data still queued") } == true, "\(diagram)")
    }

    @Test("steps in time order, not in the order calls were written: the server's close and FIN before the client's end of file (audit 21)")
    func stepsInTimeOrder() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, os, time
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", \(port))); l.listen()
            if os.fork() == 0:
                c = socket.create_connection(("127.0.0.1", \(port))); c.recv(10); time.sleep(0.2); c.close(); os._exit(0)
            s, _ = l.accept(); time.sleep(0.1); s.close(); os.wait()
            """
        let file = TestSupport.temporaryFile("export-order") + ".jsonl"
        let traced = try TestSupport.run(TestSupport.sockettrace, ["-f", "--kernel", "on", "--format", "jsonl", "-o", file, "/usr/bin/python3", "-c", script])
        #expect(traced.status == 0, "\(traced.stderr)")
        let diagram = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", file]).stdout
        #expect(Self.checkMermaid(diagram) == [], "\(diagram)")
        let lines = diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let serverClose = lines.firstIndex { $0 == "S->>SK: close" }, serverFin = lines.firstIndex { $0 == "SK->>CK: FIN" }
        let endOfFile = lines.firstIndex { $0.hasPrefix("CK-->>C: recvfrom = 0 B") || $0.hasPrefix("CK-->>C: read = 0 B") }
        let connect = lines.firstIndex { $0.hasPrefix("C->>CK: connect(") }, accept = lines.firstIndex { $0.hasPrefix("SK-->>S: accept") }
        #expect(serverClose != nil && serverFin != nil && endOfFile != nil && serverClose! < serverFin! && serverFin! < endOfFile!, "\(diagram)")
        #expect(connect != nil && accept != nil && connect! < accept!, "\(diagram)")
    }

    @Test("PlantUML: rendered by the real plantuml without errors", .enabled(if: TestSupport.underCI || TestSupport.commandExists("plantuml")))
    func plantuml() throws {
        let text = try report("plantuml")
        #expect(text.hasPrefix("@startuml\n") && text.hasSuffix("@enduml\n"))
        #expect(text.contains("... ") && text.contains(" ...\n"), "no time annotations")
        let source = TestSupport.temporaryFile("diagram") + ".puml"
        try text.write(toFile: source, atomically: true, encoding: .utf8)
        let result = try TestSupport.run("/usr/bin/plantuml", ["-tsvg", "-failfast2", source], timeout: 120)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let svg = try String(contentsOfFile: source.replacingOccurrences(of: ".puml", with: ".svg"), encoding: .utf8)
        #expect(svg.contains("SYN-ACK"))
    }

    @Test("HTML: self-contained, and a <script> payload stays text")
    func html() throws {
        let text = try report("html")
        #expect(text.hasPrefix("<!DOCTYPE html>"))
        #expect(!text.contains("<script"))
        #expect(text.contains("&lt;script&gt;document.title="))
        #expect(!text.contains("http://") || !text.contains("src=\"http"))
        #expect(text.contains("<svg") && text.contains("Expected vs observed"))
    }

    @Test("HTML: opened in headless Chromium, it renders and the payload does not run",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("chromium")))
    func htmlInChromium() throws {
        let page = TestSupport.temporaryFile("report") + ".html"
        try report("html").write(toFile: page, atomically: true, encoding: .utf8)
        let result = try TestSupport.run("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("<title>sockettrace report</title>"))
        #expect(!result.stdout.contains("<title>pwned</title>"))
        #expect(result.stdout.contains("Expected vs observed kernel chains"))
    }
}
