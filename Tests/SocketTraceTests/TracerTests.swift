import Foundation
import Testing
@testable import SocketTrace

/// The tracer as a user meets it: exit statuses, signals, attach and detach,
/// bad input.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct TracerTests {
    func trace(_ arguments: [String], timeout: TimeInterval = 60) throws -> TestSupport.Output {
        try TestSupport.run(TestSupport.sockettrace, arguments, timeout: timeout)
    }

    @Test("the traced program's exit status becomes sockettrace's", arguments: [0, 3, 42])
    func exitStatus(_ code: Int) throws {
        let program = try TestSupport.build("behaviours.c")
        let result = try trace([program, "exit", String(code)])
        #expect(result.status == Int32(code))
        #expect(result.stderr.contains("+++ exited with \(code) +++"))
        #expect(result.stderr.contains("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3<UDP>"))
    }

    @Test("killed by a signal: 128 + N, and +++ killed by +++", arguments: [(15, "SIGTERM"), (9, "SIGKILL")])
    func killedBySignal(_ signal: Int, _ name: String) throws {
        let program = try TestSupport.build("behaviours.c")
        let result = try trace(["--format", "strace", program, "kill", String(signal)])
        #expect(result.status == Int32(128 + signal))
        #expect(result.stderr.contains("+++ killed by \(name) +++"))
    }

    @Test("a write to a closed peer: SIGPIPE kills the program as it would untraced (141), shown as strace shows it")
    func brokenPipe() throws {
        let program = try TestSupport.build("behaviours.c")
        let untraced = try TestSupport.run(program, ["pipe"])
        #expect(untraced.status == 128 + SIGPIPE)
        let result = try trace(["--format", "strace", program, "pipe"])
        #expect(result.status == 128 + SIGPIPE)
        #expect(result.stderr.contains(#/sendto\(4, "x", 1, 0, NULL, 0\) += -1 EPIPE \(Broken pipe\)/#), "\(result.stderr)")
        #expect(result.stderr.contains("--- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER"))
        #expect(result.stderr.contains("+++ killed by SIGPIPE +++"))
    }

    @Test("SIGINT to sockettrace reaches the launched program, as Ctrl-C would: it dies of it (130)")
    func interruptReachesProgram() throws {
        let program = try TestSupport.build("behaviours.c")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--kernel", "off", "--format", "strace", program, "loop"])
        #expect(tracer.waitForOutput("ready"))
        kill(tracer.pid, SIGINT)
        let result = try tracer.wait(timeout: 20)
        #expect(result.status == 128 + SIGINT, "\(result.stderr.suffix(500))")
        #expect(result.stderr.contains("+++ killed by SIGINT +++"))
    }

    @Test("signals reach the program, and are shown")
    func signalPassthrough() throws {
        let program = try TestSupport.build("behaviours.c")
        let result = try trace(["--format", "strace", program, "signal"])
        #expect(result.status == 0, "the handler did not run: \(result.stderr)")
        #expect(result.stderr.contains("--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_USER"))
        #expect(result.stderr.contains(#"sendto(3, "after signal", 12, 0"#))
    }

    @Test("the program's standard streams are its own")
    func standardStreams() throws {
        let program = try TestSupport.build("behaviours.c")
        let process = try ChildProcess(TestSupport.sockettrace, ["-o", "/dev/null", program, "echo"], stdinFromPipe: true)
        process.writeStdin("line one\nline two\n")
        process.closeStdin()
        let result = try process.wait()
        #expect(result.stdout == "line one\nline two\n")
        #expect(result.status == 0)
    }

    @Test("a missing program: one clear line and status 127")
    func missingProgram() throws {
        let result = try trace(["./no-such-program-here"])
        #expect(result.status == 127)
        #expect(result.stderr == "sockettrace: Can't stat './no-such-program-here': No such file or directory\n")
        let byName = try trace(["no-such-program-in-path"])
        #expect(byName.status == 127)
    }

    @Test("a file that is not executable: status 126")
    func notExecutable() throws {
        let path = TestSupport.temporaryFile("not-executable")
        _ = FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644])
        let result = try trace([path])
        #expect(result.status == 126)
        #expect(result.stderr.hasPrefix("sockettrace: Can't execute"))
    }

    @Test("bad options: a usage error, no trace")
    func badOptions() throws {
        #expect(try trace([]).status != 0)
        let unknownCall = try trace(["-e", "trace=openat", "/bin/true"])
        #expect(unknownCall.status == 2)
        #expect(unknownCall.stderr.contains("invalid system call 'openat'"))
        let noSuchPid = try trace(["-p", "999999999"])
        #expect(noSuchPid.status == 1)
        #expect(noSuchPid.stderr.contains("No such process"))
    }

    @Test("an unwritable output file is refused before anything runs")
    func unwritableOutput() throws {
        let result = try trace(["-o", "/nonexistent-dir/trace.txt", "/bin/true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Can't open '/nonexistent-dir/trace.txt'"))
    }

    @Test("-p attaches to a running process; SIGINT detaches and leaves it running")
    func attachAndDetach() throws {
        let program = try TestSupport.build("behaviours.c")
        let target = try ChildProcess(program, ["loop"])
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("ready"))
        let pid = target.pid

        let outputFile = TestSupport.temporaryFile("attach")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--format", "strace", "-o", outputFile, "-p", String(pid)])
        #expect(tracer.waitForError("Process \(pid) attached"))
        #expect(ChildProcess.poll(timeout: 20) { (try? String(contentsOfFile: outputFile, encoding: .utf8))?.contains("sendto(") == true })
        kill(tracer.pid, SIGINT)
        let result = try tracer.wait(timeout: 20)
        #expect(result.status == 0)
        let text = try String(contentsOfFile: outputFile, encoding: .utf8)
        #expect(text.contains(#"sendto(3, "tick", 4, 0, {sa_family=AF_INET, sin_port=htons(9)"#))
        let messages = result.stderr
        #expect(messages.contains("Process \(pid) attached"))
        #expect(messages.contains("Process \(pid) detached"))
        // Still alive, not stopped, and no longer traced.
        usleep(100_000)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("TracerPid:\t0"))
        #expect(!status.contains("State:\tt") && !status.contains("State:\tT"))
        #expect(target.isRunning)
    }

    @Test("launched programs die with the tracer (PTRACE_O_EXITKILL)")
    func exitKill() throws {
        let program = try TestSupport.build("behaviours.c")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["-o", "/dev/null", program, "loop"])
        #expect(tracer.waitForOutput("ready"))
        let children = try String(contentsOfFile: "/proc/\(tracer.pid)/task/\(tracer.pid)/children", encoding: .utf8)
        let child = Int32(children.split(separator: " ").first ?? "") ?? 0
        #expect(child > 0)
        kill(tracer.pid, SIGKILL)
        _ = try tracer.wait()
        var gone = false
        for _ in 0..<100 where !gone {
            usleep(20_000)
            gone = kill(child, 0) != 0 || (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.contains(") Z ") == true
        }
        #expect(gone, "the traced program outlived its tracer")
    }

    @Test("strace's habits: -tt -T -o FILE, and -c")
    func straceHabits() throws {
        let program = try TestSupport.build("behaviours.c")
        let file = TestSupport.temporaryFile("habits")
        let result = try trace(["--format", "strace", "-f", "-tt", "-T", "-o", file, "--", program, "exit", "0"])
        #expect(result.status == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("socket(") })
        #expect(line.wholeMatch(of: /\d+ +\d\d:\d\d:\d\d\.\d{6} socket\(AF_INET, SOCK_DGRAM, IPPROTO_IP\) = 3 <\d+\.\d{6}>/) != nil, "\(line)")
        let summary = try trace(["-c", program, "exit", "0"])
        #expect(summary.stderr.contains("% time     seconds  usecs/call     calls    errors syscall"))
        #expect(summary.stderr.contains(" socket\n"))
        #expect(summary.stderr.contains(" total\n"))
    }

    @Test("-c counts system time as strace -c does (a recv that waits 0.3 s costs no CPU), -w the wall clock")
    func summaryTimes() throws {
        let program = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/slow_recv.py").path
        func seconds(_ table: String, _ name: String) -> Double? {
            table.split(separator: "\n").first { $0.hasSuffix(" " + name) }.flatMap { Double($0.split(separator: " ")[1]) }
        }
        let system = try trace(["-f", "-c", "/usr/bin/python3", program])
        let wall = try trace(["-f", "-c", "-w", "/usr/bin/python3", program])
        #expect(system.status == 0 && wall.status == 0)
        let systemRecv = try #require(seconds(system.stderr, "recvfrom"), "\(system.stderr)")
        let wallRecv = try #require(seconds(wall.stderr, "recvfrom"), "\(wall.stderr)")
        #expect(systemRecv < 0.05, "201 recvfrom: \(systemRecv) s of CPU")
        #expect(wallRecv >= 0.29, "one of them waited 0.3 s: \(wallRecv) s")
        if TestSupport.hasStrace {
            // strace -c on the same program: the same kind of figure (its rusage is coarser).
            let file = TestSupport.temporaryFile("strace-c")
            _ = try TestSupport.run("/usr/bin/strace", ["-f", "-c", "-o", file, "/usr/bin/python3", program])
            let theirs = try #require(seconds(try String(contentsOfFile: file, encoding: .utf8), "recvfrom"))
            #expect(theirs < 0.05)
        }
    }

    @Test("--version says sockettrace's version and trace format; a program's own --version is the program's")
    func version() throws {
        let own = try TestSupport.run(TestSupport.sockettrace, ["--version"])
        #expect(own.status == 0)
        #expect(own.stdout.hasPrefix("sockettrace ") && own.stdout.contains("(trace format \(TraceHeader.currentVersion))"), "\(own.stdout)")
        let program = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "-o", "/dev/null", "/bin/echo", "--version"])
        #expect(program.status == 0 && program.stdout.contains("coreutils"), "\(program.stdout)")
    }

    @Test("-yy shows sockets as strace does")
    func decoratedDescriptors() throws {
        let port = TestSupport.freshPort()
        let script = try TestSupport.serverAndClientScript(port: port)
        let result = try trace(["--format", "strace", "-yy", "-e", "trace=%net", "/bin/sh", "-c", script])
        #expect(result.status == 0)
        let lines = StraceComparison.normalize(result.stderr, port: port)
        #expect(lines.contains("listen(3<TCP:[127.0.0.1:\(port)]>, 5) = 0"))
        let accept = "accept(3<TCP:[127.0.0.1:\(port)]>, {sa_family=AF_INET, sin_port=htons(EPHEMERAL), sin_addr=inet_addr(\"127.0.0.1\")}, [16]) = 4<TCP:[127.0.0.1:\(port)->127.0.0.1:"
        #expect(lines.contains { $0.hasPrefix(accept) }, "\(lines)")
    }
}
