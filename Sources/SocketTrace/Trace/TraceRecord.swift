import Glibc

/// The first record of a trace file: what was traced, where and when.
public struct TraceHeader: Sendable, Codable {
    public static let formatName = "sockettrace-trace"
    /// major.minor: a reader rejects a newer major version.
    public static let currentVersion = "1.25"

    public var format = TraceHeader.formatName
    public var version = TraceHeader.currentVersion
    public var kernelRelease: String
    public var host: String
    public var command: [String]
    public var startWall: WallClock
    public var startMonotonic: MonotonicTime
    /// `observed`, `expected` (model only) or `off`.
    public var kernelObservation: String
    public var kernelObservationNote: String?
    /// Whether `-f` was given (format 1.17): strace's lines written to a
    /// file then carry their pid on every line, not only while several
    /// processes are traced, and `report --format strace` writes them as
    /// the live run did. Nil in older files (taken as given).
    public var followFlagGiven: Bool?
    /// The `-e` expressions the run was given (format 1.18): the calls they
    /// leave out are in no count of the file (a connection's bytes).
    public var selection: [String]?

    public init(command: [String], kernelObservation: String, note: String?) {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        kernelRelease = text(names.release)
        host = text(names.nodename)
        self.command = command
        startWall = .now()
        startMonotonic = .now()
        self.kernelObservation = kernelObservation
        kernelObservationNote = note
    }

    public var majorVersion: Int { Int(version.split(separator: ".").first ?? "") ?? 0 }
}

/// How a trace ended: counts a reader can check.
public struct TraceSummary: Sendable, Codable {
    public var syscalls: Int
    public var kernelSamples: UInt64
    public var lostKernelSamples: UInt64
    public var endMonotonic: MonotonicTime
    /// Samples taken and deliberately not written, by why (version 1.20;
    /// `KernelCorrelator.leftOut`): with the samples written they add up
    /// to `kernelSamples`.
    public var leftOutKernelSamples: [String: UInt64]?
}

/// One line of a trace file (JSON Lines, docs/trace-format.md).
public enum TraceRecord: Sendable {
    case header(TraceHeader)
    /// A syscall's entry, for renderers that show calls still in progress.
    case syscallEntry(SyscallInvocation)
    case syscall(SyscallInvocation)
    case syscallAbandoned(SyscallInvocation)
    case process(ProcessEvent)
    case kernelEvent(KernelSample)
    /// One of the program's own functions entered or left (`--functions`).
    case function(FunctionEvent)
    /// An alignment that calls refer to by id (format 1.2).
    case alignment(id: Int, ChainAlignment)
    /// A connection paired from both ends, written at the end of the trace.
    case connection(Connection)
    /// A kernel chain that later samples refer to by id (format 1.1).
    /// `symbols`: the frames' symbols when some are compiler copies (format 1.10).
    case chain(id: Int, frames: [String], symbols: [String]?)
    /// Threads inside calls the kernel records, not yet written, and since
    /// when; `time`, when the tracer looked (format 1.15). A timeline holds
    /// the lines begun after them, as the live one did.
    case inFlight(time: MonotonicTime, since: [Int32: MonotonicTime])
    case end(TraceSummary)

    /// When the record was emitted, on the trace's monotonic clock (a
    /// syscall when it returned), for merging traces.
    public var time: MonotonicTime {
        switch self {
        case let .header(header): header.startMonotonic
        case let .syscallEntry(call), let .syscallAbandoned(call): call.entryTime
        case let .syscall(call): call.exitTime ?? call.entryTime
        case let .process(event): event.time
        case let .kernelEvent(sample): sample.time
        case let .function(event): event.time
        case let .connection(connection): connection.connectTime ?? connection.acceptTime ?? MonotonicTime(nanoseconds: 0)
        case .chain, .alignment: MonotonicTime(nanoseconds: 0)
        case let .inFlight(time, _): time
        case let .end(summary): summary.endMonotonic
        }
    }

    var isHeader: Bool {
        if case .header = self { return true }
        return false
    }

    /// Whether a replay gives it to the sinks (`TraceSink.replay`): an event, or the calls then in flight.
    public var isReplayed: Bool {
        if case .inFlight = self { return true }
        return event != nil
    }

    /// The trace event it replays, if any.
    public var event: TraceEvent? {
        switch self {
        // Connections are derived from the calls: consumers pair them again (across merged files too).
        case .header, .end, .chain, .alignment, .connection, .inFlight: nil
        case let .syscallEntry(call): .syscallEntered(call)
        case let .syscall(call): .syscallExited(call)
        case let .syscallAbandoned(call): .syscallAbandoned(call)
        case let .process(event): .process(event)
        case let .kernelEvent(sample): .kernelEvent(sample)
        case let .function(event): .function(event)
        }
    }
}

extension TraceRecord: Codable {
    enum TypeKey: String, CodingKey { case type, text, error, id, frames, symbols, time, threads }

    struct ThreadSince: Codable {
        let tid: Int32
        let since: MonotonicTime
    }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "header": self = .header(try TraceHeader(from: decoder))
        case "syscall_entry": self = .syscallEntry(try SyscallInvocation(from: decoder))
        case "syscall": self = .syscall(try SyscallInvocation(from: decoder))
        case "syscall_abandoned": self = .syscallAbandoned(try SyscallInvocation(from: decoder))
        case "process": self = .process(try ProcessEvent(from: decoder))
        case "kernel_event": self = .kernelEvent(try KernelSample(from: decoder))
        case "function": self = .function(try FunctionEvent(from: decoder))
        case "connection": self = .connection(try Connection(from: decoder))
        case "alignment":
            let id = try decoder.container(keyedBy: TypeKey.self).decode(Int.self, forKey: .id)
            let alignment = try ChainAlignment(from: decoder)
            (decoder.userInfo[AlignmentTable.key] as? AlignmentTable)?.alignments[id] = alignment
            self = .alignment(id: id, alignment)
        case "chain":
            let keyed = try decoder.container(keyedBy: TypeKey.self)
            let id = try keyed.decode(Int.self, forKey: .id)
            let frames = try keyed.decode([String].self, forKey: .frames)
            let symbols = try keyed.decodeIfPresent([String].self, forKey: .symbols)
            let table = decoder.userInfo[ChainTable.key] as? ChainTable
            table?.frames[id] = frames
            table?.symbols[id] = symbols
            self = .chain(id: id, frames: frames, symbols: symbols)
        case "in_flight":
            let keyed = try decoder.container(keyedBy: TypeKey.self)
            let threads = try keyed.decode([ThreadSince].self, forKey: .threads)
            self = .inFlight(time: try keyed.decode(MonotonicTime.self, forKey: .time),
                             since: Dictionary(threads.map { ($0.tid, $0.since) }, uniquingKeysWith: min))
        case "end": self = .end(try TraceSummary(from: decoder))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [TypeKey.type], debugDescription: "unknown record type '\(type)'"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var keyed = encoder.container(keyedBy: TypeKey.self)
        switch self {
        case let .header(header):
            try keyed.encode("header", forKey: .type)
            try header.encode(to: encoder)
        case let .syscallEntry(call):
            try keyed.encode("syscall_entry", forKey: .type)
            try call.encode(to: encoder)
        case let .syscall(call):
            try keyed.encode("syscall", forKey: .type)
            // The whole line as strace prints it, and the errno's name, for jq.
            try keyed.encode(call.entryText + call.exitText + ") = " + call.returnText, forKey: .text)
            if let errno = call.result?.errno { try keyed.encode(ErrnoName.name(Int(errno)) ?? String(errno), forKey: .error) }
            try call.encode(to: encoder)
        case let .syscallAbandoned(call):
            try keyed.encode("syscall_abandoned", forKey: .type)
            try call.encode(to: encoder)
        case let .process(event):
            try keyed.encode("process", forKey: .type)
            try event.encode(to: encoder)
        case let .kernelEvent(sample):
            try keyed.encode("kernel_event", forKey: .type)
            try sample.encode(to: encoder)
        case let .function(event):
            try keyed.encode("function", forKey: .type)
            try event.encode(to: encoder)
        case let .alignment(id, alignment):
            try keyed.encode("alignment", forKey: .type)
            try keyed.encode(id, forKey: .id)
            try alignment.encode(to: encoder)
        case let .connection(connection):
            try keyed.encode("connection", forKey: .type)
            try connection.encode(to: encoder)
        case let .chain(id, frames, symbols):
            try keyed.encode("chain", forKey: .type)
            try keyed.encode(id, forKey: .id)
            try keyed.encode(frames, forKey: .frames)
            try keyed.encodeIfPresent(symbols, forKey: .symbols)
        case let .inFlight(time, since):
            try keyed.encode("in_flight", forKey: .type)
            try keyed.encode(time, forKey: .time)
            try keyed.encode(since.sorted { $0.key < $1.key }.map { ThreadSince(tid: $0.key, since: $0.value) }, forKey: .threads)
        case let .end(summary):
            try keyed.encode("end", forKey: .type)
            try summary.encode(to: encoder)
        }
    }
}

/// The alignments a trace file has defined so far, for calls that refer to them.
/// Sendable only because JSONDecoder's userInfo holds it: one reader fills
/// and reads it on one thread.
public final class AlignmentTable: @unchecked Sendable {
    public static let key = CodingUserInfoKey(rawValue: "sockettrace.alignments")!
    public var alignments: [Int: ChainAlignment] = [:]
    public init() {}
}

/// The chains a trace file has defined so far, for samples that refer to them.
/// Sendable only because JSONDecoder's userInfo holds it (as AlignmentTable).
public final class ChainTable: @unchecked Sendable {
    public static let key = CodingUserInfoKey(rawValue: "sockettrace.chains")!
    public var frames: [Int: [String]] = [:]
    /// The chains' symbols, for those with compiler copies among their frames.
    public var symbols: [Int: [String]] = [:]
    public init() {}
}
