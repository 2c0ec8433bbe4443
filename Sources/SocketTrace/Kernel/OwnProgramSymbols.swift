import CLibbpf
import Glibc

/// sockettrace's own BPF programs as kernel symbols. The kallsyms copy kept
/// between runs leaves them out (each run loads them anew: KallsymsCache),
/// yet an interrupt can land in one while it runs (the kernel-code reader,
/// run in the tracer's own bpf() call, under a timer's softirq): its frame
/// then resolved to the last symbol below the BPF area, `_einittext`, a
/// gigabyte away (audit 50 F1). Read from the kernel's own account of each
/// loaded program (its JIT image's address and length, its tag and name),
/// named as kallsyms names it: `bpf_prog_TAG_NAME`.
struct OwnProgramSymbols {
    struct Program: Equatable {
        let start: UInt64
        let length: UInt64
        let name: String

        func contains(_ address: UInt64) -> Bool { address >= start && address - start < length }
    }

    /// The loaded programs whose names are `names` (every program of every
    /// sockettrace running: they are all left out of the copy).
    static func loaded(named names: [String]) -> [Program] {
        var found: [Program] = []
        var id: UInt32 = 0, next: UInt32 = 0
        while bpf_prog_get_next_id(id, &next) == 0 {
            id = next
            let fd = bpf_prog_get_fd_by_id(id)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            var info = bpf_prog_info()
            var length = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else { continue }
            let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard names.contains(name), info.nr_jited_ksyms >= 1 || info.jited_prog_len > 0 else { continue }
            let tag = withUnsafeBytes(of: info.tag) { $0.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
            // The image's address and length: asked for again with room for one of each.
            let address = UnsafeMutablePointer<UInt64>.allocate(capacity: 1), size = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
            defer { address.deallocate(); size.deallocate() }
            address.pointee = 0
            size.pointee = 0
            var images = bpf_prog_info()
            images.nr_jited_ksyms = 1
            images.nr_jited_func_lens = 1
            images.jited_ksyms = UInt64(UInt(bitPattern: address))
            images.jited_func_lens = UInt64(UInt(bitPattern: size))
            length = UInt32(MemoryLayout<bpf_prog_info>.size)
            let read = bpf_obj_get_info_by_fd(fd, &images, &length)
            guard read == 0, address.pointee != 0, size.pointee > 0 else { continue }
            found.append(Program(start: address.pointee, length: UInt64(size.pointee), name: "bpf_prog_\(tag)_\(name)"))
        }
        return found
    }
}
