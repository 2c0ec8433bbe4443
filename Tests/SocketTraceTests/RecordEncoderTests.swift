import Foundation
import Testing
@testable import SocketTrace

/// The direct JSON writer must produce what the Codable form produces, so
/// that the reader (Codable) reads back every field.
struct RecordEncoderTests {
    static func sampleCall() -> SyscallInvocation {
        var call = SyscallInvocation(pid: 41, tid: 42, architecture: .x86_64, syscall: .sendto,
                                     arguments: [4, 0x7ffd_1234, 14, 0x4000, 0, 0], entryTime: MonotonicTime(nanoseconds: 1_000))
        call.wallClock = WallClock(seconds: 1_795_283_224, microseconds: 5)
        // Format 1.15: a call the kernel recorded, without a stop.
        call.recordedBy = "kernel"
        call.entryText = "sendto(4<TCP 127.0.0.1:1->127.0.0.1:2>, \"tab\\there \\\"q\\\"\\n\u{1}\", 14, MSG_NOSIGNAL, NULL, 0"
        call.exitTime = MonotonicTime(nanoseconds: 9_000)
        call.result = SyscallResult(rval: -32, isError: true)
        call.returnText = "-1 EPIPE (Broken pipe)"
        call.exitText = "é😀\u{7f}/"
        call.functions = ["main", "handle_client"]
        call.saved = [-1, 16]
        call.plainText = PlainText(entryText: "sendto(4, …", exitText: "", returnText: "-1 EPIPE (Broken pipe)")
        let socket = SocketInfo(family: 2, type: 1, protocolNumber: 6, local: .inet(address: "127.0.0.1", port: 1),
                                peer: .inet6(address: "::1", port: 2), state: .connected)
        call.socket = SocketSnapshot(fd: 4, socket: socket)
        var libc = UserFrame(module: "/lib/libc.so.6", function: "sendto", offset: 19, moduleOffset: 0x10acb3, file: nil, line: nil)
        libc.exportedName = "__sendto"
        libc.exportedOffset = 19
        call.userStack = [libc,
                          UserFrame(module: "/srv/server", function: "main", offset: 3, moduleOffset: 0x13c3, file: "server.c", line: 57)]
        var sample = KernelSample(tracepoint: "skb:kfree_skb", role: .event, pid: 41, tid: 42, time: MonotonicTime(nanoseconds: 5_000), cpu: 1,
                                  chain: ["kfree_skb", "__sys_sendto"],
                                  fields: ["len": .number(-3), "name": .string("lo\"x"), "saddr": .bytes([127, 0, 0, 1]), "reason": .symbol("NO_SOCKET", 3),
                                           // A field's name is escaped (the format's own keys are copied as they are).
                                           "odd\"name": .number(1)])
        sample.flow = PacketFlow(owner: .peer, evidence: "skb 0x100 queued by sendto of 7 on 127.0.0.1:1 → 127.0.0.1:2")
        // --vmlinux (format 1.6): source lines, and the functions DWARF inlines at each frame.
        sample.sources = ["net/core/skbuff.c:770", "net/socket.c:2153"]
        sample.inlined = [[InlinedCall(function: "kfree_skb_reason", site: "include/linux/skbuff.h:1218")], []]
        let alignment = ChainAlignment(operation: "tcp_send", steps: [.init(function: "__sys_sendto", layer: .syscall, status: .matched),
                                                                      .init(function: "sock_sendmsg", layer: .socket, status: .tailCall,
                                                                            evidence: "__sys_sendto+0x234: call sock_sendmsg; sock_sendmsg+0x4: jmp inet_sendmsg")],
                                       extraFrames: ["hook"], observed: ["__sys_sendto", "hook"])
        call.kernel = KernelActivity(operation: "tcp_send", source: .observed, expected: ["__sys_sendto", "sock_sendmsg"],
                                     samples: [sample], alignments: [alignment])
        call.kernel?.functionGraph = FunctionGraph(calls: [.init(function: "__x64_sys_sendto", depth: 0, time: MonotonicTime(nanoseconds: 2_000), duration: 6_000),
                                                           .init(function: "__sys_sendto", depth: 1, time: MonotonicTime(nanoseconds: 3_000), duration: nil)],
                                                   maxDepth: 20, omitted: 2, lost: true)
        return call
    }

    func json(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test("direct and Codable encodings of a syscall record are the same JSON", arguments: ["syscall", "syscall_entry"])
    func sameAsCodable(_ type: String) throws {
        let call = Self.sampleCall()
        let record: TraceRecord = type == "syscall" ? .syscall(call) : .syscallEntry(call)
        var direct = RecordEncoder()
        let written = direct.record(record)
        #expect(written)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let codable = String(decoding: try encoder.encode(record), as: UTF8.self)
        #expect(try json(direct.text) == (try json(codable)))
        // And the reader takes it back.
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let back = try decoder.decode(TraceRecord.self, from: Data(direct.text.utf8))
        guard case let .syscall(read) = back, type == "syscall" else { return }
        #expect(read.entryText == call.entryText)
        #expect(read.kernel?.samples.first?.fields["reason"] == .symbol("NO_SOCKET", 3))
        #expect(read.userStack == call.userStack)
        #expect(read.kernel?.functionGraph == call.kernel?.functionGraph)
        #expect(read.socket == call.socket)
    }

    @Test("a kernel event record")
    func kernelEvent() throws {
        let sample = try #require(Self.sampleCall().kernel?.samples.first)
        var direct = RecordEncoder()
        let written = direct.record(.kernelEvent(sample))
        #expect(written)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        #expect(try json(direct.text) == (try json(String(decoding: try encoder.encode(TraceRecord.kernelEvent(sample)), as: UTF8.self))))
    }
    @Test("the fast reader reads a syscall record exactly as Codable does", arguments: ["syscall", "syscall_entry", "syscall_abandoned"])
    func fastReaderSameAsCodable(_ type: String) throws {
        let call = Self.sampleCall()
        let record: TraceRecord = type == "syscall" ? .syscall(call) : type == "syscall_entry" ? .syscallEntry(call) : .syscallAbandoned(call)
        var direct = RecordEncoder()
        let written = direct.record(record)
        #expect(written)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[ChainTable.key] = ChainTable()
        decoder.userInfo[AlignmentTable.key] = AlignmentTable()
        let slow = try decoder.decode(TraceRecord.self, from: Data(direct.text.utf8))
        let bytes = Array(direct.text.utf8)
        let fast = try #require(bytes.withUnsafeBufferPointer { RecordDecoder(kernelDecoder: decoder).decode($0) })
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        #expect(String(decoding: try encoder.encode(fast), as: UTF8.self) == String(decoding: try encoder.encode(slow), as: UTF8.self))
    }

    func scan(_ text: String) -> JSONValue? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            return try? scanner.parseDocument()
        }
    }

    @Test("the JSON scanner: exact 64-bit integers, escapes and surrogate pairs; bad text refused")
    func scanner() throws {
        let text = #"{"a":18446744073709551615,"b":-9223372036854775808,"c":1.5e3,"d":"x\"\\\/\n\u00e9\ud83d\ude00","e":[true,false,null,{}],"f":[]}"#
        let value = try #require(scan(text))
        #expect(value["a"]?.uint64 == UInt64.max)
        #expect(value["b"]?.int64 == Int64.min)
        if case let .double(number)? = value["c"] { #expect(number == 1500) } else { Issue.record("c is not a number") }
        #expect(value["d"]?.string == "x\"\\/\né😀")
        #expect(value["e"]?.array?.count == 4)
        for bad in [#"{"a":}"#, #"{"a":1"#, #"{"a":"x}"#, #"[1,]"#, #"{"a":1} x"#, #""\u12""#, "{\"a\":\"\u{1}\"}"] {
            let parsed = scan(bad)
            #expect(parsed == nil, "\(bad)")
        }
    }

    @Test("a call with no operation writes \"expected\":[] and no empty chain record (audit 8: \"frames\":[]); both readers take it back")
    func noOperation() throws {
        var call = Self.sampleCall()
        call.kernel = KernelActivity(operation: nil, source: .expected, expected: [], samples: [], alignments: [])
        let path = TestSupport.temporaryFile("no-operation") + ".jsonl"
        let writer = TraceFileWriter(output: try TraceOutput.create(path: path),
                                     header: TraceHeader(command: ["x"], kernelObservation: "observed", note: nil))
        writer.handle(.syscallExited(call))
        writer.finish()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("\"frames\":[]") && text.contains("\"expected\":[]"), "\(text)")
        let read = try TraceFileReader(path: path).records.compactMap { record -> SyscallInvocation? in
            if case let .syscall(call) = record { return call }
            return nil
        }
        #expect(read.count == 1 && read.first?.kernel?.expected == [] && read.first?.kernel?.operation == nil)
    }
}

/// Format 1.16: a call's `syscall_entry` is left out when its `syscall`
/// record comes next; one with anything between, or a flush, keeps it.
struct EntryLeftOutTests {
    static func call(_ tid: Int32, entry: UInt64) -> SyscallInvocation {
        var call = SyscallInvocation(pid: tid, tid: tid, architecture: .x86_64, syscall: .write, arguments: [5, 0, 1, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: entry))
        call.entryText = "write(5, \"x\", 1"
        call.exitTime = MonotonicTime(nanoseconds: entry + 500)
        call.result = SyscallResult(rval: 1, isError: false)
        call.returnText = "1"
        return call
    }

    func types(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary)?["type"] as? String
        }.filter { $0 != "header" && $0 != "end" }
    }

    func written(leavingOut: Bool, _ events: (TraceFileWriter) -> Void) -> String {
        let output = TraceOutput.capturing()
        let writer = TraceFileWriter(output: output, header: TraceHeader(command: ["t"], kernelObservation: "off", note: nil))
        writer.leavesOutEntriesEndedNext = leavingOut
        events(writer)
        writer.finish()
        return output.captured
    }

    @Test("an entry its end follows is left out; overlapping calls and a flush keep theirs; report's rewrite keeps every entry")
    func leftOut() {
        let a = Self.call(10, entry: 1_000), b = Self.call(11, entry: 1_200), c = Self.call(10, entry: 5_000), d = Self.call(11, entry: 3_000)
        let events = { (writer: TraceFileWriter) in
            writer.handle(.syscallEntered(a))
            writer.handle(.syscallEntered(b))   // between a's entry and end: a's entry stays
            writer.handle(.syscallExited(a))    // between b's entry and end: b's stays
            writer.handle(.syscallExited(b))
            writer.handle(.syscallEntered(d))
            writer.handle(.syscallExited(d))    // d's end came next: d's entry is left out
            writer.handle(.syscallEntered(c))
            writer.flush()                      // the tracer waits: c may block, its entry is written
            writer.handle(.syscallExited(c))
        }
        #expect(types(written(leavingOut: true, events)) == ["syscall_entry", "syscall_entry", "syscall", "syscall", "syscall", "syscall_entry", "syscall"])
        #expect(types(written(leavingOut: false, events))
                == ["syscall_entry", "syscall_entry", "syscall", "syscall", "syscall_entry", "syscall", "syscall_entry", "syscall"])
    }

    @Test("strace's lines for a call whose entry was left out: the whole line, as from its entry")
    func straceLine() {
        let output = TraceOutput.capturing()
        var options = StraceWriter.Options()
        options.writingToFile = true
        let writer = StraceWriter(output: output, diagnostics: TraceOutput.capturing(), options: options)
        writer.handle(.syscallExited(Self.call(10, entry: 1_000)))
        writer.handle(.syscallEntered(Self.call(10, entry: 2_000)))
        writer.handle(.syscallExited(Self.call(10, entry: 2_000)))
        output.flush()
        let line = "write(5, \"x\", 1)" + String(repeating: " ", count: 24) + "= 1\n"
        #expect(output.captured == line + line, "\(output.captured)")
    }
}
