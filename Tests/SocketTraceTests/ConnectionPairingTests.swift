import Foundation
import Testing
@testable import SocketTrace

/// Connections paired from both ends whatever the API: real programs of
/// other runtimes (python's asyncio, node's libuv, socat) connect without
/// blocking, accept without asking for the peer, wait in epoll and hold both
/// ends in one process; every connection must come out with both ends, its
/// handshake and its bytes, in the trace file, compare and the diagrams.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct ConnectionPairingTests {
    static let corpus = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/corpus").path
    static let python = "/usr/bin/python3"

    /// Traces `arguments`, then reads the connection records back.
    func connections(of arguments: [String]) throws -> (connections: [Connection], file: String) {
        let file = TestSupport.temporaryFile("pairing") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["-f", "--format", "jsonl", "-o", file] + arguments, timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        var connections: [Connection] = []
        for record in try TraceFileReader(path: file).records {
            if case let .connection(connection) = record { connections.append(connection) }
        }
        return (connections, file)
    }

    /// Every connection has both ends, a handshake and `bytes` each way, as
    /// each end counted them; `report` pairs the calls again to the same.
    func expectComplete(_ connections: [Connection], count: Int, bytes: (Int) -> Int64, file: String) throws {
        #expect(connections.count == count, "\(connections.map(\.title))")
        for (number, connection) in connections.enumerated() {
            #expect(connection.clientPid != nil && connection.serverPid != nil, "\(connection.title)")
            #expect(connection.handshake != nil, "\(connection.title)")
            #expect(connection.sentByClient == connection.receivedByServer && connection.sentByServer == connection.receivedByClient,
                    "\(connection.title): \(connection)")
            #expect(connection.sentByClient > 0 && connection.sentByServer == connection.sentByClient, "\(connection.title): \(connection)")
            _ = number
        }
        #expect(connections.map(\.sentByClient).reduce(0, +) == (0..<count).map(bytes).reduce(0, +))
        let json = try TestSupport.run(TestSupport.sockettrace, ["compare", "--json", file])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let compared = try #require(object["connections"] as? [[String: Any]])
        #expect(compared.count == count)
        #expect(compared.allSatisfy { ($0["client_pid"] as? Int) != nil && ($0["server_pid"] as? Int) != nil })
        for choice in [1, count] {
            let diagram = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", "--connection", "\(choice)", file])
            #expect(diagram.status == 0, "\(diagram.stderr)")
            #expect(diagram.stdout.contains("->>CK: ") && diagram.stdout.contains("data "), "\(diagram.stdout)")
        }
    }

    @Test("a connection the kernel ended under its calls (a reset taken in: recv fails with ECONNRESET) says so in its summary, with the call that was told (audit 101: a TCP_USER_TIMEOUT abort not said)")
    func connectionEndedByTheKernel() throws {
        let script = TestSupport.temporaryFile("reset-ended") + ".py"
        try """
            import socket, struct, time
            l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
            c = socket.create_connection(l.getsockname()); a, _ = l.accept()
            c.send(b"hello"); a.recv(10)
            a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); a.close(); time.sleep(0.05)
            try: c.recv(10)
            except ConnectionResetError: pass
            c.close(); l.close()
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let output = TestSupport.temporaryFile("reset-ended") + ".txt"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", output, Self.python, script])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let summary = text.split(separator: "\n").first { $0.hasPrefix("  #") && $0.contains("client sent 5 B") }
        #expect(summary?.hasSuffix("; ended by the kernel: the client's recvfrom failed with ECONNRESET") == true, "\(text)")
    }

    @Test("compare says an untraced server is untraced, not that it sent 0 B, as the timeline does (audit 34 F1)")
    func compareUntracedServer() throws {
        let port = TestSupport.freshPort()
        let server = try ChildProcess(Self.python, ["-c", """
            import socket
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", \(port))); l.listen()
            print("ready", flush=True)
            s, _ = l.accept(); s.recv(10); s.sendall(b"x" * 3000); s.close()
            """])
        #expect(server.waitForOutput("ready"))
        let trace = TestSupport.temporaryFile("compare-untraced") + ".jsonl"
        let client = """
            import socket
            c = socket.create_connection(("127.0.0.1", \(port))); c.send(b"hello")
            got = 0
            while True:
                data = c.recv(4096)
                if not data: break
                got += len(data)
            c.close()
            """
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, Self.python, "-c", client])
        #expect(result.status == 0, "\(result.stderr)")
        _ = try server.wait(timeout: 10)
        let compared = try TestSupport.run(TestSupport.sockettrace, ["compare", trace])
        let line = compared.stdout.split(separator: "\n").first { $0.hasPrefix("  #") && $0.contains("→ 127.0.0.1:\(port)") }
        #expect(line?.hasSuffix("client sent 5 B, received 3000 B (server not traced)") == true, "\(compared.stdout)")
        #expect(!compared.stdout.contains("server sent 0 B"))
    }

    @Test("a run of sends drawn as one arrow says how many segments its calls' samples show leaving; the kernel's segs_out counts them too (audit 33 M1)")
    func runOfSendsSegments() throws {
        let script = """
            import os, socket, struct
            listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
            client = socket.socket(); client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.connect(listener.getsockname()); server, _ = listener.accept()
            def segments_out():  # struct tcp_info's tcpi_segs_out
                return struct.unpack_from("I", client.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232), 136)[0]
            before = segments_out()
            for i in range(3): os.write(client.fileno(), b"w%04d" % i)
            after = segments_out()
            got = 0
            while got < 15: got += len(server.recv(100))
            print("segments", after - before, flush=True)
            client.close(); server.close(); listener.close()
            """
        let program = TestSupport.temporaryFile("run-of-sends") + ".py"
        try script.write(toFile: program, atomically: true, encoding: .utf8)
        let trace = TestSupport.temporaryFile("run-of-sends") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-o", trace, Self.python, program])
        #expect(result.status == 0, "\(result.stderr)")
        let segments = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("segments ") }.flatMap { Int($0.dropFirst(9)) })
        let diagram = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", trace])
        #expect(diagram.stdout.contains("C->>CK: 3 × write, 15 B"), "\(diagram.stdout)")
        let expected = segments == 1 ? "data 15 B in 1 segment" : "data 15 B in \(segments) segments"
        #expect(diagram.stdout.contains("CK->>SK: " + expected), "\(segments) segments out: \(diagram.stdout)")
    }

    @Test("a refused connect traced for real: the trace file's connection says refused, the terminal does not guess a server")
    func refusedConnectTraced() throws {
        let port = TestSupport.freshPort()
        let script = """
            import socket, select
            s = socket.socket(); s.setblocking(False)
            try: s.connect(("127.0.0.1", \(port)))
            except BlockingIOError: pass
            select.select([], [s], [], 5)
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 111
            s.close()
            """
        let (found, file) = try connections(of: [Self.python, "-c", script])
        #expect(found.count == 1 && found.first?.refused == "getsockopt SO_ERROR read ECONNREFUSED", "\(found)")
        // Its diagram: the reset that refused it, no handshake after connect returned, no FIN (audit 20).
        let diagram = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "mermaid", "--connection", "1", file])
        #expect(diagram.stdout.contains("RST#58; refused (getsockopt SO_ERROR read ECONNREFUSED)")
                && diagram.stdout.contains("no FIN#58; the connection was refused") && !diagram.stdout.contains("SYN-ACK"), "\(diagram.stdout)")
        let terminal = try TestSupport.run(TestSupport.sockettrace, ["-f", Self.python, "-c", script])
        #expect(terminal.status == 0, "\(terminal.stderr)")
        // The timeline goes to stderr, as strace's does.
        let expected = "127.0.0.1:\(port)  refused (getsockopt SO_ERROR read ECONNREFUSED): no connection"
        #expect(terminal.stderr.contains(expected), "\(terminal.stderr)")
        #expect(!terminal.stderr.contains("server not traced"))
    }

    @Test("a blocking connect refused, IPv4 and IPv6: its port, released by the refusal, is the kernel's; bpftrace saw the reset arrive for that port",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func blockingConnectRefused() throws {
        let port = TestSupport.freshPort()
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/refused.py").path
        let trace = TestSupport.temporaryFile("refused") + ".jsonl", resets = TestSupport.temporaryFile("resets") + ".txt"
        // The witness: each reset a socket took in from the closed port (sport is the socket's own).
        let shell = """
            { mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; }
            bpftrace -e 'tracepoint:tcp:tcp_receive_reset /args->dport == \(port)/ { printf("RST %d %d\\n", args->family, args->sport); }' \
                > \(resets) 2> \(resets).err & witness=$!
            for i in $(seq 100); do grep -q Attaching \(resets).err \(resets) && break; sleep 0.2; done
            \(TestSupport.sockettrace) --kernel on --format jsonl -o \(trace) \(Self.python) \(program) \(port); status=$?
            sleep 0.2; kill -INT $witness; for i in $(seq 50); do kill -0 $witness 2>/dev/null || break; sleep 0.2; done; kill -KILL $witness 2>/dev/null; wait $witness; exit $status
            """
        let result = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", shell], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let witnessed = try String(contentsOfFile: resets, encoding: .utf8).split(separator: "\n").compactMap { line -> (family: Int, port: Int)? in
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[0] == "RST", let family = Int(fields[1]), let port = Int(fields[2]) else { return nil }
            return (family, port)
        }
        #expect(witnessed.map(\.family) == [Int(AF_INET), Int(AF_INET6)], "\(witnessed); \((try? String(contentsOfFile: resets + ".err", encoding: .utf8)) ?? "")")
        var found: [Connection] = []
        for record in try TraceFileReader(path: trace).records {
            if case let .connection(connection) = record { found.append(connection) }
        }
        #expect(found.map(\.title) == witnessed.map { $0.family == Int(AF_INET)
                ? "TCP 127.0.0.1:\($0.port) → 127.0.0.1:\(port)" : "TCPv6 [::1]:\($0.port) → [::1]:\(port)" })
        #expect(found.allSatisfy { $0.refused == "connect failed with ECONNREFUSED" && $0.established == nil && $0.clientPid != nil }, "\(found)")
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", trace])
        #expect(report.stdout.contains("refused (connect failed with ECONNREFUSED): no connection"), "\(report.stdout)")
        // Each refusal is one reset, as the witness saw, drawn once with the
        // kernel's reason (audit 31 F1: drawn again at connect's exit).
        let records = try TraceFileReader(path: trace).records
        for choice in found.indices.map({ $0 + 1 }) {
            let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: choice)))
            let resetArrows = diagram.split(separator: "\n").filter { $0.contains("SK->>CK: RST") }
            #expect(resetArrows.count == 1 && resetArrows[0].hasSuffix("RST (tcp#58;tcp_send_reset, NO_SOCKET)"), "\(diagram)")
        }
    }

    /// Traces a Python program (its text, or a file) into a trace file and
    /// reads its records back; the run must succeed.
    func tracePython(_ script: String? = nil, file: String? = nil, name: String, kernel: String = "off") throws -> [TraceRecord] {
        var program = file ?? ""
        if let script {
            program = TestSupport.temporaryFile(name) + ".py"
            try script.write(toFile: program, atomically: true, encoding: .utf8)
        }
        let trace = TestSupport.temporaryFile(name) + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "--format", "jsonl", "-o", trace, Self.python, program])
        #expect(result.status == 0, "\(result.stderr)")
        return try TraceFileReader(path: trace).records
    }

    /// Runs the python `client` under `sockettrace --kernel on OPTIONS` in a
    /// network namespace of its own (loopback up, then `setup`: nft rules,
    /// sysctls), with bpftrace running `witness` into the file `into` from
    /// before the trace begins until it ends. Begun once every probe of
    /// the witness is attached: bpftrace prints "Attaching" and fires BEGIN
    /// before it attaches them (a fresh-clone CI run under load traced with
    /// none there yet), one at a time, in declaration order or its reverse;
    /// a probe on a signal the shell sends itself, declared first and last,
    /// has answered twice only when all are.
    /// `after`: a command run in the namespace once the witness has
    /// stopped, its output appended to the witness's file. A witness that
    /// does not stop on SIGINT within 10 s is killed (fresh-clone CI: a
    /// bpftrace that never left, the trace long written, timed the test out;
    /// its lines are in the file as they come).
    /// `untraced`: a program run beside the traced one, not traced (a peer
    /// whose kernel work is done outside the traced tasks).
    func traceInNamespace(client: String, setup: String, witness: String, into file: String, options: String,
                          after: String = "true", untraced: String? = nil) throws -> TestSupport.Output {
        setenv("CLIENT", client, 1)
        setenv("UNTRACED", untraced ?? "pass", 1)
        defer { unsetenv("CLIENT"); unsetenv("UNTRACED") }
        let shell = """
            { mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; }
            ip link set lo up && \(setup) || exit 3
            ready='tracepoint:signal:signal_generate /args->sig == 28 && args->pid == '$$'/'
            bpftrace -e "$ready { printf(\\"WITNESS READY A\\\\n\\"); } "'\(witness)'" $ready { printf(\\"WITNESS READY B\\\\n\\"); }" > \(file) 2> \(file).err & witness=$!
            for i in $(seq 150); do kill -WINCH $$; grep -q "WITNESS READY A" \(file) && grep -q "WITNESS READY B" \(file) && break; sleep 0.2; done
            \(Self.python) -c "$UNTRACED" & peer=$!
            \(TestSupport.sockettrace) --kernel on \(options) \(Self.python) -c "$CLIENT"; status=$?
            wait $peer || status=4
            sleep 0.2; kill -INT $witness; for i in $(seq 50); do kill -0 $witness 2>/dev/null || break; sleep 0.2; done; kill -KILL $witness 2>/dev/null; wait $witness; \(after) >> \(file); exit $status
            """
        return try TestSupport.run("/usr/bin/unshare", ["-n", "-m", "--propagation", "private", "/bin/sh", "-c", shell], timeout: 120)
    }

    /// A run traced in a network namespace of its own with bpftrace as
    /// witness (`traceInNamespace`): what the trace file and the witness hold.
    struct WitnessedRun {
        let file: TraceFileReader
        var records: [TraceRecord] { file.records }
        /// The witness's output, line by line.
        let lines: [String]
        /// What bpftrace said besides (why it saw nothing).
        let errors: String
        /// The text timeline, when asked for.
        let timeline: String?

        func lines(startingWith prefix: String) -> [String] { lines.filter { $0.hasPrefix(prefix) } }
        /// The witness's `DROP tid in` lines (a netfilter drop, and whether
        /// it came inside a sendto of that thread) that came inside a sendto
        /// of this run's threads: the witness sees the whole machine, and a
        /// run beside it (the other hook's) drops in its own sendto calls (a
        /// README run: 8 drops "in a sendto" for 4 sends, half the other's).
        func dropsInSends() -> Int {
            var threads: Set<Int32> = []
            for case let .syscall(call) in records { threads.insert(call.tid) }
            return lines(startingWith: "DROP ").filter { line in
                let fields = line.split(separator: " ")
                return fields.count == 3 && Int32(fields[1]).map(threads.contains) == true && fields[2] == "1"
            }.count
        }
        /// The keys of the witness's map `@name` as printed at its end
        /// (`@E[4242, 45, 18103450978126]: 1`), each a list of numbers.
        func keys(of name: String) -> [[UInt64]] {
            lines(startingWith: "@\(name)[").compactMap { line in
                let numbers = line.dropFirst(name.count + 2).prefix { $0 != "]" }.split(separator: ",")
                    .map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
                return numbers.contains(nil) ? nil : numbers.compactMap { $0 }
            }
        }
    }

    /// Traces `client` with the witness beside it (`traceInNamespace`), the
    /// trace saved to a file named after `name`; with `timeline`, the text
    /// timeline too. The run must succeed.
    func witnessedRun(_ name: String, client: String, setup: String = "true", witness: String, options: String = "",
                      timeline: Bool = false, after: String = "true", untraced: String? = nil) throws -> WitnessedRun {
        let trace = TestSupport.temporaryFile(name) + ".jsonl", file = TestSupport.temporaryFile(name) + ".txt"
        let text = TestSupport.temporaryFile(name) + ".timeline"
        let result = try traceInNamespace(client: client, setup: setup, witness: witness, into: file,
                                          options: "\(options) --save \(trace) -o \(timeline ? text : "/dev/null")", after: after, untraced: untraced)
        #expect(result.status == 0, "\(result.stderr)")
        return WitnessedRun(file: try TraceFileReader(path: trace),
                            lines: try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init),
                            errors: (try? String(contentsOfFile: file + ".err", encoding: .utf8)) ?? "",
                            timeline: timeline ? try String(contentsOfFile: text, encoding: .utf8) : nil)
    }

    @Test("refused after a dropped SYN, the reset taken in by a softirq in another task: the record, and the retransmission and state change shown (audit 20)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func refusedAfterRetransmission() throws {
        let port = TestSupport.freshPort()
        // The first SYN dropped, the retransmitted one answered with a reset.
        let run = try witnessedRun("refused-late",
            client: "import socket\ntry: socket.create_connection(('127.0.0.1', \(port)))\nexcept ConnectionRefusedError: pass",
            setup: """
                nft add table inet late && nft add chain inet late in '{ type filter hook input priority 0; }' && \\
                nft add rule inet late in tcp dport \(port) tcp flags syn numgen inc mod 2 == 0 drop && \\
                nft add rule inet late in tcp dport \(port) reject with tcp reset
                """,
            witness: "tracepoint:tcp:tcp_receive_reset /args->dport == \(port)/ { printf(\"RST %d\\n\", args->sport); }", timeline: true)
        let ports = run.lines(startingWith: "RST ").compactMap { Int($0.dropFirst(4)) }
        try #require(ports.count == 1, "the witness saw \(ports); \(run.errors)")
        var found: [Connection] = []
        for case let .connection(connection) in run.records { found.append(connection) }
        #expect(found.map(\.title) == ["TCP 127.0.0.1:\(ports[0]) → 127.0.0.1:\(port)"] && found.first?.refused == "connect failed with ECONNREFUSED",
                "\(found)")
        let text = try #require(run.timeline)
        let flow = "127.0.0.1:\(ports[0]) → 127.0.0.1:\(port)"
        #expect(text.contains("its socket \(flow) was closed outside this thread: sock:inet_sock_set_state TCP_SYN_SENT → TCP_CLOSE"), "\(text)")
        #expect(text.contains("kernel tcp:tcp_retransmit_skb \(flow) (outside the traced tasks:"), "\(text)")
        #expect(text.contains("kernel sock:inet_sock_set_state TCP_SYN_SENT → TCP_CLOSE \(flow) (outside the traced tasks:"), "\(text)")
    }

    @Test("a listener closed or shut down before accepting: the reset it sends the connection is drawn on that connection's diagram, with the kernel's reason (audit 28 M2)",
          .enabled(if: TestSupport.canObserveKernel, "the reset's evidence is a kernel sample"))
    func listenerResetDrawn() throws {
        let records = try tracePython(file: TestSupport.packageRoot.appendingPathComponent("Tests/Programs/listener_reset.py").path,
                                      name: "listener-reset", kernel: "on")
        for choice in [1, 2] {
            let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: choice)))
            let lines = diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let reset = lines.firstIndex { $0 == "SK->>CK: RST (tcp#58;tcp_send_reset, TCP_STATE)" }
            let refused = lines.firstIndex { $0.hasPrefix("CK-->>C: recvfrom = -1 ECONNRESET") }
            #expect(reset != nil && refused != nil && reset! < refused!, "connection \(choice): \(diagram)")
            #expect(lines.filter { $0.contains("RST") }.count == 1, "one reset: \(diagram)")
        }
    }

    @Test("a MSG_PEEK receive is drawn as a peek that leaves the bytes queued, not as bytes received (audit 26 F12)")
    func peekDrawnAsPeek() throws {
        let port = TestSupport.freshPort()
        let records = try tracePython("""
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(4)
            client = socket.create_connection(("127.0.0.1", \(port))); server, _ = listener.accept()
            server.send(b"hello")
            assert client.recv(5, socket.MSG_PEEK | socket.MSG_WAITALL) == b"hello"
            assert client.recv(5) == b"hello"
            client.close(); server.close()
            """, name: "peek")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: nil)))
        let lines = diagram.split(separator: "\n")
        #expect(lines.filter { $0.hasSuffix("recvfrom(MSG_PEEK) = 5 B, left queued") }.count == 1, "\(diagram)")
        #expect(lines.filter { $0.hasSuffix("recvfrom = 5 B") }.count == 1, "\(diagram)")
    }

    @Test("an IPv6 peer accepted into a sockaddr_in's room ([16 => 28]): its address from the kernel, not the bytes past the buffer; one connection (audit 26 F7, F8)")
    func acceptIntoShortBuffer() throws {
        let port = TestSupport.freshPort()
        let records = try tracePython("""
            import socket, ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            listener = socket.socket(socket.AF_INET6); listener.bind(("::1", \(port))); listener.listen(4)
            client = socket.create_connection(("::1", \(port)))
            room = (ctypes.c_ubyte * 16)(*([0xfd] * 16)); length = ctypes.c_uint32(16)
            fd = libc.accept(listener.fileno(), room, ctypes.byref(length))
            assert fd >= 0 and length.value == 28, (fd, length.value)
            import os; client.send(b"hi"); assert os.read(fd, 2) == b"hi"
            os.close(fd); client.close()
            """, name: "short-accept")
        var calls: [SyscallInvocation] = []
        var connections: [Connection] = []
        for record in records {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .connection(connection) = record { connections.append(connection) }
        }
        let accept = try #require(calls.first { $0.syscall == .accept })
        #expect(accept.returnText.contains("[::1]:\(port)->[::1]:"), "\(accept.returnText)")
        #expect(accept.socket?.peer?.description.hasPrefix("[::1]:") == true, "\(String(describing: accept.socket?.peer))")
        #expect(connections.count == 1 && connections.first?.clientPid != nil && connections.first?.serverPid != nil, "\(connections.map(\.title))")
    }

    @Test("sockets whose connect is under way, closed by an exit (a deferred Fast Open connect; with SO_LINGER 0) or by a close after a connect a signal interrupted: the connect abandoned, nothing sent, as the witness sees it (audit 97 F1, F2)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func connectsAbandoned() throws {
        let port = TestSupport.freshPort()
        let run = try witnessedRun("abandoned",
            client: """
                import ctypes, os, signal, socket, struct, time
                L = socket.socket(); L.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 5); L.bind(('127.0.0.1', \(port))); L.listen(0)
                c = socket.socket(); c.sendto(b'cookie', socket.MSG_FASTOPEN, ('127.0.0.1', \(port))); a, _ = L.accept(); a.recv(10); a.close(); c.close()
                for linger in (False, True):
                    child = os.fork()
                    if child == 0:
                        d = socket.socket(); d.setsockopt(socket.IPPROTO_TCP, 30, 1); d.connect(('127.0.0.1', \(port)))
                        if linger: d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                        os._exit(0)
                    os.waitpid(child, 0)
                first = socket.create_connection(('127.0.0.1', \(port))); time.sleep(0.05)
                libc = ctypes.CDLL(None, use_errno=True)
                signal.signal(signal.SIGALRM, lambda *a: None); signal.siginterrupt(signal.SIGALRM, True)
                s = socket.socket(); signal.setitimer(signal.ITIMER_REAL, 0.05)
                address = struct.pack('<H', socket.AF_INET) + struct.pack('>H', \(port)) + socket.inet_aton('127.0.0.1') + bytes(8)
                assert libc.connect(s.fileno(), address, len(address)) == -1 and ctypes.get_errno() == 4
                time.sleep(0.05); s.close(); first.close(); L.close()
                """,
            setup: "sysctl -qw net.ipv4.tcp_fastopen=3",
            witness: """
                tracepoint:sock:inet_sock_set_state /args->dport == \(port) && args->oldstate == 2 && args->newstate == 7/ { printf("ABANDONED %d\\n", args->sport); }
                tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && bswap($th->dest) == \(port)) { printf("SEGMENT %d syn=%d fin=%d rst=%d\\n", bswap($th->source), $th->syn, $th->fin, $th->rst); } }
                """)
        let abandoned = Set(run.lines(startingWith: "ABANDONED ").compactMap { Int($0.split(separator: " ")[1]) })
        let sent = Set(run.lines(startingWith: "SEGMENT ").compactMap { Int($0.split(separator: " ")[1]) })
        var exits: [ProcessEvent] = []
        var closes: [SyscallInvocation] = []
        for record in run.records {
            if case let .process(event) = record, event.exitKernel != nil, event.releasedSockets?.first?.peer != nil { exits.append(event) }
            if case let .syscall(call) = record, call.syscall == .close, call.socket?.state == .connecting { closes.append(call) }
        }
        try #require(exits.count == 2 && closes.count == 1, "\(exits.map(\.releasedSockets)) \(closes.map(\.socket))")
        for (socket, operation) in exits.map({ ($0.releasedSockets![0], $0.exitKernel?.operation) }) + closes.map({ ($0.socket!, $0.kernel?.operation) }) {
            let local = try #require(socket.local.flatMap { if case let .inet(_, port) = $0 { return Int(port) } else { return nil } }, "\(socket)")
            // The witness: the connect abandoned, nothing of this socket's ever sent (the deferred ones) or no FIN or reset.
            #expect(abandoned.contains(local), "\(local): \(run.lines)")
            #expect(operation == "tcp_close_connecting", "\(local): \(String(describing: operation))")
        }
        // The deferred Fast Open sockets never sent a segment.
        #expect(exits.allSatisfy { event in !sent.contains(event.releasedSockets![0].local.flatMap { if case let .inet(_, port) = $0 { return Int(port) } else { return nil } } ?? -1) },
                "\(run.lines)")
    }

    @Test("shutdown while connecting disconnects (tcp_shutdown_connecting: SYN_SENT → CLOSE in the call, as bpftrace sees it; no FIN); the close after sends nothing, not said closed by the kernel (audit 24 B5)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func shutdownWhileConnecting() throws {
        let port = TestSupport.freshPort()
        // The SYN dropped: the socket stays in SYN_SENT until shutdown disconnects it.
        let run = try witnessedRun("own-close",
            client: """
                import socket, errno, time
                s = socket.socket(); s.setblocking(False)
                assert s.connect_ex(('127.0.0.1', \(port))) == errno.EINPROGRESS
                s.shutdown(socket.SHUT_WR)
                time.sleep(0.05); s.close()
                """,
            setup: """
                nft add table inet own && nft add chain inet own in '{ type filter hook input priority 0; }' && \\
                nft add rule inet own in tcp dport \(port) drop
                """,
            witness: "tracepoint:sock:inet_sock_set_state /args->dport == \(port) && args->newstate == 7/ { printf(\"CLOSE %d %s\\n\", tid, kstack(4)); }")
        let seen = run.lines.joined(separator: "\n")
        let closes = run.lines(startingWith: "CLOSE ")
        try #require(closes.count == 1, "the witness saw \(seen)")
        // The witness: the change was made inside shutdown, by tcp_disconnect.
        #expect(seen.contains("tcp_disconnect"), "\(seen)")
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in run.records { calls.append(call) }
        let shutdown = try #require(calls.first { $0.syscall == .shutdown })
        let close = try #require(calls.last { $0.syscall == .close && $0.socket?.type == 1 })
        #expect(shutdown.kernel?.operation == "tcp_shutdown_connecting", "\(String(describing: shutdown.kernel?.operation))")
        #expect(shutdown.kernel?.samples.contains { $0.tracepoint == "sock:inet_sock_set_state" && $0.tid == Int32(closes[0].split(separator: " ")[1]) } == true)
        #expect(close.kernel?.operation == "tcp_close_unconnected" && close.kernel?.socketState == nil,
                "\(String(describing: close.kernel?.operation)) \(String(describing: close.kernel?.socketState))")
        // Its diagram says why no FIN (audit 27 M5: "none was sampled").
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil)))
        #expect(diagram.contains("no FIN#58; the connect under way was abandoned (tcp_disconnect)"), "\(diagram)")
    }

    @Test("TCP Fast Open: a MSG_FASTOPEN sendto and a deferred connect's send drawn with their SYN, handshake and data where the kernel's counters put it (audit 27 M1-M3)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func fastOpenDrawn() throws {
        // The default probe set, then the full one (every chain of the paths modelled).
        for probes in ["", "--probe-set full"] { try fastOpen(probes: probes) }
    }

    func fastOpen(probes: String) throws {
        let port = TestSupport.freshPort()
        // The first connection asks for a cookie (none cached in a fresh
        // namespace): its data follows the handshake. The second, with
        // TCP_FASTOPEN_CONNECT (30), has one: connect sends nothing and the
        // SYN carries the send's data.
        let run = try witnessedRun("fast-open",
            client: """
                import socket, time
                L = socket.socket(); L.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 5)
                L.bind(('127.0.0.1', \(port))); L.listen(4)
                c = socket.socket()
                assert c.sendto(b'no-cookie-yet-17B', socket.MSG_FASTOPEN, ('127.0.0.1', \(port))) == 17
                a, _ = L.accept(); assert a.recv(100) == b'no-cookie-yet-17B'; a.close(); c.close()
                c = socket.socket(); c.setsockopt(socket.IPPROTO_TCP, 30, 1)
                c.connect(('127.0.0.1', \(port))); c.send(b'with-cookie')
                a, _ = L.accept(); assert a.recv(100) == b'with-cookie'; a.close(); c.close()
                c = socket.socket()
                assert c.sendto(b'z' * 100000, socket.MSG_FASTOPEN, ('127.0.0.1', \(port))) == 100000
                a, _ = L.accept(); got = b''
                while len(got) < 100000: got += a.recv(65536)
                a.close(); c.close()
                c = socket.socket(); c.setsockopt(socket.IPPROTO_TCP, 30, 1)
                c.connect(('127.0.0.1', \(port))); c.close(); L.close()
                """,
            setup: "sysctl -qw net.ipv4.tcp_fastopen=3",
            // The client's segments, as they leave (SYN, pure ACK or data, by
            // its TCP header), and its ESTABLISHED.
            witness: """
                tracepoint:sock:inet_sock_set_state /args->dport == \(port) && args->oldstate == 2 && args->newstate == 1/ { printf("ESTABLISHED %d %lld\\n", args->sport, nsecs); }
                tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && bswap($th->dest) == \(port)) {
                    printf("SEGMENT %d syn=%d fin=%d payload=%d %lld\\n", bswap($th->source), $th->syn, $th->fin, bswap($ip->tot_len) - $ip->ihl * 4 - $th->doff * 4, nsecs); } }
                """,
            options: probes, after: "nstat -az TcpExtTCPFastOpenPassive TcpExtTCPFastOpenCookieReqd TcpExtTCPFastOpenActive")
        let seen = run.lines
        // The kernel's own counters: one SYN asked for a cookie; one SYN's data was taken with it (at each end).
        func counter(_ name: String) -> Int? {
            run.lines(startingWith: name + " ").first.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
        }
        #expect(counter("TcpExtTCPFastOpenCookieReqd") == 1 && counter("TcpExtTCPFastOpenPassive") == 2 && counter("TcpExtTCPFastOpenActive") == 2, "\(seen)")
        #expect(run.lines(startingWith: "ESTABLISHED ").count == 3, "\(seen)")
        let records = run.records
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in records { calls.append(call) }
        let sends = calls.filter { [.sendto].contains($0.syscall) && $0.socket?.type == 1 }
        let connect = try #require(calls.first { $0.syscall == .connect })
        #expect(sends.map { $0.kernel?.operation } == ["tcp_send_fastopen", "tcp_send_fastopen", "tcp_send_fastopen"], "\(probes): \(sends.map { $0.kernel?.operation })")
        #expect(connect.kernel?.operation == "tcp_connect_deferred", "\(String(describing: connect.kernel?.operation))")
        // Every chain of theirs modelled (it was differs, +tcp_sendmsg_fastopen).
        for call in sends + [connect] {
            #expect(call.kernel?.alignments.allSatisfy { [.matches, .unverified].contains($0.verdict) } == true,
                    "\(call.kernel?.alignments.map { "\($0.operation) \($0.verdict.rawValue)" } ?? [])")
        }
        let first = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: 1)))
        let second = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: 2)))
        // Each connection's client segments before its FIN, in the witness's order.
        let segments = run.lines(startingWith: "SEGMENT ").map { $0.split(separator: " ").map(String.init) }
        let clientPorts = run.lines(startingWith: "ESTABLISHED ").map { String($0.split(separator: " ")[1]) }
        // The sends that opened them (the first and the second of the program's).
        for ((diagram, client), send) in zip(zip([first, second], clientPorts), sends) {
            let own = segments.filter { $0[1] == client }
            let exit = send.exitTime?.nanoseconds ?? 0
            let inSend = own.filter { UInt64($0[5]).map { $0 >= send.entryTime.nanoseconds && $0 <= exit } ?? false }
            // As many ACK arrows as pure ACKs the send's own segments had (the audit's case: none, the data carried it).
            let pureAcks = inSend.filter { $0[2] == "syn=0" && $0[4] == "payload=0" }.count
            let arrows = diagram.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces) == "CK->>SK: ACK" }.count
            #expect(inSend.count >= 2 && diagram.contains("SYN (TCP Fast Open)") && diagram.contains("SYN-ACK") && arrows == pureAcks, "\(inSend) \(own) \(diagram)")
        }
        #expect(first.contains("sendto(MSG_FASTOPEN, 127.0.0.1#58;\(port)) 17 B") && first.contains("CK->>SK: data, net#58;net_dev_queue len ")
                && first.contains("the server took no data with the SYN") && first.contains("sendto(MSG_FASTOPEN)'s entry → accept's return")
                && first.contains("the kernel's SYN_SENT → ESTABLISHED"), "\(first)")
        #expect(second.contains("no SYN#58; TCP Fast Open deferred it to the first send") && second.contains("the SYN carried this send's first bytes, up to all 11 B, its net#58;net_dev_queue len ")
                && !second.contains("data 11 B"), "\(second)")
        // The deferred connect's handshake, from its send's SYN (not from the connect's SYN_SENT, which
        // would count the program's pause): within 100 µs of bpftrace's SYN → ESTABLISHED.
        var connections: [Connection] = []
        for record in records { if case let .connection(connection) = record { connections.append(connection) } }
        let deferred = try #require(connections.first { $0.client.port.map(String.init) == clientPorts[1] }, "\(connections.map(\.title))")
        #expect(deferred.kernelHandshakeFrom == "SYN queued", "\(deferred)")
        // Made: its send's SYN was answered. A deferred connect closed with nothing sent made none (audit 97 F3: it was "established").
        #expect(deferred.established == true, "\(deferred)")
        let unsent = try #require(calls.last { $0.syscall == .connect }, "\(calls.map(\.name))")
        #expect(unsent.kernel?.operation == "tcp_connect_deferred", "\(String(describing: unsent.kernel?.operation))")
        let never = try #require(connections.first { $0.client.port != nil && $0.client.port == unsent.socket?.local?.port },
                                 "\(connections.map(\.title)) \(String(describing: unsent.socket))")
        #expect(never.established != true && never.acceptTime == nil, "\(never)")
        let established = run.lines(startingWith: "ESTABLISHED \(clientPorts[1]) ").first.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        let syn = segments.first { $0[1] == clientPorts[1] && $0[2] == "syn=1" }.flatMap { Double($0[5]) }
        if let kernel = deferred.kernelHandshake, let established, let syn {
            #expect(abs(kernel * 1e9 - (established - syn)) < 100_000, "\(kernel * 1e6) µs, bpftrace \((established - syn) / 1000) µs")
        } else {
            Issue.record("no kernel handshake for the deferred connect (\(String(describing: deferred.kernelHandshake))) or no witness: \(seen)")
        }
        #expect(first.contains("the kernel's SYN_SENT → ESTABLISHED") && second.contains("the kernel's SYN queued → ESTABLISHED"), "\(second)")
        // 100,000 B do not fit a SYN (loopback's MSS is 65,483): its length says how much at most.
        let third = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: 3)))
        #expect(third.contains("the SYN carried at most ") && third.contains(" B of the 100000 B (the rest after the handshake)"), "\(third)")
    }

    @Test("data netfilter dropped is not drawn as delivered: on its way out a note says it never left (it is drawn when it arrives); on arrival, that it was dropped there (audits 29 M1, 31 M2)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"), arguments: ["output", "input"])
    func droppedByNetfilter(_ hook: String) throws {
        let port = TestSupport.freshPort()
        // Every other data segment dropped: on output TCP keeps it queued and
        // a timer sends it later; on input it left and is sent again.
        let run = try witnessedRun("dropped-\(hook)",
            client: """
                import socket, time
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                for i in range(4):
                    c.send(b'seg%d' % i); assert a.recv(100) == b'seg%d' % i
                c.close(); a.close()
                """,
            setup: """
                nft add table inet nf && nft add chain inet nf h '{ type filter hook \(hook) priority 0; }' && \\
                nft add rule inet nf h tcp dport \(port) tcp flags '&' psh == psh numgen inc mod 2 == 0 drop
                """,
            // The witness: each drop, and whether it came inside a sendto of the program.
            witness: """
                tracepoint:syscalls:sys_enter_sendto /comm == "python3"/ { @in[tid] = 1; }
                tracepoint:syscalls:sys_exit_sendto /comm == "python3"/ { delete(@in[tid]); }
                tracepoint:skb:kfree_skb /args->reason == SKB_DROP_REASON_NETFILTER_DROP/ { printf("DROP %d %d\\n", tid, @in[tid]); }
                """)
        let drops = run.lines.filter { $0.hasPrefix("DROP ") }
        try #require(!drops.isEmpty, "the witness saw no drop: \(run.errors)")
        let inSends = run.dropsInSends()
        #expect(inSends > 0, "no drop inside a sendto: \(drops)")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil)))
        func count(_ text: String) -> Int { diagram.components(separatedBy: text).count - 1 }
        if hook == "output" {
            let notes = count("not sent#58; dropped before leaving (skb#58;kfree_skb NETFILTER_DROP in this sendto)")
            // Drawn when the probe timer's segment left (sampled outside the program), or at the read that took them.
            let late = count("data 4 B of what an earlier send left queued#58; a segment sampled leaving")
                + count("data 4 B, queued by an earlier send, left after it (when, not sampled)")
            #expect(notes == inSends && late == notes && count("CK->>SK: data 4 B\n") == 4 - notes, "\(drops) \(diagram)")
        } else {
            // It left (drawn), and the note says it was dropped on arrival.
            let notes = count("dropped on arrival (skb#58;kfree_skb NETFILTER_DROP#58; its skb, queued by this sendto")
            // (The witness also counts retransmissions dropped in softirqs on a
            // sendto's stack, which are not that send's own segment.)
            #expect(notes >= 1 && notes <= inSends && count("CK->>SK: data 4 B") == 4, "\(drops) \(diagram)")
        }
    }

    @Test("data netfilter dropped at the send in a burst, sent by the probe timer after the peer read what followed it: drawn when that segment left, not at the next read (audit 36 F1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func droppedInABurst() throws {
        let port = TestSupport.freshPort()
        // Bursts of five 3000 B sends, the fifth's segment dropped on output
        // (every fourth large one): the reader takes the first 12,000 B, and
        // waits for the rest, which the probe timer sends about 200 ms later.
        let run = try witnessedRun("dropped-burst",
            client: Self.bursts(2, of: 5, port: port),
            setup: Self.dropLarge(on: "output", port: port, when: "numgen inc mod 5 == 4"),
            // Each client data segment that left (past netfilter: at the receive), with its payload and time.
            witness: """
                tracepoint:net:netif_receive_skb { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && bswap($th->dest) == \(port)) {
                    $payload = bswap($ip->tot_len) - $ip->ihl * 4 - $th->doff * 4;
                    if ($payload > 0) { printf("SEGMENT %d %lld\\n", $payload, nsecs); } } }
                """)
        let segments = run.lines.filter { $0.hasPrefix("SEGMENT ") }
            .map { $0.split(separator: " ") }.compactMap { fields -> (payload: Int, time: UInt64)? in
                guard let payload = Int(fields[1]), let time = UInt64(fields[2]) else { return nil }
                return (payload, time)
            }
        try #require(!segments.isEmpty, "the witness saw no segment: \(run.errors)")
        let diagram = try #require(SequenceDiagram.build(records: run.records, choice: nil))
        var late: [(text: String, time: MonotonicTime)] = []
        for case let .message(_, _, text, _, time) in diagram.steps where text.contains("an earlier send left queued") || text.contains("queued by an earlier send, left after it") {
            late.append((text, time))
        }
        // The first burst's fifth segment (the fifth large packet) at least; later drops depend on the timer's segments counted.
        #expect(late.count >= 1, "\(MermaidRenderer.render(diagram))")
        for arrow in late {
            // Never before the segment that carried them reached the peer (the witness: its receive).
            let carried = segments.filter { $0.payload >= 3000 && $0.time <= arrow.time.nanoseconds + 1_000_000 }
            #expect(!carried.isEmpty, "\(arrow.text) at \(arrow.time.nanoseconds), segments \(segments)")
            if arrow.text.contains("sampled leaving (net") {
                // At the timer's own sample of that segment: within 1 ms of its receive.
                #expect(arrow.text.contains("tcp_probe0_timer") && segments.contains { abs(Int64($0.time) - Int64(arrow.time.nanoseconds)) < 1_000_000 && $0.payload == 3000 },
                        "\(arrow.text)")
            }
        }
        // The first drawn after the read of the 12,000 B that left before it (it was drawn before that read);
        // or, a reader that came to its recv only after the timer's segment (a loaded machine), before the
        // read that took all 15,000 B.
        let rendered = MermaidRenderer.render(diagram).split(separator: "\n").map(String.init)
        let first = try #require(rendered.firstIndex { $0.contains("an earlier send left queued") || $0.contains("queued by an earlier send, left after it") })
        let readBefore = rendered[..<first].last { $0.contains("SK-->>S: recvfrom") }
        let readAfter = rendered[first...].first { $0.contains("SK-->>S: recvfrom") }
        #expect(readBefore?.hasSuffix("recvfrom = 12000 B") == true || (readBefore == nil && readAfter?.hasSuffix("recvfrom = 15000 B") == true),
                "\(rendered[..<first].suffix(4)) \(readAfter ?? "")")
    }

    @Test("the peer's ACKs, built in the receive on a send's stack and dropped by an output rule: the peer's answer, never the send's own packet, and drawn as its answer dropped before leaving (audit 43 F3)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func answersDroppedOnTheWayOut() throws {
        let port = TestSupport.freshPort()
        let run = try witnessedRun("answer-dropped",
            client: Self.bursts(2, of: 5, port: port),
            // Every other segment the server sends without data (its ACKs) dropped on output.
            setup: """
                nft add table inet nf && nft add chain inet nf h '{ type filter hook output priority 0; }' && \\
                nft add rule inet nf h tcp sport \(port) meta length '<' 100 numgen inc mod 2 == 0 drop
                """,
            // Each of the server's packets freed (dropped) and the thread it was freed in.
            witness: """
                tracepoint:skb:kfree_skb { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && bswap($th->source) == \(port)) { printf("DROPPED %lld %d\\n", args->skbaddr, tid); } }
                """)
        let dropped = run.lines.filter { $0.hasPrefix("DROPPED ") }
            .compactMap { Int64($0.split(separator: " ")[1]) }
        try #require(!dropped.isEmpty, "the witness saw no drop: \(run.errors)")
        let records = run.records
        var calls: [SyscallInvocation] = []
        for case let .syscall(call) in records { calls.append(call) }
        // The server's packets dropped in the traced calls (softirq work on their stacks).
        var inCalls: [(call: SyscallInvocation, drop: KernelSample)] = []
        for call in calls {
            for sample in call.kernel?.samples ?? [] where sample.tracepoint == "skb:kfree_skb" {
                if let skb = sample.skbAddress, dropped.contains(skb) { inCalls.append((call, sample)) }
            }
        }
        try #require(!inCalls.isEmpty, "no drop of the server's packets sampled in a traced call")
        let server = SocketEndpoint.inet(address: "127.0.0.1", port: UInt16(port))
        for (call, drop) in inCalls {
            // Sent from the server's port: the client's calls' peer answered; the server's own calls' own answer.
            // (A server call's own ACK, dropped on its own path, has no flow: the call's own.)
            let expected: PacketFlow.Owner = call.socket?.peer == server ? .peer : .ownSocket
            #expect(drop.flow?.owner == expected || (expected == .ownSocket && drop.flow == nil && !drop.sides.softirq),
                    "\(call.name): \(drop.flow?.description ?? "-")")
        }
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        var notes = 0
        for case let .note(_, text) in diagram.steps where text.hasPrefix("its answer to the segment taken in on this") { notes += 1 }
        let inSends = inCalls.filter { DataTransfer($0.call)?.direction == .sent && $0.call.socket?.peer == server }
        #expect(notes == inSends.count, "\(MermaidRenderer.render(diagram))")
    }

    @Test("the peer's ACK of a send's data, built in the data's receive on the send's stack and dropped by an input rule: drawn as its answer dropped on arrival (audit 48 F3)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func answerDroppedOnArrival() throws {
        let port = TestSupport.freshPort()
        // The server's ACK of the client's first data leaves at once (a new
        // connection's quick ACKs), built in the data's receive on the send's
        // stack; every packet from the server with the ACK flag alone is
        // dropped on input, and its FIN acknowledges the data.
        let program = """
            import socket, time
            L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); L.bind(('127.0.0.1', \(port))); L.listen()
            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            c.send(b'x' * 10); a.recv(10); a.close(); time.sleep(0.2); c.recv(1); c.close(); L.close()
            """
        let run = try witnessedRun("answer-on-arrival",
            client: program,
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook input priority 0; }' && "
                + "nft add rule inet nf h tcp sport \(port) tcp flags == ack drop",
            witness: """
                tracepoint:skb:kfree_skb /args->reason == SKB_DROP_REASON_NETFILTER_DROP/ { $skb = (struct sk_buff *)args->skbaddr;
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if (bswap($th->source) == \(port)) { printf("DROPPED %lld %d\\n", args->skbaddr, tid); } }
                """)
        let dropped = run.lines.filter { $0.hasPrefix("DROPPED ") }
            .compactMap { Int64($0.split(separator: " ")[1]) }
        try #require(!dropped.isEmpty, "the witness saw no drop: \(run.errors)")
        let records = run.records
        let server = SocketEndpoint.inet(address: "127.0.0.1", port: UInt16(port))
        // The client's calls in which the server's ACK was dropped on arrival.
        var inCalls: [(call: SyscallInvocation, drop: KernelSample)] = []
        for case let .syscall(call) in records where call.socket?.peer == server {
            for sample in call.kernel?.samples ?? [] where sample.tracepoint == "skb:kfree_skb" {
                if let skb = sample.skbAddress, dropped.contains(skb) { inCalls.append((call, sample)) }
            }
        }
        let first = try #require(inCalls.first, "no drop of the server's ACK sampled in a client's call")
        #expect(first.drop.flow?.owner == .peer, "\(first.drop.flow?.description ?? "-")")
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        let rendered = MermaidRenderer.render(diagram)
        #expect(rendered.contains("its answer to the segment taken in on this \(first.call.name)'s stack, built by ")
                && rendered.contains("dropped on arrival (skb#58;kfree_skb NETFILTER_DROP)"), "\(rendered)")
    }

    @Test("a socket shut for writing and closed at its process's exit while its FIN waits for its ACK (TCP_FIN_WAIT1 → TCP_FIN_WAIT1): one FIN drawn, the shutdown's (audit 52 A2)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func finWait1AtExitSendsNoFin() throws {
        let port = TestSupport.freshPort()
        // Every segment from the server but its SYN-ACK is dropped: the client's FIN stays unacknowledged (FIN_WAIT1) until the process exits.
        let run = try witnessedRun("finwait1-exit",
            client: """
                import os, socket, time
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                c.shutdown(socket.SHUT_WR); time.sleep(0.05)
                os._exit(0)
                """,
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook input priority 0; }' && "
                + "nft add rule inet nf h 'tcp sport \(port) tcp flags & syn == 0 drop'",
            witness: """
                tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->dport == \(port)/ { printf("STATE %d %d\\n", args->oldstate, args->newstate); }
                tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr; $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if (bswap($th->dest) == \(port) && $th->fin) { printf("FIN\\n"); } }
                """)
        let seen = run.lines
        try #require(seen.contains("STATE 4 4"), "the socket was not closed in FIN_WAIT1: \(seen)")
        let rendered = MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil)))
        let fins = rendered.split(separator: "\n").filter { $0.contains("CK->>SK: FIN") }
        #expect(fins.count == 1 && !rendered.contains("TCP_FIN_WAIT1 → TCP_FIN_WAIT1"), "witness: \(seen)\n\(rendered)")
    }

    @Test("on loopback: the SYN-ACK drawn where it was sampled leaving (in the SYN's receive on the connect's stack), the ACK at ESTABLISHED, a send's data where its segment left, so the gaps drawn are the samples' (audit 51 N3, audit 52 A3)",
          .enabled(if: TestSupport.canObserveKernel, "needs kernel sampling"))
    func synAckDrawnWhereItLeft() throws {
        let port = TestSupport.freshPort()
        let records = try tracePython("""
            import socket
            L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            c.send(b'x' * 100); a.recv(100)
            c.close(); a.close(); L.close()
            """, name: "synack-time", kernel: "on")
        var connects: [SyscallInvocation] = []
        for case let .syscall(call) in records where call.syscall == .connect { connects.append(call) }
        let connect = try #require(connects.first)
        // The kernel's sample of the SYN-ACK leaving, built by tcp_v4_send_synack in the SYN's receive.
        let synAck = try #require(connect.kernel?.samples.first { $0.tracepoint == "net:net_dev_queue" && $0.chain.contains("tcp_v4_send_synack") },
                                  "no SYN-ACK sampled in the connect: \(connect.kernel?.samples.map(\.heading) ?? [])")
        let established = try #require(connect.kernel?.samples.first { $0.tracepoint == "sock:inet_sock_set_state" && $0.fields["newstate"]?.number == TCPState.established })
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        var drawn: [String: MonotonicTime] = [:]
        for case let .message(_, _, text, _, time) in diagram.steps where ["SYN", "SYN-ACK", "ACK"].contains(text) && drawn[text] == nil { drawn[text] = time }
        #expect(drawn["SYN-ACK"] == synAck.time && drawn["ACK"] == established.time, "\(drawn) vs \(synAck.time), \(established.time)")
        // The send's segment, sampled leaving on its own stack: the data arrow is drawn there, not at the send's entry.
        var sends: [SyscallInvocation] = []
        for case let .syscall(call) in records where [.sendto, .write, .sendmsg].contains(call.syscall) { sends.append(call) }
        let send = try #require(sends.first)
        let segment = try #require(send.kernel?.samples.first { $0.tracepoint == "net:net_dev_queue" && !$0.sides.softirq },
                                   "no segment sampled in the send: \(send.kernel?.samples.map(\.heading) ?? [])")
        var data: MonotonicTime?
        for case let .message(_, _, text, _, time) in diagram.steps where text.hasPrefix("data 100 B") { data = time }
        #expect(data == segment.time && segment.time != send.entryTime, "\(String(describing: data)) vs \(segment.time), entry \(send.entryTime)")
    }

    /// A real-time task spinning on CPU 0 in 20 ms bursts, from before the
    /// traced program's first call to after its last: it writes
    /// `marker.ready` once it is real-time and spins until `marker.done`
    /// exists (60 s at most). A CI run gave the spinner a fixed 4 s, spent
    /// before a loaded machine had started the trace: no call waited.
    static func spinner(onCPU0 marker: String) -> String {
        """
        import os, time
        os.sched_setaffinity(0, {0})
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        open('\(marker).ready', 'w').close()
        end = time.monotonic() + 60
        while time.monotonic() < end and not os.path.exists('\(marker).done'):
            burst = time.monotonic() + 0.02
            while time.monotonic() < burst: pass
            time.sleep(0.001)
        """
    }

    /// The traced program's side of `spinner(onCPU0:)`: its first lines wait
    /// for the spinner and pin it to CPU 0; when it exits (an assertion
    /// failed too), the spinner stops.
    static func awaitingSpinner(_ marker: String) -> String {
        """
        import atexit, os, time
        while not os.path.exists('\(marker).ready'): time.sleep(0.01)
        atexit.register(lambda: open('\(marker).done', 'w').close())
        os.sched_setaffinity(0, {0})
        """
    }

    @Test("a call that blocks, its thread held from its CPU after its entry stop: its entry record (and so its <unfinished ...> line) carries the kernel's entry, not the tracer's (audit 55 F1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func blockedCallEnteredWhereTheKernelBeganIt() throws {
        let port = TestSupport.freshPort(), marker = TestSupport.temporaryFile("spinner")
        let run = try witnessedRun("kernel-entry-blocked",
            client: Self.awaitingSpinner(marker) + """

                import socket, threading
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                # The data is sent 0.2 s after the receiver is blocked in
                # its recvfrom (syscall 45), not 0.2 s after this thread
                # starts: under the spinner both may wait 0.4 s for the CPU
                # (CI: the recvfrom reached the kernel as the data came,
                # blocked 20 ms, and was written whole).
                main = threading.get_native_id()
                def late():
                    while not open(f'/proc/self/task/{main}/syscall').read().startswith('45 '): time.sleep(0.01)
                    time.sleep(0.2); c.send(b'late')
                t = threading.Thread(target=late); t.start()
                assert a.recv(100) == b'late'; t.join()
                c.close(); a.close(); L.close()
                """,
            witness: "tracepoint:raw_syscalls:sys_enter /comm == \"python3\" && args->id == 45/ { @E[tid, nsecs] = 1; }",
            timeline: true, untraced: Self.spinner(onCPU0: marker))
        var entries: [SyscallInvocation] = [], calls: [SyscallInvocation] = []
        for record in run.records {
            if case let .syscallEntry(call) = record, call.syscall == .recvfrom { entries.append(call) }
            if case let .syscall(call) = record, call.syscall == .recvfrom { calls.append(call) }
        }
        let entry = try #require(entries.first, "the blocked recvfrom has no entry record of its own")
        let call = try #require(calls.first { $0.tid == entry.tid && $0.entryTime == entry.entryTime })
        let reached = ((call.kernelEntryTime?.nanoseconds ?? 0) &- entry.entryTime.nanoseconds) / 1000
        let kernelEntry = try #require(entry.kernelEntryTime, "its entry record has only the tracer's time (its thread reached the kernel \(reached) µs after it was let go)")
        #expect(kernelEntry == call.kernelEntryTime && entry.entryTime <= kernelEntry)
        // bpftrace's sys_enter of that recvfrom.
        let seen = run.keys(of: "E").filter { $0.count == 2 && $0[0] == UInt64(entry.tid) }.map { $0[1] }
        #expect(seen.contains { abs(Int64(bitPattern: $0 &- kernelEntry.nanoseconds)) < 200_000 }, "\(seen) vs \(kernelEntry)")
        #expect(run.timeline?.contains("recvfrom(") == true && run.timeline?.contains("<unfinished ...>") == true, "\(run.timeline ?? "")")
    }

    @Test("output written in batches while a thread, let go from its entry stop, waits for its CPU and another's calls pile up: the batch stops at that entry until the kernel has it, its <unfinished ...> line after the calls the kernel ran first (audit 58 M1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func forcedBatchWaitsForTheKernelsEntry() throws {
        // The receiver on CPU 0 with the spinner, which can hold it between
        // its entry stop and the kernel's entry; the other thread on CPU 1
        // makes calls all the while, and every 30 ms sends the byte the
        // receiver waits for. A batch comes every 4 items
        // (SOCKETTRACE_OUTPUT_BACKLOG), as a busy program's come every 512.
        // The spinner holds the receiver that long in about one round in
        // ten: up to three runs of 32 rounds, each checked whole.
        var waits: [[UInt64]] = []
        for _ in 1...3 where !waits.contains(where: { $0.contains { $0 > 0 } }) {
            let port = TestSupport.freshPort(), marker = TestSupport.temporaryFile("spinner")
            let run = try witnessedRun("forced-batch",
                client: Self.awaitingSpinner(marker) + """

                    import socket, threading
                    L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                    c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                    def other():
                        os.sched_setaffinity(0, {1})
                        for i in range(32):
                            end = time.monotonic() + 0.03
                            while time.monotonic() < end: c.getsockname()
                            c.send(b'x')
                    t = threading.Thread(target=other); t.start()
                    for i in range(32): time.sleep(0.003); assert a.recv(1) == b'x'
                    t.join(); c.close(); a.close(); L.close()
                    """,
                setup: "export SOCKETTRACE_OUTPUT_BACKLOG=4",
                witness: "tracepoint:raw_syscalls:sys_enter /comm == \"python3\" && args->id == 45/ { @E[tid, nsecs] = 1; }",
                timeline: true, untraced: Self.spinner(onCPU0: marker))
            let seen = run.keys(of: "E").compactMap(\.last)
            var entries: [SyscallInvocation] = [], others: [SyscallInvocation] = []
            for record in run.records {
                if case let .syscallEntry(call) = record, call.syscall == .recvfrom { entries.append(call) }
                if case let .syscall(call) = record, call.syscall == .getsockname { others.append(call) }
            }
            try #require(entries.count >= 16, "\(entries.count) unfinished recvfrom lines")
            var held: [UInt64] = []
            for entry in entries {
                let kernelEntry = try #require(entry.kernelEntryTime, "an unfinished recvfrom at the tracer's time only (let go at \(entry.entryTime))")
                #expect(seen.contains { abs(Int64(bitPattern: $0 &- kernelEntry.nanoseconds)) < 200_000 }, "\(kernelEntry) not bpftrace's sys_enter")
                // The other thread's calls made while this one waited for its CPU.
                let ranFirst = others.filter { $0.startTime < kernelEntry && $0.startTime > entry.entryTime }
                if ranFirst.count >= 4 { held.append(kernelEntry.nanoseconds - entry.entryTime.nanoseconds) }
            }
            waits.append(held)
            // The timeline's lines in the order the kernel began them: the
            // unfinished recvfrom after the calls made while it waited.
            let text = try #require(run.timeline)
            let timed = text.split(separator: "\n").compactMap { line -> (Double, Substring)? in
                guard line.contains("getsockname(") || line.contains("recvfrom(") || line.contains("<... recvfrom resumed>") else { return nil }
                return line.split(separator: " ").first.flatMap { Double($0) }.map { ($0, line) }
            }
            let times = timed.map(\.0)
            #expect(times.count > 100)
            // (A README run had one line 18 ms before the line above it:
            // the tracer's own delayed ACK, taken after stops still in the
            // output, was written when the rings were drained. Work outside
            // the traced tasks now waits for a step queued after it.)
            #expect(times == times.sorted(), "\(zip(timed, timed.dropFirst()).filter { $0.0.0 > $0.1.0 }.map { "\($0.0.1)\n\($0.1.1)" })")
        }
        // The condition is real: in some round the receiver waited for its
        // CPU while more calls than a batch holds were made and written.
        #expect(waits.contains { !$0.isEmpty }, "no recvfrom waited while 4 calls ran in \(waits.count) runs")
    }

    @Test("a thread held from its CPU after its entry stop: each stopped call timed from the kernel's sys_enter to its sys_exit (bpftrace's), its duration without the wait, the diagram's close after the data that left before it (audit 54 F1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func callsTimedByTheKernel() throws {
        let port = TestSupport.freshPort(), marker = TestSupport.temporaryFile("spinner")
        // A real-time task spinning on CPU 0 in 20 ms bursts: the traced
        // program, pinned there too, waits for it after each entry stop.
        let run = try witnessedRun("kernel-times",
            client: Self.awaitingSpinner(marker) + """

                import socket
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                # Spread over ~0.4 s: a README run's calls all fell in a
                # moment the spinner left the CPU to the program (its
                # longest wait 51 µs); the spinner does not hold it every
                # moment (its 1 ms sleeps, real-time throttling, the
                # kernel's fair server).
                for i in range(12): time.sleep(0.03); c.send(b'x' * 100); a.recv(100)
                c.close(); a.close(); L.close()
                """,
            // The witness keeps its times in maps, printed at its end: an
            // event printed at once wakes bpftrace, which then runs before
            // the probes after its own (its times 12–38 µs earlier). Only
            // close and the socket calls (other tests' python3 run beside),
            // and room for them (bpftrace 0.17 reads BPFTRACE_MAP_KEYS_MAX).
            setup: "export BPFTRACE_MAP_KEYS_MAX=100000 BPFTRACE_MAX_MAP_KEYS=100000",
            witness: """
                tracepoint:raw_syscalls:sys_enter /comm == "python3" && (args->id == 3 || (args->id >= 41 && args->id <= 55) || args->id == 288)/ { @E[tid, args->id, nsecs] = 1; }
                tracepoint:raw_syscalls:sys_exit /comm == "python3" && (args->id == 3 || (args->id >= 41 && args->id <= 55) || args->id == 288)/ { @X[tid, args->id, nsecs] = 1; }
                """,
            untraced: Self.spinner(onCPU0: marker))
        struct Key: Hashable { let tid: Int32; let number: UInt32; let exit: Bool }
        var seen: [Key: [UInt64]] = [:]
        // `@E[tid, number, time]: 1`
        for (map, exit) in [("E", false), ("X", true)] {
            for key in run.keys(of: map) where key.count == 3 {
                guard let tid = Int32(exactly: key[0]), let number = UInt32(exactly: key[1]) else { continue }
                seen[Key(tid: tid, number: number, exit: exit), default: []].append(key[2])
            }
        }
        let records = run.records
        var stopped: [SyscallInvocation] = []
        for case let .syscall(call) in records where !call.recordedByKernel { stopped.append(call) }
        try #require(stopped.count >= 8, "\(stopped.map(\.name))")
        /// The witness's time nearest `time` for the call's thread and number.
        func nearest(_ call: SyscallInvocation, exit: Bool, to time: MonotonicTime) -> Int64? {
            guard let number = call.syscall.number(on: .x86_64) else { return nil }
            return seen[Key(tid: call.tid, number: number, exit: exit)]?.map { Int64(bitPattern: $0 &- time.nanoseconds) }.min { abs($0) < abs($1) }
        }
        var waits: [UInt64] = [], gaps: [Int64] = []
        for call in stopped {
            let entry = try #require(call.kernelEntryTime, "\(call.name) has no kernel entry time")
            let exit = try #require(call.endTime)
            // Two programs' clocks read at the same tracepoints: microseconds
            // apart (more when the thread is preempted between the two probes).
            // (The exit stop can be tens of milliseconds later: the tracer
            // too waits for a CPU.)
            let enterGap = try #require(nearest(call, exit: false, to: entry), "no sys_enter of \(call.name) seen in \(run.lines.count) lines: \(run.errors)")
            let exitGap = try #require(nearest(call, exit: true, to: exit), "no sys_exit of \(call.name) seen")
            #expect(abs(enterGap) < 200_000 && abs(exitGap) < 200_000, "\(call.name): sys_enter \(enterGap) ns, sys_exit \(exitGap) ns from bpftrace's")
            #expect(call.entryTime <= entry && entry <= exit)
            waits.append(entry.nanoseconds - call.entryTime.nanoseconds)
            gaps += [abs(enterGap), abs(exitGap)]
        }
        #expect(gaps.sorted()[gaps.count / 2] < 20_000, "\(gaps)")
        // The condition is real: some call waited for its CPU longer than the
        // tolerance above (the tracer's time would have failed it; the
        // spinner made waits of 0.3-20 ms here, as the kernel's fair server
        // lets the program run), and that wait is in no duration.
        let waited = try #require(waits.max())
        #expect(waited > 250_000, "no call waited for its CPU: \(waits)")
        // Each duration is the kernel's, the witness's sys_exit less its
        // sys_enter, and not the tracer's: for the call that waited longest,
        // nearer the kernel's than by its wait. (Not a bound on the duration
        // itself: the spinner can also take the CPU from a call inside the
        // kernel — a close preempted for 20 ms in a CI run, which the witness
        // saw too.)
        for call in stopped {
            let entry = try #require(call.kernelEntryTime), exit = try #require(call.endTime)
            let duration = try #require(call.duration)
            let enterGap = try #require(nearest(call, exit: false, to: entry)), exitGap = try #require(nearest(call, exit: true, to: exit))
            let kernels = Double(Int64(exit.nanoseconds - entry.nanoseconds) + exitGap - enterGap) / 1e9
            let wait = Double(entry.nanoseconds - call.entryTime.nanoseconds) / 1e9
            #expect(abs(duration - kernels) < 0.0004, "\(call.name): \(duration) s, the kernel's \(kernels) s")
            if wait > 0.00025 { #expect(abs(duration - kernels) < wait, "\(call.name): \(duration) s, the kernel's \(kernels) s, waited \(wait) s") }
        }
        // The diagram draws each call where the kernel began it: the client's close after the data that left before it.
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        var times: [MonotonicTime] = []
        for step in diagram.steps { if case let .message(_, _, _, _, time) = step { times.append(time) } }
        #expect(times == times.sorted(), "\(diagram.steps)")
        let close = try #require(stopped.first { $0.syscall == .close })
        var drawn: MonotonicTime?
        for case let .message(_, _, text, _, time) in diagram.steps where text == "close" && drawn == nil { drawn = time }
        #expect(drawn == close.kernelEntryTime, "\(String(describing: drawn)) vs \(String(describing: close.kernelEntryTime))")
    }

    @Test("the server's FIN dropped by an output rule on its close's own path: drawn as not sent, with the drop, not \"no FIN\" (audit 51 N2)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func finDroppedBeforeLeaving() throws {
        let port = TestSupport.freshPort()
        // The client closes first; the server, in CLOSE_WAIT, closes: its FIN (LAST_ACK) is dropped on output.
        let run = try witnessedRun("fin-dropped",
            client: """
                import socket
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                c.send(b'hello'); assert a.recv(10) == b'hello'
                c.close(); assert a.recv(10) == b''
                a.close(); L.close()
                """,
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook output priority 0; }' && "
                + "nft add rule inet nf h tcp sport \(port) tcp flags fin drop",
            witness: """
                tracepoint:skb:kfree_skb /args->reason == SKB_DROP_REASON_NETFILTER_DROP/ { $skb = (struct sk_buff *)args->skbaddr;
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if (bswap($th->source) == \(port) && $th->fin) { printf("FIN DROPPED %lld\\n", args->skbaddr); } }
                """)
        let dropped = run.lines.filter { $0.hasPrefix("FIN DROPPED ") }
            .compactMap { Int64($0.split(separator: " ")[2]) }
        try #require(!dropped.isEmpty, "the witness saw no FIN dropped: \(run.errors)")
        let records = run.records
        let server = SocketEndpoint.inet(address: "127.0.0.1", port: UInt16(port))
        // The server's close, and in it the drop the witness saw.
        var serverClose: SyscallInvocation?
        for case let .syscall(call) in records where call.syscall == .close && call.socket?.local == server && call.socket?.peer != nil { serverClose = call }
        let close = try #require(serverClose, "no close of the accepted socket")
        let drop = try #require(close.kernel?.samples.first { $0.tracepoint == "skb:kfree_skb" && $0.skbAddress.map(dropped.contains) == true },
                                "the witness's drop not sampled in the server's close: \(close.kernel?.samples.map(\.heading) ?? [])")
        #expect(drop.chain.contains("__tcp_transmit_skb"))
        let rendered = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: nil)))
        #expect(rendered.contains("FIN not sent#58; dropped before leaving (skb#58;kfree_skb NETFILTER_DROP in this close)#59; left in TCP's queue")
                && !rendered.contains("no FIN#58; none was sampled"), "\(rendered)")
    }

    @Test("the first SYN-ACK dropped by an output rule: the one answering the retransmitted SYN, sent outside the traced calls, drawn (audit 49 N1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func synAckElsewhereDrawn() throws {
        let port = TestSupport.freshPort()
        let program = """
            import socket
            L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); L.bind(('127.0.0.1', \(port))); L.listen()
            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            c.close(); a.close(); L.close()
            """
        let run = try witnessedRun("synack-elsewhere",
            client: program,
            // The first two SYN-ACKs (the SYN's, the request timer's) dropped on their way out, the third let go.
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook output priority 0; }' && "
                + "nft add rule inet nf h tcp sport \(port) tcp flags '& (syn|ack) == syn|ack' numgen inc mod 3 != 2 drop",
            // Each SYN-ACK queued to the device, and the task it left in.
            witness: """
                tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr;
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if (bswap($th->source) == \(port) && $th->syn && $th->ack) { printf("SYNACK %d %s\\n", tid, comm); } }
                """)
        let left = run.lines.filter { $0.hasPrefix("SYNACK ") }
        try #require(left.count == 1, "the witness saw \(left): \(run.errors)")
        let records = run.records
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        var drawn: [String] = []
        for case let .message(from, to, text, _, _) in diagram.steps where from == .serverKernel && to == .clientKernel && text.hasPrefix("SYN-ACK") {
            drawn.append(text)
        }
        // The one that left is drawn where it left, named by what sent it; none drawn that did not leave.
        #expect(drawn.count == 1 && (drawn[0].hasPrefix("SYN-ACK (a SYN taken in: tcp_conn_request → tcp_v4_send_synack in ")
                                     || drawn[0].hasPrefix("SYN-ACK sent again (")), "\(drawn)\n\(MermaidRenderer.render(diagram))")
    }

    @Test("a traced connection's segments dropped by an input rule in an untraced peer's task: each drop the witness saw sampled there by its headers (the drop program), the peer's, and drawn as dropped on arrival (audit 44 N3)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func dropsOutsideTheTracedTasks() throws {
        let port = TestSupport.freshPort()
        // The traced server takes 3 × 1000 B; the untraced client's 1000 B segments, every other one dropped on input.
        let server = """
            import socket
            L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); L.bind(('127.0.0.1', \(port))); L.listen()
            a, _ = L.accept(); got = 0
            while got < 3000: got += len(a.recv(65536))
            a.sendall(b'ok'); a.close(); L.close()
            """
        let client = """
            import socket, time
            for attempt in range(200):
                try: c = socket.create_connection(('127.0.0.1', \(port))); break
                except ConnectionRefusedError: time.sleep(0.05)
            for i in range(3): c.sendall(b'x' * 1000); time.sleep(0.05)
            c.recv(10); c.close()
            """
        let run = try witnessedRun("drops-elsewhere",
            client: server,
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook input priority 0; }' && "
                + "nft add rule inet nf h tcp dport \(port) ip length 1052 numgen inc mod 2 == 0 drop",
            // Each of the connection's packets dropped with a reason (a duplicate after a retransmission is
            // TCP_OLD_DATA), by its own headers, and the thread it was freed in.
            witness: """
                tracepoint:skb:kfree_skb /args->reason > SKB_DROP_REASON_NOT_SPECIFIED/ { $skb = (struct sk_buff *)args->skbaddr;
                  $ip = (struct iphdr *)($skb->head + $skb->network_header); $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && (bswap($th->dest) == \(port) || bswap($th->source) == \(port))) {
                    printf("DROPPED %lld %d %d\\n", args->skbaddr, args->reason, tid); } }
                """,
            untraced: client)
        // Each drop the witness saw, skb and reason (an skb's address is reused: one dropped by netfilter, then
        // another with it refused as NO_SOCKET).
        var seen: Set<[Int64]> = []
        for line in run.lines where line.hasPrefix("DROPPED ") {
            let words = line.split(separator: " ")
            if words.count >= 3, let skb = Int64(words[1]), let reason = Int64(words[2]) { seen.insert([skb, reason]) }
        }
        let filtered = seen.filter { $0[1] == 12 }.map { $0[0] }
        try #require(!filtered.isEmpty, "the witness saw no netfilter drop: \(run.errors)")
        let reader = run.file
        let records = reader.records
        // Every sample taken is in the file or counted as left out (audit 48: 7 of 54 unaccounted).
        var calls: [SyscallInvocation] = [], events: [KernelSample] = [], exits: [ProcessEvent] = []
        for record in records {
            if case let .syscall(call) = record { calls.append(call) }
            if case let .kernelEvent(sample) = record { events.append(sample) }
            if case let .process(event) = record, event.exitKernel != nil { exits.append(event) }
        }
        let account = SampleAccount(summaries: [reader.summary], calls: calls, events: events, exits: exits)
        #expect(account.complete && account.unaccounted == 0 && account.taken > 0, "\(account.text)")
        var drops: [KernelSample] = [], inCalls: Set<Int64> = []
        for record in records {
            if case let .kernelEvent(sample) = record, sample.tracepoint == "skb:kfree_skb" { drops.append(sample) }
            if case let .syscall(call) = record {
                for sample in call.kernel?.samples ?? [] where sample.tracepoint == "skb:kfree_skb" { if let skb = sample.skbAddress { inCalls.insert(skb) } }
            }
        }
        // Every drop shown is one the witness saw, with its reason; every netfilter drop is shown, outside the
        // traced tasks (the untraced client's) or in a traced call.
        for drop in drops {
            let skb = try #require(drop.skbAddress)
            #expect(drop.fields["reason"]?.number.map { seen.contains([skb, $0]) } == true, "\(drop.heading): the witness saw \(seen)")
            #expect(drop.task != nil, "taken outside the traced tasks")
            let toServer = drop.fields["dport"]?.number == Int64(port)
            #expect(drop.flow?.owner == (toServer ? .peer : .ownSocket), "\(drop.flow?.description ?? "-")")
            #expect(drop.flow?.evidence.hasPrefix("the dropped packet's headers' 127.0.0.1:") == true
                    && drop.flow?.evidence.contains(toServer ? "is a traced socket's peer's" : "is a traced socket's;") == true, "\(drop.flow?.evidence ?? "-")")
        }
        let shown = Set(drops.compactMap(\.skbAddress)).union(inCalls)
        #expect(filtered.allSatisfy(shown.contains), "netfilter drops \(filtered), shown \(shown)")
        #expect(drops.contains { $0.fields["reason"]?.number == 12 && $0.fields["dport"]?.number == Int64(port) })
        // Each drawn once, where it happened.
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        var notes = 0
        for case let .note(_, text) in diagram.steps where text.hasPrefix("a packet of the client's ") || text.hasPrefix("a packet of the server's ") {
            // A queue purged (the client's close) frees a packet, and says so: not a loss.
            #expect(text.contains(" dropped ") != text.contains("QUEUE_PURGE"), "\(text)")
            notes += 1
        }
        #expect(notes == drops.count, "\(MermaidRenderer.render(diagram))")
    }

    @Test("datagrams to a traced unconnected UDP socket dropped by an input rule in an untraced peer's task: each drop the witness saw sampled, by its destination (audit 46 F3); another port's drops not",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func datagramDropsOutsideTheTracedTasks() throws {
        let port = TestSupport.freshPort()
        // The traced server, once bound, tells the untraced client to go (from port + 2); the client sends 8 datagrams
        // (every other one dropped) and as many to the next port; the server takes what comes, up to the last.
        let server = """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', \(port))); s.settimeout(5)
            s.sendto(b'go', ('127.0.0.1', \(port + 2)))
            try:
                while s.recvfrom(100)[0] != b'd7': pass
            except socket.timeout: pass
            """
        let client = """
            import socket, time
            c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(('127.0.0.1', \(port + 2))); c.settimeout(60); c.recvfrom(10)
            for i in range(8):
                c.sendto(b'd%d' % i, ('127.0.0.1', \(port))); c.sendto(b'o%d' % i, ('127.0.0.1', \(port + 1))); time.sleep(0.02)
            """
        let run = try witnessedRun("udp-drops-elsewhere",
            client: server,
            setup: "nft add table inet nf && nft add chain inet nf h '{ type filter hook input priority 0; }' && "
                + "nft add rule inet nf h udp dport \(port) numgen inc mod 2 == 0 drop && nft add rule inet nf h udp dport \(port + 1) drop",
            witness: """
                tracepoint:skb:kfree_skb /args->reason == SKB_DROP_REASON_NETFILTER_DROP/ { $skb = (struct sk_buff *)args->skbaddr;
                  $ip = (struct iphdr *)($skb->head + $skb->network_header); $uh = (struct udphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 17 && bswap($uh->dest) == \(port)) { printf("DROPPED %lld\\n", args->skbaddr); } }
                """,
            untraced: client)
        let dropped = run.lines.filter { $0.hasPrefix("DROPPED ") }
            .compactMap { Int64($0.split(separator: " ")[1]) }
        try #require(!dropped.isEmpty, "the witness saw no drop: \(run.errors)")
        // The drops netfilter made, as the witness counts them: not another
        // packet freed in a timer's softirq that ran in the traced thread (CI:
        // one, "whose packet it handled is not known", said so).
        var drops: [KernelSample] = []
        for case let .kernelEvent(sample) in run.records where sample.tracepoint == "skb:kfree_skb" {
            if case .symbol("NETFILTER_DROP", _)? = sample.fields["reason"] { drops.append(sample) }
        }
        // Each drop to the traced socket, once; none of the other port's.
        #expect(drops.compactMap(\.skbAddress).sorted() == dropped.sorted(), "\(drops.map { $0.flow?.evidence ?? $0.heading }) against \(dropped)")
        for drop in drops {
            #expect(drop.flow?.owner == .peer && drop.flow?.evidence.contains("→ 127.0.0.1:\(port): to a traced UDP socket with no peer, bound to 127.0.0.1:\(port)") == true,
                    "\(drop.flow?.evidence ?? "-")")
        }
    }

    @Test("segments sent again in a send's backlog (netfilter dropping on input): each drawn once, as a retransmission, none counted in a run's segments; every new segment drawn once (audit 37 F1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func retransmissionsInSends() throws {
        let port = TestSupport.freshPort()
        let run = try witnessedRun("retransmitted-in-sends",
            client: Self.bursts(4, of: 8, port: port),
            setup: Self.dropLarge(on: "input", port: port, when: "numgen inc mod 4 == 1"),
            // The client's data segments as they leave, and which were sent again.
            witness: """
                tracepoint:tcp:tcp_retransmit_skb /args->dport == \(port)/ { printf("RETRANSMIT\\n"); }
                tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
                  $th = (struct tcphdr *)($skb->head + $skb->transport_header);
                  if ($ip->protocol == 6 && bswap($th->dest) == \(port) && bswap($ip->tot_len) - $ip->ihl * 4 - $th->doff * 4 > 0) { printf("SEGMENT\\n"); } }
                """)
        let seen = run.lines
        let retransmitted = seen.filter { $0 == "RETRANSMIT" }.count, segments = seen.filter { $0 == "SEGMENT" }.count
        try #require(retransmitted > 0, "no retransmission: \(run.errors)")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil)))
        let arrows = diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("CK->>SK: ") }
        #expect(arrows.filter { $0.contains("retransmitted") }.count == retransmitted, "\(retransmitted) retransmissions: \(diagram)")
        // Each data arrow's segments: "in N segments", else one.
        let drawn = arrows.filter { $0.hasPrefix("CK->>SK: data ") }.map { arrow -> Int in
            guard let range = arrow.range(of: #"in (\d+) segments"#, options: .regularExpression) else { return 1 }
            return Int(arrow[range].split(separator: " ")[1]) ?? 1
        }.reduce(0, +)
        #expect(drawn == segments - retransmitted, "\(segments) data segments, \(retransmitted) of them sent again; \(drawn) drawn as new: \(diagram)")
        // A retransmission an ACK set off as the send let its socket go
        // (release_sock's backlog) is on the send's modelled path, release_sock
        // and all (audit 62 M1: it was differs, release_sock not in the model).
        var inBacklog = 0
        for case let .syscall(call) in run.records where call.syscall == .sendto {
            for alignment in call.kernel?.alignments ?? [] where alignment.observed.contains("__tcp_retransmit_skb")
                && alignment.observed.contains("release_sock") && !alignment.observed.contains("__sk_flush_backlog") {
                inBacklog += 1
                #expect(alignment.operation == "tcp_send" && [.matches, .unverified].contains(alignment.verdict),
                        "\(alignment.operation) \(alignment.verdict): \(alignment.steps.map { "\($0.function) \($0.status)" })")
            }
        }
        print("retransmissionsInSends: \(retransmitted) retransmissions, \(inBacklog) sampled in a send's release_sock backlog")
    }

    @Test("two sends in a row whose segments netfilter dropped on output: the segment that then carries them says two earlier sends queued their bytes, not one (audit 37 M1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func consecutiveDrops() throws {
        let port = TestSupport.freshPort()
        let run = try witnessedRun("consecutive-drops",
            client: Self.bursts(3, of: 4, port: port),
            setup: Self.dropLarge(on: "output", port: port, when: "numgen inc mod 3 != 0"),
            witness: """
                tracepoint:syscalls:sys_enter_sendto /comm == "python3"/ { @in[tid] = 1; }
                tracepoint:syscalls:sys_exit_sendto /comm == "python3"/ { delete(@in[tid]); }
                tracepoint:skb:kfree_skb /args->reason == SKB_DROP_REASON_NETFILTER_DROP/ { printf("DROP %d %d\\n", tid, @in[tid]); }
                """)
        let inSends = run.dropsInSends()
        let lines = MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil)))
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let notes = lines.filter { $0.contains("not sent#58; dropped before leaving") }.count
        #expect(notes == inSends, "\(inSends) drops in sends: \(lines.joined(separator: "\n"))")
        // Each arrow naming queued bytes names as many sends as drop notes came since the last data arrow.
        var dropped = 0, named = 0
        for line in lines {
            if line.contains("not sent#58; dropped before leaving") { dropped += 1; continue }
            guard line.hasPrefix("CK->>SK: data ") else { continue }
            if line.contains("earlier send") {
                named += 1
                let says = line.contains("an earlier send") ? 1 : Int(line.components(separatedBy: " earlier sends")[0].split(separator: " ").last ?? "") ?? -1
                #expect(says == dropped, "\(dropped) sends dropped before: \(line)")
            }
            dropped = 0
        }
        #expect(named > 0 && lines.contains { $0.contains("2 earlier sends") }, "\(lines.joined(separator: "\n"))")
    }

    @Test("a connect whose first SYN netfilter dropped on output, sent again by the timer: tcp_connect, not a deferred Fast Open; the drop said, the retransmission and the handshake drawn (audit 38 F1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func connectAfterDroppedSyn() throws {
        let port = TestSupport.freshPort()
        let run = try witnessedRun("dropped-syn",
            client: """
                import socket
                L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
                c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
                c.send(b'hello'); assert a.recv(10) == b'hello'
                c.close(); a.close(); L.close()
                """,
            setup: """
                nft add table inet nf && nft add chain inet nf h '{ type filter hook output priority 0; }' && \\
                nft add rule inet nf h tcp dport \(port) tcp flags == syn numgen inc mod 2 == 0 drop
                """,
            witness: "tracepoint:tcp:tcp_retransmit_skb /args->dport == \(port)/ { printf(\"RETRANSMIT %d\\n\", args->state); }")
        let retransmitted = run.lines.filter { $0 == "RETRANSMIT 2" }.count
        #expect(retransmitted == 1, "the SYN sent again once (SYN_SENT): \(run.lines.joined(separator: "\n"))")
        let records = run.records
        var calls: [SyscallInvocation] = []
        for record in records { if case let .syscall(call) = record { calls.append(call) } }
        let connect = try #require(calls.first { $0.syscall == .connect })
        #expect(connect.kernel?.operation == "tcp_connect", "\(connect.kernel?.operation ?? "-")")
        // The timer's SYN, sampled on another CPU though the connecting socket's port was not yet known
        // (kept by the connect's destination, audit 38 F2).
        var events: [KernelSample] = []
        for record in records { if case let .kernelEvent(sample) = record { events.append(sample) } }
        let timerSyn = events.filter { $0.tracepoint == "net:net_dev_queue" && $0.fields["dport"]?.number == Int64(port)
            && $0.alignments?.first?.operation == "tcp_retransmit_timer" }
        #expect(timerSyn.count == retransmitted, "\(events.map { "\($0.tracepoint) \($0.alignments?.first?.operation ?? "-")" })")
        let diagram = MermaidRenderer.render(try #require(SequenceDiagram.build(records: records, choice: nil)))
        #expect(!diagram.contains("Fast Open") && diagram.contains("SYN not sent#58; dropped before leaving (skb#58;kfree_skb NETFILTER_DROP in this connect)")
                && diagram.components(separatedBy: "SYN retransmitted").count - 1 == retransmitted && diagram.contains("SK->>CK: SYN-ACK"), "\(diagram)")
        // The handshake before accept returned (the SYN-ACK in the connect's
        // receive, or named for what sent it where it left outside the
        // traced calls: a softirq on an idle CPU, audit 49 N1).
        let lines = diagram.split(separator: "\n").map(String.init)
        let synAck = try #require(lines.firstIndex { $0.hasSuffix("SK->>CK: SYN-ACK") || $0.contains("SK->>CK: SYN-ACK (a SYN taken in") }),
            accepted = try #require(lines.firstIndex { $0.contains("accept4 = ") || $0.contains("accept = ") })
        #expect(synAck < accepted, "\(diagram)")
    }

    /// A client sending `bursts` bursts of `sends` 3000 B sends (TCP_NODELAY)
    /// on loopback, its server reading each burst whole before the next.
    static func bursts(_ bursts: Int, of sends: Int, port: Int) -> String {
        """
        import socket
        L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
        c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        total = 0
        for burst in range(\(bursts)):
            for i in range(\(sends)): c.send(b'x' * 3000)
            while total < \(3000 * sends) * (burst + 1): total += len(a.recv(65536))
        c.close(); a.close()
        """
    }

    /// nftables dropping the large segments to `port` on a hook when `condition` (a numgen expression) holds.
    static func dropLarge(on hook: String, port: Int, when condition: String) -> String {
        """
        nft add table inet nf && nft add chain inet nf h '{ type filter hook \(hook) priority 0; }' && \\
        nft add rule inet nf h tcp dport \(port) meta length '>' 1000 \(condition) drop
        """
    }

    /// The client's segments to `port` as they leave: payload, FIN flag, and
    /// whether the client thread was in setsockopt or shutdown (bpftrace).
    static func clientSegmentsWitness(port: Int) -> String {
        """
        tracepoint:syscalls:sys_enter_setsockopt /comm == "python3"/ { @in[tid] = 1; }
        tracepoint:syscalls:sys_enter_shutdown /comm == "python3"/ { @in[tid] = 2; }
        tracepoint:syscalls:sys_exit_setsockopt, tracepoint:syscalls:sys_exit_shutdown /comm == "python3"/ { delete(@in[tid]); }
        tracepoint:net:net_dev_queue { $skb = (struct sk_buff *)args->skbaddr; $ip = (struct iphdr *)($skb->head + $skb->network_header);
          $th = (struct tcphdr *)($skb->head + $skb->transport_header);
          if ($ip->protocol == 6 && bswap($th->dest) == \(port)) {
            $payload = bswap($ip->tot_len) - $ip->ihl * 4 - $th->doff * 4;
            if ($payload > 0 || $th->fin) { printf("SEGMENT %d fin=%d in=%d seq=%u\\n", $payload, $th->fin, @in[tid], bswap($th->seq)); } } }
        """
    }

    @Test("data sends left queued, drawn where it left: pushed by setsockopt(TCP_CORK, 0), with the FIN by shutdown (one segment), and as a closed window opened, in the reader's calls, its FIN queued behind it (audit 38 F3, F4, F5, M1)",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel, "needs bpftrace and kernel sampling"))
    func queuedDataDrawnWhereItLeft() throws {
        func run(_ name: String, _ client: String, port: Int) throws -> (diagram: String, segments: [String]) {
            let run = try witnessedRun(name, client: client, witness: Self.clientSegmentsWitness(port: port))
            // Those carrying new bytes (sequence numbers past every earlier
            // segment's end): a segment sent again, whole or split, does not.
            var end: UInt32? = nil
            let segments = run.lines(startingWith: "SEGMENT ")
                .filter { line in
                    let fields = line.split(separator: " ")
                    guard let payload = UInt32(fields[1]), let seq = UInt32(fields.last?.dropFirst(4) ?? "") else { return false }
                    let last = seq &+ payload
                    defer { if end.map({ Int32(bitPattern: last &- $0) > 0 }) ?? true { end = last } }
                    return end.map { Int32(bitPattern: last &- $0) > 0 } ?? true
                }.map { $0.split(separator: " ").dropLast().joined(separator: " ") }
            return (MermaidRenderer.render(try #require(SequenceDiagram.build(records: run.records, choice: nil))), segments)
        }
        // Corked data stays queued only until the zero-window probe timer
        // (200 ms on loopback) sends it: on a loaded machine the program
        // can take longer than that between its send and the uncork (3.4 s
        // seen in CI). Such a run is checked against its witness (each new
        // segment drawn with its size, what the timer sent said so) and
        // the scenario run again, up to three times.
        func corked(_ name: String, _ client: (Int) -> String, wanted: ([String]) -> Bool) throws -> (diagram: String, segments: [String]) {
            var attempt = 0
            while true {
                attempt += 1
                let port = TestSupport.freshPort()
                let result = try run("\(name)-\(attempt)", client(port), port: port)
                if wanted(result.segments) || attempt == 3 { return result }
                for segment in result.segments {
                    let fields = segment.split(separator: " ")
                    #expect(fields[1] == "0" || result.diagram.contains("data \(fields[1]) B"), "\(segment): \(result.diagram)")
                }
                if result.segments.contains(where: { $0.hasSuffix("in=0") && !$0.hasPrefix("SEGMENT 0 ") }) {
                    #expect(result.diagram.contains("tcp_probe0_timer"), "\(result.diagram)")
                }
            }
        }
        let prelude = { (port: Int) in """
            import socket, os, time, threading
            L = socket.socket(); L.bind(('127.0.0.1', \(port))); L.listen()
            """ }
        // TCP_CORK: three sends held, one segment when the cork comes off.
        let cork = try corked("cork", { port in prelude(port) + """

            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            c.send(b'd' * 1000); c.send(b'e' * 1000); os.writev(c.fileno(), [b'f' * 500, b'g' * 700])
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
            got = 0
            while got < 3200: got += len(a.recv(65536))
            c.close(); a.close()
            """ }, wanted: { $0.contains("SEGMENT 3200 fin=0 in=1") })
        #expect(cork.segments.contains("SEGMENT 3200 fin=0 in=1"), "\(cork.segments)")
        #expect(cork.diagram.contains("data 3200 B of what 3 earlier sends left queued#58; a segment sampled leaving (net#58;net_dev_queue len ")
                && cork.diagram.contains(", in setsockopt of "), "\(cork.diagram)")
        // Corked data and the FIN in one segment, sent by shutdown.
        let half = try corked("half-corked", { port in prelude(port) + """

            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            c.send(b'x' * 3000); c.shutdown(socket.SHUT_WR)
            got = 0
            while True:
                d = a.recv(65536)
                if not d: break
                got += len(d)
            a.close(); c.close()
            """ }, wanted: { $0 == ["SEGMENT 3000 fin=1 in=2"] })
        #expect(half.segments == ["SEGMENT 3000 fin=1 in=2"], "\(half.segments)")
        let halfLines = half.diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let data = try #require(halfLines.firstIndex { $0.contains("data 3000 B of what an earlier send left queued#58; a segment sampled leaving") && $0.contains("in shutdown of ") }, "\(half.diagram)")
        let fin = try #require(halfLines.firstIndex { $0.hasPrefix("CK->>SK: FIN") }, "\(half.diagram)")
        #expect(data < fin && halfLines[fin].contains("in that segment"), "\(half.diagram)")
        // A closed window: the reader's calls let the rest go; the FIN queued behind it.
        let port = TestSupport.freshPort()
        let window = try run("closed-window", prelude(port) + """

            L.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            c = socket.create_connection(('127.0.0.1', \(port))); a, _ = L.accept()
            def write():
                c.sendall(b'w' * 60000); c.shutdown(socket.SHUT_WR)
            writer = threading.Thread(target=write); writer.start()
            time.sleep(0.3)
            while a.recv(1000): time.sleep(0.005)
            writer.join(); a.close(); c.close()
            """, port: port)
        let sent = window.segments.filter { $0.contains("in=0") && !$0.hasPrefix("SEGMENT 0 ") }
        let lines = window.diagram.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let first = try #require(lines.first { $0.hasPrefix("CK->>SK: data ") && $0.contains("B left queued") && !$0.contains("earlier send") }, "\(window.diagram)")
        // The rest drawn as its segments left, a group per place, in order.
        let later = lines.filter { $0.contains("of what an earlier send left queued#58; ") }
        #expect(!later.isEmpty && later.contains { $0.contains(", in recvfrom of ") }, "\(window.diagram)")
        // Every data segment drawn once: those of the send, and the rest.
        func count(_ line: String, _ pattern: String) -> Int {
            line.range(of: pattern, options: .regularExpression).flatMap { Int(line[$0].split(separator: " ")[1]) } ?? 0
        }
        let inSend = count(first, #"in (\d+) segment"#)
        let afterwards = later.map { $0.contains("#58; a segment sampled") ? 1 : count($0, #"; (\d+) segments sampled"#) }.reduce(0, +)
        #expect(inSend + afterwards == sent.count, "\(sent.count) data segments: \(first) / \(later)")
        #expect(lines.contains { $0.contains("FIN queued behind") } && lines.contains { $0.hasPrefix("CK->>SK: FIN, queued behind them") }, "\(window.diagram)")
    }

    @Test("a connect that timed out: its connection (timed out), its SYN's retransmissions drawn as bpftrace counts them, no handshake",
          .enabled(if: TestSupport.hasBpftrace && TestSupport.canObserveKernel && (TestSupport.underCI || TestSupport.commandExists("nft")),
                   "needs bpftrace, nftables and kernel sampling"))
    func timedOutConnect() throws {
        let port = TestSupport.freshPort()
        // Every SYN to the port dropped, one retry allowed (about 3 s).
        let run = try witnessedRun("timed-out",
            client: "import socket\ntry: socket.create_connection(('127.0.0.1', \(port)))\nexcept TimeoutError: pass",
            setup: """
                sysctl -qw net.ipv4.tcp_syn_retries=1 && nft add table inet lost && \\
                nft add chain inet lost in '{ type filter hook input priority 0; }' && nft add rule inet lost in tcp dport \(port) drop
                """,
            witness: "tracepoint:tcp:tcp_retransmit_skb /args->dport == \(port)/ { printf(\"RETRANSMIT %d %d\\n\", args->sport, args->state); }")
        let seen = run.lines.filter { $0.hasPrefix("RETRANSMIT ") }
        try #require(!seen.isEmpty, "bpftrace saw no retransmission: \(run.errors)")
        // All of one socket's, in SYN_SENT (2).
        let fields = seen.map { $0.split(separator: " ") }
        #expect(Set(fields.map { $0[1] }).count == 1 && fields.allSatisfy { $0[2] == "2" }, "\(seen)")
        let records = run.records
        var found: [Connection] = []
        for record in records { if case let .connection(connection) = record { found.append(connection) } }
        #expect(found.map(\.title) == ["TCP 127.0.0.1:\(fields[0][1]) → 127.0.0.1:\(port)"] && found.first?.timedOut == "connect failed with ETIMEDOUT"
                && found.first?.refused == nil, "\(found)")
        let diagram = try #require(SequenceDiagram.build(records: records, choice: nil))
        let text = MermaidRenderer.render(diagram)
        #expect(text.components(separatedBy: "SYN retransmitted").count - 1 == seen.count, "\(seen.count) retransmissions: \(text)")
        #expect(text.contains("no answer to the SYN#58; timed out") && text.contains("connect = -1 ETIMEDOUT") && !text.contains("SYN-ACK"), "\(text)")
        // The first SYN, queued by connect, was taken in on loopback and dropped there by the rule.
        #expect(text.contains("CK->>SK: SYN, dropped (skb#58;kfree_skb NETFILTER_DROP)"), "\(text)")
    }

    @Test("connections the trace cannot call served: one a traced listener never accepted, one closed before its connect's outcome (audit 17)")
    func unservedConnections() throws {
        let port = TestSupport.freshPort()
        let closed = TestSupport.freshPort()
        let script = """
            import socket
            listener = socket.socket(); listener.bind(("127.0.0.1", \(port))); listener.listen(1)
            queued = socket.socket(); queued.connect(("127.0.0.1", \(port)))
            early = socket.socket(); early.setblocking(False)
            try: early.connect(("127.0.0.1", \(closed)))
            except BlockingIOError: pass
            early.close(); queued.close(); listener.close()
            """
        let terminal = try TestSupport.run(TestSupport.sockettrace, ["-f", Self.python, "-c", script])
        #expect(terminal.status == 0, "\(terminal.stderr)")
        let lines = terminal.stderr.split(separator: "\n").filter { $0.hasPrefix("  #") }
        // Established (connect returned 0) and queued, but the traced listener accepted none of it.
        #expect(lines.contains { $0.contains("→ 127.0.0.1:\(port)") && $0.hasSuffix("(a traced program listened there; it accepted none of this)") },
                "\(lines)")
        // Closed while its SYN was answered with a reset: nothing shows a server.
        #expect(lines.contains { $0.contains("→ 127.0.0.1:\(closed)") && $0.hasSuffix("(not seen established; no traced program accepted it)") },
                "\(lines)")
        #expect(!terminal.stderr.contains("server not traced"))
    }

    @Test("a traced listener in another network namespace on the same address: the client's connection is to an untraced server there (audit 18)",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("unshare")))
    func listenerInAnotherNamespace() throws {
        let port = TestSupport.freshPort()
        // The untraced server, in this namespace: accepts and reads.
        let server = try ChildProcess(Self.python, ["-c", """
            import socket
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", \(port))); l.listen()
            print("ready", flush=True)
            s, _ = l.accept(); s.recv(10)
            """])
        #expect(server.waitForOutput("ready"))
        let script = """
            unshare -n sh -c 'ip link set lo up; exec \(Self.python) -c "import socket, time; l = socket.socket(); l.bind((\\"127.0.0.1\\", \(port))); l.listen(); time.sleep(1)"' &
            sleep 0.3
            \(Self.python) -c 'import socket; c = socket.create_connection(("127.0.0.1", \(port))); c.send(b"hello"); c.close()'
            wait
            """
        let terminal = try TestSupport.run(TestSupport.sockettrace, ["-f", "/bin/sh", "-c", script])
        #expect(terminal.status == 0, "\(terminal.stderr)")
        _ = try server.wait(timeout: 10)
        let line = terminal.stderr.split(separator: "\n").first { $0.hasPrefix("  #") && $0.contains("→ 127.0.0.1:\(port)") }
        #expect(line?.hasSuffix("client sent 5 B, received 0 B (server not traced)") == true, "\(terminal.stderr)")
    }

    @Test("TCP Fast Open: sendto(MSG_FASTOPEN) connects; to an untraced server its connection is listed with its bytes, refused it says refused, with the port the kernel gave it (audit 18)")
    func fastOpen() throws {
        let port = TestSupport.freshPort()
        let closed = TestSupport.freshPort()
        let enabled = try String(contentsOfFile: "/proc/sys/net/ipv4/tcp_fastopen", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(Int(enabled).map { $0 & 1 != 0 } == true, "client Fast Open is off here (net.ipv4.tcp_fastopen=\(enabled))")
        let server = try ChildProcess(Self.python, ["-c", """
            import socket
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", \(port))); l.listen()
            print("ready", flush=True)
            s, _ = l.accept(); s.recv(10); s.close()
            """])
        #expect(server.waitForOutput("ready"))
        let script = """
            import socket
            c = socket.socket(); c.sendto(b"hello", socket.MSG_FASTOPEN, ("127.0.0.1", \(port))); c.recv(10); c.close()
            r = socket.socket()
            try: r.sendto(b"hello", socket.MSG_FASTOPEN, ("127.0.0.1", \(closed)))
            except ConnectionRefusedError: pass
            try: r.send(b"x")
            except OSError: pass
            r.close()
            """
        let terminal = try TestSupport.run(TestSupport.sockettrace, ["-f", Self.python, "-c", script])
        #expect(terminal.status == 0, "\(terminal.stderr)")
        _ = try server.wait(timeout: 10)
        let lines = terminal.stderr.split(separator: "\n").filter { $0.hasPrefix("  #") }
        #expect(lines.contains { $0.contains("→ 127.0.0.1:\(port)") && $0.contains("client sent 5 B, received 0 B (server not traced)") }, "\(terminal.stderr)")
        #expect(!lines.contains { $0.contains("→ 127.0.0.1:\(closed)") && $0.contains("server not traced") }, "\(lines)")
        // Refused in the call (it blocks in the handshake): the port the refusal released is the kernel's.
        #expect(lines.contains { $0.contains("→ 127.0.0.1:\(closed)  refused (sendto failed with ECONNREFUSED): no connection") }, "\(lines)")
    }

    static func lineLength(_ number: Int) -> Int64 { Int64("hello \(number)\n".utf8.count) }

    @Test("python asyncio: non-blocking connects, both ends in one process")
    func asyncio() throws {
        let (connections, file) = try connections(of: [Self.python, "\(Self.corpus)/echo_asyncio.py", "\(TestSupport.freshPort())", "5"])
        try expectComplete(connections, count: 5, bytes: Self.lineLength, file: file)
    }

    @Test("node: accept4 without the peer's address, epoll, non-blocking connects", .enabled(if: TestSupport.underCI || TestSupport.commandExists("node")))
    func node() throws {
        let (connections, file) = try connections(of: ["node", "\(Self.corpus)/echo_node.js", "\(TestSupport.freshPort())", "5"])
        try expectComplete(connections, count: 5, bytes: Self.lineLength, file: file)
    }

    @Test("node on ::, IPv4 clients: the server's [::ffff:…] ends paired with the clients'", .enabled(if: TestSupport.underCI || TestSupport.commandExists("node")))
    func dualStack() throws {
        let (connections, file) = try connections(of: ["node", "\(Self.corpus)/echo_node.js", "\(TestSupport.freshPort())", "3", "::", "127.0.0.1"])
        #expect(connections.allSatisfy { $0.client.description.hasPrefix("127.0.0.1:") }, "\(connections.map(\.title))")
        try expectComplete(connections, count: 3, bytes: Self.lineLength, file: file)
    }

    @Test("sendmmsg and recvmmsg count their messages' bytes (audit D, C3)")
    func multipleMessages() throws {
        let program = try TestSupport.build("mmsg_pair.c")
        let (connections, _) = try connections(of: [program, "\(TestSupport.freshPort())"])
        let connection = try #require(connections.first)
        #expect(connections.count == 1)
        #expect(connection.sentByClient == 30 && connection.receivedByServer == 30, "\(connection)")
    }

    @Test("socat serving in forked children, python clients in another process", .enabled(if: TestSupport.underCI || TestSupport.commandExists("socat")))
    func socatServer() throws {
        let port = TestSupport.freshPort()
        let hexPort = String(format: "%04X", port)
        let script = """
            socat TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork PIPE & server=$!
            until grep -q ':\(hexPort) 00000000:0000 0A' /proc/net/tcp; do sleep 0.02; done
            \(Self.python) \(Self.corpus)/echo_clients.py \(port) 4
            kill $server; wait $server; exit 0
            """
        let (connections, file) = try connections(of: ["/bin/sh", "-c", script])
        try expectComplete(connections, count: 4, bytes: Self.lineLength, file: file)
        // The listening socat accepts; a forked child of it serves each connection.
        #expect(Set(connections.compactMap(\.serverPid)).count == 1)
    }
}

/// The tracker on synthetic calls: the cases a real program reaches only
/// by timing (attach mid-stream, a descriptor whose addresses were not known).
@Suite struct ConnectionTrackerTests {
    static let server = SocketEndpoint.inet(address: "127.0.0.1", port: 8080)
    static let client = SocketEndpoint.inet(address: "127.0.0.1", port: 40000)
    var time: UInt64 = 1

    mutating func call(_ syscall: Syscall, pid: Int32, fd: Int32 = 3, result: Int64, errno: Int32? = nil, inode: UInt64?,
                       local: SocketEndpoint?, peer: SocketEndpoint?, arguments: [UInt64]? = nil) -> SyscallInvocation {
        time += 10
        var call = SyscallInvocation(pid: pid, tid: pid, architecture: .x86_64, syscall: syscall,
                                     arguments: arguments ?? [UInt64(fd), 0, 0, 0, 0, 0], entryTime: MonotonicTime(nanoseconds: time))
        call.exitTime = MonotonicTime(nanoseconds: time + 5)
        call.result = SyscallResult(value: errno.map { -Int64($0) } ?? result, errno: errno)
        call.socket = SocketSnapshot(fd: fd, family: 2, type: 1, protocolLabel: "TCP", local: local, peer: peer,
                                     state: .connected, inode: inode)
        return call
    }

    @Test("a connection first seen mid-stream is paired when a traced listener names its server")
    mutating func midStream() {
        let tracker = ConnectionTracker()
        tracker.observe(call(.write, pid: 1, result: 5, inode: 10, local: Self.client, peer: Self.server))
        #expect(tracker.connections.isEmpty, "without a listener, which end serves is unknown: no guess")
        tracker.observe(call(.listen, pid: 2, result: 0, inode: 20, local: .inet(address: "0.0.0.0", port: 8080), peer: nil))
        tracker.observe(call(.read, pid: 2, fd: 4, result: 5, inode: 21, local: Self.server, peer: Self.client))
        tracker.observe(call(.write, pid: 1, result: 7, inode: 10, local: Self.client, peer: Self.server))
        #expect(tracker.connections.count == 1)
        let connection = tracker.connections[0]
        #expect(connection.client == Self.client && connection.server == Self.server)
        #expect(connection.serverPid == 2 && connection.clientPid == 1)
        #expect(connection.receivedByServer == 5 && connection.sentByClient == 7)
        #expect(connection.handshake == nil)
    }

    @Test("the socket's inode keeps its calls on the connection when a snapshot lacks the addresses")
    mutating func byInode() {
        let tracker = ConnectionTracker()
        tracker.observe(call(.connect, pid: 1, result: 0, errno: EINPROGRESS, inode: 10, local: Self.client, peer: Self.server))
        tracker.observe(call(.accept4, pid: 2, fd: 5, result: 5, inode: 11, local: Self.server, peer: Self.client))
        tracker.observe(call(.sendto, pid: 1, result: 9, inode: 10, local: nil, peer: nil))
        // splice(socket, NULL, pipe, …) takes bytes in from the socket.
        tracker.observe(call(.splice, pid: 2, fd: 5, result: 9, inode: 11, local: Self.server, peer: Self.client, arguments: [5, 0, 7, 0, 9, 0]))
        // sendmmsg returns messages, not bytes.
        tracker.observe(call(.sendmmsg, pid: 2, fd: 5, result: 2, inode: 11, local: Self.server, peer: Self.client))
        let connection = tracker.connections[0]
        #expect(tracker.connections.count == 1 && connection.handshake != nil)
        #expect(connection.sentByClient == 9 && connection.receivedByServer == 9 && connection.sentByServer == 0)
        // A new socket on a reused inode with another 4-tuple is another connection.
        let other = SocketEndpoint.inet(address: "127.0.0.1", port: 40001)
        tracker.observe(call(.connect, pid: 1, result: 0, inode: 10, local: other, peer: Self.server))
        #expect(tracker.connections.count == 2 && tracker.connections[1].client == other)
    }

    @Test("two connections on one 4-tuple, one after the other (a client reconnecting from its port): two records, each with its own sockets (audit 10)")
    mutating func sameTupleTwice() {
        let tracker = ConnectionTracker()
        tracker.observe(call(.connect, pid: 1, result: 0, inode: 10, local: Self.client, peer: Self.server))
        tracker.observe(call(.accept4, pid: 2, fd: 5, result: 5, inode: 11, local: Self.server, peer: Self.client))
        tracker.observe(call(.write, pid: 1, result: 2, inode: 10, local: Self.client, peer: Self.server))
        tracker.observe(call(.read, pid: 2, fd: 5, result: 2, inode: 11, local: Self.server, peer: Self.client))
        // Both closed; the same ports again, new sockets.
        tracker.observe(call(.connect, pid: 1, fd: 4, result: 0, inode: 20, local: Self.client, peer: Self.server))
        tracker.observe(call(.accept4, pid: 2, fd: 6, result: 6, inode: 21, local: Self.server, peer: Self.client))
        tracker.observe(call(.read, pid: 2, fd: 6, result: 2, inode: 21, local: Self.server, peer: Self.client))
        #expect(tracker.connections.count == 2)
        #expect(tracker.connections.map(\.receivedByServer) == [2, 2] && tracker.connections.map(\.sentByClient) == [2, 0])
        #expect(tracker.connections.allSatisfy { $0.handshake != nil }, "each its own connect and accept")
    }

    @Test("a refused non-blocking connect: EINPROGRESS, then getsockopt(SO_ERROR) reads ECONNREFUSED; refused is said, no server is guessed")
    mutating func refusedConnect() {
        let tracker = ConnectionTracker()
        tracker.observe(call(.connect, pid: 1, result: 0, errno: EINPROGRESS, inode: 10, local: Self.client, peer: Self.server))
        // SO_ERROR read nothing wrong: not refused.
        var fine = call(.getsockopt, pid: 1, result: 0, inode: 10, local: Self.client, peer: Self.server,
                        arguments: [3, UInt64(SOL_SOCKET), UInt64(SO_ERROR), 0, 0, 0])
        fine.exitText = "[0], [4]"
        tracker.observe(fine)
        #expect(tracker.connections.first?.refused == nil)
        var read = fine
        read.exitText = "[ECONNREFUSED], [4]"
        tracker.observe(read)
        #expect(tracker.connections.first?.refused == "getsockopt SO_ERROR read ECONNREFUSED")
        let connection = tracker.connections[0]
        #expect(TextTimeline.bytesLine(connection) == "refused (getsockopt SO_ERROR read ECONNREFUSED): no connection")
        // Before SO_ERROR was read, nothing showed a server, nor that it was made.
        var unknown = Connection(id: 2, protocolLabel: "TCP", client: Self.client, server: Self.server)
        unknown.clientPid = 1
        #expect(TextTimeline.bytesLine(unknown) == "client sent 0 B, received 0 B (not seen established; no traced program accepted it)")
        unknown.established = true
        #expect(TextTimeline.bytesLine(unknown) == "client sent 0 B, received 0 B (server not traced)")
        unknown.tracedListener = true
        #expect(TextTimeline.bytesLine(unknown) == "client sent 0 B, received 0 B (a traced program listened there; it accepted none of this)")
        // A send on it fails the same way: the first evidence is kept.
        tracker.observe(call(.sendto, pid: 1, result: 0, errno: ECONNREFUSED, inode: 10, local: Self.client, peer: Self.server))
        #expect(tracker.connections[0].refused == "getsockopt SO_ERROR read ECONNREFUSED")
    }

    @Test("a listener in another network namespace does not listen here; the kernel's own ESTABLISHED shows a connection made (audit 18)")
    mutating func namespacesAndKernelState() {
        let tracker = ConnectionTracker()
        var listen = call(.listen, pid: 2, result: 0, inode: 20, local: .inet(address: "127.0.0.1", port: 8080), peer: nil)
        listen.socket?.netns = 4026532174
        tracker.observe(listen)
        var connect = call(.connect, pid: 1, result: 0, errno: EINPROGRESS, inode: 10, local: Self.client, peer: Self.server)
        connect.socket?.netns = 4026531833
        tracker.observe(connect)
        #expect(tracker.connections.first?.tracedListener == nil, "the listener's namespace is another")
        #expect(TextTimeline.bytesLine(tracker.connections[0]) == "client sent 0 B, received 0 B (not seen established; no traced program accepted it)")
        // The connect's samples show the client's socket enter TCP_ESTABLISHED (the SYN-ACK taken in on loopback).
        let established = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0,
                                       chain: [], fields: ["family": .symbol("AF_INET", 2), "oldstate": .number(2), "newstate": .number(1),
                                                           "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                                           "sport": .number(40000), "dport": .number(8080)])
        var close = call(.close, pid: 1, result: 0, inode: 10, local: Self.client, peer: Self.server)
        close.socket?.netns = 4026531833
        close.kernel = KernelActivity(operation: nil, source: .observed, expected: [], samples: [established], alignments: [])
        tracker.observe(close)
        #expect(tracker.connections[0].established == true)
        #expect(TextTimeline.bytesLine(tracker.connections[0]) == "client sent 0 B, received 0 B (server not traced)")
        // The server's own state change (its direction) says nothing of the client's socket.
        let other = ConnectionTracker()
        other.observe(connect)
        let serverSide = KernelSample(tracepoint: "sock:inet_sock_set_state", role: .event, pid: 1, tid: 1, time: MonotonicTime(nanoseconds: 0), cpu: 0,
                                      chain: [], fields: ["family": .symbol("AF_INET", 2), "oldstate": .number(3), "newstate": .number(1),
                                                          "saddr": .bytes([127, 0, 0, 1]), "daddr": .bytes([127, 0, 0, 1]),
                                                          "sport": .number(8080), "dport": .number(40000)])
        close.kernel = KernelActivity(operation: nil, source: .observed, expected: [], samples: [serverSide], alignments: [])
        other.observe(close)
        #expect(other.connections[0].established == nil)
        // In the listener's own namespace, or with a namespace unknown (older trace files), it listened there.
        let same = ConnectionTracker()
        same.observe(listen)
        connect.socket?.netns = 4026532174
        same.observe(connect)
        #expect(same.connections.first?.tracedListener == true)
    }

    @Test("a peek (MSG_PEEK) counts no bytes; an IPv4 client of a dual-stack listener is TCP whichever end is seen first (audit D-1)")
    mutating func peeksAndLabels() {
        let tracker = ConnectionTracker()
        let mapped = SocketEndpoint.inet6(address: "::ffff:127.0.0.1", port: 8080)
        let client6 = SocketEndpoint.inet6(address: "::ffff:127.0.0.1", port: 40000)
        var accept = call(.accept4, pid: 2, fd: 5, result: 5, inode: 11, local: mapped, peer: client6)
        accept.socket?.protocolLabel = "TCPv6"
        tracker.observe(accept)
        #expect(tracker.connections.first?.protocolLabel == "TCP")
        tracker.observe(call(.recvfrom, pid: 2, fd: 5, result: 100, inode: 11, local: mapped, peer: client6, arguments: [5, 0, 100, 2, 0, 0]))
        tracker.observe(call(.recvfrom, pid: 2, fd: 5, result: 100, inode: 11, local: mapped, peer: client6, arguments: [5, 0, 100, 0, 0, 0]))
        #expect(tracker.connections.first?.receivedByServer == 100, "the peek and the read that took the same bytes: 100 B")
    }
}
