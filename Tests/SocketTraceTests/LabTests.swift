import Foundation
@testable import SocketTrace
import Testing

/// The lab: Debian's 6.1 kernel booted under QEMU (scripts/lab.sh), where
/// the model is checked on a second kernel. The first run downloads the
/// kernel package, QEMU and virtme-ng (~150 MB), so it runs under CI (these
/// machines have the cache) or when SOCKETTRACE_LAB=1 asks for it.
@Suite(.serialized, .enabled(if: TestSupport.underCI || ProcessInfo.processInfo.environment["SOCKETTRACE_LAB"] == "1",
                             "boots a VM and downloads a kernel: CI=true or SOCKETTRACE_LAB=1"))
struct LabTests {
    @Test("on Debian's 6.1 kernel: model check passes, and the seeds' example has observed chains whose TCP send agrees with the model (dst_output unverified: ip_local_out may leave through a pointer)")
    func debianKernel() throws {
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let probes = TestSupport.packageRoot.appendingPathComponent("Probes").path
        let trace = TestSupport.temporaryFile("lab-trace") + ".txt"
        let script = """
        uname -r
        \(TestSupport.sockettrace) model check --probes \(probes) >/dev/null; echo "model check: $?"
        \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set minimal -o \(trace) -- \
            /bin/sh -c '\(try TestSupport.serverAndClientScript(port: 12345))'; echo "trace: $?"
        """
        let result = try TestSupport.run(lab, ["--", "/bin/sh", "-c", script], timeout: 900)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("6.1.") == true, "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("model check: 0"), "\(result.stdout)")
        #expect(lines.contains("trace: 0"), "\(result.stdout)\n\(result.stderr)")
        let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        // Every step of the send proven, but dst_output: ip_local_out can also leave through dst->output
        // (a pointer), so whether dst_output's inlined code ran the code cannot show without DWARF; and
        // tcp_transmit_skb where tcp_write_xmit calls __tcp_transmit_skb from more than one place.
        let send = text.split(separator: "\n").first { $0.contains("syscall tcp_send: ") }.map(String.init) ?? ""
        #expect(send.contains("syscall tcp_send: matches") || send.contains(", 1 missing, unverified")
                    || (send.contains(", 2 missing, unverified") && text.contains("(tcp_transmit_skb) unverified: declared inline in the model")
                        && text.contains("but tcp_write_xmit goes on that way from ")),
                "\(send)\n\(text.prefix(3000))")
        #expect(send.contains("matches") || text.contains("(dst_output) unverified: declared inline in the model (include/net/dst.h); these frames' code calls no copy of it (their calls in flight: __ip_queue_xmit+"),
                "\(text.prefix(3000))")
        #expect(result.stderr.contains("lab: booted 6.1."), "\(result.stderr)")
    }

    @Test("on Debian's 6.1 kernel, --probe-set functions: every socket call of the seeds' example has observed chains and the functions it entered, and no kprobe is left afterwards")
    func functionProbes() throws {
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let probes = TestSupport.packageRoot.appendingPathComponent("Probes").path
        let trace = TestSupport.temporaryFile("lab-functions") + ".jsonl"
        // The kprobe events go when the release helper has closed the perf
        // events (seconds under TCG): wait for them, then count what is left.
        let script = """
        \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set functions --save \(trace) -o /dev/null -- \
            /bin/sh -c '\(try TestSupport.serverAndClientScript(port: 12346))'; echo "trace: $?"
        mount | grep -q debugfs || mount -t debugfs none /sys/kernel/debug
        tracefs=$(grep -m1 ' tracefs ' /proc/mounts | cut -d' ' -f2)
        for i in $(seq 1 180); do
            left=$(($(grep -c . $tracefs/kprobe_events) + $(grep -c . /sys/kernel/debug/kprobes/list)))
            [ "$left" = 0 ] && break; sleep 1
        done
        echo "kprobes left: $left"
        """
        // Under TCG: ~150 s on a quiet machine, 900 s and more on a loaded one.
        let result = try TestSupport.run(lab, ["--", "/bin/sh", "-c", script], timeout: 1800)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("trace: 0"), "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("kprobes left: 0"), "\(result.stdout)")
        #expect(result.stderr.contains("kprobes on "), "\(result.stderr)")
        var hits: [String: Int] = [:]
        var seen: Set<Syscall> = []
        var returnsChecked = 0, releasedAfterExit = 0
        for case let .syscall(call) in try TraceFileReader(path: trace).records {
            guard [Syscall.socket, .bind, .listen, .accept, .connect, .sendto, .recvfrom, .write, .read, .close].contains(call.syscall),
                  call.socket != nil, call.result?.failed == false else { continue }
            seen.insert(call.syscall)
            let kernel = call.kernel
            #expect(kernel?.source == .observed && kernel?.alignments.isEmpty == false, "\(call.syscall.rawValue): no observed chain")
            #expect(kernel?.hits.isEmpty == false, "\(call.syscall.rawValue): no function entered")
            for hit in kernel?.hits ?? [] { hits[hit.function, default: 0] += hit.count }
            // Return probes: the functions of the call's own path returned
            // within it, each in less time than the whole call.
            if call.syscall == .sendto, let send = kernel?.hits.first(where: { $0.function == "tcp_sendmsg" }),
               let callTime = call.exitTime.map({ $0.nanoseconds - call.entryTime.nanoseconds }) {
                #expect(send.returned == send.count, "tcp_sendmsg: \(send.returned ?? -1) of \(send.count) returns seen")
                #expect((send.insideNanoseconds ?? 0) > 0 && (send.insideNanoseconds ?? 0) < callTime,
                        "tcp_sendmsg inside \(send.insideNanoseconds ?? 0) ns of a \(callTime) ns call")
                returnsChecked += 1
            }
            // Before 6.6 a socket's last fput defers its release to
            // task_work, run on the return to user mode after sys_exit: a
            // connected close's FIN is sampled after its kernel exit, and the
            // call's end (its printed duration) is that last sample.
            if call.syscall == .close, let exit = call.kernelExitTime, let end = call.endTime, let stop = call.exitTime,
               let last = kernel?.samples.map(\.time).max() {
                #expect(kernel?.samples.allSatisfy { call.startTime <= $0.time && $0.time <= end } == true,
                        "close: samples outside \(call.startTime)...\(end)")
                if last > exit {
                    releasedAfterExit += 1
                    #expect(end == min(last, stop) && (call.duration ?? 0) >= Double(last.nanoseconds - call.startTime.nanoseconds) / 1e9 - 1e-9,
                            "close ends at \(end), its release sampled at \(last), sys_exit \(exit)")
                }
            }
        }
        #expect(returnsChecked > 0, "no sendto with tcp_sendmsg's return")
        #expect(releasedAfterExit > 0, "no close's release sampled after its sys_exit (6.1 runs it in task_work)")
        #expect(seen.isSuperset(of: [.socket, .bind, .listen, .accept, .connect, .sendto, .recvfrom, .close]), "\(seen)")
        for function in ["__sys_socket", "inet_create", "inet_listen", "inet_csk_accept", "tcp_v4_connect", "tcp_sendmsg",
                         "tcp_recvmsg", "tcp_close", "tcp_v4_rcv"] {
            #expect(hits[function, default: 0] > 0, "\(function) never entered: \(hits)")
        }
        #expect(hits["__inet_bind", default: 0] + hits["inet_bind", default: 0] > 0, "\(hits)")
    }

    /// The graph test's steps, what its watchdog saw and the graph runs' stderr, kept on the host.
    static func graphWatchdog(_ path: String) -> String {
        let read = { (suffix: String) in (try? String(contentsOfFile: path + suffix, encoding: .utf8)) ?? "(none)" }
        return "steps:\n\(read(".steps"))\nwatchdog:\n\(read("").suffix(20000))\nthe graph runs' stderr:\n\(read(".stderr").suffix(4000))"
            + "\nthe vCPUs, from QEMU's gdb stub:\n\(read(".vcpus").suffix(30000))"
    }

    /// A `--function-graph` run of the seeds' example once hung in 4 of 6
    /// runs of this test: 6.1's live code patching livelocked under QEMU's
    /// multi-threaded TCG (docs/lab.md). Under single-threaded TCG, six runs
    /// of it (four graph runs each) and 12 graph runs by hand did not hang; the watchdog that prints the
    /// guest's stacks, and the vCPUs' from outside, stay.
    @Test("on Debian's 6.1 kernel, --function-graph: sendto's graph runs tcp_sendmsg → … → __dev_queue_xmit, with times, and no tracefs instance is left; a second run at once is refused, the first's settings are put back, a killed run's tracer is cleared by the next")
    func functionGraph() throws {
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let probes = TestSupport.packageRoot.appendingPathComponent("Probes").path
        let graphTrace = TestSupport.temporaryFile("lab-graph") + ".jsonl"
        let graphText = TestSupport.temporaryFile("lab-graph") + ".txt"
        let graphPort = 12347
        let graphWatch = TestSupport.temporaryFile("lab-graph-watchdog")
        let graphRun = "timeout 300 \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set minimal --function-graph -o /dev/null"
        let script = """
        tracefs=$(grep -m1 ' tracefs ' /proc/mounts | cut -d' ' -f2)
        [ -n "$tracefs" ] || { mount -t tracefs nodev /sys/kernel/tracing; tracefs=/sys/kernel/tracing; }
        # One graph run in three hung in this test (2026-12-02/03: at its start, header
        # written and nothing after; or, on a quiet host, after a graph run that finished,
        # before the next step), not by hand. Each step is logged and, every 4 minutes,
        # every task's state, wait channel and kernel stack, the load, the tracer and
        # dmesg's end go to a file on the host (\(graphWatch)): a hang past the test's
        # own timeout took the VM's output with it. A run stuck where SIGTERM does not
        # reach it is killed 20 s later, and run once more.
        cat /proc/kallsyms > \(graphWatch).kallsyms
        step() { echo "$(date +%T) $*" >> \(graphWatch).steps; }
        snapshot() { { echo "== $(date +%T) at: $(tail -1 \(graphWatch).steps)"; ps -eo pid,ppid,stat,wchan:32,etime,args | grep -v ' \\[' ; \
            for p in $(pgrep -f 'sockettrace --probes|/server |/client |tracefs|/sys/kernel'); do for t in /proc/$p/task/*; do \
            echo "task $t $(cat $t/comm) $(grep State $t/status) syscall $(cut -d' ' -f1 $t/syscall)"; cat $t/stack; done; done; \
            cat /proc/loadavg; echo "current tracer: $(timeout 5 cat $tracefs/current_tracer)"; dmesg | tail -40; } >> \(graphWatch) 2>&1; }
        ( while sleep 240; do snapshot; done ) & watchAll=$!
        graph() { timeout -k 20 600 \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set minimal --function-graph \
            --save \(graphTrace) -o \(graphText) -- /bin/sh -c '\(try TestSupport.serverAndClientScript(port: graphPort))' 2>>\(graphWatch).stderr; }
        step "graph run"; graph; status=$?; step "graph run: $status"
        if [ $status = 124 ] || [ $status = 137 ]; then echo "graph trace hung: run again"; graph; status=$?; fi
        echo "graph trace: $status"
        echo "graph instances left: $(ls $tracefs/instances | grep -c sockettrace_)"
        echo "current tracer: $(cat $tracefs/current_tracer)"
        # Two runs at once: the second is refused while the first holds the
        # top level, which is as it was once the first ends; a run killed
        # outright leaves the tracer on for the next run to clear.
        # The ring buffer's size is put back as near as the kernel's pages allow
        # (6.1's default 1408 KB reads 1410 once resized): compared apart, in pages.
        settings() { for f in trace_clock tracing_on max_graph_depth set_ftrace_pid set_graph_function; do \
            printf '%s=%s;' $f "$(tr '\\n' ' ' < $tracefs/$f)"; done; }
        bufferKB() { sed 's/.*expanded: \\([0-9]*\\))/\\1/' $tracefs/buffer_size_kb; }
        graphOn() { for i in $(seq 1 120); do [ "$(cat $tracefs/current_tracer)" = function_graph ] && return 0; sleep 0.5; done; return 1; }
        step "settings"; before=$(settings); beforeKB=$(bufferKB); step "first run"
        # The first runs until the second has ended (a fixed `sleep 15` was over
        # before a slow second run had started, under CI: the tracer took 74 s
        # to come on there).
        rm -f /tmp/lab-second-done
        \(graphRun) -- /bin/sh -c 'i=0; while [ ! -e /tmp/lab-second-done ] && [ $i -lt 560 ]; do sleep 0.5; i=$((i+1)); done; [ -e /tmp/lab-second-done ]' & first=$!
        graphOn && echo "first has the tracer"; step "second run"
        \(graphRun) -- true 2>/tmp/lab-second.err; echo "second: $?"
        # $first is timeout's pid; the run holding the lock is its child.
        grep -q "another sockettrace run (pid $(pgrep -P $first))" /tmp/lab-second.err && echo "second names the first"
        touch /tmp/lab-second-done
        step "waiting for the first"; wait $first; echo "first: $?"; step "settings again"
        [ "$(settings)" = "$before" ] && echo "settings restored" || echo "settings: $before → $(settings)"
        afterKB=$(bufferKB); [ $afterKB -ge $beforeKB ] && [ $((afterKB - beforeKB)) -lt 4 ] && echo "buffer restored" || echo "buffer: $beforeKB → $afterKB KB"
        step "the run to kill"; \(graphRun) -- sleep 60 & killed=$!
        # SIGKILL for sockettrace itself, not only `timeout` (which would leave sockettrace to
        # die of its parent's death a moment later, its lock still held when the next run starts).
        graphOn && { tracer=$(cat /proc/$killed/task/$killed/children 2>/dev/null); kill -9 $tracer $killed; }; wait $killed
        echo "killed: $?; tracer left: $(cat $tracefs/current_tracer)"
        for i in $(seq 1 100); do [ -n "$tracer" ] && kill -0 $tracer 2>/dev/null || break; sleep 0.1; done
        step "the run after it"; \(graphRun) -- true; echo "after the killed run: $?"; step "done"; kill $watchAll
        echo "tracer then: $(cat $tracefs/current_tracer); instances: $(ls $tracefs/instances | grep -c sockettrace_)"
        """
        let result: TestSupport.Output
        do {
            // QEMU's gdb stub: what each vCPU runs is read from outside at 10, 15 and 25
            // minutes if the VM still runs then (a guest too stuck to report on itself).
            // Single-threaded TCG: under one host thread per vCPU, 6.1's live code patching
            // (text_poke_bp, as function_graph is switched on) livelocked in 4 of 6 runs
            // (docs/lab.md); 12 graph runs in one boot under one thread did not.
            let gdb = ["LAB_TCG_THREAD=single", "LAB_GDB_PORT=\(23000 + Int(getpid()) % 1000)", "LAB_VCPUS_AFTER=600 900 1500",
                       "LAB_KALLSYMS=\(graphWatch).kallsyms", "LAB_VCPUS_REPORT=\(graphWatch).vcpus"]
            result = try TestSupport.run("/usr/bin/env", gdb + [lab, "--", "/bin/sh", "-c", script], timeout: 1800)
        } catch {
            // What the watchdog saw and what the runs said, kept on the host.
            Issue.record(Comment(rawValue: "\(error)\n\(Self.graphWatchdog(graphWatch))"))
            return
        }
        #expect(result.status == 0, "\(result.stderr)\n\(Self.graphWatchdog(graphWatch))")
        if result.stdout.contains("graph trace hung") { print("LabTests/functionGraph: a graph run hung:\n\(result.stdout)") }
        let lines = result.stdout.split(separator: "\n").map(String.init)
        // --function-graph: 6.1 runs function_graph only in tracefs' top level, which is left as it was.
        #expect(lines.contains("graph trace: 0"), "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("graph instances left: 0"), "\(result.stdout)")
        #expect(lines.contains("current tracer: nop"), "\(result.stdout)")
        let graphStderr = (try? String(contentsOfFile: graphWatch + ".stderr", encoding: .utf8)) ?? ""
        #expect(graphStderr.contains("function_graph on "), "\(graphStderr)")
        var sendtos = 0
        for case let .syscall(call) in try TraceFileReader(path: graphTrace).records where call.syscall == .sendto && call.socket != nil {
            sendtos += 1
            let graph = try #require(call.kernel?.functionGraph, "sendto without a function graph")
            #expect(graph.calls.first?.function == "__x64_sys_sendto" && graph.maxDepth == 20)
            let path = graph.path(through: ["tcp_sendmsg", "__dev_queue_xmit"]) ?? graph.path(through: ["tcp_sendmsg", "dev_queue_xmit"])
            #expect(path != nil, "\(graph.calls.prefix(80).map { String(repeating: " ", count: $0.depth) + $0.function })")
            for index in path ?? [] { #expect((graph.calls[index].duration ?? 0) > 0, "\(graph.calls[index])") }
        }
        #expect(sendtos > 0)
        let text = (try? String(contentsOfFile: graphText, encoding: .utf8)) ?? ""
        #expect(text.contains("function graph (function_graph, max depth 20): "), "\(text.prefix(3000))")

        // One run at a time in the top level; its settings put back; a killed run's state cleared by the next.
        for line in ["first has the tracer", "second: 2", "second names the first", "first: 0", "settings restored", "buffer restored",
                     "killed: 137; tracer left: function_graph", "after the killed run: 0", "tracer then: nop; instances: 0"] {
            #expect(lines.contains(line), "\(line): \(result.stdout)")
        }
    }
}

/// The lab with Debian's debug package: `--vmlinux` on the lab's kernel,
/// every *inlined* claim resting on DWARF checked again with binutils'
/// addr2line on the same vmlinux. The vmlinux is a large download (~860
/// MB), so this runs when it is already in the lab's cache and the lab
/// runs (CI=true or SOCKETTRACE_LAB=1), or when SOCKETTRACE_LAB_DEBUGINFO=1
/// asks for it (fetching it if need be).
@Suite(.serialized, .enabled(if: LabDebugInfo.asked
                                || ((TestSupport.underCI || ProcessInfo.processInfo.environment["SOCKETTRACE_LAB"] == "1") && LabDebugInfo.present != nil),
                             "needs Debian's -dbg vmlinux (~860 MB download): SOCKETTRACE_LAB_DEBUGINFO=1, or scripts/lab.sh --debug-info then CI=true or SOCKETTRACE_LAB=1"))
struct LabDebugInfoTests {
    @Test("on Debian's 6.1 kernel with --vmlinux (its -dbg package): kernel frames get file:line and inlined functions, missing model functions are inlined by DWARF, and each such claim agrees with addr2line -i")
    func dwarfInlined() throws {
        let vmlinux = try LabDebugInfo.vmlinux()
        let lab = TestSupport.packageRoot.appendingPathComponent("scripts/lab.sh").path
        let probes = TestSupport.packageRoot.appendingPathComponent("Probes").path
        let trace = TestSupport.temporaryFile("lab-dwarf") + ".jsonl"
        let text = TestSupport.temporaryFile("lab-dwarf") + ".txt"
        let script = """
        grep -w _stext /proc/kallsyms
        \(TestSupport.sockettrace) --probes \(probes) --kernel on --probe-set minimal --vmlinux \(vmlinux) --save \(trace) -o \(text) -- \
            /bin/sh -c '\(try TestSupport.serverAndClientScript(port: 12348))'; echo "trace: $?"
        """
        let result = try TestSupport.run(lab, ["--", "/bin/sh", "-c", script], timeout: 900)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").contains("trace: 0"), "\(result.stdout)\n\(result.stderr)")
        var framesWithInlined = 0
        var sourced = 0
        var claims: [(function: String, location: String, evidence: String)] = []
        for case let .syscall(call) in try TraceFileReader(path: trace).records {
            for sample in call.kernel?.samples ?? [] {
                framesWithInlined += sample.inlined?.filter { !$0.isEmpty }.count ?? 0
                for (frame, source) in zip(sample.chain, sample.sources ?? []) where frame == "tcp_sendmsg" || frame == "__sys_sendto" {
                    #expect(source.hasPrefix(frame == "tcp_sendmsg" ? "net/ipv4/tcp.c:" : "net/socket.c:"), "\(frame): \(source)")
                    sourced += 1
                }
            }
            for alignment in call.kernel?.alignments ?? [] {
                for step in alignment.steps where step.status == .inlined {
                    guard let evidence = step.evidence, let range = evidence.range(of: ": DWARF: ") else { continue }
                    claims.append((step.function, String(evidence[..<range.lowerBound]), evidence))
                }
            }
        }
        #expect(framesWithInlined > 10 && sourced > 0, "\(framesWithInlined) frames with inlined functions, \(sourced) sourced")
        #expect(claims.contains { $0.function == "tcp_transmit_skb" }, "\(claims.map(\.evidence))")
        // Each claim again, by binutils: the vmlinux's address of the frame's function plus its offset (less one for a call).
        let symbols = try TestSupport.run("/usr/bin/nm", [vmlinux], timeout: 120).stdout.split(separator: "\n").reduce(into: [String: UInt64]()) {
            let parts = $1.split(separator: " ")
            if parts.count == 3, parts[1] == "T" || parts[1] == "t", let address = UInt64(parts[0], radix: 16) { $0[String(parts[2]), default: address] = address }
        }
        var distinct = Set<String>()
        for claim in claims where distinct.insert(claim.location + " " + claim.function).inserted {
            let parts = claim.location.components(separatedBy: "+0x")
            let start = try #require(parts.count == 2 ? symbols[parts[0]] : nil, "\(claim.location)")
            let offset = try #require(UInt64(parts[1], radix: 16))
            let address = start + offset - (claim.evidence.contains("the call before it") ? 1 : 0)
            let oracle = try TestSupport.run("/usr/bin/addr2line", ["-i", "-f", "-e", vmlinux, "0x" + String(address, radix: 16)]).stdout
            let names = oracle.split(separator: "\n").enumerated().filter { $0.offset % 2 == 0 }.map { String($0.element) }
            #expect(names.dropLast().contains(claim.function), "\(claim.evidence): addr2line says \(names)")
        }
        #expect(distinct.count >= 3, "\(distinct)")
        let timeline = (try? String(contentsOfFile: text, encoding: .utf8)) ?? ""
        #expect(timeline.contains("inlined (DWARF)") && timeline.contains("(inlined; "), "\(timeline.prefix(3000))")
    }
}
