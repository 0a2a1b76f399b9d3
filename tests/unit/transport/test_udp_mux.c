/*
 * media/udp_mux.h: batched receive with the source of each datagram, direct sends from ordinary
 * threads, per-thread batches (held until udp_mux_flush_thread(), a full batch, the hold limit, or
 * the thread's exit), close() while datagrams keep arriving, and refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"
#include "media/udp_mux.h"

#define WAIT_MS 5000

static int plain_socket(struct sockaddr_in *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t len = sizeof(*bound);
    assert_int_equal(getsockname(fd, (struct sockaddr *)bound, &len), 0);
    return fd;
}

/* Datagrams fd receives within ms (stops at the first quiet gap of ms). */
static unsigned count_within(int fd, int ms)
{
    unsigned n = 0;
    uint8_t buf[2000];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, ms) == 1) {
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            n++;
    }
    return n;
}

struct rxlog {
    GMutex lock;
    unsigned n, bad;
    struct sockaddr_in expect_src;
};

static void on_rx(uint8_t *pkt, size_t len, const struct sockaddr *src, socklen_t srclen,
                  int64_t now_us, void *arg)
{
    struct rxlog *r = arg;
    const struct sockaddr_in *sin = (const struct sockaddr_in *)src;
    g_mutex_lock(&r->lock);
    if (len != 100 || pkt[0] != (uint8_t)r->n || src->sa_family != AF_INET ||
        sin->sin_port != r->expect_src.sin_port || now_us <= 0)
        r->bad++;
    r->n++;
    g_mutex_unlock(&r->lock);
}

static unsigned rx_n(struct rxlog *r)
{
    g_mutex_lock(&r->lock);
    unsigned n = r->n;
    g_mutex_unlock(&r->lock);
    return n;
}

static void receives_in_batches(void **state)
{
    GMainContext *ctx = g_main_context_new();
    struct rxlog r = {0};
    g_mutex_init(&r.lock);
    int fd = plain_socket(&r.expect_src);
    struct udp_mux_cfg c = {.ctx = ctx, .local_ip = "127.0.0.1"};
    struct udp_mux *m;
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), 0);
    assert_string_equal(udp_mux_local_ip(m), "127.0.0.1");
    assert_true(udp_mux_local_port(m) > 0);
    socklen_t dl;
    const struct sockaddr *dst = udp_mux_local_addr(m, &dl);

    uint8_t pkt[100] = {0};
    for (unsigned i = 0; i < 100; i++) {
        pkt[0] = (uint8_t)i;
        assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0, dst, dl), (ssize_t)sizeof(pkt));
    }
    gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
    while (rx_n(&r) < 100 && g_get_monotonic_time() < deadline)
        g_main_context_iteration(ctx, FALSE);
    assert_int_equal(rx_n(&r), 100);
    assert_int_equal(r.bad, 0);
    struct udp_mux_stats st;
    udp_mux_get_stats(m, &st);
    assert_int_equal(st.rx_packets, 100);
    assert_true(st.rx_batches < 100); /* several datagrams per recvmmsg */

    udp_mux_close(m);
    udp_mux_close(m); /* idempotent */
    mem_deref(m);
    close(fd);
    g_mutex_clear(&r.lock);
    g_main_context_unref(ctx);
}

struct sender {
    struct udp_mux *mux;
    struct sockaddr_in to;
    int rfd;
    unsigned got_before_flush, got_after_flush, got_full, got_held, got_second;
};

static void send_n(struct sender *s, unsigned n)
{
    uint8_t pkt[100] = {0};
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(
            udp_mux_send(s->mux, pkt, sizeof(pkt), (struct sockaddr *)&s->to, sizeof(s->to)), 0);
}

/* A mixer clock's thread: it batches once it has called udp_mux_flush_thread(). */
static gpointer batching_thread(gpointer data)
{
    struct sender *s = data;
    udp_mux_flush_thread();
    send_n(s, 5);
    s->got_before_flush = count_within(s->rfd, 50);
    udp_mux_flush_thread();
    s->got_after_flush = count_within(s->rfd, 200);

    send_n(s, UDP_MUX_BATCH); /* a full batch leaves by itself */
    s->got_full = count_within(s->rfd, 200);

    /* One datagram held past the limit leaves with the next send. */
    send_n(s, 1);
    g_usleep(UDP_MUX_HOLD_MAX_US + 5000);
    send_n(s, 1);
    s->got_held = count_within(s->rfd, 100);

    /* The last one leaves when the thread ends. */
    return NULL;
}

static void sends_direct_or_batched(void **state)
{
    GMainContext *ctx = g_main_context_new();
    struct rxlog r = {0};
    g_mutex_init(&r.lock);
    struct sender s = {0};
    s.rfd = plain_socket(&s.to);
    struct udp_mux_cfg c = {.ctx = ctx, .local_ip = "127.0.0.1", .batch_send = true};
    assert_int_equal(udp_mux_alloc(&s.mux, &c, on_rx, &r), 0);

    /* This thread never called udp_mux_flush_thread(): every send goes at once. */
    send_n(&s, 3);
    assert_int_equal(count_within(s.rfd, 200), 3);
    struct udp_mux_stats st;
    udp_mux_get_stats(s.mux, &st);
    assert_int_equal(st.tx_packets, 3);
    assert_int_equal(st.tx_syscalls, 3);

    GThread *t = g_thread_new("clock", batching_thread, &s);
    g_thread_join(t);
    assert_int_equal(s.got_before_flush, 0);
    assert_int_equal(s.got_after_flush, 5);
    assert_int_equal(s.got_full, UDP_MUX_BATCH);
    assert_int_equal(s.got_held, 1);
    assert_int_equal(count_within(s.rfd, 200), 1); /* flushed at the thread's exit */
    udp_mux_get_stats(s.mux, &st);
    assert_int_equal(st.tx_packets, 3 + 5 + UDP_MUX_BATCH + 2);
    assert_true(st.tx_syscalls <= 3 + 4);
    assert_int_equal(st.tx_errors, 0);

    /* Too large for a batch slot, or bad arguments. */
    uint8_t big[UDP_MUX_MAX_PACKET + 1] = {0};
    assert_int_equal(udp_mux_send(s.mux, NULL, 1, (struct sockaddr *)&s.to, sizeof(s.to)), EINVAL);
    assert_int_equal(udp_mux_send(s.mux, big, sizeof(big), NULL, 0), EINVAL);

    udp_mux_close(s.mux);
    mem_deref(s.mux);
    close(s.rfd);
    g_mutex_clear(&r.lock);
    g_main_context_unref(ctx);
}

/* The worker: runs ctx until told to stop. */
struct loop {
    GMainContext *ctx;
    atomic_bool stop;
};

static gpointer loop_thread(gpointer data)
{
    struct loop *l = data;
    g_main_context_push_thread_default(l->ctx);
    while (!atomic_load(&l->stop))
        g_main_context_iteration(l->ctx, TRUE);
    g_main_context_pop_thread_default(l->ctx);
    return NULL;
}

static gboolean quit_cb(gpointer data)
{
    return G_SOURCE_REMOVE;
}

static void close_while_datagrams_arrive(void **state)
{
    struct loop l = {.ctx = g_main_context_new()};
    struct rxlog r = {0};
    g_mutex_init(&r.lock);
    int fd = plain_socket(&r.expect_src);
    struct udp_mux_cfg c = {.ctx = l.ctx, .local_ip = "127.0.0.1", .batch = 8};
    struct udp_mux *m;
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), 0);
    GThread *t = g_thread_new("worker", loop_thread, &l);
    socklen_t dl;
    const struct sockaddr *dst = udp_mux_local_addr(m, &dl);

    uint8_t pkt[100] = {0};
    for (unsigned i = 0; i < 2000; i++) {
        (void)sendto(fd, pkt, sizeof(pkt), MSG_DONTWAIT, dst, dl);
        if (i == 1000) {
            /* Wait until the worker is receiving, then close under its feet. */
            gint64 deadline = g_get_monotonic_time() + WAIT_MS * 1000;
            while (rx_n(&r) == 0 && g_get_monotonic_time() < deadline)
                g_thread_yield();
            assert_true(rx_n(&r) > 0);
            udp_mux_close(m);
        }
    }
    unsigned after_close = rx_n(&r);
    for (int i = 0; i < 5; i++) {
        g_main_context_invoke(l.ctx, quit_cb, NULL); /* a few loop turns on the worker */
        (void)count_within(fd, 20);
    }
    assert_int_equal(rx_n(&r), after_close); /* no handler after close() returned */
    mem_deref(m);

    atomic_store(&l.stop, true);
    g_main_context_wakeup(l.ctx);
    g_thread_join(t);
    close(fd);
    g_mutex_clear(&r.lock);
    g_main_context_unref(l.ctx);
}

static void refusals(void **state)
{
    GMainContext *ctx = g_main_context_new();
    struct rxlog r = {0};
    struct udp_mux *m = NULL, *m2 = NULL;
    struct udp_mux_cfg c = {.ctx = ctx, .local_ip = "not-an-ip"};
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), EINVAL);
    c.local_ip = "127.0.0.1";
    c.port_min = 2000;
    c.port_max = 1000;
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), EINVAL);
    c.port_min = c.port_max = 0;
    assert_int_equal(udp_mux_alloc(&m, &c, NULL, &r), EINVAL);
    c.batch = 1000;
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), EINVAL);

    /* A one-port range that is taken. */
    c.batch = 0;
    assert_int_equal(udp_mux_alloc(&m, &c, on_rx, &r), 0);
    c.port_min = c.port_max = udp_mux_local_port(m);
    assert_int_equal(udp_mux_alloc(&m2, &c, on_rx, &r), EADDRINUSE);
    assert_null(m2);

    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(udp_mux_sockaddr("::1", 5, &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    char s[64];
    udp_mux_addr_string((struct sockaddr *)&ss, s, sizeof(s));
    assert_string_equal(s, "[::1]:5");
    assert_int_equal(udp_mux_sockaddr("example.org", 5, &ss, &len), EINVAL);

    udp_mux_close(m);
    mem_deref(m);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receives_in_batches),
        cmocka_unit_test(sends_direct_or_batched),
        cmocka_unit_test(close_while_datagrams_arrive),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
