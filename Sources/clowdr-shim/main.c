// clowdr-shim: the one small process that starts every attempt's command, so that the attempt's peak memory is its
// own and not clowdr's, and an attempt costs one `exec`, its command's, as in a bare spawn loop.
//
//     clowdr-shim SOCKET_FD
//
// Linux counts, in a process's `ru_maxrss`, the peak resident size of the address space it had before `execve`. A
// child that clowdr starts with vfork (or fork) had clowdr's address space then, so its `ru_maxrss` is at least
// clowdr's own size: tens or hundreds of MB for a task that uses 2. This program is tiny (statically linked, under
// 1 MB resident) and long-lived: clowdr starts it once (a local run, a worker) and sends it each attempt over
// SOCKET_FD, a Unix stream socket (the protocol: CClowdrSystem/include/shim_protocol.h). For each one it starts the
// command (vfork and exec, from its own small address space) as the leader of a new process group and a child
// subreaper, with /dev/null as stdin and the descriptors clowdr sent as stdout and stderr, and answers with its pid.
//
// It is the parent of every command it started, and a subreaper: a command's orphans come to it when the command
// ends. When a command ends, it reaps it and the orphans of its process group that ended already, and writes their
// exact `rusage` to the attempt's report pipe as one line (the protocol says which), then closes it. Orphans that end
// later, or that left the group (setsid), are reaped and not counted: the samples saw them.
//
// When clowdr sends a fourth descriptor (a memory file), the attempt is traced: the command's process installs a
// seccomp filter before its exec, and the server answers the file calls of every process of the attempt, writing one
// record per file and kind of use to that file (trace.c; docs/provenance.md).
//
// It ignores SIGINT, SIGTERM, SIGHUP and SIGQUIT (they are for the commands' groups or clowdr's terminal) and ends
// when clowdr closes the socket; commands still running then run on. Killed, it closes every report pipe without a
// report: clowdr then ends those attempts by their samples and stops their groups, and starts a new server.
#define _GNU_SOURCE
#include "../CClowdrSystem/include/shim_protocol.h"
#include "trace.h"
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};

// The bounds of the program's code, from the linker.
extern char __executable_start[], etext[];

// What starting touched of the code (the static C library's and runtime's initialisers: over 1 MB) leaves the resident
// size while the server waits. A scheduler that sums the resident sizes of a job's processes (Slurm's
// jobacct_gather/linux) would otherwise count it as the task's. The code is a read-only mapping of the file, never
// written: the few pages touched again fault back from the page cache.
static void release_own_code(void) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)__executable_start & ~(page - 1);
    uintptr_t end = ((uintptr_t)etext + page - 1) & ~(page - 1);
    (void)madvise((void *)start, end - start, MADV_DONTNEED);
}

static int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t n) {
    char *p = data;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

// MARK: - The attempts running

// A command started and not yet reported: its pid (also its process group), its report pipe, and what the orphans of
// its group that were reaped before it used.
struct attempt {
    pid_t pid;
    int report;
    struct rusage orphans;
    int ended;
    int status;
    struct rusage usage;
    // Tracing, when clowdr asked for it (`records` >= 0): where the records go, and why there are none when the
    // filter could not be installed (an errno; 0 when traced).
    int records;
    int untraced;
    struct trace trace;
};

// Listeners of attempts already reported whose processes may still make calls (left behind, or a group's last
// ones): answered without recording until no process uses the filter (POLLHUP).
static int *retired;
static size_t retired_count, retired_capacity;

static void retire(int listener) {
    if (retired_count == retired_capacity) {
        size_t capacity = retired_capacity ? retired_capacity * 2 : 16;
        int *grown = realloc(retired, capacity * sizeof *grown);
        if (!grown) {
            close(listener);  // its processes' traced calls then fail (ENOSYS): only under memory exhaustion
            return;
        }
        retired = grown;
        retired_capacity = capacity;
    }
    retired[retired_count++] = listener;
}

static struct attempt *attempts;
static size_t attempt_count, attempt_capacity;

static struct attempt *find_attempt(pid_t pid) {
    for (size_t i = 0; i < attempt_count; i++) {
        if (attempts[i].pid == pid) return &attempts[i];
    }
    return NULL;
}

static int add_attempt(pid_t pid, int report, int records, int listener, int untraced) {
    if (attempt_count == attempt_capacity) {
        size_t capacity = attempt_capacity ? attempt_capacity * 2 : 16;
        struct attempt *grown = realloc(attempts, capacity * sizeof *grown);
        if (!grown) return -1;
        attempts = grown;
        attempt_capacity = capacity;
    }
    attempts[attempt_count++] = (struct attempt){
        .pid = pid, .report = report, .records = records, .untraced = untraced, .trace = {.listener = listener, .out = records}};
    return 0;
}

static void add_usage(struct rusage *into, const struct rusage *r) {
    into->ru_utime.tv_sec += r->ru_utime.tv_sec;
    into->ru_utime.tv_usec += r->ru_utime.tv_usec;
    into->ru_stime.tv_sec += r->ru_stime.tv_sec;
    into->ru_stime.tv_usec += r->ru_stime.tv_usec;
    if (r->ru_maxrss > into->ru_maxrss) into->ru_maxrss = r->ru_maxrss;
    into->ru_inblock += r->ru_inblock;
    into->ru_oublock += r->ru_oublock;
}

static long long micros(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

// Writes a traced attempt's records to its records file, and says in `fields` what the report adds of them.
static void write_records(struct attempt *a, char *fields, size_t size) {
    fields[0] = 0;
    if (a->records < 0) return;
    if (a->untraced == 0) {
        snprintf(fields, size, " traced=%d records=%zu calls=%ld", !a->trace.failed, a->trace.written, a->trace.notifications);
        if (a->trace.listener >= 0) retire(a->trace.listener);
        a->trace.listener = -1;
    } else {
        snprintf(fields, size, " untraced=%d", a->untraced);
    }
    trace_free(&a->trace);
    close(a->records);
}

// Writes an ended attempt's report (its command's usage, and its orphans'; what its tracing recorded) and closes
// the pipe.
static void report(struct attempt *a) {
    struct rusage total = a->usage;
    add_usage(&total, &a->orphans);
    char outcome[32], traced[96], line[384];
    if (WIFSIGNALED(a->status)) snprintf(outcome, sizeof outcome, "signal=%d", WTERMSIG(a->status));
    else snprintf(outcome, sizeof outcome, "exit=%d", WEXITSTATUS(a->status));
    write_records(a, traced, sizeof traced);
    int n = snprintf(
        line, sizeof line, "clowdr-shim 1 %s utime_us=%lld stime_us=%lld maxrss_kb=%ld inblock=%ld oublock=%ld%s\n", outcome,
        micros(total.ru_utime), micros(total.ru_stime), total.ru_maxrss, total.ru_inblock, total.ru_oublock, traced);
    (void)write_all(a->report, line, (size_t)n);
    close(a->report);
}

// The process group of a child that ended and is not reaped yet (its /proc entry stays until then), or 0.
static pid_t process_group(pid_t pid) {
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) return 0;
    stat[n] = 0;
    // After the name, which may hold anything: state, parent, process group.
    char *close_paren = strrchr(stat, ')');
    int parent, group;
    char state;
    if (!close_paren || sscanf(close_paren + 1, " %c %d %d", &state, &parent, &group) != 3) return 0;
    return group;
}

// Reaps every child that ended (commands, and orphans that came to this subreaper), then reports the commands. An
// orphan's usage counts for the command whose group it is in, when that command has not been reported yet.
static void collect(void) {
    for (;;) {
        siginfo_t info;
        info.si_pid = 0;
        if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
        pid_t pid = info.si_pid;
        struct attempt *a = find_attempt(pid);
        pid_t group = a ? 0 : process_group(pid);
        int status = 0;
        struct rusage usage;
        pid_t reaped;
        do { reaped = wait4(pid, &status, 0, &usage); } while (reaped < 0 && errno == EINTR);
        if (reaped != pid) break;
        if (a) {
            a->ended = 1;
            a->status = status;
            a->usage = usage;
        } else if (group > 0 && (a = find_attempt(group))) {
            add_usage(&a->orphans, &usage);
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < attempt_count; i++) {
        if (attempts[i].ended) report(&attempts[i]);
        else attempts[kept++] = attempts[i];
    }
    attempt_count = kept;
}

// MARK: - Starting a command

// The strings of a request's body: the working directory, then argc arguments (the first is the path to execute),
// then envc variables, each ending in NUL. `strings` has room for argc + envc + 3 pointers. Returns 0, or -1 when the
// body does not hold them.
static int split_body(char *body, size_t length, uint32_t argc, uint32_t envc, char **strings) {
    char *p = body, *end = body + length;
    for (uint32_t i = 0; i < 1 + argc + envc; i++) {
        char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul) return -1;
        // The working directory first, then argv and its NULL, then envp and its NULL.
        strings[i < 1 + argc ? i : i + 1] = p;
        p = nul + 1;
    }
    strings[1 + argc] = NULL;
    strings[argc + envc + 2] = NULL;
    return 0;
}

static int devnull = -1;

// What the command's process needs before its exec, and what it leaves for the server (their memory is shared).
struct launch {
    const char *cwd;
    char *const *argv;
    char *const *envp;
    int out, err;
    int trace;
    // The exec's path, in a page of its own (the filter lets the exec of this pointer through: a random address,
    // which no later exec of the command's processes can be expected to use).
    char *path;
    volatile int child_errno;
    volatile int listener;
};

// The command's process, until its exec: default signals, its own group, subreaper, directory; the filter when
// traced (its listener created while the descriptor table is shared with the server, which keeps it; the table is
// then the process's own); its streams.
static int launch_command(void *arg) {
    struct launch *l = arg;
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int sig = 1; sig < 65; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 || setpgid(0, 0) != 0 || (l->cwd[0] && chdir(l->cwd) != 0)) {
        l->child_errno = errno;
        _exit(127);
    }
    if (l->trace) {
        l->listener = trace_install(l->path);
        if (unshare(CLONE_FILES) != 0) {
            l->child_errno = errno;
            _exit(127);
        }
    }
    if (dup2(devnull, 0) < 0 || dup2(l->out, 1) < 0 || dup2(l->err, 2) < 0) {
        l->child_errno = errno;
        _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(l->path, l->argv, l->envp);
    l->child_errno = errno;
    _exit(127);
}

static char *exec_path_page;
static char launch_stack[64 * 1024] __attribute__((aligned(16)));

// Starts the command without copying this process: vfork when untraced; traced, a clone that shares memory and,
// until the filter is in place, descriptors. Sets `listener` (-errno when tracing could not be set up). Returns its
// pid, or -errno.
static pid_t start_command(const char *cwd, char *const argv[], char *const envp[], int out, int err, int trace, int *listener) {
    size_t length = strlen(argv[0]) + 1;
    if (!exec_path_page) {
        exec_path_page = mmap(NULL, 4096 * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (exec_path_page == MAP_FAILED) {
            exec_path_page = NULL;
            return -ENOMEM;
        }
    }
    if (length > 4096 * 2) return -ENAMETOOLONG;
    memcpy(exec_path_page, argv[0], length);
    struct launch l = {
        .cwd = cwd, .argv = argv, .envp = envp, .out = out, .err = err, .trace = trace, .path = exec_path_page, .listener = -ENOSYS};
    pid_t pid;
    if (trace) {
        pid = clone(launch_command, launch_stack + sizeof launch_stack, CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &l);
    } else {
        pid = vfork();
        if (pid == 0) launch_command(&l);
    }
    if (pid < 0) return -errno;
    *listener = l.listener;
    if (l.child_errno != 0) {
        if (l.listener >= 0) close(l.listener);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        return -l.child_errno;
    }
    return pid;
}

// Receives a request's header and its three or four descriptors. Returns 0, 1 at the end of the socket, -1 on a
// malformed request.
static int receive(int sock, struct clowdr_shim_request *request, int fds[4]) {
    char control[CMSG_SPACE(4 * sizeof(int))];
    struct iovec io = {.iov_base = request, .iov_len = sizeof *request};
    struct msghdr msg = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return 1;
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            if (c->cmsg_len == CMSG_LEN(3 * sizeof(int))) memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
            if (c->cmsg_len == CMSG_LEN(4 * sizeof(int))) memcpy(fds, CMSG_DATA(c), 4 * sizeof(int));
        }
    }
    if ((size_t)n < sizeof *request && read_all(sock, (char *)request + n, sizeof *request - (size_t)n) != 0) return -1;
    return request->magic == CLOWDR_SHIM_MAGIC ? 0 : -1;
}

// One request: reads its body, starts the command, answers. Returns 0, 1 when clowdr closed the socket, -1 when the
// conversation cannot go on (a malformed request, the socket broken).
static int serve(int sock) {
    struct clowdr_shim_request request;
    int fds[4] = {-1, -1, -1, -1};
    int rc = receive(sock, &request, fds);
    int32_t answer = -EPROTO;
    char *body = NULL;
    char **strings = NULL;
    if (rc == 0) {
        body = malloc(request.length ? request.length : 1);
        strings = calloc((size_t)request.argc + request.envc + 3, sizeof *strings);
        if (!body || !strings || read_all(sock, body, request.length) != 0) rc = -1;
    }
    if (rc == 0 && fds[2] >= 0 && request.argc > 0 && split_body(body, request.length, request.argc, request.envc, strings) == 0) {
        int listener = -1;
        answer = start_command(strings[0], strings + 1, strings + request.argc + 2, fds[0], fds[1], fds[3] >= 0, &listener);
        if (answer > 0 && add_attempt(answer, fds[2], fds[3], listener >= 0 ? listener : -1, listener >= 0 ? 0 : -listener) == 0) {
            fds[2] = fds[3] = -1;
            if (listener >= 0) trace_executed(&attempts[attempt_count - 1].trace, strings[1]);
        } else if (listener >= 0) {
            retire(listener);
        }
    }
    free(strings);
    free(body);
    for (int i = 0; i < 4; i++) {
        if (fds[i] >= 0) close(fds[i]);
    }
    if (rc != 0) return rc;
    return write_all(sock, &answer, sizeof answer) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: clowdr-shim SOCKET_FD (clowdr starts it; it is not a command of its own)\n");
        return 2;
    }
    int sock = atoi(argv[1]);
    if (sock < 3 || fcntl(sock, F_SETFD, FD_CLOEXEC) != 0) {
        fprintf(stderr, "clowdr-shim: SOCKET_FD %s is not an open descriptor above 2\n", argv[1]);
        return 2;
    }
    // Descriptors 0 to 2 open, so that those received never take their numbers.
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    while (devnull >= 0 && devnull <= 2) devnull = dup(devnull);
    if (devnull < 0) return 2;
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) signal(ignored[i], SIG_IGN);
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child, NULL);
    int ended = signalfd(-1, &child, SFD_CLOEXEC | SFD_NONBLOCK);
    if (ended < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return 2;
    release_own_code();
    struct pollfd *ready = NULL;
    size_t ready_capacity = 0;
    for (;;) {
        // The socket, the children's ends, then the listeners of the attempts traced, then the retired ones.
        size_t count = 2 + attempt_count + retired_count;
        if (count > ready_capacity) {
            struct pollfd *grown = realloc(ready, count * 2 * sizeof *grown);
            if (!grown) return 3;
            ready = grown;
            ready_capacity = count * 2;
        }
        ready[0] = (struct pollfd){.fd = sock, .events = POLLIN};
        ready[1] = (struct pollfd){.fd = ended, .events = POLLIN};
        for (size_t i = 0; i < attempt_count; i++) ready[2 + i] = (struct pollfd){.fd = attempts[i].trace.listener, .events = POLLIN};
        for (size_t i = 0; i < retired_count; i++) ready[2 + attempt_count + i] = (struct pollfd){.fd = retired[i], .events = POLLIN};
        if (poll(ready, (nfds_t)count, -1) < 0) {
            if (errno == EINTR) continue;
            return 3;
        }
        // Calls first: a process waiting for its answer has not ended. A listener hung up has no process left to
        // call (the command ended: its report follows on SIGCHLD): closed, not polled again.
        for (size_t i = 0; i < attempt_count; i++) {
            short r = ready[2 + i].revents;
            if (r & POLLIN) trace_serve(&attempts[i].trace);
            if (r & (POLLHUP | POLLERR | POLLNVAL)) {
                close(attempts[i].trace.listener);
                attempts[i].trace.listener = -1;
            }
        }
        size_t kept = 0;
        for (size_t i = 0; i < retired_count; i++) {
            short r = ready[2 + attempt_count + i].revents;
            if (r & POLLIN) trace_pass(retired[i]);
            if (r & (POLLHUP | POLLERR | POLLNVAL)) close(retired[i]);
            else retired[kept++] = retired[i];
        }
        retired_count = kept;
        if (ready[1].revents) {
            struct signalfd_siginfo drained[16];
            while (read(ended, drained, sizeof drained) > 0) {}
            collect();
        }
        if (ready[0].revents) {
            int rc = serve(sock);
            if (rc == 1) return 0;
            if (rc < 0) return 3;
        }
    }
}
