#define _GNU_SOURCE
#include "csyscall.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int cs_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int cs_pidfd_getfd(int pidfd, int fd) { return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0); }

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

int cs_terminal_width(int fd)
{
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0)
        return 0;
    return size.ws_col;
}

int cs_thread_try_join(pthread_t thread) { return pthread_tryjoin_np(thread, NULL); }
