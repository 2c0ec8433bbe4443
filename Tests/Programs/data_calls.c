/* Reads and writes on sockets of every kind the kernel records without a
 * stop (DataCallCapture), next to the same calls on a pipe, which are not
 * shown: long and short buffers, binary bytes, end of file, EAGAIN,
 * EFAULT, a NULL buffer, TCP, UDP, netlink, three threads, and a socket
 * inherited across exec (the new image, run as "inherited FD", reads it
 * without a socket call of its own). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char long_text[] = "a buffer longer than strace's thirty-two bytes, cut with ...";

static void *talker(void *arg) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return NULL;
    char buffer[16];
    for (int round = 0; round < 50; round++) {
        if (write(pair[0], "ping", 4) != 4 || read(pair[1], buffer, sizeof buffer) != 4) break;
    }
    close(pair[0]);
    close(pair[1]);
    (void)arg;
    return NULL;
}

int main(int argc, char **argv) {
    char buffer[8192];
    if (argc == 3 && strcmp(argv[1], "inherited") == 0) {
        int fd = atoi(argv[2]);
        ssize_t got = read(fd, buffer, sizeof buffer);
        return got == 9 ? 0 : 1;
    }
    signal(SIGPIPE, SIG_IGN);
    int pair[2], pipe_ends[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || pipe(pipe_ends) != 0) return 1;
    write(pair[0], long_text, sizeof long_text - 1);
    read(pair[1], buffer, 10);
    read(pair[1], buffer, sizeof buffer);
    write(pipe_ends[1], "not a socket", 12);
    read(pipe_ends[0], buffer, sizeof buffer);
    write(pair[0], NULL, 10);
    write(pair[0], "\x01\x02\xff binary\n", 10);
    read(pair[1], NULL, 10);
    read(pair[1], buffer, sizeof buffer);
    fcntl(pair[1], F_SETFL, O_NONBLOCK);
    read(pair[1], buffer, sizeof buffer);
    close(pair[1]);
    close(pair[0]);

    /* TCP: 5000 bytes in chunks, then end of file. */
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1) != 0) return 1;
    getsockname(listener, (struct sockaddr *)&address, &length);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&address, sizeof address) != 0) return 1;
    int server = accept(listener, NULL, NULL);
    memset(buffer, 'x', 5000);
    write(client, buffer, 5000);
    shutdown(client, SHUT_WR);
    ssize_t got;
    while ((got = read(server, buffer, 1500)) > 0) {}
    close(server);
    close(client);
    close(listener);

    /* UDP, connected. */
    int udp_in = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in udp_address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    length = sizeof udp_address;
    bind(udp_in, (struct sockaddr *)&udp_address, sizeof udp_address);
    getsockname(udp_in, (struct sockaddr *)&udp_address, &length);
    int udp_out = socket(AF_INET, SOCK_DGRAM, 0);
    connect(udp_out, (struct sockaddr *)&udp_address, sizeof udp_address);
    write(udp_out, "datagram", 8);
    read(udp_in, buffer, sizeof buffer);
    close(udp_in);
    close(udp_out);

    /* Netlink: a request written, its answer read whole. */
    int netlink = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    struct {
        struct nlmsghdr header;
        struct rtgenmsg message;
    } request = {.header = {.nlmsg_len = sizeof request, .nlmsg_type = RTM_GETADDR, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
                 .message = {.rtgen_family = AF_INET}};
    write(netlink, &request, sizeof request);
    read(netlink, buffer, 1024);
    close(netlink);

    pthread_t threads[3];
    for (int i = 0; i < 3; i++) pthread_create(&threads[i], NULL, talker, NULL);
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);

    /* A socket the next image inherits (it reads it without a socket call of its own). */
    int inherited[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, inherited);
    write(inherited[0], "inherited", 9);
    char number[16];
    snprintf(number, sizeof number, "%d", inherited[1]);
    execl("/proc/self/exe", argv[0], "inherited", number, (char *)NULL);
    return 1;
}
