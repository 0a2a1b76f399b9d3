/*
 * The client-side harness of the Matrix client tests (see mx_test_util.h).
 */
#include "mx_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "fake_hs.h"

GMainContext *ctx;

static gboolean wake(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

bool run_until(bool (*cond)(void *), void *arg, unsigned timeout_ms)
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

char *state_dir;

void tc_init(struct tc *t, const struct mx_client_cfg *extra)
{
    memset(t, 0, sizeof(*t));
    t->events = g_ptr_array_new_with_free_func(seen_free);
    t->invites = g_ptr_array_new_with_free_func(g_free);
    t->lefts = g_ptr_array_new_with_free_func(g_free);
    assert_int_equal(http_client_alloc(&t->http, ctx), 0);
    char *hs = hs_url();
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

void tc_free(struct tc *t)
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

void wait_synced(struct tc *t, unsigned n)
{
    struct synced_n s = {t, n};
    assert_true(run_until(synced_n, &s, 5000));
}

struct done D;

void on_done(int err, const char *errcode, json_t *body, void *arg)
{
    unsigned i = D.count++;
    assert_true(i < 16);
    D.order[i] = (int)(intptr_t)arg;
    D.err[i] = err;
    D.errcode[i] = g_strdup(errcode);
    D.body[i] = body ? json_incref(body) : NULL;
    D.at[i] = g_get_monotonic_time();
}

void done_clear(void)
{
    for (unsigned i = 0; i < D.count; i++) {
        g_free(D.errcode[i]);
        json_decref(D.body[i]);
    }
    memset(&D, 0, sizeof(D));
}

bool done_at_least(void *arg)
{
    return D.count >= (unsigned)(uintptr_t)arg;
}

GString *logged;

static void capture(enum log_level level, const char *line, void *arg)
{
    g_string_append(logged, line);
    g_string_append_c(logged, '\n');
}

unsigned occurrences(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

int setup(void **state)
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

int teardown(void **state)
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

char *read_token_file(void)
{
    char *p = g_build_filename(state_dir, "sync_token", NULL);
    char *data = NULL;
    g_file_get_contents(p, &data, NULL, NULL);
    g_free(p);
    return data;
}

json_t *content(const char *s)
{
    char *j = hs_json(s);
    json_t *o = json_loads(j, 0, NULL);
    g_free(j);
    assert_non_null(o);
    return o;
}
