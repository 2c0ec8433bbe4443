#ifndef SOCKETTRACE_CPTRACE_H
#define SOCKETTRACE_CPTRACE_H
/// Why C: ptrace(2) is variadic, which Swift cannot call; the kernel's
/// struct ptrace_syscall_info (linux/ptrace.h) conflicts with glibc's
/// sys/ptrace.h, so it is read here and copied out; the timed wait needs a
/// signal handler, which must be C to be async-signal-safe. Each function
/// is one request and returns -1 with errno set on failure, like libc.

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

/// What PTRACE_GET_SYSCALL_INFO reports for a stop (see ptrace(2)).
typedef struct {
    uint8_t op;            /* CS_SYSCALL_INFO_* */
    uint32_t arch;         /* AUDIT_ARCH_X86_64 or AUDIT_ARCH_I386 */
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    uint64_t nr;           /* entry and seccomp stops */
    uint64_t args[6];      /* entry and seccomp stops */
    int64_t rval;          /* exit stops */
    uint8_t is_error;      /* exit stops */
} cs_syscall_info;

enum {
    CS_SYSCALL_INFO_NONE = 0,
    CS_SYSCALL_INFO_ENTRY = 1,
    CS_SYSCALL_INFO_EXIT = 2,
    CS_SYSCALL_INFO_SECCOMP = 3,
};

enum {
    CS_ARCH_X86_64 = 0xc000003e,
    CS_ARCH_I386 = 0x40000003,
};

/* ptrace requests, each one call. */
int cs_ptrace_seize(pid_t pid, uint64_t options);
int cs_ptrace_interrupt(pid_t pid);
int cs_ptrace_syscall(pid_t pid, int signal);
int cs_ptrace_cont(pid_t pid, int signal);
int cs_ptrace_listen(pid_t pid);
int cs_ptrace_detach(pid_t pid, int signal);
int cs_ptrace_get_event_message(pid_t pid, uint64_t *message);
int cs_ptrace_get_syscall_info(pid_t pid, cs_syscall_info *info);
/// Fills the stop's siginfo fields; -1 with EINVAL means a group-stop.
int cs_ptrace_get_siginfo(pid_t pid, int *signo, int *code, int *errno_value,
                          int *sender_pid, int *sender_uid, int *status,
                          int64_t *utime, int64_t *stime, uint64_t *address, uint64_t *value);
/* The ptrace options sockettrace sets. */
uint64_t cs_ptrace_option_flags(bool follow, bool seccomp, bool exit_kill);

/* Breakpoints: registers, code words and single steps (x86_64). */
/// The registers a function breakpoint reads: where the thread is, its
/// stack, the return value and the six integer argument registers.
typedef struct {
    uint64_t ip, sp, ret;
    uint64_t args[6];
} cs_user_regs;
int cs_ptrace_get_regs(pid_t pid, cs_user_regs *regs);
int cs_ptrace_set_ip(pid_t pid, uint64_t ip);
int cs_ptrace_peek_word(pid_t pid, uint64_t address, uint64_t *word);
int cs_ptrace_poke_word(pid_t pid, uint64_t address, uint64_t word);
int cs_ptrace_singlestep(pid_t pid, int signal);

/// Reads `length` bytes of the tracee's memory at `address` with
/// process_vm_readv, falling back to PTRACE_PEEKDATA word by word. Returns the
/// number of bytes read (possibly short at an unmapped page). C because the
/// unwinder's libdwfl callbacks (CUnwind) read memory this way too.
int64_t cs_read_memory(pid_t pid, uint64_t address, void *buffer, uint64_t length);

/* waitpid (its status is read by Swift's Stop, a pure function). */
/// waitpid(-1, __WALL); returns -1 with EINTR when an interrupt signal arrived.
pid_t cs_wait_any(int *status, bool nohang);
/// Blocking waitpid(-1, __WALL) that gives up after `milliseconds`
/// (returns 0 then); a signal of the tracer's own still returns EINTR.
pid_t cs_wait_any_for(int *status, int milliseconds);
pid_t cs_wait_pid(pid_t pid, int *status, bool all_threads);

#endif
