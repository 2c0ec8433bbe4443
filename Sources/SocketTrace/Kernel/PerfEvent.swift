import CPerf
import Glibc

/// The attributes of one tracepoint event (struct perf_event_attr): every
/// hit sampled with its identifier, thread, CLOCK_MONOTONIC time, CPU,
/// kernel call chain and raw tracepoint record (the layout `PerfRecords`
/// reads), created disabled.
struct PerfEventAttributes: Equatable, Sendable {
    /// The tracepoint's id (tracefs' events/GROUP/NAME/id).
    var tracepoint: UInt64
    /// Follows the task's future children.
    var inherit = false
    /// With the kernel's call chain; without, the record keeps its layout,
    /// with an empty chain.
    var kernelChain = true
    /// The event's own count of samples lost to a full ring (Linux 6.0+,
    /// PERF_FORMAT_LOST): the ring reports a loss only when a later sample
    /// finds room again.
    var countLost = true

    /// What a sample holds, in this order (PerfRecords.Sample).
    static let sampleType: UInt64 = [PERF_SAMPLE_IDENTIFIER, PERF_SAMPLE_TID, PERF_SAMPLE_TIME,
                                     PERF_SAMPLE_CPU, PERF_SAMPLE_CALLCHAIN, PERF_SAMPLE_RAW]
        .reduce(0) { $0 | UInt64($1.rawValue) }

    /// The C struct the kernel takes.
    var cValue: perf_event_attr {
        var attr = perf_event_attr()
        attr.size = UInt32(MemoryLayout<perf_event_attr>.size)
        attr.type = PERF_TYPE_TRACEPOINT.rawValue
        attr.config = tracepoint
        attr.sample_period = 1
        attr.sample_type = Self.sampleType
        attr.use_clockid = 1
        attr.clockid = CLOCK_MONOTONIC
        attr.inherit = inherit ? 1 : 0
        attr.exclude_callchain_user = 1
        attr.exclude_callchain_kernel = kernelChain ? 0 : 1
        attr.disabled = 1
        attr.read_format = countLost ? UInt64(PERF_FORMAT_LOST.rawValue) : 0
        return attr
    }
}

/// perf_event_open and the event's ioctls, errors as `Errno`.
enum PerfEvent {
    /// Opens the event for task `pid` (-1: every task) on `cpu`. A kernel
    /// before 6.0 refuses PERF_FORMAT_LOST (EINVAL): then it is opened without.
    static func open(_ attributes: PerfEventAttributes, pid: Int32, cpu: Int32) throws(Errno) -> Int32 {
        var attr = attributes.cValue
        let fd = cs_perf_event_open(&attr, pid, cpu, -1, UInt(PERF_FLAG_FD_CLOEXEC))
        if fd >= 0 { return fd }
        let error = Errno.current
        guard error == .invalidArgument, attributes.countLost else { throw error }
        var older = attributes
        older.countLost = false
        attr = older.cValue
        return try Errno.check(cs_perf_event_open(&attr, pid, cpu, -1, UInt(PERF_FLAG_FD_CLOEXEC)))
    }

    /// The event's id, as PERF_SAMPLE_IDENTIFIER reports it.
    static func id(of fd: Int32) throws(Errno) -> UInt64 {
        var id: UInt64 = 0
        _ = try Errno.check(cs_perf_event_id(fd, &id))
        return id
    }

    /// Samples the event lost to a full ring so far (PERF_FORMAT_LOST: the
    /// count, then the lost samples); nil where the kernel cannot say.
    static func lostSamples(of fd: Int32) -> UInt64? {
        var values: (UInt64, UInt64) = (0, 0)
        let got = withUnsafeMutableBytes(of: &values) { read(fd, $0.baseAddress, $0.count) }
        return got == MemoryLayout<(UInt64, UInt64)>.size ? values.1 : nil
    }
}

/// A perf ring buffer: one metadata page (the kernel's head, our tail),
/// then `dataSize` bytes of records that wrap around.
struct PerfRing {
    let fd: Int32
    /// The mapping's start: the metadata page.
    let base: UnsafeMutableRawPointer
    let pageSize: Int
    let dataSize: Int

    init(fd: Int32, base: UnsafeMutableRawPointer, pageSize: Int, dataSize: Int) {
        self.fd = fd
        self.base = base
        self.pageSize = pageSize
        self.dataSize = dataSize
    }

    /// Maps 1 + `dataPages` pages of `fd`'s ring (a power of two of data pages).
    static func map(fd: Int32, dataPages: Int) throws(Errno) -> PerfRing {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let base = mmap(nil, (1 + dataPages) * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              base != MAP_FAILED else { throw Errno.current }
        return PerfRing(fd: fd, base: base, pageSize: page, dataSize: dataPages * page)
    }

    func unmap() { munmap(base, pageSize + dataSize) }

    /// Bytes written into the ring and not yet drained (no system call).
    var unread: UInt64 { cs_perf_ring_head(base) &- cs_perf_ring_tail(base) }

    /// Copies the records waiting in the ring into `out` (whole records,
    /// as many as fit) and frees their space in the ring. Returns the
    /// number of bytes copied.
    func drain(into out: UnsafeMutableRawBufferPointer) -> Int {
        let data = UnsafeRawPointer(base + pageSize)
        let head = cs_perf_ring_head(base)
        var tail = cs_perf_ring_tail(base)
        var copied = 0
        while tail < head {
            var header: UInt64 = 0
            withUnsafeMutableBytes(of: &header) { copy(from: data, at: tail, count: 8, to: $0.baseAddress!) }
            // struct perf_event_header: type (32 bits), misc (16), size (16).
            let size = Int(UInt16(truncatingIfNeeded: UInt64(littleEndian: header) >> 48))
            if size == 0 || copied + size > out.count { break }
            copy(from: data, at: tail, count: size, to: out.baseAddress! + copied)
            copied += size
            tail += UInt64(size)
        }
        cs_perf_ring_set_tail(base, tail)
        return copied
    }

    /// `count` bytes of the data from `position` on, in at most two pieces
    /// (where the ring wraps around).
    private func copy(from data: UnsafeRawPointer, at position: UInt64, count: Int, to out: UnsafeMutableRawPointer) {
        let offset = Int(position % UInt64(dataSize))
        let first = min(dataSize - offset, count)
        out.copyMemory(from: data + offset, byteCount: first)
        if first < count { (out + first).copyMemory(from: data, byteCount: count - first) }
    }
}
