#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* In the child after fork: sigaction and sigprocmask only. */
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

int cs_spawn_actions_close_from(posix_spawn_file_actions_t *actions, int lowest)
{
    int error = posix_spawn_file_actions_addclosefrom_np(actions, lowest);
    if (error != 0) {
        errno = error;
        return -1;
    }
    return 0;
}
