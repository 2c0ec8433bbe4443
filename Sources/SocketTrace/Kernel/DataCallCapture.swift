import CLibbpf
import Glibc

/// Records traced programs' reads and writes on sockets in the kernel
/// (`DataCallProgram`), so that those calls run without a ptrace stop:
/// the seccomp filter lets them through and their records come from a BPF
/// ring. The tracer says which processes are traced (`follow`, `forget`)
/// and takes the records (`drain`) before it handles each stop, so the
/// calls come in order with the ones that stop.
public final class DataCallCapture {
    let maps: DataCallProgram.Maps
    var programs: [Int32] = []
    var links: [Int32] = []
    var ring: BPFRing?
    var isOpen = true
    /// The x86-64 calls recorded (and so not stopped at).
    public static let syscalls: Set<Syscall> = [.read, .write]
    /// The ring's size: about 40,000 records of a few bytes each.
    static let ringBytes: UInt32 = 8 << 20
    /// The most a process may hold (tgids) and threads may be inside a call at once.
    static let processes: UInt32 = 8192, threads: UInt32 = 65536

    /// Whether reads and writes run without a stop, recorded; false: the
    /// kernel only times the calls the tracer stops at, reads and writes
    /// too, and names a close's file (what a close released is then told
    /// with `--functions`, `-k` and the rest that stop every call).
    public let recordsData: Bool

    /// Loads the programs and attaches them to `sys_enter` and `sys_exit`;
    /// throws where BPF, BTF or raw tracepoints are not allowed.
    /// `bytesCaptured`: how much of a buffer `-s` shows.
    public init(bytesCaptured: Int, recordsData: Bool = true) throws {
        self.recordsData = recordsData
        let offsets = try KernelStructOffsets.running()
        var made = BPFMapSet(purpose: "that records data calls")
        maps = DataCallProgram.Maps(
            tgids: try made.create(BPF_MAP_TYPE_HASH, "st_tgids", key: 4, value: 1, entries: Self.processes),
            inflight: try made.create(BPF_MAP_TYPE_HASH, "st_inflight", key: 4, value: 16, entries: Self.threads),
            // LRU: the entries of threads that ended make room for new ones.
            entered: try made.create(BPF_MAP_TYPE_LRU_HASH, "st_entered", key: 4, value: 32, entries: Self.threads),
            timed: try made.create(BPF_MAP_TYPE_ARRAY, "st_timed", key: 4, value: 4, entries: DataCallProgram.timedNumbers),
            scratch: try made.create(BPF_MAP_TYPE_PERCPU_ARRAY, "st_scratch", key: 4, value: UInt32(DataCallProgram.recordSize), entries: 1),
            ring: try made.create(BPF_MAP_TYPE_RINGBUF, "st_ring", key: 0, value: 0, entries: Self.ringBytes),
            lost: try made.create(BPF_MAP_TYPE_ARRAY, "st_lost", key: 4, value: 8, entries: 1))
        do {
            for number in Self.timedNumbers(recordsData: recordsData) {
                var key = number
                var one: UInt32 = 1
                guard bpf_map_update_elem(maps.timed, &key, &one, UInt64(BPF_ANY)) == 0 else {
                    throw TraceError(operation: "filling the BPF map st_timed", errno: errno)
                }
            }
            let limit = Int32(min(max(bytesCaptured, 0), Int(DataCallProgram.maximumCapture)))
            for (name, code, event) in [(Self.enterProgram, DataCallProgram.enter(maps, offsets: offsets, recordsData: recordsData), "sys_enter"),
                                        (Self.exitProgram, DataCallProgram.exit(maps, offsets: offsets, bytesCaptured: limit), "sys_exit")] {
                let program = try BPFProgram.load(name, code)
                programs.append(program)
                let link = bpf_raw_tracepoint_open(event, program)
                guard link >= 0 else { throw TraceError(operation: "attaching the BPF program to \(event)", errno: -link) }
                links.append(link)
            }
            ring = try BPFRing(map: maps.ring, purpose: "of data calls")
        } catch {
            close()
            throw error
        }
    }

    /// The calls whose kernel entry and exit times are kept
    /// (`kernelTimes(of:)`): every x86-64 call sockettrace knows but the
    /// recorded ones, and every i386 one (`KernelCallTimes.key`).
    static func timedNumbers(recordsData: Bool) -> [UInt32] {
        let x86 = Syscall.allCases.filter { !recordsData || !syscalls.contains($0) }.compactMap(\.x86_64Number)
            .filter { $0 < DataCallProgram.i386Base }
        let i386 = Syscall.allCases.compactMap(\.i386Number).filter { $0 < DataCallProgram.i386Base }.map { $0 + DataCallProgram.i386Base }
        return x86 + i386
    }

    /// The kernel's times of `tid`'s last timed call (one the tracer stops
    /// at): read at its exit stop, they are that call's.
    public func kernelTimes(of tid: Int32) -> KernelCallTimes? {
        var key = UInt32(bitPattern: tid)
        var entry: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        guard bpf_map_lookup_elem(maps.entered, &key, &entry) == 0 else { return nil }
        return KernelCallTimes(entry: MonotonicTime(nanoseconds: entry.0), number: entry.1,
                               exit: entry.2 == 0 ? nil : MonotonicTime(nanoseconds: entry.2),
                               closedFile: entry.3 == 0 ? nil : entry.3)
    }

    /// The processes whose calls are recorded (and timed).
    public private(set) var followed: Set<Int32> = []

    /// Records the calls of process `pid` (all its threads) from now on.
    public func follow(_ pid: Int32) {
        BPFProcessSet(map: maps.tgids).insert(pid)
        followed.insert(pid)
    }

    /// Stops recording process `pid`'s calls (it ended).
    public func forget(_ pid: Int32) {
        BPFProcessSet(map: maps.tgids).remove(pid)
        followed.remove(pid)
    }

    /// The records the ring holds, oldest first.
    public func drain() -> [DataCallRecord] {
        var records: [DataCallRecord] = []
        ring?.consume { bytes in
            if let record = DataCallRecord(bytes) { records.append(record) }
        }
        return records
    }

    /// Which of `threads` are inside a read or write on a socket (as the
    /// descriptor was at the entry), and when they entered
    /// it: each looked up by its id. Walking the map instead costs a pass
    /// over its 65,536 buckets however few calls it holds (~170 µs: the
    /// UDP flood's 50,000 stops spent 8 s of system time in it); a walk is
    /// made only for more threads than `lookupLimit`.
    public func inFlight<Threads: Collection>(among threads: Threads) -> [Int32: MonotonicTime] where Threads.Element == Int32 {
        guard threads.count <= Self.lookupLimit else {
            let wanted = Set(threads)
            return inFlight().filter { wanted.contains($0.key) }
        }
        var found: [Int32: MonotonicTime] = [:]
        for tid in threads {
            var key = UInt32(bitPattern: tid)
            var entry: (UInt64, UInt64) = (0, 0)
            if bpf_map_lookup_elem(maps.inflight, &key, &entry) == 0 { found[tid] = MonotonicTime(nanoseconds: entry.0) }
        }
        return found
    }

    static let lookupLimit = 512

    /// The recorder's programs' names (their kernel symbols end with them).
    static let enterProgram = "st_enter", exitProgram = "st_exit"

    /// Every thread inside a read or write of a traced process, and when it
    /// entered it. Walks the map, which holds only those calls.
    public func inFlight() -> [Int32: MonotonicTime] {
        var found: [Int32: MonotonicTime] = [:]
        var key: UInt32 = 0
        var next: UInt32 = 0
        var first = true
        while withUnsafeMutablePointer(to: &next, { next in
            first ? bpf_map_get_next_key(maps.inflight, nil, next) : bpf_map_get_next_key(maps.inflight, &key, next)
        }) == 0 {
            first = false
            key = next
            var entry: (UInt64, UInt64) = (0, 0)
            if bpf_map_lookup_elem(maps.inflight, &key, &entry) == 0 { found[Int32(bitPattern: key)] = MonotonicTime(nanoseconds: entry.0) }
            if found.count > Int(Self.threads) { break }
        }
        return found
    }

    /// Forgets a thread that ended inside a call (killed in a read, its
    /// entry never removed by an exit).
    public func forgetThread(_ tid: Int32) {
        var key = UInt32(bitPattern: tid)
        _ = bpf_map_delete_elem(maps.inflight, &key)
    }

    /// Records the ring had no room for.
    public var lost: UInt64 {
        var key: UInt32 = 0
        var value: UInt64 = 0
        guard bpf_map_lookup_elem(maps.lost, &key, &value) == 0 else { return 0 }
        return value
    }

    /// Detaches the programs and frees the maps; records still in the ring are dropped.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        ring?.free()
        ring = nil
        for fd in links + programs + [maps.tgids, maps.inflight, maps.entered, maps.timed, maps.scratch, maps.ring, maps.lost] where fd >= 0 { Glibc.close(fd) }
        links = []
        programs = []
    }

    deinit { close() }
}
