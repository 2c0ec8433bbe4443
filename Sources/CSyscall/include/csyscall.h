#ifndef SOCKETTRACE_CSYSCALL_H
#define SOCKETTRACE_CSYSCALL_H
/// Why C: system calls glibc has no wrapper for (syscall(2) is variadic),
/// ioctl(2) (variadic), and a GNU extension Swift's Glibc module does not
/// export. One call each; -1 with errno set on failure, like libc.

#include <stdint.h>
#include <sys/types.h>
#include <pthread.h>

/// pidfd_open(2).
int cs_pidfd_open(pid_t pid);
/// pidfd_getfd(2): a copy of another process's descriptor.
int cs_pidfd_getfd(int pidfd, int fd);
/* The id of the loaded BPF program after `start` (0: the first) in *next;
 * 0, or -1 with errno (ENOENT after the last one). */
int cs_bpf_next_program_id(uint32_t start, uint32_t *next);
/// The width in columns of the terminal on `fd`, or 0 if it is not one.
int cs_terminal_width(int fd);
/// pthread_tryjoin_np: 0 when `thread` has ended (and is joined now).
int cs_thread_try_join(pthread_t thread);

#endif
