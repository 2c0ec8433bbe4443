/* Many traced calls, each cheap in the kernel: ./socketcalls COUNT
 * COUNT getsockname() calls on one UDP socket — every one a socket call
 * that a tracer stops at, decodes and records (the long-run memory case). */
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) return 1;
    for (long i = 0; i < count; i++) {
        socklen_t length = sizeof address;
        getsockname(fd, (struct sockaddr *)&address, &length);
    }
    close(fd);
    return 0;
}
