/*
 * The WebRTC transport end to end: two transports on two media workers over 127.0.0.1
 * (transport_fixture.h) connect, carry media both ways, fail for each documented reason, close at
 * any moment without a late handler, keep to their port range and survive an ICE restart. The
 * consent-freshness case is test_webrtc_consent.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "base/mem.h"
#include "media/ice_candidate.h"
#include "transport_fixture.h"

static uint16_t port_of(const char *hostport)
{
    const char *colon = strrchr(hostport, ':');
    assert_non_null(colon);
    return (uint16_t)atoi(colon + 1);
}

/* A port base for this process, so parallel test runs do not share ranges. */
static uint16_t port_base(unsigned slot)
{
    return (uint16_t)(20000 + (getpid() % 1500) * 20 + slot * 10);
}

static void connect_and_exchange_media(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;

    /* Nothing can be sent before DTLS is done. */
    uint8_t buf[1500];
    size_t len = make_rtp(buf, 1, 1, 0, 20);
    assert_int_equal(
        media_transport_send(webrtc_transport_media(f->a.t), buf, len, sizeof(buf), false), EAGAIN);

    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    assert_int_equal(webrtc_transport_gather(f->a.t), 0);
    assert_int_equal(webrtc_transport_gather(f->b.t), 0);
    assert_true(wait_until(f, both_connected, WAIT_MS));
    assert_int_equal(f->a.failed + f->b.failed, 0);
    assert_int_equal(f->a.connected, 1);
    assert_true(f->a.gathering_done >= 1);
    assert_true(f->a.cands->len >= 1);

    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    assert_true(ia.connected);
    assert_true(ib.connected);
    assert_non_null(strstr(ia.local_addr, "127.0.0.1:"));
    assert_string_equal(ia.local_addr, ib.remote_addr);
    assert_string_equal(ia.remote_addr, ib.local_addr);
    assert_true(ia.ice_connected_us > 0);
    assert_true(ia.dtls_done_us >= ia.ice_connected_us);
    assert_true(ib.dtls_done_us > 0);
    assert_true(strlen(ia.srtp_profile) > 0);
    assert_string_equal(ia.srtp_profile, ib.srtp_profile);

    check_media(f, &f->a, &f->b, 100);
    check_media(f, &f->b, &f->a, 5000);
    check_media(f, &f->a, &f->b, 103);

    webrtc_transport_get_info(f->b.t, &ib);
    assert_int_equal(ib.srtp_rx_packets, 8);
    assert_int_equal(ib.srtp_rx_auth_fail, 0);
    webrtc_transport_get_info(f->a.t, &ia);
    assert_int_equal(ia.srtp_tx_packets, 8);

    /* The same description again changes nothing. */
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    /* A new fingerprint on an existing association is refused. */
    const char *ufrag, *pwd;
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    assert_int_equal(webrtc_transport_set_remote(f->a.t, ufrag, pwd, "sha-256",
                                                 dtls_identity_fingerprint(f->a.id),
                                                 DTLS_ROLE_CLIENT),
                     ENOTSUP);
    assert_int_equal(webrtc_transport_set_remote(f->a.t, ufrag, pwd, "sha-256", "zz", 0), EBADMSG);
    assert_int_equal(f->a.failed + f->b.failed, 0);
}

static void fingerprint_mismatch_fails_without_media(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;

    /* a expects its own certificate from b. */
    const char *ufrag, *pwd;
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    assert_int_equal(webrtc_transport_set_remote(f->a.t, ufrag, pwd, "sha-256",
                                                 dtls_identity_fingerprint(f->a.id),
                                                 DTLS_ROLE_CLIENT),
                     0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);

    assert_true(wait_until(f, both_failed, WAIT_MS));
    assert_int_equal(f->a.why, WEBRTC_FAIL_FINGERPRINT);
    assert_int_equal(f->b.why, WEBRTC_FAIL_DTLS); /* it got the alert */
    assert_int_equal(f->a.connected + f->b.connected, 0);

    uint8_t buf[1500];
    size_t len = make_rtp(buf, 1, 1, 0, 20);
    assert_int_equal(
        media_transport_send(webrtc_transport_media(f->a.t), buf, len, sizeof(buf), false), EAGAIN);
    assert_int_equal(
        media_transport_send(webrtc_transport_media(f->b.t), buf, len, sizeof(buf), false), EAGAIN);
    run_for(f, 200);
    assert_int_equal(rx_count(&f->a) + rx_count(&f->b), 0);
    assert_int_equal(f->a.failed, 1); /* reported once */
    assert_int_equal(f->b.failed, 1);
    struct webrtc_transport_info ia;
    webrtc_transport_get_info(f->a.t, &ia);
    assert_false(ia.connected);
    assert_int_equal(ia.dtls_done_us, 0);
}

static void mdns_only_connects_through_peer_reflexive(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = FWD_MDNS; /* b only ever sees a's candidates as .local names */
    f->b.fwd = FWD_DIRECT;

    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));

    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    assert_string_equal(ib.remote_addr, ia.local_addr); /* learnt from a's checks */
    check_media(f, &f->b, &f->a, 1);
}

static void candidates_before_and_after_set_remote(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_NONE;

    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_gathered, WAIT_MS));
    assert_true(f->a.cands->len >= 1);
    assert_true(f->b.cands->len >= 1);

    /* b gets a's candidates before a's description... */
    for (unsigned i = 0; i < f->a.cands->len; i++)
        assert_int_equal(
            webrtc_transport_add_remote_candidate(f->b.t, g_ptr_array_index(f->a.cands, i)), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    /* ...a gets b's after, in two batches, "a=" prefixed. */
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    run_for(f, 50);
    for (unsigned i = 0; i < f->b.cands->len; i++) {
        char line[ICE_CAND_MAX_LINE + 2];
        snprintf(line, sizeof(line), "a=%s", (const char *)g_ptr_array_index(f->b.cands, i));
        assert_int_equal(webrtc_transport_add_remote_candidate(f->a.t, line), 0);
        if (i == 0)
            run_for(f, 20);
    }
    webrtc_transport_remote_gathering_done(f->a.t);
    webrtc_transport_remote_gathering_done(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));
    check_media(f, &f->a, &f->b, 42);
}

static void unreachable_candidates_fail_ice(void **state)
{
    struct fixture *f = *state;
    struct opts o = {.connect_timeout_ms = 1000};
    make(f, &f->a, true, &o);

    /* Garbage and unusable candidates are refused up front. */
    assert_int_equal(webrtc_transport_add_remote_candidate(f->a.t, "candidate:x"), EBADMSG);
    assert_int_equal(webrtc_transport_add_remote_candidate(
                         f->a.t, "candidate:1 1 udp 2122260223 10.0.0.1 0 typ host"),
                     EBADMSG);
    assert_int_equal(webrtc_transport_add_remote_candidate(
                         f->a.t, "candidate:1 1 udp 2122260223 abc.local 5000 typ host"),
                     ENOTSUP);
    assert_int_equal(
        webrtc_transport_add_remote_candidate(
            f->a.t, "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"),
        ENOTSUP);
    assert_int_equal(webrtc_transport_add_remote_candidate(
                         f->a.t, "candidate:1 2 udp 2122260223 127.0.0.1 9 typ host"),
                     ENOTSUP);
    assert_int_equal(webrtc_transport_set_remote(f->a.t, "ab:c", "pwd", "sha-256",
                                                 dtls_identity_fingerprint(f->b.id),
                                                 DTLS_ROLE_CLIENT),
                     EBADMSG);

    /* Nobody answers at the only candidate, and the peer never says end-of-candidates. */
    assert_int_equal(webrtc_transport_set_remote(f->a.t, "Zz9y", "0123456789abcdefABCDEF",
                                                 "sha-256", dtls_identity_fingerprint(f->b.id),
                                                 DTLS_ROLE_CLIENT),
                     0);
    assert_int_equal(webrtc_transport_add_remote_candidate(
                         f->a.t, "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host"),
                     0);
    webrtc_transport_gather(f->a.t);
    gint64 t0 = g_get_monotonic_time();
    assert_true(wait_until(f, a_failed, WAIT_MS));
    assert_int_equal(f->a.why, WEBRTC_FAIL_ICE);
    assert_non_null(strstr(f->a.detail, "1000 ms"));
    assert_true(g_get_monotonic_time() - t0 >= 900 * 1000);
    assert_int_equal(f->a.connected, 0);

    /* Reported once, whatever follows. */
    webrtc_transport_remote_gathering_done(f->a.t);
    run_for(f, 300);
    assert_int_equal(f->a.failed, 1);
}

static void close_while_connecting(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    run_for(f, 5); /* checks under way */

    webrtc_transport_close(f->a.t);
    f->a.closed = true;
    webrtc_transport_close(f->b.t);
    f->b.closed = true;
    webrtc_transport_close(f->b.t); /* twice is fine */

    assert_int_equal(webrtc_transport_gather(f->a.t), EINVAL);
    assert_int_equal(webrtc_transport_add_remote_candidate(
                         f->a.t, "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host"),
                     EINVAL);
    run_for(f, 300);
    assert_int_equal(f->a.calls_after_close + f->b.calls_after_close, 0);
    assert_int_equal(f->a.connected + f->b.connected, 0);

    /* Freed right away, with nothing of theirs left on the workers. */
    f->a.t = mem_deref(f->a.t);
    f->b.t = mem_deref(f->b.t);
    run_for(f, 50);
}

/* Closes both sides at moments spread over the whole setup (gathering, checks, DTLS, just
 * connected): whatever was in flight, no handler runs after close() and nothing leaks. */
static void close_at_any_moment(void **state)
{
    struct fixture *f = *state;
    static const unsigned delays_ms[] = {0, 1, 2, 4, 8, 15, 30, 60, 120};

    for (size_t i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
        f->a.closed = f->b.closed = false;
        make(f, &f->a, true, NULL);
        make(f, &f->b, false, NULL);
        f->a.fwd = f->b.fwd = FWD_DIRECT;
        assert_int_equal(set_remote_from(&f->a, &f->b), 0);
        assert_int_equal(set_remote_from(&f->b, &f->a), 0);
        webrtc_transport_gather(f->a.t);
        webrtc_transport_gather(f->b.t);
        if (delays_ms[i])
            run_for(f, delays_ms[i]);

        /* Alternate the order, so either side may see the other's close_notify in flight. */
        struct peer *first = i % 2 ? &f->b : &f->a, *second = i % 2 ? &f->a : &f->b;
        webrtc_transport_close(first->t);
        first->closed = true;
        webrtc_transport_close(second->t);
        second->closed = true;
        f->a.t = mem_deref(f->a.t);
        f->b.t = mem_deref(f->b.t);
        run_for(f, 20);
        assert_int_equal(f->a.calls_after_close + f->b.calls_after_close, 0);
    }
}

struct sender {
    struct media_transport *mt;
    gint stop;
    unsigned ok, again, other;
};

static gpointer send_loop(gpointer data)
{
    struct sender *s = data;
    uint8_t buf[1500];
    uint16_t seq = 1;
    while (!g_atomic_int_get(&s->stop)) {
        size_t len = make_rtp(buf, seq++, 0xabcdef01, 3, 160);
        int err = media_transport_send(s->mt, buf, len, sizeof(buf), false);
        if (!err)
            s->ok++;
        else if (err == EAGAIN)
            s->again++;
        else
            s->other++;
        if (seq % 64 == 0)
            g_thread_yield();
    }
    return NULL;
}

static bool sender_sent(struct fixture *f)
{
    return rx_count(&f->b) >= 10;
}

static void close_while_connected_with_media(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    f->b.close_on_fail = true;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));

    /* A mixer thread sends on a while the owner closes it; the stream holds its reference. */
    struct sender s = {.mt = webrtc_transport_media(f->a.t)};
    mem_ref(f->a.t);
    GThread *th = g_thread_new("sender", send_loop, &s);
    assert_true(wait_until(f, sender_sent, WAIT_MS));

    unsigned a_calls = f->a.callbacks;
    webrtc_transport_close(f->a.t);
    f->a.closed = true;
    /* b hears close_notify: the peer closed, and its handler closes b from inside. */
    assert_true(wait_until(f, b_failed, WAIT_MS));
    assert_int_equal(f->b.why, WEBRTC_FAIL_CLOSED);
    assert_non_null(strstr(f->b.detail, "close"));

    g_atomic_int_set(&s.stop, 1);
    g_thread_join(th);
    mem_deref(f->a.t);
    assert_true(s.ok >= 10);
    assert_int_equal(s.other, 0);

    uint8_t buf[1500];
    size_t len = make_rtp(buf, 1, 1, 0, 20);
    assert_int_equal(
        media_transport_send(webrtc_transport_media(f->a.t), buf, len, sizeof(buf), false), EAGAIN);
    run_for(f, 300);
    assert_int_equal(f->a.callbacks, a_calls);
    assert_int_equal(f->a.calls_after_close + f->b.calls_after_close, 0);
    assert_int_equal(f->b.failed, 1);
}

static void port_range_respected(void **state)
{
    struct fixture *f = *state;
    struct opts oa = {.port_min = port_base(0), .port_max = (uint16_t)(port_base(0) + 9)};
    struct opts ob = {.port_min = port_base(1), .port_max = (uint16_t)(port_base(1) + 9)};
    make(f, &f->a, true, &oa);
    make(f, &f->b, false, &ob);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));

    for (unsigned i = 0; i < f->a.cands->len; i++) {
        struct ice_candidate c;
        assert_int_equal(ice_candidate_parse(&c, g_ptr_array_index(f->a.cands, i), NULL), 0);
        assert_true(c.port >= oa.port_min && c.port <= oa.port_max);
        assert_string_equal(c.address, "127.0.0.1");
    }
    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    assert_true(port_of(ia.local_addr) >= oa.port_min && port_of(ia.local_addr) <= oa.port_max);
    assert_true(port_of(ib.local_addr) >= ob.port_min && port_of(ib.local_addr) <= ob.port_max);
}

static void exhausted_port_range_fails(void **state)
{
    struct fixture *f = *state;
    /* Hold the only port of the range ourselves. */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    uint16_t port = ntohs(sa.sin_port);

    struct opts o = {.port_min = port, .port_max = port};
    make(f, &f->a, true, &o);
    webrtc_transport_gather(f->a.t);
    assert_true(wait_until(f, a_failed, WAIT_MS));
    assert_int_equal(f->a.why, WEBRTC_FAIL_ICE);
    assert_int_equal(f->a.cands->len, 0);
    close(fd);
}

static bool both_restarted(struct fixture *f)
{
    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    return ia.ice_restarts >= 1 && ib.ice_restarts >= 1;
}

static void ice_restart_keeps_dtls(void **state)
{
    struct fixture *f = *state;
    make(f, &f->a, true, NULL);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));
    check_media(f, &f->a, &f->b, 10);

    char a_old[64], b_old[64];
    const char *ufrag, *pwd;
    webrtc_transport_local_credentials(f->a.t, &ufrag, &pwd);
    g_strlcpy(a_old, ufrag, sizeof(a_old));
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    g_strlcpy(b_old, ufrag, sizeof(b_old));
    unsigned a_cands = f->a.cands->len;

    /* a offers a restart; b answers it; a takes the answer. */
    assert_int_equal(webrtc_transport_restart_ice(f->a.t), 0);
    webrtc_transport_local_credentials(f->a.t, &ufrag, &pwd);
    assert_string_not_equal(ufrag, a_old);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    assert_string_not_equal(ufrag, b_old);
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);

    assert_true(wait_until(f, both_restarted, WAIT_MS));
    assert_true(f->a.cands->len > a_cands); /* reported again for the new generation */
    assert_int_equal(f->a.failed + f->b.failed, 0);
    assert_int_equal(f->a.connected, 1); /* once per transport */

    /* The same SRTP contexts carry on. */
    check_media(f, &f->a, &f->b, 13);
    check_media(f, &f->b, &f->a, 700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(connect_and_exchange_media, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(fingerprint_mismatch_fails_without_media, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(mdns_only_connects_through_peer_reflexive, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(candidates_before_and_after_set_remote, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(unreachable_candidates_fail_ice, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(close_while_connecting, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(close_at_any_moment, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(close_while_connected_with_media, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(port_range_respected, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(exhausted_port_range_fails, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(ice_restart_keeps_dtls, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
