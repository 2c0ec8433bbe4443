/* A server built for load: ./load_server fork|thread IP PORT COUNT
 * accepts COUNT connections (backlog 1024) and serves each in a forked
 * child or a thread (send a greeting, read a line, close) without waiting
 * for one before accepting the next; exits when all are served. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void serve(int fd)
{
    char buf[64];
    send(fd, "hello\n", 6, 0);
    recv(fd, buf, sizeof buf, 0);
    close(fd);
}

static void *serve_thread(void *arg)
{
    serve((int)(long)arg);
    return NULL;
}

int main(int argc, char *argv[])
{
    if (argc < 5) return 2;
    int threads = strcmp(argv[1], "thread") == 0;
    int count = atoi(argv[4]);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
    inet_pton(AF_INET, argv[2], &addr.sin_addr);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1024) < 0) { perror("listen"); return 1; }
    pthread_t *ids = calloc(count, sizeof *ids);
    for (int i = 0; i < count; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) { perror("accept"); return 1; }
        if (threads) {
            pthread_create(&ids[i], NULL, serve_thread, (void *)(long)fd);
        } else if (fork() == 0) {
            close(listener);
            serve(fd);
            _exit(0);
        } else {
            close(fd);
        }
    }
    if (threads) {
        for (int i = 0; i < count; i++) pthread_join(ids[i], NULL);
    } else {
        while (wait(NULL) > 0) {}
    }
    return 0;
}
