#define _GNU_SOURCE
/* Thread-per-connection TCP server: ./threaded_server IP PORT [COUNT]
 * each accepted connection is served on its own pthread, which sends a greeting
 * and reads one message; the main thread joins them and exits after COUNT. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    const char *greeting = "Hello from a thread\n";
    char buf[1024];
    send(fd, greeting, strlen(greeting), 0);
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    (void)n;
    close(fd);
    return NULL;
}

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IP PORT [COUNT]\n", argv[0]);
        return 2;
    }
    int count = argc > 3 ? atoi(argv[3]) : 2;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (listen(listener, 16) < 0) { perror("listen"); return 1; }
    pthread_t threads[64];
    if (count > 64) count = 64;
    for (int i = 0; i < count; i++) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { perror("accept4"); return 1; }
        pthread_create(&threads[i], NULL, serve, (void *)(long)fd);
    }
    for (int i = 0; i < count; i++)
        pthread_join(threads[i], NULL);
    close(listener);
    return 0;
}
