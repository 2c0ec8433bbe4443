/* A TCP connection whose connect, shutdown and closes io_uring performs:
 * none of them is a system call of its own, so the tracer never sees them.
 * The shutdown is forced into io_uring's worker thread (IOSQE_ASYNC), a
 * thread the kernel makes for the process, which the tracer does not stop.
 * The process then exits holding no socket but its listener's, closed by
 * a plain close(2) (audit 98 B: the exit was said to release a socket
 * io_uring had closed; C: the worker's work said a traced thread's).
 * With `hold`, the connection is accepted through io_uring too and the
 * process exits holding all three sockets, none made by a traced call but
 * the listener and the client's socket() (audit 99 F: the exit named only
 * the listener, and gave the connection's FINs to its release).
 * With `reuse`, the connection is accepted by accept(2), the client's
 * socket closed through io_uring and its number given to a UDP socket
 * io_uring makes, on which plain sendto(2) and close(2) are then made
 * (a stale table named it the closed connection's).
 * Usage: uring_sockets PORT [hold|reuse] */
#include <string.h>
#include <liburing.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int complete(struct io_uring *ring, const char *what) {
    struct io_uring_cqe *cqe;
    io_uring_submit(ring);
    if (io_uring_wait_cqe(ring, &cqe) < 0) { perror(what); exit(2); }
    int result = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (result < 0) { fprintf(stderr, "%s: %d\n", what, result); exit(3); }
    return result;
}

int main(int argc, char **argv) {
    if (argc < 2) return 1;
    struct io_uring ring;
    if (io_uring_queue_init(8, &ring, 0) < 0) { perror("io_uring_queue_init"); return 2; }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 4) < 0) { perror("listen"); return 2; }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    struct io_uring_sqe *entry = io_uring_get_sqe(&ring);
    io_uring_prep_connect(entry, client, (struct sockaddr *)&address, sizeof address);
    complete(&ring, "connect");
    if (argc > 2 && strcmp(argv[2], "hold") == 0) {
        entry = io_uring_get_sqe(&ring);
        io_uring_prep_accept(entry, listener, NULL, NULL, 0);
        int held = complete(&ring, "accept");
        printf("accepted %d\n", held);
        fflush(stdout);
        _exit(0);
    }
    int accepted = accept(listener, NULL, NULL);
    if (argc > 2 && strcmp(argv[2], "reuse") == 0) {
        entry = io_uring_get_sqe(&ring);
        io_uring_prep_close(entry, client);
        complete(&ring, "close client");
        entry = io_uring_get_sqe(&ring);
        io_uring_prep_socket(entry, AF_INET, SOCK_DGRAM, 0, 0);
        int datagrams = complete(&ring, "socket");
        printf("client %d, datagram socket %d\n", client, datagrams);
        fflush(stdout);
        struct sockaddr_in elsewhere = address;
        elsewhere.sin_port = htons(atoi(argv[1]) + 1);
        sendto(datagrams, "datagram", 8, 0, (struct sockaddr *)&elsewhere, sizeof elsewhere);
        close(datagrams);
        close(accepted);
        close(listener);
        return 0;
    }
    entry = io_uring_get_sqe(&ring);
    io_uring_prep_shutdown(entry, accepted, SHUT_WR);
    entry->flags |= IOSQE_ASYNC;
    complete(&ring, "shutdown");
    usleep(20000);
    entry = io_uring_get_sqe(&ring);
    io_uring_prep_close(entry, client);
    complete(&ring, "close client");
    entry = io_uring_get_sqe(&ring);
    io_uring_prep_close(entry, accepted);
    complete(&ring, "close accepted");
    close(listener);
    io_uring_queue_exit(&ring);
    usleep(20000);
    return 0;
}
