/* The ptrace floor: a tracer that stops the program (and its children) at
 * every syscall entry and exit and reads nothing. No real tracer can be
 * cheaper without seccomp; sockettrace's ratio to it shows its own cost.
 * ./ptrace_floor PROG ARGS... */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 2) return 2;
    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    waitpid(child, &status, 0);
    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK |
           PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL));
    ptrace(PTRACE_SYSCALL, child, NULL, NULL);
    int result = 0, alive = 1;
    while (alive > 0) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            alive--;
            continue;
        }
        int signal = 0;
        if (WIFSTOPPED(status)) {
            int stop = WSTOPSIG(status);
            int event = status >> 16;
            if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK || event == PTRACE_EVENT_CLONE) alive++;
            else if (stop != (SIGTRAP | 0x80) && stop != SIGTRAP && !(stop == SIGSTOP && event == 0 && pid != child)) signal = stop;
        }
        ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)signal);
    }
    return result;
}
