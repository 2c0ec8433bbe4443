/* UDP client: ./udp_client IP PORT [MESSAGE]
 * sendto the server, recvfrom its echo (retrying while the server starts). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s IP PORT [MESSAGE]\n", argv[0]);
        return 2;
    }
    const char *message = argc > 3 ? argv[3] : "ping";
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct timeval timeout = { 0, 200 * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    for (int attempt = 0; attempt < 25; attempt++) {
        if (sendto(fd, message, strlen(message), 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
            perror("sendto");
            return 1;
        }
        char buf[1500];
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, NULL, NULL);
        if (n >= 0) {
            buf[n] = '\0';
            printf("udp_client: echo %s\n", buf);
            close(fd);
            return 0;
        }
    }
    fprintf(stderr, "udp_client: no echo\n");
    return 1;
}
