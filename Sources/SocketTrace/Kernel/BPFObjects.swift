import CLibbpf
import Glibc

/// The maps of one BPF program set, created through libbpf: all closed
/// together, and all closed at once if one cannot be created.
struct BPFMapSet {
    /// What the maps are for, in errors: "that records data calls".
    let purpose: String
    private(set) var descriptors: [Int32] = []

    init(purpose: String) { self.purpose = purpose }

    mutating func create(_ type: bpf_map_type, _ name: String, key: UInt32, value: UInt32, entries: UInt32) throws -> Int32 {
        let fd = bpf_map_create(type, name, key, value, entries, nil)
        guard fd >= 0 else {
            close()
            throw TraceError(operation: "creating the BPF map \(name) \(purpose)", errno: -fd)
        }
        descriptors.append(fd)
        return fd
    }

    mutating func close() {
        for fd in descriptors { Glibc.close(fd) }
        descriptors = []
    }
}

/// The traced processes a program tells its tasks by: a hash map of
/// process ids (tgid → 1, 4-byte keys, 1-byte values).
struct BPFProcessSet {
    let map: Int32

    func insert(_ pid: Int32) {
        var key = UInt32(bitPattern: pid)
        var value: UInt8 = 1
        _ = bpf_map_update_elem(map, &key, &value, UInt64(BPF_ANY))
    }

    func remove(_ pid: Int32) {
        var key = UInt32(bitPattern: pid)
        _ = bpf_map_delete_elem(map, &key)
    }
}

/// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read through libbpf.
final class BPFRing {
    private var ring: OpaquePointer?
    /// What takes each record while `consume` runs.
    private var take: (UnsafeRawBufferPointer) -> Void = { _ in }

    /// `purpose` names it in errors: "of data calls".
    init(map: Int32, purpose: String) throws {
        ring = ring_buffer__new(map, { context, data, size in
            guard let context, let data else { return 0 }
            Unmanaged<BPFRing>.fromOpaque(context).takeUnretainedValue().take(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }, Unmanaged.passUnretained(self).toOpaque(), nil)
        guard ring != nil else { throw TraceError(operation: "reading the BPF ring \(purpose)", errno: errno) }
    }

    /// Hands each record the ring holds, oldest first, to `take` (kept
    /// only while the ring is read).
    func consume(_ take: (UnsafeRawBufferPointer) -> Void) {
        guard let ring else { return }
        withoutActuallyEscaping(take) { take in
            self.take = take
            _ = ring_buffer__consume(ring)
            self.take = { _ in }
        }
    }

    func free() {
        if let ring { ring_buffer__free(ring) }
        ring = nil
    }

    deinit { free() }
}

/// Loading a BPF program the assembler wrote (`BPFAssembler`).
enum BPFProgram {
    /// Loads `code` as a raw tracepoint program; the verifier's last lines
    /// say why when it refuses.
    static func load(_ name: String, _ code: [UInt64]) throws -> Int32 {
        /// One load; with `logLevel` 1 the verifier's last lines say why it refused.
        func attempt(logLevel: UInt32) -> (program: Int32, log: String) {
            var log = [CChar](repeating: 0, count: 1 << 16)
            return code.withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: bpf_insn.self, capacity: buffer.count) { instructions in
                    log.withUnsafeMutableBufferPointer { logBuffer in
                        var options = bpf_prog_load_opts()
                        options.sz = MemoryLayout<bpf_prog_load_opts>.size
                        options.log_buf = logBuffer.baseAddress
                        options.log_size = UInt32(logBuffer.count)
                        options.log_level = logLevel
                        let program = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, name, "GPL", instructions, buffer.count, &options)
                        return (program, String(cString: logBuffer.baseAddress!).split(separator: "\n").suffix(3).joined(separator: "; "))
                    }
                }
            }
        }
        let program = attempt(logLevel: 0).program
        guard program >= 0 else {
            throw TraceError(operation: "loading the BPF program \(name) (\(attempt(logLevel: 1).log))", errno: -program)
        }
        return program
    }
}
