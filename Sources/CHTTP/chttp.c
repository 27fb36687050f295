#include "chttp.h"

#include "csystem.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

// libcurl is loaded on the first exchange, not linked: its thirty libraries (TLS, Kerberos, LDAP...) cost every
// clowdr process about 6 ms at start, and most (the worker on every node) never send a request.
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;
static char load_error[200];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void load(void) {
    const char *names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"};
    const char *symbols[] = {"curl_global_init",   "curl_easy_init",    "curl_easy_reset",   "curl_easy_setopt",   "curl_easy_perform",
                             "curl_easy_getinfo",  "curl_easy_strerror", "curl_slist_append", "curl_slist_free_all"};
    void **const slots[] = {(void **)&curl.global_init,  (void **)&curl.easy_init,     (void **)&curl.easy_reset,
                            (void **)&curl.easy_setopt,  (void **)&curl.easy_perform,  (void **)&curl.easy_getinfo,
                            (void **)&curl.easy_strerror, (void **)&curl.slist_append, (void **)&curl.slist_free_all};
    if (clowdr_load_library(names, 3, symbols, slots, 9, load_error, sizeof load_error) != 0) return;
    curl.global_init(CURL_GLOBAL_ALL);
}

// The calling thread's handle: its connection cache makes the next exchange with the same host skip the connect.
static __thread CURL *handle;

typedef struct {
    char *data;
    size_t length;
    size_t capacity;
} buffer;

static size_t append(char *data, size_t size, size_t count, void *target) {
    buffer *b = target;
    size_t n = size * count;
    if (b->length + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 16384;
        while (b->length + n + 1 > capacity) capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) return 0;  // curl reports a write error
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, data, n);
    b->length += n;
    b->data[b->length] = 0;
    return n;
}

int clowdr_http_exchange(const char *method, const char *url, const char *const *headers, int header_count, const void *body,
                         size_t body_length, long stall_seconds, clowdr_http_answer *answer) {
    pthread_once(&once, load);
    memset(answer, 0, sizeof *answer);
    if (load_error[0]) {
        snprintf(answer->error, sizeof answer->error,
                 "cannot load libcurl, which clowdr's AWS client sends its requests with (%s): install it (Debian and Ubuntu: "
                 "libcurl4; RHEL and Fedora: libcurl)",
                 load_error);
        return -2;
    }
    if (!handle) handle = curl.easy_init();
    if (!handle) {
        strcpy(answer->error, "cannot create a libcurl handle");
        return -1;
    }
    CURL *h = handle;
    curl.easy_reset(h);
    buffer head = {0}, content = {0};
    struct curl_slist *list = NULL;
    for (int i = 0; i < header_count; i++) list = curl.slist_append(list, headers[i]);
    // No "Expect: 100-continue" wait, and no content type curl would add on its own.
    list = curl.slist_append(list, "Expect:");
    int has_type = 0;
    for (int i = 0; i < header_count; i++)
        if (strncasecmp(headers[i], "content-type:", 13) == 0) has_type = 1;
    if (!has_type) list = curl.slist_append(list, "Content-Type:");
    curl.easy_setopt(h, CURLOPT_URL, url);
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_seconds);
    // A connection waits at most 30 s, or as long as a stall may last when that is shorter (a local service).
    curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, stall_seconds < 30 ? (long)stall_seconds : 30L);
    if (strcmp(method, "HEAD") == 0) {
        curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0 || body_length > 0) {
        curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
        curl.easy_setopt(h, CURLOPT_POSTFIELDS, body_length > 0 ? body : "");
    }
    curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, append);
    curl.easy_setopt(h, CURLOPT_HEADERDATA, &head);
    curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
    curl.easy_setopt(h, CURLOPT_WRITEDATA, &content);
    CURLcode code = curl.easy_perform(h);
    curl.slist_free_all(list);
    if (code != CURLE_OK) {
        snprintf(answer->error, sizeof answer->error, "%s", curl.easy_strerror(code));
        free(head.data);
        free(content.data);
        return -1;
    }
    curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer->status);
    answer->headers = head.data;
    answer->headers_length = head.length;
    answer->body = content.data;
    answer->body_length = content.length;
    return 0;
}

void clowdr_http_answer_free(clowdr_http_answer *answer) {
    free(answer->headers);
    free(answer->body);
    answer->headers = answer->body = NULL;
}
