/*
 * ICE (libnice) + DTLS-SRTP for one WebRTC leg, with three threads in view:
 *
 *  - the owner (main loop) calls the API and gets the handlers;
 *  - the media worker owns the NiceAgent's sockets and timers, the DTLS connection, inbound
 *    SRTP, and everything the ICE state machine decides;
 *  - a mixer clock calls media.send, which touches only the outbound SRTP session and
 *    nice_agent_send() (libnice locks the agent itself).
 *
 * Owner and worker talk through two FIFO mailboxes (a locked queue plus one idle source while
 * non-empty). Deliveries are always deferred to the target's main loop, never run inline, so a
 * handler can never re-enter the worker code that produced its event, and a worker step can never
 * be interleaved with an owner call. Each scheduled drain holds a reference on the transport.
 *
 * libnice emits a signal from whichever thread releases its agent lock with signals pending; that
 * is nearly always the worker, but a signal can surface in a mixer thread's nice_agent_send() or
 * in the owner's call. Signal handlers therefore act directly only on the worker and re-post
 * themselves there otherwise.
 *
 * close() runs the teardown on the worker (and waits for it): after that no libnice callback of
 * ours is connected, the stream and its sockets are gone, and the owner-side handler gate is shut.
 * The NiceAgent object itself lives until the destructor so that a concurrent media.send never
 * touches a freed agent.
 */
#include "media/webrtc_transport.h"

#include <nice/agent.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/ice_candidate.h"
#include "media/srtp_session.h"
#include "rtp/rtp.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000
#define MAX_PENDING_CANDIDATES     64
#define CRED_SZ                    257 /* 256 chars + NUL */
#define LOCAL_UFRAG_LEN            8
#define LOCAL_PWD_LEN              24
#define COMPONENT                  1

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

enum msg_kind {
    /* owner -> worker */
    M_GATHER,
    M_REMOTE,  /* first remote description */
    M_RESTART, /* ICE restart: new local and/or remote credentials */
    M_CANDIDATE,
    M_REMOTE_DONE,
    M_REVOKE,
    /* libnice signals raised off the worker thread, re-posted to it */
    M_SIG_STATE,
    M_SIG_NEW_CAND,
    M_SIG_GATHER_DONE,
    M_SIG_PAIR,
    /* worker -> owner */
    M_EV_LOCAL_CAND,
    M_EV_GATHERING_DONE,
    M_EV_CONNECTED,
    M_EV_FAILED,
};

struct msg {
    enum msg_kind kind;
    union {
        struct ice_candidate cand;
        struct {
            bool restart_stream, has_remote;
            char lufrag[CRED_SZ], lpwd[CRED_SZ];
            char rufrag[CRED_SZ], rpwd[CRED_SZ];
            struct dtls_fingerprint fp;
            enum dtls_role role;
        } cred;
        guint state;
        NiceCandidate *nc[2];
        struct {
            enum webrtc_failure why;
            char text[ICE_CAND_MAX_LINE];
        } ev;
    } u;
};

struct webrtc_transport;

struct mbox {
    struct webrtc_transport *t;
    GMainContext *ctx;
    GMutex lock;
    GQueue q;
    bool scheduled;
    void (*handle)(struct webrtc_transport *t, struct msg *m);
};

struct webrtc_transport {
    struct media_transport media; /* the stream's face; media.send is ours */

    /* Fixed at alloc. */
    NiceAgent *agent; /* unref'd by the destructor only */
    guint stream_id;
    GMainContext *worker, *owner;
    struct dtls_identity *identity;
    struct webrtc_transport_handlers h;
    void *arg;
    char *log_ctx;
    uint32_t connect_timeout_ms, dtls_timeout_ms;
    struct mbox to_worker, to_owner;

    /* Shared. */
    atomic_bool closed;                      /* owner gate: set first thing in close() */
    _Atomic(struct srtp_session *) srtp_out; /* published once by the worker */
    GRecMutex cb_lock;                       /* held while an owner handler runs */
    GMutex info_lock;                        /* guards info and srtp_in (for the stats) */
    struct webrtc_transport_info info;
    struct srtp_session *srtp_in;

    /* Owner's thread only. */
    struct {
        bool gathering;
        bool remote_set;
        bool local_restart_pending;
        char lufrag[CRED_SZ], lpwd[CRED_SZ];
        char rufrag[CRED_SZ], rpwd[CRED_SZ];
        struct dtls_fingerprint fp;
        enum dtls_role role;
    } o;

    /* Worker's thread only. */
    struct {
        bool closed;
        bool remote_set;      /* credentials of the current generation known */
        bool awaiting_remote; /* we restarted, the peer's new credentials not yet here */
        char lufrag[CRED_SZ];
        char rufrag[CRED_SZ];
        struct dtls_conn *dtls;
        bool gathering_done;
        unsigned local_cands;
        bool remote_gathering_done;
        bool ice_up, ever_connected, restarting;
        bool dtls_done, connected_reported, failed_reported;
        guint state;
        GQueue pending; /* struct ice_candidate *, until their generation's credentials */
        GSource *connect_timer;
        GQueue held; /* GBytes: DTLS datagrams sent before ICE had a pair */
    } w;
};

static const char *state_name(guint s)
{
    return nice_component_state_to_string((NiceComponentState)s);
}

/* ---- mailboxes ----------------------------------------------------------------------------- */

static void msg_free(struct msg *m)
{
    if (!m)
        return;
    if (m->kind == M_SIG_NEW_CAND || m->kind == M_SIG_PAIR) {
        if (m->u.nc[0])
            nice_candidate_free(m->u.nc[0]);
        if (m->u.nc[1])
            nice_candidate_free(m->u.nc[1]);
    }
    g_free(m);
}

static struct msg *msg_new(enum msg_kind kind)
{
    struct msg *m = g_new0(struct msg, 1);
    m->kind = kind;
    return m;
}

static gboolean mbox_drain(gpointer data)
{
    struct mbox *mb = data;
    for (;;) {
        g_mutex_lock(&mb->lock);
        struct msg *m = g_queue_pop_head(&mb->q);
        if (!m)
            mb->scheduled = false;
        g_mutex_unlock(&mb->lock);
        if (!m)
            break;
        mb->handle(mb->t, m);
        msg_free(m);
    }
    return G_SOURCE_REMOVE;
}

static void mbox_unref(gpointer data)
{
    struct mbox *mb = data;
    mem_deref(mb->t);
}

static void mbox_post(struct mbox *mb, struct msg *m)
{
    g_mutex_lock(&mb->lock);
    g_queue_push_tail(&mb->q, m);
    bool schedule = !mb->scheduled;
    mb->scheduled = true;
    g_mutex_unlock(&mb->lock);
    if (!schedule)
        return;
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, mbox_drain, mb, mbox_unref);
    mem_ref(mb->t);
    g_source_attach(src, mb->ctx);
    g_source_unref(src);
}

static void mbox_init(struct mbox *mb, struct webrtc_transport *t, GMainContext *ctx,
                      void (*handle)(struct webrtc_transport *, struct msg *))
{
    mb->t = t;
    mb->ctx = ctx;
    g_mutex_init(&mb->lock);
    g_queue_init(&mb->q);
    mb->handle = handle;
}

static void mbox_clear(struct mbox *mb)
{
    struct msg *m;
    while ((m = g_queue_pop_head(&mb->q)))
        msg_free(m);
    g_mutex_clear(&mb->lock);
}

/* ---- owner side: events to handlers ---------------------------------------------------------- */

static void owner_handle(struct webrtc_transport *t, struct msg *m)
{
    g_rec_mutex_lock(&t->cb_lock);
    if (atomic_load(&t->closed)) {
        g_rec_mutex_unlock(&t->cb_lock);
        return;
    }
    switch (m->kind) {
    case M_EV_LOCAL_CAND:
        if (t->h.local_candidate)
            t->h.local_candidate(m->u.ev.text, t->arg);
        break;
    case M_EV_GATHERING_DONE:
        if (t->h.gathering_done)
            t->h.gathering_done(t->arg);
        break;
    case M_EV_CONNECTED:
        if (t->h.connected)
            t->h.connected(t->arg);
        break;
    case M_EV_FAILED:
        if (t->h.failed)
            t->h.failed(m->u.ev.why, m->u.ev.text, t->arg);
        break;
    default:
        break;
    }
    g_rec_mutex_unlock(&t->cb_lock);
}

static void post_event(struct webrtc_transport *t, enum msg_kind kind, enum webrtc_failure why,
                       const char *text)
{
    struct msg *m = msg_new(kind);
    m->u.ev.why = why;
    if (text)
        g_strlcpy(m->u.ev.text, text, sizeof(m->u.ev.text));
    mbox_post(&t->to_owner, m);
}

/* ---- worker side ----------------------------------------------------------------------------- */

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

static void worker_handle(struct webrtc_transport *t, struct msg *m)
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
    struct msg *m = msg_new(M_SIG_STATE);
    m->u.state = state;
    mbox_post(&t->to_worker, m);
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
    struct msg *m = msg_new(M_SIG_NEW_CAND);
    m->u.nc[0] = nice_candidate_copy(cand);
    mbox_post(&t->to_worker, m);
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
    mbox_post(&t->to_worker, msg_new(M_SIG_GATHER_DONE));
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
    struct msg *m = msg_new(M_SIG_PAIR);
    m->u.nc[0] = nice_candidate_copy(l);
    m->u.nc[1] = nice_candidate_copy(r);
    mbox_post(&t->to_worker, m);
}

/* ---- teardown -------------------------------------------------------------------------------- */

static void w_teardown(struct webrtc_transport *t)
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

struct sync_call {
    struct webrtc_transport *t;
    GMutex lock;
    GCond cond;
    bool done;
};

static gboolean teardown_on_worker(gpointer data)
{
    struct sync_call *sc = data;
    w_teardown(sc->t);
    g_mutex_lock(&sc->lock);
    sc->done = true;
    g_cond_signal(&sc->cond);
    g_mutex_unlock(&sc->lock);
    return G_SOURCE_REMOVE;
}

/* Runs the teardown on the worker and waits. No reference is taken: the caller's (or the dying
 * destructor's) keeps t alive while we wait. */
static void teardown_sync(struct webrtc_transport *t)
{
    if (g_main_context_is_owner(t->worker)) {
        w_teardown(t);
        return;
    }
    if (g_main_context_acquire(t->worker)) {
        /* No thread is running the worker loop: nothing can run concurrently. */
        w_teardown(t);
        g_main_context_release(t->worker);
        return;
    }
    struct sync_call sc = {.t = t};
    g_mutex_init(&sc.lock);
    g_cond_init(&sc.cond);
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    g_source_set_callback(src, teardown_on_worker, &sc, NULL);
    g_source_attach(src, t->worker);
    g_source_unref(src);
    g_mutex_lock(&sc.lock);
    while (!sc.done)
        g_cond_wait(&sc.cond, &sc.lock);
    g_mutex_unlock(&sc.lock);
    g_cond_clear(&sc.cond);
    g_mutex_clear(&sc.lock);
}

void webrtc_transport_close(struct webrtc_transport *t)
{
    if (!t || atomic_exchange(&t->closed, true))
        return;
    /* Wait out a handler running on another thread; from inside a handler this re-enters. */
    g_rec_mutex_lock(&t->cb_lock);
    g_rec_mutex_unlock(&t->cb_lock);
    teardown_sync(t);
}

static void transport_destroy(void *data)
{
    struct webrtc_transport *t = data;

    if (t->agent) {
        webrtc_transport_close(t);
        g_object_unref(t->agent);
    }
    mem_deref(t->srtp_in);
    mem_deref(atomic_load(&t->srtp_out));
    mbox_clear(&t->to_worker);
    mbox_clear(&t->to_owner);
    g_rec_mutex_clear(&t->cb_lock);
    g_mutex_clear(&t->info_lock);
    if (t->worker)
        g_main_context_unref(t->worker);
    if (t->owner)
        g_main_context_unref(t->owner);
    mem_deref(t->identity);
    mem_deref(t->log_ctx);
}

/* ---- API ------------------------------------------------------------------------------------- */

static int media_send(struct media_transport *mt, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    struct webrtc_transport *t = container_of(mt, struct webrtc_transport, media);
    struct srtp_session *out = atomic_load_explicit(&t->srtp_out, memory_order_acquire);

    if (!out || atomic_load_explicit(&t->closed, memory_order_relaxed))
        return EAGAIN;
    if (!pkt || len > G_MAXUINT16)
        return EINVAL;
    int err = srtp_session_protect(out, pkt, &len, cap, rtcp);
    if (err)
        return err;
    gint n = nice_agent_send(t->agent, t->stream_id, COMPONENT, (guint)len, (const gchar *)pkt);
    return n == (gint)len ? 0 : EAGAIN;
}

/* Random ICE credentials from OpenSSL's CSPRNG (alphanumeric: the safe subset of ice-char). */
static int random_cred(char *out, size_t n)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t i = 0;
    while (i < n) {
        uint8_t buf[32];
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return EIO;
        for (size_t j = 0; j < sizeof(buf) && i < n; j++) {
            if (buf[j] < 248) /* 248 = 4 * 62: no modulo bias */
                out[i++] = alnum[buf[j] % 62];
        }
    }
    out[n] = '\0';
    return 0;
}

static int new_local_creds(struct webrtc_transport *t)
{
    int err = random_cred(t->o.lufrag, LOCAL_UFRAG_LEN);
    if (!err)
        err = random_cred(t->o.lpwd, LOCAL_PWD_LEN);
    return err;
}

int webrtc_transport_alloc(struct webrtc_transport **tp, const struct webrtc_transport_cfg *cfg,
                           const struct webrtc_transport_handlers *h, void *arg)
{
    NiceAddress addr;

    if (!tp || !cfg || !cfg->worker || !cfg->local_ip || !cfg->identity)
        return EINVAL;
    if (cfg->port_max < cfg->port_min || (cfg->port_max && !cfg->port_min))
        return EINVAL;
    nice_address_init(&addr);
    if (!nice_address_set_from_string(&addr, cfg->local_ip))
        return EINVAL;

    struct webrtc_transport *t = mem_zalloc(sizeof(*t), transport_destroy);
    if (!t)
        return ENOMEM;
    g_rec_mutex_init(&t->cb_lock);
    g_mutex_init(&t->info_lock);
    atomic_init(&t->closed, false);
    atomic_init(&t->srtp_out, NULL);
    t->worker = g_main_context_ref(cfg->worker);
    t->owner = g_main_context_ref_thread_default();
    mbox_init(&t->to_worker, t, t->worker, worker_handle);
    mbox_init(&t->to_owner, t, t->owner, owner_handle);
    t->identity = mem_ref(cfg->identity);
    if (h)
        t->h = *h;
    t->arg = arg;
    t->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    t->connect_timeout_ms =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    t->dtls_timeout_ms = cfg->dtls_timeout_ms;
    t->media.send = media_send;
    t->w.state = NICE_COMPONENT_STATE_DISCONNECTED;
    g_queue_init(&t->w.pending);
    g_queue_init(&t->w.held);
    if (!t->log_ctx || new_local_creds(t)) {
        mem_deref(t);
        return ENOMEM;
    }
    g_strlcpy(t->w.lufrag, t->o.lufrag, sizeof(t->w.lufrag));

    t->agent =
        nice_agent_new_full(t->worker, NICE_COMPATIBILITY_RFC5245,
                            NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS |
                                NICE_AGENT_OPTION_REGULAR_NOMINATION);
    if (!t->agent) {
        mem_deref(t);
        return ENOMEM;
    }
    g_object_set(t->agent, "controlling-mode", (gboolean)cfg->controlling, "upnp", FALSE, "ice-tcp",
                 FALSE, "ice-udp", TRUE, NULL);
    nice_agent_add_local_address(t->agent, &addr);
    t->stream_id = nice_agent_add_stream(t->agent, 1);
    if (!t->stream_id) {
        mem_deref(t);
        return ENOMEM;
    }
    if (cfg->port_min)
        nice_agent_set_port_range(t->agent, t->stream_id, COMPONENT, cfg->port_min, cfg->port_max);
    nice_agent_set_local_credentials(t->agent, t->stream_id, t->o.lufrag, t->o.lpwd);

    g_signal_connect(t->agent, "component-state-changed", G_CALLBACK(sig_state), t);
    g_signal_connect(t->agent, "new-candidate-full", G_CALLBACK(sig_new_candidate), t);
    g_signal_connect(t->agent, "candidate-gathering-done", G_CALLBACK(sig_gathering_done), t);
    g_signal_connect(t->agent, "new-selected-pair-full", G_CALLBACK(sig_selected_pair), t);
    nice_agent_attach_recv(t->agent, t->stream_id, COMPONENT, t->worker, on_recv, t);

    *tp = t;
    return 0;
}

struct media_transport *webrtc_transport_media(struct webrtc_transport *t)
{
    return t ? &t->media : NULL;
}

void webrtc_transport_local_credentials(const struct webrtc_transport *t, const char **ufrag,
                                        const char **pwd)
{
    if (ufrag)
        *ufrag = t ? t->o.lufrag : NULL;
    if (pwd)
        *pwd = t ? t->o.lpwd : NULL;
}

int webrtc_transport_gather(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return EINVAL;
    if (t->o.gathering)
        return 0;
    t->o.gathering = true;
    mbox_post(&t->to_worker, msg_new(M_GATHER));
    return 0;
}

static bool valid_cred(const char *s)
{
    size_t n = strnlen(s, CRED_SZ);
    if (n == 0 || n >= CRED_SZ)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!g_ascii_isalnum(ch) && ch != '+' && ch != '/')
            return false;
    }
    return true;
}

int webrtc_transport_set_remote(struct webrtc_transport *t, const char *ufrag, const char *pwd,
                                const char *fp_alg, const char *fingerprint, enum dtls_role role)
{
    struct dtls_fingerprint fp;

    if (!t || !ufrag || !pwd || !fp_alg || !fingerprint || atomic_load(&t->closed))
        return EINVAL;
    if (role != DTLS_ROLE_CLIENT && role != DTLS_ROLE_SERVER)
        return EINVAL;
    if (!valid_cred(ufrag) || !valid_cred(pwd)) {
        logc_warn(t->log_ctx, "webrtc: malformed remote ICE credentials");
        return EBADMSG;
    }
    if (dtls_fingerprint_parse(&fp, fp_alg, fingerprint)) {
        logc_warn(t->log_ctx, "webrtc: malformed remote DTLS fingerprint (%s)", fp_alg);
        return EBADMSG;
    }

    if (!t->o.remote_set) {
        struct msg *m = msg_new(M_REMOTE);
        t->o.remote_set = true;
        t->o.local_restart_pending = false; /* a restart before any answer is just new creds */
        t->o.fp = fp;
        t->o.role = role;
        g_strlcpy(t->o.rufrag, ufrag, sizeof(t->o.rufrag));
        g_strlcpy(t->o.rpwd, pwd, sizeof(t->o.rpwd));
        g_strlcpy(m->u.cred.rufrag, ufrag, sizeof(m->u.cred.rufrag));
        g_strlcpy(m->u.cred.rpwd, pwd, sizeof(m->u.cred.rpwd));
        m->u.cred.fp = fp;
        m->u.cred.role = role;
        m->u.cred.has_remote = true;
        mbox_post(&t->to_worker, m);
        return 0;
    }

    if (fp.alg != t->o.fp.alg || fp.len != t->o.fp.len || memcmp(fp.md, t->o.fp.md, fp.len) ||
        role != t->o.role) {
        logc_warn(t->log_ctx, "webrtc: renegotiation changes the DTLS fingerprint or role: "
                              "a new DTLS association is not supported");
        return ENOTSUP;
    }
    /* Same credentials: nothing to do, unless we restarted and this is the answer (the agent
     * dropped the remote credentials then, even a peer keeping its own needs them set again). */
    if (!strcmp(ufrag, t->o.rufrag) && !strcmp(pwd, t->o.rpwd) && !t->o.local_restart_pending)
        return 0;

    struct msg *m = msg_new(M_RESTART);
    if (t->o.local_restart_pending) {
        t->o.local_restart_pending = false;
    } else {
        if (new_local_creds(t)) {
            msg_free(m);
            return ENOMEM;
        }
        m->u.cred.restart_stream = true;
        g_strlcpy(m->u.cred.lufrag, t->o.lufrag, sizeof(m->u.cred.lufrag));
        g_strlcpy(m->u.cred.lpwd, t->o.lpwd, sizeof(m->u.cred.lpwd));
    }
    g_strlcpy(t->o.rufrag, ufrag, sizeof(t->o.rufrag));
    g_strlcpy(t->o.rpwd, pwd, sizeof(t->o.rpwd));
    m->u.cred.has_remote = true;
    g_strlcpy(m->u.cred.rufrag, ufrag, sizeof(m->u.cred.rufrag));
    g_strlcpy(m->u.cred.rpwd, pwd, sizeof(m->u.cred.rpwd));
    mbox_post(&t->to_worker, m);
    return 0;
}

int webrtc_transport_restart_ice(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return EINVAL;
    if (new_local_creds(t))
        return ENOMEM;
    t->o.local_restart_pending = true;
    struct msg *m = msg_new(M_RESTART);
    m->u.cred.restart_stream = true;
    g_strlcpy(m->u.cred.lufrag, t->o.lufrag, sizeof(m->u.cred.lufrag));
    g_strlcpy(m->u.cred.lpwd, t->o.lpwd, sizeof(m->u.cred.lpwd));
    mbox_post(&t->to_worker, m);
    return 0;
}

int webrtc_transport_add_remote_candidate(struct webrtc_transport *t, const char *candidate)
{
    const char *why = NULL;

    if (!t || !candidate || atomic_load(&t->closed))
        return EINVAL;
    struct msg *m = msg_new(M_CANDIDATE);
    struct ice_candidate *c = &m->u.cand;
    int err = ice_candidate_parse(c, candidate, &why);
    if (err) {
        logc_warn(t->log_ctx, "webrtc: bad remote candidate: %s", why ? why : "invalid");
        msg_free(m);
        return err;
    }
    if (ice_candidate_is_mdns(c)) {
        logc_debug(t->log_ctx, "webrtc: skipping mDNS candidate (peer-reflexive will follow)");
        msg_free(m);
        return ENOTSUP;
    }
    if (c->transport != ICE_TRANSPORT_UDP || c->component != COMPONENT) {
        logc_debug(t->log_ctx, "webrtc: skipping %s candidate for component %u",
                   ice_transport_name(c->transport), (unsigned)c->component);
        msg_free(m);
        return ENOTSUP;
    }
    NiceAddress a;
    nice_address_init(&a);
    if (!nice_address_set_from_string(&a, c->address)) {
        logc_debug(t->log_ctx, "webrtc: skipping candidate with unresolved hostname");
        msg_free(m);
        return ENOTSUP;
    }
    mbox_post(&t->to_worker, m);
    return 0;
}

void webrtc_transport_remote_gathering_done(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return;
    mbox_post(&t->to_worker, msg_new(M_REMOTE_DONE));
}

void webrtc_transport_revoke_consent(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return;
    mbox_post(&t->to_worker, msg_new(M_REVOKE));
}

void webrtc_transport_get_info(struct webrtc_transport *t, struct webrtc_transport_info *info)
{
    struct srtp_session_stats in, out;
    if (!info)
        return;
    memset(info, 0, sizeof(*info));
    if (!t)
        return;
    g_mutex_lock(&t->info_lock);
    *info = t->info;
    srtp_session_stats(t->srtp_in, &in);
    g_mutex_unlock(&t->info_lock);
    srtp_session_stats(atomic_load_explicit(&t->srtp_out, memory_order_acquire), &out);
    info->srtp_rx_packets = in.packets;
    info->srtp_rx_auth_fail = in.auth_fail;
    info->srtp_rx_replay = in.replay;
    info->srtp_rx_other_fail = in.other_fail;
    info->srtp_tx_packets = out.packets;
    info->srtp_tx_fail = out.other_fail;
}
