/* TCP ping-pong on loopback with a forked client: ./pingpong ROUNDS
 * One byte each way per round, as in kernel-on-this-machine.md's measure.
 * Its two sides as separate programs, so that each can run under a tracer
 * of its own: ./pingpong serve PORT ROUNDS & ./pingpong connect PORT ROUNDS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int serve(int listener, int rounds)
{
    int fd = accept(listener, NULL, NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char byte;
    for (int i = 0; i < rounds; i++) {
        if (read(fd, &byte, 1) != 1 || write(fd, &byte, 1) != 1) return 1;
    }
    return 0;
}

/* Connects, trying again every millisecond up to `attempts` times while
 * nothing listens yet. */
static int client(struct sockaddr_in *addr, int rounds, int attempts)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    while (connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0) {
        if (--attempts <= 0) { perror("connect"); return 1; }
        close(fd);
        usleep(1000);
        fd = socket(AF_INET, SOCK_STREAM, 0);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char byte = 'x';
    for (int i = 0; i < rounds; i++) {
        if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1) return 1;
    }
    return 0;
}

/* The split form: the server listens on PORT; the client tries again until
 * the server is there (up to 5 s). */
static int split(const char *role, int port, int rounds)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (strcmp(role, "serve") == 0) {
        int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0) { perror("listen"); return 1; }
        return serve(listener, rounds);
    }
    return client(&addr, rounds, 5000);
}

int main(int argc, char *argv[])
{
    if (argc == 4) return split(argv[1], atoi(argv[2]), atoi(argv[3]));
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0) { perror("listen"); return 1; }
    getsockname(listener, (struct sockaddr *)&addr, &len);
    pid_t child = fork();
    if (child == 0) _exit(client(&addr, rounds, 1));
    if (serve(listener, rounds) != 0) return 1;
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
