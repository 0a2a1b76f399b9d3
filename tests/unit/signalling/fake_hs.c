/*
 * The scripted homeserver of the signalling tests (see fake_hs.h). Requests are recorded and
 * rules matched under one lock; a /sync with no batch yet waits on a condition variable, so the
 * test thread supplying a batch (or hs_stop()) wakes it at once.
 */
#include "fake_hs.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

/* JSON with single quotes, for readable literals. */
char *hs_json(const char *s)
{
    char *d = g_strdup(s);
    for (char *p = d; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    return d;
}

struct hs_rule {
    char *method;
    char *path_part;
    unsigned status;
    char *body;
    char *hname, *hval;
    int remaining; /* -1: forever */
};

static struct hs {
    struct MHD_Daemon *d;
    uint16_t port;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    GPtrArray *reqs;
    GHashTable *batches;
    GPtrArray *rules;
    unsigned events;
} H;

struct conn {
    GString *body;
};

static void req_free(gpointer p)
{
    struct hs_req *r = p;
    g_free(r->method);
    g_free(r->path);
    g_free(r->since);
    g_free(r->filter);
    g_free(r->timeout);
    g_free(r->body);
    g_free(r->auth);
    g_free(r->from);
    g_free(r->to);
    g_free(r->dir);
    g_free(r->limit);
    g_free(r);
}

static void rule_free(gpointer p)
{
    struct hs_rule *r = p;
    g_free(r->method);
    g_free(r->path_part);
    g_free(r->body);
    g_free(r->hname);
    g_free(r->hval);
    g_free(r);
}

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *body,
                             const char *hname, const char *hval)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (hname)
        MHD_add_response_header(r, hname, hval);
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *dup_arg(struct MHD_Connection *con, const char *name)
{
    const char *v = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, name);
    return v ? g_strdup(v) : NULL;
}

/* Called with H.lock held; answers a /sync, holding it until a batch exists or time passes. */
static enum MHD_Result answer_sync(struct MHD_Connection *con, const char *since,
                                   const char *timeout)
{
    unsigned hold = timeout ? (unsigned)atoi(timeout) : 0;
    if (hold > 2000)
        hold = 2000;
    gint64 until = g_get_monotonic_time() + (gint64)hold * 1000;
    const char *key = since ? since : "";
    char *body;
    for (;;) {
        const char *b = g_hash_table_lookup(H.batches, key);
        if (b) {
            body = g_strdup(b);
            break;
        }
        gint64 now = g_get_monotonic_time();
        if (H.stopping || now >= until) {
            body = g_strdup_printf("{\"next_batch\":\"%s\"}", since ? since : "s0");
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        gint64 wait_us = until - now < 20000 ? until - now : 20000;
        ts.tv_nsec += (long)(wait_us * 1000);
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&H.cond, &H.lock, &ts);
    }
    pthread_mutex_unlock(&H.lock);
    enum MHD_Result ret = reply(con, 200, body, NULL, NULL);
    g_free(body);
    return ret;
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
        return MHD_YES;
    }
    if (*upload_size) {
        g_string_append_len(cn->body, upload, (gssize)*upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    struct hs_req *r = g_new0(struct hs_req, 1);
    r->method = g_strdup(method);
    r->path = g_strdup(url);
    r->since = dup_arg(con, "since");
    r->filter = dup_arg(con, "filter");
    r->timeout = dup_arg(con, "timeout");
    r->from = dup_arg(con, "from");
    r->to = dup_arg(con, "to");
    r->dir = dup_arg(con, "dir");
    r->limit = dup_arg(con, "limit");
    r->body = g_strdup(cn->body->str);
    const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    r->auth = g_strdup(auth ? auth : "");
    r->t_us = g_get_monotonic_time();

    pthread_mutex_lock(&H.lock);
    g_ptr_array_add(H.reqs, r);
    pthread_cond_broadcast(&H.cond);
    for (guint i = 0; i < H.rules->len; i++) {
        struct hs_rule *ru = g_ptr_array_index(H.rules, i);
        if (ru->remaining == 0 || strcmp(ru->method, method) != 0 || !strstr(url, ru->path_part))
            continue;
        if (ru->remaining > 0)
            ru->remaining--;
        unsigned status = ru->status;
        char *body = g_strdup(ru->body);
        char *hn = g_strdup(ru->hname), *hv = g_strdup(ru->hval);
        pthread_mutex_unlock(&H.lock);
        enum MHD_Result ret = reply(con, status, body, hn, hv);
        g_free(body);
        g_free(hn);
        g_free(hv);
        return ret;
    }
    if (strcmp(method, "GET") == 0 && g_str_has_suffix(url, "/sync"))
        return answer_sync(con, r->since, r->timeout); /* unlocks */
    unsigned n = ++H.events;
    pthread_mutex_unlock(&H.lock);

    if (strcmp(method, "POST") == 0 && g_str_has_suffix(url, "/filter"))
        return reply(con, 200, "{\"filter_id\":\"f1\"}", NULL, NULL);
    if (strcmp(method, "PUT") == 0 && strstr(url, "/send/")) {
        char *b = g_strdup_printf("{\"event_id\":\"$ev%u\"}", n);
        enum MHD_Result ret = reply(con, 200, b, NULL, NULL);
        g_free(b);
        return ret;
    }
    return reply(con, 404, "{\"errcode\":\"M_UNRECOGNIZED\",\"error\":\"no\"}", NULL, NULL);
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
}

void hs_start(void)
{
    memset(&H, 0, sizeof(H));
    pthread_mutex_init(&H.lock, NULL);
    pthread_cond_init(&H.cond, NULL);
    H.reqs = g_ptr_array_new_with_free_func(req_free);
    H.rules = g_ptr_array_new_with_free_func(rule_free);
    H.batches = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    H.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(H.d);
    H.port = MHD_get_daemon_info(H.d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

void hs_stop(void)
{
    pthread_mutex_lock(&H.lock);
    H.stopping = true;
    pthread_cond_broadcast(&H.cond);
    pthread_mutex_unlock(&H.lock);
    MHD_stop_daemon(H.d);
    g_ptr_array_unref(H.reqs);
    g_ptr_array_unref(H.rules);
    g_hash_table_unref(H.batches);
    pthread_cond_destroy(&H.cond);
    pthread_mutex_destroy(&H.lock);
}

void hs_batch(const char *since, const char *json)
{
    pthread_mutex_lock(&H.lock);
    g_hash_table_replace(H.batches, g_strdup(since), hs_json(json));
    pthread_cond_broadcast(&H.cond);
    pthread_mutex_unlock(&H.lock);
}

struct hs_rule *hs_rule(const char *method, const char *path_part, unsigned status,
                        const char *body, int count)
{
    struct hs_rule *r = g_new0(struct hs_rule, 1);
    r->method = g_strdup(method);
    r->path_part = g_strdup(path_part);
    r->status = status;
    r->body = hs_json(body);
    r->remaining = count;
    pthread_mutex_lock(&H.lock);
    g_ptr_array_add(H.rules, r);
    pthread_mutex_unlock(&H.lock);
    return r;
}

void hs_rule_set_remaining(struct hs_rule *r, int n)
{
    pthread_mutex_lock(&H.lock);
    r->remaining = n;
    pthread_mutex_unlock(&H.lock);
}

void hs_rule_set_header(struct hs_rule *r, const char *name, const char *value)
{
    pthread_mutex_lock(&H.lock);
    g_free(r->hname);
    g_free(r->hval);
    r->hname = g_strdup(name);
    r->hval = g_strdup(value);
    pthread_mutex_unlock(&H.lock);
}

GPtrArray *hs_reqs(const char *method, const char *path_part)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(req_free);
    pthread_mutex_lock(&H.lock);
    for (guint i = 0; i < H.reqs->len; i++) {
        struct hs_req *r = g_ptr_array_index(H.reqs, i);
        if ((method && strcmp(r->method, method) != 0) ||
            (path_part && !strstr(r->path, path_part)))
            continue;
        struct hs_req *c = g_new0(struct hs_req, 1);
        *c = (struct hs_req){.method = g_strdup(r->method),
                             .path = g_strdup(r->path),
                             .since = g_strdup(r->since),
                             .filter = g_strdup(r->filter),
                             .timeout = g_strdup(r->timeout),
                             .body = g_strdup(r->body),
                             .auth = g_strdup(r->auth),
                             .t_us = r->t_us,
                             .from = g_strdup(r->from),
                             .to = g_strdup(r->to),
                             .dir = g_strdup(r->dir),
                             .limit = g_strdup(r->limit)};
        g_ptr_array_add(out, c);
    }
    pthread_mutex_unlock(&H.lock);
    return out;
}

unsigned hs_count(const char *method, const char *path_part)
{
    GPtrArray *a = hs_reqs(method, path_part);
    unsigned n = a->len;
    g_ptr_array_unref(a);
    return n;
}

char *hs_url(void)
{
    return g_strdup_printf("http://127.0.0.1:%u/", H.port);
}

gint64 hs_gap_ms(GPtrArray *a, guint i)
{
    return (HS_REQ(a, i)->t_us - HS_REQ(a, i - 1)->t_us) / 1000;
}

bool hs_reqs_at_least(void *arg)
{
    struct hs_at_least *c = arg;
    return hs_count(c->method, c->path) >= c->n;
}
