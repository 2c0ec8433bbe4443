#define _GNU_SOURCE
#include "cptrace.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
#ifndef PTRACE_O_EXITKILL
#define PTRACE_O_EXITKILL (1 << 20)
#endif

/* The kernel's struct ptrace_syscall_info (linux/ptrace.h), declared here
 * because that header conflicts with glibc's sys/ptrace.h. */
struct kernel_syscall_info {
    uint8_t op;
    uint8_t pad[3];
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t stack_pointer;
    union {
        struct { uint64_t nr; uint64_t args[6]; } entry;
        struct { int64_t rval; uint8_t is_error; } exit;
        struct { uint64_t nr; uint64_t args[6]; uint32_t ret_data; } seccomp;
    };
};

int cs_ptrace_seize(pid_t pid, uint64_t options)
{
    return (int)ptrace(PTRACE_SEIZE, pid, NULL, (void *)(uintptr_t)options);
}

int cs_ptrace_interrupt(pid_t pid) { return (int)ptrace(PTRACE_INTERRUPT, pid, NULL, NULL); }
int cs_ptrace_syscall(pid_t pid, int signal) { return (int)ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)signal); }
int cs_ptrace_cont(pid_t pid, int signal) { return (int)ptrace(PTRACE_CONT, pid, NULL, (void *)(long)signal); }
int cs_ptrace_listen(pid_t pid) { return (int)ptrace(PTRACE_LISTEN, pid, NULL, NULL); }
int cs_ptrace_detach(pid_t pid, int signal) { return (int)ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)signal); }
int cs_ptrace_singlestep(pid_t pid, int signal) { return (int)ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)signal); }

int cs_ptrace_get_event_message(pid_t pid, uint64_t *message)
{
    unsigned long value = 0;
    if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &value) < 0)
        return -1;
    *message = value;
    return 0;
}

int cs_ptrace_get_syscall_info(pid_t pid, cs_syscall_info *info)
{
    struct kernel_syscall_info raw;
    memset(&raw, 0, sizeof raw);
    if (ptrace((enum __ptrace_request)PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof raw, &raw) < 0)
        return -1;
    memset(info, 0, sizeof *info);
    info->op = raw.op;
    info->arch = raw.arch;
    info->instruction_pointer = raw.instruction_pointer;
    info->stack_pointer = raw.stack_pointer;
    switch (raw.op) {
    case CS_SYSCALL_INFO_ENTRY:
        info->nr = raw.entry.nr;
        memcpy(info->args, raw.entry.args, sizeof info->args);
        break;
    case CS_SYSCALL_INFO_SECCOMP:
        info->nr = raw.seccomp.nr;
        memcpy(info->args, raw.seccomp.args, sizeof info->args);
        break;
    case CS_SYSCALL_INFO_EXIT:
        info->rval = raw.exit.rval;
        info->is_error = raw.exit.is_error;
        break;
    }
    return 0;
}

int cs_ptrace_get_siginfo(pid_t pid, int *signo, int *code, int *errno_value,
                          int *sender_pid, int *sender_uid, int *status,
                          int64_t *utime, int64_t *stime, uint64_t *address, uint64_t *value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) < 0)
        return -1;
    *signo = si.si_signo;
    *code = si.si_code;
    *errno_value = si.si_errno;
    *sender_pid = si.si_pid;
    *sender_uid = (int)si.si_uid;
    *status = si.si_status;
    *utime = (int64_t)si.si_utime;
    *stime = (int64_t)si.si_stime;
    *address = (uint64_t)(uintptr_t)si.si_addr;
    *value = (uint64_t)(uintptr_t)si.si_value.sival_ptr;
    return 0;
}

uint64_t cs_ptrace_option_flags(bool follow, bool seccomp, bool exit_kill)
{
    uint64_t options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC;
    if (follow)
        options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;
    if (seccomp)
        options |= PTRACE_O_TRACESECCOMP;
    if (exit_kill)
        options |= PTRACE_O_EXITKILL;
    return options;
}

int cs_ptrace_get_regs(pid_t pid, cs_user_regs *regs)
{
#if defined(__x86_64__)
    struct user_regs_struct raw;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &raw) != 0)
        return -1;
    regs->ip = raw.rip;
    regs->sp = raw.rsp;
    regs->ret = raw.rax;
    regs->args[0] = raw.rdi;
    regs->args[1] = raw.rsi;
    regs->args[2] = raw.rdx;
    regs->args[3] = raw.rcx;
    regs->args[4] = raw.r8;
    regs->args[5] = raw.r9;
    return 0;
#else
    (void)pid; (void)regs;
    errno = ENOSYS;
    return -1;
#endif
}

int cs_ptrace_set_ip(pid_t pid, uint64_t ip)
{
#if defined(__x86_64__)
    struct user_regs_struct raw;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &raw) != 0)
        return -1;
    raw.rip = ip;
    return (int)ptrace(PTRACE_SETREGS, pid, NULL, &raw);
#else
    (void)pid; (void)ip;
    errno = ENOSYS;
    return -1;
#endif
}

int cs_ptrace_peek_word(pid_t pid, uint64_t address, uint64_t *word)
{
    errno = 0;
    long value = ptrace(PTRACE_PEEKTEXT, pid, (void *)address, NULL);
    if (value == -1 && errno != 0)
        return -1;
    *word = (uint64_t)value;
    return 0;
}

int cs_ptrace_poke_word(pid_t pid, uint64_t address, uint64_t word)
{
    return (int)ptrace(PTRACE_POKETEXT, pid, (void *)address, (void *)word);
}

int64_t cs_read_memory(pid_t pid, uint64_t address, void *buffer, uint64_t length)
{
    if (length == 0)
        return 0;
    struct iovec local = { buffer, length };
    struct iovec remote = { (void *)(uintptr_t)address, length };
    ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)length)
        return n;
    if (n < 0)
        n = 0;
    /* Short or failed: continue word by word, which also works where
     * process_vm_readv is not permitted. */
    uint64_t done = (uint64_t)n;
    while (done < length) {
        uint64_t at = address + done;
        uint64_t aligned = at & ~(uint64_t)(sizeof(long) - 1);
        errno = 0;
        long word = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)aligned, NULL);
        if (errno != 0)
            break;
        uint64_t skip = at - aligned;
        uint64_t take = sizeof(long) - skip;
        if (take > length - done)
            take = length - done;
        memcpy((char *)buffer + done, (char *)&word + skip, take);
        done += take;
    }
    if (done == 0) {
        if (errno == 0)
            errno = EFAULT;
        return -1;
    }
    return (int64_t)done;
}

pid_t cs_wait_any(int *status, bool nohang)
{
    return waitpid(-1, status, __WALL | (nohang ? WNOHANG : 0));
}

/* The timed wait's timer: SIGALRM to the thread that waits (a process-wide
 * signal could land on another thread and leave the wait blocked). */
static volatile sig_atomic_t wait_timer_fired;
static timer_t wait_timer;
static bool wait_timer_made;

static void record_wait_timer(int signo)
{
    (void)signo;
    wait_timer_fired = 1;
}

pid_t cs_wait_any_for(int *status, int milliseconds)
{
    if (!wait_timer_made) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = record_wait_timer;   /* no SA_RESTART: the wait returns EINTR */
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGALRM, &action, NULL) < 0)
            return waitpid(-1, status, __WALL);
        struct sigevent event;
        memset(&event, 0, sizeof event);
        event.sigev_notify = SIGEV_THREAD_ID;
        event.sigev_signo = SIGALRM;
        event._sigev_un._tid = (pid_t)syscall(SYS_gettid);
        if (timer_create(CLOCK_MONOTONIC, &event, &wait_timer) < 0)
            return waitpid(-1, status, __WALL);
        wait_timer_made = true;
    }
    /* Repeating, so a signal that fires before waitpid blocks is followed by another. */
    struct itimerspec period;
    memset(&period, 0, sizeof period);
    period.it_value.tv_sec = milliseconds / 1000;
    period.it_value.tv_nsec = (long)(milliseconds % 1000) * 1000000L;
    period.it_interval = period.it_value;
    wait_timer_fired = 0;
    timer_settime(wait_timer, 0, &period, NULL);
    pid_t got = waitpid(-1, status, __WALL);
    int saved = errno;
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(wait_timer, 0, &off, NULL);
    if (got < 0 && saved == EINTR && wait_timer_fired)
        return 0;
    errno = saved;
    return got;
}

pid_t cs_wait_pid(pid_t pid, int *status, bool all_threads)
{
    pid_t got;
    do {
        got = waitpid(pid, status, all_threads ? __WALL : WSTOPPED);
    } while (got < 0 && errno == EINTR);
    return got;
}
