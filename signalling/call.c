/*
 * The call state machine. Shaped around what real clients do rather than what they should:
 * matrix-js-sdk sends its offer without candidates and trickles them 100-400 ms later, often
 * never sends end-of-candidates, may send candidates before we know which party answered, and
 * renegotiates (m.call.negotiate) for hold/resume. So: candidates are buffered per party until a
 * party is chosen, nothing ever waits for end-of-candidates, and our own SDP waits briefly
 * (gather_wait_ms) for local gathering so it usually carries our candidates and the rest trickle
 * in batches.
 */
#include "signalling/call.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/worker.h"

/* Local candidates found after our SDP left are sent in batches this far apart. */
#define CANDIDATE_BATCH_MS 50
#define MEDIA_WATCH_MS     1000
/* How long a peer that closed DTLS has to send its m.call.hangup. */
#define CLOSED_GRACE_MS 5000

struct call {
    const struct call_env *env;
    const struct call_handlers *h;
    void *arg;

    char *call_id;
    char *room_id;
    char *peer_user;
    char *their_party; /* NULL until known (outbound, before the answer; v0 peers) */
    int their_version;
    char log_ctx[400];

    enum call_direction dir;
    enum call_state state;
    bool held;
    struct media_session *media;

    /* Local candidates: those found before our SDP left are in it; later ones go in batches. */
    bool sdp_sent;
    bool local_gathering_done;
    bool end_of_candidates_sent;
    GPtrArray *cand_queue; /* char *, g_free */
    guint cand_timer;
    guint sdp_wait_timer; /* waiting for gathering before our first SDP / a renegotiation answer */
    bool answer_pending;  /* a renegotiation answer is waiting for gathering */
    bool reoffer_pending; /* our m.call.negotiate offer awaits its answer */
    bool local_hold;      /* we hold the peer (our last offer said sendonly) */

    /* Outbound: candidates from callee parties before one was chosen: party -> GPtrArray. */
    GHashTable *early_cands;

    guint invite_timer;
    guint media_timer;
    guint closed_timer;

    int64_t t_start_us, t_sdp_us, t_exchanged_us, t_connected_us;
};

static const char *const state_names[] = {"preparing", "ringing", "connecting", "connected",
                                          "ended"};

const char *call_state_name(enum call_state s)
{
    return (unsigned)s < 5 ? state_names[s] : "?";
}

static void remove_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void call_destroy(void *data)
{
    struct call *c = data;
    remove_source(&c->cand_timer);
    remove_source(&c->sdp_wait_timer);
    remove_source(&c->invite_timer);
    remove_source(&c->media_timer);
    remove_source(&c->closed_timer);
    if (c->media) {
        media_session_close(c->media);
        c->media = mem_deref(c->media);
    }
    if (c->cand_queue)
        g_ptr_array_free(c->cand_queue, TRUE);
    if (c->early_cands)
        g_hash_table_destroy(c->early_cands);
    g_free(c->call_id);
    g_free(c->room_id);
    g_free(c->peer_user);
    g_free(c->their_party);
}

static int send_event(struct call *c, enum call_event_type type, json_t *content)
{
    int err = c->env->send(c->env->send_arg, c->room_id, call_event_type_name(type), content);
    json_decref(content);
    if (err)
        logc_warn(c->log_ctx, "could not queue %s: %s", call_event_type_name(type), strerror(err));
    return err;
}

/* Terminal transition: stops everything, tells the owner once. */
static void finish(struct call *c, enum call_hangup_reason reason, bool by_remote)
{
    if (c->state == CALL_STATE_ENDED)
        return;
    c->state = CALL_STATE_ENDED;
    remove_source(&c->cand_timer);
    remove_source(&c->sdp_wait_timer);
    remove_source(&c->invite_timer);
    remove_source(&c->media_timer);
    remove_source(&c->closed_timer);
    if (c->media)
        media_session_close(c->media);
    logc_info(c->log_ctx, "call ended by %s (%s)", by_remote ? "peer" : "us",
              reason == CALL_REASON_NONE ? "no reason" : call_reason_name(reason));
    mem_ref(c);
    if (c->h->ended)
        c->h->ended(c, reason, by_remote, c->arg);
    mem_deref(c);
}

void call_hangup(struct call *c, enum call_hangup_reason reason)
{
    if (c->state == CALL_STATE_ENDED)
        return;
    /* Nothing left our side yet: there is no call for the peer to hang up. */
    if (c->sdp_sent)
        send_event(c, CALL_EV_HANGUP, call_event_hangup(c->call_id, c->env->party_id, reason));
    finish(c, reason, false);
}

/* ---- local candidates ---- */

static void flush_candidates(struct call *c)
{
    remove_source(&c->cand_timer);
    bool end = c->local_gathering_done && !c->end_of_candidates_sent;
    if (c->cand_queue->len == 0 && !end)
        return;
    json_t *content = call_event_candidates(c->call_id, c->env->party_id,
                                            (const char *const *)c->cand_queue->pdata,
                                            c->cand_queue->len, "0", end);
    logc_debug(c->log_ctx, "sending %u candidates%s", c->cand_queue->len,
               end ? " and end-of-candidates" : "");
    g_ptr_array_set_size(c->cand_queue, 0);
    if (end)
        c->end_of_candidates_sent = true;
    send_event(c, CALL_EV_CANDIDATES, content);
}

static gboolean cand_timer_cb(gpointer data)
{
    struct call *c = data;
    c->cand_timer = 0;
    flush_candidates(c);
    return G_SOURCE_REMOVE;
}

static void schedule_flush(struct call *c)
{
    if (!c->cand_timer)
        c->cand_timer = g_timeout_add(CANDIDATE_BATCH_MS, cand_timer_cb, c);
}

static void send_first_sdp(struct call *c);
static void send_negotiate_answer(struct call *c);

static void on_local_candidate(const char *candidate, void *arg)
{
    struct call *c = arg;
    if (!c->sdp_sent)
        return; /* it will be in our SDP */
    g_ptr_array_add(c->cand_queue, g_strdup(candidate));
    schedule_flush(c);
}

static void on_gathering_done(void *arg)
{
    struct call *c = arg;
    c->local_gathering_done = true;
    if (c->state == CALL_STATE_PREPARING) {
        send_first_sdp(c);
        return;
    }
    if (c->answer_pending) {
        send_negotiate_answer(c);
        return;
    }
    if (c->sdp_sent)
        schedule_flush(c);
}

/* ---- media state ---- */

static gboolean media_watch_cb(gpointer data)
{
    struct call *c = data;
    uint64_t last = media_session_last_rx_us(c->media);
    uint64_t now = (uint64_t)g_get_monotonic_time();
    /* A peer that never sent a packet since connecting is as gone as one that stopped. */
    if (!last)
        last = (uint64_t)c->t_connected_us;
    if (now > last && now - last > (uint64_t)c->env->media_timeout_ms * 1000) {
        c->media_timer = 0;
        logc_warn(c->log_ctx, "no media from the peer for %u ms: hanging up",
                  (unsigned)((now - last) / 1000));
        call_hangup(c, CALL_REASON_ICE_TIMEOUT);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void on_connected(void *arg)
{
    struct call *c = arg;
    if (c->state != CALL_STATE_CONNECTING)
        return;
    c->state = CALL_STATE_CONNECTED;
    c->t_connected_us = g_get_monotonic_time();
    struct call_timings t;
    call_get_timings(c, &t);
    struct media_session_info info;
    media_session_get_info(c->media, &info);
    logc_info(c->log_ctx,
              "call connected (%s, %s <-> %s): invite->sdp %lld ms, sdp->ice %lld ms, "
              "ice->dtls %lld ms",
              info.codec, info.local_addr, info.remote_addr, (long long)t.to_sdp_ms,
              (long long)t.to_ice_ms, (long long)t.to_dtls_ms);
    if (c->env->media_timeout_ms)
        c->media_timer = g_timeout_add(MEDIA_WATCH_MS, media_watch_cb, c);
    if (c->h->connected)
        c->h->connected(c, c->arg);
}

static gboolean closed_grace_cb(gpointer data)
{
    struct call *c = data;
    c->closed_timer = 0;
    logc_warn(c->log_ctx, "the peer closed its media %u ms ago and sent no hangup: hanging up",
              (unsigned)CLOSED_GRACE_MS);
    call_hangup(c, CALL_REASON_ICE_TIMEOUT);
    return G_SOURCE_REMOVE;
}

static void on_failed(enum media_failure why, const char *detail, void *arg)
{
    struct call *c = arg;
    if (c->state == CALL_STATE_ENDED)
        return;
    if (why == MEDIA_FAIL_CLOSED) {
        /* The peer is hanging up and its m.call.hangup is on the way: ending the call now would
         * send a hangup of our own, and with a wrong reason. */
        if (!c->closed_timer) {
            logc_info(c->log_ctx, "the peer closed its media: waiting for its hangup");
            c->closed_timer = g_timeout_add(CLOSED_GRACE_MS, closed_grace_cb, c);
        }
        return;
    }
    logc_warn(c->log_ctx, "media failed (%s): %s", media_failure_name(why), detail ? detail : "");
    call_hangup(c, why == MEDIA_FAIL_CONSENT ? CALL_REASON_ICE_TIMEOUT : CALL_REASON_ICE_FAILED);
}

static const struct media_session_handlers media_handlers = {
    .local_candidate = on_local_candidate,
    .gathering_done = on_gathering_done,
    .connected = on_connected,
    .failed = on_failed,
};

static void update_hold(struct call *c)
{
    bool send, recv;
    media_session_direction(c->media, &send, &recv);
    /* The peer holds us when it no longer wants our audio (it offered sendonly or inactive);
     * whatever it still sends then is hold music, not speech for the conference. */
    bool held = !send;
    if (held == c->held)
        return;
    c->held = held;
    logc_info(c->log_ctx, "peer %s the call", held ? "held" : "resumed");
    if (c->h->hold_changed)
        c->h->hold_changed(c, held, c->arg);
}

/* ---- our SDP ---- */

static gboolean sdp_wait_cb(gpointer data)
{
    struct call *c = data;
    c->sdp_wait_timer = 0;
    if (c->state == CALL_STATE_PREPARING)
        send_first_sdp(c);
    else if (c->answer_pending)
        send_negotiate_answer(c);
    return G_SOURCE_REMOVE;
}

static gboolean invite_timeout_cb(gpointer data)
{
    struct call *c = data;
    c->invite_timer = 0;
    if (c->state == CALL_STATE_RINGING) {
        logc_info(c->log_ctx, "no answer within %u ms", c->env->invite_lifetime_ms);
        call_hangup(c, CALL_REASON_INVITE_TIMEOUT);
    }
    return G_SOURCE_REMOVE;
}

static void send_first_sdp(struct call *c)
{
    remove_source(&c->sdp_wait_timer);
    char *sdp = NULL;
    int err = c->dir == CALL_OUTBOUND ? media_session_create_offer(c->media, &sdp)
                                      : media_session_create_answer(c->media, &sdp);
    if (err) {
        logc_error(c->log_ctx, "could not create our SDP: %s", strerror(err));
        c->sdp_sent = true; /* the peer knows of the call: tell it why it ends */
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        return;
    }
    const char *stream = media_session_stream_id(c->media);
    json_t *content;
    if (c->dir == CALL_OUTBOUND) {
        content = call_event_invite(c->call_id, c->env->party_id, sdp, c->env->invite_lifetime_ms,
                                    c->peer_user, stream);
        send_event(c, CALL_EV_INVITE, content);
        c->state = CALL_STATE_RINGING;
        c->invite_timer = g_timeout_add(c->env->invite_lifetime_ms, invite_timeout_cb, c);
        logc_info(c->log_ctx, "ringing %s", c->peer_user);
    } else {
        content = call_event_answer(c->call_id, c->env->party_id, sdp, stream);
        send_event(c, CALL_EV_ANSWER, content);
        c->state = CALL_STATE_CONNECTING;
        c->t_exchanged_us = g_get_monotonic_time();
        logc_info(c->log_ctx, "answered");
    }
    mem_deref(sdp);
    c->sdp_sent = true;
    c->t_sdp_us = g_get_monotonic_time();
    /* Anything gathered meanwhile is in the SDP; only the end marker may be owed. */
    if (c->local_gathering_done)
        c->end_of_candidates_sent = true; /* the SDP carries a=end-of-candidates */
}

static void prepare_first_sdp(struct call *c)
{
    if (media_session_gathering_done(c->media)) {
        c->local_gathering_done = true;
        send_first_sdp(c);
        return;
    }
    c->sdp_wait_timer = g_timeout_add(c->env->gather_wait_ms, sdp_wait_cb, c);
}

static void send_negotiate_answer(struct call *c)
{
    remove_source(&c->sdp_wait_timer);
    c->answer_pending = false;
    char *sdp = NULL;
    int err = media_session_create_answer(c->media, &sdp);
    if (err) {
        logc_error(c->log_ctx, "could not answer the renegotiation: %s", strerror(err));
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        return;
    }
    send_event(c, CALL_EV_NEGOTIATE,
               call_event_negotiate(c->call_id, c->env->party_id, "answer", sdp,
                                    c->env->invite_lifetime_ms, media_session_stream_id(c->media)));
    mem_deref(sdp);
    update_hold(c);
}

/* ---- construction ---- */

static const struct call_handlers no_handlers;

static int call_new(struct call **cp, const struct call_env *env, const char *room_id,
                    const char *peer_user, const char *call_id, enum call_direction dir,
                    const struct call_handlers *h, void *arg)
{
    struct call *c = mem_zalloc(sizeof(*c), call_destroy);
    if (!c)
        return ENOMEM;
    c->env = env;
    c->h = h;
    c->arg = arg;
    c->dir = dir;
    c->state = CALL_STATE_PREPARING;
    c->call_id = g_strdup(call_id);
    c->room_id = g_strdup(room_id);
    c->peer_user = g_strdup(peer_user);
    c->cand_queue = g_ptr_array_new_with_free_func(g_free);
    c->early_cands =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    c->t_start_us = g_get_monotonic_time();
    snprintf(c->log_ctx, sizeof(c->log_ctx), "room=%s call=%s peer=%s", room_id, call_id,
             peer_user);

    struct media_session_cfg mcfg = env->media;
    mcfg.log_ctx = c->log_ctx;
    mcfg.worker = media_workers_pick(env->workers);
    int err = media_session_alloc(&c->media, &mcfg, dir == CALL_OUTBOUND, &media_handlers, c);
    if (err) {
        logc_error(c->log_ctx, "could not set up media: %s", strerror(err));
        mem_deref(c);
        return err;
    }
    *cp = c;
    return 0;
}

int call_answer(struct call **cp, const struct call_env *env, const char *room_id,
                const char *peer_user, const struct call_event *invite,
                const struct call_handlers *h, void *arg, char *err, size_t errlen)
{
    struct call *c;
    int e = call_new(&c, env, room_id, peer_user, invite->call_id, CALL_INBOUND, h, arg);
    if (e) {
        snprintf(err, errlen, "media set-up failed: %s", strerror(e));
        json_t *hu = call_event_hangup(invite->call_id, env->party_id, CALL_REASON_UNKNOWN_ERROR);
        env->send(env->send_arg, room_id, "m.call.hangup", hu);
        json_decref(hu);
        return e;
    }
    c->their_party = g_strdup(invite->party_id);
    c->their_version = invite->version;

    e = media_session_set_remote_offer(c->media, invite->u.invite.sdp, err, errlen);
    if (e) {
        logc_warn(c->log_ctx, "cannot answer the offer: %s", err);
        c->sdp_sent = true; /* make call_hangup tell the caller */
        c->h = &no_handlers;
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        mem_deref(c);
        return e;
    }
    logc_info(c->log_ctx, "answering (version %d, party %s)", invite->version,
              invite->party_id ? invite->party_id : "-");
    prepare_first_sdp(c);
    *cp = c;
    return 0;
}

int call_ring(struct call **cp, const struct call_env *env, const char *room_id,
              const char *peer_user, const struct call_handlers *h, void *arg)
{
    char *id = g_uuid_string_random();
    char call_id[64];
    /* matrix-js-sdk compares call ids for glare; any unique string works. */
    snprintf(call_id, sizeof(call_id), "sb%s", id);
    g_free(id);
    for (char *p = call_id; *p; p++) {
        if (*p == '-')
            *p = 'x';
    }
    struct call *c;
    int e = call_new(&c, env, room_id, peer_user, call_id, CALL_OUTBOUND, h, arg);
    if (e)
        return e;
    prepare_first_sdp(c);
    *cp = c;
    return 0;
}

/* ---- events from the peer ---- */

static void add_remote_candidates(struct call *c, const struct call_candidate *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int e = media_session_add_remote_candidate(c->media, list[i].candidate);
        if (e == EBADMSG)
            logc_warn(c->log_ctx, "ignoring a malformed candidate: %.120s", list[i].candidate);
    }
}

static void handle_candidates(struct call *c, const struct call_event *ev)
{
    const struct call_candidate *list = ev->u.candidates.list;
    size_t n = ev->u.candidates.count;
    if (c->dir == CALL_OUTBOUND && !c->their_party && ev->party_id) {
        /* Before an answer picked a party: keep them for when it does. */
        GPtrArray *a = g_hash_table_lookup(c->early_cands, ev->party_id);
        if (!a) {
            if (g_hash_table_size(c->early_cands) >= 16)
                return;
            a = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_insert(c->early_cands, g_strdup(ev->party_id), a);
        }
        for (size_t i = 0; i < n && a->len < 256; i++)
            g_ptr_array_add(a, g_strdup(list[i].candidate));
        return;
    }
    if (c->their_party && ev->party_id && strcmp(c->their_party, ev->party_id) != 0) {
        logc_debug(c->log_ctx, "ignoring candidates from party %s", ev->party_id);
        return;
    }
    add_remote_candidates(c, list, n);
}

static void handle_answer(struct call *c, const struct call_event *ev)
{
    if (c->dir != CALL_OUTBOUND || c->state != CALL_STATE_RINGING) {
        logc_debug(c->log_ctx, "ignoring an answer in state %s", call_state_name(c->state));
        return;
    }
    char err[256];
    int e = media_session_set_remote_answer(c->media, ev->u.answer.sdp, err, sizeof(err));
    if (e) {
        logc_warn(c->log_ctx, "unusable answer from party %s: %s",
                  ev->party_id ? ev->party_id : "-", err);
        call_hangup(c, CALL_REASON_UNKNOWN_ERROR);
        return;
    }
    remove_source(&c->invite_timer);
    c->their_party = g_strdup(ev->party_id);
    c->their_version = ev->version;
    c->state = CALL_STATE_CONNECTING;
    c->t_exchanged_us = g_get_monotonic_time();
    logc_info(c->log_ctx, "answered by party %s", ev->party_id ? ev->party_id : "-");
    if (ev->party_id)
        send_event(c, CALL_EV_SELECT_ANSWER,
                   call_event_select_answer(c->call_id, c->env->party_id, ev->party_id));
    if (ev->party_id) {
        GPtrArray *a = g_hash_table_lookup(c->early_cands, ev->party_id);
        for (guint i = 0; a && i < a->len; i++)
            media_session_add_remote_candidate(c->media, g_ptr_array_index(a, i));
    }
    g_hash_table_remove_all(c->early_cands);
}

static void handle_negotiate(struct call *c, const struct call_event *ev)
{
    if (c->state != CALL_STATE_CONNECTING && c->state != CALL_STATE_CONNECTED) {
        logc_debug(c->log_ctx, "ignoring negotiate in state %s", call_state_name(c->state));
        return;
    }
    char err[256];
    int e;
    if (strcmp(ev->u.negotiate.sdp_type, "offer") != 0) {
        if (!c->reoffer_pending) {
            logc_debug(c->log_ctx, "ignoring a negotiate answer we did not ask for");
            return;
        }
        c->reoffer_pending = false;
        e = media_session_set_remote_answer(c->media, ev->u.negotiate.sdp, err, sizeof(err));
        if (e) {
            logc_warn(c->log_ctx, "unusable answer to our renegotiation: %s", err);
            return;
        }
        logc_info(c->log_ctx, "renegotiation answered (%s)", c->local_hold ? "on hold" : "resumed");
        update_hold(c);
        return;
    }
    if (c->reoffer_pending) {
        /* Both renegotiate at once: the callee is the polite party and gives way (perfect
         * negotiation, as the spec's politeness rule says). */
        if (c->dir == CALL_OUTBOUND) {
            logc_info(c->log_ctx, "ignoring their renegotiation: ours is pending and we called");
            return;
        }
        logc_info(c->log_ctx, "both renegotiated at once: theirs wins, ours is dropped");
        c->reoffer_pending = false;
    }
    e = media_session_set_remote_offer(c->media, ev->u.negotiate.sdp, err, sizeof(err));
    if (e) {
        /* A renegotiation we cannot take leaves the running session as it was. */
        logc_warn(c->log_ctx, "refusing a renegotiation offer: %s", err);
        return;
    }
    if (media_session_gathering_done(c->media)) {
        send_negotiate_answer(c);
    } else {
        c->answer_pending = true;
        remove_source(&c->sdp_wait_timer);
        c->sdp_wait_timer = g_timeout_add(c->env->gather_wait_ms, sdp_wait_cb, c);
    }
}

void call_handle_event(struct call *c, const char *sender, const struct call_event *ev)
{
    if (c->state == CALL_STATE_ENDED)
        return;
    /* Only the peer user speaks for this call (another member could forge its call_id). */
    if (strcmp(sender, c->peer_user) != 0) {
        logc_warn(c->log_ctx, "ignoring %s from %s, who is not in this call",
                  call_event_type_name(ev->type), sender);
        return;
    }
    /* Once a party is chosen, other parties (other devices of the user) are not the call. */
    bool from_party = !c->their_party || !ev->party_id || strcmp(c->their_party, ev->party_id) == 0;

    switch (ev->type) {
    case CALL_EV_INVITE:
        logc_debug(c->log_ctx, "duplicate invite ignored");
        break;
    case CALL_EV_CANDIDATES:
        handle_candidates(c, ev);
        break;
    case CALL_EV_ANSWER:
        handle_answer(c, ev);
        break;
    case CALL_EV_SELECT_ANSWER:
        if (c->dir == CALL_INBOUND && c->env->party_id &&
            strcmp(ev->u.select_answer.selected_party_id, c->env->party_id) != 0) {
            logc_info(c->log_ctx, "answered elsewhere (party %s)",
                      ev->u.select_answer.selected_party_id);
            finish(c, CALL_REASON_NONE, true);
        }
        break;
    case CALL_EV_NEGOTIATE:
        if (from_party)
            handle_negotiate(c, ev);
        break;
    case CALL_EV_REJECT:
        if (c->dir == CALL_OUTBOUND && c->state == CALL_STATE_RINGING) {
            logc_info(c->log_ctx, "rejected by party %s", ev->party_id ? ev->party_id : "-");
            finish(c, CALL_REASON_REJECTED, true);
        }
        break;
    case CALL_EV_HANGUP:
        if (from_party || c->state == CALL_STATE_RINGING)
            finish(c, ev->u.hangup.reason, true);
        break;
    case CALL_EV_SDP_STREAM_METADATA_CHANGED:
        break;
    }
}

int call_hold(struct call *c, bool hold)
{
    if (c->state != CALL_STATE_CONNECTING && c->state != CALL_STATE_CONNECTED)
        return EINVAL;
    if (c->reoffer_pending || c->answer_pending)
        return EALREADY;
    char *sdp = NULL;
    int err = media_session_create_reoffer(c->media, true, !hold, &sdp);
    if (err) {
        logc_warn(c->log_ctx, "cannot renegotiate: %s", strerror(err));
        return err;
    }
    c->reoffer_pending = true;
    c->local_hold = hold;
    logc_info(c->log_ctx, "%s the peer", hold ? "holding" : "resuming");
    err = send_event(c, CALL_EV_NEGOTIATE,
                     call_event_negotiate(c->call_id, c->env->party_id, "offer", sdp,
                                          c->env->invite_lifetime_ms,
                                          media_session_stream_id(c->media)));
    mem_deref(sdp);
    return err;
}

bool call_is_holding(const struct call *c)
{
    return c->local_hold;
}

/* ---- accessors ---- */

const char *call_id(const struct call *c)
{
    return c->call_id;
}

const char *call_room_id(const struct call *c)
{
    return c->room_id;
}

const char *call_peer_user(const struct call *c)
{
    return c->peer_user;
}

const char *call_log_ctx(const struct call *c)
{
    return c->log_ctx;
}

enum call_state call_get_state(const struct call *c)
{
    return c->state;
}

enum call_direction call_get_direction(const struct call *c)
{
    return c->dir;
}

bool call_is_held(const struct call *c)
{
    return c->held;
}

struct media_session *call_media(struct call *c)
{
    return c->media;
}

void call_get_timings(struct call *c, struct call_timings *t)
{
    struct media_session_info info;
    media_session_get_info(c->media, &info);
    t->to_sdp_ms = c->t_sdp_us ? (c->t_sdp_us - c->t_start_us) / 1000 : -1;
    t->to_ice_ms = c->t_exchanged_us && info.ice_connected_us
                       ? (info.ice_connected_us - c->t_exchanged_us) / 1000
                       : -1;
    t->to_dtls_ms = info.ice_connected_us && info.dtls_done_us
                        ? (info.dtls_done_us - info.ice_connected_us) / 1000
                        : -1;
}
