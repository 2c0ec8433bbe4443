/* Opens COUNT connections one after another to IP PORT, reading each
 * greeting and sending a line: the client side of the fork-per-connection
 * workload (./connector IP PORT COUNT). */
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
    if (argc < 4) return 2;
    int count = atoi(argv[3]);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        while (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
            if (errno != ECONNREFUSED) { perror("connect"); return 1; }
            close(fd);
            struct timespec pause = { 0, 2 * 1000 * 1000 };
            nanosleep(&pause, NULL);
            fd = socket(AF_INET, SOCK_STREAM, 0);
        }
        char buf[64];
        if (read(fd, buf, sizeof buf) <= 0) return 1;
        write(fd, "bye\n", 4);
        close(fd);
    }
    return 0;
}
