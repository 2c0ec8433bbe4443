import CPtrace

/// Reads a stopped tracee's memory: raw bytes and little-endian integers.
public protocol TraceeMemory {
    /// Up to `count` bytes at `address`; fewer at the end of a mapping, nil
    /// when nothing can be read there.
    func read(_ address: UInt64, count: Int) -> [UInt8]?
}

extension TraceeMemory {
    /// Exactly `count` bytes, or nil.
    public func readExactly(_ address: UInt64, count: Int) -> [UInt8]? {
        guard let bytes = read(address, count: count), bytes.count == count else { return nil }
        return bytes
    }

    public func readUInt32(_ address: UInt64) -> UInt32? {
        readExactly(address, count: 4).map { $0.loadLittleEndian(UInt32.self, at: 0) }
    }

    public func readUInt64(_ address: UInt64) -> UInt64? {
        readExactly(address, count: 8).map { $0.loadLittleEndian(UInt64.self, at: 0) }
    }

    public func readInt32(_ address: UInt64) -> Int32? { readUInt32(address).map { Int32(bitPattern: $0) } }
}

extension Array where Element == UInt8 {
    /// A little-endian integer at a byte offset (x86 is little-endian).
    public func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        let size = MemoryLayout<T>.size
        for index in 0..<size where offset + index < count {
            value |= T(truncatingIfNeeded: self[offset + index]) << (8 * index)
        }
        return value
    }

    public func loadBigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        let size = MemoryLayout<T>.size
        for index in 0..<size where offset + index < count {
            value = (value << 8) | T(truncatingIfNeeded: self[offset + index])
        }
        return value
    }
}

/// The memory of a live process, read with process_vm_readv (falling back to
/// PTRACE_PEEKDATA), which is what a tracer needs between stops.
public struct ProcessMemory: TraceeMemory {
    public let pid: Int32

    public init(pid: Int32) { self.pid = pid }

    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { raw in
            cs_read_memory(pid, address, raw.baseAddress, UInt64(count))
        }
        guard got > 0 else { return nil }
        if got < count { buffer.removeLast(count - Int(got)) }
        return buffer
    }
}

/// Memory made of byte ranges at given addresses: the memory images the
/// decoder tests build by hand, and a replay of captured buffers.
public struct MemoryImage: TraceeMemory {
    public var regions: [(address: UInt64, bytes: [UInt8])] = []

    public init() {}

    public mutating func place(_ bytes: [UInt8], at address: UInt64) {
        regions.append((address, bytes))
    }

    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        // The region placed last wins, so a test can overwrite a value.
        for region in regions.reversed() {
            let start = region.address
            let end = start + UInt64(region.bytes.count)
            if address >= start && address < end {
                let offset = Int(address - start)
                let available = min(count, region.bytes.count - offset)
                return Array(region.bytes[offset..<offset + available])
            }
        }
        return nil
    }
}

/// A stopped thread's memory for the length of one stop: each range is read
/// from the process once, however many decoders ask for it (a trace file
/// decodes a call twice, with and without descriptor decorations). Sealed
/// when the thread runs on: then it answers only what it read while the
/// thread was stopped (the second decoding, made after, asks for the same).
public final class StopMemory: TraceeMemory {
    let process: any TraceeMemory
    private var reads: [(address: UInt64, count: Int, bytes: [UInt8]?)] = []
    private(set) var sealed = false

    public init(pid: Int32) { process = ProcessMemory(pid: pid) }
    /// Over another reader of the process (a test's backend gives its own).
    init(_ process: any TraceeMemory) { self.process = process }

    /// The thread runs again: what it holds now may change.
    func seal() { sealed = true }

    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        if let earlier = reads.first(where: { $0.address == address && $0.count == count }) { return earlier.bytes }
        guard !sealed else { return nil }
        let bytes = process.read(address, count: count)
        reads.append((address, count, bytes))
        return bytes
    }
}
