/* For --functions: recursion, threads and a fork, each function with
 * arguments of several kinds. `functions` exits with 7 after printing what
 * it computed; `functions loop` calls tick() every 10 ms until killed, for
 * attaching and detaching; `functions spin` does the same from four threads
 * calling twice() as fast as they can. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

long factorial(int n)
{
    return n <= 1 ? 1 : n * factorial(n - 1);
}

static int greet(const char *who, unsigned char times)
{
    int total = 0;
    for (int i = 0; i < times; i++)
        total += printf("hello %s\n", who);
    return total;
}

static void *worker(void *arg)
{
    long sum = 0;
    for (int i = 0; i < 50; i++)
        sum += factorial(5);
    return sum == 50 * 120 ? NULL : arg;
}

int tick(int i)
{
    usleep(10000);
    printf("tick %d\n", i);
    fflush(stdout);
    return i + 1;
}

long twice(long i)
{
    return 2 * i + 1;
}

static volatile long spun;

static void *spin(void *arg)
{
    for (long i = 0;; i++) {
        spun += twice(i);
        if (i % 1000 == 0)
            usleep(100);
    }
    return arg;
}

int main(int argc, char *argv[])
{
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        pthread_t spinners[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&spinners[i], NULL, spin, NULL);
        printf("spinning\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (argc > 1 && strcmp(argv[1], "loop") == 0)
        for (int i = 0;;)
            i = tick(i);
    printf("factorial(6) = %ld\n", factorial(6));
    greet("functions", 2);
    pthread_t threads[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, worker, (void *)(i + 1));
    int failed = 0;
    for (int i = 0; i < 4; i++) {
        void *result;
        pthread_join(threads[i], &result);
        failed += result != NULL;
    }
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        long result = factorial(4);
        printf("child: factorial(4) = %ld\n", result);
        return result == 24 ? 0 : 1;
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("threads failed: %d, child status: %d\n", failed, WEXITSTATUS(status));
    return 7;
}
