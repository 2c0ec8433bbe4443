import Foundation
import Testing

/// Real programs nobody here wrote (python's asyncio and http.server, node,
/// curl, socat), traced by strace 6.1 and by `sockettrace --format strace`
/// with the same `-f -e trace=%net`, compared line by line after the usual
/// masking (pointers, pids, ports). What varies from run to run is compared
/// by what must be equal: process lines (how often a shell loop polled)
/// are left out where a script polls, and where a reader's chunks follow
/// timing (curl), each read's data and size are masked, not its call.
@Suite(.serialized, .enabled(if: TestSupport.canTrace && TestSupport.hasStrace, "needs ptrace and strace 6.1"))
struct CorpusDifferentialTests {
    static let corpus = TestSupport.packageRoot.appendingPathComponent("Tests/Programs/corpus").path

    struct Masks: OptionSet {
        let rawValue: Int
        /// Drop `+++ exited`, `--- SIGCHLD` and other process lines.
        static let processLines = Masks(rawValue: 1)
        /// Mask what a read returned (`recvfrom(5, "…"…, 102400, …) = 520`
        /// → `recvfrom(5, DATA) = N`), and how many reads it took.
        static let readSizes = Masks(rawValue: 2)
        /// Mask every byte string (a payload carrying a pid).
        static let payloads = Masks(rawValue: 4)
        /// Drop `EAGAIN` lines: how often a non-blocking socket was polled.
        static let retries = Masks(rawValue: 8)
    }

    /// A quoted byte string as strace writes it, with its `...` when cut.
    nonisolated(unsafe) static let byteString = try! Regex(#""(?:[^"\\]|\\.)*"(?:\.\.\.)?"#)

    static func masked(_ lines: [String], _ masks: Masks) -> [String] {
        var seenReads: Set<String> = []
        return lines.compactMap { line in
            if masks.contains(.processLines) && (line.hasPrefix("+++ ") || line.hasPrefix("--- ")) { return nil }
            if masks.contains(.retries) && line.hasSuffix("EAGAIN (Resource temporarily unavailable)") { return nil }
            var text = line
            if masks.contains(.payloads) { text.replace(Self.byteString, with: "DATA") }
            if masks.contains(.readSizes), let match = text.firstMatch(of: /^(recvfrom|recv|read|recvmsg)\((\d+), .*\) = (\d+)$/) {
                text = "\(match.output.1)(\(match.output.2), DATA) = N"
                guard seenReads.insert(text).inserted else { return nil }
            }
            return text
        }.sorted()
    }

    /// Traces `command` under both tools; returns how many lines were compared and their difference.
    func compare(_ command: [String], port: Int, masks: Masks = []) throws -> (lines: Int, difference: String?) {
        let straceFile = TestSupport.temporaryFile("corpus-strace"), oursFile = TestSupport.temporaryFile("corpus-ours")
        let strace = try TestSupport.run("/usr/bin/strace", ["-f", "-e", "trace=%net", "-o", straceFile] + command, timeout: 120)
        #expect(strace.status == 0, "strace: \(strace.stderr)")
        let ours = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-f", "-e", "trace=%net", "-o", oursFile] + command, timeout: 120)
        #expect(ours.status == 0, "sockettrace: \(ours.stderr)")
        let expected = Self.masked(StraceComparison.normalize(try String(contentsOfFile: straceFile, encoding: .utf8), port: port), masks)
        let actual = Self.masked(StraceComparison.normalize(try String(contentsOfFile: oursFile, encoding: .utf8), port: port), masks)
        return (expected.count, StraceComparison.difference(expected, actual))
    }

    @Test("python asyncio echo, 3 clients in one process")
    func asyncio() throws {
        let port = TestSupport.freshPort()
        let (lines, difference) = try compare(["/usr/bin/python3", "\(Self.corpus)/echo_asyncio.py", "\(port)", "3"], port: port)
        #expect(lines > 40)
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test("node echo, 3 clients: libuv's accept4, non-blocking connects", .enabled(if: TestSupport.underCI || TestSupport.commandExists("node")))
    func node() throws {
        let port = TestSupport.freshPort()
        let (lines, difference) = try compare(["node", "\(Self.corpus)/echo_node.js", "\(port)", "3"], port: port)
        #expect(lines > 20)
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test("python http.server and two curl requests", .enabled(if: TestSupport.underCI || TestSupport.commandExists("curl")))
    func httpServerAndCurl() throws {
        let port = TestSupport.freshPort()
        let (lines, difference) = try compare(["/bin/sh", "\(Self.corpus)/http_curl.sh", "\(port)"], port: port,
                                              masks: [.processLines, .readSizes])
        #expect(lines > 50)
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test("socat forking an echo per connection, python clients", .enabled(if: TestSupport.underCI || TestSupport.commandExists("socat")))
    func socat() throws {
        let port = TestSupport.freshPort()
        let hexPort = String(format: "%04X", port)
        let script = """
            socat TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork PIPE & server=$!
            until grep -q ':\(hexPort) 00000000:0000 0A' /proc/net/tcp; do sleep 0.02; done
            /usr/bin/python3 \(Self.corpus)/echo_clients.py \(port) 3
            kill $server; wait $server; exit 0
            """
        // socat's processes tell each other their pids over a socket, without blocking.
        let (lines, difference) = try compare(["/bin/sh", "-c", script], port: port, masks: [.processLines, .payloads, .retries])
        #expect(lines > 30)
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test("-k on curl: every frame named as strace -k names it (libc's own symbol table, not its debug symbols)",
          .enabled(if: TestSupport.underCI || TestSupport.commandExists("curl")))
    func stacksOfCurl() throws {
        let port = TestSupport.freshPort()
        let hexPort = String(format: "%04X", port)
        func frames(_ tool: [String]) throws -> [String] {
            let file = TestSupport.temporaryFile("curl-k")
            let script = """
                cd /tmp && /usr/bin/python3 -m http.server \(port) --bind 127.0.0.1 >/dev/null 2>&1 & server=$!
                until grep -q ':\(hexPort) 00000000:0000 0A' /proc/net/tcp; do sleep 0.02; done
                \(tool.joined(separator: " ")) -f -k -e trace=%net -o \(file) curl -s -o /dev/null http://127.0.0.1:\(port)/
                kill $server; wait $server; exit 0
                """
            let result = try TestSupport.run("/bin/sh", ["-c", script], timeout: 120)
            #expect(result.status == 0, "\(result.stderr)")
            return try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix(" > ") }.map(String.init)
        }
        let theirs = try frames(["/usr/bin/strace"])
        let ours = try frames([TestSupport.sockettrace, "--format", "strace"])
        #expect(theirs.count > 100)
        // How many reads curl makes follows timing: the distinct frames must be the same.
        let onlyTheirs = Set(theirs).subtracting(ours), onlyOurs = Set(ours).subtracting(theirs)
        #expect(onlyTheirs.isEmpty && onlyOurs.isEmpty, "strace only: \(onlyTheirs.sorted().prefix(5)); ours only: \(onlyOurs.sorted().prefix(5))")
    }

    @Test("attached to a python program that then starts threads and a thread pool: every line names its thread")
    func threadsAfterAttach() throws {
        let target = try ChildProcess("/usr/bin/python3", ["\(Self.corpus)/threads_after_attach.py"], stdinFromPipe: true)
        defer { kill(target.pid, SIGKILL); _ = try? target.wait() }
        #expect(target.waitForOutput("ready"))
        let output = TestSupport.temporaryFile("threads-attach")
        let tracer = try ChildProcess(TestSupport.sockettrace, ["-f", "--kernel", "off", "-o", output, "-p", String(target.pid)])
        #expect(TestSupport.awaitTraced(target.pid))
        target.writeStdin("go\n")
        let result = try tracer.wait(timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.contains("?[") }, "\(lines.filter { $0.contains("?[") }.prefix(5))")
        // 4 threads, and 1 to 3 pool workers (an idle worker takes the next task instead of a new one).
        #expect(lines.filter { $0.contains("thread started") }.count >= 5)
        #expect(lines.filter { $0.contains("sendto(") && $0.contains("/") }.count == 4, "each thread's datagram, on a labelled thread")
        #expect(lines.filter { $0.contains("connect(") }.count >= 3)
    }
}
