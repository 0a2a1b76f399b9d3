/*
 * Two media sessions of the plain RTP profile over 127.0.0.1: offer/answer, `connected` without
 * ICE, a tone through each way (Opus; G.711 once the audio stream carries it), the answerer
 * behind a NAT that rewrites its port (we latch), SDES-SRTP negotiated from the SRTP modes, a
 * re-offer that would change the codec refused, and a close while packets still arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/rtp_transport.h"
#include "media/worker.h"
#include "rtpleg_session.h"

#define FREQ_A 700.0
#define FREQ_B 1100.0

/* The tone of the other party came through at its level, 20 dB above its own and the noise,
 * in most frames (see rtpleg_session.h on the others: a machine busy enough to disturb half
 * of them in real time would fail this, and should). */
static void hears_the_other(const struct party *p)
{
    if (p->clean < p->frames / 2 || p->clean < 10 || p->clean_level < -14 || p->clean_level > -10)
        fail_msg("%s hears the other clearly in %u of %u frames, at %.1f dBFS", p->name, p->clean,
                 p->frames, p->clean_level);
}

static void hears_nothing(const struct party *p)
{
    if (p->decoded || p->clean)
        fail_msg("%s still hears the other: %u frames decoded, %u with its tone", p->name,
                 p->decoded, p->clean);
}

static struct rtp_transport_info rtp_info(struct party *p)
{
    struct rtp_transport_info i;
    assert_int_equal(media_session_rtp_info(p->s, &i), 0);
    return i;
}

/* The answer's m= port moved to a socket nobody reads: what a NAT in front of the answerer
 * does to the port its packets come from. The offerer must latch to where they really come
 * from. */
static uint16_t dead_port;

static void nat_the_answer(char *sdp)
{
    char *m = strstr(sdp, "m=audio ");
    assert_non_null(m);
    char port[8];
    int n = snprintf(port, sizeof(port), "%u", dead_port);
    assert_int_equal(n, 5); /* same width: the text is edited in place */
    memcpy(m + 8, port, 5);
}

static void opus_both_ways(void **state)
{
    struct loop l;
    loop_init(&l);
    struct party a, b;
    party_make(&l, &a, "a", true, SDP_SRTP_OFF, NULL, 0, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OFF, NULL, 0, FREQ_B, FREQ_A);

    /* nothing to gather, nothing connected before a negotiation */
    run_for(&l, 20);
    assert_int_equal(a.connected + b.connected + a.candidates + a.gathering_done, 0);
    char err[256];
    assert_int_equal(media_session_add_remote_candidate(a.s, "candidate:1 1 udp 1 1.2.3.4 5 typ "
                                                             "host"),
                     ENOTSUP);

    int dead;
    do { /* a five-digit port, for the in-place edit */
        dead = udp_open(&dead_port);
        if (dead_port < 10000)
            close(dead);
    } while (dead_port < 10000);

    int e = negotiate(&a, &b, nat_the_answer, err, sizeof(err));
    if (e)
        fail_msg("negotiation: %s", err);
    struct party *pair[2] = {&a, &b};
    assert_true(wait_for(&l, both_connected, pair, WAIT_MS));
    struct media_session_info ia, ib;
    media_session_get_info(a.s, &ia);
    assert_true(ia.connected);
    assert_string_equal(ia.codec, "opus/48000");
    assert_string_equal(ia.srtp, "");
    bool send, recv;
    media_session_direction(b.s, &send, &recv);
    assert_true(send && recv);

    talk(&l, &a, &b, 1000, 400);
    hears_the_other(&a);
    hears_the_other(&b);

    /* a latched to b's real port; the dead one got what a sent before that, nothing since */
    struct rtp_transport_info ra = rtp_info(&a), rb = rtp_info(&b);
    media_session_get_info(b.s, &ib);
    assert_string_equal(ra.remote_addr, ib.local_addr);
    assert_true(ra.latched);
    assert_true(ra.rtcp_mux); /* offered and answered */
    assert_int_equal(ra.stats.latches, 1);
    assert_true(rb.stats.rx_rtp > 20);
    assert_true(ra.stats.rx_rtcp > 0 || rb.stats.rx_rtcp > 0);
    uint8_t buf[1500];
    int drained = 0;
    while (udp_recv(dead, buf, sizeof(buf), 0, NULL) > 0)
        drained++;
    assert_true(drained < 10);
    close(dead);

    /* one event each, exactly once */
    assert_int_equal(a.connected, 1);
    assert_int_equal(b.connected, 1);
    assert_int_equal(a.failed + b.failed, 0);
    party_free(&a);
    party_free(&b);
    loop_fini(&l);
}

static void g711_both_ways(void **state)
{
    static const struct sdp_codec pcmu[] = {
        {"PCMU", 8000, 1, 0, NULL, NULL},
        {"telephone-event", 8000, 1, 101, "0-15", NULL},
    };
    struct loop l;
    loop_init(&l);
    struct party a, b;
    party_make(&l, &a, "a", true, SDP_SRTP_OFF, pcmu, 2, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OFF, NULL, 0, FREQ_B, FREQ_A);
    char err[256];
    int e = negotiate(&a, &b, NULL, err, sizeof(err));
    if (e == ENOTSUP && strstr(err, "audio stream")) {
        /* the audio stream does not carry G.711 yet */
        party_free(&a);
        party_free(&b);
        loop_fini(&l);
        skip();
    }
    if (e)
        fail_msg("negotiation: %s", err);
    struct media_session_info ia;
    media_session_get_info(a.s, &ia);
    assert_string_equal(ia.codec, "PCMU/8000");
    talk(&l, &a, &b, 1000, 400);
    hears_the_other(&a);
    hears_the_other(&b);
    party_free(&a);
    party_free(&b);
    loop_fini(&l);
}

static void sdes_both_ways(void **state)
{
    struct loop l;
    loop_init(&l);
    struct party a, b;
    party_make(&l, &a, "a", true, SDP_SRTP_REQUIRED, NULL, 0, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OPTIONAL, NULL, 0, FREQ_B, FREQ_A);
    char err[256];
    int e = negotiate(&a, &b, NULL, err, sizeof(err));
    if (e)
        fail_msg("negotiation: %s", err);
    struct media_session_info ia, ib;
    media_session_get_info(a.s, &ia);
    media_session_get_info(b.s, &ib);
    assert_string_equal(ia.srtp, "AES_CM_128_HMAC_SHA1_80");
    assert_string_equal(ib.srtp, "AES_CM_128_HMAC_SHA1_80");
    talk(&l, &a, &b, 1000, 400);
    hears_the_other(&a);
    hears_the_other(&b);
    struct rtp_transport_info ra = rtp_info(&a), rb = rtp_info(&b);
    assert_true(ra.srtp && rb.srtp);
    assert_int_equal(ra.stats.rx_auth_fail + rb.stats.rx_auth_fail, 0);
    assert_true(rb.stats.rx_rtp > 20);

    /* close a while b keeps sending to it */
    media_session_close(a.s);
    a.closed = true;
    talk(&l, &a, &b, 200, 0);
    party_free(&a);
    party_free(&b);

    /* optional meets off: plain RTP; required meets off: refused */
    party_make(&l, &a, "a", true, SDP_SRTP_OPTIONAL, NULL, 0, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OFF, NULL, 0, FREQ_B, FREQ_A);
    assert_int_equal(negotiate(&a, &b, NULL, err, sizeof(err)), 0);
    media_session_get_info(a.s, &ia);
    assert_string_equal(ia.srtp, "");
    assert_false(rtp_info(&a).srtp);
    party_free(&a);
    party_free(&b);
    party_make(&l, &a, "a", true, SDP_SRTP_REQUIRED, NULL, 0, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OFF, NULL, 0, FREQ_B, FREQ_A);
    assert_int_equal(negotiate(&a, &b, NULL, err, sizeof(err)), ENOTSUP);
    assert_non_null(strstr(err, "RTP/SAVP"));
    assert_null(media_session_audio(b.s));
    party_free(&a);
    party_free(&b);
    loop_fini(&l);
}

/* Re-offers of a running session: hold and resume both ways, and one that would change the
 * codec, which is refused and changes nothing. */
static void hold_resume_and_codec_change(void **state)
{
    struct loop l;
    loop_init(&l);
    struct party a, b;
    party_make(&l, &a, "a", true, SDP_SRTP_OPTIONAL, NULL, 0, FREQ_A, FREQ_B);
    party_make(&l, &b, "b", false, SDP_SRTP_OPTIONAL, NULL, 0, FREQ_B, FREQ_A);
    char err[256];
    assert_int_equal(negotiate(&a, &b, NULL, err, sizeof(err)), 0);
    talk(&l, &a, &b, 800, 300);
    hears_the_other(&a);
    hears_the_other(&b);

    /* a holds b: a=sendonly, answered recvonly; b falls silent, a still plays to b */
    char *offer, *answer;
    assert_int_equal(media_session_create_reoffer(a.s, true, false, &offer), 0);
    assert_non_null(strstr(offer, "a=sendonly"));
    assert_non_null(strstr(offer, "a=crypto:"));
    assert_int_equal(media_session_set_remote_offer(b.s, offer, err, sizeof(err)), 0);
    mem_deref(offer);
    assert_int_equal(media_session_create_answer(b.s, &answer), 0);
    assert_non_null(strstr(answer, "a=recvonly"));
    assert_int_equal(media_session_set_remote_answer(a.s, answer, err, sizeof(err)), 0);
    mem_deref(answer);
    bool send, recv;
    media_session_direction(b.s, &send, &recv);
    assert_false(send);
    assert_true(recv);
    talk(&l, &a, &b, 800, 300);
    hears_nothing(&a);
    hears_the_other(&b);

    /* a re-offer from b that drops our codec for another is refused; the call goes on */
    assert_int_equal(media_session_create_reoffer(b.s, true, true, &offer), 0);
    char *m = strstr(offer, "m=audio ");
    assert_non_null(m);
    char *fmts = strstr(m, " RTP/AVP ");
    assert_non_null(fmts);
    fmts += 9;
    /* the re-offer carries only the agreed codec and telephone-event: make it PCMU */
    assert_int_equal(strncmp(fmts, "111 ", 4), 0);
    memcpy(fmts, "0   ", 4);
    char *rtpmap = strstr(offer, "a=rtpmap:111 opus/48000/2");
    assert_non_null(rtpmap);
    memcpy(rtpmap, "a=rtpmap:0   PCMU/8000  ", 24);
    int e = media_session_set_remote_offer(a.s, offer, err, sizeof(err));
    mem_deref(offer);
    assert_int_equal(e, ENOTSUP);
    assert_non_null(strstr(err, "change the codec"));
    struct media_session_info ia;
    media_session_get_info(a.s, &ia);
    assert_string_equal(ia.codec, "opus/48000");

    /* a resumes */
    assert_int_equal(media_session_create_reoffer(a.s, true, true, &offer), 0);
    assert_int_equal(media_session_set_remote_offer(b.s, offer, err, sizeof(err)), 0);
    mem_deref(offer);
    assert_int_equal(media_session_create_answer(b.s, &answer), 0);
    assert_non_null(strstr(answer, "a=sendrecv"));
    assert_int_equal(media_session_set_remote_answer(a.s, answer, err, sizeof(err)), 0);
    mem_deref(answer);
    talk(&l, &a, &b, 800, 300);
    hears_the_other(&a);
    hears_the_other(&b);

    /* SRTP ran all along, keyed once */
    struct rtp_transport_info ra = rtp_info(&a);
    assert_true(ra.srtp);
    assert_int_equal(ra.stats.rx_auth_fail + ra.stats.rx_replay, 0);
    assert_int_equal(a.connected, 1);
    party_free(&a);
    party_free(&b);
    loop_fini(&l);
}

static void misuse(void **state)
{
    struct loop l;
    loop_init(&l);
    struct media_session *s = NULL;
    struct media_session_handlers h = {0};
    struct media_session_cfg cfg = {
        .worker = media_workers_pick(l.workers),
        .local_ip = "0.0.0.0",
        .profile = SDP_PROFILE_RTP_AVP,
    };
    /* a wildcard bind needs a public address for the SDP */
    assert_int_equal(media_session_alloc(&s, &cfg, true, &h, NULL), EINVAL);
    cfg.public_addr = "198.51.100.7";
    assert_int_equal(media_session_alloc(&s, &cfg, true, &h, NULL), 0);
    char *offer;
    assert_int_equal(media_session_create_offer(s, &offer), 0);
    assert_non_null(strstr(offer, "c=IN IP4 198.51.100.7"));
    assert_null(strstr(offer, "a=crypto"));
    mem_deref(offer);
    mem_deref(s);
    cfg.profile = (enum sdp_profile)9;
    assert_int_equal(media_session_alloc(&s, &cfg, true, &h, NULL), EINVAL);
    cfg.profile = SDP_PROFILE_RTP_AVP;
    cfg.srtp = (enum sdp_srtp)9;
    assert_int_equal(media_session_alloc(&s, &cfg, true, &h, NULL), EINVAL);
    /* an answerer makes no offer; an offer it gets must parse */
    cfg.srtp = SDP_SRTP_OFF;
    assert_int_equal(media_session_alloc(&s, &cfg, false, &h, NULL), 0);
    assert_int_equal(media_session_create_offer(s, &offer), EINVAL);
    char err[256];
    assert_int_equal(media_session_set_remote_offer(s, "v=0\r\nbogus", err, sizeof(err)), EBADMSG);
    /* an offer whose address is a host name: refused, no stream left behind */
    assert_int_equal(media_session_set_remote_offer(s,
                                                    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
                                                    "c=IN IP4 phone.example\r\nt=0 0\r\n"
                                                    "m=audio 4000 RTP/AVP 111\r\n"
                                                    "a=rtpmap:111 opus/48000/2\r\n",
                                                    err, sizeof(err)),
                     EBADMSG);
    assert_non_null(strstr(err, "not a numeric IP"));
    assert_null(media_session_audio(s));
    struct rtp_transport_info ri;
    struct media_session_info mi;
    media_session_get_info(s, &mi);
    assert_false(mi.connected);
    assert_int_equal(media_session_rtp_info(s, &ri), 0);
    mem_deref(s);
    loop_fini(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opus_both_ways), cmocka_unit_test(g711_both_ways),
        cmocka_unit_test(sdes_both_ways), cmocka_unit_test(hold_resume_and_codec_change),
        cmocka_unit_test(misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
