import Foundation
import Testing
@testable import SocketTrace

/// The same program traced by strace 6.1 and by `sockettrace --format
/// strace`: after normalisation the lines must be the same.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.hasStrace, "needs ptrace and strace"))
struct DifferentialTests {
    /// Runs `program` under both tracers with `-f -e SELECTION -o FILE` and
    /// returns both normalised line lists.
    func traceBoth(_ program: String, _ arguments: [String], port: Int, selection: String = "trace=%net",
                   extra: [String] = [], oursExtra: [String] = [], status: Int32 = 0) throws -> (strace: [String], ours: [String]) {
        let straceFile = TestSupport.temporaryFile("strace")
        let oursFile = TestSupport.temporaryFile("ours")
        let s = try TestSupport.run("/usr/bin/strace", ["-f", "-e", selection] + extra + ["-o", straceFile, program] + arguments)
        #expect(s.status == status, "strace: \(s.stderr)")
        let o = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-f", "-e", selection] + extra + oursExtra + ["-o", oursFile, program] + arguments)
        #expect(o.status == status, "sockettrace: \(o.stderr)")
        let straceText = try String(contentsOfFile: straceFile, encoding: .utf8)
        let oursText = try String(contentsOfFile: oursFile, encoding: .utf8)
        return (StraceComparison.normalize(straceText, port: port), StraceComparison.normalize(oursText, port: port))
    }

    @Test("every decoder on a 64-bit program, success and failure paths")
    func decoders64() throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port)
        #expect(strace.count > 60)
        #expect(StraceComparison.difference(strace, ours) == nil)
        for errno in ["ECONNREFUSED", "EADDRINUSE", "EINVAL", "EBADF", "EAGAIN", "ENOTCONN", "EAFNOSUPPORT"] {
            #expect(ours.contains { $0.contains(errno) }, "no \(errno) line")
        }
    }

    @Test("siginfo by si_code as strace shows it: SI_QUEUE with its value, SI_TIMER with the timer, SI_USER")
    func siginfoByCode() throws {
        let program = try TestSupport.build("siginfo.c")
        let (strace, ours) = try traceBoth(program, [], port: 0)
        #expect(strace.filter { $0.hasPrefix("--- ") }.count == 4)
        #expect(strace.contains { $0.contains("si_code=SI_TIMER, si_timerid=0, si_overrun=0, si_int=0, si_ptr=NULL") })
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("a trace file's plain text (report --format strace), decoded after each thread was let run, is strace's for every decoder")
    func traceFilePlainText() throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let straceFile = TestSupport.temporaryFile("strace")
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let s = try TestSupport.run("/usr/bin/strace", ["-f", "-e", "trace=%net", "-o", straceFile, program, String(port)])
        #expect(s.status == 0, "strace: \(s.stderr)")
        let o = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--format", "jsonl", "-f", "-e", "trace=%net", "-o", saved, program, String(port)])
        #expect(o.status == 0, "sockettrace: \(o.stderr)")
        // The trace file's own text is decorated (descriptors with their sockets); its plain text is strace's.
        #expect(try String(contentsOfFile: saved, encoding: .utf8).contains("<TCP"))
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "strace", saved])
        #expect(report.status == 0, "report: \(report.stderr)")
        let strace = StraceComparison.normalize(try String(contentsOfFile: straceFile, encoding: .utf8), port: port)
        let ours = StraceComparison.normalize(report.stdout, port: port)
        #expect(strace.count > 60)
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("report --format strace writes the live file's pid leaders: with -f on every line, without it only while two processes live (audit 25 F5)")
    func reportLeadersAsLive() throws {
        let script = TestSupport.temporaryFile("leaders") + ".py"
        try """
            import os, socket
            socket.socket().close()
            pid = os.fork()
            if pid == 0:
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close(); os._exit(0)
            os.waitpid(pid, 0)
            socket.socket(socket.AF_UNIX).close()
            """.write(toFile: script, atomically: true, encoding: .utf8)
        for follow in [[], ["-f"]] {
            let live = TestSupport.temporaryFile("leaders-live")
            let saved = TestSupport.temporaryFile("leaders") + ".jsonl"
            let o = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--format", "strace", "-e", "trace=socket"] + follow
                + ["-o", live, "--save", saved, "/usr/bin/python3", script])
            #expect(o.status == 0, "sockettrace: \(o.stderr)")
            let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "strace", saved])
            let liveText = try String(contentsOfFile: live, encoding: .utf8)
            let lines = liveText.split(separator: "\n")
            let prefixed = lines.filter { $0.first?.isNumber == true }
            #expect(lines.count >= 4, "\(liveText)")
            // strace -f -o: every line; without -f, the child's and the parent's while the child lives.
            #expect(follow.isEmpty ? !prefixed.isEmpty && prefixed.count < lines.count : prefixed.count == lines.count, "\(liveText)")
            #expect(report.stdout == liveText, "live:\n\(liveText)\nreport:\n\(report.stdout)")
        }
    }

    @Test("every decoder on a 32-bit program (i386 syscall numbers and layouts)", .enabled(if: TestSupport.canBuild32))
    func decoders32() throws {
        let program = try TestSupport.build("decoders.c", bits32: true)
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port)
        #expect(strace.count > 60)
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("-yy: descriptors decorated as strace decorates them (TCP, UDP, UNIX peers and paths, files)")
    func decoratedDescriptors() throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port, extra: ["-yy"])
        // Inodes, ephemeral ports and temporary names differ between runs.
        let scrub = { (lines: [String]) -> [String] in
            lines.map { line -> String in
                var text = line
                text.replace(#/:\[\d+(->\d+)?(?=[\],])/#) { match in match.output.1 == nil ? ":[INODE" : ":[INODE->INODE" }
                text.replace(#/(\d+\.\d+\.\d+\.\d+|\]):(3[2-9]\d{3}|[4-6]\d{4})/#) { match in "\(match.output.1):EPHEMERAL" }
                text.replace(#/sendfile-\w+/#, with: "sendfile-X")
                return text
            }.sorted()
        }
        #expect(ours.contains { $0.hasPrefix("listen(3<TCP:[127.0.0.1:\(port)]>, 8)") })
        #expect(ours.contains { $0.contains("UNIX-STREAM:[") && $0.contains("->") })
        #expect(StraceComparison.difference(scrub(strace), scrub(ours)) == nil)
    }

    @Test("descriptor calls by name: read, write, readv, writev, close, dup*, fcntl, sendfile, splice")
    func descriptorCalls() throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port,
                                           selection: "trace=read,write,readv,writev,close,dup,dup2,dup3,fcntl,sendfile,splice")
        #expect(ours.contains { $0.hasPrefix("fcntl(4, F_SETFL, O_RDONLY|O_NONBLOCK)") })
        #expect(ours.contains { $0.hasPrefix("splice(") })
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("the UDP example pair")
    func udpPair() throws {
        let server = try TestSupport.build("udp_server.c", directory: "examples")
        let client = try TestSupport.build("udp_client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let script = "\(server) 127.0.0.1 \(port) 1 & \(client) 127.0.0.1 \(port) >/dev/null; wait"
        let (strace, ours) = try traceBoth("/bin/sh", ["-c", script], port: port)
        #expect(ours.contains { $0.hasPrefix("recvfrom(3, \"ping\", 1500, 0, {sa_family=AF_INET") })
        // The client resends until the server is up; early tries fail with
        // ECONNREFUSED or time out with EAGAIN depending on timing.
        let stable = { (lines: [String]) in
            Set(lines.filter { !$0.hasPrefix("--- SIGCHLD") && !$0.contains("ECONNREFUSED") && !$0.contains("EAGAIN") })
        }
        #expect(stable(strace) == stable(ours))
    }

    @Test("the socketcall multiplexer decoded into its sub-calls", .enabled(if: TestSupport.canBuild32))
    func socketcall() throws {
        let program = try TestSupport.build("socketcall32.c", bits32: true)
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port)
        #expect(ours.contains { $0.hasPrefix("send(") } && ours.contains { $0.hasPrefix("recv(") })
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("payload options -s and -x, -xx", arguments: [["-s", "5"], ["-x"], ["-xx"], ["-s", "0"]])
    func stringOptions(_ options: [String]) throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port, extra: options)
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("the seeds' forking server with two clients")
    func forkingServer() throws {
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let script = "\(server) 127.0.0.1 \(port) 2 & \(client) 127.0.0.1 \(port) >/dev/null; \(client) 127.0.0.1 \(port) >/dev/null; wait"
        let (strace, ours) = try traceBoth("/bin/sh", ["-c", script], port: port)
        #expect(ours.filter { $0.hasPrefix("accept(") }.count == 2)
        #expect(ours.contains { $0.hasPrefix("sendto(") && $0.contains("Hello, world!") })
        // The client's connect retries, and how many SIGCHLDs the shell gets
        // (they coalesce), depend on timing; every other line is equal.
        let stable = { (lines: [String]) in lines.filter { !$0.contains("ECONNREFUSED") && !$0.hasPrefix("--- SIGCHLD") } }
        let withoutRetries = { (lines: [String]) in stable(lines).filter { !$0.hasPrefix("socket(") } }
        #expect(StraceComparison.difference(withoutRetries(strace), withoutRetries(ours)) == nil)
    }

    @Test("a threaded server: calls from several threads")
    func threadedServer() throws {
        let server = try TestSupport.build("threaded_server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = TestSupport.freshPort()
        let script = "\(server) 127.0.0.1 \(port) 3 & for i in 1 2 3; do \(client) 127.0.0.1 \(port) >/dev/null & done; wait"
        let (strace, ours) = try traceBoth("/bin/sh", ["-c", script], port: port)
        #expect(ours.filter { $0.hasPrefix("accept4(") }.count == 3)
        // Which connection gets which descriptor number depends on timing.
        let stable = { (lines: [String]) in
            lines.filter { !$0.contains("ECONNREFUSED") && !$0.hasPrefix("socket(") && !$0.hasPrefix("--- SIGCHLD") }.map { line -> String in
                var text = line
                text.replace(#/^(\w+)\(\d+, /#) { match in "\(match.output.1)(FD, " }
                text.replace(#/ = \d+$/#, with: " = N")
                return text
            }.sorted()
        }
        #expect(StraceComparison.difference(stable(strace), stable(ours)) == nil)
    }

    @Test("a blocked recv interrupted by signals: restarted after an SA_RESTART handler, EINTR without; as strace shows it")
    func restartedReceive() throws {
        let program = try TestSupport.build("behaviours.c")
        let (strace, ours) = try traceBoth(program, ["restart"], port: 0)
        #expect(StraceComparison.difference(strace, ours) == nil)
        #expect(ours.filter { $0.hasSuffix("= ? ERESTARTSYS (To be restarted if SA_RESTART is set)") }.count == 2)
        // In order on the receiving process: interrupted, signal, restarted and done; interrupted, signal.
        let file = TestSupport.temporaryFile("restart")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-e", "trace=recvfrom", "--no-follow", "-o", file, program, "restart"])
        #expect(result.status == 0, "the program saw its recv restarted, then EINTR")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let marks = lines.compactMap { line -> String? in
            if line.contains("ERESTARTSYS") { return "restart" }
            if line.hasPrefix("--- SIGUSR1") { return "USR1" }
            if line.hasPrefix("--- SIGUSR2") { return "USR2" }
            if line.hasPrefix("recvfrom(") && line.hasSuffix("= 1") { return "got 1" }
            return nil
        }
        #expect(marks == ["restart", "USR1", "got 1", "restart", "USR2"], "\(lines)")
    }

    @Test("with kernel chains on, sends take their result from the kernel's exit records: every decoder's line still as strace's",
          .enabled(if: TestSupport.canObserveKernel, "needs root, kallsyms and tracefs"))
    func resultsFromExitRecords() throws {
        let program = try TestSupport.build("decoders.c")
        let port = TestSupport.freshPort()
        let (strace, ours) = try traceBoth(program, [String(port)], port: port, oursExtra: ["--kernel", "on"])
        #expect(strace.count > 60)
        #expect(ours.contains { $0.hasPrefix("sendto(12345, ") && $0.hasSuffix("= -1 EBADF (Bad file descriptor)") })
        #expect(StraceComparison.difference(strace, ours) == nil)
    }

    @Test("with kernel chains on, a write blocked when a signal comes: ERESTARTSYS from the kernel's exit record, the signal, the restarted write; as strace shows it",
          .enabled(if: TestSupport.canObserveKernel, "needs root, kallsyms and tracefs"))
    func restartedWriteFromExitRecords() throws {
        let program = try TestSupport.build("behaviours.c")
        let (strace, ours) = try traceBoth(program, ["send-restart"], port: 0, selection: "trace=write", oursExtra: ["--kernel", "on"])
        #expect(StraceComparison.difference(strace, ours) == nil)
        // In order (the comparison sorts lines).
        let file = TestSupport.temporaryFile("send-restart")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "strace", "-e", "trace=write", "-o", file, program, "send-restart"])
        #expect(result.status == 0, "the program's write was restarted and wrote its byte")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let marks = lines.compactMap { line -> String? in
            if line.hasPrefix("write(") && line.hasSuffix("= ? ERESTARTSYS (To be restarted if SA_RESTART is set)") { return "restart" }
            if line.hasPrefix("--- SIGALRM") { return "ALRM" }
            if line.hasPrefix("write(") && line.hasSuffix("= 1") { return "wrote 1" }
            return nil
        }
        #expect(marks == ["restart", "ALRM", "wrote 1"], "\(lines)")
    }

    @Test("exec of a new image mid-trace: same pid, sockets kept across it stay sockets, close-on-exec ones are gone; as strace shows it")
    func execKeepsAndClosesSockets() throws {
        let program = try TestSupport.build("behaviours.c")
        let (strace, ours) = try traceBoth(program, ["exec"], port: 0, status: 5)
        #expect(StraceComparison.difference(strace, ours) == nil)
        let output = TestSupport.temporaryFile("exec")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", output, program, "exec"])
        #expect(result.status == 5, "the new image saw its sockets as expected")
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let exec = try #require(lines.firstIndex { $0.contains(" exec \(program) after-exec ") }, "\(text)")
        let after = lines[exec...]
        #expect(after.contains { $0.contains("getsockname(3<UDP>, {sa_family=AF_INET") && $0.contains(") = 0") }, "\(text)")
        #expect(after.contains { $0.wholeMatch(of: #/.*getsockname\(\d+, 0x[0-9a-f]+, \[16\]\) += -1 EBADF .*/#) != nil }, "\(text)")
        // One process throughout.
        let pids = Set(lines.compactMap { $0.firstMatch(of: #/\[(\d+)\]/#).map { String($0.output.1) } })
        #expect(pids.count == 1, "\(pids)")
    }

    @Test("with kernel chains on, reads and writes on sockets run without a stop, recorded by the kernel: every line as strace's (-yy), none for a pipe",
          .enabled(if: TestSupport.canObserveKernel, "needs root, kallsyms and BPF"))
    func dataCallsRecordedByKernel() throws {
        let program = try TestSupport.build("data_calls.c")
        let straceFile = TestSupport.temporaryFile("strace")
        let saved = TestSupport.temporaryFile("data-calls") + ".jsonl"
        let s = try TestSupport.run("/usr/bin/strace", ["-f", "-yy", "-e", "trace=read,write", "-o", straceFile, program])
        #expect(s.status == 0, "strace: \(s.stderr)")
        let o = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "jsonl", "-yy", "-o", saved, program])
        #expect(o.status == 0, "sockettrace: \(o.stderr)")
        let line = { (call: SyscallInvocation) in call.entryText + call.exitText + ") = " + call.returnText }
        var calls: [SyscallInvocation] = []
        for record in try TraceFileReader(path: saved).records {
            if case let .syscall(call) = record, call.syscall == .read || call.syscall == .write { calls.append(call) }
        }
        // Every one recorded by the kernel, none stopped at; in each thread, one after another.
        #expect(calls.count > 300 && calls.allSatisfy(\.recordedByKernel), "\(calls.filter { !$0.recordedByKernel }.map(line))")
        for (_, thread) in Dictionary(grouping: calls, by: \.tid) {
            for (one, next) in zip(thread, thread.dropFirst()) {
                #expect(one.entryTime <= (one.exitTime ?? one.entryTime) && (one.exitTime ?? one.entryTime) <= next.entryTime, "\(line(one)) / \(line(next))")
            }
        }
        // strace's lines on sockets (its pipe's, the loader's and the netlink
        // dump's, whose bytes hold the pid, left out), with descriptor numbers,
        // inodes and ports as the run made them.
        let stable = { (lines: [String]) in
            lines.filter { $0.contains("<TCP:") || $0.contains("<UDP:") || $0.contains("<UNIX-STREAM:") || $0.hasPrefix("write(") && $0.contains("<NETLINK:") }
                .map { line -> String in
                    var text = line
                    text.replace(#/^(\w+)\(\d+</#) { match in "\(match.output.1)(FD<" }
                    text.replace(#/\[\d+->\d+\]/#, with: "[INODE->INODE]")
                    text.replace(#/NETLINK:\[[^\]]*\]/#, with: "NETLINK")
                    text.replace(#/127\.0\.0\.1:\d+/#, with: "127.0.0.1:PORT")
                    return text
                }.sorted()
        }
        let strace = stable(StraceComparison.normalize(try String(contentsOfFile: straceFile, encoding: .utf8), port: 0))
        let ours = stable(calls.map { StraceComparison.scrub(line($0), port: 0) })
        #expect(strace.count > 300)
        #expect(StraceComparison.difference(strace, ours) == nil)
        // The netlink dump read whole (more than -s: its messages are decoded from the bytes the kernel copied).
        #expect(calls.contains { $0.syscall == .read && line($0).contains("NETLINK") && line($0).hasSuffix(", 1024) = \($0.result?.value ?? -1)") && ($0.result?.value ?? 0) > 32 })
    }

    @Test("with kernel chains on, reads the kernel records: one interrupted and restarted (ERESTARTSYS, then the signal), one killed inside (SIGKILL, exit_group): as strace shows them",
          arguments: ["read-restart", "killed-in-read"])
    func recordedReadsInterrupted(_ mode: String) throws {
        try #require(TestSupport.canObserveKernel)
        let program = try TestSupport.build("behaviours.c")
        let straceFile = TestSupport.temporaryFile("strace"), oursFile = TestSupport.temporaryFile("ours")
        let s = try TestSupport.run("/usr/bin/strace", ["-f", "-yy", "-e", "trace=read,write", "-o", straceFile, program, mode])
        #expect(s.status == 0, "strace: \(s.stderr)")
        let o = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "on", "--format", "strace", "-yy", "-o", oursFile, program, mode])
        #expect(o.status == 0, "sockettrace: \(o.stderr)")
        let stable = { (lines: [String]) in
            lines.filter { ($0.hasPrefix("read(") || $0.hasPrefix("write(")) && $0.contains("<UNIX-STREAM:") || $0.hasPrefix("--- SIG") || $0.hasPrefix("+++") }.map { line -> String in
                var text = line
                text.replace(#/\[\d+->\d+\]/#, with: "[INODE->INODE]")
                return text
            }.sorted()
        }
        let strace = stable(StraceComparison.normalize(try String(contentsOfFile: straceFile, encoding: .utf8), port: 0))
        let oursText = try String(contentsOfFile: oursFile, encoding: .utf8)
        let ours = stable(StraceComparison.normalize(oursText, port: 0))
        #expect(StraceComparison.difference(strace, ours) == nil)
        if mode == "killed-in-read" {
            // Neither read returned: both unfinished, neither said to be restarted.
            #expect(ours.filter { $0.hasSuffix("<unfinished ...>) = ?") }.count == 2, "\(ours)")
            #expect(!oursText.contains("ERESTART"))
        } else {
            // In order on the reading process: interrupted, its signal, restarted and done; interrupted, its signal.
            let marks = oursText.split(separator: "\n").compactMap { line -> String? in
                if line.contains("read(") && line.contains("ERESTARTSYS") { return "restart" }
                if line.contains("--- SIGUSR1") { return "USR1" }
                if line.contains("--- SIGUSR2") { return "USR2" }
                if line.contains("read resumed>\"x\", 1)") || line.contains("read(") && line.hasSuffix("\"x\", 1) = 1") { return "got 1" }
                return nil
            }
            #expect(marks == ["restart", "USR1", "got 1", "restart", "USR2"], "\(oursText)")
        }
    }
}
