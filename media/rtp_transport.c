/*
 * The plain RTP transport (see rtp_transport.h): two UDP sockets, symmetric RTP latching and
 * SDES-SRTP, in three parts by thread.
 *
 *  - The owner (main loop) binds the sockets at alloc, turns each negotiation into a message for
 *    the worker (addresses parsed, SRTP contexts made only when the keys changed) and closes.
 *  - The worker owns the receive path: it reads batches with recvmmsg, demultiplexes RTP and
 *    RTCP, authenticates, decides what is latched, and publishes where packets go.
 *  - The mixer's media.send reads that destination and the outbound SRTP context under tx_lock,
 *    which only the worker (on a latch or a new negotiation) and close ever take besides it.
 *
 * Where packets go is decided in one place (w_publish) from what the worker knows: the SDP's
 * addresses, and the latched sources. It is the only writer of the destination, so an owner
 * request and a latch can never overwrite each other's result.
 */
#define _GNU_SOURCE /* recvmmsg */
#include "media/rtp_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "rtp/rtp.h"

#define DEFAULT_SILENCE_MS    2000
#define DEFAULT_LATCH_PACKETS 5
#define RX_BATCH              8 /* datagrams per recvmmsg */
#define RX_ROUNDS             4 /* recvmmsg calls per wake-up, so a flood cannot starve a worker */
#define RX_BUF                1600 /* an MTU and then some; larger datagrams are dropped */
#define BIND_TRIES            64
#define KEY_MAX               32

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef atomic_uint_least64_t counter;

struct addr {
    struct sockaddr_storage ss;
    socklen_t len; /* 0: none */
};

/* One negotiation, owner -> worker. */
struct msg {
    struct rtp_transport *t;
    struct addr rtp, rtcp; /* from the SDP; none on hold */
    bool hold, mux, send_rtp, srtp;
    uint8_t pts[16]; /* bitmap of the negotiated payload types */
    bool rekey;      /* in and out replace the running contexts (NULL: plain RTP) */
    struct srtp_session *in, *out;
};

struct rtp_transport {
    struct media_transport media; /* the stream's face; media.send is ours */

    /* Fixed at alloc. */
    GMainContext *worker;
    char *log_ctx;
    int fd_rtp, fd_rtcp;
    int family;
    uint16_t port;
    char local_str[64];
    int64_t silence_us;
    unsigned latch_packets;

    /* Shared. Counters have one writer each (the worker for rx, the sender for tx). */
    atomic_bool closed;
    GMutex tx_lock;
    struct {
        bool closed, ready;
        bool send_rtp, mux, srtp, latched;
        struct addr rtp, rtcp;
        struct srtp_session *out;
        char remote_str[64];
    } tx; /* under tx_lock */
    counter rx_rtp, rx_rtcp, rx_early, rx_malformed, rx_foreign, rx_bad_pt, rx_auth_fail, rx_replay,
        tx_rtp, tx_rtcp, tx_dropped, tx_errors, latches, latch_changes, applied;

    /* Owner's thread only: the keys running now, to tell a re-key from a repeat. SECRET. */
    struct {
        bool srtp;
        enum srtp_suite suite;
        uint8_t lkey[KEY_MAX], rkey[KEY_MAX];
        size_t klen;
    } o;

    /* Worker's thread only. */
    struct {
        bool closed;
        GSource *src_rtp, *src_rtcp;
        bool remote_set, hold, mux;
        uint8_t pts[16];
        struct addr sdp_rtp, sdp_rtcp;
        bool latched, rtcp_latched;
        struct addr latch, rtcp_latch;
        int64_t latch_rx_us; /* last valid packet from the latched source */
        struct addr cand;    /* a source that may take the latch over */
        unsigned cand_count;
        struct srtp_session *in;
        uint8_t buf[RX_BATCH][RX_BUF];
        struct sockaddr_storage from[RX_BATCH];
    } w;
};

static inline void count(counter *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint64_t counted(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

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

/* Same IP (and port too, with port). */
static bool sa_eq(const struct addr *a, const struct sockaddr_storage *b, bool port)
{
    if (!a->len || a->ss.ss_family != b->ss_family)
        return false;
    if (b->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && (!port || x->sin_port == y->sin_port);
    }
    if (b->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)b;
        return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) &&
               (!port || x->sin6_port == y->sin6_port);
    }
    return false;
}

static bool addr_eq(const struct addr *a, const struct addr *b)
{
    if (!a->len || !b->len)
        return a->len == b->len;
    return sa_eq(a, &b->ss, true);
}

static void addr_str(const struct addr *a, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (!a->len) {
        snprintf(out, cap, "%s", "");
    } else if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const void *)&a->ss;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const void *)&a->ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(v6->sin6_port));
    }
}

static void addr_set(struct addr *a, const struct sockaddr_storage *ss, socklen_t len)
{
    memset(a, 0, sizeof(*a));
    if (len > sizeof(a->ss))
        len = sizeof(a->ss);
    memcpy(&a->ss, ss, len);
    a->len = len;
}

/* ---- worker: where packets go -------------------------------------------------------------- */

/* Publishes the destination from the SDP and the latches. Worker only. */
static void w_publish(struct rtp_transport *t, const struct msg *m)
{
    struct addr rtp = {0}, rtcp = {0};
    if (!t->w.hold) {
        rtp = t->w.latched ? t->w.latch : t->w.sdp_rtp;
        if (t->w.mux)
            rtcp = rtp;
        else
            rtcp = t->w.rtcp_latched ? t->w.rtcp_latch : t->w.sdp_rtcp;
    }
    struct srtp_session *old = NULL;
    g_mutex_lock(&t->tx_lock);
    t->tx.rtp = rtp;
    t->tx.rtcp = rtcp;
    t->tx.mux = t->w.mux;
    t->tx.latched = t->w.latched && !t->w.hold;
    addr_str(&rtp, t->tx.remote_str, sizeof(t->tx.remote_str));
    if (m) {
        t->tx.send_rtp = m->send_rtp;
        t->tx.srtp = m->srtp;
        if (m->rekey) {
            old = t->tx.out;
            t->tx.out = m->out;
        }
        t->tx.ready = true;
    }
    g_mutex_unlock(&t->tx_lock);
    mem_deref(old);
}

static void w_latch(struct rtp_transport *t, const struct sockaddr_storage *from, socklen_t len)
{
    char was[64], now[64];
    bool change = t->w.latched;
    addr_str(t->w.latched ? &t->w.latch : &t->w.sdp_rtp, was, sizeof(was));
    addr_set(&t->w.latch, from, len);
    addr_str(&t->w.latch, now, sizeof(now));
    t->w.latched = true;
    t->w.cand_count = 0;
    if (change) {
        /* RTCP follows from the new place once it sends some */
        t->w.rtcp_latched = false;
        count(&t->latch_changes);
        logc_info(t->log_ctx, "rtp: the media source moved after %lld ms of silence: %s -> %s",
                  (long long)(t->silence_us / 1000), was, now);
    } else {
        count(&t->latches);
        if (!was[0])
            logc_info(t->log_ctx, "rtp: latched to %s (on hold: we send nothing)", now);
        else if (strcmp(was, now))
            logc_info(t->log_ctx, "rtp: latched to %s (the SDP said %s)", now, was);
        else
            logc_debug(t->log_ctx, "rtp: latched to %s", now);
    }
    w_publish(t, NULL);
}

/* ---- worker: receiving --------------------------------------------------------------------- */

static bool pt_ok(const struct rtp_transport *t, uint8_t pt)
{
    return t->w.pts[pt >> 3] & (1u << (pt & 7));
}

static void deliver(struct rtp_transport *t, uint8_t *pkt, size_t len, bool rtcp)
{
    count(rtcp ? &t->rx_rtcp : &t->rx_rtp);
    if (t->media.recvh)
        t->media.recvh(pkt, len, rtcp, t->media.recv_arg);
}

static bool w_unprotect(struct rtp_transport *t, uint8_t *pkt, size_t *len, bool rtcp)
{
    if (!t->w.in)
        return true;
    int e = srtp_session_unprotect(t->w.in, pkt, len, rtcp);
    if (e)
        count(e == EALREADY ? &t->rx_replay : &t->rx_auth_fail);
    return !e;
}

/* A packet from a would-be source that is not valid: it breaks any run towards a new latch. */
static void w_invalid(struct rtp_transport *t, counter *why)
{
    if (why)
        count(why);
    t->w.cand_count = 0;
}

static void w_rtp(struct rtp_transport *t, uint8_t *pkt, size_t len,
                  const struct sockaddr_storage *from, socklen_t flen, int64_t now)
{
    bool latched = t->w.latched && sa_eq(&t->w.latch, from, true);
    if (!latched) {
        if (t->w.latched && now - t->w.latch_rx_us < t->silence_us) {
            count(&t->rx_foreign);
            return;
        }
        if (!pt_ok(t, pkt[1] & 0x7f)) {
            w_invalid(t, &t->rx_bad_pt);
            return;
        }
    }
    if (!w_unprotect(t, pkt, &len, false)) {
        if (!latched)
            w_invalid(t, NULL);
        return;
    }
    if (!latched) {
        struct rtp_hdr h;
        const uint8_t *payload;
        size_t plen;
        if (rtp_decode(&h, pkt, len, &payload, &plen)) {
            w_invalid(t, &t->rx_malformed);
            return;
        }
        if (t->w.latched) {
            if (!sa_eq(&t->w.cand, from, true)) {
                addr_set(&t->w.cand, from, flen);
                t->w.cand_count = 0;
            }
            if (++t->w.cand_count < t->latch_packets) {
                count(&t->rx_foreign);
                return;
            }
        }
        w_latch(t, from, flen);
    }
    t->w.latch_rx_us = now;
    t->w.cand_count = 0;
    deliver(t, pkt, len, false);
}

static void w_rtcp(struct rtp_transport *t, bool rtcp_sock, uint8_t *pkt, size_t len,
                   const struct sockaddr_storage *from, socklen_t flen)
{
    bool known = rtcp_sock ? t->w.rtcp_latched && sa_eq(&t->w.rtcp_latch, from, true)
                           : t->w.latched && sa_eq(&t->w.latch, from, true);
    /* RTCP latches on its own socket, from the IP its RTP was latched to */
    bool latch = !known && rtcp_sock && t->w.latched && sa_eq(&t->w.latch, from, false);
    if (!known && !latch) {
        count(&t->rx_foreign);
        return;
    }
    if (!w_unprotect(t, pkt, &len, true))
        return;
    if (latch) {
        addr_set(&t->w.rtcp_latch, from, flen);
        t->w.rtcp_latched = true;
        w_publish(t, NULL);
    }
    deliver(t, pkt, len, true);
}

static void w_datagram(struct rtp_transport *t, bool rtcp_sock, uint8_t *pkt, size_t len,
                       const struct sockaddr_storage *from, socklen_t flen, int64_t now)
{
    if (!t->w.remote_set) {
        count(&t->rx_early);
        return;
    }
    switch (rtp_demux(pkt, len)) {
    case RTP_DEMUX_RTCP:
        w_rtcp(t, rtcp_sock, pkt, len, from, flen);
        break;
    case RTP_DEMUX_RTP:
        if (!rtcp_sock)
            w_rtp(t, pkt, len, from, flen, now);
        else
            count(&t->rx_malformed); /* RTP on the RTCP port */
        break;
    default:
        count(&t->rx_malformed);
        break;
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
    struct rtp_transport *t = data;
    struct mmsghdr mm[RX_BATCH];
    struct iovec iov[RX_BATCH];
    bool rtcp_sock = fd == t->fd_rtcp;

    if (t->w.closed)
        return G_SOURCE_REMOVE;
    for (int round = 0; round < RX_ROUNDS; round++) {
        memset(mm, 0, sizeof(mm));
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){t->w.buf[i], RX_BUF};
            mm[i].msg_hdr.msg_name = &t->w.from[i];
            mm[i].msg_hdr.msg_namelen = sizeof(t->w.from[i]);
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                /* a queued socket error (ICMP): read it so the source does not spin */
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            }
            break;
        }
        int64_t now = g_get_monotonic_time();
        for (int i = 0; i < n; i++) {
            if (mm[i].msg_hdr.msg_flags & MSG_TRUNC) {
                count(&t->rx_malformed);
                continue;
            }
            w_datagram(t, rtcp_sock, t->w.buf[i], mm[i].msg_len, &t->w.from[i],
                       mm[i].msg_hdr.msg_namelen, now);
        }
        if (n < RX_BATCH)
            break;
    }
    return G_SOURCE_CONTINUE;
}

static GSource *w_watch(struct rtp_transport *t, int fd)
{
    GSource *src = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(src, G_SOURCE_FUNC(on_readable), t, NULL);
    g_source_attach(src, t->worker);
    return src;
}

/* ---- worker: requests ---------------------------------------------------------------------- */

static gboolean w_start(gpointer data)
{
    struct rtp_transport *t = data;
    if (!t->w.closed && !t->w.src_rtp) {
        t->w.src_rtp = w_watch(t, t->fd_rtp);
        t->w.src_rtcp = w_watch(t, t->fd_rtcp);
    }
    return G_SOURCE_REMOVE;
}

static gboolean w_apply(gpointer data)
{
    struct msg *m = data;
    struct rtp_transport *t = m->t;
    if (t->w.closed)
        return G_SOURCE_REMOVE;

    bool moved = !t->w.remote_set || m->hold != t->w.hold || !addr_eq(&m->rtp, &t->w.sdp_rtp);
    if (moved && t->w.latched)
        logc_info(t->log_ctx, "rtp: the SDP moves the media: latching again");
    if (moved || !addr_eq(&m->rtcp, &t->w.sdp_rtcp))
        t->w.rtcp_latched = false;
    if (moved) {
        t->w.latched = false;
        t->w.cand_count = 0;
    }
    t->w.sdp_rtp = m->rtp;
    t->w.sdp_rtcp = m->rtcp;
    t->w.hold = m->hold;
    t->w.mux = m->mux;
    memcpy(t->w.pts, m->pts, sizeof(t->w.pts));
    if (m->rekey) {
        mem_deref(t->w.in);
        t->w.in = m->in;
        m->in = NULL;
    }
    t->w.remote_set = true;
    w_publish(t, m);
    count(&t->applied);
    if (m->rekey)
        m->out = NULL; /* now the sender's */
    return G_SOURCE_REMOVE;
}

static void msg_free(gpointer data)
{
    struct msg *m = data;
    mem_deref(m->in);
    mem_deref(m->out);
    mem_deref(m->t);
    g_free(m);
}

static void w_teardown(struct rtp_transport *t)
{
    if (t->w.closed)
        return;
    t->w.closed = true;
    GSource **srcs[2] = {&t->w.src_rtp, &t->w.src_rtcp};
    for (size_t i = 0; i < 2; i++) {
        if (*srcs[i]) {
            g_source_destroy(*srcs[i]);
            g_source_unref(*srcs[i]);
            *srcs[i] = NULL;
        }
    }
    t->w.in = mem_deref(t->w.in);
}

/* ---- owner: close ---------------------------------------------------------------------------- */

struct sync_call {
    struct rtp_transport *t;
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

/* Runs the teardown on the worker and waits (the caller's reference keeps t alive). */
static void teardown_sync(struct rtp_transport *t)
{
    if (g_main_context_is_owner(t->worker)) {
        w_teardown(t);
        return;
    }
    if (g_main_context_acquire(t->worker)) {
        w_teardown(t); /* no thread runs the worker loop: nothing runs concurrently */
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
    addr_str(&local, t->local_str, sizeof(t->local_str));

    t->worker = g_main_context_ref(cfg->worker);
    GSource *src = g_idle_source_new();
    g_source_set_callback(src, w_start, mem_ref(t), unref_transport);
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
    g_main_context_invoke_full(t->worker, G_PRIORITY_DEFAULT, w_apply, m, msg_free);
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
