/* Our own offers (WebRTC and plain RTP) and reading the answers to them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "sdp_samples.h"
#include "sdp_test_util.h"

static void our_offer_and_chromium_answer(void **state)
{
    struct sdp_local l = test_webrtc_local();
    l.ncandidates = 0;
    l.candidates_done = false;
    char *o = NULL;
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "a=group:BUNDLE 0");
    test_has_line(o, "a=msid-semantic: WMS sbstream");
    test_has_line(o, "m=audio 9 UDP/TLS/RTP/SAVPF 111 126");
    test_has_line(o, "c=IN IP4 0.0.0.0");
    test_has_line(o, "a=setup:actpass");
    test_has_line(o, "a=mid:0");
    test_has_line(o, "a=ice-options:trickle");
    test_has_line(o, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    test_has_line(o, "a=rtcp-mux");
    test_has_line(o, "a=rtpmap:111 opus/48000/2");
    test_has_line(o, "a=fmtp:111 minptime=10;useinbandfec=1");
    test_has_line(o, "a=rtpmap:126 telephone-event/48000");
    test_has_line(o, "a=sendrecv");
    test_has_line(o, "a=ssrc:305419896 cname:sbcname");
    struct sdp_session *os = test_parse(o);
    assert_int_equal(os->nmedia, 1);
    mem_deref(os);
    mem_deref(o);

    /* with candidates, c= and the port follow the first */
    l = test_webrtc_local();
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 40000 UDP/TLS/RTP/SAVPF 111 126");
    test_has_line(o, "c=IN IP4 192.0.2.10");
    test_has_line(o, "a=candidate:2 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 192.0.2.10 "
                     "rport 40000");
    test_has_line(o, "a=end-of-candidates");
    mem_deref(o);

    /* Chromium's answer: setup active, recvonly */
    struct sdp_session *ans = test_parse(
        CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111 126", "active", CHROMIUM_ANSWER_RTPMAPS));
    struct sdp_audio_params p;
    char err[256];
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    assert_string_equal(p.codec, "opus");
    assert_int_equal(p.pt, 111);
    assert_int_equal(p.dtmf_pt, 126);
    assert_true(p.opus_fec);
    assert_true(p.opus_stereo);
    assert_int_equal(p.opus_maxavgbitrate, 64000);
    assert_int_equal(p.level_ext_id, 1);
    assert_int_equal(p.remote_setup, SDP_SETUP_ACTIVE);
    assert_int_equal(p.dtls_role, DTLS_ROLE_SERVER);
    assert_string_equal(p.ice_ufrag, "Jm1x");
    assert_string_equal(p.fingerprint, CHROMIUM_FP);
    assert_true(p.bundle);
    assert_true(p.rtcp_mux);
    assert_string_equal(p.mid, "0");
    /* they only receive: we send, we do not receive */
    assert_true(p.send);
    assert_false(p.recv);
    mem_deref(ans);

    /* passive in the answer makes us the client */
    ans = test_parse(CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111", "passive",
                                     "a=rtpmap:111 opus/48000/2\n"));
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    assert_int_equal(p.dtls_role, DTLS_ROLE_CLIENT);
    assert_int_equal(p.dtmf_pt, 0);
    mem_deref(ans);
}

static void bad_answers_are_refused(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct {
        const char *sdp;
        int code;
        const char *want;
    } cases[] = {
        {CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111 97", "active",
                         CHROMIUM_ANSWER_RTPMAPS "a=rtpmap:97 ISAC/16000\n"),
         EPROTO, "payload type 97 we did not offer"},
        {CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111", "active", "a=rtpmap:111 ISAC/16000\n"),
         EPROTO, "maps payload type 111 to ISAC/16000"},
        {CHROMIUM_ANSWER("m=audio 0 UDP/TLS/RTP/SAVPF 111", "active", CHROMIUM_ANSWER_RTPMAPS),
         ENOTSUP, "refused the audio"},
        {CHROMIUM_ANSWER("m=video 9 UDP/TLS/RTP/SAVPF 111", "active", CHROMIUM_ANSWER_RTPMAPS),
         EPROTO, "where we offered audio"},
        {CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 126", "active", CHROMIUM_ANSWER_RTPMAPS),
         ENOTSUP, "no audio codec"},
        {CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111", "actpass", CHROMIUM_ANSWER_RTPMAPS),
         EPROTO, "actpass in an answer"},
        {CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111", "active",
                         CHROMIUM_ANSWER_RTPMAPS "m=video 0 UDP/TLS/RTP/SAVPF 96\n"),
         EPROTO, "2 m-sections"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sdp_session *ans = test_parse(cases[i].sdp);
        struct sdp_audio_params p;
        char err[256] = "";
        int e = sdp_answer_read(ans, &l, &p, err, sizeof(err));
        if (e != cases[i].code || !strstr(err, cases[i].want))
            fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, e, err, cases[i].code,
                     cases[i].want);
        mem_deref(ans);
    }

    /* without a fingerprint */
    const char *good =
        CHROMIUM_ANSWER("m=audio 9 UDP/TLS/RTP/SAVPF 111", "active", CHROMIUM_ANSWER_RTPMAPS);
    struct sdp_session *ans = test_parse(test_replace(good, "a=fingerprint:", "a=x-fingerprint:"));
    struct sdp_audio_params p;
    char err[256];
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), EPROTO);
    assert_non_null(strstr(err, "fingerprint"));
    mem_deref(ans);
}

static void our_rtp_avp_offer(void **state)
{
    struct sdp_local l = test_avp_local();
    char *o;
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "o=- 77 1 IN IP4 192.0.2.1");
    test_has_line(o, "c=IN IP4 192.0.2.1");
    test_has_line(o, "m=audio 20000 RTP/AVP 111 9 0 8 126 101");
    test_has_line(o, "a=rtpmap:0 PCMU/8000");
    test_has_line(o, "a=rtpmap:8 PCMA/8000");
    test_has_line(o, "a=rtpmap:9 G722/8000");
    test_has_line(o, "a=rtpmap:101 telephone-event/8000");
    test_has_line(o, "a=fmtp:101 0-15");
    test_lacks(o, "ice-");
    test_lacks(o, "fingerprint");
    test_lacks(o, "setup");
    test_lacks(o, "a=mid");
    test_lacks(o, "BUNDLE");

    /* a phone answers PCMA */
    struct sdp_session *ans = test_parse("v=0\no=phone 1 1 IN IP4 192.0.2.60\ns=-\n"
                                         "c=IN IP4 192.0.2.60\nt=0 0\nm=audio 31000 RTP/AVP 8 101\n"
                                         "a=rtpmap:101 telephone-event/8000\na=sendrecv\n");
    struct sdp_audio_params p;
    char err[256];
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    assert_string_equal(p.codec, "PCMA");
    assert_int_equal(p.pt, 8);
    assert_int_equal(p.dtmf_pt, 101);
    assert_string_equal(p.remote_addr, "192.0.2.60");
    assert_int_equal(p.remote_port, 31000);
    assert_true(p.send && p.recv);
    mem_deref(ans);
    mem_deref(o);

    /* a plain RTP offer needs to say where RTP goes */
    l.addr = NULL;
    assert_int_equal(sdp_offer_create(&l, &o), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(our_offer_and_chromium_answer),
        cmocka_unit_test(bad_answers_are_refused),
        cmocka_unit_test(our_rtp_avp_offer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
