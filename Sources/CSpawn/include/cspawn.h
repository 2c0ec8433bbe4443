#ifndef SOCKETTRACE_CSPAWN_H
#define SOCKETTRACE_CSPAWN_H
/// Why C: between fork and exec (or _exit) a child of a multi-threaded
/// process may make only async-signal-safe calls, and Swift code cannot
/// promise that (it may allocate, take locks, retain); a signal handler has
/// the same rule. So the children here get everything ready-made from the
/// parent (the seccomp program is built in Swift, SeccompFilter) and make
/// system calls only; the tracer's signal dispositions live here because the
/// launched child restores the ones the tracer was started with.
/// Each function returns -1 with errno set on failure, like libc.

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>   /* struct sock_filter, BPF_* opcodes (SeccompFilter) */
#include <linux/seccomp.h>  /* SECCOMP_RET_*, struct seccomp_data (SeccompFilter) */

/// Catches SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to the tracer without
/// SA_RESTART, so a blocked wait returns EINTR; ignores SIGPIPE (a closed
/// output is reported as a write error instead).
int cs_install_interrupt_handlers(void);
/// The last interrupting signal received since the previous call, or 0.
int cs_take_interrupt_signal(void);

/// Forks a child that stops itself with SIGSTOP, so the caller can seize it,
/// then (once resumed) installs `filter` (`filter_length` instructions; none
/// when 0) with prctl and execs `path`. When that fails the child writes
/// errno to a close-on-exec pipe and exits 127 (126 for an exec error other
/// than ENOENT); `*exec_errno_fd` is the read end (the caller reads it after
/// resuming the child). Returns the pid.
pid_t cs_spawn_stopped(const char *path, char *const argv[], char *const envp[],
                       const struct sock_filter *filter, unsigned short filter_length,
                       int *exec_errno_fd);

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

/// Makes `actions` close every descriptor from `lowest` up in the spawned
/// child (glibc's posix_spawn_file_actions_addclosefrom_np, which Swift's
/// Glibc module does not declare): a child spawned by one thread inherits
/// nothing another thread opened without close-on-exec.
int cs_spawn_actions_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
