import Foundation

/// A problem in a trace file, naming the file and line.
public struct TraceFileError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int
    public let message: String

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

/// Reads a trace file: every complete record, in order. A corrupt line is an
/// error naming it; a last line cut short (a tracer killed mid-write) ends
/// the trace there, with a warning saying where.
public struct TraceFileReader {
    public let path: String
    public private(set) var header: TraceHeader?
    public private(set) var records: [TraceRecord] = []
    /// Set when the file ended in the middle of a record.
    public private(set) var truncatedAt: Int?

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TraceFileError(file: path, line: 0, message: "cannot be read")
        }
        if data.isEmpty { throw TraceFileError(file: path, line: 0, message: "is empty: not a sockettrace trace") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.userInfo[ChainTable.key] = ChainTable()
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        for (index, line) in lines.enumerated() {
            let number = index + 1
            if line.isEmpty { continue }
            let isLast = index == lines.count - 1
            let record: TraceRecord
            do {
                record = try decoder.decode(TraceRecord.self, from: Data(line))
            } catch {
                if isLast && !endsWithNewline {
                    truncatedAt = number
                    break
                }
                throw TraceFileError(file: path, line: number, message: "not a valid trace record (\(Self.reason(error)))")
            }
            if case let .header(found) = record {
                guard number == 1 else { throw TraceFileError(file: path, line: number, message: "a header in the middle of the trace") }
                guard found.format == TraceHeader.formatName else {
                    throw TraceFileError(file: path, line: 1, message: "format '\(found.format)' is not \(TraceHeader.formatName)")
                }
                let current = Int(TraceHeader.currentVersion.split(separator: ".")[0]) ?? 1
                guard found.majorVersion <= current else {
                    throw TraceFileError(file: path, line: 1, message: "trace format version \(found.version) is newer than this sockettrace reads (\(current).x)")
                }
                header = found
            } else if number == 1 {
                throw TraceFileError(file: path, line: 1, message: "the first record is not a header: not a sockettrace trace")
            }
            records.append(record)
        }
        if header == nil { throw TraceFileError(file: path, line: 1, message: "no header record: not a sockettrace trace") }
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
        let events = { (reader: TraceFileReader) in reader.records.filter { $0.event != nil } }
        if readers.count == 1 { return events(readers[0]) }
        return readers.flatMap(events)
            .enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }
}
