/*
 * The worker half of the plain RTP transport: everything that runs on the media worker's context.
 * It watches both sockets, reads datagrams in batches with recvmmsg, demultiplexes RTP and RTCP,
 * authenticates SRTP, latches to where the peer's packets really come from (symmetric RTP), and
 * publishes where the sender's packets go. Its inputs are the owner's negotiations
 * (rtp_worker_apply) and the received datagrams; its outputs are the packets handed to the
 * stream's receive handler and the destination under tx_lock. The API, the owner's side and the
 * sender are in rtp_transport.c, the state both share in rtp_transport_int.h; the split follows
 * the thread boundary, so everything under t->w is touched here only.
 */
#define _GNU_SOURCE /* recvmmsg */
#include "media/rtp_transport_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/mem.h"
#include "rtp/rtp.h"

#define RX_ROUNDS 4 /* recvmmsg calls per wake-up, so a flood cannot starve a worker */

/* ---- addresses ----------------------------------------------------------------------------- */

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

void rtp_addr_str(const struct addr *a, char *out, size_t cap)
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

/* ---- where packets go ------------------------------------------------------------------------ */

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
    rtp_addr_str(&rtp, t->tx.remote_str, sizeof(t->tx.remote_str));
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
    rtp_addr_str(t->w.latched ? &t->w.latch : &t->w.sdp_rtp, was, sizeof(was));
    addr_set(&t->w.latch, from, len);
    rtp_addr_str(&t->w.latch, now, sizeof(now));
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

/* ---- receiving ------------------------------------------------------------------------------- */

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

/* ---- requests -------------------------------------------------------------------------------- */

gboolean rtp_worker_start(gpointer data)
{
    struct rtp_transport *t = data;
    if (!t->w.closed && !t->w.src_rtp) {
        t->w.src_rtp = w_watch(t, t->fd_rtp);
        t->w.src_rtcp = w_watch(t, t->fd_rtcp);
    }
    return G_SOURCE_REMOVE;
}

gboolean rtp_worker_apply(gpointer data)
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

void rtp_worker_teardown(struct rtp_transport *t)
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
