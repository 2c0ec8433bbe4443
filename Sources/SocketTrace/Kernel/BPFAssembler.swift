import CLibbpf

/// Writes eBPF programs as instructions with named jump targets, the
/// way the kernel's own samples (samples/bpf, `BPF_*` macros) write them.
/// Every instruction is the kernel's 8-byte `struct bpf_insn`: opcode,
/// destination and source registers, a signed 16-bit offset and a 32-bit
/// immediate; a jump's offset counts instructions after the next one.
struct BPFAssembler {
    /// r0 result, r1–r5 arguments (clobbered by calls), r6–r9 kept, r10 frame.
    enum Register: Int { case r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 }
    enum Size: Int {
        case word = 0x00, half = 0x08, byte = 0x10, double = 0x18
    }
    enum Condition: Int {
        case equal = 0x10, greater = 0x20, greaterOrEqual = 0x30, notEqual = 0x50, signedGreater = 0x60, signedLess = 0xc0
    }

    private var code: [UInt64] = []
    private var labels: [String: Int] = [:]
    private var pending: [(at: Int, label: String)] = []

    static func encode(_ opcode: Int, dst: Register = .r0, src: Register = .r0, offset: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(opcode) | UInt64(dst.rawValue | src.rawValue << 4) << 8
            | UInt64(UInt16(bitPattern: offset)) << 16 | UInt64(UInt32(bitPattern: imm)) << 32
    }

    private mutating func emit(_ opcode: Int, dst: Register = .r0, src: Register = .r0, offset: Int16 = 0, imm: Int32 = 0) {
        code.append(Self.encode(opcode, dst: dst, src: src, offset: offset, imm: imm))
    }

    // ALU64 (0x07), immediate (K) or register (X) source.
    mutating func mov(_ dst: Register, _ imm: Int32) { emit(0x07 | 0xb0, dst: dst, imm: imm) }
    mutating func mov(_ dst: Register, _ src: Register) { emit(0x07 | 0xb0 | 0x08, dst: dst, src: src) }
    mutating func add(_ dst: Register, _ imm: Int32) { emit(0x07 | 0x00, dst: dst, imm: imm) }
    mutating func add(_ dst: Register, _ src: Register) { emit(0x07 | 0x00 | 0x08, dst: dst, src: src) }
    mutating func and(_ dst: Register, _ imm: Int32) { emit(0x07 | 0x50, dst: dst, imm: imm) }
    mutating func or(_ dst: Register, _ src: Register) { emit(0x07 | 0x40 | 0x08, dst: dst, src: src) }
    mutating func shiftLeft(_ dst: Register, _ imm: Int32) { emit(0x07 | 0x60, dst: dst, imm: imm) }
    mutating func shiftRight(_ dst: Register, _ imm: Int32) { emit(0x07 | 0x70, dst: dst, imm: imm) }
    /// dst = (u32) src: a 32-bit move clears the upper half.
    mutating func mov32(_ dst: Register, _ src: Register) { emit(0x04 | 0xb0 | 0x08, dst: dst, src: src) }

    /// dst = *(size *)(src + offset)
    mutating func load(_ dst: Register, _ size: Size, from src: Register, _ offset: Int16) {
        emit(0x01 | 0x60 | size.rawValue, dst: dst, src: src, offset: offset)
    }
    /// *(size *)(dst + offset) = src
    mutating func store(_ src: Register, _ size: Size, to dst: Register, _ offset: Int16) {
        emit(0x03 | 0x60 | size.rawValue, dst: dst, src: src, offset: offset)
    }
    /// *(size *)(dst + offset) = imm
    mutating func store(_ imm: Int32, _ size: Size, to dst: Register, _ offset: Int16) {
        emit(0x02 | 0x60 | size.rawValue, dst: dst, offset: offset, imm: imm)
    }
    /// lock *(u64 *)(dst + offset) += src
    mutating func atomicAdd(_ src: Register, to dst: Register, _ offset: Int16) {
        emit(0x03 | 0xc0 | Size.double.rawValue, dst: dst, src: src, offset: offset)
    }
    /// dst = the map's address (the loader replaces the descriptor).
    mutating func loadMap(_ dst: Register, _ map: Int32) {
        emit(0x18, dst: dst, src: Register(rawValue: Int(BPF_PSEUDO_MAP_FD))!, imm: map)
        code.append(0)
    }

    mutating func call(_ helper: bpf_func_id) { emit(0x05 | 0x80, imm: Int32(helper.rawValue)) }

    /// r0 = bpf_map_lookup_elem(map, r10 + key): the value's address, or 0.
    mutating func lookup(_ map: Int32, key: Int16) {
        loadMap(.r1, map)
        mov(.r2, .r10)
        add(.r2, Int32(key))
        call(BPF_FUNC_map_lookup_elem)
    }
    /// bpf_map_update_elem(map, r10 + key, r10 + value, BPF_ANY).
    mutating func update(_ map: Int32, key: Int16, value: Int16) {
        loadMap(.r1, map)
        mov(.r2, .r10)
        add(.r2, Int32(key))
        mov(.r3, .r10)
        add(.r3, Int32(value))
        mov(.r4, Int32(BPF_ANY))
        call(BPF_FUNC_map_update_elem)
    }
    /// r0 = bpf_probe_read_kernel(destination + at, size, base + field):
    /// 0, or an error and the destination zeroed. The source address is
    /// worked out first, so `base` may be any register (r1 and r2 too).
    mutating func readKernel(into destination: Register, at: Int16, size: Int32, from base: Register, plus field: Int32) {
        if base != .r3 { mov(.r3, base) }
        add(.r3, field)
        mov(.r1, destination)
        add(.r1, Int32(at))
        mov(.r2, size)
        call(BPF_FUNC_probe_read_kernel)
    }
    /// bpf_map_delete_elem(map, r10 + key).
    mutating func delete(_ map: Int32, key: Int16) {
        loadMap(.r1, map)
        mov(.r2, .r10)
        add(.r2, Int32(key))
        call(BPF_FUNC_map_delete_elem)
    }
    mutating func exit() { emit(0x05 | 0x90) }

    mutating func label(_ name: String) { labels[name] = code.count }
    mutating func jump(to label: String) {
        pending.append((code.count, label))
        emit(0x05 | 0x00)
    }
    /// if dst <condition> imm goto label (unsigned unless the condition says signed).
    mutating func jump(if dst: Register, _ condition: Condition, _ imm: Int32, to label: String) {
        pending.append((code.count, label))
        emit(0x05 | condition.rawValue, dst: dst, imm: imm)
    }
    mutating func jump(if dst: Register, _ condition: Condition, _ src: Register, to label: String) {
        pending.append((code.count, label))
        emit(0x05 | condition.rawValue | 0x08, dst: dst, src: src)
    }

    /// The program, jumps resolved; every label must exist.
    func assembled() -> [UInt64] {
        var resolved = code
        for (at, label) in pending {
            guard let target = labels[label] else { preconditionFailure("BPF label \(label) not placed") }
            let offset = UInt64(UInt16(bitPattern: Int16(target - at - 1)))
            resolved[at] = resolved[at] & ~(UInt64(0xffff) << 16) | offset << 16
        }
        return resolved
    }
}
