import ArgumentParser
import Foundation
import SocketTrace

/// `sockettrace report FILE...`: renders saved traces again.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render saved trace files (JSON Lines) again; several files are merged into one timeline.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, strace, jsonl, perfetto, mermaid, plantuml, html
    }

    @Argument(help: "Trace files written with --format jsonl or --save.") var files: [String]
    @Option(help: "text (the timeline), strace (strace's lines), jsonl (one merged trace file), perfetto (Perfetto / chrome://tracing JSON), mermaid or plantuml (a connection's sequence diagram), html (one self-contained report).") var format: Format = .text
    @Option(help: "For mermaid and plantuml: which connection (1-based, as compare lists them; default the first not refused).") var connection: Int?
    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to FILE instead of standard output.") var output: String?
    @Flag(name: .customLong("event-stacks"), help: "In the text timeline, each kernel event's stack under it (events are sampled for their fields; the trace file keeps their stacks).")
    var eventStacks = false

    func run() throws {
        let stream = try output.map { try TraceOutput.create(path: $0) } ?? TraceOutput.standardOutput
        if [.perfetto, .mermaid, .plantuml, .html].contains(format) {
            let readers = try readTraces(files)
            stream.write(try exportDocument(TraceFileReader.merged(readers), header: readers.first?.header))
            stream.close()
            try reportTruncation(readers.map(TraceFileStatus.init))
            return
        }
        // The timelines stream: each file is read as it is rendered, never held whole.
        let streams = try openTraces(files)
        let sink: TraceSink
        switch format {
        case .strace:
            var options = StraceWriter.Options()
            // The leaders strace's lines had in a file of the live run: a pid
            // on every line with -f, else only while several processes lived.
            options.writingToFile = true
            options.followFlagGiven = streams.contains { $0.header.followFlagGiven ?? true }
            sink = PlainTextSink(StraceWriter(output: stream, options: options))
        case .jsonl:
            // The merged file's counts are the sum of its inputs'.
            let writer = TraceFileWriter(output: stream, header: streams[0].header, kernelCounts: {
                streams.reduce((UInt64(0), UInt64(0))) { sum, trace in
                    (sum.0 + (trace.summary?.kernelSamples ?? 0), sum.1 + (trace.summary?.lostKernelSamples ?? 0))
                }
            }, leftOut: {
                streams.reduce(into: [String: UInt64]()) { sum, trace in
                    sum.merge(trace.summary?.leftOutKernelSamples ?? [:], uniquingKeysWith: +)
                }
            })
            writer.leavesOutEntriesEndedNext = false
            for stream in streams { stream.restoresLeftOutEntries = false }
            sink = writer
        default:
            var options = TextTimeline.Options()
            options.colour = TextTimeline.wantsColour(stream)
            options.eventStacks = eventStacks
            options.width = stream.terminalWidth
            options.selection = streams.flatMap { $0.header.selection ?? [] }
            sink = TextTimeline(output: stream, options: options)
        }
        do {
            try TraceRecordStream.mergeEvents(streams) { record in
                sink.replay(record)
            }
        } catch {
            stream.close()
            Run.complain(error.description)
            throw ExitCode(1)
        }
        sink.finish()
        stream.close()
        try reportTruncation(streams.map(TraceFileStatus.init))
    }
}

extension Report {
    /// The formats that render the whole trace at once.
    func exportDocument(_ records: [TraceRecord], header: TraceHeader?) throws -> String {
        switch format {
        case .perfetto:
            return String(decoding: try PerfettoExporter(records: records).export(), as: UTF8.self) + "\n"
        case .mermaid, .plantuml:
            guard let diagram = SequenceDiagram.build(records: records, choice: connection) else {
                throw ValidationError(connection == nil ? "no TCP connection in this trace" : "no connection #\(connection!) in this trace (see `sockettrace compare`)")
            }
            return format == .mermaid ? MermaidRenderer.render(diagram) : PlantUMLRenderer.render(diagram)
        case .html:
            let timeline = TraceOutput.capturing()
            let sink = TextTimeline(output: timeline, options: TextTimeline.Options())
            for record in records { sink.replay(record) }
            sink.finish()
            return HTMLReport(records: records, header: header, timelineText: timeline.captured).render()
        case .text, .strace, .jsonl:
            return ""

        }
    }
}

/// `sockettrace compare FILE...`: expected vs observed per operation.
/// Shows strace's plain text of each call (a trace file keeps both).
final class PlainTextSink: TraceSink {
    let inner: TraceSink
    init(_ inner: TraceSink) { self.inner = inner }

    func plain(_ call: SyscallInvocation) -> SyscallInvocation {
        guard let text = call.plainText else { return call }
        var copy = call
        copy.entryText = text.entryText
        copy.exitText = text.exitText
        if !text.returnText.isEmpty { copy.returnText = text.returnText }
        return copy
    }

    func handle(_ event: TraceEvent) {
        switch event {
        case let .syscallEntered(call): inner.handle(.syscallEntered(plain(call)))
        case let .syscallExited(call): inner.handle(.syscallExited(plain(call)))
        case let .syscallAbandoned(call): inner.handle(.syscallAbandoned(plain(call)))
        default: inner.handle(event)
        }
    }

    func flush() { inner.flush() }
    func finish() { inner.finish() }
}

func openTraces(_ files: [String]) throws -> [TraceRecordStream] {
    do {
        return try files.map { path throws(TraceFileError) in try TraceRecordStream(path: path) }
    } catch {
        Run.complain(error.description)
        throw ExitCode(1)
    }
}

/// What a read trace file lacked, for the closing words.
struct TraceFileStatus {
    let path: String
    let truncatedAt: Int?
    let records: Int
    let summary: TraceSummary?

    init(_ reader: TraceFileReader) {
        path = reader.path
        truncatedAt = reader.truncatedAt
        records = reader.records.count
        summary = reader.records.last.flatMap { if case let .end(summary) = $0 { summary } else { nil } }
    }

    init(_ stream: TraceRecordStream) {
        path = stream.path
        truncatedAt = stream.truncatedAt
        records = stream.recordCount
        summary = stream.summary
    }
}

func readTraces(_ files: [String]) throws -> [TraceFileReader] {
    do {
        return try files.map { try TraceFileReader(path: $0) }
    } catch let error as TraceFileError {
        Run.complain(error.description)
        throw ExitCode(1)
    }
}

/// A trace cut short is read up to its last complete record, then said.
/// Says what a trace file lacks: kernel samples lost while tracing, and
/// records lost to a cut (the latter fails the command).
func reportTruncation(_ readers: [TraceFileStatus]) throws {
    var truncated = false
    for reader in readers {
        if let summary = reader.summary, summary.lostKernelSamples > 0 {
            Run.complain("\(reader.path): \(summary.lostKernelSamples) of \(summary.kernelSamples + summary.lostKernelSamples) kernel samples were lost while tracing (the ring buffer overflowed): chains of some calls may be missing")
        }
        if let line = reader.truncatedAt {
            Run.complain("\(reader.path):\(line): the trace ends in the middle of a record; the \(reader.records) complete records before it were used")
            truncated = true
        }
    }
    if truncated { throw ExitCode(1) }
}
