/* Forks COUNT children; each makes one socket call and exits with its
 * index modulo 100; the parent checks every status: ./forker COUNT */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int count = argc > 1 ? atoi(argv[1]) : 200;
    pid_t *children = calloc(count, sizeof *children);
    for (int i = 0; i < count; i++) {
        children[i] = fork();
        if (children[i] == 0) {
            close(socket(AF_INET, SOCK_DGRAM, 0));
            _exit(i % 100);
        }
    }
    for (int i = 0; i < count; i++) {
        int status;
        if (waitpid(children[i], &status, 0) != children[i] || !WIFEXITED(status) || WEXITSTATUS(status) != i % 100) {
            fprintf(stderr, "forker: child %d ended wrongly\n", i);
            return 1;
        }
    }
    printf("forker: %d children ok\n", count);
    return 0;
}
