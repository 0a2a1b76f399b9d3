/*
 * mxload's Janus AudioBridge driver (see janus.h). Every request is a JSON POST answered at once
 * ("success", "ack" or "error"); what the plugin does asynchronously (the join's JSEP answer,
 * webrtcup, hangup) arrives on the session's long-poll (GET with maxev, an array of events).
 * Janus's replies are untrusted input: every field is type-checked and a reply without what we
 * need fails that participant with a message, never the process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "tools/mxcall/janus.h"
#include "tools/mxcall/load.h"

#define LONGPOLL_MAXEV 64

struct janus_part {
    struct janus_load *j;
    unsigned index;
    uint64_t handle;
    struct load_leg *leg;
    bool joined, reported, left;
};

struct janus_load {
    struct load *ld;
    char *url;
    uint64_t room;
    uint64_t session, control;
    struct janus_part *parts;
    GHashTable *by_handle; /* handle id -> struct janus_part * */
    guint keepalive;
    unsigned txn;
    unsigned inflight; /* requests */
    bool polling, stopping;
};

typedef void(janus_reply_h)(struct janus_load *j, json_t *reply, const char *error, void *arg);

struct request {
    struct janus_load *j;
    janus_reply_h *h;
    void *arg;
};

static void janus_destroy(void *data)
{
    struct janus_load *j = data;
    if (j->keepalive)
        g_source_remove(j->keepalive);
    for (unsigned i = 0; j->parts && i < j->ld->cfg.n; i++) {
        if (j->parts[i].leg)
            load_leg_close(j->parts[i].leg);
        mem_deref(j->parts[i].leg);
    }
    g_free(j->parts);
    if (j->by_handle)
        g_hash_table_destroy(j->by_handle);
    g_free(j->url);
}

static void on_http(const struct http_response *resp, void *arg)
{
    struct request *rq = arg;
    struct janus_load *j = rq->j;
    j->inflight--;
    json_t *reply = NULL;
    char why[256] = "";
    if (resp->error || resp->status != 200) {
        snprintf(why, sizeof(why), "HTTP %ld %s", resp->status, resp->error ? resp->error : "");
    } else {
        json_error_t je;
        reply = json_loadb(resp->body, resp->body_len, 0, &je);
        if (!reply) {
            snprintf(why, sizeof(why), "reply is not JSON: %s", je.text);
        } else if (json_is_object(reply) &&
                   g_strcmp0(json_string_value(json_object_get(reply, "janus")), "error") == 0) {
            json_t *e = json_object_get(reply, "error");
            snprintf(why, sizeof(why), "Janus error %lld: %s",
                     (long long)json_integer_value(json_object_get(e, "code")),
                     json_string_value(json_object_get(e, "reason"))
                         ? json_string_value(json_object_get(e, "reason"))
                         : "?");
        }
    }
    if (rq->h)
        rq->h(j, reply, why[0] ? why : NULL, rq->arg);
    json_decref(reply);
    g_free(rq);
}

/* POST body (stolen) to url[/session[/handle]] */
static int post(struct janus_load *j, uint64_t handle, json_t *body, janus_reply_h *h, void *arg)
{
    char txn[24];
    snprintf(txn, sizeof(txn), "t%u", ++j->txn);
    json_object_set_new(body, "transaction", json_string(txn));
    char *url = !j->session ? g_strdup(j->url)
                : !handle   ? g_strdup_printf("%s/%llu", j->url, (unsigned long long)j->session)
                          : g_strdup_printf("%s/%llu/%llu", j->url, (unsigned long long)j->session,
                                            (unsigned long long)handle);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct request *rq = g_new0(struct request, 1);
    *rq = (struct request){j, h, arg};
    struct http_request req = {
        .method = "POST", .url = url, .body = s, .body_len = strlen(s), .timeout_ms = 30000};
    int err = http_request_start(j->ld->http, &req, on_http, rq, NULL);
    free(s);
    g_free(url);
    if (err)
        g_free(rq);
    else
        j->inflight++;
    return err;
}

static uint64_t data_id(json_t *reply)
{
    json_t *id = json_object_get(json_object_get(reply, "data"), "id");
    return json_is_integer(id) ? (uint64_t)json_integer_value(id) : 0;
}

static json_t *plugin_data(json_t *reply)
{
    return json_object_get(json_object_get(reply, "plugindata"), "data");
}

/* ---- participants ---- */

static void report(struct janus_part *p, bool ok, const char *why)
{
    if (p->reported)
        return;
    p->reported = true;
    load_leg_done(p->j->ld, p->index, p->leg, ok, why);
}

static void joined_ack(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    struct janus_part *p = arg;
    (void)j;
    (void)reply;
    if (error)
        report(p, false, error);
}

static void on_ready(struct load_leg *leg, const char *sdp, void *arg)
{
    struct janus_part *p = arg;
    struct janus_load *j = p->j;
    (void)leg;
    char display[32];
    snprintf(display, sizeof(display), "load%u", p->index);
    json_t *body =
        json_pack("{s:s, s:I, s:s, s:i, s:s}", "request", "join", "room", (json_int_t)j->room,
                  "display", display, "quality", j->ld->cfg.complexity, "codec", "opus");
    json_t *msg = json_pack("{s:s, s:o, s:{s:s, s:s}}", "janus", "message", "body", body, "jsep",
                            "type", "offer", "sdp", sdp);
    if (post(j, p->handle, msg, joined_ack, p))
        report(p, false, "cannot send the join");
}

static void trickled(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    (void)j;
    (void)reply;
    (void)arg;
    if (error)
        log_warn("a trickled candidate was refused: %s", error);
}

static void on_candidate(struct load_leg *leg, const char *cand, void *arg)
{
    struct janus_part *p = arg;
    (void)leg;
    json_t *msg = json_pack("{s:s, s:{s:s, s:s, s:i}}", "janus", "trickle", "candidate",
                            "candidate", cand, "sdpMid", "0", "sdpMLineIndex", 0);
    post(p->j, p->handle, msg, trickled, p);
}

static void on_state(struct load_leg *leg, bool connected, const char *why, void *arg)
{
    struct janus_part *p = arg;
    (void)leg;
    if (!connected && p->reported)
        log_warn("[load=%u] media ended: %s", p->index, why ? why : "?");
    report(p, connected, why);
}

static const struct load_leg_handlers leg_handlers = {
    .ready = on_ready,
    .candidate = on_candidate,
    .state = on_state,
};

static void attached(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    struct janus_part *p = arg;
    if (error || !(p->handle = data_id(reply))) {
        report(p, false, error ? error : "attach: no handle id");
        return;
    }
    g_hash_table_insert(j->by_handle, &p->handle, p);
    int err = load_leg_alloc(&p->leg, j->ld, p->index, &leg_handlers, p);
    if (err)
        report(p, false, strerror(err));
}

static void join(void *obj, unsigned index)
{
    struct janus_load *j = obj;
    struct janus_part *p = &j->parts[index];
    json_t *msg = json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.audiobridge");
    if (post(j, 0, msg, attached, p))
        report(p, false, "cannot attach");
}

/* ---- events ---- */

static void handle_event(struct janus_load *j, json_t *ev)
{
    const char *kind = json_string_value(json_object_get(ev, "janus"));
    json_t *sender = json_object_get(ev, "sender");
    if (!kind || !json_is_integer(sender))
        return;
    uint64_t h = (uint64_t)json_integer_value(sender);
    struct janus_part *p = g_hash_table_lookup(j->by_handle, &h);
    if (!p || !p->leg)
        return;
    if (strcmp(kind, "event") == 0) {
        json_t *data = plugin_data(ev);
        const char *what = json_string_value(json_object_get(data, "audiobridge"));
        json_t *err = json_object_get(data, "error");
        if (json_is_string(err)) {
            report(p, false, json_string_value(err));
            return;
        }
        const char *type = json_string_value(json_object_get(json_object_get(ev, "jsep"), "type"));
        const char *sdp = json_string_value(json_object_get(json_object_get(ev, "jsep"), "sdp"));
        if (what && strcmp(what, "joined") == 0 && type && sdp && strcmp(type, "answer") == 0 &&
            !p->joined) {
            p->joined = true;
            log_debug("[load=%u] Janus's answer:\n%s", p->index, sdp);
            char why[256];
            if (load_leg_set_answer(p->leg, sdp, why, sizeof(why)))
                report(p, false, why);
        }
    } else if (strcmp(kind, "hangup") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        if (!j->stopping)
            log_warn("[load=%u] Janus hung up: %s", p->index, reason ? reason : "?");
        report(p, false, reason ? reason : "hangup");
    }
}

static void poll_events(struct janus_load *j);

static void on_poll(const struct http_response *resp, void *arg)
{
    struct janus_load *j = arg;
    j->polling = false;
    if (!resp->error && resp->status == 200) {
        json_t *r = json_loadb(resp->body, resp->body_len, 0, NULL);
        if (json_is_array(r)) {
            size_t i;
            json_t *ev;
            json_array_foreach(r, i, ev) handle_event(j, ev);
        } else if (json_is_object(r)) {
            handle_event(j, r);
        }
        json_decref(r);
    } else if (!j->stopping) {
        log_warn("Janus long-poll: HTTP %ld %s", resp->status, resp->error ? resp->error : "");
    }
    if (!j->stopping)
        poll_events(j);
}

static void poll_events(struct janus_load *j)
{
    if (j->polling)
        return;
    char *url =
        g_strdup_printf("%s/%llu?maxev=%d", j->url, (unsigned long long)j->session, LONGPOLL_MAXEV);
    struct http_request req = {.method = "GET", .url = url, .timeout_ms = 70000};
    if (!http_request_start(j->ld->http, &req, on_poll, j, NULL))
        j->polling = true;
    g_free(url);
}

static gboolean keepalive(gpointer data)
{
    struct janus_load *j = data;
    post(j, 0, json_pack("{s:s}", "janus", "keepalive"), NULL, NULL);
    return G_SOURCE_CONTINUE;
}

/* ---- session and room ---- */

static void room_created(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    (void)arg;
    json_t *data = plugin_data(reply);
    const char *what = json_string_value(json_object_get(data, "audiobridge"));
    json_t *code = json_object_get(data, "error_code");
    /* 486: the room exists already (a fixed --janus-room): join it as it is */
    if (error || !what ||
        (strcmp(what, "created") != 0 &&
         !(json_is_integer(code) && json_integer_value(code) == 486))) {
        const char *e = json_string_value(json_object_get(data, "error"));
        char why[300];
        snprintf(why, sizeof(why), "Janus: cannot create the AudioBridge room: %s",
                 error ? error
                 : e   ? e
                       : "unexpected reply");
        load_driver_failed(j->ld, why);
        return;
    }
    load_driver_ready(j->ld);
}

static void control_attached(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    (void)arg;
    if (error || !(j->control = data_id(reply))) {
        load_driver_failed(j->ld, error ? error
                                        : "Janus: attach gave no handle id (is the "
                                          "AudioBridge plugin loaded?)");
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:i, s:b, s:b, s:b, s:s}", "request", "create", "room",
                             (json_int_t)j->room, "sampling_rate", 48000, "audiolevel_event", 0,
                             "is_private", 1, "permanent", 0, "description", "mxload");
    post(j, j->control, json_pack("{s:s, s:o}", "janus", "message", "body", body), room_created,
         NULL);
}

static void session_created(struct janus_load *j, json_t *reply, const char *error, void *arg)
{
    (void)arg;
    if (error || !(j->session = data_id(reply))) {
        char why[300];
        snprintf(why, sizeof(why), "Janus at %s: cannot create a session: %s", j->url,
                 error ? error : "no session id");
        load_driver_failed(j->ld, why);
        return;
    }
    poll_events(j);
    j->keepalive = g_timeout_add_seconds(20, keepalive, j);
    post(j, 0, json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.audiobridge"),
         control_attached, NULL);
}

int janus_load_start(struct janus_load *j)
{
    return post(j, 0, json_pack("{s:s}", "janus", "create"), session_created, NULL);
}

static void leave_all(void *obj)
{
    struct janus_load *j = obj;
    j->stopping = true;
    for (unsigned i = 0; i < j->ld->cfg.n; i++) {
        struct janus_part *p = &j->parts[i];
        if (p->leg)
            load_leg_close(p->leg);
        if (!p->handle || p->left)
            continue;
        p->left = true;
        post(j, p->handle,
             json_pack("{s:s, s:{s:s}}", "janus", "message", "body", "request", "leave"), NULL,
             NULL);
    }
    if (j->session)
        post(j, 0, json_pack("{s:s}", "janus", "destroy"), NULL, NULL);
}

static unsigned pending(void *obj)
{
    struct janus_load *j = obj;
    return j->inflight;
}

int janus_load_alloc(struct janus_load **jp, struct load *ld, const char *url, uint64_t room)
{
    struct janus_load *j = mem_zalloc(sizeof(*j), janus_destroy);
    if (!j)
        return ENOMEM;
    j->ld = ld;
    j->url = g_strdup(url);
    size_t n = strlen(j->url);
    if (n && j->url[n - 1] == '/')
        j->url[n - 1] = '\0';
    j->room = room ? room : 100000 + (uint64_t)g_random_int_range(0, 1000000);
    j->parts = g_new0(struct janus_part, ld->cfg.n);
    for (unsigned i = 0; i < ld->cfg.n; i++)
        j->parts[i] = (struct janus_part){.j = j, .index = i};
    j->by_handle = g_hash_table_new(g_int64_hash, g_int64_equal);
    ld->drv =
        (struct load_driver){.obj = j, .join = join, .leave_all = leave_all, .pending = pending};
    *jp = j;
    return 0;
}
