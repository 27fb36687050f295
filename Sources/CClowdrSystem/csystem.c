#define _GNU_SOURCE
#include "csystem.h"
#include "shim_protocol.h"
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

pid_t clowdr_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd, int fd3) {
    // vfork + exec, with only system calls between them (what posix_spawn does), plus one thing posix_spawn cannot
    // do: make the child a subreaper, so processes that daemonise inside the task (podman's conmon, double-forked
    // servers) are re-parented into the task's own tree instead of to init. The attribute survives execve.
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) return -errno;
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return -e;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = vfork();
    if (pid == 0) {
        int err = 0;
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        for (int sig = 1; sig < 65; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
        }
        if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 ||
            setpgid(0, 0) != 0 ||
            (cwd && chdir(cwd) != 0) ||
            dup2(devnull, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0 ||
            (fd3 >= 0 && (fd3 == 3 ? fcntl(3, F_SETFD, 0) : dup2(fd3, 3)) < 0)) {
            err = errno;
        } else {
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            execve(path, argv, envp);
            err = errno;
        }
        (void)!write(errpipe[1], &err, sizeof err);
        _exit(127);
    }
    int spawn_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    close(devnull);
    if (pid < 0) {
        close(errpipe[0]);
        return -spawn_errno;
    }
    int child_err = 0;
    ssize_t n;
    do { n = read(errpipe[0], &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == sizeof child_err) {
        waitpid(pid, NULL, 0);
        return -child_err;
    }
    return pid;
}

pid_t clowdr_shim_start(const char *path, int *sock) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
    // The server's end becomes its descriptor 3 (dup2 clears close-on-exec; an end that is 3 already moves first).
    if (sv[1] == 3) {
        int moved = fcntl(3, F_DUPFD_CLOEXEC, 4);
        close(3);
        if (moved < 0) {
            close(sv[0]);
            return -errno;
        }
        sv[1] = moved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], 3);
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *const argv[] = {(char *)path, "3", NULL};
    extern char **environ;
    pid_t pid;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return -rc;
    }
    *sock = sv[0];
    return pid;
}

static int shim_send(int sock, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int32_t shim_answer(int sock) {
    int32_t answer;
    char *p = (char *)&answer;
    size_t n = sizeof answer;
    while (n > 0) {
        ssize_t r = recv(sock, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        // The server went after it took the request: it may have started the attempt.
        if (r <= 0) return -ECONNABORTED;
        p += r;
        n -= (size_t)r;
    }
    return answer;
}

pid_t clowdr_shim_run(
    int sock, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd, int report_fd, int records_fd) {
    struct clowdr_shim_request request = {.magic = CLOWDR_SHIM_MAGIC};
    size_t length = strlen(cwd ? cwd : "") + 1;
    for (; argv[request.argc]; request.argc++) length += strlen(argv[request.argc]) + 1;
    for (; envp[request.envc]; request.envc++) length += strlen(envp[request.envc]) + 1;
    if (length > UINT32_MAX) return -E2BIG;
    request.length = (uint32_t)length;
    char *body = malloc(length), *p = body;
    if (!body) return -ENOMEM;
    p = stpcpy(p, cwd ? cwd : "") + 1;
    for (uint32_t i = 0; i < request.argc; i++) p = stpcpy(p, argv[i]) + 1;
    for (uint32_t i = 0; i < request.envc; i++) p = stpcpy(p, envp[i]) + 1;

    // The header, its descriptors and the body in one message: the server wakes once and finds it whole.
    int fds[4] = {stdout_fd, stderr_fd, report_fd, records_fd};
    size_t fd_bytes = (records_fd >= 0 ? 4 : 3) * sizeof(int);
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec io[2] = {{.iov_base = &request, .iov_len = sizeof request}, {.iov_base = body, .iov_len = length}};
    struct msghdr msg = {.msg_iov = io, .msg_iovlen = 2, .msg_control = control, .msg_controllen = CMSG_SPACE(fd_bytes)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fd_bytes);
    memcpy(CMSG_DATA(c), fds, fd_bytes);
    ssize_t sent;
    do { sent = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    int rc = sent < 0 ? -errno : 0;
    // What a full socket buffer did not take (a large environment): the rest of the header, then of the body.
    if (rc == 0 && (size_t)sent < sizeof request) {
        rc = shim_send(sock, (char *)&request + sent, sizeof request - (size_t)sent);
        sent = sizeof request;
    }
    if (rc == 0) rc = shim_send(sock, body + (sent - (ssize_t)sizeof request), length - (size_t)(sent - (ssize_t)sizeof request));
    free(body);
    return rc != 0 ? rc : shim_answer(sock);
}

int clowdr_memfd(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int clowdr_cloexec_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno; }

int clowdr_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int clowdr_wait_any(int a, int b, int c, int timeout_ms) {
    // poll ignores negative descriptors, so an absent one costs nothing.
    struct pollfd p[3] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}, {.fd = c, .events = POLLIN}};
    int rc;
    do { rc = poll(p, 3, timeout_ms); } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -errno;
    int mask = 0;
    for (int i = 0; i < 3; i++) {
        if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) mask |= 1 << i;
    }
    return mask;
}

int clowdr_stream_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    int flags = fcntl(fds[0], F_GETFL);
    if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    return 0;
}

long long clowdr_stream_relay(int pipe_fd, int *file_fd, const char *path) {
    long long moved = 0;
    for (;;) {
        if (*file_fd < 0) {
            // No file yet: read one byte to tell data (create the file) from end of stream or an empty pipe.
            char first;
            ssize_t n = read(pipe_fd, &first, 1);
            if (n == 0) return moved;
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno == EAGAIN ? -EAGAIN : -errno;
            }
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0) return -errno;
            *file_fd = fd;
            ssize_t w;
            do { w = write(fd, &first, 1); } while (w < 0 && errno == EINTR);
            if (w != 1) return -errno;
            moved += 1;
        }
        // The kernel moves the pipe's pages into the file: no copy through this process.
        ssize_t n = splice(pipe_fd, NULL, *file_fd, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && errno == EINVAL) {
            // A file system without splice: read and write.
            char buffer[65536];
            n = read(pipe_fd, buffer, sizeof buffer);
            if (n > 0) {
                for (ssize_t done = 0; done < n;) {
                    ssize_t w = write(*file_fd, buffer + done, (size_t)(n - done));
                    if (w < 0 && errno == EINTR) continue;
                    if (w <= 0) return -errno;
                    done += w;
                }
            }
        }
        if (n > 0) {
            moved += n;
            if (moved >= (16 << 20)) return moved;  // back to the caller's loop (samples) now and then
            continue;
        }
        if (n == 0) return moved;  // end of stream
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return moved > 0 ? moved : -EAGAIN;
        return -errno;
    }
}

// libcrypto is loaded on the first digest, not linked: loading it costs every clowdr process about 2 ms at start,
// and a worker needs it only after its tool has started (the outputs' checksums). The functions used have the same
// ABI in OpenSSL 1.1 and 3.
static struct {
    EVP_MD_CTX *(*ctx_new)(void);
    void (*ctx_free)(EVP_MD_CTX *);
    const EVP_MD *(*sha256)(void);
    int (*init)(EVP_MD_CTX *, const EVP_MD *, ENGINE *);
    int (*update)(EVP_MD_CTX *, const void *, size_t);
    int (*final)(EVP_MD_CTX *, unsigned char *, unsigned int *);
    unsigned char *(*hmac)(const EVP_MD *, const void *, int, const unsigned char *, size_t, unsigned char *, unsigned int *);
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

int clowdr_load_library(const char *const names[], int name_count, const char *const symbols[], void **const slots[], int count,
                        char *error, size_t error_size) {
    void *lib = NULL;
    for (int i = 0; i < name_count && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(error, error_size, "%s", dlerror());
        return -1;
    }
    for (int i = 0; i < count; i++) {
        if (!(*slots[i] = dlsym(lib, symbols[i]))) {
            snprintf(error, error_size, "%s has no %s (too old?)", names[0], symbols[i]);
            return -1;
        }
    }
    return 0;
}

static void crypto_load(void) {
    const char *names[] = {"libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"};
    const char *symbols[] = {"EVP_MD_CTX_new", "EVP_MD_CTX_free", "EVP_sha256", "EVP_DigestInit_ex", "EVP_DigestUpdate", "EVP_DigestFinal_ex", "HMAC"};
    void **const slots[] = {(void **)&crypto.ctx_new, (void **)&crypto.ctx_free, (void **)&crypto.sha256, (void **)&crypto.init,
                            (void **)&crypto.update,  (void **)&crypto.final,    (void **)&crypto.hmac};
    char error[200];
    if (clowdr_load_library(names, 3, symbols, slots, 7, error, sizeof error) != 0) {
        // As if the library were missing at start, which is what linking it did: nothing can be checksummed.
        fprintf(stderr,
                "clowdr: error[system.no_libcrypto]: cannot load OpenSSL's libcrypto (%s), which clowdr computes SHA-256 with: "
                "install it (Debian and Ubuntu: libssl3; RHEL and Fedora: openssl-libs)\n",
                error);
        _exit(127);
    }
}

static void crypto_ready(void) { pthread_once(&crypto_once, crypto_load); }

int clowdr_sha256_file(const char *path, uint8_t out[32]) { return clowdr_sha256_file_as(path, NULL, out); }

int clowdr_sha256_file_as(const char *path, const struct clowdr_file_identity *expected, uint8_t out[32]) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat info;
    if (fstat(fd, &info) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (expected && ((uint64_t)info.st_dev != expected->device || (uint64_t)info.st_ino != expected->inode || (int64_t)info.st_size != expected->size ||
                     (int64_t)info.st_mtim.tv_sec * 1000000000LL + info.st_mtim.tv_nsec != expected->mtime_ns || !S_ISREG(info.st_mode))) {
        close(fd);
        return -ESTALE;
    }
    // A small file is read into the stack; a larger one through a megabyte on the heap, for this call (a
    // thread-local megabyte would be zeroed for every thread the process starts).
    unsigned char small[16384];
    size_t size = info.st_size < (off_t)sizeof small ? sizeof small : 1 << 20;
    unsigned char *buf = size == sizeof small ? small : malloc(size);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    crypto_ready();
    EVP_MD_CTX *ctx = crypto.ctx_new();
    crypto.init(ctx, crypto.sha256(), NULL);
    ssize_t n;
    int err = 0;
    while ((n = read(fd, buf, size)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            err = -errno;
            break;
        }
        crypto.update(ctx, buf, (size_t)n);
    }
    unsigned int len = 32;
    crypto.final(ctx, out, &len);
    crypto.ctx_free(ctx);
    if (buf != small) free(buf);
    close(fd);
    return err;
}

long clowdr_clock_ticks(void) { return sysconf(_SC_CLK_TCK); }
long clowdr_page_size(void) { return sysconf(_SC_PAGESIZE); }

void *clowdr_sha256_new(void) {
    crypto_ready();
    EVP_MD_CTX *ctx = crypto.ctx_new();
    crypto.init(ctx, crypto.sha256(), NULL);
    return ctx;
}

void clowdr_sha256_update(void *ctx, const void *data, size_t n) { crypto.update((EVP_MD_CTX *)ctx, data, n); }

void clowdr_sha256_final(void *ctx, uint8_t out[32]) {
    unsigned int len = 32;
    crypto.final((EVP_MD_CTX *)ctx, out, &len);
    crypto.ctx_free((EVP_MD_CTX *)ctx);
}

uint32_t clowdr_crc32_update(uint32_t start, const void *data, size_t n) {
    uLong crc = start;
    const unsigned char *p = data;
    while (n > 0) {  // zlib takes an unsigned int length
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

uint32_t clowdr_crc32(const void *data, size_t n) { return clowdr_crc32_update((uint32_t)crc32(0L, Z_NULL, 0), data, n); }

int clowdr_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len, uint8_t out[32]) {
    crypto_ready();
    unsigned int len = 32;
    return crypto.hmac(crypto.sha256(), key, (int)key_len, data, data_len, out, &len) != NULL && len == 32 ? 0 : -1;
}

void *clowdr_gz_open(const char *path, const char *mode) { return gzopen(path, mode); }
int clowdr_gz_write(void *gz, const void *data, unsigned n) { return gzwrite((gzFile)gz, data, n); }
int clowdr_gz_read(void *gz, void *data, unsigned n) { return gzread((gzFile)gz, data, n); }
int clowdr_gz_close(void *gz) { return gzclose((gzFile)gz) == Z_OK ? 0 : -1; }

size_t clowdr_gzip_bound(size_t n) { return compressBound((uLong)n) + 32; }

// windowBits 15 + 16: a gzip header and trailer, as browsers' DecompressionStream("gzip") reads; -15: raw deflate.
static size_t deflate_buffer(const void *in, size_t n, void *out, size_t cap, int level, int window_bits) {
    z_stream s = {0};
    if (deflateInit2(&s, level, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = (Bytef *)out;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    size_t written = cap - s.avail_out;
    deflateEnd(&s);
    return rc == Z_STREAM_END ? written : 0;
}

size_t clowdr_gzip(const void *in, size_t n, void *out, size_t cap, int level) { return deflate_buffer(in, n, out, cap, level, 15 + 16); }

size_t clowdr_deflate_raw(const void *in, size_t n, void *out, size_t cap, int level) { return deflate_buffer(in, n, out, cap, level, -15); }

int clowdr_syncfs(int fd) { return syncfs(fd); }

long long clowdr_release_file_pages(void) {
    // Every read-only mapping of a file (code, read-only data) none of whose pages was ever copied on write (the
    // smaps "Anonymous" of relocated data is not zero: those copies must stay): its pages leave this process's page
    // tables and fault back from the page cache when touched again. MADV_DONTNEED drops them even when other
    // processes map the same file (other workers on the node, which a scheduler's sum of resident sizes counts in
    // every job), and leaves the page cache as it is (nothing read again from disk).
    FILE *smaps = fopen("/proc/self/smaps", "r");
    if (!smaps) return -1;
    // procfs says its block size is 1 KB, and stdio would read the file (tens of KB) 1 KB a system call.
    static char buffer[1 << 16];
    setvbuf(smaps, buffer, _IOFBF, sizeof buffer);
    char line[4096];
    long long advised = 0;
    unsigned long start = 0, end = 0;
    int candidate = 0;
    while (fgets(line, sizeof line, smaps)) {
        unsigned long s0, e0, inode;
        char perms[8];
        long kb;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &s0, &e0, perms, &inode) == 4) {
            start = s0;
            end = e0;
            candidate = inode != 0 && perms[0] == 'r' && perms[1] != 'w';
        } else if (candidate && sscanf(line, "Anonymous: %ld kB", &kb) == 1) {
            if (kb == 0 && madvise((void *)start, end - start, MADV_DONTNEED) == 0) advised += (long long)(end - start);
            candidate = 0;
        }
    }
    fclose(smaps);
    malloc_trim(0);
    return advised;
}
