/* TCP's internal pacing timer on a traced call's stack. A TCP sender
 * limited by SO_MAX_PACING_RATE (4 MiB/s; the kernel paces a connection
 * from its eleventh data segment on, arming an hrtimer, tcp_pace_kick,
 * for each next one), its receiver, and a process that keeps CPU 0 busy
 * inside a UNIX socket's write, all pinned to CPU 0: the pacing timer fires there
 * while a traced call is in the kernel, and its HRTIMER softirq sends the
 * next segment on that call's stack. Usage: pacing PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 23480;
    cpu_set_t cpu0;
    CPU_ZERO(&cpu0);
    CPU_SET(0, &cpu0);
    sched_setaffinity(0, sizeof cpu0, &cpu0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1)) { perror("listen"); return 1; }
    /* The busy side: 32 MiB written at once into a UNIX stream socket
     * whose send buffer holds it, then dropped: ~10 ms in the kernel per
     * write for one sample, so that a slow tracer still leaves CPU 0 in
     * its call most of the time. */
    pid_t busy = fork();
    if (busy == 0) {
        static char block[32 << 20];
        int size = 64 << 20;
        for (int i = 0; i < 1000; i++) {
            int pair[2];
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair)) _exit(1);
            setsockopt(pair[0], SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
            if (write(pair[0], block, sizeof block) < 0) _exit(1);
            close(pair[0]);
            close(pair[1]);
        }
        _exit(0);
    }
    pid_t sender = fork();
    if (sender == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); _exit(1); }
        unsigned long rate = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof rate);
        static char chunk[65536];
        for (int i = 0; i < 48; i++) if (write(fd, chunk, sizeof chunk) < 0) _exit(1);
        close(fd);
        _exit(0);
    }
    int fd = accept(listener, NULL, NULL);
    static char buffer[65536];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
    waitpid(sender, NULL, 0);
    kill(busy, SIGKILL);
    waitpid(busy, NULL, 0);
    printf("received %ld\n", total);
    return total == 48 * 65536 ? 0 : 1;
}
