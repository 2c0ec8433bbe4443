/* Small behaviours the tracer must not change: ./behaviours MODE [ARG]
 *   exit N      exit with status N after one socket call
 *   kill SIG    kill itself with signal SIG after one socket call
 *   signal      handle SIGUSR1 sent to itself; exit 0 only if the handler ran
 *   loop        send a UDP datagram to 127.0.0.1:9 every 10 ms, forever
 *   echo        copy stdin to stdout, then exit 0
 *   restart     a recv blocked when SIGUSR1 (SA_RESTART) arrives is restarted
 *               and gets its byte; one blocked when SIGUSR2 (no SA_RESTART)
 *               arrives fails with EINTR; exit 0 when both did
 *   maps        two UDP sends, an anonymous mmap, two more sends
 *   pipe        write to a stream socket whose peer is closed: SIGPIPE
 *   exec        keep a socket across exec (fd 3, from the start), put one at
 *               a close-on-exec fd 10, then exec itself as `after-exec 10`
 *   after-exec FD  getsockname on fd 3 (still a socket) and on FD (closed
 *               by the exec); exit 5
 *   send-restart  a write blocked on a full stream socket when SIGALRM
 *               (SA_RESTART) arrives, whose handler empties the socket, is
 *               restarted and completes; one thread throughout; exit 0 when
 *               it wrote its byte
 *   read-restart  as restart, with read(2) (recorded by the kernel, no stop)
 *   killed-in-read  a child killed by SIGKILL inside a read on a socket, and
 *               a thread inside one when its process calls exit_group: the
 *               reads never return; exit 0
 *   write-wait [S]  one write on a socket, then S s (3) without a syscall stop
 *               (a sleep), then exit 0
 *   child-burst N [PAUSE]  a forked child makes N sends and N receives of a
 *               byte on a local datagram socket pair (one sock:sock_send_length
 *               and one sock:sock_recv_length each), PAUSE µs apart (none
 *               without), then exits 0; so does the parent once it has
 *               waited for it
 *   write-burst  one thread: a loopback TCP connection to itself, then 8
 *               writes of 256 KiB, each read back whole before the next;
 *               exit 0 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_usr1(int signo)
{
    (void)signo;
    handled = 1;
}

/* send-restart: the socket whose full buffer the SIGALRM handler empties. */
static int drained_pair[2];

static void on_alarm_drain(int signo)
{
    (void)signo;
    char sink[65536];
    while (recv(drained_pair[1], sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
    handled = 1;
}

/* restart and read-restart: a receive (recv, or read) blocked when SIGUSR1
 * (SA_RESTART) arrives is restarted and gets its byte; one blocked when
 * SIGUSR2 (no SA_RESTART) arrives fails with EINTR. */
static int restarted_receives(int use_read)
{
    struct sigaction restarting = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
    struct sigaction interrupting = { .sa_handler = on_usr1, .sa_flags = 0 };
    sigaction(SIGUSR1, &restarting, NULL);
    sigaction(SIGUSR2, &interrupting, NULL);
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        usleep(200000);
        kill(parent, SIGUSR1);
        usleep(200000);
        if (use_read)
            write(pair[1], "x", 1);
        else
            send(pair[1], "x", 1, 0);
        usleep(200000);
        kill(parent, SIGUSR2);
        _exit(0);
    }
    char byte;
    ssize_t first = use_read ? read(pair[0], &byte, 1) : recv(pair[0], &byte, 1, 0);
    ssize_t second = use_read ? read(pair[0], &byte, 1) : recv(pair[0], &byte, 1, 0);
    int error = errno;
    waitpid(child, NULL, 0);
    return first == 1 && byte == 'x' && second == -1 && error == EINTR ? 0 : 1;
}

static void *read_forever(void *fd)
{
    char byte;
    read(*(int *)fd, &byte, 1);
    return NULL;
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
    if (strcmp(argv[1], "maps") == 0) {
        for (int i = 0; i < 4; i++) {
            if (i == 2 && mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
                return 1;
            sendto(fd, "m", 1, 0, (struct sockaddr *)&to, sizeof to);
        }
        return 0;
    }
    if (strcmp(argv[1], "pipe") == 0) {
        int pair[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        close(pair[1]);
        send(pair[0], "x", 1, 0);
        return 0;
    }
    if (strcmp(argv[1], "exec") == 0) {
        int closing = fcntl(socket(AF_INET, SOCK_STREAM, 0), F_DUPFD_CLOEXEC, 10);
        char number[16], self[4096];
        snprintf(number, sizeof number, "%d", closing);
        ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
        if (length <= 0)
            return 1;
        self[length] = '\0';
        execl(self, argv[0], "after-exec", number, (char *)NULL);
        return 1;
    }
    if (strcmp(argv[1], "after-exec") == 0 && argc > 2) {
        struct sockaddr_in name;
        socklen_t length = sizeof name;
        int kept = getsockname(3, (struct sockaddr *)&name, &length);
        length = sizeof name;
        int closed = getsockname(atoi(argv[2]), (struct sockaddr *)&name, &length);
        return kept == 0 && closed == -1 && errno == EBADF ? 5 : 1;
    }
    if (strcmp(argv[1], "restart") == 0 || strcmp(argv[1], "read-restart") == 0)
        return restarted_receives(strcmp(argv[1], "read-restart") == 0);
    if (strcmp(argv[1], "killed-in-read") == 0) {
        int pair[2];
        socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
        pid_t child = fork();
        if (child == 0) {
            char byte;
            read(pair[1], &byte, 1);
            _exit(1);
        }
        usleep(200000);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        pid_t second = fork();
        if (second == 0) {
            pthread_t reader;
            pthread_create(&reader, NULL, read_forever, &pair[1]);
            usleep(200000);
            _exit(0);
        }
        waitpid(second, NULL, 0);
        return 0;
    }
    if (strcmp(argv[1], "send-restart") == 0) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, drained_pair) < 0)
            return 1;
        struct sigaction action = { .sa_handler = on_alarm_drain, .sa_flags = SA_RESTART };
        sigaction(SIGALRM, &action, NULL);
        char chunk[4096];
        memset(chunk, 'f', sizeof chunk);
        while (send(drained_pair[0], chunk, sizeof chunk, MSG_DONTWAIT) > 0)
            ;
        struct itimerval in = { .it_value = { 0, 300000 } };
        setitimer(ITIMER_REAL, &in, NULL);
        ssize_t sent = write(drained_pair[0], "x", 1);
        return sent == 1 && handled ? 0 : 1;
    }
    if (strcmp(argv[1], "write-wait") == 0) {
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0 || write(pair[0], "x", 1) != 1)
            return 1;
        struct timespec pause = { argc > 2 ? atoi(argv[2]) : 3, 0 };
        nanosleep(&pause, NULL);
        return 0;
    }
    if (strcmp(argv[1], "child-burst") == 0 && argc > 2) {
        int count = atoi(argv[2]);
        int pause = argc > 3 ? atoi(argv[3]) : 0;
        pid_t child = fork();
        if (child == 0) {
            int pair[2];
            char byte = 'x';
            if (socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) != 0)
                _exit(1);
            for (int i = 0; i < count; i++) {
                if (send(pair[0], &byte, 1, 0) != 1 || recv(pair[1], &byte, 1, 0) != 1)
                    _exit(1);
                if (pause > 0)
                    usleep(pause);
            }
            _exit(0);
        }
        int status;
        if (child < 0 || waitpid(child, &status, 0) != child)
            return 1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    if (strcmp(argv[1], "write-burst") == 0) {
        static char chunk[262144];
        struct sockaddr_in at = { .sin_family = AF_INET };
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof at;
        int listener = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(listener, (struct sockaddr *)&at, sizeof at) != 0 || listen(listener, 1) != 0 ||
            getsockname(listener, (struct sockaddr *)&at, &length) != 0)
            return 1;
        int client = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(client, (struct sockaddr *)&at, sizeof at) != 0)
            return 1;
        int server = accept(listener, NULL, NULL);
        for (int i = 0; i < 8; i++) {
            if (write(client, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
                return 1;
            for (size_t got = 0; got < sizeof chunk;) {
                ssize_t n = read(server, chunk, sizeof chunk - got);
                if (n <= 0)
                    return 1;
                got += (size_t)n;
            }
        }
        return 0;
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
