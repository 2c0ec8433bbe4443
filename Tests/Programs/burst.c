/* A burst of loopback TCP traffic inside single calls: five writes of 2 MiB,
 * each hundreds of packets (and kernel samples) before it returns, read by a
 * second thread. For counting kernel samples lost to a small ring buffer. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (2 << 20)
#define WRITES 5

static void *drain(void *arg)
{
    int fd = *(int *)arg;
    static char buf[1 << 16];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += n;
    return (void *)total;
}

int main(void)
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) < 0) {
        perror("listen");
        return 1;
    }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
    int server = accept(listener, NULL, NULL);
    pthread_t reader;
    pthread_create(&reader, NULL, drain, &server);
    char *data = calloc(1, CHUNK);
    for (int i = 0; i < WRITES; i++) {
        for (ssize_t done = 0; done < CHUNK;) {
            ssize_t n = write(client, data + done, CHUNK - done);
            if (n < 0) { perror("write"); return 1; }
            done += n;
        }
    }
    close(client);
    void *total;
    pthread_join(reader, &total);
    printf("%ld bytes\n", (long)total);
    return (long)total == (long)CHUNK * WRITES ? 0 : 1;
}
