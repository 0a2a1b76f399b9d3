/* Answering offers: Chromium, aiortc and SIP phones, renegotiation (hold, resume, ICE restart,
 * DTLS roles, added m-lines), and the refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/mem.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "sdp_samples.h"
#include "sdp_test_util.h"

/* Answers text with l, expecting success; returns the answer (mem string). */

/* Answers text expecting error code with a message containing want. */

/* Replaces the first occurrence of from in text (a static buffer, for making variants). */

static void chromium_offer_is_answered(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params p;
    struct sdp_session *offer;
    char *a = test_answer(CHROMIUM_OFFER, &l, &p, &offer);

    /* what the session learns */
    assert_int_equal(p.profile, SDP_PROFILE_WEBRTC);
    assert_int_equal(p.mline, 0);
    assert_string_equal(p.mid, "0");
    assert_true(p.bundle);
    assert_string_equal(p.codec, "opus");
    assert_int_equal(p.pt, 111);
    assert_int_equal(p.clock_rate, 48000);
    assert_int_equal(p.channels, 2);
    assert_true(p.opus_fec);
    assert_true(p.opus_dtx);
    assert_false(p.opus_stereo);
    assert_int_equal(p.opus_maxavgbitrate, 0);
    assert_int_equal(p.dtmf_pt, 110); /* telephone-event/48000, not the /8000 one on 126 */
    assert_int_equal(p.level_ext_id, 1);
    assert_true(p.send);
    assert_true(p.recv);
    assert_int_equal(p.dir, SDP_DIR_SENDRECV);
    assert_string_equal(p.ice_ufrag, "Sx+9");
    assert_string_equal(p.ice_pwd, "Fkn3QEZz7rPtnmsuFN6v6Tc5");
    assert_false(p.ice_lite);
    assert_false(p.ice_restart);
    assert_string_equal(p.fp_alg, "sha-256");
    assert_string_equal(p.fingerprint, CHROMIUM_FP);
    assert_int_equal(p.remote_setup, SDP_SETUP_ACTPASS);
    assert_int_equal(p.dtls_role, DTLS_ROLE_CLIENT);
    assert_true(p.rtcp_mux);
    assert_int_equal(p.ncandidates, 0);
    assert_false(p.end_of_candidates);
    assert_int_equal(p.remote_ssrc, 1001406532u);
    assert_string_equal(p.remote_addr, "0.0.0.0");
    assert_int_equal(p.remote_port, 9);

    /* the answer's lines */
    const char *head = "v=0\r\no=- 1234567890123 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    assert_memory_equal(a, head, strlen(head));
    test_has_line(a, "a=group:BUNDLE 0");
    test_has_line(a, "a=msid-semantic: WMS sbstream");
    test_has_line(a, "m=audio 40000 UDP/TLS/RTP/SAVPF 111 110");
    test_has_line(a, "c=IN IP4 192.0.2.10");
    test_has_line(a, "a=rtcp:40000 IN IP4 192.0.2.10");
    test_has_line(a, "a=candidate:1 1 udp 2130706431 192.0.2.10 40000 typ host");
    test_has_line(a, "a=end-of-candidates");
    test_has_line(a, "a=ice-ufrag:ufrA");
    test_has_line(a, "a=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd");
    test_has_line(a, "a=ice-options:trickle");
    test_has_line(a, "a=fingerprint:sha-256 " OUR_FP);
    test_has_line(a, "a=setup:active");
    test_has_line(a, "a=mid:0");
    test_has_line(a, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    test_has_line(a, "a=sendrecv");
    test_has_line(a, "a=msid:sbstream sbtrack");
    test_has_line(a, "a=rtcp-mux");
    test_has_line(a, "a=rtpmap:111 opus/48000/2");
    test_has_line(a, "a=fmtp:111 minptime=10;useinbandfec=1");
    test_has_line(a, "a=rtpmap:110 telephone-event/48000");
    test_has_line(a, "a=ssrc:305419896 cname:sbcname");
    test_has_line(a, "m=video 0 UDP/TLS/RTP/SAVPF 96");
    test_lacks(a, "126");
    test_lacks(a, "transport-cc");
    test_lacks(a, "abs-send-time");
    test_lacks(a, "a=group:BUNDLE 0 1");

    /* re-parsed: the video section is refused with nothing but its mid */
    struct sdp_session *ans = test_parse(a);
    assert_int_equal(ans->nmedia, 2);
    const struct sdp_media *am = &ans->media[0], *vm = &ans->media[1];
    assert_int_equal(am->port, 40000);
    assert_int_equal(sdp_media_dir(ans, am), SDP_DIR_SENDRECV);
    assert_string_equal(sdp_attr_value(ans, am, "setup"), "active");
    assert_int_equal(vm->port, 0);
    assert_string_equal(vm->type, "video");
    assert_string_equal(vm->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(vm->nfmts, 1);
    assert_int_equal(vm->attrs.n, 1);
    assert_string_equal(vm->attrs.v[0].line, "mid:1");
    char *again;
    assert_int_equal(sdp_format(ans, &again), 0);
    assert_string_equal(again, a);
    mem_deref(again);
    mem_deref(ans);
    mem_deref(a);
    mem_deref(offer);
}

static void crlf_and_lf_offers_give_the_same_answer(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params p1, p2;
    char *text = test_crlf(CHROMIUM_OFFER);
    char *a1 = test_answer(CHROMIUM_OFFER, &l, &p1, NULL);
    char *a2 = test_answer(text, &l, &p2, NULL);
    assert_string_equal(a1, a2);
    assert_int_equal(p1.pt, p2.pt);
    assert_string_equal(p1.fingerprint, p2.fingerprint);
    mem_deref(a1);
    mem_deref(a2);
    free(text);
}

static void no_candidates_yet_means_placeholder_address(void **state)
{
    struct sdp_local l = test_webrtc_local();
    l.ncandidates = 0;
    l.candidates_done = false;
    struct sdp_audio_params p;
    char *a = test_answer(CHROMIUM_OFFER, &l, &p, NULL);
    test_has_line(a, "m=audio 9 UDP/TLS/RTP/SAVPF 111 110");
    test_has_line(a, "c=IN IP4 0.0.0.0");
    test_has_line(a, "a=rtcp:9 IN IP4 0.0.0.0");
    test_lacks(a, "a=candidate");
    test_lacks(a, "a=end-of-candidates");
    mem_deref(a);
}

static void hold_and_resume(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params cur;
    char *a = test_answer(CHROMIUM_OFFER, &l, &cur, NULL);
    mem_deref(a);

    /* the peer holds us: a=sendonly -> we answer recvonly */
    struct sdp_audio_params p;
    l.current = &cur;
    l.sess_version = 2;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("3", "sendonly", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "o=- 1234567890123 2 IN IP4 127.0.0.1");
    test_has_line(a, "a=recvonly");
    test_lacks(a, "a=sendrecv");
    assert_false(p.send);
    assert_true(p.recv);
    assert_int_equal(p.dir, SDP_DIR_RECVONLY);
    assert_false(p.ice_restart);
    assert_false(p.dtls_restart);
    assert_int_equal(p.dtls_role, DTLS_ROLE_CLIENT);
    test_has_line(a, "a=setup:active");
    mem_deref(a);

    /* inactive -> inactive */
    cur = p;
    l.sess_version = 3;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("4", "inactive", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=inactive");
    assert_false(p.send);
    assert_false(p.recv);
    mem_deref(a);

    /* recvonly -> sendonly */
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("5", "recvonly", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=sendonly");
    assert_true(p.send);
    assert_false(p.recv);
    mem_deref(a);

    /* resume */
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("6", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=sendrecv");
    assert_true(p.send);
    assert_true(p.recv);
    mem_deref(a);

    /* our own wish limits the answer: we hold (sendonly) while the peer sends and receives */
    l.dir = SDP_DIR_SENDONLY;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("7", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=sendonly");
    assert_true(p.send);
    assert_false(p.recv);
    mem_deref(a);
    l.dir = SDP_DIR_INACTIVE;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("8", "sendonly", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=inactive");
    mem_deref(a);
}

static void ice_restart_is_detected(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params p;
    char *a = test_answer(CHROMIUM_OFFER, &l, &p, NULL);
    mem_deref(a);

    /* same credentials: no restart, even with out being the previous result itself */
    l.current = &p;
    struct sdp_session *o = test_parse(
        CHROMIUM_AUDIO_OFFER("3", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"));
    char err[128];
    assert_int_equal(sdp_offer_read(o, &l, &p, err, sizeof(err)), 0);
    assert_false(p.ice_restart);
    mem_deref(o);

    /* new ufrag and pwd */
    o = test_parse(
        CHROMIUM_AUDIO_OFFER("4", "sendrecv", "N3w/", "NewPasswordNewPassword+/", "actpass"));
    assert_int_equal(sdp_offer_read(o, &l, &p, err, sizeof(err)), 0);
    assert_true(p.ice_restart);
    assert_false(p.dtls_restart);
    assert_string_equal(p.ice_ufrag, "N3w/");
    assert_string_equal(p.ice_pwd, "NewPasswordNewPassword+/");

    /* the caller restarts its agent and answers with its new credentials */
    l.ice_ufrag = "ufrB";
    l.ice_pwd = "qwertyqwertyqwertyqwerty";
    l.ncandidates = 0;
    l.sess_version = 3;
    char *ans;
    assert_int_equal(sdp_answer_create(o, &l, &ans, NULL, err, sizeof(err)), 0);
    test_has_line(ans, "a=ice-ufrag:ufrB");
    test_has_line(ans, "a=ice-pwd:qwertyqwertyqwertyqwerty");
    mem_deref(ans);
    mem_deref(o);
}

static void dtls_role_is_kept_on_renegotiation(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params cur, p;
    /* an offer that is active makes us passive (the DTLS server) */
    char *a = test_answer(
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "active"), &l,
        &cur, NULL);
    test_has_line(a, "a=setup:passive");
    assert_int_equal(cur.dtls_role, DTLS_ROLE_SERVER);
    mem_deref(a);

    /* a re-offer with actpass keeps the association and so our role (RFC 8842) */
    l.current = &cur;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("3", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &p, NULL);
    test_has_line(a, "a=setup:passive");
    assert_int_equal(p.dtls_role, DTLS_ROLE_SERVER);
    assert_false(p.dtls_restart);
    mem_deref(a);

    /* passive -> active */
    l.current = NULL;
    a = test_answer(
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "passive"), &l,
        &p, NULL);
    test_has_line(a, "a=setup:active");
    assert_int_equal(p.dtls_role, DTLS_ROLE_CLIENT);
    mem_deref(a);

    /* a new fingerprint is a new association: roles are chosen afresh */
    l.current = &cur;
    a = test_answer(test_replace(CHROMIUM_AUDIO_OFFER("3", "sendrecv", "Sx+9",
                                                      "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"),
                                 "3B:8A", "3B:8B"),
                    &l, &p, NULL);
    test_has_line(a, "a=setup:active");
    assert_true(p.dtls_restart);
    mem_deref(a);

    /* holdconn is not something we do */
    test_answer_fails(
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "holdconn"), &l,
        EPROTO, "holdconn");
    test_answer_fails(
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "sometimes"), &l,
        EBADMSG, "a=setup");
}

static void added_video_is_refused_on_renegotiation(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params cur, p;
    char *a = test_answer(
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"), &l,
        &cur, NULL);
    test_has_line(a, "a=group:BUNDLE 0");
    test_lacks(a, "m=video");
    mem_deref(a);

    l.current = &cur;
    l.sess_version = 2;
    a = test_answer(CHROMIUM_OFFER, &l, &p, NULL);
    test_has_line(a, "m=video 0 UDP/TLS/RTP/SAVPF 96");
    test_has_line(a, "a=group:BUNDLE 0");
    test_has_line(a, "m=audio 40000 UDP/TLS/RTP/SAVPF 111 110");
    assert_int_equal(p.mline, 0);
    assert_false(p.ice_restart);
    mem_deref(a);
}

static void aiortc_offer_is_answered(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_audio_params p;
    struct sdp_session *offer;
    char *a = test_answer(AIORTC_OFFER, &l, &p, &offer);
    assert_string_equal(p.codec, "opus");
    assert_int_equal(p.pt, 96);
    assert_int_equal(p.dtmf_pt, 0);
    assert_false(p.opus_fec); /* aiortc's opus has no fmtp */
    assert_int_equal(p.level_ext_id, 2);
    assert_string_equal(p.fingerprint, CHROMIUM_FP); /* from the session level */
    assert_string_equal(p.ice_ufrag, "Kx7q");
    assert_int_equal(p.remote_setup, SDP_SETUP_ACTPASS);
    assert_int_equal(p.dtls_role, DTLS_ROLE_CLIENT);
    assert_int_equal(p.ncandidates, 3);
    assert_string_equal(p.candidates[0], "candidate:9d0a5c2e3b6f4a18b7c1d2e3f4a5b6c7 1 udp "
                                         "2130706431 192.0.2.77 47852 typ host");
    assert_non_null(strstr(p.candidates[1], ".local 54321 typ host"));
    assert_true(p.end_of_candidates);
    assert_int_equal(p.remote_ssrc, 2718281828u);
    assert_string_equal(p.remote_addr, "192.0.2.77");
    assert_int_equal(p.remote_port, 47852);
    assert_true(p.bundle);

    test_has_line(a, "m=audio 40000 UDP/TLS/RTP/SAVPF 96");
    test_has_line(a, "a=rtpmap:96 opus/48000/2");
    test_has_line(a, "a=fmtp:96 minptime=10;useinbandfec=1");
    test_has_line(a, "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    test_has_line(a, "a=setup:active");
    test_lacks(a, "telephone-event");
    test_lacks(a, "PCMU");
    mem_deref(a);
    mem_deref(offer);
}

static void datachannel_only_is_refused(void **state)
{
    struct sdp_local l = test_webrtc_local();
    test_answer_fails(DATACHANNEL_OFFER, &l, ENOTSUP, "no audio m-section");
    test_answer_fails(DATACHANNEL_OFFER, &l, ENOTSUP, "application");
}

static void no_common_codec_is_enotsup(void **state)
{
    struct sdp_local l = test_webrtc_local();
    const char *offer = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\n"
                        "m=audio 9 UDP/TLS/RTP/SAVPF 18 0 101\n"
                        "c=IN IP4 0.0.0.0\na=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n"
                        "a=fingerprint:sha-256 " CHROMIUM_FP "\na=setup:actpass\na=mid:0\n"
                        "a=rtcp-mux\na=rtpmap:101 telephone-event/8000\n";
    test_answer_fails(offer, &l, ENOTSUP,
                      "no common audio codec: offered G729/8000 PCMU/8000 "
                      "telephone-event/8000; we have opus/48000");

    /* the preference list decides: with PCMU in it, PCMU is taken */
    static const struct sdp_codec pcmu_first[] = {
        {"PCMU", 8000, 1, 0, NULL, NULL},
        {"telephone-event", 8000, 1, 101, NULL, NULL},
    };
    l.codecs = pcmu_first;
    l.ncodecs = 2;
    struct sdp_audio_params p;
    char *a = test_answer(offer, &l, &p, NULL);
    assert_string_equal(p.codec, "PCMU");
    assert_int_equal(p.pt, 0);
    assert_int_equal(p.dtmf_pt, 101);
    test_has_line(a, "m=audio 40000 UDP/TLS/RTP/SAVPF 0 101");
    mem_deref(a);
}

static void missing_transport_attributes(void **state)
{
    struct sdp_local l = test_webrtc_local();
    const char *full =
        CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass");
    char no_fp[8192];
    snprintf(no_fp, sizeof(no_fp), "%s",
             test_replace(full, "a=fingerprint:sha-256 " CHROMIUM_FP "\n", ""));
    test_answer_fails(no_fp, &l, EPROTO, "no a=fingerprint");
    test_answer_fails(test_replace(full, "a=ice-ufrag:Sx+9\n", ""), &l, EPROTO, "no a=ice-ufrag");
    test_answer_fails(test_replace(full, "a=ice-pwd:", "a=x-ice-pwd:"), &l, EPROTO, "a=ice-pwd");
    test_answer_fails(test_replace(full, "a=ice-ufrag:Sx+9", "a=ice-ufrag:S x"), &l, EBADMSG,
                      "malformed a=ice-ufrag");
    test_answer_fails(test_replace(full, "a=rtcp-mux\n", ""), &l, EPROTO, "rtcp-mux");
    test_answer_fails(test_replace(full, "sha-256 3B:8A", "sha-256 3B8A"), &l, EBADMSG,
                      "malformed a=fingerprint");
    test_answer_fails(test_replace(full, ":6E:A1\n", ":6E\n"), &l, EBADMSG,
                      "malformed a=fingerprint");
    test_answer_fails(test_replace(full, "sha-256 3B", "md5 3B"), &l, EPROTO, "a hash we support");
    /* the ones we know other than sha-256 */
    struct sdp_audio_params p;
    char *a = test_answer(test_replace(full, "sha-256 " CHROMIUM_FP,
                                       "SHA-1 3b:8a:e1:2d:60:4d:1b:0d:2c:"
                                       "63:4e:4d:8d:42:0f:0f:1b:55:41:4b"),
                          &l, &p, NULL);
    assert_string_equal(p.fp_alg, "sha-1");
    assert_string_equal(p.fingerprint,
                        "3B:8A:E1:2D:60:4D:1B:0D:2C:63:4E:4D:8D:42:0F:0F:1B:55:41:4B");
    mem_deref(a);
    /* and a bad mid is not echoed */
    test_answer_fails(test_replace(full, "a=mid:0", "a=mid:0\"<x>"), &l, EBADMSG, "a=mid");
}

static void sip_offer_is_answered_in_rtp_avp(void **state)
{
    struct sdp_local l = test_avp_local();
    struct sdp_audio_params p;
    char *a = test_answer(SIP_OFFER, &l, &p, NULL);
    assert_int_equal(p.profile, SDP_PROFILE_RTP_AVP);
    /* our list prefers PCMU to PCMA, whatever the phone's order */
    assert_string_equal(p.codec, "PCMU");
    assert_int_equal(p.pt, 0);
    assert_int_equal(p.clock_rate, 8000);
    assert_int_equal(p.dtmf_pt, 101);
    assert_string_equal(p.remote_addr, "192.0.2.50");
    assert_int_equal(p.remote_port, 30000);
    assert_int_equal(p.ptime, 20);
    assert_true(p.send);
    assert_true(p.recv);
    assert_false(p.bundle);
    assert_string_equal(p.mid, "");

    assert_string_equal(a, "v=0\r\n"
                           "o=- 77 1 IN IP4 192.0.2.1\r\n"
                           "s=-\r\n"
                           "c=IN IP4 192.0.2.1\r\n"
                           "t=0 0\r\n"
                           "m=audio 20000 RTP/AVP 0 101\r\n"
                           "a=sendrecv\r\n"
                           "a=rtpmap:0 PCMU/8000\r\n"
                           "a=rtpmap:101 telephone-event/8000\r\n"
                           "a=fmtp:101 0-15\r\n"
                           "a=ptime:20\r\n");
    mem_deref(a);

    /* old-style hold: c=0.0.0.0 */
    a = test_answer(test_replace(SIP_OFFER, "c=IN IP4 192.0.2.50", "c=IN IP4 0.0.0.0"), &l, &p,
                    NULL);
    assert_false(p.send);
    assert_true(p.recv);
    test_has_line(a, "a=recvonly");
    mem_deref(a);

    /* the same offer to a WebRTC leg has the wrong proto */
    struct sdp_local w = test_webrtc_local();
    test_answer_fails(SIP_OFFER, &w, ENOTSUP, "proto RTP/AVP");
    /* and a WebRTC offer to a plain RTP leg */
    test_answer_fails(CHROMIUM_OFFER, &l, ENOTSUP, "proto UDP/TLS/RTP/SAVPF");
}

static void audio_after_video_and_extra_audio(void **state)
{
    struct sdp_local l = test_webrtc_local();
    /* video first (the BUNDLE tag) and two audio sections: the first audio one is taken */
    char offer[16384];
    snprintf(offer, sizeof(offer), "%s",
             CHROMIUM_SESSION "a=group:BUNDLE 1 0 2\n" CHROMIUM_VIDEO_BODY);
    strcat(offer, test_replace(CHROMIUM_AUDIO_BODY("sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5",
                                                   "actpass"),
                               "a=mid:0", "a=mid:0"));
    strcat(offer, test_replace(CHROMIUM_AUDIO_BODY("sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5",
                                                   "actpass"),
                               "a=mid:0", "a=mid:2"));
    struct sdp_audio_params p;
    char *a = test_answer(offer, &l, &p, NULL);
    assert_int_equal(p.mline, 1);
    assert_string_equal(p.mid, "0");
    assert_true(p.bundle);
    test_has_line(a, "a=group:BUNDLE 0");
    struct sdp_session *s = test_parse(a);
    assert_int_equal(s->nmedia, 3);
    assert_int_equal(s->media[0].port, 0);
    assert_string_equal(s->media[0].type, "video");
    assert_int_equal(s->media[1].port, 40000);
    assert_int_equal(s->media[2].port, 0);
    assert_string_equal(s->media[2].type, "audio");
    assert_string_equal(sdp_media_mid(&s->media[2]), "2");
    assert_int_equal(s->media[2].attrs.n, 1);
    mem_deref(s);
    mem_deref(a);
}

static void bundle_only_audio_takes_the_tag_transport(void **state)
{
    struct sdp_local l = test_webrtc_local();
    /* RFC 8843 bundle-only: port 0, no transport attributes of its own */
    const char *offer =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\na=group:BUNDLE 0 1\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\nc=IN IP4 0.0.0.0\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.5 5000 typ host\n"
        "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n"
        "a=fingerprint:sha-256 " CHROMIUM_FP "\na=setup:actpass\na=mid:0\na=rtcp-mux\n"
        "m=audio 0 UDP/TLS/RTP/SAVPF 111\nc=IN IP4 0.0.0.0\na=bundle-only\na=mid:1\n"
        "a=sendrecv\na=rtcp-mux\na=rtpmap:111 opus/48000/2\n";
    struct sdp_audio_params p;
    char *a = test_answer(offer, &l, &p, NULL);
    assert_int_equal(p.mline, 1);
    assert_string_equal(p.ice_ufrag, "abcd");
    assert_int_equal(p.ncandidates, 1);
    test_has_line(a, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel");
    test_has_line(a, "m=audio 40000 UDP/TLS/RTP/SAVPF 111");
    test_has_line(a, "a=group:BUNDLE 1");
    mem_deref(a);
}

static void candidates_and_extensions_are_bounded(void **state)
{
    struct sdp_local l = test_webrtc_local();
    char offer[16384];
    snprintf(offer, sizeof(offer), "%s",
             CHROMIUM_AUDIO_OFFER("2", "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass"));
    for (int i = 0; i < 40; i++) {
        char line[128];
        snprintf(line, sizeof(line), "a=candidate:%d 1 udp 2130706431 192.0.2.%d 5000 typ host\n",
                 i, i + 1);
        strcat(offer, line);
    }
    struct sdp_audio_params p;
    char *a = test_answer(test_replace(offer, "a=extmap:1 urn", "a=extmap:15 urn"), &l, &p, NULL);
    assert_int_equal(p.ncandidates, SDP_MAX_CANDIDATES);
    assert_int_equal(p.candidates_dropped, 40 - SDP_MAX_CANDIDATES);
    /* id 15 needs two-byte extension headers: not negotiated */
    assert_int_equal(p.level_ext_id, 0);
    test_lacks(a, "ssrc-audio-level");
    mem_deref(a);

    /* an extmap with a direction */
    a = test_answer(test_replace(offer, "a=extmap:1 urn", "a=extmap:3/recvonly urn"), &l, &p, NULL);
    assert_int_equal(p.level_ext_id, 3);
    test_has_line(a, "a=extmap:3 urn:ietf:params:rtp-hdrext:ssrc-audio-level");
    mem_deref(a);
}

static void remote_ice_lite(void **state)
{
    struct sdp_local l = test_webrtc_local();
    const char *lite = test_replace(CHROMIUM_OFFER, "a=extmap-allow-mixed\n", "a=ice-lite\n");
    struct sdp_audio_params p;
    char *a = test_answer(lite, &l, &p, NULL);
    assert_true(p.ice_lite);
    mem_deref(a);
    l.ice_lite = true;
    test_answer_fails(lite, &l, EPROTO, "ICE lite");
    a = test_answer(CHROMIUM_OFFER, &l, &p, NULL);
    test_has_line(a, "a=ice-lite");
    mem_deref(a);
}

static void misuse_is_einval(void **state)
{
    struct sdp_local l = test_webrtc_local();
    struct sdp_session *offer = test_parse(CHROMIUM_OFFER);
    struct sdp_audio_params p;
    char *a = NULL;
    assert_int_equal(sdp_answer_create(NULL, &l, &a, &p, NULL, 0), EINVAL);
    assert_int_equal(sdp_answer_create(offer, NULL, &a, &p, NULL, 0), EINVAL);
    assert_int_equal(sdp_answer_create(offer, &l, NULL, &p, NULL, 0), EINVAL);
    l.fingerprint = NULL;
    assert_int_equal(sdp_answer_create(offer, &l, &a, &p, NULL, 0), EINVAL);
    assert_int_equal(sdp_offer_create(&l, &a), EINVAL);
    l = test_webrtc_local();
    static const char *const bad[] = {"candidate:1 1 udp 1 192.0.2.1 9 typ host\r\na=x"};
    l.candidates = bad;
    l.ncandidates = 1;
    assert_int_equal(sdp_offer_create(&l, &a), EINVAL);
    l = test_webrtc_local();
    static const struct sdp_codec dup[] = {{"opus", 48000, 2, 111, NULL, NULL},
                                           {"PCMU", 8000, 1, 111, NULL, NULL}};
    l.codecs = dup;
    l.ncodecs = 2;
    assert_int_equal(sdp_offer_create(&l, &a), EINVAL);
    assert_null(a);
    mem_deref(offer);

    size_t n = 0;
    const struct sdp_codec *c = sdp_codecs_default(SDP_PROFILE_WEBRTC, &n);
    assert_int_equal(n, 2);
    assert_string_equal(c[0].name, "opus");
    assert_int_equal(c[1].pt, 126);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chromium_offer_is_answered),
        cmocka_unit_test(crlf_and_lf_offers_give_the_same_answer),
        cmocka_unit_test(no_candidates_yet_means_placeholder_address),
        cmocka_unit_test(hold_and_resume),
        cmocka_unit_test(ice_restart_is_detected),
        cmocka_unit_test(dtls_role_is_kept_on_renegotiation),
        cmocka_unit_test(added_video_is_refused_on_renegotiation),
        cmocka_unit_test(aiortc_offer_is_answered),
        cmocka_unit_test(datachannel_only_is_refused),
        cmocka_unit_test(no_common_codec_is_enotsup),
        cmocka_unit_test(missing_transport_attributes),
        cmocka_unit_test(sip_offer_is_answered_in_rtp_avp),
        cmocka_unit_test(audio_after_video_and_extra_audio),
        cmocka_unit_test(bundle_only_audio_takes_the_tag_transport),
        cmocka_unit_test(candidates_and_extensions_are_bounded),
        cmocka_unit_test(remote_ice_lite),
        cmocka_unit_test(misuse_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
