/*
 * One mxcall party: log in, sync, optionally say something, place or answer one call, hold it
 * for the configured time while the device talks and listens, hang up, report.
 *
 * DTMF: the party's digits go to the conference as its device's (conf_member_dtmf), which
 * relays them to the call's audio stream on the mixer clock: RFC 4733 events between its audio
 * packets, at the negotiated telephone-event payload type. The digits the peer sends come back
 * the same way to the device, and are printed as "dtmf" events.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/audio_stream.h"
#include "media/session.h"
#include "signalling/mx_client.h"
#include "tools/mxcall/mxcall.h"

enum party_state {
    PARTY_LOGGING_IN,
    PARTY_SYNCING,
    PARTY_WAITING, /* for a call to answer */
    PARTY_CALLING,
    PARTY_CONNECTED,
    PARTY_DONE,
};

static const char *const state_names[] = {"logging_in", "syncing",   "waiting",
                                          "calling",    "connected", "done"};

struct party {
    struct mxcall *app;
    struct party_cfg *cfg;
    unsigned index;
    enum party_state state;
    char *user_id;
    char *token;
    char *device_id;
    struct mx_client *mx;
    struct call_env env;
    struct call *call;
    struct mxcall_device *device;
    struct conf_room *room;
    struct conf_member *remote_m, *device_m;
    guint timer, status_timer, hold_timer, dtmf_timer;
    unsigned dtmf_next;  /* the next entry of cfg->dtmf to send */
    unsigned dtmf_sent;  /* digits handed to the conference */
    GString *dtmf_heard; /* digits the peer sent, in order */
    int64_t t_start_us, t_connected_us;
    struct call_timings timings;
    struct audio_stream_stats stats;
    bool connected_once;
    bool ok;
    char *end_reason;
    char ctx[200];
};

static void emit(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(obj);
}

static void remove_timer(guint *t)
{
    if (*t) {
        g_source_remove(*t);
        *t = 0;
    }
}

static void leave_conference(struct party *p)
{
    if (p->device)
        mxcall_device_set_dtmf_handler(p->device, NULL, NULL);
    if (p->remote_m) {
        conf_member_leave(p->remote_m);
        p->remote_m = NULL;
    }
    if (p->device_m) {
        conf_member_leave(p->device_m);
        p->device_m = NULL;
    }
    p->room = mem_deref(p->room);
}

/* Milliseconds since the first party was made: lets a test line up events of several parties. */
static int64_t t0_us;

static json_int_t now_ms(void)
{
    return (json_int_t)((g_get_monotonic_time() - t0_us) / 1000);
}

static void party_destroy(void *data)
{
    struct party *p = data;
    remove_timer(&p->timer);
    remove_timer(&p->status_timer);
    remove_timer(&p->hold_timer);
    remove_timer(&p->dtmf_timer);
    leave_conference(p);
    mem_deref(p->call);
    mem_deref(p->device);
    mem_deref(p->mx);
    g_free(p->user_id);
    g_free(p->token);
    g_free(p->device_id);
    g_free(p->end_reason);
    if (p->dtmf_heard)
        g_string_free(p->dtmf_heard, TRUE);
}

bool party_succeeded(const struct party *p)
{
    return p->ok;
}

unsigned party_pending_sends(const struct party *p)
{
    return p->mx ? mx_client_pending_sends(p->mx) : 0;
}

/* ---- results ---- */

/* One analysis window: probe levels by frequency, the noise floor, and the probes heard (at
 * least 20 dB over the noise floor). */
static json_t *window_json(struct party *p, unsigned w)
{
    struct mxcall_levels lv;
    mxcall_device_levels(p->device, w, &lv);
    json_t *tones = json_object();
    json_t *heard = json_array();
    for (unsigned i = 0; i < p->cfg->nprobes; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%g", p->cfg->probes[i]);
        json_object_set_new(tones, key, json_real(lv.probe_db[i]));
        if (lv.blocks && lv.probe_db[i] > TONE_DB_MIN && lv.probe_db[i] - lv.noise_db >= 20.0)
            json_array_append_new(heard, json_real(p->cfg->probes[i]));
    }
    return json_pack("{s:f, s:f, s:I, s:o, s:f, s:f, s:o}", "from", p->cfg->windows[w].from_s, "to",
                     p->cfg->windows[w].to_s, "blocks", (json_int_t)lv.blocks, "tones_db", tones,
                     "noise_db", lv.noise_db, "residual_db", lv.residual_db, "heard", heard);
}

static json_t *windows_json(struct party *p)
{
    json_t *arr = json_array();
    for (unsigned w = 0; p->device && w < mxcall_device_windows(p->device); w++)
        json_array_append_new(arr, window_json(p, w));
    return arr;
}

static void refresh_stats(struct party *p)
{
    struct audio_stream *as = p->call ? media_session_audio(call_media(p->call)) : NULL;
    if (as)
        audio_stream_get_stats(as, &p->stats);
}

void party_print_status(struct party *p)
{
    refresh_stats(p);
    emit(json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:o}", "event", "status", "party",
                   p->user_id ? p->user_id : p->cfg->user, "state", state_names[p->state],
                   "packets_received", (json_int_t)p->stats.packets_received, "packets_sent",
                   (json_int_t)p->stats.packets_sent, "packets_lost",
                   (json_int_t)p->stats.packets_lost, "jitter_ms", (int)p->stats.jitter_ms,
                   "rtt_ms", (int)p->stats.rtt_ms, "windows", windows_json(p)));
}

static void print_result(struct party *p)
{
    refresh_stats(p);
    json_t *r = json_pack(
        "{s:s, s:s, s:b, s:b, s:s, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:I}",
        "event", "result", "party", p->user_id ? p->user_id : p->cfg->user, "ok", p->ok,
        "connected", p->connected_once, "end", p->end_reason ? p->end_reason : "", "call_id",
        p->call ? call_id(p->call) : NULL, "packets_received",
        (json_int_t)p->stats.packets_received, "packets_sent", (json_int_t)p->stats.packets_sent,
        "packets_lost", (json_int_t)p->stats.packets_lost, "frames_concealed",
        (json_int_t)p->stats.frames_concealed, "frames_fec", (json_int_t)p->stats.frames_fec,
        "late_dropped", (json_int_t)p->stats.late_dropped, "jitter_ms", (int)p->stats.jitter_ms,
        "rtt_ms", (int)p->stats.rtt_ms, "jb_delay_ms", (int)p->stats.jb_delay_ms, "frames_heard",
        (json_int_t)(p->device ? mxcall_device_frames_heard(p->device) : 0));
    json_object_set_new(r, "windows", windows_json(p));
    json_object_set_new(r, "dtmf_sent", json_integer(p->dtmf_sent));
    json_object_set_new(r, "dtmf_received", json_string(p->dtmf_heard ? p->dtmf_heard->str : ""));
    json_object_set_new(r, "setup_ms",
                        json_pack("{s:I, s:I, s:I}", "to_sdp", (json_int_t)p->timings.to_sdp_ms,
                                  "to_ice", (json_int_t)p->timings.to_ice_ms, "to_dtls",
                                  (json_int_t)p->timings.to_dtls_ms));
    emit(r);
}

void party_finish(struct party *p, const char *why)
{
    if (p->state == PARTY_DONE)
        return;
    if (!p->end_reason)
        p->end_reason = g_strdup(why);
    remove_timer(&p->timer);
    remove_timer(&p->status_timer);
    remove_timer(&p->hold_timer);
    remove_timer(&p->dtmf_timer);
    refresh_stats(p);
    leave_conference(p);   /* synchronous: the device is ours alone again */
    p->state = PARTY_DONE; /* before the hangup, whose ended handler comes back here */
    if (p->call && call_get_state(p->call) != CALL_STATE_ENDED)
        call_hangup(p->call, CALL_REASON_USER_HANGUP);
    print_result(p);
    if (p->mx)
        mx_client_stop(p->mx);
    mxcall_party_done(p->app);
}

/* ---- the call ---- */

static gboolean duration_done(gpointer data)
{
    struct party *p = data;
    p->timer = 0;
    p->ok = true;
    party_finish(p, "duration");
    return G_SOURCE_REMOVE;
}

static gboolean status_tick(gpointer data)
{
    party_print_status(data);
    return G_SOURCE_CONTINUE;
}

static void schedule_hold(struct party *p);

/* Hold, then resume, by m.call.negotiate; the result shows in "hold" lines. */
static gboolean hold_tick(gpointer data)
{
    struct party *p = data;
    p->hold_timer = 0;
    bool hold = !call_is_holding(p->call);
    int err = call_hold(p->call, hold);
    emit(json_pack("{s:s, s:s, s:b, s:I, s:s}", "event", "hold", "party", p->user_id, "held", hold,
                   "t_ms", now_ms(), "error", err ? strerror(err) : ""));
    if (!err && hold)
        schedule_hold(p);
    return G_SOURCE_REMOVE;
}

static void schedule_hold(struct party *p)
{
    double at = call_is_holding(p->call) ? p->cfg->resume_at_s : p->cfg->hold_at_s;
    if (at <= 0)
        return;
    double since = (double)(g_get_monotonic_time() - p->t_connected_us) / 1e6;
    double in = at > since ? at - since : 0;
    p->hold_timer = g_timeout_add((guint)(in * 1000), hold_tick, p);
}

/* ---- DTMF ---- */

static void schedule_dtmf(struct party *p);

static gboolean dtmf_tick(gpointer data)
{
    struct party *p = data;
    p->dtmf_timer = 0;
    const char *digits = p->cfg->dtmf[p->dtmf_next++].digits;
    unsigned ms = p->cfg->dtmf_ms ? p->cfg->dtmf_ms : 120;
    int err = 0;
    unsigned n = 0;
    for (const char *d = digits; *d && !err && p->device_m; d++) {
        err = conf_member_dtmf(p->device_m, *d, (uint16_t)ms);
        n += !err;
    }
    p->dtmf_sent += n;
    emit(json_pack("{s:s, s:s, s:s, s:i, s:I, s:s}", "event", "dtmf_sent", "party", p->user_id,
                   "digits", digits, "duration_ms", (int)ms, "t_ms", now_ms(), "error",
                   err ? strerror(err) : ""));
    schedule_dtmf(p);
    return G_SOURCE_REMOVE;
}

static void schedule_dtmf(struct party *p)
{
    if (p->dtmf_next >= p->cfg->ndtmf)
        return;
    double at = p->cfg->dtmf[p->dtmf_next].at_s;
    double since = (double)(g_get_monotonic_time() - p->t_connected_us) / 1e6;
    double in = at > since ? at - since : 0;
    p->dtmf_timer = g_timeout_add((guint)(in * 1000), dtmf_tick, p);
}

static void on_dtmf(char digit, uint16_t duration_ms, int64_t at_us, void *arg)
{
    struct party *p = arg;
    if (!p->dtmf_heard)
        p->dtmf_heard = g_string_new(NULL);
    g_string_append_c(p->dtmf_heard, digit);
    char d[2] = {digit, '\0'};
    emit(json_pack("{s:s, s:s, s:s, s:i, s:I}", "event", "dtmf", "party", p->user_id, "digit", d,
                   "duration_ms", (int)duration_ms, "t_ms", (json_int_t)((at_us - t0_us) / 1000)));
}

static void on_connected(struct call *c, void *arg)
{
    struct party *p = arg;
    p->state = PARTY_CONNECTED;
    p->connected_once = true;
    p->t_connected_us = g_get_monotonic_time();
    call_get_timings(c, &p->timings);
    remove_timer(&p->timer);

    int err = mxcall_device_alloc(&p->device, p->cfg);
    struct conf_port remote, local;
    if (!err)
        err = conf_room_alloc(&p->room, p->app->mixer, p->ctx);
    if (!err) {
        conf_port_from_audio_stream(&remote, media_session_audio(call_media(c)));
        mxcall_device_port(p->device, &local);
        err = conf_room_join(p->room, &remote, "remote", &p->remote_m);
    }
    if (!err)
        err = conf_room_join(p->room, &local, "device", &p->device_m);
    if (err) {
        logc_error(p->ctx, "cannot start the audio device: %s", strerror(err));
        party_finish(p, "device");
        return;
    }
    mxcall_device_set_dtmf_handler(p->device, on_dtmf, p);
    emit(json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:I, s:I}}", "event", "connected", "party",
                   p->user_id, "call_id", call_id(c), "t_ms", now_ms(), "setup_ms", "to_sdp",
                   (json_int_t)p->timings.to_sdp_ms, "to_ice", (json_int_t)p->timings.to_ice_ms,
                   "to_dtls", (json_int_t)p->timings.to_dtls_ms));
    schedule_hold(p);
    schedule_dtmf(p);
    if (p->cfg->duration_s > 0)
        p->timer = g_timeout_add((guint)(p->cfg->duration_s * 1000), duration_done, p);
    if (p->app->status_ms)
        p->status_timer = g_timeout_add(p->app->status_ms, status_tick, p);
}

static void on_ended(struct call *c, enum call_hangup_reason reason, bool by_remote, void *arg)
{
    struct party *p = arg;
    if (p->state == PARTY_DONE || c != p->call)
        return; /* over, or a call glare replaced */
    /* Ended by the peer: a success only when we were told to stay until the peer ends. */
    char why[64];
    snprintf(why, sizeof(why), "%s:%s", by_remote ? "remote" : "local",
             reason == CALL_REASON_NONE ? "none" : call_reason_name(reason));
    p->ok = p->connected_once && by_remote && p->cfg->duration_s <= 0;
    party_finish(p, why);
}

static const struct call_handlers call_handlers = {
    .connected = on_connected,
    .ended = on_ended,
};

/* --corrupt-fingerprint: one hex digit of our a=fingerprint changed, in a copy of content. */
static json_t *corrupted(json_t *content)
{
    static const char *const keys[] = {"offer", "answer", "description"};
    json_t *copy = json_deep_copy(content);
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        json_t *desc = json_object_get(copy, keys[i]);
        const char *sdp = json_string_value(json_object_get(desc, "sdp"));
        const char *fp = sdp ? strstr(sdp, "a=fingerprint:") : NULL;
        const char *hex = fp ? strchr(fp, ' ') : NULL;
        if (!hex || !g_ascii_isxdigit(hex[1]))
            continue;
        char *s = g_strdup(sdp);
        char *d = s + (hex + 1 - sdp);
        *d = *d == '0' ? '1' : '0';
        json_object_set_new(desc, "sdp", json_string(s));
        g_free(s);
    }
    return copy;
}

static int send_room_event(void *arg, const char *room_id, const char *type, json_t *content)
{
    struct party *p = arg;
    if (!p->cfg->corrupt_fingerprint)
        return mx_send_event(p->mx, room_id, type, content, NULL, NULL);
    json_t *bad = corrupted(content);
    int err = mx_send_event(p->mx, room_id, type, bad, NULL, NULL);
    json_decref(bad);
    return err;
}

static gboolean connect_timeout(gpointer data)
{
    struct party *p = data;
    p->timer = 0;
    logc_warn(p->ctx, "not connected within %.0f s", p->app->timeout_s);
    party_finish(p, "timeout");
    return G_SOURCE_REMOVE;
}

static void place_call(struct party *p)
{
    const char *peer = p->cfg->invitee;
    const char *others[2];
    if (!peer) {
        unsigned n = mx_room_joined_others(p->mx, p->cfg->call_room, others, 2);
        if (n != 1) {
            logc_error(p->ctx, "room %s has %u other members: say whom to call with invitee",
                       p->cfg->call_room, n);
            party_finish(p, "no_peer");
            return;
        }
        peer = others[0];
    }
    int err = call_ring(&p->call, &p->env, p->cfg->call_room, peer, &call_handlers, p);
    if (err) {
        logc_error(p->ctx, "cannot place the call: %s", strerror(err));
        party_finish(p, "call_failed");
        return;
    }
    p->state = PARTY_CALLING;
    emit(json_pack("{s:s, s:s, s:s, s:I}", "event", "calling", "party", p->user_id, "call_id",
                   call_id(p->call), "t_ms", now_ms()));
}

/*
 * An invite from the user we are calling, in the same room, while ours is unanswered: glare,
 * resolved as the spec says. Ours not sent yet: it gives way. Both sent: the lower call_id
 * survives on both sides, and the owner of the other one hangs it up (reason "replaced").
 */
static void handle_glare(struct party *p, const char *room_id, const char *sender,
                         const struct call_event *ev)
{
    struct call *ours = p->call;
    enum call_state st = call_get_state(ours);
    if (call_get_direction(ours) != CALL_OUTBOUND ||
        (st != CALL_STATE_PREPARING && st != CALL_STATE_RINGING) ||
        strcmp(call_room_id(ours), room_id) != 0 || strcmp(call_peer_user(ours), sender) != 0 ||
        (ev->u.invite.invitee && strcmp(ev->u.invite.invitee, p->user_id) != 0))
        return; /* not glare: one call per party, so another invite is not ours to take */
    bool ours_wins = st == CALL_STATE_RINGING && strcmp(call_id(ours), ev->call_id) < 0;
    emit(json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "event", "glare", "party", p->user_id, "ours",
                   call_id(ours), "theirs", ev->call_id, "kept", ours_wins ? "ours" : "theirs",
                   "t_ms", now_ms()));
    if (ours_wins)
        return;
    p->call = NULL; /* its ended handler must not end the party */
    call_hangup(ours, CALL_REASON_REPLACED);
    mem_deref(ours);
    char err[256];
    if (call_answer(&p->call, &p->env, room_id, sender, ev, &call_handlers, p, err, sizeof(err))) {
        logc_warn(p->ctx, "cannot answer the call that replaced ours: %s", err);
        party_finish(p, "answer_failed");
    }
}

/* ---- Matrix events ---- */

static void joined(int err, const char *errcode, json_t *body, void *arg)
{
    struct party *p = arg;
    if (err)
        logc_warn(p->ctx, "could not join a room: %s", errcode ? errcode : strerror(err));
}

static void on_invited(struct mx_client *mx, const char *room_id, const char *inviter,
                       const struct mx_sync_info *si, void *arg)
{
    struct party *p = arg;
    if (!p->cfg->answer)
        return;
    char *esc = http_escape(room_id);
    char *path = g_strdup_printf("/join/%s", esc);
    mx_request(mx, "POST", path, NULL, true, joined, p);
    g_free(path);
    g_free(esc);
}

static void handle_call_event(struct party *p, const char *room_id, json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sender = json_string_value(json_object_get(event, "sender"));
    enum call_event_type t;
    if (!sender || call_event_type_parse(type, &t))
        return;
    struct call_event ev;
    char err[256];
    if (call_event_decode(&ev, t, json_object_get(event, "content"), err, sizeof(err))) {
        logc_warn(p->ctx, "malformed %s from %s: %s", type, sender, err);
        return;
    }
    if (p->call) {
        if (strcmp(call_id(p->call), ev.call_id) == 0)
            call_handle_event(p->call, sender, &ev);
        else if (t == CALL_EV_INVITE)
            handle_glare(p, room_id, sender, &ev);
        return;
    }
    if (t != CALL_EV_INVITE || !p->cfg->answer || p->state != PARTY_WAITING)
        return;
    if (ev.u.invite.invitee && strcmp(ev.u.invite.invitee, p->user_id) != 0)
        return;
    if (p->cfg->reject) {
        json_t *c = call_event_reject(ev.call_id, p->device_id);
        mx_send_event(p->mx, room_id, "m.call.reject", c, NULL, NULL);
        json_decref(c);
        p->ok = true;
        party_finish(p, "rejected");
        return;
    }
    int e =
        call_answer(&p->call, &p->env, room_id, sender, &ev, &call_handlers, p, err, sizeof(err));
    if (e) {
        logc_warn(p->ctx, "cannot answer: %s", err);
        party_finish(p, "answer_failed");
        return;
    }
    p->state = PARTY_CALLING;
}

static void on_room_event(struct mx_client *mx, const char *room_id, json_t *event,
                          const struct mx_sync_info *si, void *arg)
{
    struct party *p = arg;
    if (si->initial || p->state == PARTY_DONE)
        return;
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sender = json_string_value(json_object_get(event, "sender"));
    if (!type || !sender || strcmp(sender, p->user_id) == 0)
        return;
    if (strncmp(type, "m.call.", 7) == 0)
        handle_call_event(p, room_id, event);
}

static void said(int err, const char *errcode, json_t *body, void *arg)
{
    struct party *p = arg;
    if (err)
        logc_warn(p->ctx, "could not send the message: %s", errcode ? errcode : strerror(err));
}

static void on_synced(struct mx_client *mx, const struct mx_sync_info *si, void *arg)
{
    struct party *p = arg;
    if (p->state != PARTY_SYNCING)
        return;
    if (p->cfg->say) {
        json_t *c = json_pack("{s:s, s:s}", "msgtype", "m.text", "body", p->cfg->say);
        mx_send_event(mx, p->cfg->say_room ? p->cfg->say_room : p->cfg->call_room, "m.room.message",
                      c, said, p);
        json_decref(c);
    }
    if (p->cfg->answer) {
        p->state = PARTY_WAITING;
        emit(json_pack("{s:s, s:s}", "event", "waiting", "party", p->user_id));
    } else {
        place_call(p);
    }
}

static const struct mx_client_handlers mx_handlers = {
    .room_event = on_room_event,
    .invited = on_invited,
    .synced = on_synced,
};

/* ---- start ---- */

static void begin_syncing(struct party *p)
{
    snprintf(p->ctx, sizeof(p->ctx), "party=%s", p->user_id);
    p->env = p->app->env;
    p->env.party_id = p->device_id;
    p->env.send = send_room_event;
    p->env.send_arg = p;
    p->state = PARTY_SYNCING;
    mx_client_start(p->mx);
}

static void whoami_done(int err, const char *errcode, json_t *body, void *arg)
{
    struct party *p = arg;
    const char *user = json_string_value(json_object_get(body, "user_id"));
    const char *device = json_string_value(json_object_get(body, "device_id"));
    if (err || !user || strcmp(user, p->user_id) != 0) {
        log_error("[party=%s] the token is not valid for this user: %s", p->user_id,
                  errcode ? errcode
                  : user  ? user
                          : strerror(err ? err : EPROTO));
        party_finish(p, "login");
        return;
    }
    p->device_id = g_strdup(device ? device : "MXCALL");
    begin_syncing(p);
}

static void make_client(struct party *p)
{
    struct mx_client_cfg mc = {
        .homeserver = p->app->homeserver,
        .user_id = p->user_id,
        .access_token = p->token,
        .sync_timeout_ms = 10000,
    };
    int err = mx_client_alloc(&p->mx, p->app->http, &mc, &mx_handlers, p);
    if (!err && !p->device_id)
        err = mx_request(p->mx, "GET", "/account/whoami", NULL, true, whoami_done, p);
    if (err) {
        logc_error(p->ctx, "cannot start the Matrix client: %s", strerror(err));
        party_finish(p, "client");
        return;
    }
    if (p->device_id)
        begin_syncing(p);
}

static void logged_in(int err, const char *errcode, json_t *body, void *arg)
{
    struct party *p = arg;
    const char *token = json_string_value(json_object_get(body, "access_token"));
    const char *user = json_string_value(json_object_get(body, "user_id"));
    const char *device = json_string_value(json_object_get(body, "device_id"));
    if (p->state == PARTY_DONE)
        return; /* timed out while the login waited out a rate limit */
    if (err || !token || !user) {
        log_error("[party=%s] login failed: %s", p->cfg->user,
                  errcode ? errcode : strerror(err ? err : EPROTO));
        party_finish(p, "login");
        return;
    }
    p->token = g_strdup(token);
    p->user_id = g_strdup(user);
    p->device_id = g_strdup(device ? device : "MXCALL");
    make_client(p);
}

void party_start(struct party *p)
{
    p->t_start_us = g_get_monotonic_time();
    p->timer = g_timeout_add((guint)(p->app->timeout_s * 1000), connect_timeout, p);
    if (p->cfg->token) {
        /* With a token the user id must be given whole; whoami confirms it and gives the
         * device (our party_id). */
        p->token = g_strdup(p->cfg->token);
        p->user_id = g_strdup(p->cfg->user);
        make_client(p);
        return;
    }
    int err = mx_login_password(p->app->http, p->app->homeserver, p->cfg->user, p->cfg->password,
                                logged_in, p);
    if (err)
        party_finish(p, "login");
}

int party_alloc(struct party **pp, struct mxcall *app, struct party_cfg *cfg, unsigned index)
{
    struct party *p = mem_zalloc(sizeof(*p), party_destroy);
    if (!p)
        return ENOMEM;
    if (!t0_us)
        t0_us = g_get_monotonic_time();
    p->app = app;
    p->cfg = cfg;
    p->index = index;
    p->state = PARTY_LOGGING_IN;
    snprintf(p->ctx, sizeof(p->ctx), "party=%s", cfg->user ? cfg->user : "?");
    *pp = p;
    return 0;
}
