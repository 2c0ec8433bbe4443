/* DWARF inline data for --vmlinux's inline chains: built with -O2 -g, the
 * call to leaf() in sendmsg_like() lies in push(), inlined into
 * sendmsg_locked(), inlined into sendmsg_like(): libdw must give
 * push ← sendmsg_locked at the call's address, each with the line where it
 * was inlined. Prints the call's return address as an offset into
 * sendmsg_like (as a kernel stack gives a frame: function + offset). The
 * marker comments name the lines the test looks for. */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) void leaf(long x)
{
    uintptr_t back = (uintptr_t)__builtin_return_address(0);
    extern void sendmsg_like(long);
    printf("%lu %ld\n", (unsigned long)(back - (uintptr_t)sendmsg_like), x);
}

static inline __attribute__((always_inline)) void push(long x)
{
    leaf(x * 3); /* LEAF_CALL */
}

static inline __attribute__((always_inline)) void sendmsg_locked(long x)
{
    if (x > 0)
        push(x + 1); /* PUSH_INLINED */
}

__attribute__((noinline)) void sendmsg_like(long x)
{
    sendmsg_locked(x * 2); /* LOCKED_INLINED */
    __asm__ volatile("" ::: "memory"); /* no tail call: a return address in sendmsg_like */
}

int main(int argc, char **argv)
{
    (void)argv;
    sendmsg_like(argc);
    return 0;
}
