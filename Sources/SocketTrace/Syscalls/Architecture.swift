import CPtrace

/// The instruction set a tracee runs in, as PTRACE_GET_SYSCALL_INFO reports
/// it: it decides syscall numbers, pointer size and structure layouts.
public enum Architecture: String, Sendable, Codable {
    case x86_64
    case i386

    init?(auditArch: UInt32) {
        switch auditArch {
        case UInt32(CS_ARCH_X86_64): self = .x86_64
        case UInt32(CS_ARCH_I386): self = .i386
        default: return nil
        }
    }

    /// AUDIT_ARCH_*: how the kernel names it (syscall info, seccomp data).
    public var auditValue: UInt32 {
        switch self {
        case .x86_64: UInt32(CS_ARCH_X86_64)
        case .i386: UInt32(CS_ARCH_I386)
        }
    }

    /// Size of a pointer, `long` and `size_t`.
    public var wordSize: Int { self == .x86_64 ? 8 : 4 }
}
