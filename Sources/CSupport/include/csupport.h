#ifndef SOCKETTRACE_CSUPPORT_H
#define SOCKETTRACE_CSUPPORT_H
/// The few things Swift cannot do by itself on Linux: `ptrace` is variadic,
/// the W* status macros are macros, fork+exec must run without touching the
/// Swift runtime between the two, the seccomp filter is BPF built from C
/// structs, and `perf_event_open` has no libc wrapper. Every function here
/// starts with `cs_` and returns -1 with errno set on failure, like libc.

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include <pthread.h>
#include <linux/filter.h>   /* struct sock_filter, BPF_* opcodes (SeccompFilter) */
#include <linux/seccomp.h>  /* SECCOMP_RET_*, struct seccomp_data (SeccompFilter) */
#include <linux/perf_event.h>  /* struct perf_event_attr, PERF_* (PerfEventAttributes) */

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

/// pidfd_open(2).
int cs_pidfd_open(pid_t pid);
/// pidfd_getfd(2): a copy of another process's descriptor.
int cs_pidfd_getfd(int pidfd, int fd);

/* Unwinding with libdwfl for any traced x86_64 process whose mappings
 * match the ones a Dwfl was reported from (a forked child's do): the Dwfl
 * is attached once with callbacks that read registers (PTRACE_GETREGS) and
 * memory (process_vm_readv) of the target set before each unwind. `dwfl`
 * is a Dwfl *; returns the target to set, or NULL. Freed by dwfl_end. */
void *cs_unwind_attach(void *dwfl, pid_t pid);
void cs_unwind_target_set(void *target, pid_t pid, pid_t tid);

/* The ptrace options sockettrace sets. */
uint64_t cs_ptrace_option_flags(bool follow, bool seccomp, bool exit_kill);

/* waitpid (its status is read by Swift's Stop, a pure function). */
/// waitpid(-1, __WALL); returns -1 with EINTR when an interrupt signal arrived.
pid_t cs_wait_any(int *status, bool nohang);
/// Blocking waitpid(-1, __WALL) that gives up after `milliseconds`
/// (returns 0 then); a signal of the tracer's own still returns EINTR.
pid_t cs_wait_any_for(int *status, int milliseconds);
/// pthread_tryjoin_np: 0 when `thread` has ended (and is joined now).
int cs_thread_try_join(pthread_t thread);
pid_t cs_wait_pid(pid_t pid, int *status, bool all_threads);

/// Forks a child that stops itself with SIGSTOP, so the caller can seize it,
/// then (once resumed) installs `filter` (`filter_length` instructions; none
/// when 0) with prctl and execs `path`. When that fails the child writes
/// errno to a close-on-exec pipe and exits 127 (126 for an exec error other
/// than ENOENT); `*exec_errno_fd` is the read end (the caller reads it after
/// resuming the child). Returns the pid. The child makes async-signal-safe
/// calls only: the program is built before fork (SeccompFilter, in Swift).
pid_t cs_spawn_stopped(const char *path, char *const argv[], char *const envp[],
                       const struct sock_filter *filter, unsigned short filter_length,
                       int *exec_errno_fd);

/// Reads `length` bytes of the tracee's memory at `address` with
/// process_vm_readv, falling back to PTRACE_PEEKDATA word by word. Returns the
/// number of bytes read (possibly short at an unmapped page).
int64_t cs_read_memory(pid_t pid, uint64_t address, void *buffer, uint64_t length);

/// Catches SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the tracer without
/// SA_RESTART, so a blocked wait returns EINTR; ignores SIGPIPE (a closed
/// output is reported as a write error instead).
int cs_install_interrupt_handlers(void);
/// The last interrupting signal received since the previous call, or 0.
int cs_take_interrupt_signal(void);


/* perf_event_open on tracepoints, with kernel call chains. */

/// perf_event_open(2); the attributes are built in Swift (PerfEventAttributes).
int cs_perf_event_open(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);
/// The event's id, as PERF_SAMPLE_IDENTIFIER reports it.
int cs_perf_event_id(int fd, uint64_t *id);
/// Sends `fd`'s samples to `target`'s ring buffer (same cpu).
int cs_perf_set_output(int fd, int target);
int cs_perf_enable(int fd);
/* PERF_EVENT_IOC_SET_FILTER: a tracepoint filter, in tracefs' filter syntax,
 * applied in the kernel before a sample is taken. */
int cs_perf_set_filter(int fd, const char *filter);
int cs_perf_disable(int fd);

/* The id of the loaded BPF program after `start` (0: the first) in *next;
 * 0, or -1 with errno (ENOENT after the last one). */
int cs_bpf_next_program_id(uint32_t start, uint32_t *next);
/* Hands `fds` (sorted ascending) to a detached process that closes them and
 * exits, then closes the caller's copies: the kernel's work on the last
 * close (unregistering a tracepoint waits for an RCU grace period) happens
 * off the caller's path. The helper keeps no other descriptor, and is not
 * the caller's child (it is reaped by init). Returns -1 with errno, having
 * closed nothing, if it could not be started. Then, if `then_fd` (one of
 * `fds`) is not -1, writes each line of `then_text` to it, one write a
 * line: the removal of the trace's kprobe events, which the kernel allows
 * only once no perf event is open on them. */
int cs_close_detached(const int *fds, int count, const char *name, int then_fd, const char *then_text);
/// Where the kernel has written the ring up to (acquire: the records
/// before it are complete). `ring` is the mapping's first (metadata) page;
/// Swift's atomics own their storage and cannot do this on a mapped page.
static inline uint64_t cs_perf_ring_head(const void *ring)
{
    return __atomic_load_n(&((const struct perf_event_mmap_page *)ring)->data_head, __ATOMIC_ACQUIRE);
}

/// What the reader has consumed; only the reader writes it.
static inline uint64_t cs_perf_ring_tail(const void *ring)
{
    return ((const struct perf_event_mmap_page *)ring)->data_tail;
}

/// Frees the ring up to `tail` (release: the records were read before).
static inline void cs_perf_ring_set_tail(void *ring, uint64_t tail)
{
    __atomic_store_n(&((struct perf_event_mmap_page *)ring)->data_tail, tail, __ATOMIC_RELEASE);
}

/// The width in columns of the terminal on `fd`, or 0 if it is not one.
int cs_terminal_width(int fd);

#endif
