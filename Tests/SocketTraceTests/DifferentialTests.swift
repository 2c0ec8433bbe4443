import Foundation
import Testing

/// The same program traced by strace 6.1 and by `sockettrace --format
/// strace`: after normalisation the lines must be the same.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.hasStrace, "needs ptrace and strace"))
struct DifferentialTests {
    /// Runs `program` under both tracers with `-f -e SELECTION -o FILE` and
    /// returns both normalised line lists.
    func traceBoth(_ program: String, _ arguments: [String], port: Int, selection: String = "trace=%net",
                   extra: [String] = []) throws -> (strace: [String], ours: [String]) {
        let straceFile = TestSupport.temporaryFile("strace")
        let oursFile = TestSupport.temporaryFile("ours")
        let s = try TestSupport.run("/usr/bin/strace", ["-f", "-e", selection] + extra + ["-o", straceFile, program] + arguments)
        #expect(s.status == 0, "strace: \(s.stderr)")
        let o = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-f", "-e", selection] + extra + ["-o", oursFile, program] + arguments)
        #expect(o.status == 0, "sockettrace: \(o.stderr)")
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
}
