#define _GNU_SOURCE
#include "cunwind.h"
#include "cptrace.h"
#include <elfutils/libdwfl.h>

#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

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
