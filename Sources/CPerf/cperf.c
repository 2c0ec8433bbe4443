#define _GNU_SOURCE
#include "cperf.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int cs_perf_event_open(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
    return (int)syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

int cs_perf_event_id(int fd, uint64_t *id) { return ioctl(fd, PERF_EVENT_IOC_ID, id); }
int cs_perf_set_output(int fd, int target) { return ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target); }
int cs_perf_enable(int fd) { return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0); }
int cs_perf_disable(int fd) { return ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }
int cs_perf_set_filter(int fd, const char *filter) { return ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter); }
