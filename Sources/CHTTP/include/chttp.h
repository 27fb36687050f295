// One HTTP exchange through libcurl's easy interface, synchronous, on the calling thread: what clowdr's AWS client
// sends. Each thread keeps one handle, so its connections are reused. Bodies go out and come in whole, in large
// writes (no per-chunk hand-offs between threads).
#ifndef CHTTP_H
#define CHTTP_H
#include <stddef.h>

typedef struct {
    long status;           // the HTTP status; 0 when the exchange failed (see error)
    char *headers;         // the answer's header lines, as received
    size_t headers_length;
    char *body;
    size_t body_length;
    char error[256];       // why the exchange failed, when status is 0
} clowdr_http_answer;

// Sends `method url` with the given header lines ("Name: value") and body; waits for the whole answer. Returns 0 on
// an answer (whatever its status), -1 when there was none (refused, dropped, stalled for `stall_seconds`), -2 when
// libcurl (loaded on the first call) cannot be loaded. `answer->error` says why.
int clowdr_http_exchange(const char *method, const char *url, const char *const *headers, int header_count, const void *body,
                         size_t body_length, long stall_seconds, clowdr_http_answer *answer);

// Frees what an answer holds.
void clowdr_http_answer_free(clowdr_http_answer *answer);

#endif
