/* Many syscalls, few of them socket calls: ./manysyscalls COUNT
 * COUNT getppid() calls, and a socket()+close() every 10000 — the case
 * where a tracer that stops at every syscall is far slower than one that
 * stops only at the traced ones. */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < count; i++) {
        syscall(SYS_getppid);
        if (i % 10000 == 0) close(socket(AF_INET, SOCK_DGRAM, 0));
    }
    return 0;
}
