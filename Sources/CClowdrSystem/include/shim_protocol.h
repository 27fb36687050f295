#ifndef CLOWDR_SHIM_PROTOCOL_H
#define CLOWDR_SHIM_PROTOCOL_H
// What clowdr and clowdr-shim (Sources/clowdr-shim/main.c) say to each other over their Unix stream socket. Both run
// on the same machine, from the same build: integers are native.
//
// A request is this header, then `length` bytes of body, with three descriptors (SCM_RIGHTS: the attempt's stdout,
// stderr and report pipe), or four: the fourth a file (a memfd) for the records of the files the attempt's processes
// used, which asks for tracing (Sources/clowdr-shim/trace.c: what is recorded, and the records' form). The body is NUL-terminated strings: the working directory ("" for unchanged), `argc`
// arguments (the first is the path to execute) and `envc` environment variables. The answer is the command's pid
// (also its process group), or -errno when it could not be started. When the command has ended, the server writes
// its report to the report pipe and closes it:
//
//     clowdr-shim 1 exit=<code>|signal=<n> utime_us=<n> stime_us=<n> maxrss_kb=<n> inblock=<n> oublock=<n>
//         [traced=1 records=<bytes> calls=<n> | untraced=<errno>]
//
// `traced=1` when the records were written to the fourth descriptor (`records` bytes, from `calls` calls observed);
// `untraced=ERRNO` when tracing was asked for and the filter could not be installed (ENOSYS: no seccomp user
// notification in this kernel; EBUSY: the server runs under a tracer of this kind; EPERM, EACCES: refused).
#include <stdint.h>

#define CLOWDR_SHIM_MAGIC 0x636c7732u /* "clw2" */

struct clowdr_shim_request {
    uint32_t magic;
    uint32_t argc;
    uint32_t envc;
    uint32_t length;
};

#endif
