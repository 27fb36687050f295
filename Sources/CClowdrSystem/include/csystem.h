#ifndef CLOWDR_CSYSTEM_H
#define CLOWDR_CSYSTEM_H
// The few system calls Swift cannot make directly or safely: spawning into a new process group with redirected
// output, pidfds, waiting on several descriptors, stream pipes and their relay to files, syncfs, clock ticks and
// page size, handing pages back to the kernel; SHA-256 and HMAC-SHA256 from the system's libcrypto (Swift reaches
// them through the Digest target); gzip files and buffers through zlib.
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/// Starts `argv[0]` (a full path) with `envp`, in `cwd` (NULL: unchanged), stdin from /dev/null, stdout and stderr
/// to the given descriptors, and `fd3` (when not negative) as descriptor 3, as the leader of a new process group and a
/// child subreaper. Returns the pid, or -errno.
pid_t clowdr_spawn(const char *path, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd, int fd3);

/// Starts clowdr-shim at `path` as the server that starts attempts (Sources/clowdr-shim/main.c; the protocol is
/// shim_protocol.h), with its end of a new Unix socket as descriptor 3. Returns its pid and sets `*sock` to clowdr's
/// end (close-on-exec; closing it ends the server), or -errno.
pid_t clowdr_shim_start(const char *path, int *sock);

/// Asks the server on `sock` to start `argv[0]` (a full path) with `envp` in `cwd` (NULL: unchanged), with stdin from
/// /dev/null, the given stdout and stderr, as the leader of a new process group and a child subreaper; the server
/// writes the command's report to `report_fd` when it ends, and closes it. Returns the command's pid (also its
/// process group), or -errno (-EPIPE: the server was gone before it took the request; -ECONNABORTED: it went while
/// answering). With `records_fd` (a memfd; -1 for none), the server traces the files the command's processes use and
/// writes its records there before the report (Sources/clowdr-shim/trace.c).
pid_t clowdr_shim_run(
    int sock, char *const argv[], char *const envp[], const char *cwd, int stdout_fd, int stderr_fd, int report_fd, int records_fd);

/// An anonymous in-memory file (memfd_create, close-on-exec), or -errno.
int clowdr_memfd(const char *name);

/// A pidfd for `pid` (readable when the process exits), or -errno.
int clowdr_pidfd_open(pid_t pid);

/// syncfs(2): writes every dirty file of the file system holding `fd` to the disk. 0, or -1 with errno.
int clowdr_syncfs(int fd);

/// Waits up to `timeout_ms` for any of three descriptors (a negative one is ignored) to become readable or hung up.
/// Returns a bit mask (1: `a`, 2: `b`, 4: `c`), 0 on timeout, -errno on error.
int clowdr_wait_any(int a, int b, int c, int timeout_ms);

/// A pipe for a child's output stream: `fds[0]`, the read end, is non-blocking and close-on-exec; `fds[1]`, the end
/// the child writes, is blocking and close-on-exec (the spawn dup2s it to 1 or 2). 0, or -errno.
int clowdr_stream_pipe(int fds[2]);

/// A pipe whose ends are both blocking and close-on-exec (the spawn passes the write end as descriptor 3). 0, or
/// -errno.
int clowdr_cloexec_pipe(int fds[2]);

/// Moves everything the pipe `pipe_fd` holds now into the file at `path`, which is created (truncated) only when the
/// first byte arrives: a stream that stays empty leaves no file. `*file_fd` is -1 until then, and holds the open
/// file afterwards (the caller closes it). Returns the bytes moved (> 0), 0 at end of stream (every writer gone and
/// the pipe empty), -EAGAIN when the pipe is empty but still has writers, or -errno (the file cannot be created or
/// written).
long long clowdr_stream_relay(int pipe_fd, int *file_fd, const char *path);

/// Streams a file through SHA-256; writes 32 bytes to `out`. Returns 0, or -errno.
int clowdr_sha256_file(const char *path, uint8_t out[32]);

/// Which file a path names: what `stat` says of it.
struct clowdr_file_identity {
    uint64_t device, inode;
    int64_t size, mtime_ns;
};

/// clowdr_sha256_file of the file at `path` only when it is still the regular file `expected` describes (NULL: any
/// file); -ESTALE when it is not.
int clowdr_sha256_file_as(const char *path, const struct clowdr_file_identity *expected, uint8_t out[32]);

/// This process's clock ticks per second (sysconf(_SC_CLK_TCK)) and page size.
long clowdr_clock_ticks(void);
long clowdr_page_size(void);

/// Incremental SHA-256: new, update, final (32 bytes, frees the context).
void *clowdr_sha256_new(void);
void clowdr_sha256_update(void *ctx, const void *data, size_t n);
void clowdr_sha256_final(void *ctx, uint8_t out[32]);

/// Loads the first of `names` (library file names) that the dynamic loader finds, and looks up `count` symbols into
/// `slots`: for libraries clowdr uses only sometimes (libcurl, libcrypto) and so does not link. Returns 0, or -1 with
/// what failed in `error` (`error_size` bytes).
int clowdr_load_library(const char *const names[], int name_count, const char *const symbols[], void **const slots[], int count,
                        char *error, size_t error_size);

/// zlib's CRC-32 of `n` bytes (the checksum S3 verifies for each part uploaded with `x-amz-checksum-crc32`).
uint32_t clowdr_crc32(const void *data, size_t n);
/// The CRC-32 of what came before (`start`, 0 at first) followed by these `n` bytes.
uint32_t clowdr_crc32_update(uint32_t start, const void *data, size_t n);

/// HMAC-SHA256 of `data` under `key`; writes 32 bytes to `out`. Returns 0, or -1 when libcrypto fails.
int clowdr_hmac_sha256(const void *key, size_t key_len, const void *data, size_t data_len, uint8_t out[32]);

/// gzip files through zlib: open (a mode of gzopen: "wb6" writes at level 6, "rb" reads), write, read, close (0 on
/// success).
void *clowdr_gz_open(const char *path, const char *mode);
int clowdr_gz_write(void *gz, const void *data, unsigned n);
int clowdr_gz_read(void *gz, void *data, unsigned n);
int clowdr_gz_close(void *gz);

/// gzip in memory (a gzip member, level 1-9): the compressed size, or 0 when `cap` (at least
/// clowdr_gzip_bound(n)) is too small or zlib fails. Inputs must be under 4 GiB.
size_t clowdr_gzip_bound(size_t n);
size_t clowdr_gzip(const void *in, size_t n, void *out, size_t cap, int level);
/// The same as raw deflate, without gzip's header and trailer (a zip member's data).
size_t clowdr_deflate_raw(const void *in, size_t n, void *out, size_t cap, int level);

/// Hands back the pages of the process's read-only file mappings (code, read-only data: they come back from the page
/// cache when touched) and the free heap, so that a worker waiting on a tool costs its job little memory. Returns
/// the bytes of mappings advised, or -1.
long long clowdr_release_file_pages(void);

#endif
