#define _GNU_SOURCE
#include "csupport.h"
#include <elfutils/libdwfl.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/ioctl.h>
#include <time.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
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

static volatile sig_atomic_t interrupt_signal;

/* What the tracer was started with, so a launched program gets it too. */
static sigset_t original_mask;
static struct sigaction original_actions[5];
static const int handled_signals[5] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };
static bool saved_originals;

static void save_original_signals(void)
{
    if (saved_originals)
        return;
    sigprocmask(SIG_SETMASK, NULL, &original_mask);
    for (int k = 0; k < 5; k++)
        sigaction(handled_signals[k], NULL, &original_actions[k]);
    saved_originals = true;
}


static void record_interrupt(int signo)
{
    interrupt_signal = signo;
}

int cs_install_interrupt_handlers(void)
{
    save_original_signals();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_interrupt;
    sigemptyset(&action.sa_mask);
    for (int k = 0; k < 4; k++)
        if (sigaction(handled_signals[k], &action, NULL) < 0)
            return -1;
    signal(SIGPIPE, SIG_IGN);
    /* The tracer may have been started with these blocked (some process
     * launchers do that); it must see them to detach and to reap. */
    sigset_t needed;
    sigemptyset(&needed);
    for (int k = 0; k < 4; k++)
        sigaddset(&needed, handled_signals[k]);
    sigaddset(&needed, SIGCHLD);
    return sigprocmask(SIG_UNBLOCK, &needed, NULL);
}

static void restore_original_signals(void)
{
    for (int k = 0; k < 5; k++) {
        struct sigaction action = original_actions[k];
        /* A handler of the tracer's means nothing in the new program. */
        if (action.sa_handler != SIG_IGN)
            action.sa_handler = SIG_DFL;
        sigaction(handled_signals[k], &action, NULL);
    }
    sigprocmask(SIG_SETMASK, &original_mask, NULL);
}

int cs_take_interrupt_signal(void)
{
    int signo = interrupt_signal;
    interrupt_signal = 0;
    return signo;
}

int cs_ptrace_seize(pid_t pid, uint64_t options)
{
    return (int)ptrace(PTRACE_SEIZE, pid, NULL, (void *)(uintptr_t)options);
}

int cs_ptrace_interrupt(pid_t pid) { return (int)ptrace(PTRACE_INTERRUPT, pid, NULL, NULL); }
int cs_ptrace_syscall(pid_t pid, int signal) { return (int)ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)signal); }
int cs_ptrace_cont(pid_t pid, int signal) { return (int)ptrace(PTRACE_CONT, pid, NULL, (void *)(long)signal); }
int cs_ptrace_listen(pid_t pid) { return (int)ptrace(PTRACE_LISTEN, pid, NULL, NULL); }
int cs_ptrace_detach(pid_t pid, int signal) { return (int)ptrace(PTRACE_DETACH, pid, NULL, (void *)(long)signal); }

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

int cs_ptrace_singlestep(pid_t pid, int signal)
{
    return (int)ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(long)signal);
}

int cs_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int cs_pidfd_getfd(int pidfd, int fd) { return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); }

/* Memory the unwinder reads is mostly the stack above the stopped thread's
 * stack pointer, a word at a time: one read of a window around the first
 * address serves the rest of that unwind (one syscall instead of dozens). */
#define CS_UNWIND_WINDOW (32 * 1024)

struct cs_unwind_target {
    pid_t pid;
    pid_t tid;
    uint64_t window_start;
    uint64_t window_length;
    uint8_t window[CS_UNWIND_WINDOW];
};

static pid_t cs_unwind_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    (void)dwfl;
    struct cs_unwind_target *target = arg;
    if (*thread_argp != NULL)
        return 0;
    *thread_argp = target;
    return target->tid;
}

static bool cs_unwind_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    (void)dwfl;
    (void)tid;
    *thread_argp = arg;
    return true;
}

static bool cs_unwind_memory_read(Dwfl *dwfl, Dwarf_Addr address, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    struct cs_unwind_target *target = arg;
    if (address >= target->window_start && address - target->window_start + sizeof *result <= target->window_length) {
        memcpy(result, target->window + (address - target->window_start), sizeof *result);
        return true;
    }
    /* A new window from this word on; a read cut short by the end of a
     * mapping keeps what it got. */
    uint64_t start = address & ~(uint64_t)7;
    struct iovec local = { target->window, sizeof target->window };
    struct iovec remote = { (void *)(uintptr_t)start, sizeof target->window };
    ssize_t got = process_vm_readv(target->pid, &local, 1, &remote, 1, 0);
    if (got <= 0) {
        target->window_length = 0;
        return cs_read_memory(target->pid, address, result, sizeof *result) == (int64_t)sizeof *result;
    }
    target->window_start = start;
    target->window_length = (uint64_t)got;
    if (address - start + sizeof *result > target->window_length)
        return cs_read_memory(target->pid, address, result, sizeof *result) == (int64_t)sizeof *result;
    memcpy(result, target->window + (address - start), sizeof *result);
    return true;
}

static bool cs_unwind_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
#if defined(__x86_64__)
    struct cs_unwind_target *target = arg;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, target->tid, NULL, &r) != 0)
        return false;
    /* DWARF's x86_64 numbering: rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then the return address (rip). */
    Dwarf_Word registers[17] = { r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp,
                                 r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip };
    return dwfl_thread_state_registers(thread, 0, 17, registers);
#else
    (void)thread; (void)arg;
    return false;
#endif
}

static void cs_unwind_detach(Dwfl *dwfl, void *arg)
{
    (void)dwfl;
    free(arg);
}

static const Dwfl_Thread_Callbacks cs_unwind_callbacks = {
    .next_thread = cs_unwind_next_thread,
    .get_thread = cs_unwind_get_thread,
    .memory_read = cs_unwind_memory_read,
    .set_initial_registers = cs_unwind_set_initial_registers,
    .detach = cs_unwind_detach,
    .thread_detach = NULL,
};

void *cs_unwind_attach(void *dwfl, pid_t pid)
{
    struct cs_unwind_target *target = calloc(1, sizeof *target);
    if (!target)
        return NULL;
    target->pid = pid;
    target->tid = pid;
    if (!dwfl_attach_state((Dwfl *)dwfl, NULL, pid, &cs_unwind_callbacks, target)) {
        free(target);
        return NULL;
    }
    return target;
}

void cs_unwind_target_set(void *target, pid_t pid, pid_t tid)
{
    struct cs_unwind_target *t = target;
    t->pid = pid;
    t->tid = tid;
    t->window_length = 0;
}

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

int cs_thread_try_join(pthread_t thread)
{
    return pthread_tryjoin_np(thread, NULL);
}

pid_t cs_wait_pid(pid_t pid, int *status, bool all_threads)
{
    pid_t got;
    do {
        got = waitpid(pid, status, all_threads ? __WALL : WSTOPPED);
    } while (got < 0 && errno == EINTR);
    return got;
}


/* In the child after fork: prctl only. */
static int install_seccomp_filter(const struct sock_fprog *program)
{
    int rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program, 0, 0);
    if (rc < 0 && errno == EACCES) {
        /* Without CAP_SYS_ADMIN a filter needs no_new_privs, as strace does. */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
            rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program, 0, 0);
    }
    return rc;
}

pid_t cs_spawn_stopped(const char *path, char *const argv[], char *const envp[],
                       const struct sock_filter *filter, unsigned short filter_length,
                       int *exec_errno_fd)
{
    save_original_signals();
    /* Ready before fork: the child only points the kernel at it. */
    struct sock_fprog program = { .len = filter_length, .filter = (struct sock_filter *)filter };
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on: the tracer has threads. */
        close(pipefd[0]);
        /* The program starts with the signal mask and dispositions the
         * tracer was given, as it would without the tracer. */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        restore_original_signals();
        raise(SIGSTOP);
        if (filter_length > 0 && install_seccomp_filter(&program) < 0) {
            int e = errno;
            (void)!write(pipefd[1], &e, sizeof e);
            _exit(127);
        }
        execve(path, argv, envp);
        int e = errno;
        (void)!write(pipefd[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(pipefd[1]);
    *exec_errno_fd = pipefd[0];
    return pid;
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


int cs_perf_event_open(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int cs_bpf_next_program_id(uint32_t start, uint32_t *next)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.start_id = start;
    if (syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr) < 0)
        return -1;
    *next = attr.next_id;
    return 0;
}

int cs_perf_event_id(int fd, uint64_t *id)
{
    return ioctl(fd, PERF_EVENT_IOC_ID, id);
}

int cs_perf_set_output(int fd, int target)
{
    return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target);
}

int cs_perf_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }
int cs_perf_set_filter(int fd, const char *filter) { return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter); }
int cs_perf_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }

int cs_close_detached(const int *fds, int count, const char *name, int then_fd, const char *then_text)
{
    /* The helper waits until the caller has closed its copies (the pipe's
     * write end goes last), so that the helper's closes are the last ones. */
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0)
        return -1;
    /* What the helper keeps open, in order: the events and the gate's read end. */
    int keep[count + 1], kept = 0;
    bool placed = false;
    for (int k = 0; k < count; k++) {
        if (!placed && gate[0] < fds[k]) {
            keep[kept++] = gate[0];
            placed = true;
        }
        keep[kept++] = fds[k];
    }
    if (!placed)
        keep[kept++] = gate[0];
    pid_t middle = fork();
    if (middle < 0) {
        int saved = errno;
        close(gate[0]);
        close(gate[1]);
        errno = saved;
        return -1;
    }
    if (middle == 0) {
        /* Only async-signal-safe calls from here on: the caller may have threads. */
        if (fork() != 0)
            _exit(0);
        setsid();
        prctl(PR_SET_NAME, name, 0, 0, 0);
        /* Everything but the events and the gate's read end is closed. */
        unsigned int next = 0;
        for (int k = 0; k < kept; k++) {
            if ((unsigned int)keep[k] > next)
                syscall(SYS_close_range, next, (unsigned int)keep[k] - 1, 0);
            next = (unsigned int)keep[k] + 1;
        }
        syscall(SYS_close_range, next, ~0U, 0);
        char byte;
        while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {}
        for (int k = 0; k < count; k++)
            if (fds[k] != then_fd)
                close(fds[k]);
        /* One line a write: a line the kernel refuses does not stop the rest. */
        for (const char *line = then_text; then_fd >= 0 && line && *line;) {
            const char *end = line;
            while (*end && *end != '\n')
                end++;
            if (end > line)
                while (write(then_fd, line, (size_t)(end - line)) < 0 && errno == EINTR) {}
            line = *end ? end + 1 : end;
        }
        _exit(0);
    }
    close(gate[0]);
    int status;
    while (waitpid(middle, &status, __WALL) < 0 && errno == EINTR) {}
    for (int k = 0; k < count; k++)
        close(fds[k]);
    close(gate[1]);
    return 0;
}

int cs_terminal_width(int fd)
{
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0)
        return 0;
    return size.ws_col;
}
