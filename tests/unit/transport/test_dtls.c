#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "base/mem.h"
#include "media/dtls.h"
#include "media/srtp_session.h"

/* Two connections in one thread. Datagrams are queued, never delivered from inside the send
 * handler (OpenSSL is not re-entrant), and the test loop hands them over. */

struct dgram {
    struct end *to;
    size_t len;
    uint8_t data[];
};

struct end {
    struct dtls_conn *c;
    struct end *peer;
    GQueue *wire;
    bool drop_out; /* a black hole in front of this end's output */
    bool established;
    int closed_err;
    int closed_calls;
    struct dtls_srtp_keys keys;
    unsigned sent;
};

static void on_send(const uint8_t *pkt, size_t len, void *arg)
{
    struct end *e = arg;
    e->sent++;
    assert_true(len <= 1200); /* link MTU */
    if (e->drop_out)
        return;
    struct dgram *d = g_malloc(sizeof(*d) + len);
    d->to = e->peer;
    d->len = len;
    memcpy(d->data, pkt, len);
    g_queue_push_tail(e->wire, d);
}

static void on_established(const struct dtls_srtp_keys *keys, void *arg)
{
    struct end *e = arg;
    e->established = true;
    e->keys = *keys;
}

static void on_closed(int err, const char *reason, void *arg)
{
    struct end *e = arg;
    assert_non_null(reason);
    e->closed_err = err;
    e->closed_calls++;
}

static const struct dtls_conn_handlers handlers = {on_send, on_established, on_closed};

static gboolean set_flag(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Delivers datagrams and runs timers until done(a, b) or the deadline. */
static bool run_until(GQueue *wire, struct end *a, struct end *b,
                      bool (*done)(struct end *, struct end *), unsigned timeout_ms)
{
    bool expired = false;
    GSource *deadline = g_timeout_source_new(timeout_ms);
    g_source_set_callback(deadline, set_flag, &expired, NULL);
    g_source_attach(deadline, g_main_context_get_thread_default());

    while (!done(a, b) && !expired) {
        struct dgram *d = g_queue_pop_head(wire);
        if (d) {
            dtls_conn_recv(d->to->c, d->data, d->len);
            g_free(d);
            continue;
        }
        g_main_context_iteration(g_main_context_get_thread_default(), TRUE);
    }
    g_source_destroy(deadline);
    g_source_unref(deadline);
    return done(a, b);
}

static bool both_established(struct end *a, struct end *b)
{
    return a->established && b->established;
}

static bool any_closed(struct end *a, struct end *b)
{
    return a->closed_calls || b->closed_calls;
}

static bool both_closed(struct end *a, struct end *b)
{
    return a->closed_calls && b->closed_calls;
}

struct fixture {
    GMainContext *ctx;
    struct dtls_identity *ida, *idb;
    GQueue wire;
    struct end a, b;
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->ctx = g_main_context_new();
    g_main_context_push_thread_default(f->ctx);
    assert_int_equal(dtls_identity_alloc(&f->ida), 0);
    assert_int_equal(dtls_identity_alloc(&f->idb), 0);
    g_queue_init(&f->wire);
    f->a.wire = f->b.wire = &f->wire;
    f->a.peer = &f->b;
    f->b.peer = &f->a;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mem_deref(f->a.c);
    mem_deref(f->b.c);
    g_queue_clear_full(&f->wire, g_free);
    mem_deref(f->ida);
    mem_deref(f->idb);
    /* Drain sources destroyed with the connections. */
    while (g_main_context_iteration(f->ctx, FALSE))
        ;
    g_main_context_pop_thread_default(f->ctx);
    g_main_context_unref(f->ctx);
    g_free(f);
    return 0;
}

/* a is the client with identity ida, b the server with idb; each expects the other's
 * fingerprint given as (alg, hex) unless overridden. */
static void make_pair(struct fixture *f, const char *a_expects_alg, const char *a_expects,
                      const char *b_expects_alg, const char *b_expects, unsigned timeout_ms)
{
    struct dtls_fingerprint fpa, fpb;
    assert_int_equal(dtls_fingerprint_parse(&fpa, a_expects_alg, a_expects), 0);
    assert_int_equal(dtls_fingerprint_parse(&fpb, b_expects_alg, b_expects), 0);

    struct dtls_conn_cfg ca = {.role = DTLS_ROLE_CLIENT,
                               .remote_fp = &fpa,
                               .handshake_timeout_ms = timeout_ms,
                               .log_ctx = "test=a"};
    struct dtls_conn_cfg cb = {.role = DTLS_ROLE_SERVER,
                               .remote_fp = &fpb,
                               .handshake_timeout_ms = timeout_ms,
                               .log_ctx = "test=b"};
    assert_int_equal(dtls_conn_alloc(&f->a.c, f->ida, &ca, &handlers, &f->a), 0);
    assert_int_equal(dtls_conn_alloc(&f->b.c, f->idb, &cb, &handlers, &f->b), 0);
}

static void identity_fingerprint_format(void **state)
{
    struct fixture *f = *state;
    const char *fp = dtls_identity_fingerprint(f->ida);
    assert_non_null(fp);
    assert_int_equal(strlen(fp), 32 * 3 - 1);
    for (size_t i = 0; i < strlen(fp); i++) {
        if (i % 3 == 2)
            assert_int_equal(fp[i], ':');
        else
            assert_true((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'A' && fp[i] <= 'F'));
    }
    /* Two identities: two keys. */
    assert_string_not_equal(fp, dtls_identity_fingerprint(f->idb));

    char buf[3 * 64];
    assert_int_equal(dtls_identity_fingerprint_alg(f->ida, DTLS_FP_SHA256, buf, sizeof(buf)), 0);
    assert_string_equal(buf, fp);
    assert_int_equal(dtls_identity_fingerprint_alg(f->ida, DTLS_FP_SHA1, buf, sizeof(buf)), 0);
    assert_int_equal(strlen(buf), 20 * 3 - 1);
    assert_int_equal(dtls_identity_fingerprint_alg(f->ida, DTLS_FP_SHA512, buf, 10), EOVERFLOW);
}

static void fingerprint_parsing(void **state)
{
    struct fixture *f = *state;
    struct dtls_fingerprint fp;
    char lower[3 * 32];

    const char *up = dtls_identity_fingerprint(f->ida);
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-256", up), 0);
    assert_int_equal(fp.alg, DTLS_FP_SHA256);
    assert_int_equal(fp.len, 32);
    strcpy(lower, up);
    for (char *p = lower; *p; p++)
        *p = g_ascii_tolower(*p);
    struct dtls_fingerprint fp2;
    assert_int_equal(dtls_fingerprint_parse(&fp2, "SHA-256", lower), 0);
    assert_memory_equal(fp.md, fp2.md, 32);

    assert_int_equal(dtls_fingerprint_parse(&fp, "md5", up), EBADMSG);
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-1", up), EBADMSG); /* wrong length */
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-256", "AB:CD"), EBADMSG);
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-256", ""), EBADMSG);
    lower[5] = 'g';
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-256", lower), EBADMSG);
    strcpy(lower, up);
    lower[2] = '-';
    assert_int_equal(dtls_fingerprint_parse(&fp, "sha-256", lower), EBADMSG);
    assert_int_equal(dtls_fingerprint_parse(NULL, "sha-256", up), EINVAL);
}

static void handshake_exports_matching_keys(void **state)
{
    struct fixture *f = *state;
    make_pair(f, "sha-256", dtls_identity_fingerprint(f->idb), "sha-256",
              dtls_identity_fingerprint(f->ida), 5000);

    /* A ClientHello reaches the server before its owner started it (ICE not yet connected on
     * that side): it answers anyway. */
    assert_int_equal(dtls_conn_start(f->a.c), 0);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_established, 5000));
    assert_int_equal(dtls_conn_start(f->b.c), 0); /* after the fact: harmless */

    assert_true(dtls_conn_established(f->a.c));
    assert_true(dtls_conn_established(f->b.c));
    assert_int_equal(f->a.keys.profile, f->b.keys.profile);
    if (srtp_session_gcm_supported()) {
        assert_int_equal(f->a.keys.profile, DTLS_SRTP_AEAD_AES_128_GCM);
        assert_int_equal(f->a.keys.key_len, 28);
    } else {
        assert_int_equal(f->a.keys.profile, DTLS_SRTP_AES128_CM_SHA1_80);
        assert_int_equal(f->a.keys.key_len, 30);
    }
    assert_memory_equal(f->a.keys.local_key, f->b.keys.remote_key, f->a.keys.key_len);
    assert_memory_equal(f->a.keys.remote_key, f->b.keys.local_key, f->a.keys.key_len);
    assert_memory_not_equal(f->a.keys.local_key, f->a.keys.remote_key, f->a.keys.key_len);
    assert_int_equal(f->a.closed_calls + f->b.closed_calls, 0);

    /* close_notify: the peer learns, we do not hear about our own shutdown. */
    dtls_conn_shutdown(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, any_closed, 2000));
    assert_int_equal(f->b.closed_err, ECONNRESET);
    assert_int_equal(f->b.closed_calls, 1);
    assert_int_equal(f->a.closed_calls, 0);
    assert_false(dtls_conn_established(f->a.c));
}

static void other_fingerprint_algorithms(void **state)
{
    struct fixture *f = *state;
    char fpb[3 * 64], fpa[3 * 64];
    assert_int_equal(dtls_identity_fingerprint_alg(f->idb, DTLS_FP_SHA1, fpb, sizeof(fpb)), 0);
    assert_int_equal(dtls_identity_fingerprint_alg(f->ida, DTLS_FP_SHA512, fpa, sizeof(fpa)), 0);
    for (char *p = fpa; *p; p++)
        *p = g_ascii_tolower(*p);
    make_pair(f, "sha-1", fpb, "SHA-512", fpa, 5000);
    dtls_conn_start(f->b.c);
    dtls_conn_start(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_established, 5000));

    assert_int_equal(dtls_identity_fingerprint_alg(f->idb, DTLS_FP_SHA384, fpb, sizeof(fpb)), 0);
    assert_int_equal(strlen(fpb), 48 * 3 - 1);
}

static void fingerprint_mismatch_fails(void **state)
{
    struct fixture *f = *state;
    /* The client expects the wrong certificate (its own). */
    make_pair(f, "sha-256", dtls_identity_fingerprint(f->ida), "sha-256",
              dtls_identity_fingerprint(f->ida), 5000);
    dtls_conn_start(f->b.c);
    dtls_conn_start(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_closed, 5000));
    assert_int_equal(f->a.closed_err, EKEYREJECTED);
    assert_int_equal(f->b.closed_err, EPROTO); /* got the alert */
    assert_false(f->a.established);
    assert_false(f->b.established);
    assert_int_equal(f->a.closed_calls, 1);
    assert_int_equal(f->b.closed_calls, 1);
}

static void server_rejects_client_certificate(void **state)
{
    struct fixture *f = *state;
    make_pair(f, "sha-256", dtls_identity_fingerprint(f->idb), "sha-256",
              dtls_identity_fingerprint(f->idb), 5000);
    dtls_conn_start(f->b.c);
    dtls_conn_start(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_closed, 5000));
    assert_int_equal(f->b.closed_err, EKEYREJECTED);
    assert_false(f->a.established);
    assert_false(f->b.established);
}

static void handshake_times_out_and_retransmits(void **state)
{
    struct fixture *f = *state;
    make_pair(f, "sha-256", dtls_identity_fingerprint(f->idb), "sha-256",
              dtls_identity_fingerprint(f->ida), 1000);
    f->a.drop_out = true; /* nothing the client sends arrives */
    dtls_conn_start(f->b.c);
    dtls_conn_start(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_closed, 5000));
    assert_int_equal(f->a.closed_err, ETIMEDOUT);
    assert_int_equal(f->b.closed_err, ETIMEDOUT);
    assert_true(f->a.sent >= 2); /* the ClientHello and at least one retransmission */
    assert_int_equal(f->b.sent, 0);
}

static void garbage_is_dropped(void **state)
{
    struct fixture *f = *state;
    make_pair(f, "sha-256", dtls_identity_fingerprint(f->idb), "sha-256",
              dtls_identity_fingerprint(f->ida), 5000);
    dtls_conn_start(f->b.c);

    uint8_t junk[300];
    GRand *rnd = g_rand_new_with_seed(42); /* deterministic: the same junk every run */
    for (unsigned i = 0; i < 200; i++) {
        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (uint8_t)g_rand_int(rnd);
        junk[0] = (uint8_t)(20 + i % 44); /* looks like DTLS */
        dtls_conn_recv(f->b.c, junk, 1 + i % sizeof(junk));
    }
    g_rand_free(rnd);
    /* A truncated but plausible handshake record header. */
    const uint8_t hdr[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    dtls_conn_recv(f->b.c, hdr, sizeof(hdr));
    dtls_conn_recv(f->b.c, hdr, 0);
    dtls_conn_recv(NULL, hdr, sizeof(hdr));

    dtls_conn_start(f->a.c);
    assert_true(run_until(&f->wire, &f->a, &f->b, both_established, 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_fingerprint_format, setup, teardown),
        cmocka_unit_test_setup_teardown(fingerprint_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_exports_matching_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(other_fingerprint_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(fingerprint_mismatch_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(server_rejects_client_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(handshake_times_out_and_retransmits, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_is_dropped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
