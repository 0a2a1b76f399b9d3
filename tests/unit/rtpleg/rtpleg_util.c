/* Helpers of the plain RTP leg tests (see rtpleg_util.h). */
#include "rtpleg_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"
#include "media/worker.h"

void loop_init(struct loop *l)
{
    l->ctx = g_main_context_new();
    g_main_context_push_thread_default(l->ctx);
    assert_int_equal(media_workers_alloc(&l->workers, 2), 0);
}

void loop_fini(struct loop *l)
{
    while (g_main_context_iteration(l->ctx, FALSE))
        ;
    mem_deref(l->workers);
    g_main_context_pop_thread_default(l->ctx);
    g_main_context_unref(l->ctx);
}

static gboolean set_flag(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

static gboolean tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

bool wait_for(struct loop *l, bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
    bool expired = false;
    GSource *deadline = g_timeout_source_new(timeout_ms);
    g_source_set_callback(deadline, set_flag, &expired, NULL);
    g_source_attach(deadline, l->ctx);
    GSource *t = g_timeout_source_new(5);
    g_source_set_callback(t, tick, NULL, NULL);
    g_source_attach(t, l->ctx);
    bool ok;
    while (!(ok = cond(arg)) && !expired)
        g_main_context_iteration(l->ctx, TRUE);
    g_source_destroy(deadline);
    g_source_unref(deadline);
    g_source_destroy(t);
    g_source_unref(t);
    return ok; /* cond runs once more only while it is false: it may have side effects */
}

static bool never(void *arg)
{
    return false;
}

void run_for(struct loop *l, unsigned ms)
{
    (void)wait_for(l, never, NULL, ms);
}

/* ---- recorder ---- */

void recorder_init(struct recorder *r, GMainContext *owner)
{
    memset(r, 0, sizeof(*r));
    g_mutex_init(&r->lock);
    r->pkts = g_ptr_array_new_with_free_func(g_free);
    r->owner = owner;
}

void recorder_fini(struct recorder *r)
{
    g_ptr_array_free(r->pkts, TRUE);
    g_mutex_clear(&r->lock);
}

static void on_media(const uint8_t *pkt, size_t len, bool rtcp, void *arg)
{
    struct recorder *r = arg;
    struct rx_pkt *p = g_new0(struct rx_pkt, 1);
    p->rtcp = rtcp;
    p->len = len < sizeof(p->data) ? len : sizeof(p->data);
    memcpy(p->data, pkt, p->len);
    g_mutex_lock(&r->lock);
    if (r->closed)
        r->after_close++;
    g_ptr_array_add(r->pkts, p);
    g_mutex_unlock(&r->lock);
    g_main_context_wakeup(r->owner);
}

void recorder_attach(struct recorder *r, struct media_transport *t)
{
    t->recv_arg = r;
    t->recvh = on_media;
}

unsigned recorder_count(struct recorder *r)
{
    g_mutex_lock(&r->lock);
    unsigned n = r->pkts->len;
    g_mutex_unlock(&r->lock);
    return n;
}

struct rx_pkt recorder_get(struct recorder *r, unsigned i)
{
    struct rx_pkt p;
    g_mutex_lock(&r->lock);
    assert_true(i < r->pkts->len);
    p = *(struct rx_pkt *)g_ptr_array_index(r->pkts, i);
    g_mutex_unlock(&r->lock);
    return p;
}

struct rwait {
    struct recorder *r;
    unsigned n;
};

static bool has_n(void *arg)
{
    struct rwait *w = arg;
    return recorder_count(w->r) >= w->n;
}

bool recorder_wait(struct loop *l, struct recorder *r, unsigned n)
{
    struct rwait w = {r, n};
    return wait_for(l, has_n, &w, WAIT_MS);
}

/* ---- sockets ---- */

int udp_open(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (port)
        *port = ntohs(a.sin_port);
    return fd;
}

int udp_send(int fd, uint16_t port, const void *buf, size_t len)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    ssize_t n = sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
    return n == (ssize_t)len ? 0 : errno;
}

int udp_recv(int fd, void *buf, size_t cap, unsigned timeout_ms, uint16_t *from_port)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)timeout_ms) != 1)
        return -1;
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&a, &alen);
    if (n >= 0 && from_port)
        *from_port = ntohs(a.sin_port);
    return (int)n;
}

bool udp_pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

uint16_t free_port_pair(void)
{
    for (int i = 0; i < 100; i++) {
        uint16_t p;
        int fd = udp_open(&p);
        close(fd);
        p &= (uint16_t)~1u;
        if (p < 1024 || p > 65000)
            continue;
        int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(p)};
        bool ok = !bind(a, (struct sockaddr *)&sa, sizeof(sa));
        sa.sin_port = htons((uint16_t)(p + 1));
        ok = ok && !bind(b, (struct sockaddr *)&sa, sizeof(sa));
        close(a);
        close(b);
        if (ok)
            return p;
    }
    fail_msg("no free port pair");
    return 0;
}

/* ---- packets ---- */

size_t make_rtp(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ssrc, uint8_t fill, size_t payload)
{
    memset(buf, 0, 12);
    buf[0] = 0x80;
    buf[1] = pt;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[4] = (uint8_t)(seq >> 4); /* some timestamp */
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    for (size_t i = 0; i < payload; i++)
        buf[12 + i] = (uint8_t)(fill + i);
    return 12 + payload;
}

size_t make_rtcp(uint8_t *buf, uint32_t ssrc)
{
    buf[0] = 0x80;
    buf[1] = 201;
    buf[2] = 0;
    buf[3] = 1;
    buf[4] = (uint8_t)(ssrc >> 24);
    buf[5] = (uint8_t)(ssrc >> 16);
    buf[6] = (uint8_t)(ssrc >> 8);
    buf[7] = (uint8_t)ssrc;
    return 8;
}

uint16_t rtp_seq_of(const uint8_t *pkt)
{
    return (uint16_t)((pkt[2] << 8) | pkt[3]);
}

struct sendw {
    struct media_transport *t;
    uint8_t *pkt;
    size_t len, cap;
    bool rtcp;
    int err;
};

static bool try_send(void *arg)
{
    struct sendw *s = arg;
    s->err = media_transport_send(s->t, s->pkt, s->len, s->cap, s->rtcp);
    return s->err != EAGAIN;
}

int send_when_ready(struct loop *l, struct media_transport *t, uint8_t *pkt, size_t len, size_t cap,
                    bool rtcp)
{
    struct sendw s = {t, pkt, len, cap, rtcp, EAGAIN};
    (void)wait_for(l, try_send, &s, WAIT_MS);
    return s.err;
}
