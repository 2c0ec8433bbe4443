import Foundation

/// A problem in a trace file, naming the file and line.
public struct TraceFileError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// Reads a trace file record by record, in file order, holding one read
/// buffer and not the records: a report of a long trace streams through it.
/// A corrupt line is an error naming it; a last line cut short (a tracer
/// killed mid-write) ends the trace there, with `truncatedAt` saying where.
public final class TraceRecordStream {
    public let path: String
    public private(set) var header: TraceHeader
    /// Set when the file ended in the middle of a record.
    public private(set) var truncatedAt: Int?
    /// The `end` record, once read.
    public private(set) var summary: TraceSummary?
    /// Complete records read so far.
    public private(set) var recordCount = 0

    let fd: Int32
    var buffer: [UInt8] = []
    var start = 0
    var lineNumber = 0
    var endOfFile = false
    let decoder: JSONDecoder
    let fast: RecordDecoder

    public init(path: String) throws(TraceFileError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceFileError(file: path, line: 0, message: "cannot be read") }
        var info = stat()
        if fstat(fd, &info) == 0 && info.st_size == 0 {
            close(fd)
            throw TraceFileError(file: path, line: 0, message: "is empty: not a sockettrace trace")
        }
        decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[ChainTable.key] = ChainTable()
        decoder.userInfo[AlignmentTable.key] = AlignmentTable()
        fast = RecordDecoder(kernelDecoder: decoder)
        header = TraceHeader(command: [], kernelObservation: "off", note: nil)
        do throws(TraceFileError) {
            guard case let .header(found)? = try next() else {
                throw TraceFileError(file: path, line: 1, message: "no header record: not a sockettrace trace")
            }
            guard found.format == TraceHeader.formatName else {
                throw TraceFileError(file: path, line: 1, message: "format '\(found.format)' is not \(TraceHeader.formatName)")
            }
            let current = Int(TraceHeader.currentVersion.split(separator: ".")[0]) ?? 1
            guard found.majorVersion <= current else {
                throw TraceFileError(file: path, line: 1, message: "trace format version \(found.version) is newer than this sockettrace reads (\(current).x)")
            }
            header = found
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// The next line's bytes (without its newline), nil at the end of the file.
    func nextLine() -> (range: Range<Int>, last: Bool)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0a) {
                defer { start = newline + 1 }
                lineNumber += 1
                return (start..<newline, false)
            }
            if endOfFile {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                lineNumber += 1
                return (start..<buffer.count, true)
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            let chunk = 1 << 20
            let old = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: chunk))
            let got = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + old, chunk) }
            buffer.removeLast(chunk - max(got, 0))
            if got <= 0 { endOfFile = true }
        }
    }

    /// Give back the `syscall_entry` records format 1.16 leaves out (a
    /// call whose end came next): what was live is replayed as it was
    /// (audit 23: a call recorded long after it began was unfinished and
    /// resumed live, one line in `report`; strace's lines gave a call
    /// without its entry to an unfinished one of the same thread). Off
    /// for `report --format jsonl`, which writes back the records read.
    public var restoresLeftOutEntries = true
    /// Each thread's call whose `syscall_entry` was read (or given back)
    /// and whose end was not yet, by its entry time.
    var entered: [Int32: MonotonicTime] = [:]
    /// A `syscall` record held while the entry it stands for is given first.
    var heldEnd: TraceRecord?

    /// The next record in file order; nil at the end (or at a last line cut short).
    public func next() throws(TraceFileError) -> TraceRecord? {
        if let held = heldEnd {
            heldEnd = nil
            return held
        }
        guard let record = try nextInFile() else { return nil }
        guard restoresLeftOutEntries else { return record }
        switch record {
        case let .syscallEntry(call):
            entered[call.tid] = call.entryTime
        case let .syscall(call):
            if entered.removeValue(forKey: call.tid) != call.entryTime {
                heldEnd = record
                return .syscallEntry(call)
            }
        case let .syscallAbandoned(call):
            entered[call.tid] = nil
        default:
            break
        }
        return record
    }

    func nextInFile() throws(TraceFileError) -> TraceRecord? {
        while let (range, last) = nextLine() {
            if range.isEmpty { continue }
            let number = lineNumber
            var record: TraceRecord? = buffer.withUnsafeBufferPointer { fast.decode(UnsafeBufferPointer(rebasing: $0[range])) }
            if record == nil {
                do {
                    record = try decoder.decode(TraceRecord.self, from: Data(buffer[range]))
                } catch {
                    if last {
                        truncatedAt = number
                        return nil
                    }
                    throw TraceFileError(file: path, line: number, message: "not a valid trace record (\(TraceFileReader.reason(error)))")
                }
            }
            guard let record else { continue }
            if case .header = record, number != 1 {
                throw TraceFileError(file: path, line: number, message: "a header in the middle of the trace")
            } else if number == 1, !(record.isHeader) {
                throw TraceFileError(file: path, line: 1, message: "the first record is not a header: not a sockettrace trace")
            }
            if case let .end(found) = record { summary = found }
            recordCount += 1
            return record
        }
        return nil
    }

    /// The events of several traces on one timeline, each file read as it
    /// goes: the earliest of the files' next events first (client and server
    /// traced separately on one host share CLOCK_MONOTONIC).
    public static func mergeEvents(_ streams: [TraceRecordStream], _ body: (TraceRecord) -> Void) throws(TraceFileError) {
        var heads: [TraceRecord?] = []
        func nextEvent(_ stream: TraceRecordStream) throws(TraceFileError) -> TraceRecord? {
            while let record = try stream.next() {
                if record.isReplayed { return record }
            }
            return nil
        }
        for stream in streams { heads.append(try nextEvent(stream)) }
        while true {
            var best: Int?
            for (index, head) in heads.enumerated() {
                guard let head else { continue }
                if let current = best, let other = heads[current], other.time <= head.time { continue }
                best = index
            }
            guard let index = best, let record = heads[index] else { return }
            body(record)
            heads[index] = try nextEvent(streams[index])
        }
    }
}

/// A whole trace file in memory: its header and every complete record, for
/// the views that need all of it at once (Perfetto, diagrams, HTML, compare).
public struct TraceFileReader {
    public let path: String
    public private(set) var header: TraceHeader?
    public private(set) var records: [TraceRecord] = []
    /// Set when the file ended in the middle of a record.
    public private(set) var truncatedAt: Int?
    /// The `end` record's counts; nil for a trace cut short.
    public private(set) var summary: TraceSummary?

    public init(path: String) throws {
        self.path = path
        let stream = try TraceRecordStream(path: path)
        header = stream.header
        records.append(.header(stream.header))
        while let record = try stream.next() { records.append(record) }
        truncatedAt = stream.truncatedAt
        summary = stream.summary
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(context): context.debugDescription
        case let DecodingError.keyNotFound(key, _): "missing '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, context): "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case let DecodingError.valueNotFound(_, context): "missing value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: "\(error)"
        }
    }

    /// The records of several traces on one timeline (client and server
    /// traced separately on one host share CLOCK_MONOTONIC).
    public static func merged(_ readers: [TraceFileReader]) -> [TraceRecord] {
        let events = { (reader: TraceFileReader) in reader.records.filter(\.isReplayed) }
        if readers.count == 1 { return events(readers[0]) }
        return readers.flatMap(events)
            .enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }
}
