import CLibbpf

/// The kernel's bug table (`__bug_table`): one entry for each `ud2` that
/// BUG() and WARN() leave in its code, with flags. The trap handler resumes
/// after a WARN's (BUGFLAG_WARNING) and kills the task at a BUG's, as at a
/// `ud2` the table does not list; so where execution can go after a `ud2`
/// is read here, not assumed (audit 98: sock_sendmsg_nosec's
/// `BUG_ON(ret == -EIOCBQUEUED)` sits between the two calls of its
/// INDIRECT_CALL, inet6_sendmsg's and inet_sendmsg's; taken as going on, it
/// put inet_sendmsg on the way after inet6_sendmsg's return).
public struct BugTable: Sendable {
    /// Each listed trap's address and flags.
    let flags: [UInt64: UInt16]

    /// `BUGFLAG_WARNING` (include/asm-generic/bug.h): the trap reports and resumes.
    static let warning: UInt16 = 1 << 0

    /// The layout of `struct bug_entry`, from the kernel's BTF: its size and
    /// where the trap's relative address and the flags are.
    struct Layout: Equatable {
        let size: Int
        let address: Int
        let flags: Int
    }

    /// Whether execution goes on after the `ud2` at `address`: a WARN's
    /// does; a BUG's, or one the table does not list, does not.
    public func resumes(at address: UInt64) -> Bool {
        guard let flags = flags[address] else { return false }
        return flags & Self.warning != 0
    }

    /// The entries of a table read at `start`, each entry's address relative
    /// to its own field (x86-64's relative bug pointers, as the patched
    /// edges' tables store theirs).
    static func parse(_ bytes: [UInt8], at start: UInt64, layout: Layout) -> BugTable {
        var flags: [UInt64: UInt16] = [:]
        var offset = 0
        while offset + layout.size <= bytes.count {
            let at = offset + layout.address
            let trap = UInt64(bitPattern: Int64(bitPattern: start) + Int64(at) + PatchedEdges.relative(bytes, at))
            flags[trap] = UInt16(bytes[offset + layout.flags]) | UInt16(bytes[offset + layout.flags + 1]) << 8
            offset += layout.size
        }
        return BugTable(flags: flags)
    }

    /// `struct bug_entry`'s layout in the running kernel's BTF, where it has
    /// the relative address (`bug_addr_disp`) and `flags`; nil otherwise.
    static func runningLayout() -> Layout? {
        guard let btf = btf__load_vmlinux_btf() else { return nil }
        defer { btf__free(btf) }
        let type = btf__find_by_name_kind(btf, "bug_entry", UInt32(BTF_KIND_STRUCT))
        guard type > 0 else { return nil }
        let size = Int(btf__resolve_size(btf, UInt32(type)))
        guard size > 0, let address = try? KernelStructOffsets.offset(of: ["bug_addr_disp"], in: "bug_entry", btf: btf),
              let flags = try? KernelStructOffsets.offset(of: ["flags"], in: "bug_entry", btf: btf),
              Int(address) + 4 <= size, Int(flags) + 2 <= size else { return nil }
        return Layout(size: size, address: Int(address), flags: Int(flags))
    }

    /// Reads the running kernel's table; nil when its bounds are not in
    /// kallsyms, its layout not in BTF, it cannot be read, or what was read
    /// does not point into the kernel's code (`isCode`): then a `ud2` is
    /// taken to go on, as a way not known.
    static func read(text: KernelText, bounds: [String: UInt64], isCode: (UInt64) -> Bool) -> BugTable? {
        guard let start = bounds["__start___bug_table"], let end = bounds["__stop___bug_table"], end > start, end - start < 16 << 20,
              let layout = runningLayout(), let bytes = text.read(start, count: Int(end - start)) else { return nil }
        let table = parse(bytes, at: start, layout: layout)
        return PatchedEdges.pointIntoCode(Array(table.flags.keys), isCode: isCode) ? table : nil
    }
}
