/*
 * The harness of the call state machine's tests (see call_harness.h): a send() that records
 * every event, handlers that count what the call reported, log capture, the main loop driven
 * until a condition holds, and calls brought into the usual states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "tests/unit/call/call_harness.h"
#include "tests/unit/call/fake_media_session.h"

/* ---- what the call sent, what it reported ---- */

GPtrArray *sent; /* struct sent * */
int send_error;

struct call_report rep;

static GPtrArray *log_lines; /* char * */

static void free_sent(gpointer p)
{
    struct sent *s = p;
    g_free(s->room);
    g_free(s->type);
    json_decref(s->content);
    g_free(s);
}

static int fake_send(void *arg, const char *room_id, const char *type, json_t *content)
{
    if (send_error)
        return send_error;
    struct sent *s = g_new0(struct sent, 1);
    s->room = g_strdup(room_id);
    s->type = g_strdup(type);
    s->content = json_deep_copy(content);
    g_ptr_array_add(sent, s);
    return 0;
}

static void on_connected(struct call *c, void *arg)
{
    rep.connected++;
}

static void on_hold(struct call *c, bool held, void *arg)
{
    rep.held_changes++;
    rep.held = held;
}

static void on_ended(struct call *c, enum call_hangup_reason reason, bool by_remote, void *arg)
{
    rep.ended++;
    rep.reason = reason;
    rep.by_remote = by_remote;
}

const struct call_handlers handlers = {
    .connected = on_connected,
    .hold_changed = on_hold,
    .ended = on_ended,
};

static void log_sink(enum log_level level, const char *line, void *arg)
{
    g_ptr_array_add(log_lines, g_strdup(line));
}

bool logged(const char *a, const char *b)
{
    for (guint i = 0; i < log_lines->len; i++) {
        const char *l = g_ptr_array_index(log_lines, i);
        if (strstr(l, a) && (!b || strstr(l, b)))
            return true;
    }
    return false;
}

struct call_env env;

int setup(void **state)
{
    sent = g_ptr_array_new_with_free_func(free_sent);
    log_lines = g_ptr_array_new_with_free_func(g_free);
    log_set_level(LOG_LVL_DEBUG);
    log_set_sink(log_sink, NULL);
    memset(&rep, 0, sizeof(rep));
    send_error = 0;
    env = (struct call_env){
        .party_id = OURS,
        .invite_lifetime_ms = 60000,
        .media_timeout_ms = 0,
        .gather_wait_ms = 100,
        .send = fake_send,
    };
    return 0;
}

int teardown(void **state)
{
    log_set_sink(NULL, NULL);
    g_ptr_array_free(sent, TRUE);
    g_ptr_array_free(log_lines, TRUE);
    return 0;
}

/* ---- the loop ---- */

static gboolean expire(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Runs the main loop until cond holds or ms pass; returns cond. */
bool run_until(bool (*cond)(const void *), const void *arg, unsigned ms)
{
    bool expired = false;
    guint t = g_timeout_add(ms, expire, &expired);
    while (!cond(arg) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(t);
    return cond(arg);
}

static bool never(const void *arg)
{
    return false;
}

/* Lets ms of timers run (for "nothing else happens" checks). */
void run_for(unsigned ms)
{
    run_until(never, NULL, ms);
}

unsigned count_type(const char *type)
{
    unsigned n = 0;
    for (guint i = 0; i < sent->len; i++)
        n += strcmp(((struct sent *)g_ptr_array_index(sent, i))->type, type) == 0;
    return n;
}

/* The n-th (0-based) event of type sent, or NULL. */
json_t *nth(const char *type, unsigned n)
{
    for (guint i = 0; i < sent->len; i++) {
        struct sent *s = g_ptr_array_index(sent, i);
        if (strcmp(s->type, type) == 0 && n-- == 0)
            return s->content;
    }
    return NULL;
}

bool have(const void *arg)
{
    const struct want *w = arg;
    return count_type(w->type) >= w->n;
}

bool ended(const void *arg)
{
    return rep.ended > 0;
}

const char *str(json_t *o, const char *path)
{
    /* "a.b" -> o["a"]["b"] */
    char **parts = g_strsplit(path, ".", -1);
    json_t *v = o;
    for (char **p = parts; *p && v; p++)
        v = json_object_get(v, *p);
    g_strfreev(parts);
    return json_string_value(v);
}

/* ---- events from the peer ---- */

void in_free(struct in *in)
{
    json_decref(in->json);
}

void decode(struct in *in, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    json_error_t je;
    in->json = json_loads(text, 0, &je);
    if (!in->json)
        fail_msg("bad test JSON (%s): %s", je.text, text);
    g_free(text);
    enum call_event_type t;
    assert_int_equal(call_event_type_parse(type, &t), 0);
    char err[256];
    int e = call_event_decode(&in->ev, t, in->json, err, sizeof(err));
    if (e)
        fail_msg("test event does not decode: %s", err);
}

/* Feeds one event of type to c as from sender. */
void feed(struct call *c, const char *sender, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    struct in in;
    decode(&in, type, "%s", text);
    g_free(text);
    call_handle_event(c, sender, &in.ev);
    in_free(&in);
}

/* An invite from PEER (party PEERDEV, version 1) answered by us. */
struct call *answer_invite(const char *sdp)
{
    struct in in;
    decode(&in, "m.call.invite",
           "{\"call_id\":\"c1\",\"party_id\":\"PEERDEV\",\"version\":\"1\",\"lifetime\":60000,"
           "\"offer\":{\"type\":\"offer\",\"sdp\":\"%s\"}}",
           sdp);
    struct call *c = NULL;
    char err[256];
    assert_int_equal(call_answer(&c, &env, ROOM, PEER, &in.ev, &handlers, NULL, err, sizeof(err)),
                     0);
    in_free(&in);
    assert_non_null(c);
    return c;
}

/* An answered call whose media connected: answer sent, all candidates in it. */
struct call *connected_call(void)
{
    struct call *c = answer_invite("v=0 offer");
    fake_media_local_candidate(fake_media_last, "candidate:1 1 udp 1 127.0.0.1 5000 typ host");
    fake_media_gathering_done(fake_media_last);
    assert_int_equal(count_type("m.call.answer"), 1);
    fake_media_connected(fake_media_last);
    assert_int_equal(call_get_state(c), CALL_STATE_CONNECTED);
    assert_int_equal(rep.connected, 1);
    return c;
}

/* call_ring to PEER with the invite out (gathering finished at once). */
struct call *ringing_call(void)
{
    struct call *c = NULL;
    assert_int_equal(call_ring(&c, &env, ROOM, PEER, &handlers, NULL), 0);
    assert_true(fake_media_offerer(fake_media_last));
    fake_media_local_candidate(fake_media_last, "candidate:1 1 udp 1 127.0.0.1 5000 typ host");
    fake_media_gathering_done(fake_media_last);
    assert_int_equal(count_type("m.call.invite"), 1);
    assert_int_equal(call_get_state(c), CALL_STATE_RINGING);
    return c;
}

json_t *candidates_of(json_t *content)
{
    return json_object_get(content, "candidates");
}

bool has_candidate(json_t *content, const char *cand)
{
    size_t i;
    json_t *v;
    json_array_foreach(candidates_of(content), i, v)
    {
        if (strcmp(str(v, "candidate"), cand) == 0)
            return true;
    }
    return false;
}

void reset_reports(void)
{
    memset(&rep, 0, sizeof(rep));
    g_ptr_array_set_size(sent, 0);
}
