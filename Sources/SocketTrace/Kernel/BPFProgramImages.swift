import CLibbpf
import Glibc

/// The machine code of the BPF programs loaded now, each where the kernel
/// put it, named as kallsyms names it (`bpf_prog_TAG_NAME`). Programs come
/// and go while a trace runs (bpftrace started after sockettrace, its own
/// programs, which the kept kallsyms copy leaves out), so a frame in one is
/// never named from kallsyms' nearest symbol: that named a timer's softirq
/// in sockettrace's own code reader `_einittext` (audit 50 F1) and a frame
/// in bpftrace's program another program, unloaded or ended 0x3ab bytes
/// before it (audit 51 N1). It is named from the kernel's account of each
/// program (bpf_obj_get_info_by_fd: its image's address and length, its
/// tag, name and load time), loaded by the sample's time and still loaded
/// when the frame is named, or not at all.
struct BPFProgramImages {
    struct Image: Equatable {
        /// The kernel's id for the program (never given to another).
        let id: UInt32
        let start: UInt64
        let length: UInt64
        let name: String
        /// When the program was loaded, in ns since boot (CLOCK_BOOTTIME).
        let loaded: UInt64

        func contains(_ address: UInt64) -> Bool { address >= start && address - start < length }
    }

    /// Every loaded program's main image (a program's subprograms have
    /// images of their own, named by their own tags: not named here).
    static func loaded() -> [Image] {
        var found: [Image] = []
        for id in KallsymsCache.bpfProgramIDs() ?? [] {
            let fd = bpf_prog_get_fd_by_id(id)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            var info = bpf_prog_info()
            var length = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0, info.nr_jited_ksyms >= 1 else { continue }
            let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let tag = withUnsafeBytes(of: info.tag) { $0.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
            // The images' addresses and lengths, asked for again with room for them all.
            let count = Int(info.nr_jited_ksyms)
            let addresses = UnsafeMutablePointer<UInt64>.allocate(capacity: count), sizes = UnsafeMutablePointer<UInt32>.allocate(capacity: count)
            defer { addresses.deallocate(); sizes.deallocate() }
            addresses.initialize(repeating: 0, count: count)
            sizes.initialize(repeating: 0, count: count)
            var images = bpf_prog_info()
            images.nr_jited_ksyms = UInt32(count)
            images.nr_jited_func_lens = UInt32(count)
            images.jited_ksyms = UInt64(UInt(bitPattern: addresses))
            images.jited_func_lens = UInt64(UInt(bitPattern: sizes))
            length = UInt32(MemoryLayout<bpf_prog_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &images, &length) == 0, addresses[0] != 0, sizes[0] > 0 else { continue }
            found.append(Image(id: id, start: addresses[0], length: UInt64(sizes[0]), name: "bpf_prog_\(tag)_\(name)", loaded: info.load_time))
        }
        return found
    }

    /// Whether the program `id` is still loaded. One loaded before a sample
    /// and still loaded after it held its image's addresses at the sample
    /// (audit 52 A1: a program unloaded, another put at the same address,
    /// named by the first's image as it was remembered).
    static func stillLoaded(_ id: UInt32) -> Bool {
        let fd = bpf_prog_get_fd_by_id(id)
        guard fd >= 0 else { return false }
        Glibc.close(fd)
        return true
    }

    /// CLOCK_BOOTTIME less CLOCK_MONOTONIC now: what a sample's time is
    /// shifted by to compare it with a program's load time.
    static func bootOffset() -> UInt64 {
        var boot = timespec(), monotonic = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_BOOTTIME, &boot)
        let nanoseconds = { (time: timespec) in UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec) }
        return nanoseconds(boot) &- nanoseconds(monotonic)
    }
}
