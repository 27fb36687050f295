// The file tracing of clowdr-shim (trace.h says what it is).
//
// Calls sent to the server: open, creat, openat, openat2 (read, written, created, listed), execve, execveat
// (executed), rename, renameat, renameat2 (renamed), unlink, unlinkat (deleted), truncate (written), link, linkat
// (created: O_TMPFILE files are given their name so). Every other call, and calls of another ABI (32-bit), run
// without a stop. The server looks at the file before letting the call go on: a call whose file is absent (and not
// to be created) fails and is not recorded, so failed probes (a shell's PATH search, Python's import path) leave
// nothing; the file's device, inode, size and modification time are those of its first use.
//
// One record per line: KIND TAB DEV TAB INODE TAB SIZE TAB MTIME_NS TAB ROOT TAB PATH [TAB PATH2], with tab, newline
// and backslash in paths written \t, \n and \\. ROOT is `/` when the process saw the server's root, `c` when it saw
// another (a container's): its paths are the container's, and its files were looked at through its root. KIND: r read, w written, c created, l listed (a directory opened for
// reading), x executed, m renamed (PATH to PATH2), d deleted. Paths are absolute as the process named them
// (relative ones joined to its working or given directory; `.` and `..` resolved by name, symbolic links kept).
#define _GNU_SOURCE
#include "trace.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

// Linux 6.6: the listener's waker hands the CPU straight to the waiter, so a call and its answer cost two
// switches and no scheduling (older headers lack the names).
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#if defined(__x86_64__)
#define TRACE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TRACE_ARCH AUDIT_ARCH_AARCH64
#endif

// The calls sent to the server.
static const int traced[] = {
#ifdef __NR_open
    __NR_open,
#endif
#ifdef __NR_creat
    __NR_creat,
#endif
    __NR_openat,
#ifdef __NR_openat2
    __NR_openat2,
#endif
    __NR_execve,   __NR_execveat,
#ifdef __NR_rename
    __NR_rename,
#endif
    __NR_renameat, __NR_renameat2,
#ifdef __NR_unlink
    __NR_unlink,
#endif
    __NR_unlinkat, __NR_truncate,
#ifdef __NR_link
    __NR_link,
#endif
    __NR_linkat,
    // Not files: changes of root (a container runtime's), after which the process is looked at again.
    __NR_pivot_root, __NR_chroot, __NR_setns,
};

#define TRACED_COUNT (sizeof traced / sizeof *traced)

int trace_install(const void *first_exec) {
#ifndef TRACE_ARCH
    (void)first_exec;
    return -ENOSYS;
#else
    uint64_t first = (uint64_t)(uintptr_t)first_exec;
    // 0-2: another ABI runs untraced. 3: the call's number. 4-8: the exec whose path is the server's own pointer
    // (low word, then high word) is let through. Then each traced call goes to the server; anything else is allowed.
    struct sock_filter f[9 + TRACED_COUNT + 2];
    const size_t allow = 9 + TRACED_COUNT, notify = allow + 1;
    size_t n = 0;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRACE_ARCH, 1, 0);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_execve, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)first, 0, (uint8_t)(notify - n - 1));
    n++;
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]) + 4);
    f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(first >> 32), (uint8_t)(allow - n - 1), (uint8_t)(notify - n - 1));
    n++;
    for (size_t i = 0; i < TRACED_COUNT; i++) {
        f[n] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)traced[i], (uint8_t)(notify - n - 1), 0);
        n++;
    }
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
    struct sock_fprog program = {.len = (unsigned short)n, .filter = f};
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
    // Without CAP_SYS_ADMIN a filter needs no_new_privs (set-user-id programs then run without their privileges).
    if (fd < 0 && errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
        fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
    }
    if (fd < 0) return errno == EINVAL ? -ENOSYS : -errno;
    (void)ioctl((int)fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);  // older kernels: EINVAL, no matter
    return (int)fd;
#endif
}

// MARK: - Reading a call's arguments

// A NUL-terminated string of process `pid` at `address`, into `out` (`size` bytes). Returns its length, or -1.
static ssize_t remote_string(pid_t pid, uint64_t address, char *out, size_t size) {
    size_t got = 0;
    while (got < size - 1) {
        // Up to the end of the remote page: the next one may not be mapped.
        size_t want = 4096 - (size_t)((address + got) & 4095);
        if (want > size - 1 - got) want = size - 1 - got;
        struct iovec local = {.iov_base = out + got, .iov_len = want};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)(address + got), .iov_len = want};
        ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (r <= 0) return -1;
        char *nul = memchr(out + got, 0, (size_t)r);
        if (nul) return nul - out;
        got += (size_t)r;
    }
    return -1;
}

// The target of a /proc link of `pid` (`what`: "cwd", "fd/3", ...), into `out`. Returns its length, or -1.
static ssize_t proc_link(pid_t pid, const char *what, char *out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/%s", (int)pid, what);
    ssize_t n = readlink(link, out, size - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return n;
}

// Resolves `.` and `..` of an absolute path in place, by name.
static void normalize(char *path) {
    char *out = path, *in = path;
    while (*in) {
        while (*in == '/') in++;
        char *end = in;
        while (*end && *end != '/') end++;
        size_t len = (size_t)(end - in);
        if (len == 0) break;
        if (len == 1 && in[0] == '.') {
        } else if (len == 2 && in[0] == '.' && in[1] == '.') {
            while (out > path && *--out != '/') {}
        } else {
            *out++ = '/';
            memmove(out, in, len);
            out += len;
        }
        in = end;
    }
    if (out == path) *out++ = '/';
    *out = 0;
}

// The absolute path a call of `pid` names: `address` read from its memory, relative to `dirfd` (AT_FDCWD: its
// working directory). With `empty_is_dirfd`, an empty path names `dirfd` itself (AT_EMPTY_PATH). Returns 0 or -1.
static int call_path(pid_t pid, int dirfd, uint64_t address, int empty_is_dirfd, char *out, size_t size) {
    char name[4096];
    if (remote_string(pid, address, name, sizeof name) < 0) return -1;
    if (name[0] == '/') {
        snprintf(out, size, "%s", name);
    } else {
        char base[4096], what[32];
        if (dirfd == AT_FDCWD) snprintf(what, sizeof what, "cwd");
        else snprintf(what, sizeof what, "fd/%d", dirfd);
        if (proc_link(pid, what, base, sizeof base) < 0 || base[0] != '/') return -1;
        if (name[0] == 0 && !empty_is_dirfd) return -1;
        if ((size_t)snprintf(out, size, "%s/%s", base, name) >= size) return -1;
    }
    normalize(out);
    return 0;
}

// MARK: - Which root a process sees

static struct stat server_root;

// Whether `pid` sees another root than the server's: its /proc root link compared with the server's `/`.
static int sees_other_root(pid_t pid) {
    if (server_root.st_ino == 0 && stat("/", &server_root) != 0) return 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/root", (int)pid);
    struct stat info;
    if (stat(link, &info) != 0) return 0;
    return info.st_dev != server_root.st_dev || info.st_ino != server_root.st_ino;
}

// The slot of `pid` in the table (grown at half full).
static size_t root_slot(struct trace *t, pid_t pid) {
    if (t->root_count * 2 >= t->root_capacity) {
        size_t capacity = t->root_capacity ? t->root_capacity * 2 : 256;
        int *keys = calloc(capacity, sizeof *keys);
        signed char *values = calloc(capacity, 1);
        if (!keys || !values) {
            free(keys);
            free(values);
            return (size_t)-1;
        }
        for (size_t i = 0; i < t->root_capacity; i++) {
            if (!t->root_keys[i]) continue;
            size_t j = (size_t)t->root_keys[i] & (capacity - 1);
            while (keys[j]) j = (j + 1) & (capacity - 1);
            keys[j] = t->root_keys[i];
            values[j] = t->root_values[i];
        }
        free(t->root_keys);
        free(t->root_values);
        t->root_keys = keys;
        t->root_values = values;
        t->root_capacity = capacity;
    }
    size_t j = (size_t)pid & (t->root_capacity - 1);
    while (t->root_keys[j] && t->root_keys[j] != pid) j = (j + 1) & (t->root_capacity - 1);
    if (!t->root_keys[j]) {
        t->root_keys[j] = pid;
        t->root_values[j] = -1;
        t->root_count++;
    }
    return j;
}

// Whether `pid` sees another root, from the table or looked at once.
static int other_root(struct trace *t, pid_t pid) {
    size_t j = root_slot(t, pid);
    if (j == (size_t)-1) return sees_other_root(pid);
    if (t->root_values[j] < 0) t->root_values[j] = (signed char)sees_other_root(pid);
    return t->root_values[j];
}

// An exec may follow a change of root (a container runtime's last step): the process is looked at again.
static void forget_root(struct trace *t, pid_t pid) {
    size_t j = root_slot(t, pid);
    if (j != (size_t)-1) t->root_values[j] = -1;
}

// stat (`follow`) or lstat of `path` as the calling process sees it: through its root when that is another.
static int look(struct trace *t, const char *path, struct stat *info, int follow) {
    if (!t->other) return follow ? stat(path, info) : lstat(path, info);
    char link[64];
    snprintf(link, sizeof link, "/proc/%d/root", t->pid);
    int root = open(link, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return -1;
    struct open_how how = {.flags = O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), .resolve = RESOLVE_IN_ROOT};
    int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
    close(root);
    if (fd < 0) return -1;
    int rc = fstat(fd, info);
    close(fd);
    return rc;
}

// MARK: - Records

// FNV-1a over the kind and the paths: a record's key (two records alike are one).
static uint64_t key_of(char kind, const char *a, const char *b) {
    uint64_t h = 1469598103934665603ULL;
    h = (h ^ (unsigned char)kind) * 1099511628211ULL;
    for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    if (b) {
        h = (h ^ 0) * 1099511628211ULL;
        for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return h ? h : 1;
}

// Whether the key is recorded already; adds it when not. An open-addressing table, grown at half full.
static int seen_before(struct trace *t, uint64_t key) {
    if (t->seen_count * 2 >= t->seen_capacity) {
        size_t capacity = t->seen_capacity ? t->seen_capacity * 2 : 1024;
        uint64_t *grown = calloc(capacity, sizeof *grown);
        if (!grown) return 1;
        for (size_t i = 0; i < t->seen_capacity; i++) {
            if (!t->seen[i]) continue;
            size_t j = t->seen[i] & (capacity - 1);
            while (grown[j]) j = (j + 1) & (capacity - 1);
            grown[j] = t->seen[i];
        }
        free(t->seen);
        t->seen = grown;
        t->seen_capacity = capacity;
    }
    size_t j = key & (t->seen_capacity - 1);
    while (t->seen[j]) {
        if (t->seen[j] == key) return 1;
        j = (j + 1) & (t->seen_capacity - 1);
    }
    t->seen[j] = key;
    t->seen_count++;
    return 0;
}

static void append(struct trace *t, const char *data, size_t n) {
    if (t->length + n > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 16384;
        while (t->length + n > capacity) capacity *= 2;
        char *grown = realloc(t->records, capacity);
        if (!grown) return;
        t->records = grown;
        t->capacity = capacity;
    }
    memcpy(t->records + t->length, data, n);
    t->length += n;
}

static void append_path(struct trace *t, const char *path) {
    char escaped[8192];
    size_t n = 0;
    for (const char *p = path; *p && n < sizeof escaped - 2; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\\') {
            escaped[n++] = '\\';
            escaped[n++] = *p == '\t' ? 't' : *p == '\n' ? 'n' : '\\';
        } else {
            escaped[n++] = *p;
        }
    }
    append(t, escaped, n);
}

// Records a use of `path` (and `second`, a rename's new name), with what `info` says of the file (NULL: nothing).
static void record(struct trace *t, char kind, const char *path, const char *second, const struct stat *info) {
    // A container's /bin/sh is not the host's: the root is part of the key.
    if (seen_before(t, key_of(t->other ? (char)(kind ^ 0x20) : kind, path, second))) return;
    t->length = 0;
    char head[160];
    int n = snprintf(
        head, sizeof head, "%c\t%llu\t%llu\t%lld\t%lld\t%s\t", kind, info ? (unsigned long long)info->st_dev : 0ULL,
        info ? (unsigned long long)info->st_ino : 0ULL, info ? (long long)info->st_size : 0LL,
        info ? (long long)info->st_mtim.tv_sec * 1000000000LL + info->st_mtim.tv_nsec : 0LL, t->other ? "c" : "/");
    append(t, head, (size_t)n);
    append_path(t, path);
    if (second) {
        append(t, "\t", 1);
        append_path(t, second);
    }
    append(t, "\n", 1);
    // Written at once: a record is one write (an append to a memory file, which never blocks).
    size_t done = 0;
    while (t->out >= 0 && !t->failed && done < t->length) {
        ssize_t w = write(t->out, t->records + done, t->length - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) t->failed = 1;
        else done += (size_t)w;
    }
    t->written += done;
}

// MARK: - The calls

// An open of `path` with `flags`: read, written, created or listed, when it will succeed.
static void opened(struct trace *t, const char *path, uint64_t flags) {
    if (flags & O_PATH) return;
    struct stat info;
    int exists = look(t, path, &info, 1) == 0;
    int writes = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
    if (!exists) {
        if (flags & O_CREAT) record(t, 'c', path, NULL, NULL);
        return;
    }
    if ((flags & O_CREAT) && (flags & O_EXCL)) return;  // fails: it exists
    if (S_ISDIR(info.st_mode)) {
        if (!writes) record(t, 'l', path, NULL, &info);
        return;
    }
    if (!S_ISREG(info.st_mode)) return;  // devices, pipes, sockets: not files of the record
    record(t, writes ? 'w' : 'r', path, NULL, &info);
}

static void executed(struct trace *t, const char *path) {
    struct stat info;
    if (look(t, path, &info, 1) == 0 && S_ISREG(info.st_mode)) record(t, 'x', path, NULL, &info);
}

void trace_executed(struct trace *t, const char *path) {
    t->other = 0;
    executed(t, path);
}

static void renamed(struct trace *t, const char *from, const char *to) {
    struct stat info;
    if (look(t, from, &info, 0) == 0 && !S_ISDIR(info.st_mode)) record(t, 'm', from, to, &info);
}

static void deleted(struct trace *t, const char *path) {
    struct stat info;
    if (look(t, path, &info, 0) == 0 && !S_ISDIR(info.st_mode)) record(t, 'd', path, NULL, &info);
}

static void linked(struct trace *t, const char *path) {
    struct stat info;
    if (look(t, path, &info, 0) != 0) record(t, 'c', path, NULL, NULL);
}

// What one notified call says, recorded (before the call goes on: the file as the call finds it).
static void observe(struct trace *t, const struct seccomp_notif *n) {
    pid_t pid = (pid_t)n->pid;
    const __u64 *a = n->data.args;
    char path[4096], second[4096];
    int nr = n->data.nr;
    t->pid = pid;
    if (nr == __NR_pivot_root || nr == __NR_chroot || nr == __NR_setns) {
        forget_root(t, pid);  // its root changes once the call goes on: looked at again at its next call
        return;
    }
    t->other = other_root(t, pid);
#ifdef __NR_open
    if (nr == __NR_open) {
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0) opened(t, path, a[1]);
        return;
    }
#endif
#ifdef __NR_creat
    if (nr == __NR_creat) {
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0) opened(t, path, O_CREAT | O_WRONLY | O_TRUNC);
        return;
    }
#endif
    if (nr == __NR_openat) {
        if (call_path(pid, (int)a[0], a[1], 0, path, sizeof path) == 0) opened(t, path, a[2]);
    }
#ifdef __NR_openat2
    else if (nr == __NR_openat2) {
        struct open_how how;
        struct iovec local = {.iov_base = &how, .iov_len = sizeof how};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)a[2], .iov_len = sizeof how};
        if (a[3] >= sizeof how && process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof how &&
            call_path(pid, (int)a[0], a[1], 0, path, sizeof path) == 0) {
            opened(t, path, how.flags);
        }
    }
#endif
    else if (nr == __NR_execve) {
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0) executed(t, path);
    } else if (nr == __NR_execveat) {
        if (call_path(pid, (int)a[0], a[1], (a[4] & AT_EMPTY_PATH) != 0, path, sizeof path) == 0) executed(t, path);
    }
#ifdef __NR_rename
    else if (nr == __NR_rename) {
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0 && call_path(pid, AT_FDCWD, a[1], 0, second, sizeof second) == 0) {
            renamed(t, path, second);
        }
    }
#endif
    else if (nr == __NR_renameat || nr == __NR_renameat2) {
        if (call_path(pid, (int)a[0], a[1], 0, path, sizeof path) == 0 && call_path(pid, (int)a[2], a[3], 0, second, sizeof second) == 0) {
            renamed(t, path, second);
        }
    }
#ifdef __NR_unlink
    else if (nr == __NR_unlink) {
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0) deleted(t, path);
    }
#endif
    else if (nr == __NR_unlinkat) {
        if (!(a[2] & AT_REMOVEDIR) && call_path(pid, (int)a[0], a[1], 0, path, sizeof path) == 0) deleted(t, path);
    } else if (nr == __NR_truncate) {
        struct stat info;
        if (call_path(pid, AT_FDCWD, a[0], 0, path, sizeof path) == 0 && look(t, path, &info, 1) == 0 && S_ISREG(info.st_mode)) {
            record(t, 'w', path, NULL, &info);
        }
    }
#ifdef __NR_link
    else if (nr == __NR_link) {
        if (call_path(pid, AT_FDCWD, a[1], 0, path, sizeof path) == 0) linked(t, path);
    }
#endif
    else if (nr == __NR_linkat) {
        if (call_path(pid, (int)a[2], a[3], 0, path, sizeof path) == 0) linked(t, path);
    }
}

// MARK: - Serving the listener

static struct seccomp_notif_sizes sizes;

static int answer(int listener, int record_too, struct trace *t) {
    if (!sizes.seccomp_notif && syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return -1;
    // The kernel's structures may be larger than these headers': sized as it says.
    union {
        struct seccomp_notif n;
        char bytes[1024];
    } request;
    union {
        struct seccomp_notif_resp r;
        char bytes[1024];
    } response;
    if (sizes.seccomp_notif > sizeof request || sizes.seccomp_notif_resp > sizeof response) return -1;
    memset(&request, 0, sizes.seccomp_notif);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request) != 0) return -1;
    if (record_too) {
        t->notifications++;
        observe(t, &request.n);
    }
    memset(&response, 0, sizes.seccomp_notif_resp);
    response.r.id = request.n.id;
    response.r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);  // ENOENT: the caller was killed meanwhile
    return 0;
}

void trace_serve(struct trace *t) { (void)answer(t->listener, 1, t); }

void trace_pass(int listener) { (void)answer(listener, 0, NULL); }

void trace_free(struct trace *t) {
    if (t->listener >= 0) close(t->listener);
    free(t->records);
    free(t->seen);
    free(t->root_keys);
    free(t->root_values);
    *t = (struct trace){.listener = -1, .out = -1};
}
