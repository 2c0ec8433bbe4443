#ifndef SOCKETTRACE_CPERF_H
#define SOCKETTRACE_CPERF_H
/// Why C: perf_event_open has no libc wrapper and syscall(2) is variadic, as
/// is ioctl(2); the ring buffer's head and tail need an acquire load and a
/// release store on memory the kernel shares, which Swift's atomics (they
/// own their storage) cannot do on a mapped page. The attributes are built
/// in Swift (PerfEventAttributes) and the records parsed there (PerfRecords).
/// Each function returns -1 with errno set on failure, like libc.

#include <stdint.h>
#include <sys/types.h>
#include <linux/perf_event.h>  /* struct perf_event_attr, PERF_* (PerfEventAttributes) */

int cs_perf_event_open(const struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);
/// The event's id, as PERF_SAMPLE_IDENTIFIER reports it.
int cs_perf_event_id(int fd, uint64_t *id);
/// Sends `fd`'s samples to `target`'s ring buffer (same cpu).
int cs_perf_set_output(int fd, int target);
int cs_perf_enable(int fd);
int cs_perf_disable(int fd);
/* PERF_EVENT_IOC_SET_FILTER: a tracepoint filter, in tracefs' filter syntax,
 * applied in the kernel before a sample is taken. */
int cs_perf_set_filter(int fd, const char *filter);

/// Where the kernel has written the ring up to (acquire: the records
/// before it are complete). `ring` is the mapping's first (metadata) page.
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

#endif
