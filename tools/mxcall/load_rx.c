/*
 * mxload's receive threads: each owns an epoll set of connected legs' sockets and drains the
 * ready ones with recvmmsg() into buffers of its own (nothing is allocated per packet), reading
 * the clock once per system call. The leg decides what a datagram is worth (load_leg_rx): for
 * most, the RTP timestamp and the arrival time.
 *
 * Legs join a thread once their DTLS-SRTP is done and never leave it: a closed leg is skipped
 * (its flag) and its socket stays open until the threads are joined, so nothing here can read
 * a freed leg or a reused descriptor.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "tools/mxcall/load_int.h"

#define MAX_THREADS 16
#define EVENTS      256
#define BATCH       8
#define PKT_MAX     1500

struct rx_thread {
    struct load_rx *rx;
    int epfd;
    GThread *th;
    pthread_t self;
    atomic_bool started;
    GPtrArray *legs; /* referenced */
    GMutex lock;     /* legs, against the main loop's adds */
    atomic_uint_fast64_t packets, syscalls, wakeups;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint8_t buf[BATCH][PKT_MAX];
};

struct load_rx {
    struct rx_thread *t[MAX_THREADS];
    unsigned n, next;
    atomic_bool stop;
    bool stopped;
};

static gpointer rx_main(gpointer data)
{
    struct rx_thread *t = data;
    struct epoll_event ev[EVENTS];
    t->self = pthread_self();
    atomic_store(&t->started, true);
    for (unsigned i = 0; i < BATCH; i++) {
        t->iov[i] = (struct iovec){t->buf[i], PKT_MAX};
        t->msgs[i].msg_hdr = (struct msghdr){.msg_iov = &t->iov[i], .msg_iovlen = 1};
    }
    while (!atomic_load_explicit(&t->rx->stop, memory_order_relaxed)) {
        int n = epoll_wait(t->epfd, ev, EVENTS, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        uint64_t pk = 0, sc = 0;
        for (int i = 0; i < n; i++) {
            struct load_leg *leg = ev[i].data.ptr;
            if (atomic_load_explicit(&leg->rx_closed, memory_order_relaxed))
                continue;
            for (;;) {
                int r = recvmmsg(leg->fd, t->msgs, BATCH, MSG_DONTWAIT, NULL);
                sc++;
                if (r <= 0)
                    break;
                int64_t now = g_get_monotonic_time();
                for (int k = 0; k < r; k++) {
                    if (t->msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
                        continue;
                    load_leg_rx(leg, t->buf[k], t->msgs[k].msg_len, now);
                }
                pk += (unsigned)r;
                if (r < BATCH)
                    break;
            }
        }
        atomic_fetch_add_explicit(&t->packets, pk, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->syscalls, sc, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->wakeups, 1, memory_order_relaxed);
    }
    return NULL;
}

static void rx_destroy(void *data)
{
    struct load_rx *rx = data;
    load_rx_stop(rx);
    for (unsigned i = 0; i < rx->n; i++) {
        struct rx_thread *t = rx->t[i];
        for (guint k = 0; k < t->legs->len; k++)
            mem_deref(g_ptr_array_index(t->legs, k));
        g_ptr_array_free(t->legs, TRUE);
        if (t->epfd >= 0)
            close(t->epfd);
        g_mutex_clear(&t->lock);
        g_free(t);
    }
}

int load_rx_alloc(struct load_rx **rp, unsigned threads)
{
    if (!rp || !threads || threads > MAX_THREADS)
        return EINVAL;
    struct load_rx *rx = mem_zalloc(sizeof(*rx), rx_destroy);
    if (!rx)
        return ENOMEM;
    for (unsigned i = 0; i < threads; i++) {
        struct rx_thread *t = g_new0(struct rx_thread, 1);
        t->rx = rx;
        t->legs = g_ptr_array_new();
        g_mutex_init(&t->lock);
        t->epfd = epoll_create1(EPOLL_CLOEXEC);
        rx->t[rx->n++] = t;
        if (t->epfd < 0) {
            int err = errno;
            mem_deref(rx);
            return err;
        }
        char name[16];
        snprintf(name, sizeof(name), "mxload-rx%u", i);
        t->th = g_thread_new(name, rx_main, t);
    }
    *rp = rx;
    return 0;
}

int load_rx_add(struct load_rx *rx, struct load_leg *leg)
{
    if (!rx || !leg || rx->stopped)
        return EINVAL;
    struct rx_thread *t = rx->t[rx->next++ % rx->n];
    g_mutex_lock(&t->lock);
    g_ptr_array_add(t->legs, mem_ref(leg));
    g_mutex_unlock(&t->lock);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = leg};
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, leg->fd, &ev))
        return errno;
    return 0;
}

void load_rx_stop(struct load_rx *rx)
{
    if (!rx || rx->stopped)
        return;
    rx->stopped = true;
    atomic_store(&rx->stop, true);
    for (unsigned i = 0; i < rx->n; i++) {
        if (rx->t[i]->th)
            g_thread_join(rx->t[i]->th);
        rx->t[i]->th = NULL;
    }
}

int64_t load_rx_cpu_ns(struct load_rx *rx)
{
    int64_t sum = 0;
    for (unsigned i = 0; rx && !rx->stopped && i < rx->n; i++) {
        clockid_t cid;
        struct timespec ts;
        if (!atomic_load(&rx->t[i]->started) || pthread_getcpuclockid(rx->t[i]->self, &cid) ||
            clock_gettime(cid, &ts))
            continue;
        sum += (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    return sum;
}

void load_rx_stats(struct load_rx *rx, struct load_rx_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; rx && i < rx->n; i++) {
        st->packets += atomic_load(&rx->t[i]->packets);
        st->syscalls += atomic_load(&rx->t[i]->syscalls);
        st->wakeups += atomic_load(&rx->t[i]->wakeups);
    }
}
