import Foundation
import Testing
@testable import SocketTrace

/// The trace file: round trips, and what a damaged file does.
@Suite(.serialized, .enabled(if: TestSupport.canTrace, "needs ptrace"))
struct TraceFileTests {
    func script(port: Int) throws -> [String] {
        return ["/bin/sh", "-c", try TestSupport.serverAndClientScript(port: port)]
    }

    @Test("trace → file → report reproduces the live text output")
    func textRoundTrip() throws {
        let live = TestSupport.temporaryFile("live")
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let kernel = TestSupport.canObserveKernel ? "on" : "off"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", kernel, "-o", live, "--save", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0, "\(result.stderr)")
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", saved])
        #expect(report.status == 0)
        let liveText = try String(contentsOfFile: live, encoding: .utf8)
        #expect(liveText.contains("accept(3<TCP 127.0.0.1:"))
        #expect(report.stdout == liveText)
    }

    @Test("report --format strace reproduces the live strace lines")
    func straceRoundTrip() throws {
        let live = TestSupport.temporaryFile("live")
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--format", "strace", "-f", "-o", live, "--save", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0)
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "strace", saved])
        #expect(report.stdout == (try String(contentsOfFile: live, encoding: .utf8)))
    }

    func savedTrace() throws -> String {
        let saved = TestSupport.temporaryFile("saved") + ".jsonl"
        let result = try TestSupport.run(TestSupport.sockettrace, ["--kernel", "off", "--format", "jsonl", "-o", saved] + script(port: TestSupport.freshPort()))
        #expect(result.status == 0)
        return saved
    }

    @Test("a trace cut mid-line: every complete record, then where it stopped")
    func truncated() throws {
        let saved = try savedTrace()
        var data = try Data(contentsOf: URL(fileURLWithPath: saved))
        let lines = data.split(separator: UInt8(ascii: "\n")).count
        data.removeLast(40)
        try data.write(to: URL(fileURLWithPath: saved))
        let report = try TestSupport.run(TestSupport.sockettrace, ["report", "--format", "jsonl", saved])
        #expect(report.status == 1)
        #expect(report.stderr == "sockettrace: \(saved):\(lines): the trace ends in the middle of a record; the \(lines - 1) complete records before it were used\n")
        // Every complete record is written out again (the cut one was the end
        // record), with a new end record of its own.
        #expect(report.stdout.split(separator: "\n").count == lines)
        #expect(report.stdout.hasSuffix("\"type\":\"end\"}\n"))
    }

    @Test("a corrupt line, a future version, an empty file: one line naming the problem")
    func damaged() throws {
        let saved = try savedTrace()
        var lines = try String(contentsOfFile: saved, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[3] = "{\"type\":\"syscall\",\"pid\":"
        let corrupt = TestSupport.temporaryFile("corrupt")
        try lines.joined(separator: "\n").write(toFile: corrupt, atomically: true, encoding: .utf8)
        let bad = try TestSupport.run(TestSupport.sockettrace, ["report", corrupt])
        #expect(bad.status == 1)
        #expect(bad.stderr.hasPrefix("sockettrace: \(corrupt):4: not a valid trace record"))

        lines = try String(contentsOfFile: saved, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[0] = lines[0].replacingOccurrences(of: "\"version\":\"\(TraceHeader.currentVersion)\"", with: "\"version\":\"2.0\"")
        let future = TestSupport.temporaryFile("future")
        try lines.joined(separator: "\n").write(toFile: future, atomically: true, encoding: .utf8)
        let newer = try TestSupport.run(TestSupport.sockettrace, ["report", future])
        #expect(newer.status == 1)
        #expect(newer.stderr == "sockettrace: \(future):1: trace format version 2.0 is newer than this sockettrace reads (1.x)\n")

        let empty = TestSupport.temporaryFile("empty")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let none = try TestSupport.run(TestSupport.sockettrace, ["report", empty])
        #expect(none.status == 1)
        #expect(none.stderr == "sockettrace: \(empty): is empty: not a sockettrace trace\n")
    }

    @Test("compare pairs the client's connect with the server's accept, with bytes both ways")
    func connectionPairing() throws {
        let saved = try savedTrace()
        let result = try TestSupport.run(TestSupport.sockettrace, ["compare", "--json", saved])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let connections = try #require(json["connections"] as? [[String: Any]])
        #expect(connections.count == 1)
        let connection = try #require(connections.first)
        #expect((connection["server"] as? String)?.hasPrefix("127.0.0.1:") == true)
        #expect(connection["sent_by_client"] as? Int == 18)
        #expect(connection["received_by_server"] as? Int == 18)
        #expect(connection["sent_by_server"] as? Int == 14)
        #expect(connection["received_by_client"] as? Int == 14)
        let handshake = try #require(connection["handshake"] as? Double)
        #expect(handshake > 0 && handshake < 5)
        #expect(connection["client_pid"] as? Int != connection["server_pid"] as? Int)
    }

    @Test("--no-data: no payload byte reaches the trace file")
    func noData() throws {
        let port = TestSupport.freshPort()
        let saved = TestSupport.temporaryFile("nodata") + ".jsonl"
        let script = try TestSupport.serverAndClientScript(port: port)
        let result = try TestSupport.run(TestSupport.sockettrace, ["--no-data", "--kernel", "off", "--format", "jsonl", "-o", saved, "/bin/sh", "-c", script])
        #expect(result.status == 0)
        let text = try String(contentsOfFile: saved, encoding: .utf8)
        #expect(!text.contains("hello from client") && !text.contains("Hello, world"))
        #expect(text.contains("\"write(3<TCP"))
    }

    @Test("the trace file is not world-readable and is not written through a planted symlink")
    func safeOutputFile() throws {
        let saved = try savedTrace()
        let attributes = try FileManager.default.attributesOfItem(atPath: saved)
        #expect((attributes[.posixPermissions] as? Int ?? 0o777) & 0o077 == 0)
        let target = TestSupport.temporaryFile("target")
        let link = TestSupport.temporaryFile("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let result = try TestSupport.run(TestSupport.sockettrace, ["-o", link, "/bin/true"])
        #expect(result.status == 1)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("the trace file ends with its connections: both ends' pids, handshake and bytes each way")
    func connectionRecords() throws {
        let records = try TraceFileReader(path: try savedTrace()).records
        let connections = records.compactMap { record -> Connection? in
            if case let .connection(connection) = record { return connection }
            return nil
        }
        let connection = try #require(connections.first)
        #expect(connections.count == 1)
        #expect(connection.clientPid != nil && connection.serverPid != nil && connection.clientPid != connection.serverPid)
        #expect((connection.handshake ?? 0) > 0)
        #expect(connection.sentByClient == 18 && connection.receivedByServer == 18)
        #expect(connection.sentByServer == 14 && connection.receivedByClient == 14)
        // Written after the calls, before the end record.
        guard case .end? = records.last, case .connection? = records.dropLast().last else {
            Issue.record("connection records are not just before the end record")
            return
        }
    }
}
