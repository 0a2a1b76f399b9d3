/*
 * The WebRTC transport on the ICE-lite backend (media/ice.h): a lite answerer against our own
 * controlling lite agent and against libnice's full agent, many legs sharing one worker's socket,
 * what the shared socket does with strangers (media from an unselected address, a check with a
 * wrong password), consent loss, ICE restart, and closing while packets arrive. The fixture is
 * transport_fixture.h; the strangers are a plain UDP socket of the test's.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/mem.h"
#include "media/ice_candidate.h"
#include "media/stun.h"
#include "media/webrtc_transport.h"
#include "transport_fixture.h"

/* a: controlling (the offerer), b: the lite answerer; both connected, media checked both ways. */
static void connect_pair(struct fixture *f, enum ice_mode a_mode, const struct opts *bo)
{
    f->ice = a_mode;
    make(f, &f->a, true, NULL);
    f->ice = ICE_MODE_LITE;
    make(f, &f->b, false, bo);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));
    check_media(f, &f->a, &f->b, 10);
    check_media(f, &f->b, &f->a, 500);
}

static uint16_t cand_port(const char *cand)
{
    struct ice_candidate c;
    assert_int_equal(ice_candidate_parse(&c, cand, NULL), 0);
    return c.port;
}

static void lite_answerer_with_lite_offerer(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_LITE, NULL);

    /* Our SDP says a=ice-lite on the answering side only. */
    assert_true(webrtc_transport_ice_lite(f->b.t));
    assert_false(webrtc_transport_ice_lite(f->a.t));
    /* One host candidate, gathering done at once. */
    assert_int_equal(f->b.cands->len, 1);
    assert_int_equal(f->b.gathering_done, 1);

    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    assert_true(ib.ice_checks >= 1);
    assert_int_equal(ib.ice_unauthorized, 0);
    assert_string_equal(ia.remote_addr, ib.local_addr);
    assert_string_equal(ib.remote_addr, ia.local_addr);
}

static void lite_answerer_with_libnice_offerer(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_FULL, NULL);
    assert_true(webrtc_transport_ice_lite(f->b.t));
    assert_false(webrtc_transport_ice_lite(f->a.t));
    struct webrtc_transport_info ib;
    webrtc_transport_get_info(f->b.t, &ib);
    assert_true(ib.ice_checks >= 1);
    check_media(f, &f->a, &f->b, 20);
}

/* mxcall's use against a full agent (Janus): our controlling lite agent checks, libnice answers. */
static void lite_offerer_with_libnice_answerer(void **state)
{
    struct fixture *f = *state;
    f->ice = ICE_MODE_LITE;
    make(f, &f->a, true, NULL);
    f->ice = ICE_MODE_FULL;
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));
    assert_false(webrtc_transport_ice_lite(f->a.t));
    assert_false(webrtc_transport_ice_lite(f->b.t));
    check_media(f, &f->a, &f->b, 10);
    check_media(f, &f->b, &f->a, 500);
    struct webrtc_transport_info ia;
    webrtc_transport_get_info(f->a.t, &ia);
    assert_true(ia.ice_checks >= 1); /* libnice checks us too, and we answer */
}

/* ---- many legs on one socket ---- */

#define LEGS 50

static struct peer *g_cl, *g_sv;

static bool all_connected(struct fixture *f)
{
    (void)f;
    for (unsigned i = 0; i < LEGS; i++)
        if (!g_cl[i].connected || !g_sv[i].connected)
            return false;
    return true;
}

static bool all_received(struct fixture *f)
{
    (void)f;
    for (unsigned i = 0; i < LEGS; i++)
        if (rx_count(&g_cl[i]) < 1 || rx_count(&g_sv[i]) < 1)
            return false;
    return true;
}

static uint32_t rx_ssrc(struct peer *p, unsigned i)
{
    g_mutex_lock(&p->lock);
    struct rx *r = g_ptr_array_index(p->rx, i);
    uint32_t v = (uint32_t)r->data[8] << 24 | (uint32_t)r->data[9] << 16 |
                 (uint32_t)r->data[10] << 8 | r->data[11];
    g_mutex_unlock(&p->lock);
    return v;
}

static void many_legs_share_one_socket(void **state)
{
    struct fixture *f = *state;
    struct peer *cl = g_new0(struct peer, LEGS), *sv = g_new0(struct peer, LEGS);
    g_cl = cl;
    g_sv = sv;
    char names[LEGS][2][16];
    f->ice = ICE_MODE_LITE;

    /* The fixture's two workers are picked in turn: every answerer lands on the same one. */
    for (unsigned i = 0; i < LEGS; i++) {
        snprintf(names[i][0], sizeof(names[i][0]), "c%u", i);
        snprintf(names[i][1], sizeof(names[i][1]), "s%u", i);
        fixture_peer_init(f, &cl[i], names[i][0], &sv[i]);
        fixture_peer_init(f, &sv[i], names[i][1], &cl[i]);
        make(f, &cl[i], true, NULL);
        make(f, &sv[i], false, NULL);
        cl[i].fwd = sv[i].fwd = FWD_DIRECT;
    }
    for (unsigned i = 0; i < LEGS; i++) {
        assert_int_equal(set_remote_from(&cl[i], &sv[i]), 0);
        assert_int_equal(set_remote_from(&sv[i], &cl[i]), 0);
        webrtc_transport_gather(sv[i].t);
        webrtc_transport_gather(cl[i].t);
    }
    assert_true(wait_until(f, all_connected, 30000));

    /* One address and port for every answering leg. */
    uint16_t port = cand_port(g_ptr_array_index(sv[0].cands, 0));
    for (unsigned i = 0; i < LEGS; i++) {
        assert_int_equal(sv[i].cands->len, 1);
        assert_int_equal(cand_port(g_ptr_array_index(sv[i].cands, 0)), port);
        assert_int_not_equal(cand_port(g_ptr_array_index(cl[i].cands, 0)), port);
    }

    /* Each leg's packet (its own SSRC) reaches its peer and nobody else. */
    uint8_t buf[1500];
    for (unsigned i = 0; i < LEGS; i++) {
        size_t len = make_rtp(buf, 1, 0x1000 + i, (uint8_t)i, 40);
        assert_int_equal(
            media_transport_send(webrtc_transport_media(cl[i].t), buf, len, sizeof(buf), false), 0);
        len = make_rtp(buf, 1, 0x2000 + i, (uint8_t)i, 40);
        assert_int_equal(
            media_transport_send(webrtc_transport_media(sv[i].t), buf, len, sizeof(buf), false), 0);
    }
    assert_true(wait_until(f, all_received, WAIT_MS));
    run_for(f, 50);
    for (unsigned i = 0; i < LEGS; i++) {
        assert_int_equal(rx_count(&sv[i]), 1);
        assert_int_equal(rx_count(&cl[i]), 1);
        assert_int_equal(rx_ssrc(&sv[i], 0), 0x1000 + i);
        assert_int_equal(rx_ssrc(&cl[i], 0), 0x2000 + i);
    }

    for (unsigned i = 0; i < LEGS; i++) {
        cl[i].closed = sv[i].closed = true;
        fixture_peer_free(&cl[i]);
        fixture_peer_free(&sv[i]);
    }
    g_free(cl);
    g_free(sv);
}

/* ---- strangers on the shared socket ---- */

static int stranger_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void send_to_port(int fd, uint16_t port, const uint8_t *pkt, size_t len)
{
    struct sockaddr_in to = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* A Binding request to the leg whose ufrag is lufrag, keyed with pwd. */
static size_t make_check(uint8_t *buf, size_t cap, const char *lufrag, const char *pwd,
                         bool nominate)
{
    struct bytes_w w = bytes_w_init(buf, cap);
    uint8_t tid[STUN_TID_LEN];
    char user[300];
    snprintf(user, sizeof(user), "%s:strg", lufrag);
    assert_int_equal(stun_tid_random(tid), 0);
    assert_int_equal(stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid), 0);
    assert_int_equal(stun_w_attr(&w, STUN_ATTR_USERNAME, user, strlen(user)), 0);
    assert_int_equal(stun_w_u32(&w, STUN_ATTR_PRIORITY, 0x6e7fffff), 0);
    assert_int_equal(stun_w_u64(&w, STUN_ATTR_ICE_CONTROLLING, 42), 0);
    if (nominate)
        assert_int_equal(stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0), 0);
    assert_int_equal(stun_w_integrity(&w, (const uint8_t *)pwd, strlen(pwd)), 0);
    assert_int_equal(stun_w_fingerprint(&w), 0);
    return w.len;
}

/* What fd receives within ms: its length, or 0 for nothing. */
static size_t recv_within(int fd, uint8_t *buf, size_t cap, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return 0;
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    return n > 0 ? (size_t)n : 0;
}

static void strangers_get_nothing(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_LITE, NULL);
    uint16_t port = cand_port(g_ptr_array_index(f->b.cands, 0));
    struct webrtc_transport_info before, after;
    webrtc_transport_get_info(f->b.t, &before);
    unsigned b_rx = rx_count(&f->b);
    int fd = stranger_socket();
    uint8_t pkt[1500], in[1500];

    /* Media (RTP-shaped, and DTLS-shaped) from an address no leg selected: dropped, unanswered. */
    size_t len = make_rtp(pkt, 77, 0x11223344, 1, 160);
    for (int i = 0; i < 5; i++)
        send_to_port(fd, port, pkt, len);
    pkt[0] = 22; /* a DTLS record's first byte */
    send_to_port(fd, port, pkt, 60);

    /* A nominating check with a wrong password: 401, and no selection. */
    const char *ufrag, *pwd;
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    len = make_check(pkt, sizeof(pkt), ufrag, "not-the-password-at-all", true);
    send_to_port(fd, port, pkt, len);
    size_t n = recv_within(fd, in, sizeof(in), 3000);
    assert_true(n > 0);
    struct stun_msg m;
    assert_int_equal(stun_msg_parse(&m, in, n), 0);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_true(m.has_error);
    assert_int_equal(m.error_code, 401);

    /* A check for a ufrag nobody has: no answer at all. */
    len = make_check(pkt, sizeof(pkt), "nobody", pwd, true);
    send_to_port(fd, port, pkt, len);

    /* The leg still talks to its peer only; the stranger hears no media. */
    check_media(f, &f->b, &f->a, 900);
    check_media(f, &f->a, &f->b, 40);
    assert_int_equal(recv_within(fd, in, sizeof(in), 200), 0);
    assert_int_equal(rx_count(&f->b), b_rx + 4);
    webrtc_transport_get_info(f->b.t, &after);
    assert_string_equal(after.remote_addr, before.remote_addr);
    assert_int_equal(after.ice_unauthorized, before.ice_unauthorized + 1);
    assert_int_equal(after.srtp_rx_auth_fail, before.srtp_rx_auth_fail);

    /* A correct check that does not nominate is answered, and still selects nothing. */
    len = make_check(pkt, sizeof(pkt), ufrag, pwd, false);
    send_to_port(fd, port, pkt, len);
    n = recv_within(fd, in, sizeof(in), 3000);
    assert_true(n > 0);
    assert_int_equal(stun_msg_parse(&m, in, n), 0);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_true(m.has_xor_addr);
    assert_int_equal(stun_msg_check_integrity(&m, (const uint8_t *)pwd, strlen(pwd)), 0);
    check_media(f, &f->b, &f->a, 950);
    assert_int_equal(recv_within(fd, in, sizeof(in), 100), 0);
    webrtc_transport_get_info(f->b.t, &after);
    assert_string_equal(after.remote_addr, before.remote_addr);
    assert_int_equal(f->a.failed + f->b.failed, 0);
    close(fd);
}

/* ---- consent ---- */

#define CONSENT_LEGS 8

static bool consent_legs_connected(struct fixture *f)
{
    (void)f;
    for (unsigned i = 0; i < CONSENT_LEGS; i++)
        if (!g_cl[i].connected || !g_sv[i].connected)
            return false;
    return true;
}

static bool quiet_legs_failed(struct fixture *f)
{
    (void)f;
    return g_sv[0].failed && g_sv[CONSENT_LEGS / 2].failed;
}

/* Every answering leg's consent timer runs on its socket's one sweep: the legs whose peers go
 * quiet fail on consent, each on its own, and the others keep theirs by their media. */
static void consent_of_many_legs_on_one_socket(void **state)
{
    struct fixture *f = *state;
    struct peer *cl = g_new0(struct peer, CONSENT_LEGS), *sv = g_new0(struct peer, CONSENT_LEGS);
    g_cl = cl;
    g_sv = sv;
    char names[CONSENT_LEGS][2][16];
    struct opts o = {.consent_timeout_ms = 600};
    f->ice = ICE_MODE_LITE;
    for (unsigned i = 0; i < CONSENT_LEGS; i++) {
        snprintf(names[i][0], sizeof(names[i][0]), "c%u", i);
        snprintf(names[i][1], sizeof(names[i][1]), "s%u", i);
        fixture_peer_init(f, &cl[i], names[i][0], &sv[i]);
        fixture_peer_init(f, &sv[i], names[i][1], &cl[i]);
        make(f, &cl[i], true, NULL); /* its own checks every ~5 s */
        make(f, &sv[i], false, &o);
        cl[i].fwd = sv[i].fwd = FWD_DIRECT;
    }
    for (unsigned i = 0; i < CONSENT_LEGS; i++) {
        assert_int_equal(set_remote_from(&cl[i], &sv[i]), 0);
        assert_int_equal(set_remote_from(&sv[i], &cl[i]), 0);
        webrtc_transport_gather(sv[i].t);
        webrtc_transport_gather(cl[i].t);
    }
    assert_true(wait_until(f, consent_legs_connected, WAIT_MS));

    /* Legs 0 and CONSENT_LEGS / 2 send nothing; the others send a packet every 100 ms, for more
     * than three consent timeouts. */
    gint64 t0 = g_get_monotonic_time();
    uint8_t buf[1500];
    for (uint16_t k = 0; k < 20; k++) {
        for (unsigned i = 0; i < CONSENT_LEGS; i++) {
            if (i % (CONSENT_LEGS / 2) == 0)
                continue;
            size_t len = make_rtp(buf, (uint16_t)(100 + k), 0x7000 + i, 0, 40);
            assert_int_equal(
                media_transport_send(webrtc_transport_media(cl[i].t), buf, len, sizeof(buf), false),
                0);
        }
        run_for(f, 100);
    }
    assert_true(wait_until(f, quiet_legs_failed, WAIT_MS));
    assert_true(g_get_monotonic_time() - t0 >= 400 * 1000);
    for (unsigned i = 0; i < CONSENT_LEGS; i++) {
        if (i % (CONSENT_LEGS / 2) == 0) {
            assert_int_equal(sv[i].failed, 1);
            assert_int_equal(sv[i].why, WEBRTC_FAIL_CONSENT);
        } else {
            assert_int_equal(sv[i].failed, 0);
            assert_int_equal(cl[i].failed, 0);
        }
    }

    for (unsigned i = 0; i < CONSENT_LEGS; i++) {
        cl[i].closed = sv[i].closed = true;
        fixture_peer_free(&cl[i]);
        fixture_peer_free(&sv[i]);
    }
    g_free(cl);
    g_free(sv);
}

static void consent_kept_by_media_then_lost(void **state)
{
    struct fixture *f = *state;
    struct opts o = {.consent_timeout_ms = 600};
    connect_pair(f, ICE_MODE_LITE, &o);

    /* The offerer's media keep consent past several timeouts (its own checks come every ~5 s). */
    struct media_transport *mt = webrtc_transport_media(f->a.t);
    uint8_t buf[1500];
    for (uint16_t i = 0; i < 20; i++) {
        size_t len = make_rtp(buf, (uint16_t)(100 + i), 0x5555, 0, 40);
        assert_int_equal(media_transport_send(mt, buf, len, sizeof(buf), false), 0);
        run_for(f, 100);
    }
    assert_int_equal(f->b.failed, 0);

    /* Then it goes quiet. */
    gint64 t0 = g_get_monotonic_time();
    assert_true(wait_until(f, b_failed, WAIT_MS));
    assert_int_equal(f->b.why, WEBRTC_FAIL_CONSENT);
    assert_true(g_get_monotonic_time() - t0 >= 400 * 1000);
    assert_int_equal(f->b.failed, 1);
    assert_int_equal(f->b.connected, 1);
}

static void revoked_consent_fails_the_offerer(void **state)
{
    struct fixture *f = *state;
    struct opts o = {.consent_timeout_ms = 1500};
    /* The controlling lite agent checks consent every consent_timeout / 3. */
    f->ice = ICE_MODE_LITE;
    make(f, &f->a, true, &o);
    make(f, &f->b, false, NULL);
    f->a.fwd = f->b.fwd = FWD_DIRECT;
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_gather(f->a.t);
    webrtc_transport_gather(f->b.t);
    assert_true(wait_until(f, both_connected, WAIT_MS));

    webrtc_transport_revoke_consent(f->b.t);
    assert_true(wait_until(f, a_failed, WAIT_MS));
    assert_int_equal(f->a.why, WEBRTC_FAIL_CONSENT);
    assert_int_equal(f->a.failed, 1);
}

/* ---- ICE restart ---- */

static bool both_restarted(struct fixture *f)
{
    struct webrtc_transport_info ia, ib;
    webrtc_transport_get_info(f->a.t, &ia);
    webrtc_transport_get_info(f->b.t, &ib);
    return ia.ice_restarts >= 1 && ib.ice_restarts >= 1;
}

static void restart(struct fixture *f)
{
    const char *ufrag, *pwd;
    char a_old[64], b_old[64];
    webrtc_transport_local_credentials(f->a.t, &ufrag, &pwd);
    g_strlcpy(a_old, ufrag, sizeof(a_old));
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    g_strlcpy(b_old, ufrag, sizeof(b_old));

    assert_int_equal(webrtc_transport_restart_ice(f->a.t), 0);
    webrtc_transport_local_credentials(f->a.t, &ufrag, &pwd);
    assert_string_not_equal(ufrag, a_old);
    assert_int_equal(set_remote_from(&f->b, &f->a), 0);
    webrtc_transport_local_credentials(f->b.t, &ufrag, &pwd);
    assert_string_not_equal(ufrag, b_old);
    assert_int_equal(set_remote_from(&f->a, &f->b), 0);
    assert_true(wait_until(f, both_restarted, WAIT_MS));
    assert_int_equal(f->a.failed + f->b.failed, 0);
    assert_int_equal(f->a.connected + f->b.connected, 2);
    check_media(f, &f->a, &f->b, 30);
    check_media(f, &f->b, &f->a, 800);
}

static void ice_restart_lite_offerer(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_LITE, NULL);
    restart(f);
}

static void ice_restart_libnice_offerer(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_FULL, NULL);
    restart(f);
}

/* ---- closing under traffic ---- */

static void close_while_packets_arrive(void **state)
{
    struct fixture *f = *state;
    connect_pair(f, ICE_MODE_LITE, NULL);
    struct media_transport *mt = webrtc_transport_media(f->a.t);
    uint8_t buf[1500];
    for (uint16_t i = 0; i < 400; i++) {
        size_t len = make_rtp(buf, (uint16_t)(1000 + i), 0x7777, 0, 160);
        int e = media_transport_send(mt, buf, len, sizeof(buf), false);
        assert_true(e == 0 || e == EAGAIN);
        if (i == 200) {
            webrtc_transport_close(f->b.t);
            f->b.closed = true;
            f->b.t = mem_deref(f->b.t);
        }
    }
    run_for(f, 100);
    assert_int_equal(f->b.calls_after_close, 0);
    /* Nothing delivered after close(): at most the 4 of connect_pair and packets 0..200. */
    unsigned n = rx_count(&f->b);
    if (n > 4 + 201)
        fail_msg("%u packets delivered, some after close", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(lite_answerer_with_lite_offerer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(lite_answerer_with_libnice_offerer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(lite_offerer_with_libnice_answerer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(many_legs_share_one_socket, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(strangers_get_nothing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(consent_of_many_legs_on_one_socket, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(consent_kept_by_media_then_lost, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(revoked_consent_fails_the_offerer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(ice_restart_lite_offerer, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(ice_restart_libnice_offerer, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(close_while_packets_arrive, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
