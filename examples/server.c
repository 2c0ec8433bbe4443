/* The seeds' TCP server: ./server IP PORT
 * socket, bind, listen, then accept in a loop; each connection is served by a
 * forked child that sends "Hello, world!\n", reads what the client says and
 * closes. Stops after COUNT connections when a third argument is given. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void handle_client(int fd)
{
    const char *greeting = "Hello, world!\n";
    char buf[1024];
    if (send(fd, greeting, strlen(greeting), 0) < 0)
        perror("send");
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = '\0';
        printf("server: received %zd bytes: %s", n, buf);
        fflush(stdout);
    }
    close(fd);
}

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IP PORT [COUNT]\n", argv[0]);
        return 2;
    }
    int count = argc > 3 ? atoi(argv[3]) : -1;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "bad address: %s\n", argv[1]);
        return 2;
    }
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (listen(listener, 5) < 0) { perror("listen"); return 1; }
    for (int served = 0; count < 0 || served < count; served++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int fd = accept(listener, (struct sockaddr *)&peer, &len);
        if (fd < 0) { perror("accept"); return 1; }
        pid_t pid = fork();
        if (pid == 0) {
            close(listener);
            handle_client(fd);
            _exit(0);
        }
        close(fd);
        waitpid(pid, NULL, 0);
    }
    close(listener);
    return 0;
}
