/* TCP ping-pong on loopback with a forked client: ./pingpong ROUNDS
 * One byte each way per round, as in kernel-on-this-machine.md's measure. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0) { perror("listen"); return 1; }
    getsockname(listener, (struct sockaddr *)&addr, &len);
    pid_t child = fork();
    if (child == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); _exit(1); }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char byte = 'x';
        for (int i = 0; i < rounds; i++) {
            if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1) _exit(1);
        }
        _exit(0);
    }
    int fd = accept(listener, NULL, NULL);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char byte;
    for (int i = 0; i < rounds; i++) {
        if (read(fd, &byte, 1) != 1 || write(fd, &byte, 1) != 1) return 1;
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
