/*
 * The worker half of the WebRTC transport: the ICE / DTLS / SRTP state machine, run on the media
 * worker's context. Its inputs are the owner's requests (the to_worker mailbox), the ICE
 * backend's events and received datagrams (media/ice.h: libnice or our ICE-lite agent, both
 * calling us on the worker), and the DTLS connection's callbacks; its outputs are local
 * candidates, "connected" and the one failure, posted to the owner's mailbox, and the inbound and
 * outbound SRTP sessions it publishes once DTLS is done. The API and the owner's side are in
 * webrtc_transport.c, the state both share in webrtc_transport_int.h; the split follows the
 * thread boundary, so everything under t->w is touched here only.
 */
#include "media/webrtc_transport_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "rtp/rtp.h"

#define MAX_PENDING_CANDIDATES 64

/* ---- events to the owner --------------------------------------------------------------------- */

static void post_event(struct webrtc_transport *t, enum msg_kind kind, enum webrtc_failure why,
                       const char *text)
{
    struct msg *m = webrtc_msg_new(kind);
    m->u.ev.why = why;
    if (text)
        g_strlcpy(m->u.ev.text, text, sizeof(m->u.ev.text));
    webrtc_mbox_post(&t->to_owner, m);
}

/* ---- state machine --------------------------------------------------------------------------- */

static const char *failure_name(enum webrtc_failure why)
{
    switch (why) {
    case WEBRTC_FAIL_ICE:
        return "ICE";
    case WEBRTC_FAIL_DTLS:
        return "DTLS";
    case WEBRTC_FAIL_FINGERPRINT:
        return "fingerprint";
    case WEBRTC_FAIL_CONSENT:
        return "consent";
    case WEBRTC_FAIL_CLOSED:
        return "closed";
    }
    return "?";
}

static void stop_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

/* Reports the transport's one failure. lvl: a peer hanging up is news, not a problem. */
static void w_fail_lvl(struct webrtc_transport *t, enum webrtc_failure why, const char *detail,
                       enum log_level lvl)
{
    if (t->w.failed_reported || t->w.closed)
        return;
    t->w.failed_reported = true;
    stop_source(&t->w.connect_timer);
    log_msg(lvl, t->log_ctx, "webrtc: %s failure: %s", failure_name(why), detail);
    post_event(t, M_EV_FAILED, why, detail);
}

static void w_fail(struct webrtc_transport *t, enum webrtc_failure why, const char *detail)
{
    w_fail_lvl(t, why, detail, LOG_LVL_WARN);
}

static void w_maybe_connected(struct webrtc_transport *t)
{
    if (!t->w.ever_connected || !t->w.dtls_done || t->w.connected_reported || t->w.failed_reported)
        return;
    t->w.connected_reported = true;
    stop_source(&t->w.connect_timer);
    g_mutex_lock(&t->info_lock);
    t->info.connected = true;
    g_mutex_unlock(&t->info_lock);
    logc_info(t->log_ctx, "webrtc: connected (%s <-> %s, %s)", t->info.local_addr,
              t->info.remote_addr, t->info.srtp_profile);
    post_event(t, M_EV_CONNECTED, 0, NULL);
}

static gboolean on_connect_timeout(gpointer data)
{
    struct webrtc_transport *t = data;
    char detail[96];

    g_source_unref(t->w.connect_timer);
    t->w.connect_timer = NULL;
    if (t->w.closed || (t->w.connected_reported && !t->w.restarting))
        return G_SOURCE_REMOVE;
    if (!t->w.ice_up) {
        snprintf(detail, sizeof(detail), "ICE not connected within %u ms%s",
                 (unsigned)t->connect_timeout_ms, t->w.restarting ? " after a restart" : "");
        w_fail(t, WEBRTC_FAIL_ICE, detail);
    } else if (!t->w.dtls_done) {
        snprintf(detail, sizeof(detail), "DTLS not done within %u ms",
                 (unsigned)t->connect_timeout_ms);
        w_fail(t, WEBRTC_FAIL_DTLS, detail);
    }
    return G_SOURCE_REMOVE;
}

static void w_arm_connect_timer(struct webrtc_transport *t)
{
    stop_source(&t->w.connect_timer);
    t->w.connect_timer = g_timeout_source_new(t->connect_timeout_ms);
    g_source_set_callback(t->w.connect_timer, on_connect_timeout, t, NULL);
    g_source_attach(t->w.connect_timer, t->worker);
}

/* DTLS handlers (worker). */

/* As DTLS server we may answer a ClientHello before our own side of ICE has selected a pair (the
 * controlling peer's checks completed first): nice_agent_send() cannot send yet. Rather than
 * leave the flight to the peer's retransmission timer (up to a second of set-up time), hold those
 * few datagrams and send them the moment ICE connects. */
#define DTLS_HELD_MAX 8

static void dtls_send(const uint8_t *pkt, size_t len, void *arg)
{
    struct webrtc_transport *t = arg;
    int err = ice_agent_send(t->ice, pkt, len);
    if (!err || t->w.ice_up || g_queue_get_length(&t->w.held) >= DTLS_HELD_MAX)
        return;
    g_queue_push_tail(&t->w.held, g_bytes_new(pkt, len));
}

static void w_send_held(struct webrtc_transport *t)
{
    GBytes *b;
    while ((b = g_queue_pop_head(&t->w.held))) {
        gsize len;
        const uint8_t *data = g_bytes_get_data(b, &len);
        (void)ice_agent_send(t->ice, data, len);
        g_bytes_unref(b);
    }
}

static void dtls_established(const struct dtls_srtp_keys *keys, void *arg)
{
    struct webrtc_transport *t = arg;
    struct srtp_session *in = NULL, *out = NULL;

    int err = srtp_session_alloc(&in, SRTP_SESSION_INBOUND, keys->profile, keys->remote_key,
                                 keys->key_len);
    if (!err)
        err = srtp_session_alloc(&out, SRTP_SESSION_OUTBOUND, keys->profile, keys->local_key,
                                 keys->key_len);
    if (err) {
        mem_deref(in);
        mem_deref(out);
        w_fail(t, WEBRTC_FAIL_DTLS, "cannot set up SRTP with the negotiated keys");
        return;
    }
    g_mutex_lock(&t->info_lock);
    t->srtp_in = in;
    t->info.dtls_done_us = g_get_monotonic_time();
    g_strlcpy(t->info.srtp_profile, dtls_srtp_profile_name(keys->profile),
              sizeof(t->info.srtp_profile));
    g_mutex_unlock(&t->info_lock);
    atomic_store_explicit(&t->srtp_out, out, memory_order_release);
    t->w.dtls_done = true;
    w_maybe_connected(t);
}

static void dtls_closed(int err, const char *reason, void *arg)
{
    struct webrtc_transport *t = arg;
    enum webrtc_failure why = err == EKEYREJECTED ? WEBRTC_FAIL_FINGERPRINT
                              : err == ECONNRESET ? WEBRTC_FAIL_CLOSED
                                                  : WEBRTC_FAIL_DTLS;
    w_fail_lvl(t, why, reason, err == ECONNRESET ? LOG_LVL_INFO : LOG_LVL_WARN);
}

static const struct dtls_conn_handlers dtls_handlers = {
    .send = dtls_send,
    .established = dtls_established,
    .closed = dtls_closed,
};

/* Receive path: RFC 7983 demultiplexing of everything the ICE agent did not consume as STUN. */
static void on_recv(uint8_t *pkt, size_t len, void *data)
{
    struct webrtc_transport *t = data;
    size_t n = len;

    if (t->w.closed)
        return;
    enum rtp_demux kind = rtp_demux(pkt, n);
    switch (kind) {
    case RTP_DEMUX_DTLS:
        if (t->w.dtls)
            dtls_conn_recv(t->w.dtls, pkt, n);
        break;
    case RTP_DEMUX_RTP:
    case RTP_DEMUX_RTCP: {
        bool rtcp = kind == RTP_DEMUX_RTCP;
        struct srtp_session *in = t->srtp_in; /* written on this thread */
        if (!in || srtp_session_unprotect(in, pkt, &n, rtcp))
            break;
        if (t->media.recvh)
            t->media.recvh(pkt, n, rtcp, t->media.recv_arg);
        break;
    }
    default:
        break;
    }
}

static void w_local_candidate(const struct ice_candidate *cand, void *arg)
{
    struct webrtc_transport *t = arg;
    struct ice_candidate c = *cand;
    char line[ICE_CAND_MAX_LINE];

    if (t->w.closed)
        return;
    c.has_generation = true;
    c.generation = 0;
    g_strlcpy(c.ufrag, t->w.lufrag, sizeof(c.ufrag));
    if (ice_candidate_format(&c, line, sizeof(line))) {
        logc_warn(t->log_ctx, "webrtc: cannot format a local candidate");
        return;
    }
    t->w.local_cands++;
    post_event(t, M_EV_LOCAL_CAND, 0, line);
}

static void w_gathering_done(void *arg)
{
    struct webrtc_transport *t = arg;
    if (t->w.closed)
        return;
    t->w.gathering_done = true;
    if (!t->w.local_cands) {
        w_fail(t, WEBRTC_FAIL_ICE, "no local candidate could be gathered");
        return;
    }
    post_event(t, M_EV_GATHERING_DONE, 0, NULL);
}

static void w_selected_pair(const char *local, const char *remote, void *arg)
{
    struct webrtc_transport *t = arg;
    if (t->w.closed)
        return;
    g_mutex_lock(&t->info_lock);
    g_strlcpy(t->info.local_addr, local, sizeof(t->info.local_addr));
    g_strlcpy(t->info.remote_addr, remote, sizeof(t->info.remote_addr));
    g_mutex_unlock(&t->info_lock);
    logc_debug(t->log_ctx, "webrtc: selected pair %s <-> %s", local, remote);
}

static void w_state(enum ice_state state, const char *detail, void *arg)
{
    struct webrtc_transport *t = arg;
    if (t->w.closed)
        return;
    t->w.state = state;

    switch (state) {
    case ICE_STATE_CONNECTED:
        if (t->w.ice_up)
            break;
        t->w.ice_up = true;
        if (!t->w.ever_connected) {
            t->w.ever_connected = true;
            g_mutex_lock(&t->info_lock);
            t->info.ice_connected_us = g_get_monotonic_time();
            g_mutex_unlock(&t->info_lock);
            if (t->w.dtls)
                dtls_conn_start(t->w.dtls);
        }
        w_send_held(t);
        if (t->w.restarting) {
            t->w.restarting = false;
            g_mutex_lock(&t->info_lock);
            t->info.ice_restarts++;
            g_mutex_unlock(&t->info_lock);
            logc_info(t->log_ctx, "webrtc: ICE restart connected");
            if (t->w.connected_reported)
                stop_source(&t->w.connect_timer);
        }
        w_maybe_connected(t);
        break;
    case ICE_STATE_FAILED:
        t->w.ice_up = false;
        if (t->w.ever_connected && !t->w.restarting)
            w_fail(t, WEBRTC_FAIL_CONSENT,
                   detail ? detail
                          : "consent to send lost (RFC 7675): the peer stopped answering or "
                            "revoked it");
        else if (t->w.remote_gathering_done)
            w_fail(t, WEBRTC_FAIL_ICE,
                   detail ? detail : "connectivity checks failed on every candidate pair");
        /* Otherwise more candidates may still come; the connect timer decides. */
        break;
    case ICE_STATE_CHECKING:
        t->w.ice_up = false;
        break;
    }
}

static void w_flush_pending(struct webrtc_transport *t);

static void w_add_candidate(struct webrtc_transport *t, const struct ice_candidate *c)
{
    ice_agent_add_remote_candidate(t->ice, c);
}

/* Adds a remote candidate now if its generation's credentials are known, else holds it. */
static void w_candidate(struct webrtc_transport *t, const struct ice_candidate *c)
{
    bool current = t->w.remote_set && !t->w.awaiting_remote &&
                   (!c->ufrag[0] || !strcmp(c->ufrag, t->w.rufrag));
    if (current) {
        w_add_candidate(t, c);
        return;
    }
    if (g_queue_get_length(&t->w.pending) >= MAX_PENDING_CANDIDATES) {
        logc_warn(t->log_ctx,
                  "webrtc: too many remote candidates before their credentials, "
                  "dropping %s:%u",
                  c->address, (unsigned)c->port);
        return;
    }
    g_queue_push_tail(&t->w.pending, g_memdup2(c, sizeof(*c)));
}

static void w_flush_pending(struct webrtc_transport *t)
{
    struct ice_candidate *c;
    GQueue keep = G_QUEUE_INIT;
    while ((c = g_queue_pop_head(&t->w.pending))) {
        if (c->ufrag[0] && strcmp(c->ufrag, t->w.rufrag)) {
            g_queue_push_tail(&keep, c); /* maybe a later generation */
            continue;
        }
        w_add_candidate(t, c);
        g_free(c);
    }
    t->w.pending = keep;
}

static void w_set_remote_creds(struct webrtc_transport *t, const char *ufrag, const char *pwd)
{
    g_strlcpy(t->w.rufrag, ufrag, sizeof(t->w.rufrag));
    ice_agent_set_remote_credentials(t->ice, ufrag, pwd);
    t->w.remote_set = true;
    t->w.awaiting_remote = false;
    w_flush_pending(t);
}

static void w_remote(struct webrtc_transport *t, struct msg *m)
{
    struct dtls_conn_cfg dcfg = {
        .role = m->u.cred.role,
        .remote_fp = &m->u.cred.fp,
        .ctx = t->worker,
        .handshake_timeout_ms = t->dtls_timeout_ms,
        .log_ctx = t->log_ctx,
    };
    int err = dtls_conn_alloc(&t->w.dtls, t->identity, &dcfg, &dtls_handlers, t);
    if (err) {
        w_fail(t, WEBRTC_FAIL_DTLS, "cannot create the DTLS connection");
        return;
    }
    w_arm_connect_timer(t);
    w_set_remote_creds(t, m->u.cred.rufrag, m->u.cred.rpwd);
}

static void w_restart(struct webrtc_transport *t, struct msg *m)
{
    if (m->u.cred.restart_stream) {
        g_strlcpy(t->w.lufrag, m->u.cred.lufrag, sizeof(t->w.lufrag));
        t->w.restarting = true;
        t->w.remote_gathering_done = false;
        t->w.awaiting_remote = !m->u.cred.has_remote;
        logc_info(t->log_ctx, "webrtc: ICE restart (%s)",
                  m->u.cred.has_remote ? "by the peer" : "by us");
        /* The backend reports our candidates again, for the new generation. */
        ice_agent_restart(t->ice, m->u.cred.lufrag, m->u.cred.lpwd);
    }
    if (m->u.cred.has_remote) {
        if (!t->w.failed_reported)
            w_arm_connect_timer(t);
        w_set_remote_creds(t, m->u.cred.rufrag, m->u.cred.rpwd);
    }
}

void webrtc_worker_handle(struct webrtc_transport *t, struct msg *m)
{
    if (t->w.closed)
        return;
    switch (m->kind) {
    case M_GATHER:
        if (ice_agent_gather(t->ice))
            w_fail(t, WEBRTC_FAIL_ICE, "cannot gather local candidates (address or port range)");
        break;
    case M_REMOTE:
        w_remote(t, m);
        break;
    case M_RESTART:
        w_restart(t, m);
        break;
    case M_CANDIDATE:
        w_candidate(t, &m->u.cand);
        break;
    case M_REMOTE_DONE:
        t->w.remote_gathering_done = true;
        ice_agent_remote_gathering_done(t->ice);
        if (t->w.state == ICE_STATE_FAILED && !t->w.ever_connected)
            w_fail(t, WEBRTC_FAIL_ICE, "connectivity checks failed on every candidate pair");
        break;
    case M_REVOKE:
        ice_agent_revoke_consent(t->ice);
        break;
    default:
        break;
    }
}

const struct ice_agent_handlers webrtc_ice_handlers = {
    .local_candidate = w_local_candidate,
    .gathering_done = w_gathering_done,
    .state = w_state,
    .selected_pair = w_selected_pair,
    .recv = on_recv,
};

/* ---- teardown -------------------------------------------------------------------------------- */

void webrtc_worker_teardown(struct webrtc_transport *t)
{
    struct ice_candidate *c;

    if (t->w.closed)
        return;
    t->w.closed = true;
    stop_source(&t->w.connect_timer);
    if (t->w.dtls)
        dtls_conn_shutdown(t->w.dtls); /* close_notify while the pair still exists */
    ice_agent_teardown(t->ice);
    t->w.dtls = mem_deref(t->w.dtls); /* its timers live on this context */
    g_queue_clear_full(&t->w.held, (GDestroyNotify)g_bytes_unref);
    while ((c = g_queue_pop_head(&t->w.pending)))
        g_free(c);
}
