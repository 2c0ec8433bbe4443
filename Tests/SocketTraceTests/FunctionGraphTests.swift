import Foundation
import Testing
@testable import SocketTrace

/// `--function-graph`: the function_graph tracer's lines, the graphs built
/// from them, their rendering, and the option where the kernel lacks it.
struct FunctionGraphTests {
    /// Captured from trace_pipe on Debian's 6.1 in the lab (scripts/lab.sh),
    /// the seeds' server and client traced with funcgraph-proc, -abstime and
    /// -tail, trace_clock mono, max_graph_depth 20: the end of the client's
    /// connect (its graph began before this excerpt), a switch of tasks, a
    /// whole close of the server, and the beginning of its sendto.
    static let excerpt = #"""
   26.414741 |   0)   client-269   | * 92481.35 us |    } /* __sys_connect */
   26.414744 |   0)   client-269   | * 92519.15 us |  } /* __x64_sys_connect */
 ------------------------------------------
 1)     sh-260     =>   server-270  
 ------------------------------------------

   26.415230 |   1)   server-270   |               |  __x64_sys_close() {
   26.415249 |   1)   server-270   |               |    close_fd() {
   26.415268 |   1)   server-270   |   5.265 us    |      _raw_spin_lock();
   26.415279 |   1)   server-270   |   2.803 us    |      pick_file();
   26.415284 |   1)   server-270   |   2.020 us    |      _raw_spin_unlock();
   26.415289 |   1)   server-270   |               |      filp_close() {
   26.415292 |   1)   server-270   |   2.455 us    |        dnotify_flush();
   26.415297 |   1)   server-270   |   2.374 us    |        locks_remove_posix();
   26.415302 |   1)   server-270   |   2.001 us    |        fput();
   26.415306 |   1)   server-270   | + 17.581 us   |      } /* filp_close */
   26.415308 |   1)   server-270   | + 60.384 us   |    } /* close_fd */
   26.415310 |   1)   server-270   | + 97.212 us   |  } /* __x64_sys_close */
   26.415550 |   1)   server-270   |               |  __x64_sys_sendto() {
   26.415568 |   1)   server-270   |               |    __sys_sendto() {
   26.415600 |   1)   server-270   |               |      sockfd_lookup_light() {
   26.415603 |   1)   server-270   |               |        __fdget() {
   26.415605 |   1)   server-270   |   2.555 us    |          __fget_light();
   26.415610 |   1)   server-270   |   7.280 us    |        } /* __fdget */
   26.415614 |   1)   server-270   | + 14.111 us   |      } /* sockfd_lookup_light */
"""#

    static func time(_ text: String) -> MonotonicTime { FunctionGraphLine.abstime(Substring(text))! }

    @Test("each kind of line: entry, leaf, exit with the function's name, duration marks, a module's function; others are not lines")
    func lines() throws {
        let entry = try #require(FunctionGraphLine.parse("   26.415785 |   1)   server-270   |               |          tcp_sendmsg() {"))
        #expect(entry == FunctionGraphLine(kind: .entry, function: "tcp_sendmsg", depth: 4, time: Self.time("26.415785"), cpu: 1, tid: 270, duration: nil))
        #expect(entry.time.nanoseconds == 26_415_785_000)
        let leaf = try #require(FunctionGraphLine.parse("   26.423264 |   1)   server-270   | + 21.928 us   |                                        loopback_xmit();"))
        #expect(leaf.kind == .leaf && leaf.function == "loopback_xmit" && leaf.depth == 19 && leaf.duration == 21_928)
        let exit = try #require(FunctionGraphLine.parse("   26.426101 |   1)   server-270   | * 10316.22 us |          } /* tcp_sendmsg */"))
        #expect(exit.kind == .exit && exit.function == "tcp_sendmsg" && exit.depth == 4 && exit.duration == 10_316_220)
        let accept = try #require(FunctionGraphLine.parse("   26.411292 |   0)   server-267   | @ 490798.3 us |  } /* __x64_sys_accept */"))
        #expect(accept.duration == 490_798_300 && accept.depth == 0 && accept.cpu == 0 && accept.tid == 267)
        let module = try #require(FunctionGraphLine.parse("   25.692134 |   0)     sh-260     |               |        ovl_flush [overlay]() {"))
        #expect(module.function == "ovl_flush" && module.depth == 3)
        let moduleExit = try #require(FunctionGraphLine.parse("   25.692703 |   0)     sh-260     | ! 704.921 us  |        } /* ovl_flush [overlay] */"))
        #expect(moduleExit.function == "ovl_flush" && moduleExit.duration == 704_921)
        // A task whose name has a dash: the thread id is after the last one.
        #expect(FunctionGraphLine.parse("   1.000001 |   0)  st-rel-ease-99  |   0.300 us    |  __x64_sys_close();")?.tid == 99)
        for other in [" ------------------------------------------", " 1)     sh-260     =>   server-270  ", "", "# tracer: function_graph",
                      "#     TIME        CPU  TASK/PID         DURATION                  FUNCTION CALLS"] {
            #expect(FunctionGraphLine.parse(Substring(other)) == nil, "\(other)")
        }
    }

    @Test("the lab's lines make the server's close a whole graph and its sendto one still open; a call takes the graph begun inside it")
    func assemble() throws {
        var assembler = FunctionGraphAssembler(maxDepth: 20)
        assembler.add(text: Self.excerpt[...])
        // The connect began before the excerpt: nothing to take.
        let connect = assembler.take(tid: 269, entry: Self.time("26.322000"), exit: Self.time("26.414800"))
        #expect(connect == nil)
        // The close, entered at 26.415230 (the tracer cuts to microseconds: up to 1 µs before the call's entry stop counts).
        let closeGraph = assembler.take(tid: 270, entry: MonotonicTime(nanoseconds: 26_415_230_500), exit: Self.time("26.415400"))
        let close = try #require(closeGraph)
        #expect(close.calls.map(\.function) == ["__x64_sys_close", "close_fd", "_raw_spin_lock", "pick_file", "_raw_spin_unlock", "filp_close",
                                                "dnotify_flush", "locks_remove_posix", "fput"])
        #expect(close.calls.map(\.depth) == [0, 1, 2, 2, 2, 2, 3, 3, 3])
        #expect(close.duration == 97_212)
        #expect(close.calls[5].duration == 17_581)
        #expect(close.parents == [nil, 0, 1, 1, 1, 1, 5, 5, 5])
        #expect(close.path(through: ["close_fd", "filp_close", "fput"]) == [1, 5, 8])
        #expect(close.path(through: ["filp_close", "close_fd"]) == nil)
        #expect(!close.lost && close.maxDepth == 20)
        // Taken once.
        let again = assembler.take(tid: 270, entry: MonotonicTime(nanoseconds: 26_415_230_500), exit: Self.time("26.415400"))
        #expect(again == nil)
        // The sendto has not returned in the excerpt: given as far as it went.
        let sendtoGraph = assembler.take(tid: 270, entry: Self.time("26.415540"), exit: Self.time("26.430000"))
        let sendto = try #require(sendtoGraph)
        #expect(sendto.calls.first?.function == "__x64_sys_sendto" && sendto.duration == nil)
        #expect(sendto.calls.last?.function == "__fget_light" && sendto.calls.last?.duration == 2_555)
    }

    @Test("a graph before the call's entry is dropped (a call not shown), lost events mark the graphs being built, a graph is bounded")
    func strayLostAndBounded() {
        var assembler = FunctionGraphAssembler(maxDepth: 20, callLimit: 3)
        assembler.add(text: Self.excerpt[...])
        assembler.add(text: "CPU:1 [LOST 42 EVENTS]\n")
        #expect(assembler.lostEvents == 42)
        // The close (26.415230) is older than this window: dropped, and the open sendto is the call's.
        let sendto = assembler.take(tid: 270, entry: Self.time("26.415540"), exit: Self.time("26.430000"))
        #expect(sendto?.lost == true)
        #expect(sendto?.calls.count == 3 && sendto?.omitted == 2)
    }

    static func started() -> ProcessEvent {
        var event = ProcessEvent(.started, tid: 270, pid: 270, time: MonotonicTime(nanoseconds: 26_000_000_000))
        event.name = "server"
        return event
    }

    static func graphCall() -> SyscallInvocation {
        var assembler = FunctionGraphAssembler(maxDepth: 20)
        assembler.add(text: excerpt[...])
        var call = SyscallInvocation(pid: 270, tid: 270, architecture: .x86_64, syscall: .close, arguments: [4, 0, 0, 0, 0, 0],
                                     entryTime: MonotonicTime(nanoseconds: 26_415_229_000))
        call.exitTime = MonotonicTime(nanoseconds: 26_415_400_000)
        call.entryText = "close(4"
        call.returnText = "0"
        call.result = SyscallResult(value: 0, errno: nil)
        var activity = KernelActivity(operation: "tcp_close", source: .expected, expected: ["__x64_sys_close", "filp_close"], samples: [], alignments: [])
        activity.functionGraph = assembler.take(tid: 270, entry: call.entryTime, exit: call.exitTime!)
        call.kernel = activity
        return call
    }

    @Test("the text timeline shows the graph under the call as an indented tree with times, cut at its line limit with how many more")
    func timeline() throws {
        let output = TraceOutput.capturing()
        var options = TextTimeline.Options()
        options.graphLines = 4
        let timeline = TextTimeline(output: output, options: options)
        timeline.handle(.process(Self.started()))
        timeline.handle(.syscallExited(Self.graphCall()))
        timeline.finish()
        output.flush()
        let text = output.captured
        #expect(text.contains("function graph (function_graph, max depth 20): 9 calls, 97.2 µs"), "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        let root = try #require(lines.firstIndex { $0.hasSuffix("__x64_sys_close  97.2 µs") })
        #expect(lines[root + 1].hasSuffix("    close_fd  60.4 µs"), "\(text)")
        #expect(lines[root + 2].hasSuffix("      _raw_spin_lock  5.3 µs"), "\(text)")
        #expect(lines[root + 4].contains("… 5 more calls"), "\(text)")
    }

    @Test("Perfetto: the graph is nested slices under the call's slice, strictly nested")
    func perfetto() throws {
        let call = Self.graphCall()
        let records: [TraceRecord] = [.process(Self.started()), .syscall(call)]
        let data = try PerfettoExporter(records: records).export()
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(ExportTests.checkPerfetto(document) == [])
        let events = try #require(document["traceEvents"] as? [[String: Any]])
        let graph = events.filter { $0["cat"] as? String == "function_graph" }
        #expect(graph.map { $0["name"] as? String } == call.kernel?.functionGraph?.calls.map(\.function))
        let filp = try #require(graph.first { $0["name"] as? String == "filp_close" })
        #expect((filp["dur"] as? Double).map { abs($0 - 17.581) < 0.01 } == true, "\(filp)")
    }

    @Test("--function-graph on a kernel without function_graph (this machine's 6.18) fails at once, with the reason, as a usage error",
          .enabled(if: TestSupport.underCI || (getuid() == 0 && TestSupport.tracefsAvailable() && !kernelHasFunctionGraph()), "needs root, and a kernel without function_graph"))
    func refusedWithoutTheTracer() throws {
        let result = try TestSupport.run(TestSupport.sockettrace, ["--function-graph", "--", "/bin/true"])
        #expect(result.status == 2, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("sockettrace: --function-graph: this kernel has no function_graph tracer"), "\(result.stderr)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/kernel/tracing/instances")) ?? []
        #expect(!left.contains { $0.hasPrefix("sockettrace_") }, "\(left)")
    }

    @Test("a top-level setting is written back as it was: a buffer not yet grown by its size")
    func settings() {
        #expect(FunctionGraphTracer.setting("7 (expanded: 1408)") == "1408")
        #expect(FunctionGraphTracer.setting("1410") == "1410")
        #expect(FunctionGraphTracer.setting("0") == "0")
    }

    static func kernelHasFunctionGraph() -> Bool {
        (try? String(contentsOfFile: "/sys/kernel/tracing/available_tracers", encoding: .utf8))?.contains("function_graph") ?? false
    }
}
