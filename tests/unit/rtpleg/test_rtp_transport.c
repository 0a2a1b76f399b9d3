/*
 * The plain RTP transport over 127.0.0.1: two transports talking, symmetric RTP latching (a
 * phone behind NAT, a third party, a mapping that moves), SDES-SRTP checked on the wire through
 * a relay in the middle, re-keying, hold and resume, bad input, and close while packets pour in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "media/rtp_transport.h"
#include "media/worker.h"
#include "rtpleg_tp.h"
#include "rtpleg_util.h"

/* ---- two transports ---------------------------------------------------------------------- */

static void two_transports_talk(void **state)
{
    struct loop l;
    struct recorder ra, rb;
    loop_init(&l);
    struct rtp_transport *a = make_tp(&l, &ra, "a", 0, 0);
    struct rtp_transport *b = make_tp(&l, &rb, "b", 0, 0);
    uint16_t pa = rtp_transport_local_port(a), pb = rtp_transport_local_port(b);
    remote_to(&l, a, pb, false, true, NULL);
    remote_to(&l, b, pa, false, true, NULL);

    uint8_t buf[1500], sent[4][1500];
    size_t sent_len[4];
    struct media_transport *ma = rtp_transport_media(a), *mb = rtp_transport_media(b);
    for (int i = 0; i < 3; i++) {
        sent_len[i] = make_rtp(buf, i == 2 ? 101 : 8, (uint16_t)(1 + i), 0xa0a0, (uint8_t)i, 160);
        memcpy(sent[i], buf, sent_len[i]);
        assert_int_equal(send_when_ready(&l, ma, buf, sent_len[i], sizeof(buf), false), 0);
    }
    sent_len[3] = make_rtcp(buf, 0xa0a0);
    memcpy(sent[3], buf, sent_len[3]);
    assert_int_equal(media_transport_send(ma, buf, sent_len[3], sizeof(buf), true), 0);
    assert_true(recorder_wait(&l, &rb, 4));
    for (unsigned i = 0; i < 4; i++) {
        struct rx_pkt p = recorder_get(&rb, i);
        assert_int_equal(p.rtcp, i == 3);
        assert_int_equal(p.len, sent_len[i]);
        assert_memory_equal(p.data, sent[i], sent_len[i]);
    }

    /* and back, RTCP from B's RTCP port to A's */
    size_t len = make_rtp(buf, 8, 7, 0xb0b0, 9, 80);
    assert_int_equal(send_when_ready(&l, mb, buf, len, sizeof(buf), false), 0);
    len = make_rtcp(buf, 0xb0b0);
    assert_int_equal(media_transport_send(mb, buf, len, sizeof(buf), true), 0);
    assert_true(recorder_wait(&l, &ra, 2));
    assert_false(recorder_get(&ra, 0).rtcp);
    assert_true(recorder_get(&ra, 1).rtcp);

    struct rtp_transport_info ia = info_of(a), ib = info_of(b);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", pb);
    assert_string_equal(ia.remote_addr, want);
    snprintf(want, sizeof(want), "127.0.0.1:%u", pa);
    assert_string_equal(ia.local_addr, want);
    assert_true(ia.latched);
    assert_false(ia.srtp);
    assert_int_equal(ia.stats.tx_rtp, 3);
    assert_int_equal(ia.stats.tx_rtcp, 1);
    assert_int_equal(ia.stats.rx_rtp, 1);
    assert_int_equal(ia.stats.rx_rtcp, 1);
    assert_int_equal(ia.stats.latches, 1);
    assert_int_equal(ia.stats.latch_changes, 0);
    assert_int_equal(ib.stats.rx_rtp, 3);
    assert_int_equal(ib.stats.rx_foreign, 0);

    /* rtcp-mux: RTCP on the RTP ports both ways; the latch survives the same address */
    remote_to(&l, a, pb, true, true, NULL);
    remote_to(&l, b, pa, true, true, NULL);
    len = make_rtcp(buf, 0xa0a0);
    assert_int_equal(send_when_ready(&l, ma, buf, len, sizeof(buf), true), 0);
    assert_true(recorder_wait(&l, &rb, 5));
    assert_true(recorder_get(&rb, 4).rtcp);
    assert_true(info_of(a).rtcp_mux);
    assert_int_equal(info_of(a).stats.latches, 1);

    rtp_transport_close(a);
    assert_int_equal(media_transport_send(ma, buf, len, sizeof(buf), true), EAGAIN);
    mem_deref(a);
    mem_deref(b); /* without close: the destructor closes */
    recorder_fini(&ra);
    recorder_fini(&rb);
    loop_fini(&l);
}

/* Over IPv6 the same, with a=rtcp giving the RTCP port explicitly. */
static void ipv6(void **state)
{
    struct loop l;
    struct recorder ra, rb;
    loop_init(&l);
    struct rtp_transport_cfg cfg = {.worker = media_workers_pick(l.workers), .local_ip = "::1"};
    struct rtp_transport *a = NULL, *b = NULL;
    if (rtp_transport_alloc(&a, &cfg)) {
        loop_fini(&l);
        skip(); /* no IPv6 loopback here */
    }
    assert_int_equal(rtp_transport_alloc(&b, &cfg), 0);
    recorder_init(&ra, l.ctx);
    recorder_init(&rb, l.ctx);
    recorder_attach(&ra, rtp_transport_media(a));
    recorder_attach(&rb, rtp_transport_media(b));
    uint16_t pa = rtp_transport_local_port(a), pb = rtp_transport_local_port(b);
    struct rtp_transport_remote r = {.addr = "::1",
                                     .port = pb,
                                     .rtcp_addr = "::1",
                                     .rtcp_port = (uint16_t)(pb + 1),
                                     .send_rtp = true,
                                     .pts = PTS,
                                     .npts = 2};
    assert_int_equal(rtp_transport_set_remote(a, &r), 0);
    r.port = pa;
    r.rtcp_port = (uint16_t)(pa + 1);
    assert_int_equal(rtp_transport_set_remote(b, &r), 0);
    r.addr = "127.0.0.1"; /* the other family */
    assert_int_equal(rtp_transport_set_remote(b, &r), EAFNOSUPPORT);

    uint8_t buf[1500];
    size_t len = make_rtp(buf, 8, 1, 0xa0a0, 1, 160);
    assert_int_equal(send_when_ready(&l, rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    len = make_rtcp(buf, 0xa0a0);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), true), 0);
    assert_true(recorder_wait(&l, &rb, 2));
    assert_true(recorder_get(&rb, 1).rtcp);
    char want[64];
    snprintf(want, sizeof(want), "[::1]:%u", pa);
    assert_string_equal(info_of(b).remote_addr, want);
    assert_true(info_of(b).latched);

    rtp_transport_close(a);
    rtp_transport_close(b);
    mem_deref(a);
    mem_deref(b);
    recorder_fini(&ra);
    recorder_fini(&rb);
    loop_fini(&l);
}

/* ---- latching ---------------------------------------------------------------------------- */

static void phone_send(int fd, uint16_t to, uint8_t pt, uint16_t seq)
{
    uint8_t buf[200];
    size_t len = make_rtp(buf, pt, seq, 0x5eed, (uint8_t)seq, 160);
    assert_int_equal(udp_send(fd, to, buf, len), 0);
}

/* B sends seq; it must arrive at fd (and nowhere else that we watch). */
static void b_sends_to(struct loop *l, struct rtp_transport *b, uint16_t seq, int fd)
{
    uint8_t buf[1500], got[1500];
    size_t len = make_rtp(buf, 8, seq, 0xb0b0, 1, 160);
    assert_int_equal(send_when_ready(l, rtp_transport_media(b), buf, len, sizeof(buf), false), 0);
    int n = udp_recv(fd, got, sizeof(got), WAIT_MS, NULL);
    assert_int_equal(n, (int)len);
    assert_int_equal(rtp_seq_of(got), seq);
}

static void latching(void **state)
{
    struct loop l;
    struct recorder rb;
    loop_init(&l);
    struct rtp_transport *b = make_tp(&l, &rb, "b", 500, 3);
    uint16_t pb = rtp_transport_local_port(b);
    uint16_t sdp_port, nat_port, nat2_port, third_port;
    int sdp_fd = udp_open(&sdp_port);     /* where the phone's SDP says it is */
    int nat_fd = udp_open(&nat_port);     /* where its packets really come from */
    int nat2_fd = udp_open(&nat2_port);   /* ... after its NAT mapping moved */
    int third_fd = udp_open(&third_port); /* someone else */
    remote_to(&l, b, sdp_port, false, true, NULL);

    /* before anything arrives, the SDP's address */
    b_sends_to(&l, b, 1, sdp_fd);
    assert_false(info_of(b).latched);

    /* a payload type that was not negotiated does not latch */
    phone_send(third_fd, pb, 99, 1);
    expect(&l, bad_pt_reached, b, 1);
    assert_false(info_of(b).latched);
    assert_int_equal(recorder_count(&rb), 0);

    /* the phone's first packet latches, and we answer where it came from */
    phone_send(nat_fd, pb, 8, 100);
    assert_true(recorder_wait(&l, &rb, 1));
    assert_int_equal(rtp_seq_of(recorder_get(&rb, 0).data), 100);
    b_sends_to(&l, b, 2, nat_fd);
    assert_false(udp_pending(sdp_fd));
    struct rtp_transport_info i = info_of(b);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", nat_port);
    assert_string_equal(i.remote_addr, want);
    assert_true(i.latched);
    assert_int_equal(i.stats.latches, 1);

    /* a third party while the phone talks: counted, dropped, nothing changes */
    for (uint16_t s = 500; s < 503; s++)
        phone_send(third_fd, pb, 8, s);
    phone_send(nat_fd, pb, 8, 101);
    assert_true(recorder_wait(&l, &rb, 2));
    expect(&l, foreign_reached, b, 3);
    assert_int_equal(recorder_count(&rb), 2);
    assert_int_equal(rtp_seq_of(recorder_get(&rb, 1).data), 101);
    b_sends_to(&l, b, 3, nat_fd);
    assert_false(udp_pending(third_fd));

    /* the phone falls silent longer than the latch's patience and comes back from elsewhere:
     * its new source takes over after three valid packets in a row, which someone else's
     * packet in between resets */
    run_for(&l, 600);
    phone_send(nat2_fd, pb, 8, 200);
    phone_send(nat2_fd, pb, 8, 201);
    phone_send(third_fd, pb, 8, 600);
    phone_send(nat2_fd, pb, 8, 202);
    phone_send(nat2_fd, pb, 8, 203);
    expect(&l, foreign_reached, b, 3 + 5);
    assert_int_equal(info_of(b).stats.latch_changes, 0);
    assert_int_equal(recorder_count(&rb), 2);
    phone_send(nat2_fd, pb, 8, 204);
    assert_true(recorder_wait(&l, &rb, 3));
    assert_int_equal(rtp_seq_of(recorder_get(&rb, 2).data), 204);
    i = info_of(b);
    assert_int_equal(i.stats.latch_changes, 1);
    snprintf(want, sizeof(want), "127.0.0.1:%u", nat2_port);
    assert_string_equal(i.remote_addr, want);
    b_sends_to(&l, b, 4, nat2_fd);

    /* the old mapping is now the foreign one */
    phone_send(nat_fd, pb, 8, 102);
    expect(&l, foreign_reached, b, 3 + 5 + 1);
    assert_int_equal(recorder_count(&rb), 3);

    /* silence again; an invalid packet breaks a run as well */
    run_for(&l, 600);
    phone_send(nat_fd, pb, 8, 103);
    phone_send(nat_fd, pb, 8, 104);
    phone_send(nat_fd, pb, 99, 105);
    phone_send(nat_fd, pb, 8, 106);
    phone_send(nat_fd, pb, 8, 107);
    expect(&l, foreign_reached, b, 3 + 5 + 1 + 4);
    expect(&l, bad_pt_reached, b, 2);
    assert_int_equal(info_of(b).stats.latch_changes, 1);
    phone_send(nat_fd, pb, 8, 108);
    assert_true(recorder_wait(&l, &rb, 4));
    assert_int_equal(rtp_seq_of(recorder_get(&rb, 3).data), 108);
    assert_int_equal(info_of(b).stats.latch_changes, 2);
    b_sends_to(&l, b, 5, nat_fd);

    /* a new SDP address starts over: the SDP's address until a packet latches again */
    remote_to(&l, b, third_port, false, true, NULL);
    b_sends_to(&l, b, 6, third_fd);
    assert_false(info_of(b).latched);

    rtp_transport_close(b);
    mem_deref(b);
    close(sdp_fd);
    close(nat_fd);
    close(nat2_fd);
    close(third_fd);
    recorder_fini(&rb);
    loop_fini(&l);
}

/* ---- SDES-SRTP on the wire --------------------------------------------------------------- */

/* Reads one datagram from `from` (what a transport sent to it) into wire, and forwards it from
 * `via` to port. The datagram's length. */
static int relay(int from, int via, uint16_t port, uint8_t *wire, size_t cap)
{
    int n = udp_recv(from, wire, cap, WAIT_MS, NULL);
    assert_true(n > 0);
    assert_int_equal(udp_send(via, port, wire, (size_t)n), 0);
    return n;
}

/* RTCP with something to encrypt: an empty RR, then SDES CNAME "hello". */
static size_t make_rtcp_sdes(uint8_t *buf, uint32_t ssrc)
{
    size_t n = make_rtcp(buf, ssrc);
    static const uint8_t sdes[] = {0x81, 202, 0, 3, 0, 0, 0, 0, 1, 5, 'h', 'e', 'l', 'l', 'o', 0};
    memcpy(buf + n, sdes, sizeof(sdes));
    memcpy(buf + n + 4, buf + 4, 4);
    return n + sizeof(sdes);
}

static void srtp_suite_on_the_wire(enum srtp_suite suite, size_t rtp_tag, size_t rtcp_tag)
{
    struct loop l;
    struct recorder ra, rb;
    loop_init(&l);
    uint8_t key_a[30], key_b[30];
    memset(key_a, 0x11, sizeof(key_a));
    memset(key_b, 0x22, sizeof(key_b));
    struct keys ka = {suite, key_a, key_b}, kb = {suite, key_b, key_a};

    /* A <-> [ta relay tb] <-> B: each SDP points at its side of the relay */
    struct rtp_transport *a = make_tp(&l, &ra, "a", 0, 0);
    struct rtp_transport *b = make_tp(&l, &rb, "b", 0, 0);
    uint16_t pa = rtp_transport_local_port(a), pb = rtp_transport_local_port(b);
    uint16_t ta_port, tb_port, x_port;
    int ta = udp_open(&ta_port), tb = udp_open(&tb_port), x = udp_open(&x_port);
    remote_to(&l, a, ta_port, true, true, &ka);
    remote_to(&l, b, tb_port, true, true, &kb);
    assert_true(info_of(a).srtp);

    /* unauthenticated RTP from anyone latches nothing */
    phone_send(x, pb, 8, 1);
    expect(&l, auth_fail_reached, b, 1);
    assert_false(info_of(b).latched);

    uint8_t buf[1500], clear[1500], wire[1500];
    size_t len = make_rtp(buf, 8, 10, 0xa0a0, 0x30, 160);
    memcpy(clear, buf, len);
    assert_int_equal(send_when_ready(&l, rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    int n = relay(ta, tb, pb, wire, sizeof(wire));
    /* the header in the clear, the payload not, the tag after it */
    assert_int_equal(n, (int)(len + rtp_tag));
    assert_memory_equal(wire, clear, 12);
    assert_memory_not_equal(wire + 12, clear + 12, 160);
    assert_true(recorder_wait(&l, &rb, 1));
    struct rx_pkt p = recorder_get(&rb, 0);
    assert_false(p.rtcp);
    assert_int_equal(p.len, len);
    assert_memory_equal(p.data, clear, len);

    /* SRTCP: RR header and SSRC in the clear, the rest not, then index and tag */
    len = make_rtcp_sdes(buf, 0xa0a0);
    memcpy(clear, buf, len);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), true), 0);
    n = relay(ta, tb, pb, wire, sizeof(wire));
    assert_int_equal(n, (int)(len + 4 + rtcp_tag));
    assert_memory_equal(wire, clear, 8);
    assert_memory_not_equal(wire + 8, clear + 8, len - 8);
    assert_true(recorder_wait(&l, &rb, 2));
    p = recorder_get(&rb, 1);
    assert_true(p.rtcp);
    assert_memory_equal(p.data, clear, len);

    /* B -> A the same way */
    len = make_rtp(buf, 101, 77, 0xb0b0, 0x40, 4);
    memcpy(clear, buf, len);
    assert_int_equal(send_when_ready(&l, rtp_transport_media(b), buf, len, sizeof(buf), false), 0);
    n = relay(tb, ta, pa, wire, sizeof(wire));
    assert_int_equal(n, (int)(len + rtp_tag));
    assert_memory_not_equal(wire + 12, clear + 12, 4);
    assert_true(recorder_wait(&l, &ra, 1));
    assert_memory_equal(recorder_get(&ra, 0).data, clear, len);

    /* a tampered packet does not authenticate; a replayed one is a replay */
    len = make_rtp(buf, 8, 11, 0xa0a0, 0x50, 160);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    n = udp_recv(ta, wire, sizeof(wire), WAIT_MS, NULL);
    assert_true(n > 0);
    wire[20] ^= 1;
    assert_int_equal(udp_send(tb, pb, wire, (size_t)n), 0);
    expect(&l, auth_fail_reached, b, 2);
    wire[20] ^= 1;
    assert_int_equal(udp_send(tb, pb, wire, (size_t)n), 0);
    assert_true(recorder_wait(&l, &rb, 3));
    assert_int_equal(udp_send(tb, pb, wire, (size_t)n), 0);
    expect(&l, replay_reached, b, 1);
    assert_int_equal(recorder_count(&rb), 3);

    /* the same keys again (a re-INVITE that changes nothing) keep the contexts: still a replay */
    remote_to(&l, b, tb_port, true, true, &kb);
    assert_int_equal(udp_send(tb, pb, wire, (size_t)n), 0);
    expect(&l, replay_reached, b, 2);
    assert_int_equal(recorder_count(&rb), 3);

    /* new keys: B expects A's new one, so A's old key fails until A re-keys too */
    uint8_t key_a2[30];
    memset(key_a2, 0x33, sizeof(key_a2));
    struct keys kb2 = {suite, key_b, key_a2}, ka2 = {suite, key_a2, key_b};
    remote_to(&l, b, tb_port, true, true, &kb2);
    len = make_rtp(buf, 8, 12, 0xa0a0, 0x60, 160);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    relay(ta, tb, pb, wire, sizeof(wire));
    expect(&l, auth_fail_reached, b, 3);
    remote_to(&l, a, ta_port, true, true, &ka2);
    len = make_rtp(buf, 8, 13, 0xa0a0, 0x70, 160);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    relay(ta, tb, pb, wire, sizeof(wire));
    assert_true(recorder_wait(&l, &rb, 4));
    assert_int_equal(rtp_seq_of(recorder_get(&rb, 3).data), 13);

    /* and back to plain RTP (a re-INVITE without a=crypto in optional mode) */
    remote_to(&l, a, ta_port, true, true, NULL);
    assert_false(info_of(a).srtp);
    len = make_rtp(buf, 8, 14, 0xa0a0, 0x70, 160);
    memcpy(clear, buf, len);
    assert_int_equal(media_transport_send(rtp_transport_media(a), buf, len, sizeof(buf), false), 0);
    n = udp_recv(ta, wire, sizeof(wire), WAIT_MS, NULL);
    assert_int_equal(n, (int)len);
    assert_memory_equal(wire, clear, len);

    rtp_transport_close(a);
    rtp_transport_close(b);
    mem_deref(a);
    mem_deref(b);
    close(ta);
    close(tb);
    close(x);
    recorder_fini(&ra);
    recorder_fini(&rb);
    loop_fini(&l);
}

static void srtp_on_the_wire(void **state)
{
    srtp_suite_on_the_wire(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, 10, 10);
    srtp_suite_on_the_wire(SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, 4, 10);
}

static void srtp_gcm_on_the_wire(void **state)
{
    if (!srtp_session_gcm_supported())
        skip();
    /* GCM keys are 28 bytes: the first 28 of the 30 the helper fills */
    srtp_suite_on_the_wire(SRTP_SUITE_AEAD_AES_128_GCM, 16, 16);
}

/* ---- hold -------------------------------------------------------------------------------- */

static void hold_and_resume(void **state)
{
    struct loop l;
    struct recorder rb;
    loop_init(&l);
    struct rtp_transport *b = make_tp(&l, &rb, "b", 0, 0);
    struct media_transport *mb = rtp_transport_media(b);
    uint16_t phone_port;
    int phone = udp_open(&phone_port);
    remote_to(&l, b, phone_port, true, true, NULL);
    b_sends_to(&l, b, 1, phone);

    /* c=0.0.0.0: nothing at all goes out, but what comes in still plays */
    struct rtp_transport_remote r = {.addr = "0.0.0.0",
                                     .port = phone_port,
                                     .rtcp_mux = true,
                                     .send_rtp = false,
                                     .pts = PTS,
                                     .npts = 2};
    assert_int_equal(rtp_transport_set_remote(b, &r), 0);
    expect(&l, sends_nowhere, b, 0);
    uint8_t buf[1500], got[1500];
    size_t len = make_rtp(buf, 8, 2, 0xb0b0, 1, 160);
    assert_int_equal(media_transport_send(mb, buf, len, sizeof(buf), false), EAGAIN);
    len = make_rtcp(buf, 0xb0b0);
    assert_int_equal(media_transport_send(mb, buf, len, sizeof(buf), true), EAGAIN);
    assert_int_equal(info_of(b).stats.tx_dropped, 2);
    phone_send(phone, rtp_transport_local_port(b), 8, 50);
    assert_true(recorder_wait(&l, &rb, 1));

    /* resumed, but the direction does not let us send RTP: RTCP only */
    remote_to(&l, b, phone_port, true, false, NULL);
    expect(&l, sends_somewhere, b, 0);
    len = make_rtp(buf, 8, 3, 0xb0b0, 1, 160);
    assert_int_equal(media_transport_send(mb, buf, len, sizeof(buf), false), EAGAIN);
    len = make_rtcp(buf, 0xb0b0);
    assert_int_equal(media_transport_send(mb, buf, len, sizeof(buf), true), 0);
    /* the first thing the phone gets after seq 1 is that RTCP: nothing leaked while on hold */
    int n = udp_recv(phone, got, sizeof(got), WAIT_MS, NULL);
    assert_int_equal(n, 8);
    assert_int_equal(got[1], 201);

    /* sendrecv again */
    remote_to(&l, b, phone_port, true, true, NULL);
    b_sends_to(&l, b, 4, phone);
    assert_int_equal(info_of(b).stats.tx_rtp, 2);

    rtp_transport_close(b);
    mem_deref(b);
    close(phone);
    recorder_fini(&rb);
    loop_fini(&l);
}

/* ---- bad input and configuration ---------------------------------------------------------- */

static void bad_input(void **state)
{
    struct loop l;
    struct recorder rb;
    loop_init(&l);
    struct rtp_transport *t = NULL;
    struct rtp_transport_cfg cfg = {.worker = media_workers_pick(l.workers),
                                    .local_ip = "127.0.0.1"};
    assert_int_equal(rtp_transport_alloc(&t, NULL), EINVAL);
    cfg.local_ip = "localhost";
    assert_int_equal(rtp_transport_alloc(&t, &cfg), EINVAL);
    cfg.local_ip = "127.0.0.1";
    cfg.port_min = 40002;
    cfg.port_max = 40000;
    assert_int_equal(rtp_transport_alloc(&t, &cfg), EINVAL);
    cfg.port_min = cfg.port_max = 40001; /* no even/odd pair inside */
    assert_int_equal(rtp_transport_alloc(&t, &cfg), EINVAL);

    /* a range of one pair: taken once, then busy */
    uint16_t p = free_port_pair();
    cfg.port_min = (uint16_t)(p - 1);
    cfg.port_max = (uint16_t)(p + 1);
    assert_int_equal(rtp_transport_alloc(&t, &cfg), 0);
    assert_int_equal(rtp_transport_local_port(t), p);
    struct rtp_transport *t2 = NULL;
    assert_int_equal(rtp_transport_alloc(&t2, &cfg), EADDRINUSE);
    assert_null(t2);
    mem_deref(t);

    t = make_tp(&l, &rb, "b", 0, 0);
    uint16_t pb = rtp_transport_local_port(t);
    uint16_t phone_port;
    int phone = udp_open(&phone_port);

    /* before the remote end is known: dropped */
    phone_send(phone, pb, 8, 1);
    expect(&l, early_reached, t, 1);

    struct rtp_transport_remote r = {
        .addr = "phone.example.com", .port = 4000, .pts = PTS, .npts = 2, .send_rtp = true};
    assert_int_equal(rtp_transport_set_remote(t, &r), EBADMSG);
    r.addr = "::1";
    assert_int_equal(rtp_transport_set_remote(t, &r), EAFNOSUPPORT);
    r.addr = "127.0.0.1";
    r.port = 0;
    assert_int_equal(rtp_transport_set_remote(t, &r), EINVAL);
    r.port = phone_port;
    r.npts = 129;
    assert_int_equal(rtp_transport_set_remote(t, &r), EINVAL);
    r.npts = 2;
    uint8_t key[30] = {0};
    r.srtp = true;
    r.suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_80;
    r.local_key = r.remote_key = key;
    r.key_len = 29;
    assert_int_equal(rtp_transport_set_remote(t, &r), EPROTO);
    r.srtp = false;
    assert_int_equal(rtp_transport_set_remote(t, &r), 0);
    expect(&l, sends_somewhere, t, 0);

    /* garbage: not RTP, too short, RTP on the RTCP port, a version 1 header */
    assert_int_equal(udp_send(phone, pb, "hello, world", 12), 0);
    assert_int_equal(udp_send(phone, pb, "\x80\x08\x00", 3), 0);
    uint8_t buf[200];
    size_t len = make_rtp(buf, 8, 2, 1, 0, 20);
    assert_int_equal(udp_send(phone, (uint16_t)(pb + 1), buf, len), 0);
    buf[0] = 0x40;
    assert_int_equal(udp_send(phone, pb, buf, len), 0);
    expect(&l, malformed_reached, t, 4);
    assert_int_equal(recorder_count(&rb), 0);
    assert_false(info_of(t).latched);

    /* a header that lies about its CSRC count does not latch either */
    len = make_rtp(buf, 8, 3, 1, 0, 4);
    buf[0] = 0x8f; /* 15 CSRCs in 16 bytes */
    assert_int_equal(udp_send(phone, pb, buf, len), 0);
    expect(&l, malformed_reached, t, 5);
    assert_false(info_of(t).latched);

    rtp_transport_close(t);
    mem_deref(t);
    close(phone);
    recorder_fini(&rb);
    loop_fini(&l);
}

/* ---- close while receiving ---------------------------------------------------------------- */

struct blast {
    int fd;
    uint16_t to;
    atomic_int stop;
};

static gpointer blaster(gpointer data)
{
    struct blast *b = data;
    uint8_t buf[200];
    for (uint16_t seq = 0; !atomic_load(&b->stop); seq++) {
        size_t len = make_rtp(buf, 8, seq, 0x5eed, 0, 160);
        (void)udp_send(b->fd, b->to, buf, len);
        if (seq % 64 == 0)
            g_thread_yield();
    }
    return NULL;
}

struct mixer {
    struct media_transport *t;
    atomic_int stop, closed;
    unsigned sent_after_close;
};

static gpointer mixer_thread(gpointer data)
{
    struct mixer *m = data;
    uint8_t buf[1500];
    for (uint16_t seq = 0; !atomic_load(&m->stop); seq++) {
        bool closed = atomic_load(&m->closed);
        size_t len = make_rtp(buf, 8, seq, 0xb0b0, 0, 160);
        int e = media_transport_send(m->t, buf, len, sizeof(buf), seq % 50 == 0);
        if (closed && e != EAGAIN)
            m->sent_after_close++;
        g_thread_yield();
    }
    return NULL;
}

static void close_while_receiving(void **state)
{
    struct loop l;
    struct recorder rb;
    loop_init(&l);
    struct rtp_transport *b = make_tp(&l, &rb, "b", 0, 0);
    uint16_t phone_port;
    int phone = udp_open(&phone_port);
    remote_to(&l, b, phone_port, false, true, NULL);

    struct blast bl = {.fd = phone, .to = rtp_transport_local_port(b)};
    struct mixer mx = {.t = rtp_transport_media(b)};
    GThread *t1 = g_thread_new("blast", blaster, &bl);
    GThread *t2 = g_thread_new("mixer", mixer_thread, &mx);
    assert_true(recorder_wait(&l, &rb, 200));
    expect(&l, tx_reached, b, 1); /* the mixer is sending too */

    rtp_transport_close(b);
    atomic_store(&mx.closed, 1);
    g_mutex_lock(&rb.lock);
    rb.closed = true;
    unsigned at_close = rb.pkts->len;
    g_mutex_unlock(&rb.lock);
    run_for(&l, 50);
    atomic_store(&bl.stop, 1);
    atomic_store(&mx.stop, 1);
    g_thread_join(t1);
    g_thread_join(t2);

    assert_int_equal(rb.after_close, 0);
    assert_int_equal(recorder_count(&rb), at_close);
    assert_int_equal(mx.sent_after_close, 0);
    mem_deref(b);
    close(phone);
    recorder_fini(&rb);
    loop_fini(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_transports_talk),
        cmocka_unit_test(ipv6),
        cmocka_unit_test(latching),
        cmocka_unit_test(srtp_on_the_wire),
        cmocka_unit_test(srtp_gcm_on_the_wire),
        cmocka_unit_test(hold_and_resume),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(close_while_receiving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
