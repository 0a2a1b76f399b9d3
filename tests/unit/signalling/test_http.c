/*
 * The HTTP client against a small scripted server (libmicrohttpd, one thread per connection so
 * a slow answer never holds up the others). The client runs on a private GMainContext that the
 * test iterates until a condition holds or a deadline passes.
 */
#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- scripted server ---- */

struct srv {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    unsigned started;  /* requests whose headers arrived */
    unsigned finished; /* requests answered */
    char last_auth[256];
    char last_ctype[128];
    char last_method[16];
    GString *last_body;
};

static struct srv S;

struct conn {
    GString *body;
};

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *body,
                             const char *hname, const char *hval)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (hname)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

static ssize_t chunked_gen(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t total = *(uint64_t *)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = max;
    if (n > total - pos)
        n = (size_t)(total - pos);
    memset(buf, 'x', n);
    return (ssize_t)n;
}

static void wait_ms_or_stop(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&S.lock);
    while (!S.stopping) {
        if (pthread_cond_timedwait(&S.cond, &S.lock, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&S.lock);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *con, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct conn *cn = *con_cls;
    if (!cn) {
        cn = calloc(1, sizeof(*cn));
        cn->body = g_string_new(NULL);
        *con_cls = cn;
        pthread_mutex_lock(&S.lock);
        S.started++;
        pthread_mutex_unlock(&S.lock);
        return MHD_YES;
    }
    if (*upload_size) {
        g_string_append_len(cn->body, upload, (gssize)*upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&S.lock);
    const char *v = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    g_strlcpy(S.last_auth, v ? v : "", sizeof(S.last_auth));
    v = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    g_strlcpy(S.last_ctype, v ? v : "", sizeof(S.last_ctype));
    g_strlcpy(S.last_method, method, sizeof(S.last_method));
    g_string_assign(S.last_body, cn->body->str);
    pthread_mutex_unlock(&S.lock);

    enum MHD_Result ret;
    if (strcmp(url, "/echo") == 0) {
        GString *b = g_string_new(method);
        g_string_append_c(b, ':');
        g_string_append_len(b, cn->body->str, (gssize)cn->body->len);
        struct MHD_Response *r =
            MHD_create_response_from_buffer(b->len, b->str, MHD_RESPMEM_MUST_COPY);
        ret = MHD_queue_response(con, 200, r);
        MHD_destroy_response(r);
        g_string_free(b, TRUE);
    } else if (strncmp(url, "/status/", 8) == 0) {
        ret = reply(con, (unsigned)atoi(url + 8), "{\"errcode\":\"M_TEST\"}", NULL, NULL);
    } else if (strncmp(url, "/retry-after/", 13) == 0) {
        const char *arg = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "v");
        ret = reply(con, 429, "{}", "Retry-After", arg ? arg : "");
    } else if (strncmp(url, "/slow/", 6) == 0) {
        wait_ms_or_stop((unsigned)atoi(url + 6));
        ret = reply(con, 200, "slow", NULL, NULL);
    } else if (strncmp(url, "/big/", 5) == 0) {
        size_t n = strtoull(url + 5, NULL, 10);
        char *b = malloc(n);
        memset(b, 'y', n);
        struct MHD_Response *r = MHD_create_response_from_buffer(n, b, MHD_RESPMEM_MUST_FREE);
        ret = MHD_queue_response(con, 200, r);
        MHD_destroy_response(r);
    } else if (strncmp(url, "/chunked/", 9) == 0) {
        static uint64_t total;
        total = strtoull(url + 9, NULL, 10);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                   chunked_gen, &total, NULL);
        ret = MHD_queue_response(con, 200, r);
        MHD_destroy_response(r);
    } else {
        ret = reply(con, 404, "{\"errcode\":\"M_UNRECOGNIZED\"}", NULL, NULL);
    }
    return ret;
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct conn *cn = *con_cls;
    if (cn) {
        g_string_free(cn->body, TRUE);
        free(cn);
        *con_cls = NULL;
    }
    pthread_mutex_lock(&S.lock);
    S.finished++;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
}

static void srv_start(void)
{
    memset(&S, 0, sizeof(S));
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.cond, NULL);
    S.last_body = g_string_new(NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(S.d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    S.port = info->port;
}

static void srv_stop(void)
{
    pthread_mutex_lock(&S.lock);
    S.stopping = true;
    pthread_cond_broadcast(&S.cond);
    pthread_mutex_unlock(&S.lock);
    MHD_stop_daemon(S.d);
    g_string_free(S.last_body, TRUE);
    pthread_cond_destroy(&S.cond);
    pthread_mutex_destroy(&S.lock);
}

static unsigned srv_finished(void)
{
    pthread_mutex_lock(&S.lock);
    unsigned n = S.finished;
    pthread_mutex_unlock(&S.lock);
    return n;
}

static char *url(const char *path)
{
    return g_strdup_printf("http://127.0.0.1:%u%s", S.port, path);
}

/* ---- main loop driving ---- */

static GMainContext *ctx;

static gboolean wake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

/* Iterates the context until cond holds or timeout_ms passes; true when it held. A 5 ms tick
 * wakes the loop for conditions set by the server thread. */
static bool run_until(bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GSource *tick = g_timeout_source_new(5);
    g_source_set_callback(tick, wake, NULL, NULL);
    g_source_attach(tick, ctx);
    bool ok;
    while (!(ok = cond(arg)) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(tick);
    g_source_unref(tick);
    return ok;
}

struct result {
    bool done;
    unsigned runs;
    long status;
    int err;
    long retry_after_ms;
    char *error;
    char *body;
    size_t body_len;
    gint64 at;
};

static void on_done(const struct http_response *resp, void *arg)
{
    struct result *r = arg;
    r->done = true;
    r->runs++;
    r->status = resp->status;
    r->err = resp->err;
    r->retry_after_ms = resp->retry_after_ms;
    r->error = g_strdup(resp->error);
    r->body = g_memdup2(resp->body, resp->body_len + 1);
    r->body_len = resp->body_len;
    r->at = g_get_monotonic_time();
}

static void result_clear(struct result *r)
{
    g_free(r->error);
    g_free(r->body);
    memset(r, 0, sizeof(*r));
}

static bool is_done(void *arg)
{
    return ((struct result *)arg)->done;
}

static int setup(void **state)
{
    ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    srv_start();
    return 0;
}

static int teardown(void **state)
{
    srv_stop();
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    log_set_sink(NULL, NULL);
    log_set_level(LOG_LVL_INFO);
    return 0;
}

static void start(struct http_client *c, const char *method, const char *path, const char *body,
                  const char *token, long timeout_ms, struct result *r, struct http_call **callp)
{
    char *u = url(path);
    struct http_request req = {
        .method = method,
        .url = u,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .bearer_token = token,
        .timeout_ms = timeout_ms,
    };
    assert_int_equal(http_request_start(c, &req, on_done, r, callp), 0);
    g_free(u);
}

/* ---- tests ---- */

static void test_get_post_put(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};

    start(c, "GET", "/echo", NULL, "tok-123", 0, &r, NULL);
    assert_int_equal(http_client_pending(c), 1);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.err, 0);
    assert_null(r.error);
    assert_string_equal(r.body, "GET:");
    assert_string_equal(S.last_auth, "Bearer tok-123");
    assert_int_equal(http_client_pending(c), 0);
    result_clear(&r);

    start(c, "POST", "/echo", "{\"a\":1}", NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "POST:{\"a\":1}");
    assert_string_equal(S.last_ctype, "application/json");
    assert_string_equal(S.last_auth, "");
    result_clear(&r);

    start(c, "PUT", "/echo", "{\"b\":2}", "t2", 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "PUT:{\"b\":2}");
    assert_string_equal(S.last_method, "PUT");
    assert_string_equal(S.last_auth, "Bearer t2");
    result_clear(&r);

    /* An explicit content type, and a body with an embedded NUL sent whole. */
    char *u = url("/echo");
    struct http_request req = {
        .method = "POST", .url = u, .body = "ab\0cd", .body_len = 5, .content_type = "text/plain"};
    assert_int_equal(http_request_start(c, &req, on_done, &r, NULL), 0);
    g_free(u);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.body_len, strlen("POST:") + 5);
    assert_memory_equal(r.body, "POST:ab\0cd", r.body_len);
    assert_string_equal(S.last_ctype, "text/plain");
    result_clear(&r);

    /* A 4xx is an HTTP response, not an error. */
    start(c, "DELETE", "/status/404", NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 404);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.body, "{\"errcode\":\"M_TEST\"}");
    assert_string_equal(S.last_method, "DELETE");
    result_clear(&r);
    mem_deref(c);
}

static void test_bad_args(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};
    struct http_request req = {.method = "GET", .url = "http://127.0.0.1:1/"};
    assert_int_equal(http_request_start(c, &req, NULL, &r, NULL), EINVAL);
    req.bearer_token = "abc\r\nX-Injected: 1";
    assert_int_equal(http_request_start(c, &req, on_done, &r, NULL), EINVAL);
    req.bearer_token = NULL;
    req.url = NULL;
    assert_int_equal(http_request_start(c, &req, on_done, &r, NULL), EINVAL);
    assert_int_equal(http_client_pending(c), 0);
    mem_deref(c);
}

static void test_connection_refused(void **state)
{
    /* A port that was just free: bind, read the number, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);

    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};
    char *u = g_strdup_printf("http://127.0.0.1:%u/x", ntohs(sa.sin_port));
    struct http_request req = {.method = "GET", .url = u};
    assert_int_equal(http_request_start(c, &req, on_done, &r, NULL), 0);
    g_free(u);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.err, ECONNREFUSED);
    assert_non_null(r.error);
    assert_string_equal(r.body, "");
    result_clear(&r);
    mem_deref(c);
}

static void test_timeout(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};
    gint64 t0 = g_get_monotonic_time();
    start(c, "GET", "/slow/10000", NULL, NULL, 200, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.err, ETIMEDOUT);
    assert_non_null(r.error);
    gint64 elapsed_ms = (r.at - t0) / 1000;
    assert_true(elapsed_ms >= 150);
    assert_true(elapsed_ms < 4000);
    result_clear(&r);
    mem_deref(c);
}

static bool finished_at_least(void *arg)
{
    return srv_finished() >= *(unsigned *)arg;
}

static bool started_at_least(void *arg)
{
    pthread_mutex_lock(&S.lock);
    bool ok = S.started >= *(unsigned *)arg;
    pthread_mutex_unlock(&S.lock);
    return ok;
}

static void test_cancel(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result ra = {0}, rb = {0};
    struct http_call *call = NULL;

    start(c, "GET", "/slow/100", NULL, NULL, 0, &ra, &call);
    assert_non_null(call);
    /* Let the request reach the server before it is cancelled. */
    unsigned want = 1;
    assert_true(run_until(started_at_least, &want, 5000));
    http_call_cancel(call);
    assert_int_equal(http_client_pending(c), 0);

    /* The server finishes the abandoned request (or sees it reset); a later request still
     * works, and the cancelled handler has not run by the time it completes. */
    assert_true(run_until(finished_at_least, &want, 5000));
    start(c, "GET", "/slow/150", NULL, NULL, 0, &rb, NULL);
    assert_true(run_until(is_done, &rb, 5000));
    assert_int_equal(rb.status, 200);
    assert_int_equal(ra.runs, 0);
    result_clear(&rb);

    /* Cancel before the loop ever ran. */
    start(c, "POST", "/echo", "x", NULL, 0, &ra, &call);
    http_call_cancel(call);
    start(c, "GET", "/slow/100", NULL, NULL, 0, &rb, NULL);
    assert_true(run_until(is_done, &rb, 5000));
    assert_int_equal(ra.runs, 0);
    result_clear(&rb);
    mem_deref(c);
}

struct cancel_other {
    struct http_call *victim;
    struct result *victim_result;
    bool done;
};

static void on_done_cancel_other(const struct http_response *resp, void *arg)
{
    struct cancel_other *co = arg;
    co->done = true;
    http_call_cancel(co->victim);
}

static bool co_done(void *arg)
{
    return ((struct cancel_other *)arg)->done;
}

static void test_cancel_from_handler(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result victim = {0}, later = {0};
    struct cancel_other co = {.victim_result = &victim};

    /* The victim answers at almost the same time, so both may finish in one dispatch. */
    start(c, "GET", "/slow/60", NULL, NULL, 0, &victim, &co.victim);
    char *u = url("/slow/50");
    struct http_request req = {.method = "GET", .url = u};
    assert_int_equal(http_request_start(c, &req, on_done_cancel_other, &co, NULL), 0);
    g_free(u);
    assert_true(run_until(co_done, &co, 5000));
    assert_int_equal(http_client_pending(c), 0);
    start(c, "GET", "/slow/100", NULL, NULL, 0, &later, NULL);
    assert_true(run_until(is_done, &later, 5000));
    assert_int_equal(victim.runs, 0);
    result_clear(&later);
    mem_deref(c);
}

struct free_in_handler {
    struct http_client *c;
    unsigned runs;
};

static void on_done_free_client(const struct http_response *resp, void *arg)
{
    struct free_in_handler *f = arg;
    f->runs++;
    f->c = mem_deref(f->c);
}

static bool fih_ran(void *arg)
{
    return ((struct free_in_handler *)arg)->runs > 0;
}

static void test_free_with_requests_in_flight(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r1 = {0}, r2 = {0};
    start(c, "GET", "/slow/100", NULL, "tok", 0, &r1, NULL);
    start(c, "POST", "/slow/100", "{}", "tok", 0, &r2, NULL);
    assert_int_equal(http_client_pending(c), 2);
    unsigned want = 2;
    assert_true(run_until(started_at_least, &want, 5000));
    mem_deref(c);
    assert_true(run_until(finished_at_least, &want, 5000));
    /* Nothing is left on the context to run them. */
    while (g_main_context_iteration(ctx, FALSE))
        ;
    assert_int_equal(r1.runs, 0);
    assert_int_equal(r2.runs, 0);

    /* Dropped from inside a handler while other requests are in flight or finishing. */
    struct free_in_handler f = {0};
    assert_int_equal(http_client_alloc(&f.c, ctx), 0);
    for (int i = 0; i < 4; i++) {
        char *u = url(i == 3 ? "/slow/300" : "/echo");
        struct http_request req = {.method = "GET", .url = u};
        assert_int_equal(http_request_start(f.c, &req, on_done_free_client, &f, NULL), 0);
        g_free(u);
    }
    assert_true(run_until(fih_ran, &f, 5000));
    want = 6;
    assert_true(run_until(finished_at_least, &want, 5000));
    while (g_main_context_iteration(ctx, FALSE))
        ;
    assert_int_equal(f.runs, 1);
    assert_null(f.c);
}

static void test_max_body(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};
    char path[64];

    snprintf(path, sizeof(path), "/big/%u", 100000u);
    start(c, "GET", path, NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 100000);
    assert_int_equal(r.body[r.body_len], '\0');
    result_clear(&r);

    /* With a Content-Length over the cap... */
    snprintf(path, sizeof(path), "/big/%u", HTTP_MAX_BODY + 1);
    start(c, "GET", path, NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 10000));
    assert_int_equal(r.err, EMSGSIZE);
    assert_int_equal(r.status, 0);
    assert_non_null(r.error);
    result_clear(&r);

    /* ...and without one (chunked), caught while the body arrives. */
    snprintf(path, sizeof(path), "/chunked/%u", HTTP_MAX_BODY + 4096);
    start(c, "GET", path, NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 10000));
    assert_int_equal(r.err, EMSGSIZE);
    assert_int_equal(r.status, 0);
    result_clear(&r);

    /* Exactly at the cap is fine. */
    snprintf(path, sizeof(path), "/chunked/%u", HTTP_MAX_BODY);
    start(c, "GET", path, NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 10000));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, HTTP_MAX_BODY);
    result_clear(&r);
    mem_deref(c);
}

static void test_retry_after(void **state)
{
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};

    start(c, "GET", "/retry-after/x?v=3", NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 429);
    assert_int_equal(r.retry_after_ms, 3000);
    result_clear(&r);

    /* An HTTP-date two minutes ahead. */
    char date[64];
    time_t when = time(NULL) + 120;
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof(date), "%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT", &tm);
    char *path = g_strdup_printf("/retry-after/x?v=%s", date);
    start(c, "GET", path, NULL, NULL, 0, &r, NULL);
    g_free(path);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 429);
    assert_true(r.retry_after_ms >= 115000 && r.retry_after_ms <= 121000);
    result_clear(&r);

    start(c, "GET", "/retry-after/x?v=soon", NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.retry_after_ms, -1);
    result_clear(&r);

    start(c, "GET", "/echo", NULL, NULL, 0, &r, NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.retry_after_ms, -1);
    result_clear(&r);
    mem_deref(c);
}

static GString *logged;

static void capture(enum log_level level, const char *line, void *arg)
{
    g_string_append(logged, line);
    g_string_append_c(logged, '\n');
}

static void test_secrets_not_logged(void **state)
{
    logged = g_string_new(NULL);
    log_set_sink(capture, NULL);
    log_set_level(LOG_LVL_DEBUG);
    struct http_client *c = NULL;
    assert_int_equal(http_client_alloc(&c, ctx), 0);
    struct result r = {0};
    start(c, "GET", "/status/500?since=s1&access_token=SECRETQ&x=1", NULL, "SECRETBEARER", 0, &r,
          NULL);
    assert_true(run_until(is_done, &r, 5000));
    assert_int_equal(r.status, 500);
    result_clear(&r);
    mem_deref(c);
    log_set_sink(NULL, NULL);
    assert_non_null(strstr(logged->str, "/status/500?since=s1&access_token=<redacted>&x=1"));
    assert_null(strstr(logged->str, "SECRET"));
    g_string_free(logged, TRUE);
}

static void test_escape(void **state)
{
    char *e = http_escape("!room:example.org/x y%~");
    assert_string_equal(e, "%21room%3Aexample.org%2Fx%20y%25~");
    g_free(e);
    e = http_escape("");
    assert_string_equal(e, "");
    g_free(e);
    e = http_escape("\xc3\xa9");
    assert_string_equal(e, "%C3%A9");
    g_free(e);
    assert_null(http_escape(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_post_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_from_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_requests_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_not_logged, setup, teardown),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
