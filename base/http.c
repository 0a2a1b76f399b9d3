/*
 * libcurl's multi interface driven by one GSource per client.
 *
 * The source carries every socket curl asks us to watch (g_source_add_unix_fd) and curl's one
 * timer (the source's ready time), so a client costs one source on the context however many
 * requests it runs, and curl is only ever entered from the source's dispatch or from the
 * public calls, never from its own callbacks.
 *
 * Completion handlers run from dispatch. They may start requests, cancel others, or drop the
 * last reference to the client; dispatch notices the latter through a flag that lives on its
 * own stack, because the client's memory is gone by the time the handler returns.
 *
 * Easy handles are kept in a small pool and reset on reuse: connections and the DNS cache
 * belong to the multi handle, so a reused handle mostly saves allocations.
 */
#include "base/http.h"

#include "base/log.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
    HTTP_POOL_MAX = 8,
    HTTP_DEFAULT_TIMEOUT_MS = 60000,
    /* A Retry-After beyond a day is a broken server; callers bound their own waits anyway. */
    HTTP_RETRY_AFTER_MAX_MS = 24 * 3600 * 1000,
};

struct http_sock {
    curl_socket_t fd;
    gpointer tag;
};

struct http_source {
    GSource src;
    struct http_client *c;
};

struct http_client {
    GMainContext *ctx;
    GSource *src; /* struct http_source */
    CURLM *multi;
    struct http_call *calls; /* in flight, doubly linked */
    unsigned pending;
    CURL *pool[HTTP_POOL_MAX];
    unsigned npool;
    GPtrArray *socks; /* struct http_sock *, what curl asked us to watch */
    bool *alive;      /* set by dispatch while it runs handlers; cleared by the destructor */
};

struct http_call {
    struct http_client *c;
    struct http_call *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    char *url_log; /* URL with any access_token value masked */
    char method[16];
    http_done_h *h;
    void *arg;
    GByteArray *resp;
    bool too_big;
    bool completing; /* handler running: a cancel now is a no-op */
    long retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_global_once(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_ALL);
}

char *http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *out = g_malloc(n * 3 + 1);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        /* RFC 3986 unreserved characters stay; everything else, '/' included, is escaped so
         * that a room id or txn id is always exactly one path segment. */
        if (g_ascii_isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

/* The URL as it may appear in a log line: the value of any access_token parameter masked. */
static char *url_for_log(const char *url)
{
    const char *q = strchr(url, '?');
    if (!q)
        return g_strdup(url);
    GString *s = g_string_new(NULL);
    g_string_append_len(s, url, q - url + 1);
    const char *p = q + 1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= 13 && g_ascii_strncasecmp(p, "access_token=", 13) == 0)
            g_string_append(s, "access_token=<redacted>");
        else
            g_string_append_len(s, p, len);
        p += len;
        if (*p == '&')
            g_string_append_c(s, *p++);
    }
    return g_string_free(s, FALSE);
}

static void call_unlink(struct http_call *call)
{
    struct http_client *c = call->c;
    if (call->prev)
        call->prev->next = call->next;
    else if (c->calls == call)
        c->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
    c->pending--;
}

/* Gives the easy handle back to the pool (or frees it) and frees the call. The call must
 * already be unlinked and out of the multi handle. */
static void call_free(struct http_call *call)
{
    struct http_client *c = call->c;
    if (call->easy) {
        if (c && c->npool < HTTP_POOL_MAX) {
            curl_easy_reset(call->easy);
            c->pool[c->npool++] = call->easy;
        } else {
            curl_easy_cleanup(call->easy);
        }
    }
    curl_slist_free_all(call->headers);
    if (call->resp)
        g_byte_array_unref(call->resp);
    g_free(call->url_log);
    g_free(call);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_call *call = arg;
    size_t n = size * nmemb;
    if (n > HTTP_MAX_BODY - call->resp->len) {
        call->too_big = true;
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    }
    g_byte_array_append(call->resp, (const guint8 *)data, (guint)n);
    return n;
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3). */
static long parse_retry_after(const char *v, size_t len)
{
    char buf[128];
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len &&
           (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' || v[len - 1] == '\n'))
        len--;
    if (!len || len >= sizeof(buf))
        return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    if (g_ascii_isdigit(buf[0])) {
        for (size_t i = 0; i < len; i++) {
            if (!g_ascii_isdigit(buf[i]))
                return -1;
        }
        if (len > 6)
            return HTTP_RETRY_AFTER_MAX_MS;
        long secs = strtol(buf, NULL, 10);
        return secs * 1000 > HTTP_RETRY_AFTER_MAX_MS ? HTTP_RETRY_AFTER_MAX_MS : secs * 1000;
    }
    time_t when = curl_getdate(buf, NULL);
    if (when == -1)
        return -1;
    time_t now = time(NULL);
    if (when <= now)
        return 0;
    if (when - now > HTTP_RETRY_AFTER_MAX_MS / 1000)
        return HTTP_RETRY_AFTER_MAX_MS;
    return (long)(when - now) * 1000;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_call *call = arg;
    size_t n = size * nmemb;
    /* A new status line (after a 100 Continue, say) starts a new set of headers. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        call->retry_after_ms = -1;
    else if (n > 12 && g_ascii_strncasecmp(data, "retry-after:", 12) == 0)
        call->retry_after_ms = parse_retry_after(data + 12, n - 12);
    return n;
}

static int map_curl_error(CURLcode rc, bool too_big)
{
    if (too_big)
        return EMSGSIZE;
    switch (rc) {
    case CURLE_FILESIZE_EXCEEDED: /* a Content-Length over the cap, refused up front */
        return EMSGSIZE;
    case CURLE_OPERATION_TIMEDOUT:
        return ETIMEDOUT;
    case CURLE_COULDNT_CONNECT:
        return ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return EHOSTUNREACH;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return ENOMEM;
    default:
        return EIO;
    }
}

/* Runs the handlers of finished transfers. Returns false when a handler freed the client. */
static bool check_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    bool alive = true;
    bool *outer = c->alive;
    c->alive = &alive;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_call *call = NULL;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
        curl_multi_remove_handle(c->multi, easy);
        call_unlink(call);

        struct http_response resp = {.retry_after_ms = -1};
        char errtext[CURL_ERROR_SIZE + 64];
        g_byte_array_append(call->resp, (const guint8 *)"", 1); /* NUL terminator */
        if (rc == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.status);
            resp.body = (const char *)call->resp->data;
            resp.body_len = call->resp->len - 1;
            resp.retry_after_ms = call->retry_after_ms;
            log_debug("http: %s %s -> %ld (%zu bytes)", call->method, call->url_log, resp.status,
                      resp.body_len);
        } else {
            resp.err = map_curl_error(rc, call->too_big);
            if (call->too_big || rc == CURLE_FILESIZE_EXCEEDED)
                snprintf(errtext, sizeof(errtext), "response body over %u bytes", HTTP_MAX_BODY);
            else
                snprintf(errtext, sizeof(errtext), "%s",
                         call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
            resp.error = errtext;
            resp.body = "";
            log_debug("http: %s %s failed: %s", call->method, call->url_log, errtext);
        }

        call->completing = true;
        call->h(&resp, call->arg);
        if (!alive) {
            /* The client is gone; this call was unlinked first, so it is ours to free. */
            call->c = NULL;
            call_free(call);
            if (outer)
                *outer = false;
            return false;
        }
        call_free(call);
    }
    c->alive = outer;
    return true;
}

static gboolean source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    struct http_client *c = ((struct http_source *)src)->c;
    int running;

    /* Snapshot the ready sockets first: curl adds and removes watches while it acts. */
    struct ready {
        curl_socket_t fd;
        int ev;
    } stack[16], *ready = stack;
    guint n = c->socks->len, nready = 0;
    if (n > G_N_ELEMENTS(stack))
        ready = g_new(struct ready, n);
    for (guint i = 0; i < n; i++) {
        struct http_sock *s = g_ptr_array_index(c->socks, i);
        GIOCondition cond = g_source_query_unix_fd(src, s->tag);
        int ev = 0;
        if (cond & (G_IO_IN | G_IO_HUP))
            ev |= CURL_CSELECT_IN;
        if (cond & G_IO_OUT)
            ev |= CURL_CSELECT_OUT;
        if (cond & (G_IO_ERR | G_IO_NVAL))
            ev |= CURL_CSELECT_ERR;
        if (ev) {
            ready[nready].fd = s->fd;
            ready[nready].ev = ev;
            nready++;
        }
    }
    for (guint i = 0; i < nready; i++)
        curl_multi_socket_action(c->multi, ready[i].fd, ready[i].ev, &running);
    if (ready != stack)
        g_free(ready);

    gint64 rt = g_source_get_ready_time(src);
    if (rt >= 0 && g_source_get_time(src) >= rt) {
        g_source_set_ready_time(src, -1); /* curl's timer callback may set a new one */
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    check_done(c);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
    .dispatch = source_dispatch,
};

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct http_client *c = userp;
    struct http_sock *s = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (c->src)
                g_source_remove_unix_fd(c->src, s->tag);
            g_ptr_array_remove_fast(c->socks, s);
            curl_multi_assign(c->multi, fd, NULL);
            g_free(s);
        }
        return 0;
    }
    GIOCondition cond = G_IO_ERR | G_IO_HUP;
    if (what & CURL_POLL_IN)
        cond |= G_IO_IN;
    if (what & CURL_POLL_OUT)
        cond |= G_IO_OUT;
    if (!c->src)
        return 0;
    if (s) {
        g_source_modify_unix_fd(c->src, s->tag, cond);
    } else {
        s = g_new0(struct http_sock, 1);
        s->fd = fd;
        s->tag = g_source_add_unix_fd(c->src, fd, cond);
        g_ptr_array_add(c->socks, s);
        curl_multi_assign(c->multi, fd, s);
    }
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct http_client *c = userp;
    if (!c->src)
        return 0;
    if (timeout_ms < 0)
        g_source_set_ready_time(c->src, -1);
    else
        g_source_set_ready_time(c->src, g_get_monotonic_time() + (gint64)timeout_ms * 1000);
    return 0;
}

static void client_destroy(void *data)
{
    struct http_client *c = data;

    if (c->alive)
        *c->alive = false;
    while (c->calls) {
        struct http_call *call = c->calls;
        curl_multi_remove_handle(c->multi, call->easy);
        call_unlink(call);
        call->c = NULL;
        call_free(call);
    }
    for (unsigned i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    if (c->multi)
        curl_multi_cleanup(c->multi); /* may still report sockets removed: src stays valid */
    if (c->src) {
        g_source_destroy(c->src);
        g_source_unref(c->src);
        c->src = NULL;
    }
    if (c->socks) {
        for (guint i = 0; i < c->socks->len; i++)
            g_free(g_ptr_array_index(c->socks, i));
        g_ptr_array_unref(c->socks);
    }
    if (c->ctx)
        g_main_context_unref(c->ctx);
}

int http_client_alloc(struct http_client **cp, GMainContext *ctx)
{
    if (!cp)
        return EINVAL;
    pthread_once(&curl_once, curl_global_once);
    if (curl_init_result != CURLE_OK) {
        log_error("http: curl_global_init failed: %s", curl_easy_strerror(curl_init_result));
        return ENOMEM;
    }
    struct http_client *c = mem_zalloc(sizeof(*c), client_destroy);
    if (!c)
        return ENOMEM;
    c->ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
    c->socks = g_ptr_array_new();
    c->multi = curl_multi_init();
    if (!c->multi) {
        mem_deref(c);
        return ENOMEM;
    }
    c->src = g_source_new(&source_funcs, sizeof(struct http_source));
    ((struct http_source *)c->src)->c = c;
    g_source_set_name(c->src, "http_client");
    g_source_attach(c->src, c->ctx);

    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *cp = c;
    return 0;
}

static int setup_easy(struct http_call *call, const struct http_request *req)
{
    CURL *e = call->easy;
    bool has_body = req->body != NULL;
    CURLcode rc = CURLE_OK;

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(e, opt, val);                                                    \
    } while (0)

    SETOPT(CURLOPT_URL, req->url);
    SETOPT(CURLOPT_PRIVATE, call);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, call->errbuf);
    SETOPT(CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(CURLOPT_WRITEDATA, call);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, call);
    SETOPT(CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_ACCEPT_ENCODING, ""); /* whatever curl can decode; the cap applies after */
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
    /* Redirects would carry the bearer token to wherever they point: never follow them. */
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif

    if (strcmp(req->method, "GET") == 0 && !has_body) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(req->method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, req->method);
        if (has_body || strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0) {
            /* Size first: COPYPOSTFIELDS copies that many bytes, NULs included. */
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(has_body ? req->body_len : 0));
            SETOPT(CURLOPT_COPYPOSTFIELDS, has_body ? req->body : "");
        }
    }
    if (rc != CURLE_OK) {
        log_warn("http: cannot set up %s %s: %s", req->method, call->url_log,
                 curl_easy_strerror(rc));
        return rc == CURLE_OUT_OF_MEMORY ? ENOMEM : EINVAL;
    }
#undef SETOPT

    struct curl_slist *h = NULL;
    char *line;
    h = curl_slist_append(h, "Accept: application/json");
    h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
    if (h && has_body) {
        line = g_strdup_printf("Content-Type: %s",
                               req->content_type ? req->content_type : "application/json");
        struct curl_slist *n = curl_slist_append(h, line);
        g_free(line);
        h = n ? n : (curl_slist_free_all(h), NULL);
    }
    if (h && req->bearer_token) {
        line = g_strdup_printf("Authorization: Bearer %s", req->bearer_token);
        struct curl_slist *n = curl_slist_append(h, line);
        memset(line, 0, strlen(line));
        g_free(line);
        h = n ? n : (curl_slist_free_all(h), NULL);
    }
    if (!h)
        return ENOMEM;
    call->headers = h;
    if (curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) != CURLE_OK)
        return ENOMEM;
    return 0;
}

static bool token_ok(const char *s)
{
    /* A CR or LF in a header value would let a caller's string forge headers. */
    for (; s && *s; s++) {
        if (*s == '\r' || *s == '\n')
            return false;
    }
    return true;
}

int http_request_start(struct http_client *c, const struct http_request *req, http_done_h *h,
                       void *arg, struct http_call **callp)
{
    if (!c || !req || !req->method || !req->url || !h || !req->method[0])
        return EINVAL;
    if ((req->body_len && !req->body) || !token_ok(req->bearer_token) ||
        !token_ok(req->content_type) || !token_ok(req->method))
        return EINVAL;

    struct http_call *call = g_new0(struct http_call, 1);
    call->c = c;
    call->h = h;
    call->arg = arg;
    g_strlcpy(call->method, req->method, sizeof(call->method));
    call->url_log = url_for_log(req->url);
    call->retry_after_ms = -1;
    call->resp = g_byte_array_new();
    call->easy = c->npool ? c->pool[--c->npool] : curl_easy_init();
    if (!call->easy) {
        call_free(call);
        return ENOMEM;
    }
    int err = setup_easy(call, req);
    if (err) {
        call_free(call);
        return err;
    }
    CURLMcode mrc = curl_multi_add_handle(c->multi, call->easy);
    if (mrc != CURLM_OK) {
        log_warn("http: cannot start %s %s: %s", req->method, call->url_log,
                 curl_multi_strerror(mrc));
        call_free(call);
        return mrc == CURLM_OUT_OF_MEMORY ? ENOMEM : EIO;
    }
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    c->pending++;
    log_debug("http: %s %s", call->method, call->url_log);
    if (callp)
        *callp = call;
    return 0;
}

void http_call_cancel(struct http_call *call)
{
    if (!call || call->completing || !call->c)
        return;
    struct http_client *c = call->c;
    log_debug("http: %s %s cancelled", call->method, call->url_log);
    curl_multi_remove_handle(c->multi, call->easy);
    call_unlink(call);
    call_free(call);
}

unsigned http_client_pending(const struct http_client *c)
{
    return c ? c->pending : 0;
}
