/*
 * The two-transport fixture of the transport tests (see transport_fixture.h): the handlers that
 * record what each peer sees, the owner-loop waits, and the helpers that make, describe and
 * exercise a pair of transports.
 */
#include "transport_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/mem.h"
#include "media/ice_candidate.h"

static void note_call(struct peer *p)
{
    p->callbacks++;
    if (p->closed)
        p->calls_after_close++;
}

static void on_local_candidate(const char *cand, void *arg)
{
    struct peer *p = arg;
    note_call(p);
    assert_non_null(strstr(cand, "candidate:"));
    g_ptr_array_add(p->cands, g_strdup(cand));

    struct peer *o = p->other;
    if (!o->t || o->closed)
        return;
    if (p->fwd == FWD_DIRECT) {
        assert_int_equal(webrtc_transport_add_remote_candidate(o->t, cand), 0);
    } else if (p->fwd == FWD_MDNS) {
        struct ice_candidate c;
        char line[ICE_CAND_MAX_LINE];
        assert_int_equal(ice_candidate_parse(&c, cand, NULL), 0);
        strcpy(c.address, "6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b.local");
        assert_int_equal(ice_candidate_format(&c, line, sizeof(line)), 0);
        assert_int_equal(webrtc_transport_add_remote_candidate(o->t, line), ENOTSUP);
    }
}

static void on_gathering_done(void *arg)
{
    struct peer *p = arg;
    note_call(p);
    p->gathering_done++;
}

static void on_connected(void *arg)
{
    struct peer *p = arg;
    note_call(p);
    p->connected++;
}

static void on_failed(enum webrtc_failure why, const char *detail, void *arg)
{
    struct peer *p = arg;
    note_call(p);
    p->failed++;
    p->why = why;
    g_strlcpy(p->detail, detail ? detail : "", sizeof(p->detail));
    if (p->close_on_fail) {
        webrtc_transport_close(p->t); /* from inside a handler */
        p->closed = true;
    }
}

static const struct webrtc_transport_handlers handlers = {
    on_local_candidate,
    on_gathering_done,
    on_connected,
    on_failed,
};

/* Worker thread. */
static void on_media(const uint8_t *pkt, size_t len, bool rtcp, void *arg)
{
    struct peer *p = arg;
    struct rx *r = g_new0(struct rx, 1);
    r->rtcp = rtcp;
    r->len = len < sizeof(r->data) ? len : sizeof(r->data);
    memcpy(r->data, pkt, r->len);
    g_mutex_lock(&p->lock);
    g_ptr_array_add(p->rx, r);
    g_mutex_unlock(&p->lock);
    g_main_context_wakeup(p->owner);
}

unsigned rx_count(struct peer *p)
{
    g_mutex_lock(&p->lock);
    unsigned n = p->rx->len;
    g_mutex_unlock(&p->lock);
    return n;
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

/* Runs the owner loop until cond(f) or timeout_ms. A 10 ms tick re-checks conditions that no
 * event announces (info fields). */
bool wait_until(struct fixture *f, bool (*cond)(struct fixture *), unsigned timeout_ms)
{
    bool expired = false;
    GSource *deadline = g_timeout_source_new(timeout_ms);
    g_source_set_callback(deadline, set_flag, &expired, NULL);
    g_source_attach(deadline, f->ctx);
    GSource *t = g_timeout_source_new(10);
    g_source_set_callback(t, tick, NULL, NULL);
    g_source_attach(t, f->ctx);

    while (!cond(f) && !expired)
        g_main_context_iteration(f->ctx, TRUE);
    g_source_destroy(deadline);
    g_source_unref(deadline);
    g_source_destroy(t);
    g_source_unref(t);
    return cond(f);
}

static bool never(struct fixture *f)
{
    return false;
}

/* Runs the loop for ms, for "nothing more happens" checks. */
void run_for(struct fixture *f, unsigned ms)
{
    (void)wait_until(f, never, ms);
}

bool both_connected(struct fixture *f)
{
    return f->a.connected && f->b.connected;
}

bool both_failed(struct fixture *f)
{
    return f->a.failed && f->b.failed;
}

bool a_failed(struct fixture *f)
{
    return f->a.failed > 0;
}

bool b_failed(struct fixture *f)
{
    return f->b.failed > 0;
}

bool both_gathered(struct fixture *f)
{
    return f->a.gathering_done && f->b.gathering_done;
}

void fixture_peer_init(struct fixture *f, struct peer *p, const char *name, struct peer *other)
{
    p->name = name;
    p->other = other;
    p->cands = g_ptr_array_new_with_free_func(g_free);
    p->rx = g_ptr_array_new_with_free_func(g_free);
    g_mutex_init(&p->lock);
    p->owner = f->ctx;
    assert_int_equal(dtls_identity_alloc(&p->id), 0);
}

void fixture_peer_free(struct peer *p)
{
    if (p->t) {
        webrtc_transport_close(p->t);
        p->t = mem_deref(p->t);
    }
    mem_deref(p->id);
    g_ptr_array_free(p->cands, TRUE);
    g_ptr_array_free(p->rx, TRUE);
    g_mutex_clear(&p->lock);
}

int fixture_setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->ctx = g_main_context_new();
    g_main_context_push_thread_default(f->ctx);
    assert_int_equal(media_workers_alloc(&f->workers, 2), 0);
    f->ice = ICE_MODE_FULL;
    fixture_peer_init(f, &f->a, "a", &f->b);
    fixture_peer_init(f, &f->b, "b", &f->a);
    *state = f;
    return 0;
}

int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    fixture_peer_free(&f->a);
    fixture_peer_free(&f->b);
    /* Drain what was still queued for the owner: those drains hold the last references. */
    while (g_main_context_iteration(f->ctx, FALSE))
        ;
    mem_deref(f->workers);
    g_main_context_pop_thread_default(f->ctx);
    g_main_context_unref(f->ctx);
    g_free(f);
    return 0;
}

void make(struct fixture *f, struct peer *p, bool controlling, const struct opts *o)
{
    struct webrtc_transport_cfg cfg = {
        .worker = media_workers_pick(f->workers),
        .local_ip = "127.0.0.1",
        .controlling = controlling,
        .identity = p->id,
        .log_ctx = p->name,
        .ice = f->ice,
    };
    if (o) {
        cfg.consent_timeout_ms = o->consent_timeout_ms;
        cfg.port_min = o->port_min;
        cfg.port_max = o->port_max;
        cfg.connect_timeout_ms = o->connect_timeout_ms;
    }
    p->role = controlling ? DTLS_ROLE_CLIENT : DTLS_ROLE_SERVER;
    assert_int_equal(webrtc_transport_alloc(&p->t, &cfg, &handlers, p), 0);
    struct media_transport *mt = webrtc_transport_media(p->t);
    assert_non_null(mt);
    mt->recvh = on_media;
    mt->recv_arg = p;
}

/* p learns what q's SDP would carry. */
int set_remote_from(struct peer *p, struct peer *q)
{
    const char *ufrag, *pwd;
    webrtc_transport_local_credentials(q->t, &ufrag, &pwd);
    return webrtc_transport_set_remote(p->t, ufrag, pwd, "sha-256",
                                       dtls_identity_fingerprint(q->id), p->role);
}

size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, uint8_t fill, size_t payload)
{
    memset(buf, 0, 12);
    buf[0] = 0x80;
    buf[1] = 111;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
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
    /* Receiver report without blocks plus an SDES-less padding word: V=2 PT=201 len=1. */
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

static unsigned want_a, want_b;

static bool a_has_want(struct fixture *f)
{
    return rx_count(&f->a) >= want_a;
}

static bool b_has_want(struct fixture *f)
{
    return rx_count(&f->b) >= want_b;
}

/* Sends n RTP packets and one RTCP from `from` and checks they arrive in the clear, intact. */
void check_media(struct fixture *f, struct peer *from, struct peer *to, uint16_t seq0)
{
    uint8_t sent[4][1500], buf[1500];
    size_t sent_len[4];
    unsigned base = rx_count(to);
    struct media_transport *mt = webrtc_transport_media(from->t);

    for (int i = 0; i < 3; i++) {
        size_t len = make_rtp(buf, (uint16_t)(seq0 + i), 0x11223344, (uint8_t)(i * 7), 160);
        memcpy(sent[i], buf, len);
        sent_len[i] = len;
        assert_int_equal(media_transport_send(mt, buf, len, sizeof(buf), false), 0);
    }
    size_t len = make_rtcp(buf, 0x11223344);
    memcpy(sent[3], buf, len);
    sent_len[3] = len;
    assert_int_equal(media_transport_send(mt, buf, len, sizeof(buf), true), 0);

    want_a = want_b = base + 4;
    assert_true(wait_until(f, to == &f->a ? a_has_want : b_has_want, WAIT_MS));
    g_mutex_lock(&to->lock);
    for (unsigned i = 0; i < 4; i++) {
        struct rx *r = g_ptr_array_index(to->rx, base + i);
        assert_int_equal(r->rtcp, i == 3);
        assert_int_equal(r->len, sent_len[i]);
        assert_memory_equal(r->data, sent[i], sent_len[i]);
    }
    g_mutex_unlock(&to->lock);
}
