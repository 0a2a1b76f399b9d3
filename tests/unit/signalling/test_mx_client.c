/*
 * The Matrix client against a scripted homeserver (libmicrohttpd, a thread per connection so
 * a held /sync never blocks a send). The server records every request and answers from:
 * - rules: "the next N requests matching METHOD and a path fragment get this answer";
 * - sync batches keyed by the since they answer ("" for none), held like a long poll until
 *   the test supplies one or the request's timeout passes;
 * - defaults: a filter id for filter uploads, an event id for sends.
 * The client runs on a private GMainContext iterated until a condition holds or a deadline
 * passes.
 */
#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "signalling/mx_client.h"

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

#define BOT   "@bot:hs"
#define TOKEN "secret-token-123"

/* JSON with single quotes, for readable literals. */
static char *q(const char *s)
{
    char *d = g_strdup(s);
    for (char *p = d; *p; p++) {
        if (*p == '\'')
            *p = '"';
    }
    return d;
}

/* ---- scripted homeserver ---- */

struct rec {
    char *method;
    char *path;
    char *since;
    char *filter;
    char *timeout;
    char *body;
    char *auth;
    gint64 t_us;
};

struct rule {
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

static void rec_free(gpointer p)
{
    struct rec *r = p;
    g_free(r->method);
    g_free(r->path);
    g_free(r->since);
    g_free(r->filter);
    g_free(r->timeout);
    g_free(r->body);
    g_free(r->auth);
    g_free(r);
}

static void rule_free(gpointer p)
{
    struct rule *r = p;
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

    struct rec *r = g_new0(struct rec, 1);
    r->method = g_strdup(method);
    r->path = g_strdup(url);
    r->since = dup_arg(con, "since");
    r->filter = dup_arg(con, "filter");
    r->timeout = dup_arg(con, "timeout");
    r->body = g_strdup(cn->body->str);
    const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    r->auth = g_strdup(auth ? auth : "");
    r->t_us = g_get_monotonic_time();

    pthread_mutex_lock(&H.lock);
    g_ptr_array_add(H.reqs, r);
    pthread_cond_broadcast(&H.cond);
    for (guint i = 0; i < H.rules->len; i++) {
        struct rule *ru = g_ptr_array_index(H.rules, i);
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

static void hs_start(void)
{
    memset(&H, 0, sizeof(H));
    pthread_mutex_init(&H.lock, NULL);
    pthread_cond_init(&H.cond, NULL);
    H.reqs = g_ptr_array_new_with_free_func(rec_free);
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

static void hs_stop(void)
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

static void hs_batch(const char *since, const char *json)
{
    pthread_mutex_lock(&H.lock);
    g_hash_table_replace(H.batches, g_strdup(since), q(json));
    pthread_cond_broadcast(&H.cond);
    pthread_mutex_unlock(&H.lock);
}

static struct rule *hs_rule(const char *method, const char *path_part, unsigned status,
                            const char *body, int count)
{
    struct rule *r = g_new0(struct rule, 1);
    r->method = g_strdup(method);
    r->path_part = g_strdup(path_part);
    r->status = status;
    r->body = q(body);
    r->remaining = count;
    pthread_mutex_lock(&H.lock);
    g_ptr_array_add(H.rules, r);
    pthread_mutex_unlock(&H.lock);
    return r;
}

static void hs_rule_set_remaining(struct rule *r, int n)
{
    pthread_mutex_lock(&H.lock);
    r->remaining = n;
    pthread_mutex_unlock(&H.lock);
}

/* Copies of the recorded requests matching method and path fragment (NULL: any). */
static GPtrArray *hs_reqs(const char *method, const char *path_part)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(rec_free);
    pthread_mutex_lock(&H.lock);
    for (guint i = 0; i < H.reqs->len; i++) {
        struct rec *r = g_ptr_array_index(H.reqs, i);
        if ((method && strcmp(r->method, method) != 0) ||
            (path_part && !strstr(r->path, path_part)))
            continue;
        struct rec *c = g_new0(struct rec, 1);
        *c = (struct rec){
            g_strdup(r->method),  g_strdup(r->path), g_strdup(r->since), g_strdup(r->filter),
            g_strdup(r->timeout), g_strdup(r->body), g_strdup(r->auth),  r->t_us};
        g_ptr_array_add(out, c);
    }
    pthread_mutex_unlock(&H.lock);
    return out;
}

static unsigned hs_count(const char *method, const char *path_part)
{
    GPtrArray *a = hs_reqs(method, path_part);
    unsigned n = a->len;
    g_ptr_array_unref(a);
    return n;
}

#define REC(a, i) ((struct rec *)g_ptr_array_index((a), (i)))

/* ---- main loop driving ---- */

static GMainContext *ctx;

static gboolean wake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

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

struct count_at_least {
    const char *method, *path;
    unsigned n;
};

static bool reqs_at_least(void *arg)
{
    struct count_at_least *c = arg;
    return hs_count(c->method, c->path) >= c->n;
}

/* ---- the client under test ---- */

struct seen {
    char *room;
    char *event_id;
    char *type;
    bool initial;
    unsigned joined;
    char *name;
    bool encrypted;
    enum mx_membership skey_membership;
};

struct tc {
    struct http_client *http;
    struct mx_client *mx;
    GPtrArray *events;
    GPtrArray *invites; /* "room|inviter|initial" */
    GPtrArray *lefts;
    unsigned synced;
    unsigned synced_initial;
    bool free_on_event;
    char *file_at_synced[4]; /* the token file as synced() found it */
};

static void seen_free(gpointer p)
{
    struct seen *s = p;
    g_free(s->room);
    g_free(s->event_id);
    g_free(s->type);
    g_free(s->name);
    g_free(s);
}

static void on_room_event(struct mx_client *c, const char *room_id, json_t *ev,
                          const struct mx_sync_info *si, void *arg)
{
    struct tc *t = arg;
    struct seen *s = g_new0(struct seen, 1);
    s->room = g_strdup(room_id);
    s->event_id = g_strdup(json_string_value(json_object_get(ev, "event_id")));
    s->type = g_strdup(json_string_value(json_object_get(ev, "type")));
    s->initial = si->initial;
    s->joined = mx_room_joined_count(c, room_id);
    s->name = g_strdup(mx_room_name(c, room_id));
    s->encrypted = mx_room_is_encrypted(c, room_id);
    const char *skey = json_string_value(json_object_get(ev, "state_key"));
    s->skey_membership = skey ? mx_room_membership(c, room_id, skey) : MX_MEMBERSHIP_NONE;
    g_ptr_array_add(t->events, s);
    if (t->free_on_event)
        t->mx = mem_deref(t->mx);
}

static void on_invited(struct mx_client *c, const char *room_id, const char *inviter,
                       const struct mx_sync_info *si, void *arg)
{
    struct tc *t = arg;
    g_ptr_array_add(t->invites, g_strdup_printf("%s|%s|%d", room_id, inviter, si->initial));
}

static void on_left(struct mx_client *c, const char *room_id, const struct mx_sync_info *si,
                    void *arg)
{
    struct tc *t = arg;
    g_ptr_array_add(t->lefts, g_strdup(room_id));
}

static char *read_token_file(void);

static void on_synced(struct mx_client *c, const struct mx_sync_info *si, void *arg)
{
    struct tc *t = arg;
    if (t->synced < 4)
        t->file_at_synced[t->synced] = read_token_file();
    t->synced++;
    if (si->initial)
        t->synced_initial++;
}

static const struct mx_client_handlers handlers = {
    .room_event = on_room_event,
    .invited = on_invited,
    .synced = on_synced,
    .left = on_left,
};

static char *state_dir;

static void tc_init(struct tc *t, const struct mx_client_cfg *extra)
{
    memset(t, 0, sizeof(*t));
    t->events = g_ptr_array_new_with_free_func(seen_free);
    t->invites = g_ptr_array_new_with_free_func(g_free);
    t->lefts = g_ptr_array_new_with_free_func(g_free);
    assert_int_equal(http_client_alloc(&t->http, ctx), 0);
    char *hs = g_strdup_printf("http://127.0.0.1:%u/", H.port);
    struct mx_client_cfg cfg = {0};
    if (extra)
        cfg = *extra;
    cfg.homeserver = hs;
    cfg.user_id = BOT;
    cfg.access_token = TOKEN;
    if (!cfg.sync_timeout_ms)
        cfg.sync_timeout_ms = 200;
    if (!cfg.send_backoff_ms)
        cfg.send_backoff_ms = 50;
    if (!cfg.sync_backoff_ms)
        cfg.sync_backoff_ms = 50;
    assert_int_equal(mx_client_alloc(&t->mx, t->http, &cfg, &handlers, t), 0);
    g_free(hs);
}

static void tc_free(struct tc *t)
{
    mem_deref(t->mx);
    mem_deref(t->http);
    g_ptr_array_unref(t->events);
    g_ptr_array_unref(t->invites);
    g_ptr_array_unref(t->lefts);
    for (int i = 0; i < 4; i++)
        g_free(t->file_at_synced[i]);
}

struct synced_n {
    struct tc *t;
    unsigned n;
};

static bool synced_n(void *arg)
{
    struct synced_n *s = arg;
    return s->t->synced >= s->n;
}

static void wait_synced(struct tc *t, unsigned n)
{
    struct synced_n s = {t, n};
    assert_true(run_until(synced_n, &s, 5000));
}

#define SEEN(t, i) ((struct seen *)g_ptr_array_index((t)->events, (i)))

/* Completion records for sends and requests. */
struct done {
    unsigned count;
    int order[16];
    int err[16];
    char *errcode[16];
    json_t *body[16];
    gint64 at[16];
};

static struct done D;

static void on_done(int err, const char *errcode, json_t *body, void *arg)
{
    unsigned i = D.count++;
    assert_true(i < 16);
    D.order[i] = (int)(intptr_t)arg;
    D.err[i] = err;
    D.errcode[i] = g_strdup(errcode);
    D.body[i] = body ? json_incref(body) : NULL;
    D.at[i] = g_get_monotonic_time();
}

static void done_clear(void)
{
    for (unsigned i = 0; i < D.count; i++) {
        g_free(D.errcode[i]);
        json_decref(D.body[i]);
    }
    memset(&D, 0, sizeof(D));
}

static bool done_at_least(void *arg)
{
    return D.count >= (unsigned)(uintptr_t)arg;
}

static GString *logged;

static void capture(enum log_level level, const char *line, void *arg)
{
    g_string_append(logged, line);
    g_string_append_c(logged, '\n');
}

static unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static int setup(void **state)
{
    ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    hs_start();
    done_clear();
    logged = g_string_new(NULL);
    log_set_sink(capture, NULL);
    log_set_level(LOG_LVL_DEBUG);
    state_dir = g_dir_make_tmp("mxtest-XXXXXX", NULL);
    assert_non_null(state_dir);
    return 0;
}

static int teardown(void **state)
{
    hs_stop();
    /* Anything left on the context (sources of freed objects) must be harmless. */
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    log_set_sink(NULL, NULL);
    log_set_level(LOG_LVL_INFO);
    /* Whatever a test did, the access token never reached a log line. */
    bool leaked = strstr(logged->str, TOKEN) != NULL;
    g_string_free(logged, TRUE);
    done_clear();
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    unlink(p);
    g_free(p);
    rmdir(state_dir);
    g_free(state_dir);
    assert_false(leaked);
    return 0;
}

/* ---- tests ---- */

static void test_filter_then_sync(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    struct count_at_least c3 = {"GET", "/sync", 2};
    assert_true(run_until(reqs_at_least, &c3, 5000));

    GPtrArray *all = hs_reqs(NULL, NULL);
    assert_true(all->len >= 3);
    struct rec *f = REC(all, 0);
    assert_string_equal(f->method, "POST");
    assert_string_equal(f->path, "/_matrix/client/v3/user/" BOT "/filter");
    assert_string_equal(f->auth, "Bearer " TOKEN);
    json_t *fj = json_loads(f->body, 0, NULL);
    assert_non_null(fj);
    json_t *room = json_object_get(fj, "room");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(room, "timeline"), "limit")), 20);
    assert_true(
        json_is_false(json_object_get(json_object_get(room, "state"), "lazy_load_members")));
    json_decref(fj);

    struct rec *s1 = REC(all, 1);
    assert_string_equal(s1->method, "GET");
    assert_string_equal(s1->path, "/_matrix/client/v3/sync");
    assert_string_equal(s1->filter, "f1");
    assert_null(s1->since);
    assert_string_equal(s1->timeout, "0");
    assert_string_equal(s1->auth, "Bearer " TOKEN);
    struct rec *s2 = REC(all, 2);
    assert_string_equal(s2->path, "/_matrix/client/v3/sync");
    assert_string_equal(s2->since, "s1");
    assert_string_equal(s2->filter, "f1");
    assert_string_equal(s2->timeout, "200");
    g_ptr_array_unref(all);

    assert_int_equal(t.synced_initial, 1);
    assert_string_equal(mx_client_user_id(t.mx), BOT);
    tc_free(&t);
}

static const char ROOM_BATCH1[] =
    "{'next_batch':'s1','rooms':{'join':{'!r:hs':{"
    "'state':{'events':["
    "{'type':'m.room.create','state_key':'','sender':'@alice:hs','content':{}},"
    "{'type':'m.room.member','state_key':'@alice:hs','sender':'@alice:hs',"
    "'content':{'membership':'join'}},"
    "{'type':'m.room.member','state_key':'@bot:hs','sender':'@bot:hs',"
    "'content':{'membership':'join'}}]},"
    "'timeline':{'limited':true,'events':["
    "{'type':'m.room.name','state_key':'','event_id':'$e1','sender':'@alice:hs',"
    "'content':{'name':'Room'}},"
    "{'type':'m.room.member','state_key':'@bob:hs','event_id':'$e2','sender':'@bob:hs',"
    "'content':{'membership':'join'}},"
    "42,"
    "{'event_id':'$notype','content':{}},"
    "{'type':'m.room.member','state_key':'not-a-user','event_id':'$bad','sender':'@x:hs',"
    "'content':{'membership':'join'}},"
    "{'type':'m.room.encryption','state_key':'','event_id':'$e3','sender':'@alice:hs',"
    "'content':{'algorithm':'m.megolm.v1.aes-sha2'}},"
    "{'type':'m.room.message','event_id':'$e4','sender':'@alice:hs',"
    "'content':{'msgtype':'m.text','body':'hi'}},"
    "{'type':'m.room.member','state_key':'@alice:hs','event_id':'$e5','sender':'@alice:hs',"
    "'content':{'membership':'leave'}}]}}, "
    "'bad-room-id':{'timeline':{'events':[{'type':'x','event_id':'$never'}]}}}}}";

static const char ROOM_BATCH2[] =
    "{'next_batch':'s2','rooms':{'join':{'!r:hs':{'timeline':{'events':["
    "{'type':'m.room.member','state_key':'@carol:hs','event_id':'$e6','sender':'@carol:hs',"
    "'content':{'membership':'join'}}]}}}}}";

static void test_dispatch_order_and_model(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", ROOM_BATCH1);
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);

    assert_int_equal(t.events->len, 6);
    const char *ids[] = {"$e1", "$e2", "$bad", "$e3", "$e4", "$e5"};
    for (unsigned i = 0; i < 6; i++) {
        assert_string_equal(SEEN(&t, i)->event_id, ids[i]);
        assert_string_equal(SEEN(&t, i)->room, "!r:hs");
        assert_true(SEEN(&t, i)->initial);
    }
    /* Each event saw the model with itself applied. */
    assert_string_equal(SEEN(&t, 0)->name, "Room");
    assert_int_equal(SEEN(&t, 0)->joined, 2);
    assert_false(SEEN(&t, 0)->encrypted);
    assert_int_equal(SEEN(&t, 1)->joined, 3);
    assert_int_equal(SEEN(&t, 1)->skey_membership, MX_MEMBERSHIP_JOIN);
    assert_int_equal(SEEN(&t, 2)->joined, 3); /* the bad member event changed nothing */
    assert_true(SEEN(&t, 3)->encrypted);
    assert_string_equal(SEEN(&t, 4)->type, "m.room.message");
    assert_int_equal(SEEN(&t, 5)->joined, 2);
    assert_int_equal(SEEN(&t, 5)->skey_membership, MX_MEMBERSHIP_LEAVE);

    assert_int_equal(mx_room_membership(t.mx, "!r:hs", BOT), MX_MEMBERSHIP_JOIN);
    assert_int_equal(mx_room_membership(t.mx, "!r:hs", "@alice:hs"), MX_MEMBERSHIP_LEAVE);
    assert_int_equal(mx_room_membership(t.mx, "!r:hs", "@nobody:hs"), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_membership(t.mx, "!unknown:hs", BOT), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!unknown:hs"), 0);
    assert_null(mx_room_name(t.mx, "!unknown:hs"));
    const char *others[4];
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 4), 1);
    assert_string_equal(others[0], "@bob:hs");
    assert_int_equal(mx_room_joined_count(t.mx, "bad-room-id"), 0);

    hs_batch("s1", ROOM_BATCH2);
    wait_synced(&t, 2);
    assert_int_equal(t.events->len, 7);
    assert_string_equal(SEEN(&t, 6)->event_id, "$e6");
    assert_false(SEEN(&t, 6)->initial);
    assert_int_equal(SEEN(&t, 6)->joined, 3);
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 4), 2);
    assert_string_equal(others[0], "@bob:hs");
    assert_string_equal(others[1], "@carol:hs");
    /* cap smaller than the count: fills cap, reports all */
    assert_int_equal(mx_room_joined_others(t.mx, "!r:hs", others, 1), 2);
    assert_int_equal(t.synced_initial, 1);
    tc_free(&t);
}

/* Shapes a broken or hostile homeserver might send: skipped, never fatal. */
static void test_malformed_batches(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':7}");
    hs_rule("GET", "/sync", 200, "[1,2]", 1);
    hs_rule("GET", "/sync", 200, "{'next_batch':'bad token'}", 1);
    assert_int_equal(mx_client_start(t.mx), 0);
    struct count_at_least three = {"GET", "/sync", 3};
    assert_true(run_until(reqs_at_least, &three, 5000));
    assert_int_equal(t.synced, 0);
    assert_non_null(strstr(logged->str, "malformed /sync response"));

    hs_batch("", "{'next_batch':'s1','rooms':{'join':[],'invite':'x','leave':5}}");
    wait_synced(&t, 1);
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{"
                   "'!a:hs':5,"
                   "'!b:hs':{'state':{'events':{}},'timeline':{'events':'no'}},"
                   "'!c:hs':{'state':{'events':[1,null,{'type':'m.room.member','state_key':'@u:hs',"
                   "'content':{'membership':5}},{'type':'m.room.name','state_key':'',"
                   "'content':{'name':7}},{'type':'m.room.member','state_key':'@v:hs',"
                   "'content':'str'},{'type':'m.room.encryption','state_key':'x',"
                   "'content':{'algorithm':'y'}}]},"
                   "'timeline':{'events':[{'type':'m.room.member','state_key':'@w:hs',"
                   "'content':{'membership':'dance'},'event_id':'$w'}]}}},"
                   "'invite':{'!d:hs':{'invite_state':{'events':[{'type':'m.room.member',"
                   "'state_key':'@bot:hs','content':{'membership':'invite'},'sender':'nobody'}]}},"
                   "'!e:hs':{}}}}");
    wait_synced(&t, 2);
    assert_int_equal(t.invites->len, 0);
    assert_int_equal(t.events->len, 1);
    assert_int_equal(mx_room_joined_count(t.mx, "!c:hs"), 1); /* only ourselves */
    assert_null(mx_room_name(t.mx, "!c:hs"));
    assert_false(mx_room_is_encrypted(t.mx, "!c:hs"));
    assert_int_equal(mx_room_membership(t.mx, "!c:hs", "@w:hs"), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!b:hs"), 1);
    tc_free(&t);
}

static void test_invite_join_leave(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_batch("", "{'next_batch':'s1','rooms':{'invite':{'!i:hs':{'invite_state':{'events':["
                 "{'type':'m.room.name','state_key':'','sender':'@alice:hs',"
                 "'content':{'name':'Invited'}},"
                 "{'type':'m.room.member','state_key':'@bot:hs','sender':'@alice:hs',"
                 "'content':{'membership':'invite'}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    assert_int_equal(t.invites->len, 1);
    assert_string_equal(g_ptr_array_index(t.invites, 0), "!i:hs|@alice:hs|1");
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_INVITE);
    assert_string_equal(mx_room_name(t.mx, "!i:hs"), "Invited");
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 0);

    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{'!i:hs':{'state':{'events':["
                   "{'type':'m.room.member','state_key':'@alice:hs','sender':'@alice:hs',"
                   "'content':{'membership':'join'}}]},"
                   "'timeline':{'events':["
                   "{'type':'m.room.member','state_key':'@bot:hs','sender':'@bot:hs',"
                   "'event_id':'$j','content':{'membership':'join'}}]}}}}}");
    wait_synced(&t, 2);
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_JOIN);
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 2);
    assert_int_equal(t.events->len, 1);
    assert_int_equal(SEEN(&t, 0)->joined, 2);
    assert_int_equal(t.invites->len, 1);

    hs_batch("s2", "{'next_batch':'s3','rooms':{'leave':{'!i:hs':{'timeline':{'events':["
                   "{'type':'m.room.member','state_key':'@bot:hs','sender':'@alice:hs',"
                   "'event_id':'$k','content':{'membership':'leave'}}]}},"
                   "'!never-known:hs':{}}}}");
    wait_synced(&t, 3);
    assert_int_equal(t.lefts->len, 1);
    assert_string_equal(g_ptr_array_index(t.lefts, 0), "!i:hs");
    assert_int_equal(mx_room_membership(t.mx, "!i:hs", BOT), MX_MEMBERSHIP_NONE);
    assert_int_equal(mx_room_joined_count(t.mx, "!i:hs"), 0);
    assert_int_equal(t.events->len, 1); /* a left room's timeline is not dispatched */
    tc_free(&t);
}

static char *read_token_file(void)
{
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    char *data = NULL;
    g_file_get_contents(p, &data, NULL, NULL);
    g_free(p);
    return data;
}

struct file_is {
    const char *want;
};

static bool token_file_is(void *arg)
{
    char *d = read_token_file();
    bool ok = d && strcmp(d, ((struct file_is *)arg)->want) == 0;
    g_free(d);
    return ok;
}

static void test_resume_from_saved_token(void **state)
{
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t1, t2;
    tc_init(&t1, &cfg);
    hs_batch("", "{'next_batch':'s1','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                 "{'type':'m.room.message','event_id':'$a1','sender':'@alice:hs',"
                 "'content':{}}]}}}}}");
    hs_batch("s1", "{'next_batch':'s2','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                   "{'type':'m.room.message','event_id':'$a2','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    assert_int_equal(mx_client_start(t1.mx), 0);
    wait_synced(&t1, 2);
    struct file_is f = {"s2\n"};
    assert_true(token_file_is(&f)); /* saved before the next /sync went out */
    /* ...and only after the batch was handled */
    assert_null(t1.file_at_synced[0]);
    assert_string_equal(t1.file_at_synced[1], "s1\n");
    assert_int_equal(t1.events->len, 2);
    assert_true(SEEN(&t1, 0)->initial);
    assert_false(SEEN(&t1, 1)->initial);
    tc_free(&t1);

    unsigned syncs_before = hs_count("GET", "/sync");
    hs_batch("s2", "{'next_batch':'s3','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                   "{'type':'m.room.message','event_id':'$a3','sender':'@alice:hs',"
                   "'content':{}}]}}}}}");
    tc_init(&t2, &cfg);
    assert_int_equal(mx_client_start(t2.mx), 0);
    wait_synced(&t2, 1);
    assert_int_equal(t2.events->len, 1);
    assert_string_equal(SEEN(&t2, 0)->event_id, "$a3");
    assert_false(SEEN(&t2, 0)->initial);
    assert_int_equal(t2.synced_initial, 0);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(syncs->len > syncs_before);
    assert_string_equal(REC(syncs, syncs_before)->since, "s2");
    g_ptr_array_unref(syncs);
    f.want = "s3\n";
    assert_true(run_until(token_file_is, &f, 5000));
    char *tmp = g_build_filename(state_dir, "sync_token.tmp", NULL);
    assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
    g_free(tmp);
    tc_free(&t2);
}

static void test_corrupt_token_file_ignored(void **state)
{
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    assert_true(g_file_set_contents(p, "bad token\x01", -1, NULL));
    g_free(p);
    struct mx_client_cfg cfg = {.state_dir = state_dir};
    struct tc t;
    tc_init(&t, &cfg);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    assert_int_equal(t.synced_initial, 1);
    assert_non_null(strstr(logged->str, "does not hold a valid sync token"));
    tc_free(&t);
}

static json_t *content(const char *s)
{
    char *j = q(s);
    json_t *o = json_loads(j, 0, NULL);
    g_free(j);
    assert_non_null(o);
    return o;
}

static char *txn_of(const char *path)
{
    return g_strdup(strrchr(path, '/') + 1);
}

static void test_send_order_while_retrying(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("PUT", "/send/", 500, "{'errcode':'M_UNKNOWN','error':'boom'}", 1);
    const char *types[] = {"m.call.invite", "m.call.candidates", "m.call.hangup"};
    for (int i = 0; i < 3; i++) {
        json_t *c = content("{'call_id':'c1','version':'1'}");
        json_object_set_new(c, "seq", json_integer(i));
        assert_int_equal(mx_send_event(t.mx, "!r:hs", types[i], c, on_done, (void *)(intptr_t)i),
                         0);
        json_decref(c);
    }
    assert_int_equal(mx_client_pending_sends(t.mx), 3);
    assert_true(run_until(done_at_least, (void *)3, 5000));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(D.order[i], i);
        assert_int_equal(D.err[i], 0);
        assert_non_null(json_string_value(json_object_get(D.body[i], "event_id")));
    }
    assert_int_equal(mx_client_pending_sends(t.mx), 0);

    GPtrArray *puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 4);
    char *t0 = txn_of(REC(puts, 0)->path), *t1 = txn_of(REC(puts, 1)->path);
    char *t2 = txn_of(REC(puts, 2)->path), *t3 = txn_of(REC(puts, 3)->path);
    assert_string_equal(t0, t1); /* the retry reused the transaction id */
    assert_string_not_equal(t1, t2);
    assert_string_not_equal(t2, t3);
    assert_non_null(strstr(REC(puts, 1)->path, "/rooms/!r:hs/send/m.call.invite/"));
    assert_non_null(strstr(REC(puts, 2)->path, "/send/m.call.candidates/"));
    assert_non_null(strstr(REC(puts, 3)->path, "/send/m.call.hangup/"));
    assert_string_equal(REC(puts, 1)->auth, "Bearer " TOKEN);
    json_t *b = json_loads(REC(puts, 3)->body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(b, "seq")), 2);
    json_decref(b);
    g_free(t0);
    g_free(t1);
    g_free(t2);
    g_free(t3);
    g_ptr_array_unref(puts);
    tc_free(&t);
}

static gint64 gap_ms(GPtrArray *a, guint i)
{
    return (REC(a, i)->t_us - REC(a, i - 1)->t_us) / 1000;
}

static void test_429_retry_after(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    /* retry_after_ms in the body... */
    hs_rule("PUT", "/send/", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':300}", 1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], 0);
    GPtrArray *puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 2);
    assert_string_equal(REC(puts, 0)->path, REC(puts, 1)->path);
    assert_true(gap_ms(puts, 1) >= 250);
    g_ptr_array_unref(puts);

    /* ...or a Retry-After header. */
    struct rule *r = hs_rule("PUT", "/send/", 429, "{'errcode':'M_LIMIT_EXCEEDED'}", 1);
    pthread_mutex_lock(&H.lock);
    r->hname = g_strdup("Retry-After");
    r->hval = g_strdup("1");
    pthread_mutex_unlock(&H.lock);
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[1], 0);
    puts = hs_reqs("PUT", "/send/");
    assert_int_equal(puts->len, 4);
    assert_string_equal(REC(puts, 2)->path, REC(puts, 3)->path);
    assert_true(gap_ms(puts, 3) >= 900);
    g_ptr_array_unref(puts);
    tc_free(&t);
}

static void test_4xx_fails_at_once(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("PUT", "/send/", 403, "{'errcode':'M_FORBIDDEN','error':'not allowed'}", 1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, (void *)0), 0);
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.hangup", c, on_done, (void *)1), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.order[0], 0);
    assert_int_equal(D.err[0], EPROTO);
    assert_string_equal(D.errcode[0], "M_FORBIDDEN");
    assert_string_equal(json_string_value(json_object_get(D.body[0], "error")), "not allowed");
    assert_int_equal(D.order[1], 1);
    assert_int_equal(D.err[1], 0);
    assert_int_equal(hs_count("PUT", "/send/"), 2);

    /* Bad arguments are refused up front. */
    json_t *arr = json_array();
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.x", arr, on_done, NULL), EINVAL);
    assert_int_equal(mx_send_event(t.mx, "no-bang", "m.x", arr, on_done, NULL), EINVAL);
    json_decref(arr);
    assert_int_equal(mx_client_pending_sends(t.mx), 0);
    tc_free(&t);
}

static void test_rooms_do_not_block_each_other(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    struct rule *fail_a = hs_rule("PUT", "/rooms/!a:hs/", 503, "{}", -1);
    json_t *c = content("{'x':1}");
    assert_int_equal(mx_send_event(t.mx, "!a:hs", "m.call.invite", c, on_done, (void *)0), 0);
    struct count_at_least two_a = {"PUT", "/rooms/!a:hs/", 2};
    assert_true(run_until(reqs_at_least, &two_a, 5000)); /* A is retrying */
    assert_int_equal(mx_send_event(t.mx, "!b:hs", "m.call.invite", c, on_done, (void *)1), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.order[0], 1);
    assert_int_equal(D.err[0], 0);
    assert_int_equal(mx_client_pending_sends(t.mx), 1);

    hs_rule_set_remaining(fail_a, 0);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.order[1], 0);
    assert_int_equal(D.err[1], 0);
    GPtrArray *a = hs_reqs("PUT", "/rooms/!a:hs/");
    assert_true(a->len >= 3);
    for (guint i = 1; i < a->len; i++)
        assert_string_equal(REC(a, i)->path, REC(a, 0)->path);
    g_ptr_array_unref(a);
    tc_free(&t);
}

static void test_send_gives_up(void **state)
{
    struct mx_client_cfg cfg = {.send_give_up_ms = 400};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("PUT", "/send/", 500, "{'errcode':'M_UNKNOWN'}", -1);
    json_t *c = content("{'x':1}");
    gint64 t0 = g_get_monotonic_time();
    assert_int_equal(mx_send_event(t.mx, "!r:hs", "m.call.invite", c, on_done, NULL), 0);
    json_decref(c);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], ETIMEDOUT);
    assert_true((D.at[0] - t0) / 1000 < 2000);
    assert_true(hs_count("PUT", "/send/") >= 3);
    assert_non_null(strstr(logged->str, "giving up"));
    tc_free(&t);
}

static void test_sync_backoff_and_recovery(void **state)
{
    struct mx_client_cfg cfg = {.sync_backoff_ms = 100};
    struct tc t;
    tc_init(&t, &cfg);
    hs_rule("GET", "/sync", 500, "{'errcode':'M_UNKNOWN'}", 3);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(syncs->len >= 4);
    /* 100, 200, 400 ms nominal, each +-25 % */
    assert_true(gap_ms(syncs, 1) >= 70);
    assert_true(gap_ms(syncs, 2) >= 145);
    assert_true(gap_ms(syncs, 3) >= 295);
    assert_true(gap_ms(syncs, 3) < 3000);
    assert_null(REC(syncs, 3)->since); /* still the initial sync */
    g_ptr_array_unref(syncs);
    assert_int_equal(occurrences(logged->str, "homeserver unreachable"), 1);
    assert_int_equal(occurrences(logged->str, "homeserver reachable again"), 1);
    assert_int_equal(t.synced_initial, 1);

    /* Later, a gateway error with a body that is not JSON: one more "unreachable", one more
     * recovery, however many attempts failed in between. */
    struct rule *r = hs_rule("GET", "/sync", 502, "not json", -1);
    struct count_at_least more = {"GET", "/sync", hs_count("GET", "/sync") + 2};
    assert_true(run_until(reqs_at_least, &more, 5000));
    hs_rule_set_remaining(r, 0);
    hs_batch("s1", "{'next_batch':'s2'}");
    wait_synced(&t, 2);
    assert_int_equal(occurrences(logged->str, "homeserver unreachable"), 2);
    assert_int_equal(occurrences(logged->str, "homeserver reachable again"), 2);
    tc_free(&t);
}

static void test_sync_unknown_token_waits(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 401, "{'errcode':'M_UNKNOWN_TOKEN','error':'bad token'}", -1);
    assert_int_equal(mx_client_start(t.mx), 0);
    struct count_at_least one = {"GET", "/sync", 1};
    assert_true(run_until(reqs_at_least, &one, 5000));
    /* No busy loop: within a generous window, no second attempt. */
    struct count_at_least two = {"GET", "/sync", 2};
    assert_false(run_until(reqs_at_least, &two, 400));
    assert_non_null(strstr(logged->str, "rejected the access token"));
    assert_non_null(strstr(logged->str, "retrying in 60 s"));
    mx_client_stop(t.mx);
    tc_free(&t);
}

static void test_sync_429(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 429, "{'errcode':'M_LIMIT_EXCEEDED','retry_after_ms':300}", 1);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *syncs = hs_reqs("GET", "/sync");
    assert_true(gap_ms(syncs, 1) >= 250);
    g_ptr_array_unref(syncs);
    tc_free(&t);
}

static void test_sync_refused_uploads_filter_again(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/sync", 400, "{'errcode':'M_INVALID_PARAM','error':'unknown filter'}", 1);
    hs_batch("", "{'next_batch':'s1'}");
    assert_int_equal(mx_client_start(t.mx), 0);
    wait_synced(&t, 1);
    GPtrArray *all = hs_reqs(NULL, NULL);
    assert_true(all->len >= 4);
    assert_non_null(strstr(REC(all, 0)->path, "/filter"));
    assert_non_null(strstr(REC(all, 1)->path, "/sync"));
    assert_non_null(strstr(REC(all, 2)->path, "/filter"));
    assert_non_null(strstr(REC(all, 3)->path, "/sync"));
    g_ptr_array_unref(all);
    assert_int_equal(occurrences(logged->str, "homeserver refuses /sync"), 1);
    tc_free(&t);
}

static void test_request_and_login(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    hs_rule("GET", "/account/whoami", 502, "{}", 1);
    hs_rule("GET", "/account/whoami", 200, "{'user_id':'@bot:hs'}", -1);
    hs_rule("POST", "/createRoom", 500, "{'errcode':'M_UNKNOWN','error':'x'}", -1);
    hs_rule("POST", "/login", 200, "{'access_token':'newtok','device_id':'DEV'}", -1);

    assert_int_equal(mx_request(t.mx, "GET", "/account/whoami", NULL, true, on_done, (void *)0), 0);
    assert_true(run_until(done_at_least, (void *)1, 5000));
    assert_int_equal(D.err[0], 0);
    assert_string_equal(json_string_value(json_object_get(D.body[0], "user_id")), BOT);
    assert_int_equal(hs_count("GET", "/account/whoami"), 2);

    json_t *body = content("{'preset':'private_chat'}");
    assert_int_equal(mx_request(t.mx, "POST", "/createRoom", body, false, on_done, (void *)1), 0);
    json_decref(body);
    assert_true(run_until(done_at_least, (void *)2, 5000));
    assert_int_equal(D.err[1], EPROTO);
    assert_string_equal(D.errcode[1], "M_UNKNOWN");
    assert_int_equal(hs_count("POST", "/createRoom"), 1);
    GPtrArray *cr = hs_reqs("POST", "/createRoom");
    assert_string_equal(REC(cr, 0)->body, "{\"preset\":\"private_chat\"}");
    g_ptr_array_unref(cr);

    char *hs = g_strdup_printf("http://127.0.0.1:%u/", H.port);
    assert_int_equal(mx_login_password(t.http, hs, "bot", "hunter2", on_done, (void *)2), 0);
    g_free(hs);
    assert_true(run_until(done_at_least, (void *)3, 5000));
    assert_int_equal(D.err[2], 0);
    assert_string_equal(json_string_value(json_object_get(D.body[2], "access_token")), "newtok");
    GPtrArray *l = hs_reqs("POST", "/login");
    assert_int_equal(l->len, 1);
    assert_string_equal(REC(l, 0)->path, "/_matrix/client/v3/login");
    assert_string_equal(REC(l, 0)->auth, "");
    json_t *lb = json_loads(REC(l, 0)->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(lb, "type")), "m.login.password");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(lb, "identifier"), "user")), "bot");
    assert_string_equal(json_string_value(json_object_get(lb, "password")), "hunter2");
    json_decref(lb);
    g_ptr_array_unref(l);
    assert_null(strstr(logged->str, "hunter2"));
    tc_free(&t);
}

static bool mx_freed(void *arg)
{
    return ((struct tc *)arg)->mx == NULL;
}

static void test_free_inside_handler_and_with_sends_queued(void **state)
{
    struct tc t;
    tc_init(&t, NULL);
    t.free_on_event = true;
    hs_batch("", "{'next_batch':'s1','rooms':{'join':{'!r:hs':{'timeline':{'events':["
                 "{'type':'m.room.message','event_id':'$1','content':{}},"
                 "{'type':'m.room.message','event_id':'$2','content':{}}]}}}}}");
    assert_int_equal(mx_client_start(t.mx), 0);
    struct count_at_least one = {"GET", "/sync", 1};
    assert_true(run_until(reqs_at_least, &one, 5000));
    /* The handler frees the client on the first event: nothing more is delivered. */
    assert_true(run_until(mx_freed, &t, 5000));
    assert_int_equal(t.events->len, 1);
    assert_int_equal(t.synced, 0);
    tc_free(&t);

    /* Freed with sends queued and retrying: their handlers never run. */
    struct tc t2;
    tc_init(&t2, NULL);
    hs_rule("PUT", "/send/", 500, "{}", -1);
    json_t *c = content("{'x':1}");
    for (int i = 0; i < 3; i++)
        assert_int_equal(mx_send_event(t2.mx, "!r:hs", "m.x", c, on_done, NULL), 0);
    json_decref(c);
    struct count_at_least retried = {"PUT", "/send/", 2};
    assert_true(run_until(reqs_at_least, &retried, 5000));
    t2.mx = mem_deref(t2.mx);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    assert_int_equal(D.count, 0);
    tc_free(&t2);
}

static void test_bad_config(void **state)
{
    struct http_client *http = NULL;
    assert_int_equal(http_client_alloc(&http, ctx), 0);
    struct mx_client *c = NULL;
    struct mx_client_cfg cfg = {.homeserver = "ftp://x", .user_id = BOT, .access_token = TOKEN};
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.homeserver = "http://127.0.0.1:1";
    cfg.user_id = "bot";
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.user_id = BOT;
    cfg.access_token = "abc\r\nX: y";
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), EINVAL);
    cfg.access_token = TOKEN;
    assert_int_equal(mx_client_alloc(&c, http, &cfg, NULL, NULL), 0);
    assert_int_equal(mx_request(c, "GET", "no-slash", NULL, false, on_done, NULL), EINVAL);
    mem_deref(c);
    mem_deref(http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_filter_then_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_order_and_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invite_join_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_from_saved_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_token_file_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_order_while_retrying, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4xx_fails_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms_do_not_block_each_other, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_backoff_and_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_unknown_token_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_429, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_refused_uploads_filter_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_and_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_inside_handler_and_with_sends_queued, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
