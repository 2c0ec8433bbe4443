/* Opens COUNT connections in parallel to IP PORT (one forked child each:
 * connect, read the greeting, send a line, close) and waits for all:
 * ./load_client IP PORT COUNT. Exits 0 only if every child succeeded. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 4) return 2;
    int count = atoi(argv[3]);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    for (int i = 0; i < count; i++) {
        if (fork() == 0) {
            for (int attempt = 0; attempt < 2000; attempt++) {
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
                    char buf[64];
                    if (read(fd, buf, sizeof buf) <= 0) _exit(1);
                    if (write(fd, "bye\n", 4) != 4) _exit(1);
                    close(fd);
                    _exit(0);
                }
                close(fd);
                struct timespec pause = { 0, 5 * 1000 * 1000 };
                nanosleep(&pause, NULL);
            }
            _exit(1);
        }
    }
    int failures = 0, status;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
    if (failures) fprintf(stderr, "load_client: %d connections failed\n", failures);
    return failures ? 1 : 0;
}
