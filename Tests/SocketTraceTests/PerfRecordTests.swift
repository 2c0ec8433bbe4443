import CPerf
import Glibc
import Testing
@testable import SocketTrace

/// The perf side without a kernel: the attributes' bytes as the kernel
/// reads them, records parsed from hand-built buffers, and a ring drained
/// from hand-built memory (head and tail as the kernel and we move them).
@Suite struct PerfRecordTests {
    // MARK: building records

    static func header(type: UInt32, size: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(type)
        bytes.appendLittleEndian(UInt16(0))          // misc
        bytes.appendLittleEndian(UInt16(size))
        return bytes
    }

    /// A PERF_RECORD_SAMPLE with PerfEventAttributes.sampleType's layout.
    static func sample(id: UInt64, pid: Int32, tid: Int32, time: UInt64, cpu: UInt32,
                       chain: [UInt64], raw: [UInt8], rawSize: UInt32? = nil) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(id)
        body.appendLittleEndian(pid)
        body.appendLittleEndian(tid)
        body.appendLittleEndian(time)
        body.appendLittleEndian(cpu)
        body.appendLittleEndian(UInt32(0))           // reserved
        body.appendLittleEndian(UInt64(chain.count))
        for ip in chain { body.appendLittleEndian(ip) }
        body.appendLittleEndian(rawSize ?? UInt32(raw.count))
        body += raw
        // The kernel pads a sample to 8 bytes.
        body += [UInt8](repeating: 0, count: (8 - (body.count + 8) % 8) % 8)
        return header(type: 9, size: 8 + body.count) + body
    }

    static func lost(id: UInt64, count: UInt64) -> [UInt8] {
        var body: [UInt8] = []
        body.appendLittleEndian(id)
        body.appendLittleEndian(count)
        return header(type: 2, size: 24) + body
    }

    static let kernelContext = UInt64(bitPattern: -128)
    static let userContext = UInt64(bitPattern: -512)

    static func records(_ bytes: [UInt8]) -> [PerfRecords.Record] { Array(PerfRecords(bytes, length: bytes.count)) }

    // MARK: attributes

    @Test("the attributes: a tracepoint sampled at every hit, its chain, monotonic time")
    func attributes() {
        let attributes = PerfEventAttributes(tracepoint: 1234, inherit: true, kernelChain: true)
        let attr = attributes.cValue
        #expect(attr.type == 2)                       // PERF_TYPE_TRACEPOINT
        #expect(attr.size == UInt32(MemoryLayout<perf_event_attr>.size))
        #expect(attr.config == 1234)
        #expect(attr.sample_period == 1)
        // IDENTIFIER | RAW | CPU | CALLCHAIN | TIME | TID
        #expect(attr.sample_type == 0x10000 | 0x400 | 0x80 | 0x20 | 0x4 | 0x2)
        #expect(attr.read_format == 0x10)             // PERF_FORMAT_LOST
        #expect(attr.clockid == CLOCK_MONOTONIC)
        // The bit fields, as the kernel reads the word at byte 40.
        func flags(_ a: PerfEventAttributes) -> UInt64 {
            withUnsafeBytes(of: a.cValue) { $0.load(fromByteOffset: 40, as: UInt64.self) }
        }
        let disabled: UInt64 = 1 << 0, inherit: UInt64 = 1 << 1, excludeKernelChain: UInt64 = 1 << 21,
            excludeUserChain: UInt64 = 1 << 22, useClockID: UInt64 = 1 << 25
        #expect(flags(attributes) == disabled | inherit | excludeUserChain | useClockID)
        #expect(flags(PerfEventAttributes(tracepoint: 1, inherit: false, kernelChain: false))
                == disabled | excludeKernelChain | excludeUserChain | useClockID)
        #expect(withUnsafeBytes(of: attr) { $0.load(fromByteOffset: 8, as: UInt64.self) } == 1234)
        #expect(withUnsafeBytes(of: attr) { $0.load(fromByteOffset: 92, as: Int32.self) } == CLOCK_MONOTONIC)
        var older = attributes
        older.countLost = false
        #expect(older.cValue.read_format == 0)
    }

    // MARK: records

    @Test("a sample: its fields, its chain's byte range and its raw record")
    func sample() throws {
        let chain: [UInt64] = [Self.kernelContext, 0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020, Self.userContext, 0x4010_00]
        let bytes = Self.sample(id: 77, pid: 100, tid: 101, time: 123_456_789, cpu: 3, chain: chain, raw: [1, 2, 3, 4, 5])
        let records = Self.records(bytes)
        #expect(records.count == 1)
        guard case let .sample(sample) = try #require(records.first) else { Issue.record("not a sample"); return }
        #expect(sample.id == 77 && sample.pid == 100 && sample.tid == 101 && sample.time == 123_456_789 && sample.cpu == 3)
        #expect(sample.frameCount == 5)
        #expect(Array(bytes[sample.raw]) == [1, 2, 3, 4, 5])
        // Kernel frames only: markers dropped, nothing after the user context.
        #expect(PerfRecords.kernelFrames(bytes, of: sample) == [0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020])
    }

    @Test("an empty chain (exit events): the raw record follows its length")
    func emptyChain() throws {
        let bytes = Self.sample(id: 1, pid: 2, tid: 2, time: 5, cpu: 0, chain: [], raw: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0])
        guard case let .sample(sample) = try #require(Self.records(bytes).first) else { Issue.record("not a sample"); return }
        #expect(sample.frameCount == 0)
        #expect(PerfRecords.kernelFrames(bytes, of: sample).isEmpty)
        #expect(Array(bytes[sample.raw]) == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0])
    }

    @Test("lost records, records of other types, and samples in between")
    func mixed() {
        let other = Self.header(type: 5, size: 16) + [UInt8](repeating: 0xaa, count: 8)   // PERF_RECORD_THROTTLE
        let bytes = Self.sample(id: 1, pid: 1, tid: 1, time: 1, cpu: 0, chain: [0xffff_ffff_8100_0000], raw: [1])
            + Self.lost(id: 1, count: 42) + other
            + Self.sample(id: 2, pid: 1, tid: 1, time: 2, cpu: 1, chain: [], raw: [2, 2])
        let records = Self.records(bytes)
        #expect(records.count == 3)
        #expect(records[1] == .lost(42))
        if case let .sample(last) = records[2] { #expect(last.id == 2 && last.time == 2) } else { Issue.record("no second sample") }
    }

    @Test("a record cut short ends the buffer; a sample whose parts overrun it is skipped")
    func damaged() {
        let whole = Self.sample(id: 1, pid: 1, tid: 1, time: 1, cpu: 0, chain: [], raw: [1, 2, 3])
        // Only part of the second record was copied.
        #expect(Self.records(whole + whole.prefix(20)).count == 1)
        // A length that stops in the middle of the buffer counts.
        #expect(Array(PerfRecords(whole + whole, length: whole.count)).count == 1)
        // A header of size 0 (never written) stops the reading.
        #expect(Self.records(Self.header(type: 9, size: 0) + whole).isEmpty)
        // A raw size past the record's end, or a chain longer than the record.
        let overrun = Self.sample(id: 1, pid: 1, tid: 1, time: 1, cpu: 0, chain: [], raw: [1, 2, 3], rawSize: 200)
        var longChain = whole
        longChain.replaceSubrange(40..<48, with: [0, 0, 0, 1, 0, 0, 0, 0])
        #expect(Self.records(overrun + longChain + whole).count == 1)
        // Too short for a header.
        #expect(Self.records([9, 0, 0, 0]).isEmpty)
    }

    // MARK: the ring

    /// A ring in ordinary memory: a metadata page, then one data page.
    final class FakeRing {
        let page = 4096
        let memory: UnsafeMutableRawPointer
        var ring: PerfRing { PerfRing(fd: -1, base: memory, pageSize: page, dataSize: page) }

        init() {
            memory = UnsafeMutableRawPointer.allocate(byteCount: 2 * 4096, alignment: 4096)
            memory.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * 4096)
        }
        deinit { memory.deallocate() }

        var head: UInt64 {
            get { memory.load(fromByteOffset: MemoryLayout<perf_event_mmap_page>.offset(of: \.data_head)!, as: UInt64.self) }
            set { memory.storeBytes(of: newValue, toByteOffset: MemoryLayout<perf_event_mmap_page>.offset(of: \.data_head)!, as: UInt64.self) }
        }
        var tail: UInt64 { cs_perf_ring_tail(memory) }

        /// Writes `bytes` at the head, wrapping around as the kernel does.
        func write(_ bytes: [UInt8]) {
            for (index, byte) in bytes.enumerated() {
                memory.storeBytes(of: byte, toByteOffset: page + Int((head + UInt64(index)) % UInt64(page)), as: UInt8.self)
            }
            head += UInt64(bytes.count)
        }
    }

    @Test("draining copies whole records, across the wrap, and moves the tail")
    func drain() throws {
        let fake = FakeRing()
        #expect(MemoryLayout<perf_event_mmap_page>.offset(of: \.data_head) == 1024)
        #expect(MemoryLayout<perf_event_mmap_page>.offset(of: \.data_tail) == 1032)
        // Start near the end so that the second record wraps around.
        let start: UInt64 = 4096 - 40
        fake.head = start
        cs_perf_ring_set_tail(fake.memory, start)
        let first = Self.lost(id: 1, count: 3)                                              // 24 bytes
        let second = Self.sample(id: 9, pid: 5, tid: 6, time: 7, cpu: 1, chain: [0xffff_ffff_8100_0040], raw: [1, 2, 3, 4])
        fake.write(first)
        fake.write(second)
        #expect(fake.ring.unread == UInt64(first.count + second.count))
        var out = [UInt8](repeating: 0, count: 1024)
        let copied = out.withUnsafeMutableBytes { fake.ring.drain(into: $0) }
        #expect(copied == first.count + second.count)
        #expect(Array(out.prefix(copied)) == first + second)
        #expect(fake.tail == fake.head)
        #expect(fake.ring.unread == 0)
        #expect(Self.records(Array(out.prefix(copied))).count == 2)
    }

    @Test("a record that does not fit waits in the ring for the next drain")
    func drainWhatFits() {
        let fake = FakeRing()
        let first = Self.lost(id: 1, count: 1), second = Self.lost(id: 1, count: 2)
        fake.write(first)
        fake.write(second)
        var out = [UInt8](repeating: 0, count: 30)
        var copied = out.withUnsafeMutableBytes { fake.ring.drain(into: $0) }
        #expect(copied == 24 && Array(out.prefix(24)) == first)
        #expect(fake.tail == 24)
        copied = out.withUnsafeMutableBytes { fake.ring.drain(into: $0) }
        #expect(copied == 24 && Array(out.prefix(24)) == second)
        #expect(out.withUnsafeMutableBytes { fake.ring.drain(into: $0) } == 0)
        // Too small for even one: nothing taken.
        fake.write(first)
        var small = [UInt8](repeating: 0, count: 16)
        #expect(small.withUnsafeMutableBytes { fake.ring.drain(into: $0) } == 0)
        #expect(fake.ring.unread == 24)
    }
}
