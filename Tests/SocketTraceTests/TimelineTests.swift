import Foundation
import Testing
@testable import SocketTrace

/// The live text timeline: one order across processes.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct TimelineTests {
    /// The times (seconds since start) that begin the timeline's lines.
    func times(_ text: String) -> [Double] {
        text.split(separator: "\n").compactMap { line in
            let trimmed = line.drop { $0 == " " }
            guard let first = trimmed.split(separator: " ").first, first.contains(".") else { return nil }
            return Double(first)
        }
    }

    @Test("lines are in the order things began across processes; a blocked accept is unfinished, then resumed")
    func orderedAcrossProcesses() throws {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let output = TestSupport.temporaryFile("ordered")
        // Once the server listens, its accept is held over the timeline's 100 ms hold before a client comes.
        let script = "\(server) 127.0.0.1 \(port) 2 >/dev/null & \(TestSupport.awaitListening(port: port)); sleep 0.3; \(client) 127.0.0.1 \(port) >/dev/null & \(client) 127.0.0.1 \(port) >/dev/null; wait"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", output, "/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let stamps = times(text)
        #expect(stamps.count > 30)
        #expect(stamps == stamps.sorted(), "\(text)")
        // The accept that waited for the client (over the 100 ms hold) is split as strace splits it.
        #expect(text.contains("accept(3<TCP 127.0.0.1:\(port) LISTEN>, <unfinished ...>"), "\(text)")
        #expect(text.contains("<... accept resumed>{sa_family=AF_INET"), "\(text)")
        // Every call made is there: two clients' connect, read, write and close; the server's accepts and sends.
        for (call, count) in [("connect(", 2), ("sendto(", 2), ("recvfrom(", 2)] {
            #expect(text.components(separatedBy: call).count - 1 == count, "\(call)")
        }
    }

    @Test("a call written unfinished whose thread reaches its exit stop just after its return, while another process's calls run: no line of a call begun after that return comes before its resumed line (audit 57 M1)",
          .enabled(if: TestSupport.canObserveKernel && ProcessInfo.processInfo.activeProcessorCount > 1, "needs kernel sampling (the kernel's times of calls) and two CPUs"))
    func resumedBeforeLaterCalls() throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/resumed_race.py").path
        let output = TestSupport.temporaryFile("resumed-race")
        // 20 rounds: while the tracer looked for returns once a millisecond,
        // after letting the recorded calls go, 16-19 of them a run had their
        // resumed line after the writes begun after the return.
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "-o", output, "python3", program,
                                                                   "\(TestSupport.freshPort())", "\(TestSupport.freshPort())", "20"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        var resumed = 0, latest: (time: Double, line: String)?
        for line in lines {
            guard let time = times(line).first else { continue }
            if line.contains("<... recvfrom resumed>") {
                resumed += 1
                if let latest { #expect(latest.time <= time, "written before the resumed line, begun after it:\n\(latest.line)\n\(line)") }
            }
            if latest.map({ time > $0.time }) ?? true { latest = (time, line) }
        }
        // The child's recvfrom blocked over the hold limit in most rounds.
        #expect(resumed >= 10, "\(resumed) resumed lines")
    }

    @Test("a live trace writes a call blocked longer than the hold limit as unfinished while it waits, with kernel chains and without; then resumed (audit 87 F2: a server's accept not shown until it returned)")
    func blockedCallShownWhileItWaits() throws {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        for kernel in ["off"] + (TestSupport.canObserveKernel ? ["on"] : []) {
            let port = TestSupport.freshPort()
            // The timeline on standard error, as sockettrace writes it by default.
            let tracer = try ChildProcess(TestSupport.sockettrace, ["--kernel", kernel, server, "127.0.0.1", "\(port)", "1"])
            // Nothing connects yet: the accept's line comes while it waits.
            let shown = tracer.waitForError("<unfinished ...>", timeout: 10)
            let text = tracer.stderrSoFar()
            try TestSupport.run(client, ["127.0.0.1", "\(port)"])
            let result = try tracer.wait(timeout: 30)
            #expect(shown && text.split(separator: "\n").contains { $0.contains("accept(3<TCP 127.0.0.1:\(port) LISTEN>, <unfinished ...>") },
                    "\(kernel): \(text)")
            #expect(result.status == 0 && result.stderr.contains("<... accept resumed>"), "\(kernel): \(result.stderr)")
        }
    }

    @Test("-o /dev/stdout and -o /dev/stderr write the trace to those streams, as strace -o does (audit 87 F3: refused as symlinks)")
    func outputToStandardStreams() throws {
        let out = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", "/dev/stdout", "/bin/true"])
        #expect(out.status == 0 && out.stdout.contains("exec /bin/true") && !out.stderr.contains("exec /bin/true"), "\(out.stdout)\n\(out.stderr)")
        let err = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", "/dev/stderr", "/bin/true"])
        #expect(err.status == 0 && err.stderr.contains("exec /bin/true"), "\(err.stderr)")
        let bad = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", "/dev/fd/97", "/bin/true"])
        #expect(bad.status != 0 && bad.stderr.contains("Can't open '/dev/fd/97': Bad file descriptor"), "\(bad.stderr)")
        let none = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", "/dev/fd/1x", "/bin/true"])
        #expect(none.status != 0 && none.stderr.contains("Can't open '/dev/fd/1x': No such file or directory"), "\(none.stderr)")
    }

    @Test("a long command line is abbreviated as strace abbreviates execve's arguments (-s, 32 of them)")
    func longCommandLine() throws {
        let output = TestSupport.temporaryFile("argv")
        let long = String(repeating: "x", count: 10_000)
        let arguments = (0..<100).map { "\($0)" + long }
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-s", "40", "-o", output, "/bin/true"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let exec = try #require(text.split(separator: "\n").first { $0.contains("exec /bin/true") })
        #expect(exec.count < 2_000, "\(exec.count) characters")
        #expect(exec.contains(" 0" + String(repeating: "x", count: 39) + "... "), "-s 40: each argument cut at 40 characters")
        // /bin/true and 31 arguments, then the rest counted.
        #expect(exec.hasSuffix("... (69 more)"), "\(exec.suffix(60))")
    }
}
