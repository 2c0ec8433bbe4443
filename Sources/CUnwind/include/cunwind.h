#ifndef SOCKETTRACE_CUNWIND_H
#define SOCKETTRACE_CUNWIND_H
/// Why C: libdwfl calls back through a static table of C function pointers
/// (Dwfl_Thread_Callbacks) from inside its unwinder, once per stack word
/// read; the callbacks read registers with ptrace (variadic) and memory
/// through a window, and free their state from dwfl_end, all in C's terms.

#include <sys/types.h>

/* Unwinding with libdwfl for any traced x86_64 process whose mappings
 * match the ones a Dwfl was reported from (a forked child's do): the Dwfl
 * is attached once with callbacks that read registers (PTRACE_GETREGS) and
 * memory (process_vm_readv) of the target set before each unwind. `dwfl`
 * is a Dwfl *; returns the target to set, or NULL. Freed by dwfl_end. */
void *cs_unwind_attach(void *dwfl, pid_t pid);
void cs_unwind_target_set(void *target, pid_t pid, pid_t tid);

#endif
