import ArgumentParser
import Glibc
import SocketTrace

/// `sockettrace [run] [OPTIONS] PROG [ARGS…]` and `sockettrace -p PID`.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program (or attach to processes) and print its socket system calls.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, strace, jsonl
    }

    @Option(name: [.customShort("p"), .customLong("attach")], help: "Attach to a running process (repeatable).")
    var pids: [Int32] = []

    @Flag(name: [.customShort("f"), .customLong("follow-forks")], help: "Follow forks, vforks and threads (the default).")
    var follow = false

    @Flag(name: .customLong("no-follow"), help: "Trace only the initial process.")
    var noFollow = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write the trace to FILE instead of standard error.")
    var output: String?

    @Option(name: .customLong("format"), help: "Output format: text (readable timeline), strace (strace's lines) or jsonl (the trace file).")
    var format: Format = .text

    @Option(name: .customLong("save"), help: ArgumentHelp("Also write the trace file (JSON Lines) to FILE while the timeline prints.", valueName: "file"))
    var save: String?

    @Option(name: .customShort("e"), help: ArgumentHelp("Select syscalls as strace does: trace=%net, trace=sendto,recvfrom, trace=!close.", valueName: "expr"))
    var expressions: [String] = []

    @Option(name: [.customShort("s"), .customLong("string-limit")], help: "Show at most N bytes of each payload (default 32).")
    var stringLimit: Int = 32

    @Flag(name: .customLong("no-data"), help: "Record no payload bytes at all (as -s 0), for traces that will be shared.")
    var noData = false

    @Flag(name: .customShort("x"), help: "Non-ASCII strings in hex (-x); all strings in hex (-xx).")
    var hex: Int

    @Flag(name: .customShort("v"), help: "Print structures unabbreviated: every netlink message and attribute (strace's -v).")
    var verbose = false

    @Flag(name: .customShort("t"), help: "Prefix lines with the time (-t), with microseconds (-tt), as epoch seconds (-ttt).")
    var timestamps: Int

    @Flag(name: .customShort("r"), help: "Prefix lines with the time since the previous line.")
    var relative = false

    @Flag(name: .customShort("T"), help: "Show the time spent in each call.")
    var durations = false

    @Flag(name: .customLong("event-stacks"), help: "With --kernel: each kernel event's stack under it in the timeline (events are sampled for their fields; the trace file keeps their stacks).")
    var eventStacks = false

    @Flag(name: .customShort("c"), help: "Count calls, errors and system time per syscall (as strace -c: the CPU time spent in each call); print a summary at the end.")
    var summary = false

    @Flag(name: .customShort("w"), help: "With -c: count each call's wall-clock time from entry to exit instead of its system time (strace -w).")
    var wallClock = false

    @Flag(name: .customShort("y"), help: "Decorate descriptors: -yy shows sockets' protocol and addresses as strace does.")
    var decorate: Int

    @Flag(name: [.customShort("k"), .customLong("stack")], help: "The user stack at each call, unwound with libdw (-k); with DWARF file:line (-kk).")
    var stack: Int

    @Option(name: .customLong("functions"), help: ArgumentHelp("Trace the entry and exit of the program's own functions matching these globs (comma-separated), with their arguments from DWARF.", valueName: "pattern"))
    var functions: String?

    @Flag(name: .customLong("no-seccomp"), help: "Stop at every syscall instead of only traced ones (slower).")
    var noSeccomp = false

    @Flag(name: .customLong("no-exit-capture"), help: "With kernel observation: do not stop threads at their exit to sample what a process's end releases (its sockets' FIN).")
    var noExitCapture = false

    @Flag(name: .customLong("stop-data-calls"), help: "With kernel observation: stop at every read and write as at other calls, instead of letting the kernel record those on sockets (BPF) while the program runs on.")
    var stopDataCalls = false

    @Option(name: .customLong("kernel"), help: ArgumentHelp("Observe the kernel's call chains: auto (when permitted; the default for text), on, off (the default for --format strace and -c).", valueName: "auto|on|off"))
    var kernelMode: KernelObserver.Mode?

    @Option(name: .customLong("vmlinux"), help: ArgumentHelp("A vmlinux with debug info for the running kernel: kernel frames shown with their source lines (net/ipv4/tcp.c:1158) and the functions inlined there, which prove a model function missing from a stack inlined.", valueName: "path"))
    var vmlinux: String?

    @Option(name: .customLong("kernel-buffer-pages"), help: ArgumentHelp("Pages of each CPU's kernel sample ring (a power of two; default 256, or 1024 when the kernel records reads and writes: the program then runs on while the tracer works). Samples that do not fit are counted as lost.", valueName: "n"))
    var kernelBufferPagesOption: UInt64?

    @Flag(name: .customLong("function-graph"), help: "Record each call's kernel function graph with the time in each function (the kernel's function_graph tracer; kernels that have it, such as the lab's).")
    var functionGraph = false

    @Option(name: .customLong("graph-depth"), help: ArgumentHelp("With --function-graph: how deep below the syscall's entry function (max_graph_depth; default 20).", valueName: "n"))
    var graphDepth: Int = 20

    @OptionGroup var model: ModelOptions

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The program to run and its arguments.", valueName: "prog"))
    var command: [String] = []

    func validate() throws {
        if programArguments.isEmpty && pids.isEmpty {
            throw ValidationError("must have PROG [ARGS] or -p PID")
        }
        if stringLimit < 0 { throw ValidationError("-s: the limit must be 0 or more") }
        if graphDepth < 1 { throw ValidationError("--graph-depth: must be 1 or more") }
    }

    var programArguments: [String] {
        command.first == "--" ? Array(command.dropFirst()) : command
    }

    func run() throws {
        var configuration = TracerConfiguration()
        configuration.followForks = !noFollow
        configuration.measuresSystemTime = summary && !wallClock
        configuration.useSeccomp = !noSeccomp
        configuration.capturesExits = !noExitCapture
        configuration.capturesDataCalls = !stopDataCalls
        configuration.stackTraces = stack >= 2 ? .lines : (stack == 1 ? .functions : .off)
        configuration.functionPatterns = functions.map(ProgramFunctions.patterns) ?? []
        configuration.decodeOptions = DecodeOptions(
            stringLimit: noData ? 0 : stringLimit, hexStrings: hex >= 2 ? .all : (hex == 1 ? .nonASCII : .none),
            verbose: verbose)
        do {
            // Set before the sampler's rings are made (the tracer decides at launch whether the kernel can record them).
            let ringPages = kernelBufferPagesOption
                ?? (configuration.dataCallsMustStop == nil && !programArguments.isEmpty ? KernelSampler.dataCallRingPages : KernelSampler.defaultRingPages)
            guard ringPages > 0, ringPages & (ringPages - 1) == 0 else {
                throw TraceError(.usage, operation: "--kernel-buffer-pages \(ringPages): must be a power of two")
            }
            for expression in expressions {
                guard expression.hasPrefix("trace=") || !expression.contains("=") else {
                    throw TraceError(.usage, operation: "-e \(expression): only trace= is supported")
                }
                configuration.selection = try SyscallSelection.parse(expression)
            }
            switch format {
            case .strace: configuration.descriptorStyle = decorate >= 2 ? .straceDecorated : .number
            case .text, .jsonl: configuration.descriptorStyle = decorate >= 2 ? .straceDecorated : .socketsDecorated
            }
            configuration.resolveAddresses = !(format == .strace && decorate < 2 && save == nil) && !summary
            // A trace file keeps strace's plain text too, so `report --format strace` can print it.
            configuration.recordPlainText = format == .jsonl || save != nil
            let mode = kernelMode ?? ((format == .strace && save == nil) || summary ? .off : .auto)
            let observer = try KernelObserver.make(mode: mode, model: mode == .off ? nil : try model.load(required: mode == .on),
                                                   probeSet: model.probeSet, ringPages: ringPages,
                                                   functionGraph: functionGraph ? .init(syscalls: Array(configuration.selection.syscalls), maxDepth: graphDepth) : nil)
            if let vmlinux {
                let resolver: KernelSourceResolver
                do {
                    resolver = try KernelSourceResolver(vmlinux: vmlinux)
                } catch {
                    throw TraceError(.usage, operation: error.description)
                }
                if let sampler = observer?.sampler {
                    sampler.sourceResolver = resolver
                    observer?.correlator.useDWARF(resolver)
                } else {
                    Self.complain("--vmlinux \(vmlinux): kernel chains are not observed in this run, so there are no kernel frames to place")
                }
            }
            if let note = observer?.probeSetNote { Self.complain(note) }
            if let reason = observer?.unavailableReason {
                Self.complain("kernel chains not observed (\(reason)); showing the model's expected chains")
            }
            if let missing = observer?.sampler?.missingProbes, !missing.isEmpty {
                Self.complain("not sampled, not in this kernel: \(missing.joined(separator: ", "))")
            }
            let stream = try output.map { try TraceOutput.create(path: $0) } ?? .standardError
            let observation = observer == nil ? "off" : (observer?.sampler == nil ? "expected" : "observed")
            var header = TraceHeader(command: programArguments.isEmpty ? pids.map { "-p \($0)" } : programArguments,
                                     kernelObservation: observation, note: observer?.unavailableReason)
            header.followFlagGiven = follow
            header.selection = expressions.isEmpty ? nil : expressions
            let counts = { (observer?.sampler?.sampleCount ?? 0, observer?.sampler?.lostSamples ?? 0) }
            // Read when the trace ends: every step of the attribution has run.
            let leftOut = { observer?.correlator.leftOut ?? [:] }
            var sinks = [makeSink(stream, header: header, counts: counts, leftOut: leftOut)]
            var saved: TraceOutput?
            if let save {
                let file = try TraceOutput.create(path: save)
                saved = file
                sinks.append(TraceFileWriter(output: file, header: header, kernelCounts: counts, leftOut: leftOut))
            }
            // Rendered on a thread of its own: the tracer goes back to its
            // tracees and the kernel's rings meanwhile.
            let sink = BackgroundSink(sinks.count == 1 ? sinks[0] : FanOut(sinks))
            let tracer = Tracer(configuration: configuration, sink: sink, kernel: observer)
            tracer.diagnostic = { Self.complain($0) }
            let status: Tracer.ExitStatus?
            do {
                if programArguments.isEmpty {
                    try tracer.attach(pids)
                } else {
                    try tracer.launch(programArguments)
                }
                if let reason = observer?.sampler?.elsewhereUnavailable {
                    Self.complain("packets queued or dropped for traced connections outside the traced tasks not sampled (\(reason)): "
                                  + "net:net_dev_queue and skb:kfree_skb in the traced tasks only")
                }
                if let probes = observer?.sampler?.functionProbes {
                    var line = "kprobes on \(probes.probed.count) model functions (\(probes.probed.values.reduce(0, +)) copies)"
                    for (reason, names) in Dictionary(grouping: probes.unprobed.keys.sorted(), by: { probes.unprobed[$0]! }).sorted(by: { $0.key < $1.key }) {
                        line += "; \(reason): \(names.joined(separator: ", "))"
                    }
                    Self.complain(line)
                }
                if let graphs = observer?.functionGraph, let directory = graphs.directory {
                    Self.complain("function_graph on \(graphs.entryFunctions.count) syscall entry functions, max_graph_depth \(graphs.maxDepth), in \(directory)")
                }
                status = try tracer.run()
            } catch {
                // What the tracer handed over before it failed is written.
                sink.finish()
                stream.close()
                saved?.close()
                throw error
            }
            if let lost = observer?.functionGraph?.lostEvents, lost > 0 {
                Self.complain("the function_graph tracer lost \(lost) events (its buffer was full): some calls' graphs are incomplete (marked lost)")
            }
            stream.close()
            saved?.close()
            if let lost = observer?.sampler?.lostSamples, lost > 0 {
                Self.complain("\(lost) kernel samples were lost (the ring buffer overflowed; chains of some calls may be missing — try --kernel-buffer-pages \(ringPages * 4))")
            }
            if let failure = tracer.execFailure {
                Self.complain(failure.description)
                throw ExitCode(failure.exitStatus)
            }
            if let writeError = stream.writeError {
                Self.complain("write error: " + errnoMessage(writeError))
                throw ExitCode(1)
            }
            if let status { throw ExitCode(status.shellStatus) }
        } catch let error as TraceError {
            Self.complain(error.description)
            throw ExitCode(error.exitStatus)
        } catch let error as ModelError {
            Self.complain(error.description)
            throw ExitCode(1)
        }
    }

    func makeSink(_ stream: TraceOutput, header: TraceHeader, counts: @escaping () -> (UInt64, UInt64),
                  leftOut: @escaping () -> [String: UInt64]) -> TraceSink {
        if summary { return SummaryTable(output: stream, measure: wallClock ? .wallClock : .systemTime) }
        let timestampStyle: TimestampStyle = relative ? .relative
            : [TimestampStyle.none, .seconds, .microseconds, .epochMicroseconds][min(timestamps, 3)]
        switch format {
        case .strace:
            var options = StraceWriter.Options()
            options.timestamps = timestampStyle
            options.showDuration = durations
            options.writingToFile = output != nil
            options.followFlagGiven = follow
            return StraceWriter(output: stream, options: options)
        case .text:
            var options = TextTimeline.Options()
            options.colour = TextTimeline.wantsColour(stream)
            options.width = stream.terminalWidth
            options.eventStacks = eventStacks
            options.stringLimit = stringLimit
            options.selection = expressions
            return TextTimeline(output: stream, options: options)
        case .jsonl:
            return TraceFileWriter(output: stream, header: header, kernelCounts: counts, leftOut: leftOut)
        }
    }

    static func complain(_ message: String) {
        let stream = TraceOutput.standardError
        stream.write("sockettrace: " + message + "\n")
        stream.flush()
    }
}

extension KernelObserver.Mode: ExpressibleByArgument {}
