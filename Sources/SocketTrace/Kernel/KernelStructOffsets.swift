import CLibbpf

/// Where the fields that lead from a task to its socket are in this
/// kernel's structures, read from its BTF (/sys/kernel/btf/vmlinux)
/// through libbpf, as libbpf's CO-RE relocations would place them:
/// `task->files->fdt->fd[n]` is the descriptor's `struct file`, whose
/// `f_inode` says whether it is a socket (`i_mode`) and which (`i_ino`), and
/// whose `private_data` is the `struct socket` whose `sk` has the family.
struct KernelStructOffsets: Equatable {
    let taskFiles: Int32
    let filesTable: Int32
    let tableMaxDescriptors: Int32
    let tableDescriptors: Int32
    let fileInode: Int32
    let filePrivateData: Int32
    let inodeMode: Int32
    let inodeNumber: Int32
    let socketSock: Int32
    let sockFamily: Int32

    /// A field that could not be found, named as `struct.member` (nil: no BTF at all).
    struct Missing: Error, CustomStringConvertible {
        let field: String?
        var description: String { field.map { "the kernel's BTF has no \($0)" } ?? "the kernel publishes no BTF (/sys/kernel/btf/vmlinux)" }
    }

    /// The running kernel's offsets; throws when it has no BTF or a field moved out of reach.
    static func running() throws -> KernelStructOffsets {
        guard let btf = btf__load_vmlinux_btf() else { throw Missing(field: nil) }
        defer { btf__free(btf) }
        func offset(_ structure: String, _ path: String...) throws -> Int32 { try Self.offset(of: path, in: structure, btf: btf) }
        return KernelStructOffsets(
            taskFiles: try offset("task_struct", "files"),
            filesTable: try offset("files_struct", "fdt"),
            tableMaxDescriptors: try offset("fdtable", "max_fds"),
            tableDescriptors: try offset("fdtable", "fd"),
            fileInode: try offset("file", "f_inode"),
            filePrivateData: try offset("file", "private_data"),
            inodeMode: try offset("inode", "i_mode"),
            inodeNumber: try offset("inode", "i_ino"),
            socketSock: try offset("socket", "sk"),
            sockFamily: try offset("sock", "__sk_common", "skc_family"))
    }

    /// The byte offset of a member (`path`: a member of each one's type in
    /// turn) in `structure`.
    static func offset(of path: [String], in structure: String, btf: OpaquePointer) throws -> Int32 {
        var typeID = btf__find_by_name_kind(btf, structure, UInt32(BTF_KIND_STRUCT))
        guard typeID > 0 else { throw Missing(field: "struct \(structure)") }
        var total: Int32 = 0
        for member in path {
            guard let (bits, memberType) = Self.member(member, of: typeID, in: btf) else {
                throw Missing(field: "\(structure).\(path.joined(separator: "."))")
            }
            total += bits / 8
            typeID = memberType
        }
        return total
    }

    /// A member's bit offset and type, looked for in anonymous structures
    /// and unions too (where the kernel groups fields).
    static func member(_ name: String, of typeID: Int32, in btf: OpaquePointer) -> (Int32, Int32)? {
        let resolved = btf__resolve_type(btf, UInt32(typeID))
        guard resolved > 0, let type = btf__type_by_id(btf, UInt32(resolved)) else { return nil }
        let kind = (type.pointee.info >> 24) & 0x1f
        guard kind == UInt32(BTF_KIND_STRUCT) || kind == UInt32(BTF_KIND_UNION) else { return nil }
        let count = Int(type.pointee.info & 0xffff)
        let kindFlag = type.pointee.info >> 31 == 1
        let members = UnsafeRawPointer(type.advanced(by: 1)).assumingMemoryBound(to: btf_member.self)
        for index in 0..<count {
            let member = members[index]
            let bits = Int32(kindFlag ? member.offset & 0xffffff : member.offset)
            if member.name_off == 0 {
                if let (inner, innerType) = Self.member(name, of: Int32(member.type), in: btf) { return (bits + inner, innerType) }
                continue
            }
            if let found = btf__name_by_offset(btf, member.name_off), String(cString: found) == name {
                return (bits, Int32(member.type))
            }
        }
        return nil
    }
}
