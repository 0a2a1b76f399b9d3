/*
 * The shared UDP socket (see udp_mux.h): batched receive on the owning context, batched send from
 * any thread.
 *
 * Receive. The socket's GSource drains it with recvmmsg() into `batch` preallocated buffers per
 * call, at most a few calls per wake-up so that one busy socket cannot starve the worker's other
 * sources (the fd stays readable and poll brings us back). The handler runs under a recursive
 * lock that close() takes too: taking it once per batch costs nothing measurable, and it is what
 * lets close() promise that no handler runs after it returns, from whichever thread it is called.
 *
 * Pacing (cfg.pace_us). On a busy socket the datagrams of hundreds of legs arrive one by one,
 * and a wake-up per datagram (the scheduler's switch, poll, the main loop's iteration) costs more
 * than the datagram. So when a drain that found datagrams follows another within two pace
 * intervals, the source stops watching the fd and drains again one interval later: at most one
 * wake-up per interval while the socket is busy, each datagram delayed by at most an interval.
 * A drain that finds nothing ends the pacing; a quiet socket wakes at once, as without it.
 *
 * Send. A batching thread's queue lives in a GPrivate: a few slots, one per socket it is sending
 * through (a mixer clock reaches one socket per media worker), each holding up to UDP_MUX_BATCH
 * copied datagrams and one reference on its mux. A send to a socket without a slot takes a free
 * slot or flushes one. The copy is the price of batching: the caller's buffer is reused for the
 * next packet as soon as send returns.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "media/udp_mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/log.h"
#include "base/mem.h"

#define MAX_BATCH        64
#define ROUNDS_PER_WAKE  4
#define TX_SLOTS         4
#define SOCKET_BUF_BYTES (4 * 1024 * 1024)

struct udp_mux {
    int fd;
    struct sockaddr_storage local;
    socklen_t local_len;
    char local_ip[INET6_ADDRSTRLEN];
    uint16_t local_port;
    bool batch_send;
    char *log_ctx;

    GSource *src;
    gpointer src_tag; /* the fd's tag in src */
    GRecMutex lock;   /* held while the handler runs, and by close() */
    bool closed;
    udp_mux_recv_h *recvh;
    void *arg;

    /* Receive buffers and pacing, used by the owning context only. */
    unsigned batch;
    int64_t pace_us;
    int64_t last_rx_us; /* the last drain that found datagrams */
    bool paused;        /* not watching the fd: src's ready time drains next */
    struct mmsghdr *msgs;
    struct iovec *iov;
    struct sockaddr_storage *from;
    uint8_t *bufs;

    atomic_uint_fast64_t rx_packets, rx_batches, rx_truncated, rx_errors;
    atomic_uint_fast64_t tx_packets, tx_syscalls, tx_errors;
};

static void stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- addresses ------------------------------------------------------------------------------- */

int udp_mux_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *sa, socklen_t *len)
{
    if (!ip || !sa || !len)
        return EINVAL;
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *sin = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *len = sizeof(*sin6);
        return 0;
    }
    return EINVAL;
}

void udp_mux_addr_string(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(buf, cap, "%s:%u", ip, ntohs(sin->sin_port));
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, cap, "[%s]:%u", ip, ntohs(sin6->sin6_port));
    } else {
        snprintf(buf, cap, "?");
    }
}

/* ---- receive --------------------------------------------------------------------------------- */

static void rx_reset(struct udp_mux *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        m->iov[i].iov_base = m->bufs + (size_t)i * UDP_MUX_MAX_PACKET;
        m->iov[i].iov_len = UDP_MUX_MAX_PACKET;
        m->msgs[i].msg_hdr = (struct msghdr){
            .msg_name = &m->from[i],
            .msg_namelen = sizeof(m->from[i]),
            .msg_iov = &m->iov[i],
            .msg_iovlen = 1,
        };
        m->msgs[i].msg_len = 0;
    }
}

static gboolean on_readable(gpointer data)
{
    struct udp_mux *m = data;

    g_rec_mutex_lock(&m->lock);
    if (m->closed) {
        g_rec_mutex_unlock(&m->lock);
        return G_SOURCE_REMOVE;
    }
    if (m->paused) {
        m->paused = false;
        g_source_modify_unix_fd(m->src, m->src_tag, G_IO_IN);
        g_source_set_ready_time(m->src, -1);
    }
    unsigned got = 0;
    for (int round = 0; round < ROUNDS_PER_WAKE && !m->closed; round++) {
        rx_reset(m, m->batch);
        int n = recvmmsg(m->fd, m->msgs, m->batch, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                stat_add(&m->rx_errors, 1);
                logc_debug(m->log_ctx, "udp mux %s:%u: recvmmsg: %s", m->local_ip, m->local_port,
                           strerror(errno));
            }
            break;
        }
        stat_add(&m->rx_batches, 1);
        int64_t now = g_get_monotonic_time();
        unsigned good = 0;
        for (int i = 0; i < n && !m->closed; i++) {
            struct msghdr *h = &m->msgs[i].msg_hdr;
            if (h->msg_flags & MSG_TRUNC) {
                stat_add(&m->rx_truncated, 1);
                continue;
            }
            good++;
            m->recvh(m->iov[i].iov_base, m->msgs[i].msg_len, (const struct sockaddr *)h->msg_name,
                     h->msg_namelen, now, m->arg);
        }
        stat_add(&m->rx_packets, good);
        got += (unsigned)n;
        if ((unsigned)n < m->batch)
            break;
    }
    if (got && m->pace_us && !m->closed) {
        int64_t now = g_get_monotonic_time();
        if (m->last_rx_us && now - m->last_rx_us < 2 * m->pace_us) {
            m->paused = true;
            g_source_modify_unix_fd(m->src, m->src_tag, 0);
            g_source_set_ready_time(m->src, now + m->pace_us);
        }
        m->last_rx_us = now;
    }
    g_rec_mutex_unlock(&m->lock);
    return G_SOURCE_CONTINUE;
}

static gboolean rx_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    (void)src;
    return cb ? cb(data) : G_SOURCE_REMOVE;
}

static GSourceFuncs rx_funcs = {
    .dispatch = rx_dispatch,
};

/* ---- send ------------------------------------------------------------------------------------ */

int udp_mux_send_now(struct udp_mux *m, const uint8_t *pkt, size_t len, const struct sockaddr *dst,
                     socklen_t dstlen)
{
    if (!m || !pkt || !dst)
        return EINVAL;
    for (;;) {
        ssize_t n = sendto(m->fd, pkt, len, MSG_DONTWAIT, dst, dstlen);
        if (n >= 0) {
            stat_add(&m->tx_packets, 1);
            stat_add(&m->tx_syscalls, 1);
            return 0;
        }
        if (errno == EINTR)
            continue;
        int err = errno;
        stat_add(&m->tx_errors, 1);
        return err;
    }
}

struct tx_slot {
    struct udp_mux *mux; /* referenced while n > 0 */
    unsigned n;
    int64_t first_us; /* when the oldest queued datagram was queued */
    struct mmsghdr msgs[UDP_MUX_BATCH];
    struct iovec iov[UDP_MUX_BATCH];
    struct sockaddr_storage to[UDP_MUX_BATCH];
    uint8_t data[UDP_MUX_BATCH][UDP_MUX_MAX_PACKET];
};

struct tx_batch {
    struct tx_slot slot[TX_SLOTS];
    unsigned victim;
};

static void slot_flush(struct tx_slot *s)
{
    struct udp_mux *m = s->mux;
    unsigned sent = 0, ok = 0, calls = 0, failed = 0;

    if (!m)
        return;
    while (sent < s->n) {
        int r = sendmmsg(m->fd, s->msgs + sent, s->n - sent, MSG_DONTWAIT);
        calls++;
        if (r > 0) {
            sent += (unsigned)r;
            ok += (unsigned)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            failed += s->n - sent; /* the socket buffer is full: UDP drops */
            break;
        }
        sent++; /* this datagram is refused (an unreachable address...): skip it */
        failed++;
    }
    stat_add(&m->tx_packets, ok);
    stat_add(&m->tx_syscalls, calls);
    if (failed)
        stat_add(&m->tx_errors, failed);
    s->n = 0;
    s->mux = mem_deref(m);
}

static void tx_batch_free(gpointer data)
{
    struct tx_batch *b = data;
    for (unsigned i = 0; i < TX_SLOTS; i++)
        slot_flush(&b->slot[i]);
    g_free(b);
}

static GPrivate tx_key = G_PRIVATE_INIT(tx_batch_free);

void udp_mux_flush_thread(void)
{
    struct tx_batch *b = g_private_get(&tx_key);
    if (!b) {
        b = g_new0(struct tx_batch, 1);
        g_private_set(&tx_key, b);
        return;
    }
    for (unsigned i = 0; i < TX_SLOTS; i++)
        if (b->slot[i].n)
            slot_flush(&b->slot[i]);
}

void udp_mux_thread_unbatch(void)
{
    if (g_private_get(&tx_key))
        g_private_replace(&tx_key, NULL);
}

static struct tx_slot *slot_for(struct tx_batch *b, struct udp_mux *m)
{
    struct tx_slot *free_slot = NULL;
    for (unsigned i = 0; i < TX_SLOTS; i++) {
        if (b->slot[i].mux == m)
            return &b->slot[i];
        if (!b->slot[i].mux && !free_slot)
            free_slot = &b->slot[i];
    }
    if (!free_slot) {
        free_slot = &b->slot[b->victim];
        b->victim = (b->victim + 1) % TX_SLOTS;
        slot_flush(free_slot);
    }
    free_slot->mux = mem_ref(m);
    return free_slot;
}

int udp_mux_send(struct udp_mux *m, const uint8_t *pkt, size_t len, const struct sockaddr *dst,
                 socklen_t dstlen)
{
    if (!m || !pkt || !dst || dstlen > sizeof(struct sockaddr_storage))
        return EINVAL;
    struct tx_batch *b = m->batch_send ? g_private_get(&tx_key) : NULL;
    if (!b || len > UDP_MUX_MAX_PACKET)
        return udp_mux_send_now(m, pkt, len, dst, dstlen);

    struct tx_slot *s = slot_for(b, m);
    int64_t now = g_get_monotonic_time();
    if (s->n && now - s->first_us >= UDP_MUX_HOLD_MAX_US) {
        /* The thread stopped calling udp_mux_flush_thread(): nothing waits longer than this. */
        for (unsigned k = 0; k < TX_SLOTS; k++)
            if (b->slot[k].n)
                slot_flush(&b->slot[k]);
        s = slot_for(b, m);
    }
    if (!s->n)
        s->first_us = now;
    unsigned i = s->n++;
    memcpy(s->data[i], pkt, len);
    memcpy(&s->to[i], dst, dstlen);
    s->iov[i].iov_base = s->data[i];
    s->iov[i].iov_len = len;
    s->msgs[i].msg_hdr = (struct msghdr){
        .msg_name = &s->to[i],
        .msg_namelen = dstlen,
        .msg_iov = &s->iov[i],
        .msg_iovlen = 1,
    };
    if (s->n == UDP_MUX_BATCH)
        slot_flush(s);
    return 0;
}

/* ---- lifetime -------------------------------------------------------------------------------- */

void udp_mux_close(struct udp_mux *m)
{
    if (!m)
        return;
    g_rec_mutex_lock(&m->lock);
    m->closed = true;
    if (m->src) {
        g_source_destroy(m->src);
        g_source_unref(m->src);
        m->src = NULL;
    }
    g_rec_mutex_unlock(&m->lock);
}

static void mux_destroy(void *data)
{
    struct udp_mux *m = data;
    udp_mux_close(m);
    if (m->fd >= 0)
        close(m->fd);
    g_free(m->msgs);
    g_free(m->iov);
    g_free(m->from);
    g_free(m->bufs);
    g_rec_mutex_clear(&m->lock);
    mem_deref(m->log_ctx);
}

static void source_unref_mux(gpointer data)
{
    mem_deref(data);
}

static int bind_in_range(struct udp_mux *m, const struct sockaddr_storage *base, socklen_t len,
                         uint16_t lo, uint16_t hi)
{
    struct sockaddr_storage sa = *base;
    uint16_t *port = sa.ss_family == AF_INET ? &((struct sockaddr_in *)&sa)->sin_port
                                             : &((struct sockaddr_in6 *)&sa)->sin6_port;
    if (!lo) {
        *port = 0;
        return bind(m->fd, (struct sockaddr *)&sa, len) ? errno : 0;
    }
    uint32_t span = (uint32_t)hi - lo + 1, start = 0;
    if (RAND_bytes((unsigned char *)&start, sizeof(start)) != 1)
        start = (uint32_t)g_random_int();
    for (uint32_t i = 0; i < span; i++) {
        *port = htons((uint16_t)(lo + (start + i) % span));
        if (!bind(m->fd, (struct sockaddr *)&sa, len))
            return 0;
        if (errno != EADDRINUSE && errno != EACCES)
            return errno;
    }
    return EADDRINUSE;
}

int udp_mux_alloc(struct udp_mux **mp, const struct udp_mux_cfg *cfg, udp_mux_recv_h *recvh,
                  void *arg)
{
    struct sockaddr_storage sa;
    socklen_t salen;

    if (!mp || !cfg || !cfg->ctx || !recvh || cfg->batch > MAX_BATCH)
        return EINVAL;
    if (cfg->port_max < cfg->port_min || (cfg->port_max && !cfg->port_min))
        return EINVAL;
    if (udp_mux_sockaddr(cfg->local_ip, 0, &sa, &salen))
        return EINVAL;

    struct udp_mux *m = mem_zalloc(sizeof(*m), mux_destroy);
    if (!m)
        return ENOMEM;
    m->fd = -1;
    g_rec_mutex_init(&m->lock);
    m->recvh = recvh;
    m->arg = arg;
    m->batch_send = cfg->batch_send;
    m->batch = cfg->batch ? cfg->batch : UDP_MUX_BATCH;
    m->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    m->msgs = g_new0(struct mmsghdr, m->batch);
    m->iov = g_new0(struct iovec, m->batch);
    m->from = g_new0(struct sockaddr_storage, m->batch);
    m->bufs = g_malloc((size_t)m->batch * UDP_MUX_MAX_PACKET);

    m->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (m->fd < 0) {
        int err = errno;
        mem_deref(m);
        return err;
    }
    if (sa.ss_family == AF_INET6) {
        int one = 1;
        (void)setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (m->batch > 8) {
        /* One socket carries every leg of a worker: give the kernel room for bursts. The kernel
         * caps these at net.core.[rw]mem_max, which is fine. */
        int sz = SOCKET_BUF_BYTES;
        (void)setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        (void)setsockopt(m->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    }
    int err = bind_in_range(m, &sa, salen, cfg->port_min, cfg->port_max);
    if (err) {
        mem_deref(m);
        return err;
    }
    m->local_len = sizeof(m->local);
    if (getsockname(m->fd, (struct sockaddr *)&m->local, &m->local_len)) {
        err = errno;
        mem_deref(m);
        return err;
    }
    if (m->local.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&m->local;
        inet_ntop(AF_INET, &sin->sin_addr, m->local_ip, sizeof(m->local_ip));
        m->local_port = ntohs(sin->sin_port);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&m->local;
        inet_ntop(AF_INET6, &sin6->sin6_addr, m->local_ip, sizeof(m->local_ip));
        m->local_port = ntohs(sin6->sin6_port);
    }

    m->pace_us = cfg->pace_us;
    m->src = g_source_new(&rx_funcs, sizeof(GSource));
    m->src_tag = g_source_add_unix_fd(m->src, m->fd, G_IO_IN);
    g_source_set_callback(m->src, on_readable, mem_ref(m), source_unref_mux);
    g_source_attach(m->src, cfg->ctx);
    *mp = m;
    return 0;
}

const struct sockaddr *udp_mux_local_addr(const struct udp_mux *m, socklen_t *len)
{
    if (len)
        *len = m ? m->local_len : 0;
    return m ? (const struct sockaddr *)&m->local : NULL;
}

const char *udp_mux_local_ip(const struct udp_mux *m)
{
    return m ? m->local_ip : NULL;
}

uint16_t udp_mux_local_port(const struct udp_mux *m)
{
    return m ? m->local_port : 0;
}

void udp_mux_get_stats(const struct udp_mux *m, struct udp_mux_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!m)
        return;
    struct udp_mux *mm = (struct udp_mux *)m; /* atomics are read through a non-const lvalue */
    st->rx_packets = atomic_load_explicit(&mm->rx_packets, memory_order_relaxed);
    st->rx_batches = atomic_load_explicit(&mm->rx_batches, memory_order_relaxed);
    st->rx_truncated = atomic_load_explicit(&mm->rx_truncated, memory_order_relaxed);
    st->rx_errors = atomic_load_explicit(&mm->rx_errors, memory_order_relaxed);
    st->tx_packets = atomic_load_explicit(&mm->tx_packets, memory_order_relaxed);
    st->tx_syscalls = atomic_load_explicit(&mm->tx_syscalls, memory_order_relaxed);
    st->tx_errors = atomic_load_explicit(&mm->tx_errors, memory_order_relaxed);
}
