/*
 * An asynchronous HTTP client on a GLib main context: libcurl's multi interface driven by the
 * context's sources (socket watches and one timer), so no request ever blocks the loop.
 *
 * Requests carry an optional bearer token; it goes into the Authorization header only and is
 * never logged. Response bodies are capped (HTTP_MAX_BODY) so a misbehaving server cannot grow
 * our memory without bound.
 */
#ifndef SB_BASE_HTTP_H
#define SB_BASE_HTTP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_BODY (16u * 1024 * 1024)

struct http_client;
struct http_call;

struct http_request {
    const char *method; /* "GET", "POST", "PUT", ... */
    const char *url;
    const char *body; /* may be NULL */
    size_t body_len;
    const char *content_type; /* default "application/json" when body is set */
    const char *bearer_token; /* may be NULL */
    long timeout_ms;          /* whole request; 0: 60 s */
};

struct http_response {
    long status;       /* HTTP status, 0 when the request failed below HTTP */
    const char *error; /* NULL on an HTTP response; else why (connection refused, timeout, ...) */
    const char *body;  /* NUL-terminated, may be empty */
    size_t body_len;
    long retry_after_ms; /* from a Retry-After header, -1 if none */
    /* 0 on an HTTP response; else ECONNREFUSED, ETIMEDOUT, EMSGSIZE (body over HTTP_MAX_BODY),
     * EHOSTUNREACH, EINVAL (bad URL) or EIO. */
    int err;
};

/* Invoked once per call on the client's context, unless the call was cancelled first. */
typedef void(http_done_h)(const struct http_response *resp, void *arg);

/* ctx: the main context to run on (NULL: the default context). Dropping the last reference
 * cancels every request in flight (no handler runs); it may be done from a handler. */
int http_client_alloc(struct http_client **cp, GMainContext *ctx);

/* Starts a request. *callp (optional) lets the caller cancel it; it is valid until the handler
 * runs or http_call_cancel() returns. */
int http_request_start(struct http_client *c, const struct http_request *req, http_done_h *h,
                       void *arg, struct http_call **callp);

/* Aborts a request; its handler will not run. Safe from any handler of the same client, but
 * not on the call whose handler is running (that call is already finished: a no-op). */
void http_call_cancel(struct http_call *call);

/* Number of requests in flight (for tests and shutdown). */
unsigned http_client_pending(const struct http_client *c);

/* Percent-encodes s for use as one URL path segment or query value into a new g_malloc'd
 * string (g_free). */
char *http_escape(const char *s);

#endif
