/*
 * The plain RTP transport (see rtp_transport.h): two UDP sockets, symmetric RTP latching and
 * SDES-SRTP. This file holds the API and the owner's side (binding the port pair at alloc, each
 * negotiation parsed and turned into a message for the worker, with new SRTP contexts only when
 * the keys changed, close and info) and media.send, the one entry a mixer clock uses. The receive
 * path and latching, which run on the media worker, are in rtp_worker.c; the state both share,
 * and the threading contract between them, in rtp_transport_int.h.
 *
 * The owner never touches the worker's state: it validates and copies what the caller gives it,
 * posts it to the worker, and returns, so every owner call is non-blocking except close(), which
 * runs the worker's teardown (and waits for it) so that afterwards no receive handler runs.
 */
#include "media/rtp_transport_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/worker.h"

#define DEFAULT_SILENCE_MS    2000
#define DEFAULT_LATCH_PACKETS 5
#define BIND_TRIES            64

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* ---- addresses ----------------------------------------------------------------------------- */

static int parse_ip(const char *ip, uint16_t port, struct addr *a)
{
    memset(a, 0, sizeof(*a));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (ip && inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a->len = sizeof(*v4);
        return 0;
    }
    memset(a, 0, sizeof(*a));
    if (ip && inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a->len = sizeof(*v6);
        return 0;
    }
    return EBADMSG;
}

static bool is_any(const struct addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

/* ---- owner: close ---------------------------------------------------------------------------- */

static void teardown_on_worker(void *arg)
{
    rtp_worker_teardown(arg);
}

/* Runs the teardown on the worker and waits (the caller's reference keeps t alive). */
static void teardown_sync(struct rtp_transport *t)
{
    media_worker_run_sync(t->worker, teardown_on_worker, t);
}

void rtp_transport_close(struct rtp_transport *t)
{
    if (!t || atomic_exchange(&t->closed, true))
        return;
    /* the send side first: once tx.closed is seen under the lock, no send touches the sockets */
    g_mutex_lock(&t->tx_lock);
    t->tx.closed = true;
    struct srtp_session *out = t->tx.out;
    t->tx.out = NULL;
    g_mutex_unlock(&t->tx_lock);
    mem_deref(out);
    if (t->worker)
        teardown_sync(t);
    if (t->fd_rtp >= 0)
        close(t->fd_rtp);
    if (t->fd_rtcp >= 0)
        close(t->fd_rtcp);
    t->fd_rtp = t->fd_rtcp = -1;
}

static void transport_destroy(void *data)
{
    struct rtp_transport *t = data;
    rtp_transport_close(t);
    mem_deref(t->tx.out); /* a negotiation the worker applied as close began */
    mem_deref(t->w.in);
    explicit_bzero(&t->o, sizeof(t->o));
    g_mutex_clear(&t->tx_lock);
    if (t->worker)
        g_main_context_unref(t->worker);
    mem_deref(t->log_ctx);
}

/* ---- the sender ------------------------------------------------------------------------------ */

static int media_send(struct media_transport *mt, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    struct rtp_transport *t = container_of(mt, struct rtp_transport, media);
    if (!pkt || len > cap || len > UINT16_MAX)
        return EINVAL;

    int err = 0;
    g_mutex_lock(&t->tx_lock);
    const struct addr *to = rtcp ? &t->tx.rtcp : &t->tx.rtp;
    if (t->tx.closed || !t->tx.ready) {
        err = EAGAIN;
    } else if ((!rtcp && !t->tx.send_rtp) || !to->len) {
        count(&t->tx_dropped);
        err = EAGAIN;
    } else if (t->tx.out && (err = srtp_session_protect(t->tx.out, pkt, &len, cap, rtcp))) {
        count(&t->tx_errors);
    } else {
        int fd = rtcp && !t->tx.mux ? t->fd_rtcp : t->fd_rtp;
        ssize_t n = sendto(fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)&to->ss, to->len);
        if (n == (ssize_t)len) {
            count(rtcp ? &t->tx_rtcp : &t->tx_rtp);
        } else {
            err = n >= 0 || errno == EWOULDBLOCK ? EAGAIN : errno;
            count(&t->tx_errors);
        }
    }
    g_mutex_unlock(&t->tx_lock);
    return err;
}

/* ---- owner: alloc and negotiation ------------------------------------------------------------ */

static int open_socket(int family)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && family == AF_INET6) {
        int on = 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    }
    return fd;
}

static void set_port(struct addr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* Binds fd_rtp and fd_rtcp to port and port + 1; 0, or the errno of the failing bind. */
static int bind_pair(struct rtp_transport *t, struct addr *local, uint16_t port)
{
    set_port(local, port);
    if (bind(t->fd_rtp, (struct sockaddr *)&local->ss, local->len))
        return errno;
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    if (getsockname(t->fd_rtp, (struct sockaddr *)&got, &gl))
        return errno;
    uint16_t p = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
                                                : ((struct sockaddr_in6 *)&got)->sin6_port);
    if (p % 2 || p == 65535)
        return EADDRINUSE; /* an odd port from the kernel: try again */
    set_port(local, (uint16_t)(p + 1));
    if (bind(t->fd_rtcp, (struct sockaddr *)&local->ss, local->len))
        return errno;
    t->port = p;
    return 0;
}

static int bind_sockets(struct rtp_transport *t, const struct rtp_transport_cfg *cfg,
                        struct addr *local)
{
    uint32_t first = cfg->port_min + (cfg->port_min & 1u); /* even */
    uint32_t pairs = cfg->port_max > first ? (cfg->port_max - first + 1) / 2 : 0;
    uint32_t tries = cfg->port_min ? pairs : BIND_TRIES;
    uint32_t start = pairs ? (uint32_t)g_random_int_range(0, (gint32)pairs) : 0;
    int err = EADDRINUSE;
    for (uint32_t i = 0; i < tries; i++) {
        t->fd_rtp = open_socket(t->family);
        t->fd_rtcp = open_socket(t->family);
        if (t->fd_rtp < 0 || t->fd_rtcp < 0) {
            err = errno;
            break;
        }
        uint16_t port = cfg->port_min ? (uint16_t)(first + 2 * ((start + i) % pairs)) : 0;
        err = bind_pair(t, local, port);
        if (!err)
            return 0;
        close(t->fd_rtp);
        close(t->fd_rtcp);
        t->fd_rtp = t->fd_rtcp = -1;
        if (err != EADDRINUSE && err != EACCES)
            return err;
    }
    if (t->fd_rtp >= 0)
        close(t->fd_rtp);
    if (t->fd_rtcp >= 0)
        close(t->fd_rtcp);
    t->fd_rtp = t->fd_rtcp = -1;
    return err;
}

static void unref_transport(gpointer data)
{
    mem_deref(data);
}

int rtp_transport_alloc(struct rtp_transport **tp, const struct rtp_transport_cfg *cfg)
{
    struct addr local;

    if (!tp || !cfg || !cfg->worker || !cfg->local_ip)
        return EINVAL;
    if (cfg->port_max < cfg->port_min || (cfg->port_max && !cfg->port_min) ||
        (cfg->port_min && cfg->port_max < cfg->port_min + (cfg->port_min & 1u) + 1))
        return EINVAL; /* a range needs room for one even/odd pair */
    if (parse_ip(cfg->local_ip, 0, &local))
        return EINVAL;

    struct rtp_transport *t = mem_zalloc(sizeof(*t), transport_destroy);
    if (!t)
        return ENOMEM;
    t->fd_rtp = t->fd_rtcp = -1;
    g_mutex_init(&t->tx_lock);
    atomic_init(&t->closed, false);
    t->media.send = media_send;
    t->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    t->silence_us =
        1000 * (int64_t)(cfg->latch_silence_ms ? cfg->latch_silence_ms : DEFAULT_SILENCE_MS);
    t->latch_packets = cfg->latch_packets ? cfg->latch_packets : DEFAULT_LATCH_PACKETS;
    t->family = local.ss.ss_family;
    if (!t->log_ctx) {
        mem_deref(t);
        return ENOMEM;
    }
    int err = bind_sockets(t, cfg, &local);
    if (err) {
        logc_warn(t->log_ctx, "rtp: cannot bind an RTP/RTCP port pair on %s (%u-%u): %s",
                  cfg->local_ip, cfg->port_min, cfg->port_max, strerror(err));
        mem_deref(t);
        return err == EACCES || err == EADDRNOTAVAIL ? err : EADDRINUSE;
    }
    set_port(&local, t->port);
    rtp_addr_str(&local, t->local_str, sizeof(t->local_str));

    t->worker = g_main_context_ref(cfg->worker);
    GSource *src = g_idle_source_new();
    g_source_set_callback(src, rtp_worker_start, mem_ref(t), unref_transport);
    g_source_attach(src, t->worker);
    g_source_unref(src);
    logc_debug(t->log_ctx, "rtp: listening on %s", t->local_str);
    *tp = t;
    return 0;
}

struct media_transport *rtp_transport_media(struct rtp_transport *t)
{
    return t ? &t->media : NULL;
}

uint16_t rtp_transport_local_port(const struct rtp_transport *t)
{
    return t ? t->port : 0;
}

static void msg_free(gpointer data)
{
    struct msg *m = data;
    mem_deref(m->in);
    mem_deref(m->out);
    mem_deref(m->t);
    g_free(m);
}

/* The SRTP part of a negotiation into m: new contexts only when the keys changed. */
static int set_keys(struct rtp_transport *t, const struct rtp_transport_remote *r, struct msg *m)
{
    m->srtp = r->srtp;
    if (r->srtp) {
        size_t klen = srtp_suite_key_len(r->suite);
        if (!r->local_key || !r->remote_key || !klen || r->key_len != klen || klen > KEY_MAX)
            return EPROTO;
        if (t->o.srtp && t->o.suite == r->suite && !memcmp(t->o.lkey, r->local_key, klen) &&
            !memcmp(t->o.rkey, r->remote_key, klen))
            return 0;
        int e =
            srtp_session_alloc_suite(&m->in, SRTP_SESSION_INBOUND, r->suite, r->remote_key, klen);
        if (!e)
            e = srtp_session_alloc_suite(&m->out, SRTP_SESSION_OUTBOUND, r->suite, r->local_key,
                                         klen);
        if (e)
            return e;
        m->rekey = true;
        t->o.srtp = true;
        t->o.suite = r->suite;
        memcpy(t->o.lkey, r->local_key, klen);
        memcpy(t->o.rkey, r->remote_key, klen);
        t->o.klen = klen;
        return 0;
    }
    if (t->o.srtp) {
        m->rekey = true; /* back to plain RTP */
        explicit_bzero(&t->o, sizeof(t->o));
    }
    return 0;
}

int rtp_transport_set_remote(struct rtp_transport *t, const struct rtp_transport_remote *r)
{
    if (!t || !r || !r->addr || atomic_load(&t->closed) || r->npts > 128 || (r->npts && !r->pts))
        return EINVAL;
    struct msg *m = g_new0(struct msg, 1);
    int err = parse_ip(r->addr, r->port, &m->rtp);
    if (!err && (int)m->rtp.ss.ss_family != t->family)
        err = EAFNOSUPPORT;
    if (!err && is_any(&m->rtp)) {
        m->hold = true;
        memset(&m->rtp, 0, sizeof(m->rtp));
    } else if (!err && !r->port) {
        err = EINVAL;
    } else if (!err && r->rtcp_mux) {
        m->rtcp = m->rtp;
    } else if (!err) {
        uint32_t port = r->rtcp_port ? r->rtcp_port : r->port + 1u;
        const char *a = r->rtcp_addr && r->rtcp_addr[0] ? r->rtcp_addr : r->addr;
        if (port <= 65535 && !parse_ip(a, (uint16_t)port, &m->rtcp) &&
            (int)m->rtcp.ss.ss_family == t->family && !is_any(&m->rtcp)) {
            /* usable */
        } else {
            memset(&m->rtcp, 0, sizeof(m->rtcp)); /* no RTCP rather than a guess */
        }
    }
    if (err) {
        logc_warn(t->log_ctx, "rtp: cannot send to the remote address %.64s port %u: %s", r->addr,
                  r->port, err == EBADMSG ? "not a numeric IP address" : strerror(err));
        g_free(m);
        return err;
    }
    m->mux = r->rtcp_mux;
    m->send_rtp = r->send_rtp;
    for (size_t i = 0; i < r->npts; i++) {
        uint8_t pt = r->pts[i] & 0x7f;
        m->pts[pt >> 3] |= (uint8_t)(1u << (pt & 7));
    }
    err = set_keys(t, r, m);
    if (err) {
        m->t = NULL;
        msg_free(m);
        return err;
    }
    m->t = mem_ref(t);
    g_main_context_invoke_full(t->worker, G_PRIORITY_DEFAULT, rtp_worker_apply, m, msg_free);
    return 0;
}

void rtp_transport_get_info(struct rtp_transport *t, struct rtp_transport_info *info)
{
    if (!info)
        return;
    memset(info, 0, sizeof(*info));
    if (!t)
        return;
    snprintf(info->local_addr, sizeof(info->local_addr), "%s", t->local_str);
    g_mutex_lock(&t->tx_lock);
    snprintf(info->remote_addr, sizeof(info->remote_addr), "%s", t->tx.remote_str);
    info->latched = t->tx.latched;
    info->rtcp_mux = t->tx.mux;
    info->srtp = t->tx.srtp;
    g_mutex_unlock(&t->tx_lock);
    struct rtp_transport_stats *s = &info->stats;
    s->rx_rtp = counted(&t->rx_rtp);
    s->rx_rtcp = counted(&t->rx_rtcp);
    s->rx_early = counted(&t->rx_early);
    s->rx_malformed = counted(&t->rx_malformed);
    s->rx_foreign = counted(&t->rx_foreign);
    s->rx_bad_pt = counted(&t->rx_bad_pt);
    s->rx_auth_fail = counted(&t->rx_auth_fail);
    s->rx_replay = counted(&t->rx_replay);
    s->tx_rtp = counted(&t->tx_rtp);
    s->tx_rtcp = counted(&t->tx_rtcp);
    s->tx_dropped = counted(&t->tx_dropped);
    s->tx_errors = counted(&t->tx_errors);
    s->latches = (unsigned)counted(&t->latches);
    s->latch_changes = (unsigned)counted(&t->latch_changes);
    s->remotes_applied = (unsigned)counted(&t->applied);
}
