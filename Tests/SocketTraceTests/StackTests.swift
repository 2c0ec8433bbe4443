import Foundation
import Testing
@testable import SocketTrace

/// User stacks at each call (-k, -kk), unwound with libdwfl.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct StackTests {
    /// The line of `source` (under examples/) that contains `text`.
    func line(of text: String, in source: String) throws -> Int {
        let path = TestSupport.packageRoot.appendingPathComponent("examples").appendingPathComponent(source).path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains(text) }) + 1
    }

    @Test("-kk: the server's send is called from handle_client, called from main, with file:line")
    func serverStack() throws {
        let port = TestSupport.freshPort()
        let file = TestSupport.temporaryFile("stack") + ".jsonl"
        let script = try TestSupport.serverAndClientScript(port: port)
        let result = try TestSupport.run(TestSupport.sockettrace, ["-kk", "--kernel", "off", "--format", "jsonl", "-o", file, "/bin/sh", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let calls = try TraceFileReader(path: file).records.compactMap { record -> SyscallInvocation? in
            if case let .syscall(call) = record { return call }
            return nil
        }
        let send = try #require(calls.first { $0.syscall == .sendto })
        let stack = try #require(send.userStack)
        let functions = stack.compactMap(\.function)
        let handler = try #require(functions.firstIndex(of: "handle_client"), "\(functions)")
        let main = try #require(functions.firstIndex(of: "main"))
        #expect(handler < main)
        #expect(stack[handler].file?.hasSuffix("server.c") == true)
        #expect(stack[handler].line == (try line(of: "if (send(fd, greeting", in: "server.c")))
        #expect(stack[main].line == (try line(of: "handle_client(fd);", in: "server.c")))
        #expect(stack[handler].module.hasSuffix("/server"))
    }

    @Test("-k: the same frames as strace -k for the program's own functions and the libc wrapper")
    func againstStrace() throws {
        guard TestSupport.hasStrace else { return }
        let client = try TestSupport.build("behaviours.c")
        let straceFile = TestSupport.temporaryFile("strace"), oursFile = TestSupport.temporaryFile("ours")
        _ = try TestSupport.run("/usr/bin/strace", ["-k", "-e", "trace=sendto", "-o", straceFile, client, "signal"])
        _ = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-k", "-e", "trace=sendto", "-o", oursFile, client, "signal"])
        // libc's start-up frames can be named by either of two overlapping
        // symbols at a function's end; the wrapper and the program's frames cannot.
        let relevant = { (text: String) -> [String] in
            text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(" > ") && ($0.contains(client) || $0.contains("(sendto+")) }
        }
        let strace = relevant(try String(contentsOfFile: straceFile, encoding: .utf8))
        let ours = relevant(try String(contentsOfFile: oursFile, encoding: .utf8))
        #expect(strace.count >= 2)
        #expect(ours == strace)
    }

    /// gdb's `bt` frames: (function, file's last component, line).
    func gdbFrames(_ text: String) -> [(function: String, file: String?, line: Int?)] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("#") else { return nil }
            var rest = Substring(line.drop { $0 != " " }).drop { $0 == " " }
            if rest.hasPrefix("0x"), let range = rest.range(of: " in ") { rest = rest[range.upperBound...] }
            let function = String(rest.prefix { $0 != " " })
            guard let at = rest.range(of: ") at ", options: .backwards) else { return (function, nil, nil) }
            let location = rest[at.upperBound...].split(separator: ":")
            return (function, location.first.map { String($0.split(separator: "/").last ?? $0) }, location.last.flatMap { Int($0) })
        }
    }

    @Test("-kk: the server's stack at send has gdb's frames, files and lines (bt at `catch syscall sendto`)")
    func againstGdb() throws {
        guard TestSupport.underCI || TestSupport.commandExists("gdb") else { return }
        let server = try TestSupport.build("server.c", directory: "examples")
        let client = try TestSupport.build("client.c", directory: "examples")
        let port = String(TestSupport.freshPort())
        let gdb = try ChildProcess("/usr/bin/gdb", ["-batch", "-nx", "-ex", "set startup-with-shell off", "-ex", "set follow-fork-mode child",
                                                    "-ex", "catch syscall sendto", "-ex", "run", "-ex", "bt", "-ex", "kill",
                                                    "--args", server, "127.0.0.1", port, "1"])
        // The client retries its connect for a second; gdb may take longer to start the server.
        for _ in 0..<10 where (try TestSupport.run(client, ["127.0.0.1", port], timeout: 20)).stderr.contains("not reachable") {}
        let expected = gdbFrames(try gdb.wait(timeout: 60).stdout)
        #expect(expected.map(\.function).suffix(2) == ["handle_client", "main"], "\(expected)")

        let file = TestSupport.temporaryFile("stack-gdb") + ".jsonl"
        let other = String(TestSupport.freshPort())
        _ = try TestSupport.run(TestSupport.sockettrace, ["-kk", "--kernel", "off", "-e", "trace=sendto", "--format", "jsonl", "-o", file, "/bin/sh", "-c",
                                                          "\(server) 127.0.0.1 \(other) 1 >/dev/null & \(client) 127.0.0.1 \(other) >/dev/null; wait"])
        let send = try #require(try TraceFileReader(path: file).records.compactMap { record -> SyscallInvocation? in
            if case let .syscall(call) = record, call.syscall == .sendto { return call }
            return nil
        }.first)
        let stack = try #require(send.userStack)
        // gdb stops its backtrace at main; the frames up to there are the same.
        #expect(stack.count >= expected.count)
        for (ours, theirs) in zip(stack, expected) {
            if theirs.function == "handle_client" || theirs.function == "main" {
                #expect(ours.function == theirs.function)
            }
            // libc's wrapper has several names (send, __send, __libc_send); its place is what must agree.
            if let line = theirs.line {
                #expect(ours.line == line, "\(ours.shortText) vs \(theirs)")
                #expect(ours.file.map { String($0.split(separator: "/").last ?? "") } == theirs.file)
            }
        }
    }

    /// Keeps what the tracer reports, in memory.
    final class Collector: TraceSink {
        var calls: [SyscallInvocation] = []
        func handle(_ event: TraceEvent) {
            if case let .syscallExited(call) = event { calls.append(call) }
        }
        func flush() {}
        func finish() {}
    }

    @Test("-k reads a process's mappings once, and again only after it mapped memory")
    func mapsReadOnlyAfterMapping() throws {
        let program = try TestSupport.build("behaviours.c")
        var configuration = TracerConfiguration()
        configuration.stackTraces = .functions
        configuration.selection = try SyscallSelection.parse("trace=sendto")
        let collector = Collector()
        let tracer = Tracer(configuration: configuration, sink: collector)
        try tracer.launch([program, "maps"])
        let status = try tracer.run()
        #expect(status == .exited(0))
        #expect(collector.calls.count == 4)
        #expect(collector.calls.allSatisfy { $0.userStack?.contains { $0.function == "main" } == true })
        #expect(tracer.unwinder?.mapsReads == 2)
    }
}
