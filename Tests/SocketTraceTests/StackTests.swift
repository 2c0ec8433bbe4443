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
}
