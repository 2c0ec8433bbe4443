/* A TCP connection in one process: the client sends two messages (10 and
 * 20 bytes) with one sendmmsg, the server takes them with recvmmsg; the
 * connection's byte counts must be 30 each way's side. Usage: mmsg_pair PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1)) return 1;
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&address, sizeof address)) return 1;
    int server = accept(listener, NULL, NULL);
    char first[10] = "0123456789", second[20] = "abcdefghijklmnopqrst";
    struct iovec out[2] = { { first, sizeof first }, { second, sizeof second } };
    struct mmsghdr sent[2] = { { .msg_hdr = { .msg_iov = &out[0], .msg_iovlen = 1 } },
                               { .msg_hdr = { .msg_iov = &out[1], .msg_iovlen = 1 } } };
    if (sendmmsg(client, sent, 2, 0) != 2) return 1;
    char buffer[64];
    struct iovec in = { buffer, sizeof buffer };
    struct mmsghdr received = { .msg_hdr = { .msg_iov = &in, .msg_iovlen = 1 } };
    int total = 0;
    while (total < 30) {
        if (recvmmsg(server, &received, 1, 0, NULL) != 1) return 1;
        total += received.msg_len;
    }
    close(client);
    close(server);
    close(listener);
    return 0;
}
