/// One read or write on a socket as the kernel recorded it
/// (`DataCallProgram`): who made it, its arguments and result, when it
/// entered and returned, and the bytes it moved (or the first of them).
public struct DataCallRecord: Equatable, Sendable {
    public let pid: Int32
    public let tid: Int32
    /// The x86-64 call number (read 0, write 1).
    public let number: Int64
    public let descriptor: UInt64
    public let buffer: UInt64
    public let count: UInt64
    public let entryTime: MonotonicTime
    public let exitTime: MonotonicTime
    /// The raw return value (a negative errno on failure).
    public let result: Int64
    public let inode: UInt64
    public let family: UInt16
    /// The bytes at `buffer`: written, or read (up to the result).
    public let bytes: [UInt8]

    /// Parses a record; nil when it is shorter than its header says.
    init?(_ raw: UnsafeRawBufferPointer) {
        let header = Int(DataCallProgram.header)
        guard raw.count >= header else { return nil }
        func word(_ offset: Int16) -> UInt64 { raw.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self) }
        let ids = word(DataCallProgram.pidTgid)
        pid = Int32(truncatingIfNeeded: ids >> 32)
        tid = Int32(truncatingIfNeeded: ids & 0xffff_ffff)
        number = Int64(bitPattern: word(DataCallProgram.number))
        descriptor = word(DataCallProgram.descriptor)
        buffer = word(DataCallProgram.buffer)
        count = word(DataCallProgram.count)
        entryTime = MonotonicTime(nanoseconds: word(DataCallProgram.entryTime))
        exitTime = MonotonicTime(nanoseconds: word(DataCallProgram.exitTime))
        result = Int64(bitPattern: word(DataCallProgram.result))
        inode = word(DataCallProgram.inode)
        family = UInt16(truncatingIfNeeded: word(DataCallProgram.family))
        let captured = Int(word(DataCallProgram.captured))
        guard captured <= raw.count - header else { return nil }
        bytes = Array(raw[header..<header + captured])
    }
}

/// The tracee's memory as a data call's record has it: the bytes at its
/// buffer, nothing else (the thread ran on; its memory is not read).
struct RecordedMemory: TraceeMemory {
    let address: UInt64
    let bytes: [UInt8]

    func read(_ at: UInt64, count: Int) -> [UInt8]? {
        if count == 0 && at == address { return [] }
        guard at >= address, at - address < UInt64(bytes.count) else { return nil }
        let start = Int(at - address)
        return Array(bytes[start..<min(bytes.count, start + count)])
    }
}
