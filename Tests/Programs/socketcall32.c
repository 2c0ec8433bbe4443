/* Calls every socket operation through the i386 socketcall(2) multiplexer,
 * as old 32-bit C libraries did (seed 001), so the tracer's sub-call decoding
 * can be compared with strace's. Build with gcc -m32. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/net.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long call(int number, unsigned long *args)
{
    return syscall(SYS_socketcall, number, args);
}

int main(int argc, char *argv[])
{
    int port = argc > 1 ? atoi(argv[1]) : 23600;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned long s_args[] = { AF_INET, SOCK_STREAM, 0 };
    int listener = (int)call(SYS_SOCKET, s_args);
    int one = 1;
    unsigned long so_args[] = { listener, SOL_SOCKET, SO_REUSEADDR, (unsigned long)&one, sizeof one };
    call(SYS_SETSOCKOPT, so_args);
    unsigned long b_args[] = { listener, (unsigned long)&a, sizeof a };
    call(SYS_BIND, b_args);
    unsigned long l_args[] = { listener, 4 };
    call(SYS_LISTEN, l_args);
    int client = (int)call(SYS_SOCKET, s_args);
    unsigned long c_args[] = { client, (unsigned long)&a, sizeof a };
    call(SYS_CONNECT, c_args);
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    unsigned long a_args[] = { listener, (unsigned long)&peer, (unsigned long)&len };
    int server = (int)call(SYS_ACCEPT, a_args);
    len = sizeof peer;
    unsigned long n_args[] = { client, (unsigned long)&peer, (unsigned long)&len };
    call(SYS_GETSOCKNAME, n_args);
    len = sizeof peer;
    unsigned long p_args[] = { server, (unsigned long)&peer, (unsigned long)&len };
    call(SYS_GETPEERNAME, p_args);
    unsigned long snd_args[] = { client, (unsigned long)"via socketcall", 14, 0 };
    call(SYS_SEND, snd_args);
    char buf[64];
    unsigned long rcv_args[] = { server, (unsigned long)buf, sizeof buf, 0 };
    call(SYS_RECV, rcv_args);
    unsigned long st_args[] = { client, (unsigned long)"to", 2, MSG_DONTWAIT, 0, 0 };
    call(SYS_SENDTO, st_args);
    unsigned long rf_args[] = { server, (unsigned long)buf, sizeof buf, 0, 0, 0 };
    call(SYS_RECVFROM, rf_args);
    int value = 0;
    socklen_t vlen = sizeof value;
    unsigned long go_args[] = { client, SOL_SOCKET, SO_ERROR, (unsigned long)&value, (unsigned long)&vlen };
    call(SYS_GETSOCKOPT, go_args);
    struct iovec iov = { "msg", 3 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    unsigned long sm_args[] = { client, (unsigned long)&mh, 0 };
    call(SYS_SENDMSG, sm_args);
    struct iovec riov = { buf, sizeof buf };
    struct msghdr rmh = { .msg_iov = &riov, .msg_iovlen = 1 };
    unsigned long rm_args[] = { server, (unsigned long)&rmh, 0 };
    call(SYS_RECVMSG, rm_args);
    unsigned long sh_args[] = { client, SHUT_RDWR };
    call(SYS_SHUTDOWN, sh_args);
    int pair[2];
    unsigned long sp_args[] = { AF_UNIX, SOCK_DGRAM, 0, (unsigned long)pair };
    call(SYS_SOCKETPAIR, sp_args);
    int second = (int)call(SYS_SOCKET, s_args);
    unsigned long c2_args[] = { second, (unsigned long)&a, sizeof a };
    call(SYS_CONNECT, c2_args);
    unsigned long a4_args[] = { listener, 0, 0, SOCK_NONBLOCK };
    int third = (int)call(SYS_ACCEPT4, a4_args);
    close(third);
    close(second);
    unsigned long bad_args[] = { 0 };
    call(99, bad_args);
    close(pair[0]);
    close(pair[1]);
    close(server);
    close(client);
    close(listener);
    return 0;
}
