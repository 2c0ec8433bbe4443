/* UDP datagrams sent to a socket of the same process and received back:
 * ./udpflood COUNT (two socket calls per datagram). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int count = argc > 1 ? atoi(argv[1]) : 100000;
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(rx, (struct sockaddr *)&addr, sizeof addr);
    getsockname(rx, (struct sockaddr *)&addr, &len);
    char buf[64] = "datagram";
    for (int i = 0; i < count; i++) {
        if (sendto(tx, buf, 32, 0, (struct sockaddr *)&addr, sizeof addr) != 32) { perror("sendto"); return 1; }
        if (recvfrom(rx, buf, sizeof buf, 0, NULL, NULL) != 32) { perror("recvfrom"); return 1; }
    }
    return 0;
}
