/* Small behaviours the tracer must not change: ./behaviours MODE [ARG]
 *   exit N      exit with status N after one socket call
 *   kill SIG    kill itself with signal SIG after one socket call
 *   signal      handle SIGUSR1 sent to itself; exit 0 only if the handler ran
 *   loop        send a UDP datagram to 127.0.0.1:9 every 10 ms, forever
 *   echo        copy stdin to stdout, then exit 0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_usr1(int signo)
{
    (void)signo;
    handled = 1;
}

int main(int argc, char *argv[])
{
    if (argc < 2)
        return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (strcmp(argv[1], "exit") == 0)
        return argc > 2 ? atoi(argv[2]) : 0;
    if (strcmp(argv[1], "kill") == 0) {
        kill(getpid(), argc > 2 ? atoi(argv[2]) : SIGTERM);
        pause();
    }
    if (strcmp(argv[1], "signal") == 0) {
        signal(SIGUSR1, on_usr1);
        kill(getpid(), SIGUSR1);
        sendto(fd, "after signal", 12, 0, (struct sockaddr *)&to, sizeof to);
        return handled ? 0 : 1;
    }
    if (strcmp(argv[1], "loop") == 0) {
        printf("ready\n");
        fflush(stdout);
        for (;;) {
            sendto(fd, "tick", 4, 0, (struct sockaddr *)&to, sizeof to);
            struct timespec pause = { 0, 10 * 1000 * 1000 };
            nanosleep(&pause, NULL);
        }
    }
    if (strcmp(argv[1], "echo") == 0) {
        char buf[256];
        ssize_t n;
        while ((n = read(0, buf, sizeof buf)) > 0)
            write(1, buf, n);
        return 0;
    }
    return 2;
}
