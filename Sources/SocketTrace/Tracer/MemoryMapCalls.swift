/// The syscalls that change what is mapped in a process (mmap, munmap,
/// mprotect, mremap, brk; execve is seen as its own event). With `-k`, a
/// process's module list is read again only after one of these, as strace
/// does; they stop the program at entry only, and are not shown.
struct MemoryMapCalls: Sendable {
    /// mmap, mprotect, munmap, brk, mremap.
    let x86_64: [UInt32] = [9, 10, 11, 12, 25]
    /// mmap, munmap, mprotect, mremap, brk, mmap2.
    let i386: [UInt32] = [90, 91, 125, 163, 45, 192]

    func contains(_ number: UInt64, architecture: Architecture) -> Bool {
        switch architecture {
        case .x86_64: x86_64.contains(UInt32(truncatingIfNeeded: number))
        case .i386: i386.contains(UInt32(truncatingIfNeeded: number))
        }
    }
}
