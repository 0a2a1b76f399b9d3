/*
 * ICE + DTLS-SRTP for one WebRTC leg: the API and the owner's side. This file holds
 * what runs on the owner's thread (alloc, the remote description and candidates, ICE restarts,
 * close, info), the mailboxes that carry requests to the worker and events back to the handlers
 * on the owner's context, and media.send, the one entry a mixer clock uses. The ICE / DTLS / SRTP
 * state machine that runs on the media worker is in webrtc_worker.c; the state both share, and
 * the threading contract between them, in webrtc_transport_int.h.
 *
 * The owner never touches the agent's state machine: it validates and copies what the caller
 * gives it, posts it to the worker, and returns. That keeps every owner call non-blocking, with
 * one exception: close() runs the teardown on the worker (and waits for it), so that after it no
 * ICE callback of ours is left, the leg is off its sockets, and the owner-side handler gate is
 * shut. The ICE agent object itself lives until the destructor so that a concurrent media.send
 * never touches a freed agent.
 */
#include "media/webrtc_transport_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/worker.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000
#define LOCAL_UFRAG_LEN            8
#define LOCAL_PWD_LEN              24

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- mailboxes ----------------------------------------------------------------------------- */

static void msg_free(struct msg *m)
{
    if (m)
        explicit_bzero(m, sizeof(*m)); /* credentials */
    g_free(m);
}

struct msg *webrtc_msg_new(enum msg_kind kind)
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

void webrtc_mbox_post(struct mbox *mb, struct msg *m)
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

/* ---- teardown -------------------------------------------------------------------------------- */

static void teardown_on_worker(void *arg)
{
    webrtc_worker_teardown(arg);
}

/* Runs the teardown on the worker and waits. No reference is taken: the caller's (or the dying
 * destructor's) keeps t alive while we wait. */
static void teardown_sync(struct webrtc_transport *t)
{
    media_worker_run_sync(t->worker, teardown_on_worker, t);
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

    if (t->ice) {
        webrtc_transport_close(t);
        mem_deref(t->ice);
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
    return ice_agent_send(t->ice, pkt, len);
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
    if (!tp || !cfg || !cfg->worker || !cfg->local_ip || !cfg->identity)
        return EINVAL;
    if (cfg->port_max < cfg->port_min || (cfg->port_max && !cfg->port_min))
        return EINVAL;
    if (cfg->ice != ICE_MODE_LITE && cfg->ice != ICE_MODE_FULL)
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
    mbox_init(&t->to_worker, t, t->worker, webrtc_worker_handle);
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
    t->w.state = ICE_STATE_CHECKING;
    g_queue_init(&t->w.pending);
    g_queue_init(&t->w.held);
    if (!t->log_ctx || new_local_creds(t)) {
        mem_deref(t);
        return ENOMEM;
    }
    g_strlcpy(t->w.lufrag, t->o.lufrag, sizeof(t->w.lufrag));

    struct ice_agent_cfg ic = {
        .mode = cfg->ice,
        .worker = cfg->worker,
        .local_ip = cfg->local_ip,
        .port_min = cfg->port_min,
        .port_max = cfg->port_max,
        .controlling = cfg->controlling,
        .ufrag = t->o.lufrag,
        .pwd = t->o.lpwd,
        .consent_timeout_ms = cfg->consent_timeout_ms,
        .log_ctx = t->log_ctx,
    };
    int err = ice_agent_alloc(&t->ice, &ic, &webrtc_ice_handlers, t);
    if (err) {
        mem_deref(t);
        return err;
    }
    *tp = t;
    return 0;
}

struct media_transport *webrtc_transport_media(struct webrtc_transport *t)
{
    return t ? &t->media : NULL;
}

bool webrtc_transport_ice_lite(const struct webrtc_transport *t)
{
    return t && ice_agent_is_lite(t->ice);
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
    webrtc_mbox_post(&t->to_worker, webrtc_msg_new(M_GATHER));
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
        struct msg *m = webrtc_msg_new(M_REMOTE);
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
        webrtc_mbox_post(&t->to_worker, m);
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

    struct msg *m = webrtc_msg_new(M_RESTART);
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
    webrtc_mbox_post(&t->to_worker, m);
    return 0;
}

int webrtc_transport_restart_ice(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return EINVAL;
    if (new_local_creds(t))
        return ENOMEM;
    t->o.local_restart_pending = true;
    struct msg *m = webrtc_msg_new(M_RESTART);
    m->u.cred.restart_stream = true;
    g_strlcpy(m->u.cred.lufrag, t->o.lufrag, sizeof(m->u.cred.lufrag));
    g_strlcpy(m->u.cred.lpwd, t->o.lpwd, sizeof(m->u.cred.lpwd));
    webrtc_mbox_post(&t->to_worker, m);
    return 0;
}

int webrtc_transport_add_remote_candidate(struct webrtc_transport *t, const char *candidate)
{
    const char *why = NULL;

    if (!t || !candidate || atomic_load(&t->closed))
        return EINVAL;
    struct msg *m = webrtc_msg_new(M_CANDIDATE);
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
    struct in6_addr a;
    if (inet_pton(AF_INET, c->address, &a) != 1 && inet_pton(AF_INET6, c->address, &a) != 1) {
        logc_debug(t->log_ctx, "webrtc: skipping candidate with unresolved hostname");
        msg_free(m);
        return ENOTSUP;
    }
    webrtc_mbox_post(&t->to_worker, m);
    return 0;
}

void webrtc_transport_remote_gathering_done(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return;
    webrtc_mbox_post(&t->to_worker, webrtc_msg_new(M_REMOTE_DONE));
}

void webrtc_transport_revoke_consent(struct webrtc_transport *t)
{
    if (!t || atomic_load(&t->closed))
        return;
    webrtc_mbox_post(&t->to_worker, webrtc_msg_new(M_REVOKE));
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
    struct ice_agent_stats is;
    ice_agent_stats(t->ice, &is);
    info->ice_checks = is.checks;
    info->ice_unauthorized = is.unauthorized;
    info->srtp_rx_packets = in.packets;
    info->srtp_rx_auth_fail = in.auth_fail;
    info->srtp_rx_replay = in.replay;
    info->srtp_rx_other_fail = in.other_fail;
    info->srtp_tx_packets = out.packets;
    info->srtp_tx_fail = out.other_fail;
}
