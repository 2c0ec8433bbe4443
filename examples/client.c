/* The seeds' TCP client: ./client IP PORT [MESSAGE]
 * connect, write a line, read the server's greeting with plain read(2), close.
 * Retries the connect for a second so it can be started beside the server. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IP PORT [MESSAGE]\n", argv[0]);
        return 2;
    }
    const char *message = argc > 3 ? argv[3] : "hello from client\n";
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "bad address: %s\n", argv[1]);
        return 2;
    }
    int fd = -1;
    for (int attempt = 0; attempt < 100; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { perror("socket"); return 1; }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            break;
        if (errno != ECONNREFUSED) { perror("connect"); return 1; }
        close(fd);
        fd = -1;
        struct timespec pause = { 0, 10 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    if (fd < 0) { fprintf(stderr, "connect: server not reachable\n"); return 1; }
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        printf("client: %s", buf);
    }
    if (write(fd, message, strlen(message)) < 0) { perror("write"); return 1; }
    close(fd);
    return 0;
}
