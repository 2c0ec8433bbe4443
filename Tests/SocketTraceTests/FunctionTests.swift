import Foundation
import Testing
@testable import SocketTrace

/// `--functions`: breakpoints on the program's own functions.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct FunctionTests {
    func records(_ path: String) throws -> [TraceRecord] {
        try TraceFileReader(path: path).records
    }

    func functionEvents(_ records: [TraceRecord]) -> [FunctionEvent] {
        records.compactMap { if case let .function(event) = $0 { return event } else { return nil } }
    }

    /// Attaches `sockettrace --functions PATTERN -p` to a running target for
    /// `seconds`, then detaches with SIGINT; returns the trace file.
    func traceAttached(_ target: ChildProcess, functions pattern: String, seconds: Double, timeout: TimeInterval) throws -> String {
        let file = TestSupport.temporaryFile("attach-functions") + ".jsonl"
        let tracer = try ChildProcess(TestSupport.sockettrace, ["--kernel", "off", "--functions", pattern, "--format", "jsonl",
                                                                "-o", file, "-p", String(target.pid)])
        #expect(TestSupport.awaitTraced(target.pid))
        usleep(UInt32(seconds * 1_000_000))
        kill(tracer.pid, SIGINT)
        let result = try tracer.wait(timeout: timeout)
        #expect(result.status == 0, "\(result.stderr)")
        return file
    }

    /// The code bytes of `program`'s functions matching `patterns`, in the
    /// memory of process `pid`, are the program file's; returns how many were checked.
    @discardableResult
    func expectOriginalCode(_ program: String, pid: Int32, patterns: [String]) throws -> Int {
        let functions = try ProgramFunctions.load(path: program, patterns: patterns)
        let bias = try #require(functions.loadBias(pid: pid))
        let memory = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/mem"))
        let binary = try Data(contentsOf: URL(fileURLWithPath: program))
        for function in functions.functions {
            let offset = try #require(functions.fileOffset(of: function.address))
            try memory.seek(toOffset: function.address + bias)
            let live = try #require(try memory.read(upToCount: Int(function.size)))
            #expect(live == binary.subdata(in: Int(offset)..<Int(offset + function.size)), "\(function.name)")
        }
        return functions.functions.count
    }

    @Test("recursion, four threads and a fork: every entry has its exit at the right depth; output and status unchanged")
    func recursionThreadsAndFork() throws {
        let program = try TestSupport.build("functions.c")
        let plain = try TestSupport.run(program, [])
        #expect(plain.status == 7)
        let file = TestSupport.temporaryFile("functions") + ".jsonl"
        let traced = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--functions", "factorial,worker,greet,main",
                                                                   "--format", "jsonl", "-o", file, program])
        #expect(traced.status == 7, "\(traced.stderr)")
        #expect(traced.stdout == plain.stdout)

        let events = functionEvents(try records(file))
        var stacks: [Int32: [String]] = [:]
        let parent = try #require(events.first).pid
        for event in events {
            // The forked child starts inside its copy of main's frame.
            var stack = stacks[event.tid] ?? (event.pid == parent ? [] : ["main"])
            switch event.kind {
            case .entry:
                #expect(event.depth == stack.count, "\(event)")
                stack.append(event.function)
            case .exit:
                #expect(stack.last == event.function, "\(event) with \(stack)")
                #expect(event.unwound != true, "\(event)")
                if !stack.isEmpty { stack.removeLast() }
                #expect(event.depth == stack.count, "\(event)")
            }
            stacks[event.tid] = stack
        }
        let unfinished = stacks.filter { !$0.value.isEmpty }
        #expect(unfinished.isEmpty, "\(unfinished)")

        let entries = events.filter { $0.kind == .entry }
        // factorial(6) in main, 4 threads × 50 × factorial(5), factorial(4) in the child.
        #expect(entries.filter { $0.function == "factorial" }.count == 6 + 4 * 50 * 5 + 4)
        #expect(entries.filter { $0.function == "worker" }.count == 4)
        #expect(Set(entries.filter { $0.function == "worker" }.map(\.tid)).count == 4)
        #expect(Set(entries.filter { $0.function == "main" }.map(\.pid)).count == 1)
        let greet = try #require(entries.first { $0.function == "greet" })
        #expect(greet.arguments == [.init(name: "who", value: "\"functions\""), .init(name: "times", value: "2")])
        // The outermost factorial(6): called from main at depth 1, returns 720.
        let outer = try #require(entries.first { $0.function == "factorial" })
        #expect(outer.arguments == [.init(name: "n", value: "6")] && outer.depth == 1)
        let innermost = entries.filter { $0.function == "factorial" && $0.tid == outer.tid && $0.pid == outer.pid }.prefix(6).last
        #expect(innermost?.arguments == [.init(name: "n", value: "1")] && innermost?.depth == 6)
        let exits = events.filter { $0.kind == .exit && $0.function == "factorial" && $0.depth == 1 && $0.pid == outer.pid && $0.tid == outer.pid }
        #expect(exits.first?.returnValue == "720")
        // The child returns from main (its copy of main's frame) with 0; the parent with 7.
        let mainExits = events.filter { $0.kind == .exit && $0.function == "main" }
        #expect(Set(mainExits.compactMap(\.returnValue)) == ["0", "7"])
        let childFactorials = entries.filter { $0.function == "factorial" && $0.pid != outer.pid }
        #expect(childFactorials.map(\.depth) == [1, 2, 3, 4])
    }

    @Test("-p with --functions: calls seen while attached; after detach the code is the file's again and the program runs on")
    func attachAndDetach() throws {
        let program = try TestSupport.build("functions.c")
        let target = try ChildProcess(program, ["loop"])
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("tick 3"))
        let file = try traceAttached(target, functions: "tick", seconds: 0.6, timeout: 20)

        let events = functionEvents(try records(file))
        let entries = events.filter { $0.kind == .entry && $0.function == "tick" }
        let exits = events.filter { $0.kind == .exit && $0.function == "tick" }
        #expect(entries.count >= 10, "\(events.count) events")
        #expect(exits.count >= entries.count - 1)
        // tick(i) returns i + 1, which the next call receives.
        for (exit, next) in zip(exits, entries.dropFirst()) {
            #expect(exit.returnValue == next.arguments?.first?.value)
        }

        // The code bytes of every function are the program file's again.
        #expect(try expectOriginalCode(program, pid: target.pid, patterns: ["*"]) >= 4)
        // It runs on: more ticks, no SIGTRAP, not traced.
        let before = target.outputSoFar.components(separatedBy: "tick ").count
        usleep(300_000)
        #expect(target.isRunning)
        #expect(target.outputSoFar.components(separatedBy: "tick ").count > before + 5)
        let status = try String(contentsOfFile: "/proc/\(target.pid)/status", encoding: .utf8)
        #expect(status.contains("TracerPid:\t0"))
    }

    @Test("the server's chain from its own functions through the syscall to the device")
    func userToDeviceChain() throws {
        let port = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("chain") + ".jsonl"
        let script = try TestSupport.serverAndClientScript(port: port)
        let kernel = TestSupport.canObserveKernel ? "on" : "off"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--functions", "main,handle_client", "--kernel", kernel,
                                                                   "--save", file, "-o", "/dev/null", "/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let calls = try records(file).compactMap { record -> SyscallInvocation? in
            if case let .syscall(call) = record { return call }
            return nil
        }
        let send = try #require(calls.first { $0.syscall == .sendto })
        #expect(send.functions == ["main", "handle_client"])
        let accept = try #require(calls.first { $0.syscall == .accept })
        #expect(accept.functions == ["main"])
        if TestSupport.canObserveKernel {
            let chain = try #require(send.kernel?.alignments.first { $0.operation == "tcp_send" && $0.observed.last == "__dev_queue_xmit" })
            #expect(chain.observed.contains("tcp_sendmsg"))
            // The text timeline reads it as one chain.
            let text = try TestSupport.run(TestSupport.sockettrace, ["report", file])
            #expect(text.stdout.contains("main → handle_client → sendto → __x64_sys_sendto → __sys_sendto"), "\(text.stdout)")
        }
    }

    @Test("a program without matching functions: said once, traced as usual")
    func noMatch() throws {
        let program = try TestSupport.build("functions.c")
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--functions", "no_such_function_*", "-o", "/dev/null", program])
        #expect(result.status == 7)
        #expect(result.stderr.contains("no function of the traced programs matches"), "\(result.stderr)")
    }

    /// The Perfetto slices of one thread that enclose the first `name` slice.
    func enclosing(_ name: String, in events: [[String: Any]]) throws -> [String] {
        let slices = events.filter { $0["ph"] as? String == "X" }
        let call = try #require(slices.first { $0["name"] as? String == name && $0["cat"] as? String == "syscall" })
        let (ts, end, tid) = (call["ts"] as! Double, call["ts"] as! Double + (call["dur"] as! Double), call["tid"] as! Int)
        return slices.filter {
            $0["tid"] as? Int == tid && ($0["ts"] as! Double) < ts && ($0["ts"] as! Double) + ($0["dur"] as! Double) > end
        }.sorted { ($0["ts"] as! Double) < ($1["ts"] as! Double) }.compactMap { $0["name"] as? String }
    }

    @Test("Perfetto: functions (--functions) and stack frames (-k) are parent slices of the calls made in them; HTML shows them")
    func perfettoParents() throws {
        for options in [["--functions", "main,handle_client"], ["-k"]] {
            let port = TestSupport.freshPort()
            let file = TestSupport.temporaryFile("parents") + ".jsonl"
            let script = try TestSupport.serverAndClientScript(port: port)
            let traced = try TestSupport.run(TestSupport.sockettrace, options + ["--kernel", "off", "--format", "jsonl", "-o", file, "/bin/sh", "-c", script])
            #expect(traced.status == 0, "\(traced.stderr)")
            let exported = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "perfetto", file])
            let document = try #require(try JSONSerialization.jsonObject(with: Data(exported.stdout.utf8)) as? [String: Any])
            #expect(ExportTests.checkPerfetto(document) == [], "\(options)")
            let events = try #require(document["traceEvents"] as? [[String: Any]])
            let parents = try enclosing("sendto", in: events)
            #expect(Array(parents.prefix(2)) == ["main", "handle_client"], "\(options): \(parents)")
            let html = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "html", file]).stdout
            #expect(html.contains("in main → handle_client → "), "\(options)")
        }
    }

    @Test("-p --functions on four threads calling a function flat out: every return right, then detach leaves them running with the original code")
    func attachThreadsAndDetach() throws {
        let program = try TestSupport.build("functions.c")
        let target = try ChildProcess(program, ["spin"])
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("spinning"))
        let file = try traceAttached(target, functions: "twice", seconds: 0.7, timeout: 30)
        var open: [Int32: String] = [:]
        var returned = 0
        for case let .function(event) in try records(file) {
            if event.kind == .entry {
                open[event.tid] = event.arguments?.first?.value
            } else if let argument = open.removeValue(forKey: event.tid).flatMap({ Int($0) }) {
                #expect(event.returnValue == String(2 * argument + 1), "\(event)")
                returned += 1
            }
        }
        #expect(returned > 100)
        usleep(300_000)
        #expect(target.isRunning, "the threads ran into a breakpoint left behind")
        #expect(try expectOriginalCode(program, pid: target.pid, patterns: ["twice", "spin"]) == 2)
    }
}
