// clowdr-shim: the small process between clowdr and an attempt's command, so that the attempt's peak memory is its
// own and not clowdr's.
//
//     clowdr-shim REPORT_FD PATH ARG0 [ARG...]
//
// Linux counts, in a process's `ru_maxrss`, the peak resident size of the address space it had before `execve`. A
// child that clowdr starts with vfork (or fork) had clowdr's address space then, so its `ru_maxrss` is at least
// clowdr's own size: tens or hundreds of MB for a task that uses 2. This shim is that child instead: it is tiny
// (statically linked, under 100 KB of private memory), forks the command from its own small address space, waits for
// it, and writes the command's exact `rusage` (and that of any orphan it reaped) to REPORT_FD as one line:
//
//     clowdr-shim 1 exit=<code>|signal=<n> utime_us=<n> stime_us=<n> maxrss_kb=<n> inblock=<n> oublock=<n>
//
// or `clowdr-shim 1 exec_errno=<n>` when PATH could not be started. It then ends as the command did (the same exit
// code, or the same signal), so its own wait status is right even when the report is lost. It ignores SIGINT,
// SIGTERM, SIGHUP and SIGQUIT (they go to the whole process group, and the command decides what they mean); SIGKILL
// ends it, and then clowdr falls back on its samples.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static long long micros(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

// The bounds of the shim's code, from the linker.
extern char __executable_start[], etext[];

// What starting touched of the shim's code (the static C library's and runtime's initialisers: over 1 MB) leaves its
// resident size while it waits. A scheduler that sums the resident sizes of a job's processes (Slurm's
// jobacct_gather/linux) would otherwise count it as the task's. The code is a read-only mapping of the file, never
// written: the few pages the shim touches again fault back from the page cache.
static void release_own_code(void) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)__executable_start & ~(page - 1);
    uintptr_t end = ((uintptr_t)etext + page - 1) & ~(page - 1);
    (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: clowdr-shim REPORT_FD PATH ARG0 [ARG...]\n");
        return 2;
    }
    int report = atoi(argv[1]);
    if (report < 3 || fcntl(report, F_SETFD, FD_CLOEXEC) != 0) {
        fprintf(stderr, "clowdr-shim: REPORT_FD %s is not an open descriptor above 2\n", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], SIG_IGN);

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) return 127;
    pid_t child = fork();
    if (child == 0) {
        for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) signal(forwarded[i], SIG_DFL);
        execv(argv[2], argv + 3);
        int e = errno;
        (void)!write(errpipe[1], &e, sizeof e);
        _exit(127);
    }
    close(errpipe[1]);
    char line[256];
    int exec_errno = 0;
    if (child < 0) exec_errno = errno;
    else if (read(errpipe[0], &exec_errno, sizeof exec_errno) != sizeof exec_errno) exec_errno = 0;
    close(errpipe[0]);
    // The shim writes nothing to the task's streams: they close with the command's own.
    close(0);
    close(1);
    close(2);
    if (exec_errno != 0) {
        if (child > 0) waitpid(child, NULL, 0);
        int n = snprintf(line, sizeof line, "clowdr-shim 1 exec_errno=%d\n", exec_errno);
        (void)!write(report, line, (size_t)n);
        return 127;
    }

    release_own_code();
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    // Orphans of the command that ended already (the shim is their subreaper): their CPU and peak count too.
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    char outcome[32];
    if (WIFSIGNALED(status)) snprintf(outcome, sizeof outcome, "signal=%d", WTERMSIG(status));
    else snprintf(outcome, sizeof outcome, "exit=%d", WEXITSTATUS(status));
    int n = snprintf(
        line, sizeof line, "clowdr-shim 1 %s utime_us=%lld stime_us=%lld maxrss_kb=%ld inblock=%ld oublock=%ld\n", outcome,
        micros(ru.ru_utime), micros(ru.ru_stime), ru.ru_maxrss, ru.ru_inblock, ru.ru_oublock);
    (void)!write(report, line, (size_t)n);

    if (WIFSIGNALED(status)) {
        // End by the same signal, without a core file of the shim's own.
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        signal(WTERMSIG(status), SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, WTERMSIG(status));
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
