/* Exercises every socket decoder sockettrace has, on success and failure paths,
 * so its --format strace lines can be compared with strace's for the same calls.
 * Everything talks over loopback or socketpairs; ports come from argv[1]. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void tcp_calls(int port)
{
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("decoders: the listener's port is taken");  /* rather than wait in accept4 */
        exit(2);
    }
    int other = socket(AF_INET, SOCK_STREAM, 0);
    bind(other, (struct sockaddr *)&a, sizeof a);           /* EADDRINUSE */
    close(other);
    listen(listener, 8);

    struct sockaddr_in refused = loopback(port + 1);
    int c0 = socket(AF_INET, SOCK_STREAM, 0);
    connect(c0, (struct sockaddr *)&refused, sizeof refused); /* ECONNREFUSED */
    close(c0);

    int client = socket(AF_INET, SOCK_STREAM, 0);
    char buf[256];
    send(client, "x", 1, MSG_NOSIGNAL);                       /* EPIPE/ENOTCONN */
    recv(client, buf, sizeof buf, MSG_DONTWAIT);               /* ENOTCONN */
    connect(client, (struct sockaddr *)&a, sizeof a);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int server = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    len = sizeof peer;
    getsockname(client, (struct sockaddr *)&peer, &len);
    len = sizeof peer;
    getpeername(server, (struct sockaddr *)&peer, &len);
    recv(server, buf, sizeof buf, 0);                          /* EAGAIN */

    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int value = 0;
    socklen_t vlen = sizeof value;
    getsockopt(client, SOL_SOCKET, SO_ERROR, &value, &vlen);
    vlen = sizeof value;
    getsockopt(client, SOL_SOCKET, SO_TYPE, &value, &vlen);
    vlen = sizeof value;
    getsockopt(client, SOL_SOCKET, 9999, &value, &vlen);      /* ENOPROTOOPT */
    setsockopt(client, SOL_SOCKET, SO_RCVBUF, &value, 2);      /* EINVAL */
    struct linger lg = { 1, 5 };
    setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int ttl = 64;
    setsockopt(client, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);

    sendto(client, "hello, server", 13, 0, NULL, 0);
    recvfrom(server, buf, sizeof buf, 0, NULL, NULL);
    write(server, "a line\n", 7);
    read(client, buf, sizeof buf);
    struct iovec iov[2] = { { "vec", 3 }, { "tors\n", 5 } };
    writev(client, iov, 2);
    char b1[4], b2[16];
    struct iovec riov[2] = { { b1, sizeof b1 }, { b2, sizeof b2 } };
    readv(server, riov, 2);

    char binary[40];
    for (int i = 0; i < 40; i++)
        binary[i] = (char)(i * 7);
    send(client, binary, sizeof binary, 0);
    recv(server, buf, sizeof buf, MSG_WAITALL | MSG_DONTWAIT);

    struct msghdr mh = { 0 };
    struct iovec miov[2] = { { "msg-", 4 }, { "part", 4 } };
    mh.msg_iov = miov;
    mh.msg_iovlen = 2;
    sendmsg(client, &mh, MSG_MORE);
    sendmsg(client, &mh, 0);
    struct iovec rmiov = { buf, sizeof buf };
    struct msghdr rmh = { .msg_iov = &rmiov, .msg_iovlen = 1 };
    recvmsg(server, &rmh, 0);
    struct sockaddr_storage from;
    struct msghdr emh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &rmiov, .msg_iovlen = 1 };
    recvmsg(server, &emh, MSG_DONTWAIT);                       /* EAGAIN: strace shows msg_namelen only */

    shutdown(client, SHUT_WR);
    recv(server, buf, sizeof buf, 0);
    shutdown(server, SHUT_RDWR);
    shutdown(12345, SHUT_RD);                                  /* EBADF */
    sendto(12345, "x", 1, 0, NULL, 0);                         /* EBADF */
    listen(0, 1);                                              /* ENOTSOCK */

    int dupfd = dup(client);
    dup2(client, 20);
    dup3(client, 21, O_CLOEXEC);
    fcntl(client, F_GETFL);
    fcntl(client, F_SETFL, O_NONBLOCK);
    fcntl(client, F_DUPFD_CLOEXEC, 30);
    close(dupfd);
    close(20);
    close(21);
    close(client);
    close(server);
    close(listener);
}

static void udp_calls(int port)
{
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP);
    struct sockaddr_in a = loopback(port);
    bind(rx, (struct sockaddr *)&a, sizeof a);
    sendto(tx, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a);
    char buf[64];
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);

    struct mmsghdr out[2];
    struct iovec oiov[2] = { { "one", 3 }, { "two", 3 } };
    memset(out, 0, sizeof out);
    for (int i = 0; i < 2; i++) {
        out[i].msg_hdr.msg_name = &a;
        out[i].msg_hdr.msg_namelen = sizeof a;
        out[i].msg_hdr.msg_iov = &oiov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    sendmmsg(tx, out, 2, 0);
    struct mmsghdr in[2];
    char b0[16], b1[16];
    struct iovec iiov[2] = { { b0, sizeof b0 }, { b1, sizeof b1 } };
    memset(in, 0, sizeof in);
    for (int i = 0; i < 2; i++) {
        in[i].msg_hdr.msg_iov = &iiov[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    recvmmsg(rx, in, 2, 0, NULL);
    recvfrom(rx, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL);   /* EAGAIN */

    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    bind(s6, (struct sockaddr *)&a6, sizeof a6);
    sendto(s6, "six", 3, 0, (struct sockaddr *)&a6, sizeof a6);
    struct sockaddr_in6 from6;
    len = sizeof from6;
    recvfrom(s6, buf, sizeof buf, 0, (struct sockaddr *)&from6, &len);
    connect(tx, (struct sockaddr *)&a6, sizeof a6);            /* EAFNOSUPPORT or EINVAL */
    close(s6);
    close(tx);
    close(rx);
}

static void unix_calls(int port)
{
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    char payload[] = "fd follows";
    struct iovec iov = { payload, sizeof payload - 1 };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
    memset(&control, 0, sizeof control);
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    int passed = 0;
    memcpy(CMSG_DATA(cm), &passed, sizeof passed);
    sendmsg(pair[0], &mh, 0);
    char rbuf[64];
    struct iovec riov = { rbuf, sizeof rbuf };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } rcontrol;
    struct msghdr rmh = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = rcontrol.buf, .msg_controllen = sizeof rcontrol.buf };
    int got = (int)recvmsg(pair[1], &rmh, MSG_CMSG_CLOEXEC);
    if (got > 0 && CMSG_FIRSTHDR(&rmh))
        close(*(int *)CMSG_DATA(CMSG_FIRSTHDR(&rmh)));

    int on = 1;
    setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    struct iovec ciov = { "cred", 4 };
    union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(struct ucred))]; } ccontrol;
    memset(&ccontrol, 0, sizeof ccontrol);
    struct msghdr cmh = { .msg_iov = &ciov, .msg_iovlen = 1, .msg_control = ccontrol.buf, .msg_controllen = sizeof ccontrol.buf };
    struct cmsghdr *ccm = CMSG_FIRSTHDR(&cmh);
    ccm->cmsg_level = SOL_SOCKET;
    ccm->cmsg_type = SCM_CREDENTIALS;
    ccm->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred cred = { getpid(), getuid(), getgid() };
    memcpy(CMSG_DATA(ccm), &cred, sizeof cred);
    sendmsg(pair[0], &cmh, 0);
    close(pair[0]);
    close(pair[1]);

    struct sockaddr_un path = { .sun_family = AF_UNIX };
    snprintf(path.sun_path, sizeof path.sun_path, "/tmp/sockettrace-decoders-%d.sock", port);
    unlink(path.sun_path);
    int us = socket(AF_UNIX, SOCK_DGRAM, 0);
    bind(us, (struct sockaddr *)&path, sizeof path);
    unlink(path.sun_path);
    close(us);
    struct sockaddr_un abstract = { .sun_family = AF_UNIX };
    memcpy(abstract.sun_path, "\0sockettrace-abstract", 21);
    int ua = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(ua, (struct sockaddr *)&abstract, offsetof(struct sockaddr_un, sun_path) + 21);
    close(ua);
}

static void other_families(void)
{
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
    int one = 1;
    /* Before bind: -yy decorates a bound netlink socket with its port id. */
    setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    setsockopt(nl, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
    bind(nl, (struct sockaddr *)&snl, sizeof snl);
    close(nl);
    int groups = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl gnl = { .nl_family = AF_NETLINK, .nl_groups = 0x550 };
    bind(groups, (struct sockaddr *)&gnl, sizeof gnl);
    close(groups);
    int pk = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
    struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = 1 };
    bind(pk, (struct sockaddr *)&sll, sizeof sll);
    close(pk);
    socket(AF_INET, SOCK_STREAM, 200);                         /* EPROTONOSUPPORT */
    socket(12345, SOCK_STREAM, 0);                              /* EAFNOSUPPORT */
    struct sockaddr odd = { .sa_family = AF_APPLETALK };
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    connect(s, &odd, sizeof odd);
    close(s);
}

static void sendfile_calls(int port)
{
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    char path[] = "/tmp/sockettrace-sendfile-XXXXXX";
    int file = mkstemp(path);
    write(file, "file contents\n", 14);
    lseek(file, 0, SEEK_SET);
    unlink(path);
    off_t offset = 0;
    sendfile(pair[0], file, &offset, 14);
    int pipefd[2];
    pipe(pipefd);
    write(pipefd[1], "spliced", 7);
    splice(pipefd[0], NULL, pair[0], NULL, 7, 0);
    close(pipefd[0]);
    close(pipefd[1]);
    close(file);
    close(pair[0]);
    close(pair[1]);
    (void)port;
}

/* Control messages the kernel writes: IP_PKTINFO, IP_TTL and IP_TOS with a
 * datagram, and IP_RECVERR from the error queue (the ICMP port unreachable
 * a send to a closed port brings back on loopback). */
static void ip_control_messages(int port)
{
    int on = 1;
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(port);
    bind(rx, (struct sockaddr *)&a, sizeof a);
    setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    setsockopt(rx, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
    setsockopt(rx, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    sendto(tx, "info", 4, 0, (struct sockaddr *)&a, sizeof a);
    char buf[64];
    struct iovec iov = { buf, sizeof buf };
    union { struct cmsghdr align; char buf[256]; } control;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    recvmsg(rx, &mh, 0);

    int err = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in closed = loopback(port + 1);
    setsockopt(err, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    connect(err, (struct sockaddr *)&closed, sizeof closed);
    send(err, "lost", 4, 0);
    struct sockaddr_in from;
    struct msghdr emh = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    recvmsg(err, &emh, MSG_ERRQUEUE);
    close(err);
    close(tx);
    close(rx);
}

int main(int argc, char *argv[])
{
    int port = argc > 1 ? atoi(argv[1]) : 23456;
    tcp_calls(port);
    udp_calls(port + 2);
    unix_calls(port);
    other_families();
    sendfile_calls(port);
    ip_control_messages(port + 4);
    pid_t child = fork();
    if (child == 0) {
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = loopback(port + 3);
        sendto(s, "from child", 10, 0, (struct sockaddr *)&a, sizeof a);
        close(s);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return 0;
}
