import Foundation
import Testing
@testable import SocketTrace

/// The tracee is unharmed and nothing is lost: load, forks, signals from
/// outside, a tracer killed with SIGKILL.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct ReliabilityTests {
    func count(_ prefix: String, in text: String) -> Int {
        StraceComparison.normalize(text, port: 0).filter { $0.hasPrefix(prefix) }.count
    }

    @Test("500 connections in parallel to a fork-per-connection and a threaded server: every call traced, as many as strace sees",
          arguments: ["fork", "thread"])
    func parallelLoad(_ mode: String) throws {
        let server = try TestSupport.build("load_server.c")
        let client = try TestSupport.build("load_client.c")
        let connections = 500
        var counts: [String: [String: Int]] = [:]
        for tool in ["strace", "sockettrace"] where tool == "sockettrace" || TestSupport.hasStrace {
            let port = TestSupport.freshPort()
            let file = TestSupport.temporaryFile(tool)
            let script = "\(server) \(mode) 127.0.0.1 \(port) \(connections) & \(client) 127.0.0.1 \(port) \(connections); status=$?; wait; exit $status"
            let command = tool == "strace" ? "/usr/bin/strace" : TestSupport.sockettrace
            let arguments = (tool == "strace" ? [] : ["--format", "strace"]) + ["-f", "-e", "trace=accept,sendto,recvfrom,connect", "-o", file, "/bin/sh", "-c", script]
            let result = try TestSupport.run(command, arguments, timeout: 300)
            #expect(result.status == 0, "\(tool): \(result.stderr)")
            let lines = StraceComparison.normalize(try String(contentsOfFile: file, encoding: .utf8), port: port)
            // Completed calls only: how often a blocked accept is interrupted
            // (ERESTARTSYS, then restarted) depends on timing.
            let completed = { (name: String) in lines.filter { $0.hasPrefix(name + "(") && $0.wholeMatch(of: #/.* = \d+/#) != nil }.count }
            counts[tool] = ["accept": completed("accept"), "sendto": completed("sendto"), "recvfrom": completed("recvfrom"),
                            "connected": lines.filter { $0.hasPrefix("connect(") && $0.hasSuffix(" = 0") }.count]
        }
        for call in ["accept", "sendto", "recvfrom", "connected"] {
            #expect(counts["sockettrace"]?[call] == connections, "\(call): \(String(describing: counts["sockettrace"]?[call]))")
        }
        if let strace = counts["strace"] { #expect(strace == counts["sockettrace"]) }
    }

    @Test("a program that forks 200 children: outputs, statuses and every socket call unchanged")
    func manyChildren() throws {
        let program = try TestSupport.build("forker.c")
        let file = TestSupport.temporaryFile("forker")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-o", file, program, "200"], timeout: 120)
        #expect(result.status == 0)
        #expect(result.stdout == "forker: 200 children ok\n")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(count("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP)", in: text) == 200)
        #expect(count("+++ exited with", in: text) == 201)
    }

    @Test("SIGSTOP and SIGCONT from outside stop and resume the traced program")
    func stopAndContinue() throws {
        let program = try TestSupport.build("behaviours.c")
        let file = TestSupport.temporaryFile("stop")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--format", "strace", "-o", file, program, "loop"])
        #expect(tracer.waitForOutput("ready"))
        let children = try String(contentsOfFile: "/proc/\(tracer.pid)/task/\(tracer.pid)/children", encoding: .utf8)
        let target = try #require(Int32(children.split(separator: " ").first ?? ""))
        func state() -> String {
            let status = (try? String(contentsOfFile: "/proc/\(target)/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").first { $0.hasPrefix("State:") }.map(String.init) ?? ""
        }
        kill(target, SIGSTOP)
        var stopped = false
        for _ in 0..<100 where !stopped {
            usleep(20_000)
            stopped = state().contains("stopped") || state().contains("(tracing stop)")
        }
        #expect(stopped, "state: \(state())")
        let before = (try? String(contentsOfFile: file, encoding: .utf8))?.components(separatedBy: "sendto(").count ?? 0
        usleep(300_000)
        let during = (try? String(contentsOfFile: file, encoding: .utf8))?.components(separatedBy: "sendto(").count ?? 0
        #expect(during - before <= 1, "the program ran while stopped")
        kill(target, SIGCONT)
        usleep(300_000)
        kill(target, SIGTERM)
        let result = try tracer.wait(timeout: 30)
        #expect(result.status == 128 + SIGTERM)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("--- stopped by SIGSTOP ---"))
        #expect(text.contains("--- SIGCONT {si_signo=SIGCONT, si_code=SI_USER"))
        #expect(text.components(separatedBy: "sendto(").count > during + 3, "the program did not run on after SIGCONT")
    }

    @Test("SIGKILL of sockettrace: attached processes run on, untraced and not stopped")
    func killedTracerLeavesAttachedRunning() throws {
        let program = try TestSupport.build("behaviours.c")
        let target = try ChildProcess(program, ["loop"])
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("ready"))
        let tracer = try ChildProcess(TestSupport.sockettrace, ["-o", "/dev/null", "-p", String(target.pid)])
        #expect(TestSupport.awaitTraced(target.pid))
        kill(tracer.pid, SIGKILL)
        _ = try tracer.wait(timeout: 20)
        usleep(200_000)
        let status = try String(contentsOfFile: "/proc/\(target.pid)/status", encoding: .utf8)
        #expect(status.contains("TracerPid:\t0"))
        #expect(!status.contains("State:\tt") && !status.contains("State:\tT"))
        #expect(target.isRunning)
    }

    @Test("a run SIGKILLed after mounting its own tracefs leaves it mounted; the next run unmounts and removes it",
          .enabled(if: TestSupport.canObserveKernel, "needs root and kernel tracing"))
    func killedRunsTracefsIsCleanedUp() throws {
        // In a mount namespace of its own, so that other tests keep the machine's tracefs.
        let tracer = TestSupport.sockettrace
        let script = """
        # Every tracefs and debugfs this namespace inherited (other runs' private mounts too), innermost first.
        for m in $(awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/mounts | sort -r); do umount "$m"; done
        grep -q ' tracefs ' /proc/mounts && { echo 'tracefs still mounted'; exit 10; }
        \(tracer) --kernel on -o /dev/null /bin/sleep 30 & pid=$!
        mount=/run/sockettrace/tracefs.$pid
        for i in $(seq 300); do grep -q " $mount tracefs " /proc/mounts && break; sleep 0.05; done
        kill -9 $pid; wait $pid
        grep -q " $mount tracefs " /proc/mounts || { echo "the killed run left no mount at $mount"; exit 11; }
        \(tracer) --kernel on -o /dev/null /bin/true || exit 13
        grep -q ' tracefs ' /proc/mounts && { echo 'still mounted after the next run'; exit 14; }
        test -e "$mount" && { echo "$mount left"; exit 15; }
        echo clean
        """
        let result = try TestSupport.run("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script], timeout: 60)
        #expect(result.status == 0 && result.stdout.contains("clean"), "\(result.stdout) \(result.stderr)")
    }

    @Test("/proc/mounts read with its octal escapes undone")
    func mountPoints() {
        let text = "sysfs /sys sysfs rw 0 0\nnodev /run/sockettrace/tracefs.42 tracefs rw 0 0\nnone /a\\040b tmpfs rw 0 0\n"
        #expect(Tracefs.mountPoints(text) == [.init(path: "/sys", type: "sysfs"), .init(path: "/run/sockettrace/tracefs.42", type: "tracefs"),
                                              .init(path: "/a b", type: "tmpfs")])
        #expect(Tracefs.owner(ofPrivateMount: "/run/sockettrace/tracefs.42") == 42)
        #expect(Tracefs.owner(ofPrivateMount: "/sys/kernel/tracing") == nil)
    }

    @Test("-p of a process the user may not trace fails with the kernel's reason (EPERM), and the process runs on")
    func attachWithoutPermission() throws {
        let program = try TestSupport.build("behaviours.c")
        let target = try ChildProcess(program, ["loop"])
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("ready"))
        guard getuid() == 0 else {
            // Not root: any process of another user will do; the test needs root to make one.
            #expect(!TestSupport.underCI, "CI runs as root")
            return
        }
        // sockettrace as nobody against a process of root's.
        let result = try TestSupport.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                                              TestSupport.sockettrace, "--kernel", "off", "-p", String(target.pid)], timeout: 20)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("PTRACE_SEIZE, \(target.pid)") && result.stderr.contains("Operation not permitted"), "\(result.stderr)")
        #expect(target.isRunning)
        let status = try String(contentsOfFile: "/proc/\(target.pid)/status", encoding: .utf8)
        #expect(status.contains("TracerPid:\t0"))
    }
}
