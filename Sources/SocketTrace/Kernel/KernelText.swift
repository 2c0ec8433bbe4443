import CLibbpf
import Glibc

/// Reads the running kernel's machine code. This kernel has no /proc/kcore,
/// so a BPF program does it: a raw-tracepoint program, never attached, run
/// on demand with BPF_PROG_TEST_RUN, copies up to a page of kernel text
/// (`bpf_probe_read_kernel`) into an array map that is then read back.
/// What was read is kept: the same functions are asked about again and again.
public final class KernelText {
    let program: Int32
    let map: Int32
    static let chunk = 4096
    /// The name of its program and map (the program's kallsyms symbol ends in it).
    static let name = "st_ktext"
    var pages: [UInt64: [UInt8]] = [:]

    /// Loads the reader; fails without CAP_BPF and CAP_PERFMON (or root),
    /// or where the kernel forbids reading its memory (lockdown).
    public init() throws {
        map = bpf_map_create(BPF_MAP_TYPE_ARRAY, Self.name, 4, UInt32(Self.chunk), 1, nil)
        guard map >= 0 else { throw TraceError(operation: "creating the BPF map that reads kernel code", errno: -map) }
        let instructions = Self.reader(map: map)
        let loaded = instructions.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: bpf_insn.self, capacity: buffer.count) {
                bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, Self.name, "GPL", $0, buffer.count, nil)
            }
        }
        guard loaded >= 0 else {
            Glibc.close(map)
            throw TraceError(operation: "loading the BPF program that reads kernel code", errno: -loaded)
        }
        program = loaded
    }

    deinit {
        Glibc.close(program)
        Glibc.close(map)
    }

    /// One BPF instruction: opcode, registers, offset, immediate.
    static func instruction(_ code: Int, dst: Int = 0, src: Int = 0, offset: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64(dst | src << 4) << 8 | UInt64(UInt16(bitPattern: offset)) << 16 | UInt64(UInt32(bitPattern: imm)) << 32
    }

    /// `value = map[0]; return bpf_probe_read_kernel(value, ctx[1] & 4095, ctx[0])`
    /// (0, or the helper's negative errno; 1 when the map has no value).
    static func reader(map: Int32) -> [UInt64] {
        let (alu64, mov, add, and, x, k) = (0x07, 0xb0, 0x00, 0x50, 0x08, 0x00)
        let (ldxdw, stw, lddw, call, jeq, exit) = (0x79, 0x62, 0x18, 0x85, 0x15, 0x95)
        return [
            instruction(alu64 | mov | x, dst: 6, src: 1),                       // r6 = ctx
            instruction(stw, dst: 10, offset: -4, imm: 0),                      // key = 0
            instruction(alu64 | mov | x, dst: 2, src: 10),
            instruction(alu64 | add | k, dst: 2, imm: -4),                      // r2 = &key
            instruction(lddw, dst: 1, src: Int(BPF_PSEUDO_MAP_FD), imm: map), instruction(0),
            instruction(call, imm: Int32(BPF_FUNC_map_lookup_elem.rawValue)),
            instruction(jeq, dst: 0, offset: 6, imm: 0),                        // no value: return 1
            instruction(alu64 | mov | x, dst: 1, src: 0),                       // r1 = value
            instruction(ldxdw, dst: 2, src: 6, offset: 8),                      // r2 = ctx[1]
            instruction(alu64 | and | k, dst: 2, imm: Int32(chunk - 1)),        // bounded for the verifier
            instruction(ldxdw, dst: 3, src: 6, offset: 0),                      // r3 = ctx[0]
            instruction(call, imm: Int32(BPF_FUNC_probe_read_kernel.rawValue)),
            instruction(exit),                                                  // the helper's result
            instruction(alu64 | mov | k, dst: 0, imm: 1),
            instruction(exit),
        ]
    }

    /// `count` bytes of kernel memory at `address`, or nil where it cannot be read.
    public func read(_ address: UInt64, count: Int) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        var at = address
        while bytes.count < count {
            let page = at & ~UInt64(Self.chunk - 1)
            guard let content = self.page(page) else { return nil }
            let start = Int(at - page)
            let take = min(Self.chunk - start, count - bytes.count)
            bytes.append(contentsOf: content[start..<start + take])
            at += UInt64(take)
        }
        return bytes
    }

    /// A page of kernel text, read once.
    func page(_ address: UInt64) -> [UInt8]? {
        if let known = pages[address] { return known }
        // The helper reads at most 4095 bytes a run: a page is two runs.
        guard let first = run(address, count: Self.chunk / 2), let second = run(address + UInt64(Self.chunk / 2), count: Self.chunk / 2) else {
            return nil
        }
        let content = first + second
        pages[address] = content
        return content
    }

    /// One run of the program; nil when the kernel would not read there
    /// (the program returns the helper's result).
    func run(_ address: UInt64, count: Int) -> [UInt8]? {
        var arguments: [UInt64] = [address, UInt64(count)]
        var value = [UInt8](repeating: 0, count: Self.chunk)
        var key: UInt32 = 0
        let (status, result) = arguments.withUnsafeMutableBytes { context -> (Int32, UInt32) in
            var options = bpf_test_run_opts()
            options.sz = MemoryLayout<bpf_test_run_opts>.size
            options.ctx_in = UnsafeRawPointer(context.baseAddress)
            options.ctx_size_in = UInt32(context.count)
            let status = bpf_prog_test_run_opts(program, &options)
            return (status, options.retval)
        }
        guard status == 0, result == 0, value.withUnsafeMutableBytes({ bpf_map_lookup_elem(map, &key, $0.baseAddress) }) == 0 else { return nil }
        return Array(value.prefix(count))
    }
}
