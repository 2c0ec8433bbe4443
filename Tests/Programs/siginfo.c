/* Signals whose siginfo strace decodes by si_code: SI_QUEUE (sigqueue,
 * with a value), SI_TIMER (a POSIX timer) and SI_USER (kill). */
#include <signal.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t fired;
static void on_alarm(int signal) { (void)signal; fired = 1; }

int main(void)
{
    signal(SIGUSR1, SIG_IGN);
    union sigval value;
    value.sival_ptr = (void *)42;
    sigqueue(getpid(), SIGUSR1, value);
    value.sival_ptr = (void *)0x1234;
    sigqueue(getpid(), SIGUSR1, value);
    signal(SIGALRM, on_alarm);
    timer_t timer;
    timer_create(CLOCK_MONOTONIC, NULL, &timer);
    struct itimerspec when = { .it_value = { 0, 10 * 1000 * 1000 } };
    timer_settime(timer, 0, &when, NULL);
    while (!fired)
        pause();
    kill(getpid(), SIGUSR1);
    return 0;
}
