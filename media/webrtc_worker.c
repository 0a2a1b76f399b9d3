/*
 * The worker half of the WebRTC transport: the ICE / DTLS / SRTP state machine, run on the media
 * worker's context. Its inputs are the owner's requests (the to_worker mailbox), libnice's signals
 * and received datagrams, and the DTLS connection's callbacks; its outputs are local candidates,
 * "connected" and the one failure, posted to the owner's mailbox, and the inbound and outbound
 * SRTP sessions it publishes once DTLS is done. The API and the owner's side are in
 * webrtc_transport.c, the state both share in webrtc_transport_int.h; the split follows the
 * thread boundary, so everything under t->w is touched here only.
 *
 * libnice emits a signal from whichever thread releases its agent lock with signals pending; that
 * is nearly always the worker, but a signal can surface in a mixer thread's nice_agent_send() or
 * in the owner's call. Signal handlers therefore act directly only on the worker and re-post
 * themselves there otherwise.
 */
#include "media/webrtc_transport_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "rtp/rtp.h"

#define MAX_PENDING_CANDIDATES 64

static const char *state_name(guint s)
{
    return nice_component_state_to_string((NiceComponentState)s);
}

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
    gint n = nice_agent_send(t->agent, t->stream_id, COMPONENT, (guint)len, (const gchar *)pkt);
    if (n == (gint)len || t->w.ice_up || g_queue_get_length(&t->w.held) >= DTLS_HELD_MAX)
        return;
    g_queue_push_tail(&t->w.held, g_bytes_new(pkt, len));
}

static void w_send_held(struct webrtc_transport *t)
{
    GBytes *b;
    while ((b = g_queue_pop_head(&t->w.held))) {
        gsize len;
        const gchar *data = g_bytes_get_data(b, &len);
        (void)nice_agent_send(t->agent, t->stream_id, COMPONENT, (guint)len, data);
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

/* Receive path: RFC 7983 demultiplexing of everything libnice did not consume as STUN. */
static void on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
                    gpointer data)
{
    struct webrtc_transport *t = data;
    uint8_t *pkt = (uint8_t *)buf;
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

static void nice_to_ice(const NiceCandidate *nc, struct ice_candidate *c, const char *ufrag)
{
    memset(c, 0, sizeof(*c));
    g_strlcpy(c->foundation, nc->foundation, sizeof(c->foundation));
    c->component = (uint16_t)nc->component_id;
    c->transport = ICE_TRANSPORT_UDP;
    c->priority = nc->priority;
    nice_address_to_string(&nc->addr, c->address);
    c->port = (uint16_t)nice_address_get_port(&nc->addr);
    switch (nc->type) {
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
        c->type = ICE_CAND_SRFLX;
        break;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
        c->type = ICE_CAND_PRFLX;
        break;
    case NICE_CANDIDATE_TYPE_RELAYED:
        c->type = ICE_CAND_RELAY;
        break;
    default:
        c->type = ICE_CAND_HOST;
        break;
    }
    if (c->type != ICE_CAND_HOST && nice_address_is_valid(&nc->base_addr)) {
        nice_address_to_string(&nc->base_addr, c->raddr);
        c->rport = (uint16_t)nice_address_get_port(&nc->base_addr);
        c->has_raddr = true;
    }
    c->has_generation = true;
    g_strlcpy(c->ufrag, ufrag, sizeof(c->ufrag));
}

static void w_local_candidate(struct webrtc_transport *t, const NiceCandidate *nc)
{
    struct ice_candidate c;
    char line[ICE_CAND_MAX_LINE];

    if (nc->transport != NICE_CANDIDATE_TRANSPORT_UDP || nc->component_id != COMPONENT)
        return;
    nice_to_ice(nc, &c, t->w.lufrag);
    if (ice_candidate_format(&c, line, sizeof(line))) {
        logc_warn(t->log_ctx, "webrtc: cannot format a local candidate");
        return;
    }
    t->w.local_cands++;
    post_event(t, M_EV_LOCAL_CAND, 0, line);
}

static void w_gathering_done(struct webrtc_transport *t)
{
    t->w.gathering_done = true;
    if (!t->w.local_cands) {
        w_fail(t, WEBRTC_FAIL_ICE, "no local candidate could be gathered");
        return;
    }
    post_event(t, M_EV_GATHERING_DONE, 0, NULL);
}

static void addr_string(const NiceCandidate *c, char *out, size_t cap)
{
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&c->addr, ip);
    if (nice_address_ip_version(&c->addr) == 6)
        snprintf(out, cap, "[%s]:%u", ip, nice_address_get_port(&c->addr));
    else
        snprintf(out, cap, "%s:%u", ip, nice_address_get_port(&c->addr));
}

static void w_selected_pair(struct webrtc_transport *t, const NiceCandidate *l,
                            const NiceCandidate *r)
{
    g_mutex_lock(&t->info_lock);
    addr_string(l, t->info.local_addr, sizeof(t->info.local_addr));
    addr_string(r, t->info.remote_addr, sizeof(t->info.remote_addr));
    g_mutex_unlock(&t->info_lock);
    logc_debug(t->log_ctx, "webrtc: selected pair %s <-> %s", t->info.local_addr,
               t->info.remote_addr);
}

static void w_state(struct webrtc_transport *t, guint state)
{
    guint prev = t->w.state;
    t->w.state = state;
    logc_debug(t->log_ctx, "webrtc: ICE %s -> %s", state_name(prev), state_name(state));

    switch (state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
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
    case NICE_COMPONENT_STATE_FAILED:
        t->w.ice_up = false;
        if (t->w.ever_connected && !t->w.restarting)
            w_fail(t, WEBRTC_FAIL_CONSENT,
                   "consent to send lost (RFC 7675): the peer stopped answering or revoked it");
        else if (t->w.remote_gathering_done)
            w_fail(t, WEBRTC_FAIL_ICE, "connectivity checks failed on every candidate pair");
        /* Otherwise more candidates may still come; the connect timer decides. */
        break;
    default:
        t->w.ice_up = false;
        break;
    }
}

static void w_flush_pending(struct webrtc_transport *t);

static void w_add_candidate(struct webrtc_transport *t, const struct ice_candidate *c)
{
    NiceCandidateType type = NICE_CANDIDATE_TYPE_HOST;
    switch (c->type) {
    case ICE_CAND_SRFLX:
        type = NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
        break;
    case ICE_CAND_PRFLX:
        type = NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
        break;
    case ICE_CAND_RELAY:
        type = NICE_CANDIDATE_TYPE_RELAYED;
        break;
    case ICE_CAND_HOST:
        break;
    }
    NiceCandidate *nc = nice_candidate_new(type);
    nc->stream_id = t->stream_id;
    nc->component_id = COMPONENT;
    nc->transport = NICE_CANDIDATE_TRANSPORT_UDP;
    nc->priority = c->priority;
    g_strlcpy(nc->foundation, c->foundation, sizeof(nc->foundation));
    if (!nice_address_set_from_string(&nc->addr, c->address)) {
        nice_candidate_free(nc);
        return;
    }
    nice_address_set_port(&nc->addr, c->port);
    if (c->has_raddr && nice_address_set_from_string(&nc->base_addr, c->raddr))
        nice_address_set_port(&nc->base_addr, c->rport);

    GSList one = {.data = nc, .next = NULL};
    int added = nice_agent_set_remote_candidates(t->agent, t->stream_id, COMPONENT, &one);
    if (added < 1)
        logc_debug(t->log_ctx, "webrtc: remote candidate %s:%u not added", c->address,
                   (unsigned)c->port);
    nice_candidate_free(nc);
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
    nice_agent_set_remote_credentials(t->agent, t->stream_id, ufrag, pwd);
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

static void w_reemit_local(struct webrtc_transport *t)
{
    GSList *cands = nice_agent_get_local_candidates(t->agent, t->stream_id, COMPONENT);
    for (GSList *l = cands; l; l = l->next)
        w_local_candidate(t, l->data);
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    if (t->w.gathering_done)
        post_event(t, M_EV_GATHERING_DONE, 0, NULL);
}

static void w_restart(struct webrtc_transport *t, struct msg *m)
{
    if (m->u.cred.restart_stream) {
        nice_agent_restart_stream(t->agent, t->stream_id);
        nice_agent_set_local_credentials(t->agent, t->stream_id, m->u.cred.lufrag, m->u.cred.lpwd);
        g_strlcpy(t->w.lufrag, m->u.cred.lufrag, sizeof(t->w.lufrag));
        t->w.restarting = true;
        t->w.remote_gathering_done = false;
        t->w.awaiting_remote = !m->u.cred.has_remote;
        logc_info(t->log_ctx, "webrtc: ICE restart (%s)",
                  m->u.cred.has_remote ? "by the peer" : "by us");
        w_reemit_local(t);
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
        if (!nice_agent_gather_candidates(t->agent, t->stream_id))
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
        nice_agent_peer_candidate_gathering_done(t->agent, t->stream_id);
        if (t->w.state == NICE_COMPONENT_STATE_FAILED && !t->w.ever_connected)
            w_fail(t, WEBRTC_FAIL_ICE, "connectivity checks failed on every candidate pair");
        break;
    case M_REVOKE:
        nice_agent_consent_lost(t->agent, t->stream_id, COMPONENT);
        break;
    case M_SIG_STATE:
        w_state(t, m->u.state);
        break;
    case M_SIG_NEW_CAND:
        w_local_candidate(t, m->u.nc[0]);
        break;
    case M_SIG_GATHER_DONE:
        w_gathering_done(t);
        break;
    case M_SIG_PAIR:
        w_selected_pair(t, m->u.nc[0], m->u.nc[1]);
        break;
    default:
        break;
    }
}

/* libnice signal handlers: act on the worker, re-post from anywhere else. */

static bool on_worker(struct webrtc_transport *t)
{
    return g_main_context_is_owner(t->worker);
}

static void sig_state(NiceAgent *agent, guint stream_id, guint component_id, guint state,
                      gpointer data)
{
    struct webrtc_transport *t = data;
    if (stream_id != t->stream_id || component_id != COMPONENT)
        return;
    if (on_worker(t)) {
        if (!t->w.closed)
            w_state(t, state);
        return;
    }
    struct msg *m = webrtc_msg_new(M_SIG_STATE);
    m->u.state = state;
    webrtc_mbox_post(&t->to_worker, m);
}

static void sig_new_candidate(NiceAgent *agent, NiceCandidate *cand, gpointer data)
{
    struct webrtc_transport *t = data;
    if (cand->stream_id != t->stream_id)
        return;
    if (on_worker(t)) {
        if (!t->w.closed)
            w_local_candidate(t, cand);
        return;
    }
    struct msg *m = webrtc_msg_new(M_SIG_NEW_CAND);
    m->u.nc[0] = nice_candidate_copy(cand);
    webrtc_mbox_post(&t->to_worker, m);
}

static void sig_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    struct webrtc_transport *t = data;
    if (stream_id != t->stream_id)
        return;
    if (on_worker(t)) {
        if (!t->w.closed)
            w_gathering_done(t);
        return;
    }
    webrtc_mbox_post(&t->to_worker, webrtc_msg_new(M_SIG_GATHER_DONE));
}

static void sig_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                              NiceCandidate *l, NiceCandidate *r, gpointer data)
{
    struct webrtc_transport *t = data;
    if (stream_id != t->stream_id || component_id != COMPONENT)
        return;
    if (on_worker(t)) {
        if (!t->w.closed)
            w_selected_pair(t, l, r);
        return;
    }
    struct msg *m = webrtc_msg_new(M_SIG_PAIR);
    m->u.nc[0] = nice_candidate_copy(l);
    m->u.nc[1] = nice_candidate_copy(r);
    webrtc_mbox_post(&t->to_worker, m);
}

void webrtc_worker_attach(struct webrtc_transport *t)
{
    g_signal_connect(t->agent, "component-state-changed", G_CALLBACK(sig_state), t);
    g_signal_connect(t->agent, "new-candidate-full", G_CALLBACK(sig_new_candidate), t);
    g_signal_connect(t->agent, "candidate-gathering-done", G_CALLBACK(sig_gathering_done), t);
    g_signal_connect(t->agent, "new-selected-pair-full", G_CALLBACK(sig_selected_pair), t);
    nice_agent_attach_recv(t->agent, t->stream_id, COMPONENT, t->worker, on_recv, t);
}

/* ---- teardown -------------------------------------------------------------------------------- */

void webrtc_worker_teardown(struct webrtc_transport *t)
{
    struct ice_candidate *c;

    if (t->w.closed)
        return;
    t->w.closed = true;
    stop_source(&t->w.connect_timer);
    if (t->w.dtls)
        dtls_conn_shutdown(t->w.dtls); /* close_notify while the stream still exists */
    g_signal_handlers_disconnect_by_data(t->agent, t);
    if (t->stream_id) {
        nice_agent_attach_recv(t->agent, t->stream_id, COMPONENT, t->worker, NULL, NULL);
        nice_agent_remove_stream(t->agent, t->stream_id);
    }
    t->w.dtls = mem_deref(t->w.dtls); /* its timers live on this context */
    g_queue_clear_full(&t->w.held, (GDestroyNotify)g_bytes_unref);
    while ((c = g_queue_pop_head(&t->w.pending)))
        g_free(c);
}
