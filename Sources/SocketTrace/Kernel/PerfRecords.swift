/// The records of a perf ring, as drained into a byte buffer: each starts
/// with a struct perf_event_header (type 32 bits, misc 16, size 16, size
/// including the header). Samples have the layout of
/// `PerfEventAttributes.sampleType`; a lost record says how many samples
/// a full ring dropped. Other records are skipped, as is anything cut short.
struct PerfRecords: Sequence, IteratorProtocol {
    /// PERF_RECORD_LOST and PERF_RECORD_SAMPLE (linux/perf_event.h).
    static let lostType: UInt32 = 2
    static let sampleType: UInt32 = 9
    static let headerSize = 8

    enum Record: Equatable {
        case sample(Sample)
        /// Samples dropped (PERF_RECORD_LOST: id, then the count).
        case lost(UInt64)
    }

    /// A sample: identifier, pid and tid, time, cpu (and a reserved word),
    /// the call chain's length and addresses, the raw record's size and bytes.
    /// The chain and the raw record are byte ranges of the buffer.
    struct Sample: Equatable {
        var id: UInt64
        var pid: Int32
        var tid: Int32
        var time: UInt64
        var cpu: UInt32
        /// Where the chain's addresses are (8 bytes each).
        var chain: Range<Int>
        /// Where the raw tracepoint record is.
        var raw: Range<Int>

        var frameCount: Int { chain.count / 8 }
    }

    let buffer: [UInt8]
    let length: Int
    var offset = 0

    /// The records in the first `length` bytes of `buffer`.
    init(_ buffer: [UInt8], length: Int) {
        self.buffer = buffer
        self.length = Swift.min(length, buffer.count)
    }

    mutating func next() -> Record? {
        while offset + Self.headerSize <= length {
            let start = offset
            let type = buffer.loadLittleEndian(UInt32.self, at: start)
            let size = Int(buffer.loadLittleEndian(UInt16.self, at: start + 6))
            guard size >= Self.headerSize, start + size <= length else { return nil }
            offset += size
            let end = start + size
            switch type {
            case Self.lostType where start + 24 <= end:
                return .lost(buffer.loadLittleEndian(UInt64.self, at: start + 16))
            case Self.sampleType:
                if let sample = Self.sample(buffer, from: start + Self.headerSize, to: end) { return .sample(sample) }
            default:
                continue
            }
        }
        return nil
    }

    /// The fixed part is 48 bytes: id, pid/tid, time, cpu/reserved, frames.
    static func sample(_ buffer: [UInt8], from start: Int, to end: Int) -> Sample? {
        guard start + 40 <= end else { return nil }
        let frames = Int(buffer.loadLittleEndian(UInt64.self, at: start + 32))
        let chainStart = start + 40
        guard frames >= 0, frames <= (end - chainStart) / 8 else { return nil }
        let rawSizeAt = chainStart + frames * 8
        guard rawSizeAt + 4 <= end else { return nil }
        let rawSize = Int(buffer.loadLittleEndian(UInt32.self, at: rawSizeAt))
        guard rawSizeAt + 4 + rawSize <= end else { return nil }
        return Sample(id: buffer.loadLittleEndian(UInt64.self, at: start),
                      pid: buffer.loadLittleEndian(Int32.self, at: start + 8),
                      tid: buffer.loadLittleEndian(Int32.self, at: start + 12),
                      time: buffer.loadLittleEndian(UInt64.self, at: start + 16),
                      cpu: buffer.loadLittleEndian(UInt32.self, at: start + 24),
                      chain: chainStart..<rawSizeAt,
                      raw: (rawSizeAt + 4)..<(rawSizeAt + 4 + rawSize))
    }

    /// PERF_CONTEXT_USER: where a chain's user frames begin.
    static let userContext = UInt64(bitPattern: -512)
    /// Above this, an address is a context marker (PERF_CONTEXT_MAX = -4095).
    static let contextMarkers = UInt64.max - 4095

    /// The kernel frames of a sample's chain: its addresses up to the user
    /// context, without the context markers.
    static func kernelFrames(_ buffer: [UInt8], of sample: Sample) -> [UInt64] {
        var addresses: [UInt64] = []
        addresses.reserveCapacity(sample.frameCount)
        for at in stride(from: sample.chain.lowerBound, to: sample.chain.upperBound, by: 8) {
            let ip = buffer.loadLittleEndian(UInt64.self, at: at)
            if ip >= contextMarkers {
                if ip == userContext { break }
                continue
            }
            addresses.append(ip)
        }
        return addresses
    }
}
