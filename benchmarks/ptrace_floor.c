/* The floors: tracers that read nothing, so no real tracer built the same
 * way can be cheaper; sockettrace's ratio to them shows its own cost.
 *
 *   ./ptrace_floor PROG ARGS...            stops the program (and its children)
 *                                          at every syscall entry and exit, as
 *                                          strace without seccomp does
 *   ./ptrace_floor --seccomp PROG ARGS...  installs a seccomp-bpf filter that
 *                                          stops it only at the socket calls and
 *                                          close (as sockettrace's filter does
 *                                          for -e trace=%net), entry and exit;
 *                                          the filter itself runs at every syscall
 *   ./ptrace_floor --filter-only PROG ARGS...
 *                                          no tracer at all: installs a filter
 *                                          that allows every syscall and runs
 *                                          the program - what any seccomp filter
 *                                          costs each untraced syscall here
 *   ./ptrace_floor --info [--seccomp] PROG ARGS...
 *                                          also asks PTRACE_GET_SYSCALL_INFO at
 *                                          every stop (a tracer's least work)
 *   ./ptrace_floor --read [--seccomp] PROG ARGS...
 *                                          that, and reads one byte of the
 *                                          program's stack with process_vm_readv
 *                                          (a tracer reading a buffer) */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static const unsigned traced[] = {
    SYS_socket, SYS_connect, SYS_accept, SYS_accept4, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
    SYS_sendmmsg, SYS_recvmmsg, SYS_shutdown, SYS_bind, SYS_listen, SYS_getsockname, SYS_getpeername,
    SYS_socketpair, SYS_setsockopt, SYS_getsockopt, SYS_close,
};
#define COUNT (sizeof traced / sizeof traced[0])

static void install_filter(void)
{
    struct sock_filter f[COUNT + 5];
    int i = 0;
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, COUNT + 1);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (unsigned k = 0; k < COUNT; k++, i++)
        f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, traced[k], COUNT - k, 0);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
    struct sock_fprog program = { .len = (unsigned short)i, .filter = f };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) _exit(126);
}

/* One instruction, SECCOMP_RET_ALLOW: the kernel's cache of allowed
 * syscalls answers every call without running it. */
static void install_allow_all(void)
{
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog program = { .len = 1, .filter = &allow };
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) _exit(126);
}

int main(int argc, char *argv[])
{
    if (argc > 2 && strcmp(argv[1], "--filter-only") == 0) {
        install_allow_all();
        execvp(argv[2], argv + 2);
        _exit(127);
    }
    int info = 0, read = 0, seccomp = 0;
    char **program = argv + 1;
    for (; *program && strncmp(*program, "--", 2) == 0; program++) {
        if (strcmp(*program, "--info") == 0) info = 1;
        else if (strcmp(*program, "--read") == 0) info = read = 1;
        else if (strcmp(*program, "--seccomp") == 0) seccomp = 1;
        else return 2;
    }
    if (!*program) return 2;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        if (seccomp) install_filter();
        execvp(program[0], program);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL;
    if (seccomp) options |= PTRACE_O_TRACESECCOMP;
    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)options);
    /* Without seccomp every syscall stops; with it, only the traced ones
     * (their seccomp stop, then PTRACE_SYSCALL on to their exit stop). */
    int resume = seccomp ? PTRACE_CONT : PTRACE_SYSCALL;
    ptrace(resume, child, NULL, NULL);
    int result = 0, alive = 1;
    while (alive > 0) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            alive--;
            continue;
        }
        int signal = 0, request = resume;
        if (WIFSTOPPED(status)) {
            int stop = WSTOPSIG(status);
            int event = status >> 16;
            if (event == PTRACE_EVENT_SECCOMP) request = PTRACE_SYSCALL;
            else if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) alive++;
            else if (stop != (SIGTRAP | 0x80) && stop != SIGTRAP && !(stop == SIGSTOP && event == 0 && pid != child)) signal = stop;
        }
        struct __ptrace_syscall_info stop;
        if (info && ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof stop, &stop) > 0 && read) {
            char byte;
            struct iovec local = { &byte, 1 }, remote = { (void *)(uintptr_t)stop.stack_pointer, 1 };
            process_vm_readv(pid, &local, 1, &remote, 1, 0);
        }
        ptrace(request, pid, NULL, (void *)(long)signal);
    }
    return result;
}
