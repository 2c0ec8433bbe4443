/* Sockets for sock_diag to list, then the programs that list them:
 *   ./diag_peers PORT PATH PROG [ARGS] [-- PROG [ARGS]]...
 * makes a TCP listener on 127.0.0.1:PORT with one accepted connection, a
 * UNIX stream listener at PATH with one accepted connection, and a UNIX
 * datagram socket pair; runs each PROG in turn (waiting for it) while they
 * exist; removes PATH and exits 0 when every PROG exited 0.
 * Run in a network namespace of its own, the sockets are the only ones
 * `ss -tan` and `ss -xa` find there. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what) {
    perror(what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT PATH PROG [ARGS] [-- PROG [ARGS]]...\n", argv[0]);
        return 2;
    }
    struct sockaddr_in inet = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&inet, sizeof inet) || listen(listener, 4)) return fail("tcp listen");
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&inet, sizeof inet)) return fail("tcp connect");
    int accepted = accept(listener, NULL, NULL);

    struct sockaddr_un local = {.sun_family = AF_UNIX};
    strncpy(local.sun_path, argv[2], sizeof local.sun_path - 1);
    unlink(argv[2]);
    int unixListener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(unixListener, (struct sockaddr *)&local, sizeof local) || listen(unixListener, 4)) return fail("unix listen");
    int unixClient = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(unixClient, (struct sockaddr *)&local, sizeof local)) return fail("unix connect");
    int unixAccepted = accept(unixListener, NULL, NULL);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair)) return fail("socketpair");

    int status = 0;
    for (int first = 3; first < argc;) {
        int last = first;
        while (last < argc && strcmp(argv[last], "--") != 0) last++;
        argv[last < argc ? last : argc] = NULL;
        pid_t child = fork();
        if (child == 0) {
            execvp(argv[first], argv + first);
            _exit(127);
        }
        int childStatus = 0;
        waitpid(child, &childStatus, 0);
        if (!WIFEXITED(childStatus) || WEXITSTATUS(childStatus) != 0) status = 1;
        first = last + 1;
    }
    unlink(argv[2]);
    close(accepted), close(client), close(listener);
    close(unixAccepted), close(unixClient), close(unixListener);
    close(pair[0]), close(pair[1]);
    return status;
}
