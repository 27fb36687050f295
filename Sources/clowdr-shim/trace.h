// Observing which files an attempt's processes use, from clowdr-shim: a seccomp filter installed in the command's
// process before its `exec` sends the file system calls of the command and every process it starts (threads,
// forks, execs: the filter is inherited and cannot be removed) to the server as user notifications. The server
// reads each call's paths from the caller's memory, looks at the file, lets the call go on, and keeps one record per
// file and kind of use (trace.c says which calls and which kinds).
#ifndef CLOWDR_SHIM_TRACE_H
#define CLOWDR_SHIM_TRACE_H
#include <stddef.h>
#include <stdint.h>

// What one attempt's tracing holds: the listener the kernel notifies, the records written so far, and the keys of
// the files already recorded (a file read a thousand times is recorded once).
struct trace {
    int listener;
    // Where each record goes as it is made (clowdr reads it while the attempt runs, and hashes its inputs then),
    // the bytes written there, and one record's text being made.
    int out;
    size_t written;
    int failed;
    char *records;
    size_t length, capacity;
    uint64_t *seen;
    size_t seen_count, seen_capacity;
    long notifications;
    // The call being answered: its process, and whether that process sees another root than the server's (a
    // container's), whose files are looked at through it.
    int pid;
    int other;
    // Which processes see another root, by thread id (-1: unknown; an exec clears it), open addressing.
    int *root_keys;
    signed char *root_values;
    size_t root_count, root_capacity;
};

// In the command's process, before its exec (its memory shared with the server's: vfork): installs the filter.
// `first_exec` is the path pointer of the exec that follows, let through (the server knows what it starts). Returns
// the listener's descriptor, or -errno (ENOSYS: seccomp or its user notifications are absent; EBUSY: the process is
// traced this way already, e.g. clowdr run under clowdr).
int trace_install(const void *first_exec);

// Records the exec the server itself made (the filter lets it through).
void trace_executed(struct trace *t, const char *path);

// Answers the notifications waiting on the listener, recording what they say.
void trace_serve(struct trace *t);

// Answers the notifications waiting on the listener without recording (an attempt already reported, whose left
// processes still make calls).
void trace_pass(int listener);

void trace_free(struct trace *t);

#endif
