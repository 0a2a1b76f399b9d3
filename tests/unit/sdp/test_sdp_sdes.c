/* SDES-SRTP in the plain RTP profile: a=crypto lines (RFC 4568) read and written, our offers in
 * each SRTP mode, answers to SIP offers with and without keys, the refusals, and a round trip
 * between two of our own descriptions. */
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
#include "sdp_test_util.h"

/* base64 of the bytes 0..29, 100..129, 0..27 (GCM's 28), 0..28 (one too many for AES-CM) */
#define KEY_0_29    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define KEY_100     "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"
#define KEY_GCM     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
#define KEY_29      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw="
#define RFC4568_KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

/* A phone's RTP/SAVP offer; CRYPTO is its a=crypto lines. */
#define SAVP_OFFER(PROTO, CRYPTO)                                                                  \
    "v=0\n"                                                                                        \
    "o=deskphone 2890844526 2890844526 IN IP4 192.0.2.50\n"                                        \
    "s=SIP Call\n"                                                                                 \
    "c=IN IP4 192.0.2.50\n"                                                                        \
    "t=0 0\n"                                                                                      \
    "m=audio 30000 " PROTO " 8 0 101\n"                                                            \
    "a=rtpmap:8 PCMA/8000\n"                                                                       \
    "a=rtpmap:101 telephone-event/8000\n"                                                          \
    "a=fmtp:101 0-16\n"                                                                            \
    "a=ptime:20\n" CRYPTO "a=sendrecv\n"

/* Our keys: AES-CM 80 (tag 1, bytes 0..29), AES-CM 32 (tag 2, bytes 100..129). */
static struct sdp_crypto our_keys[2];

static int setup_keys(void **state)
{
    our_keys[0] =
        (struct sdp_crypto){.tag = 1, .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, .key_len = 30};
    our_keys[1] =
        (struct sdp_crypto){.tag = 2, .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, .key_len = 30};
    for (int i = 0; i < 30; i++) {
        our_keys[0].key[i] = (uint8_t)i;
        our_keys[1].key[i] = (uint8_t)(100 + i);
    }
    return 0;
}

static struct sdp_local sdes_local(enum sdp_srtp mode)
{
    struct sdp_local l = test_avp_local();
    l.srtp = mode;
    l.crypto = our_keys;
    l.ncrypto = 2;
    l.rtcp_mux = true;
    return l;
}

static void expect_crypto(const char *value, int code, const char *why_has)
{
    struct sdp_crypto c;
    char why[128];
    int e = sdp_crypto_parse(&c, value, why, sizeof(why));
    if (e != code)
        fail_msg("\"%s\": expected %d, got %d (%s)", value, code, e, why);
    if (why_has && !strstr(why, why_has))
        fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", value, why, why_has);
    /* a reason never quotes key material */
    assert_null(strstr(why, "AAECAw"));
    assert_null(strstr(why, "PS1uQ"));
}

static void crypto_lines_are_parsed(void **state)
{
    struct sdp_crypto c;
    char why[128], buf[128];

    assert_int_equal(
        sdp_crypto_parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29, why, sizeof(why)), 0);
    assert_int_equal(c.tag, 1);
    assert_int_equal(c.suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
    assert_int_equal(c.key_len, 30);
    for (int i = 0; i < 30; i++)
        assert_int_equal(c.key[i], i);
    assert_int_equal(c.lifetime, 0);
    /* and written back exactly */
    assert_int_equal(sdp_crypto_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29);
    assert_int_equal(sdp_crypto_format(&c, buf, 20), EOVERFLOW);

    /* lifetimes, session parameters we can live with, extra spaces */
    assert_int_equal(sdp_crypto_parse(&c, "7 AES_CM_128_HMAC_SHA1_32 inline:" RFC4568_KEY "|2^31",
                                      why, sizeof(why)),
                     0);
    assert_int_equal(c.suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
    assert_int_equal(c.lifetime, 1ULL << 31);
    assert_int_equal(sdp_crypto_parse(&c,
                                      "999999999  AES_CM_128_HMAC_SHA1_80  inline:" KEY_0_29
                                      "|1048576 KDR=0 WSH=128 FEC_ORDER=FEC_SRTP -x-ext",
                                      why, sizeof(why)),
                     0);
    assert_int_equal(c.tag, 999999999);
    assert_int_equal(c.lifetime, 1048576);

    /* GCM: 28 bytes, with or without the base64 padding */
    assert_int_equal(sdp_crypto_parse(&c, "3 AEAD_AES_128_GCM inline:" KEY_GCM, why, sizeof(why)),
                     0);
    assert_int_equal(c.suite, SRTP_SUITE_AEAD_AES_128_GCM);
    assert_int_equal(c.key_len, 28);
    assert_int_equal(c.key[27], 27);
    assert_int_equal(sdp_crypto_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "3 AEAD_AES_128_GCM inline:" KEY_GCM);
    assert_int_equal(sdp_crypto_parse(&c,
                                      "3 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFR"
                                      "YXGBkaGw",
                                      why, sizeof(why)),
                     0);
    assert_int_equal(c.key_len, 28);
}

static void crypto_lines_we_refuse(void **state)
{
    /* malformed */
    expect_crypto("", EBADMSG, "needs a tag");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80", EBADMSG, "needs a tag");
    expect_crypto("x AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29, EBADMSG, "tag");
    expect_crypto("1234567890 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29, EBADMSG, "tag");
    expect_crypto("1 AES_CM@128 inline:" KEY_0_29, EBADMSG, "suite");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_29, EBADMSG, "30");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_GCM, EBADMSG, "30");
    expect_crypto("1 AEAD_AES_128_GCM inline:" KEY_0_29, EBADMSG, "28");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:AAEC*wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
                  EBADMSG, "base64");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd=A",
                  EBADMSG, "base64");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:", EBADMSG, "needs 30");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "|0", EBADMSG, "lifetime");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "|2^x", EBADMSG, "lifetime");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "|2^20|2^20", EBADMSG, "two");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " KDR=x", EBADMSG, "KDR");
    /* well formed, but not for us */
    expect_crypto("1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_0_29, ENOTSUP, "not supported");
    expect_crypto("1 F8_128_HMAC_SHA1_80 inline:" KEY_0_29, ENOTSUP, "F8_128_HMAC_SHA1_80");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "|2^20|1:32", ENOTSUP, "MKI");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "|1:4", ENOTSUP, "MKI");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 ";inline:" KEY_100, ENOTSUP,
                  "several keys");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 uri:https://keys.example/1", ENOTSUP, "inline");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "|2^49", ENOTSUP, "2^48");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "|281474976710657", ENOTSUP, "2^48");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " KDR=10", ENOTSUP, "KDR");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " UNENCRYPTED_SRTP", ENOTSUP,
                  "UNENCRYPTED_SRTP");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " UNAUTHENTICATED_SRTP", ENOTSUP,
                  "UNAUTHENTICATED_SRTP");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " FEC_KEY=inline:" KEY_100, ENOTSUP,
                  "FEC_KEY");
    expect_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 " NEW_THING=1", ENOTSUP,
                  "unknown session parameter");

    /* writing refuses what would not parse */
    struct sdp_crypto c = our_keys[0];
    char buf[128];
    c.key_len = 29;
    assert_int_equal(sdp_crypto_format(&c, buf, sizeof(buf)), EINVAL);
    c = our_keys[0];
    c.suite = (enum srtp_suite)99;
    assert_int_equal(sdp_crypto_format(&c, buf, sizeof(buf)), EINVAL);
    assert_int_equal(sdp_crypto_parse(NULL, "1", NULL, 0), EINVAL);
}

static void our_offers_by_mode(void **state)
{
    char *o;
    /* off: plain RTP/AVP, no keys */
    struct sdp_local l = sdes_local(SDP_SRTP_OFF);
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 20000 RTP/AVP 111 9 0 8 126 101");
    test_has_line(o, "a=rtcp-mux");
    test_lacks(o, "a=crypto");
    mem_deref(o);

    /* optional: best effort, RTP/AVP with the keys */
    l = sdes_local(SDP_SRTP_OPTIONAL);
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 20000 RTP/AVP 111 9 0 8 126 101");
    test_has_line(o, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29);
    test_has_line(o, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100);
    struct sdp_session *os = test_parse(o);
    assert_int_equal(os->nmedia, 1);
    mem_deref(os);
    mem_deref(o);

    /* required: RTP/SAVP */
    l = sdes_local(SDP_SRTP_REQUIRED);
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 20000 RTP/SAVP 111 9 0 8 126 101");
    test_has_line(o, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29);
    mem_deref(o);

    /* a re-offer of a session that runs on RTP/SAVP stays there, even in optional mode */
    struct sdp_audio_params cur = {.profile = SDP_PROFILE_RTP_AVP, .savp = true, .srtp = true};
    l = sdes_local(SDP_SRTP_OPTIONAL);
    l.current = &cur;
    assert_int_equal(sdp_offer_create(&l, &o), 0);
    test_has_line(o, "m=audio 20000 RTP/SAVP 111 9 0 8 126 101");
    mem_deref(o);

    /* SDES needs keys, well formed and one per suite */
    l = sdes_local(SDP_SRTP_REQUIRED);
    l.ncrypto = 0;
    assert_int_equal(sdp_offer_create(&l, &o), EINVAL);
    struct sdp_crypto twice[2] = {our_keys[0], our_keys[0]};
    twice[1].tag = 5;
    l.crypto = twice;
    l.ncrypto = 2;
    assert_int_equal(sdp_offer_create(&l, &o), EINVAL);
    twice[1] = our_keys[1];
    twice[1].key_len = 28;
    assert_int_equal(sdp_offer_create(&l, &o), EINVAL);
    l = sdes_local(SDP_SRTP_REQUIRED);
    l.srtp = (enum sdp_srtp)7;
    assert_int_equal(sdp_offer_create(&l, &o), EINVAL);
}

static void savp_offer_is_answered_with_the_first_usable_line(void **state)
{
    const char *offer = SAVP_OFFER(
        "RTP/SAVP", "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" KEY_0_29 "\n"
                    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "|2^20|1:32\n"
                    "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "|2^31\n"
                    "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "\n");
    struct sdp_local l = sdes_local(SDP_SRTP_OPTIONAL);
    struct sdp_audio_params p;
    char *a = test_answer(offer, &l, &p, NULL);
    /* 1 is a suite we lack, 2 has an MKI: 3 is the first we can use */
    assert_true(p.srtp);
    assert_true(p.savp);
    assert_int_equal(p.crypto_remote.tag, 3);
    assert_int_equal(p.crypto_remote.suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
    assert_int_equal(p.crypto_remote.key[0], 100);
    assert_int_equal(p.crypto_remote.lifetime, 1ULL << 31);
    assert_int_equal(p.crypto_local.tag, 3);
    assert_int_equal(p.crypto_local.suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
    assert_memory_equal(p.crypto_local.key, our_keys[1].key, 30);
    test_has_line(a, "m=audio 20000 RTP/SAVP 0 101");
    test_has_line(a, "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100);
    /* exactly one a=crypto, and no rtcp-mux the offer did not ask for */
    test_lacks(strstr(a, "a=crypto:") + 1, "a=crypto:");
    test_lacks(a, "a=rtcp-mux");
    mem_deref(a);

    /* we prefer nothing over the offer's order: with _80 first, _80 it is */
    offer = SAVP_OFFER("RTP/SAVP", "a=crypto:8 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "\n"
                                   "a=crypto:9 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\n");
    a = test_answer(offer, &l, &p, NULL);
    assert_int_equal(p.crypto_remote.tag, 8);
    test_has_line(a, "a=crypto:8 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29);
    mem_deref(a);

    /* a suite we did not enable is skipped like an unknown one */
    l.ncrypto = 1; /* only _80 */
    offer = SAVP_OFFER("RTP/SAVP", "a=crypto:9 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\n"
                                   "a=crypto:8 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "\n");
    a = test_answer(offer, &l, &p, NULL);
    assert_int_equal(p.crypto_remote.tag, 8);
    mem_deref(a);
    test_answer_fails(
        SAVP_OFFER("RTP/SAVP", "a=crypto:9 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\n"), &l,
        ENOTSUP, "AES_CM_128_HMAC_SHA1_32 is not enabled");
}

static void savp_refusals(void **state)
{
    struct sdp_local l = sdes_local(SDP_SRTP_OPTIONAL);
    test_answer_fails(SAVP_OFFER("RTP/SAVP", ""), &l, EPROTO, "RTP/SAVP offered without a=crypto");
    test_answer_fails(
        SAVP_OFFER("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "|1:4\n"),
        &l, ENOTSUP, "MKI");
    test_answer_fails(
        SAVP_OFFER("RTP/SAVPF", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_29 "\n"), &l,
        EBADMSG, "no a=crypto we can use");
    /* RTP/SAVP when SDES is off: the wrong proto */
    l = sdes_local(SDP_SRTP_OFF);
    test_answer_fails(
        SAVP_OFFER("RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29 "\n"), &l,
        ENOTSUP, "proto RTP/SAVP, we need RTP/AVP");
    /* plain RTP when SRTP is required */
    l = sdes_local(SDP_SRTP_REQUIRED);
    test_answer_fails(SAVP_OFFER("RTP/AVP", ""), &l, ENOTSUP, "SRTP is required");
    test_answer_fails(SAVP_OFFER("RTP/AVP", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:" KEY_0_29 "\n"),
                      &l, ENOTSUP, "SRTP is required");
}

static void best_effort_offers(void **state)
{
    const char *offer =
        SAVP_OFFER("RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\n");
    struct sdp_audio_params p;

    /* optional and required take the keys and stay on RTP/AVP */
    enum sdp_srtp modes[2] = {SDP_SRTP_OPTIONAL, SDP_SRTP_REQUIRED};
    for (int i = 0; i < 2; i++) {
        struct sdp_local l = sdes_local(modes[i]);
        char *a = test_answer(offer, &l, &p, NULL);
        assert_true(p.srtp);
        assert_false(p.savp);
        test_has_line(a, "m=audio 20000 RTP/AVP 0 101");
        test_has_line(a, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_0_29);
        mem_deref(a);
    }

    /* off ignores them: plain RTP, no keys in the answer */
    struct sdp_local l = sdes_local(SDP_SRTP_OFF);
    char *a = test_answer(offer, &l, &p, NULL);
    assert_false(p.srtp);
    test_lacks(a, "a=crypto");
    mem_deref(a);

    /* optional with a plain offer (or unusable keys): plain */
    l = sdes_local(SDP_SRTP_OPTIONAL);
    a = test_answer(SAVP_OFFER("RTP/AVP", ""), &l, &p, NULL);
    assert_false(p.srtp);
    test_lacks(a, "a=crypto");
    mem_deref(a);
    a = test_answer(SAVP_OFFER("RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY
                                          "|2^20|1:32\n"),
                    &l, &p, NULL);
    assert_false(p.srtp);
    test_lacks(a, "a=crypto");
    mem_deref(a);
}

static void rtcp_attributes(void **state)
{
    struct sdp_local l = sdes_local(SDP_SRTP_OFF);
    struct sdp_audio_params p;
    char *a = test_answer(SAVP_OFFER("RTP/AVP", "a=rtcp:30011 IN IP4 192.0.2.51\na=rtcp-mux\n"), &l,
                          &p, NULL);
    assert_int_equal(p.remote_rtcp_port, 30011);
    assert_string_equal(p.remote_rtcp_addr, "192.0.2.51");
    assert_true(p.rtcp_mux);
    test_has_line(a, "a=rtcp-mux");
    mem_deref(a);

    a = test_answer(SAVP_OFFER("RTP/AVP", "a=rtcp:30005\n"), &l, &p, NULL);
    assert_int_equal(p.remote_rtcp_port, 30005);
    assert_string_equal(p.remote_rtcp_addr, "");
    assert_false(p.rtcp_mux);
    mem_deref(a);

    /* ones we cannot read leave the default (port + 1) */
    const char *bad[] = {"a=rtcp:x\n", "a=rtcp:0\n", "a=rtcp:70000\n", "a=rtcp:-5\n",
                         "a=rtcp:123456\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = test_answer(test_replace(SAVP_OFFER("RTP/AVP", "X\n"), "X\n", bad[i]), &l, &p, NULL);
        assert_int_equal(p.remote_rtcp_port, 0);
        mem_deref(a);
    }
}

/* Our offer, answered by another of our descriptions, read back: each side's keys cross. */
static void round_trip(void **state)
{
    static struct sdp_crypto theirs[1];
    theirs[0] =
        (struct sdp_crypto){.tag = 1, .suite = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32, .key_len = 30};
    memset(theirs[0].key, 0x5a, 30);

    struct sdp_local a = sdes_local(SDP_SRTP_OPTIONAL);
    struct sdp_local b = test_avp_local();
    b.addr = "192.0.2.2";
    b.port = 22000;
    b.srtp = SDP_SRTP_REQUIRED;
    b.crypto = theirs;
    b.ncrypto = 1;

    char *offer;
    assert_int_equal(sdp_offer_create(&a, &offer), 0);
    struct sdp_audio_params pb, pa;
    char *answer = test_answer(offer, &b, &pb, NULL);
    assert_true(pb.srtp);
    assert_true(pb.rtcp_mux);
    assert_string_equal(pb.codec, "opus");
    test_has_line(answer, "a=rtcp-mux");

    struct sdp_session *as = test_parse(answer);
    char err[256];
    assert_int_equal(sdp_answer_read(as, &a, &pa, err, sizeof(err)), 0);
    mem_deref(as);
    assert_true(pa.srtp);
    assert_true(pa.rtcp_mux);
    assert_int_equal(pa.crypto_local.suite, SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
    assert_int_equal(pa.crypto_local.tag, 2);
    assert_string_equal(pa.remote_addr, "192.0.2.2");
    assert_int_equal(pa.remote_port, 22000);
    /* what one sends with is what the other receives with */
    assert_memory_equal(pa.crypto_local.key, pb.crypto_remote.key, 30);
    assert_memory_equal(pa.crypto_remote.key, pb.crypto_local.key, 30);
    assert_memory_equal(pa.crypto_remote.key, theirs[0].key, 30);

    /* the renegotiation of the same offer agrees the same keys */
    b.current = &pb;
    struct sdp_audio_params pb2;
    struct sdp_session *os = test_parse(offer);
    assert_int_equal(sdp_offer_read(os, &b, &pb2, err, sizeof(err)), 0);
    assert_memory_equal(&pb2.crypto_remote, &pb.crypto_remote, sizeof(pb.crypto_remote));
    assert_memory_equal(&pb2.crypto_local, &pb.crypto_local, sizeof(pb.crypto_local));
    mem_deref(os);
    mem_deref(answer);
    mem_deref(offer);
}

static void bad_answers(void **state)
{
    struct sdp_local l = sdes_local(SDP_SRTP_OPTIONAL);
    struct {
        const char *proto, *crypto;
        int code;
        const char *want;
    } cases[] = {
        {"RTP/AVP", "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\n", EPROTO,
         "matches none we offered"},
        {"RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\n", EPROTO,
         "matches none we offered"},
        {"RTP/AVP",
         "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\n"
         "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY_100 "\n",
         EPROTO, "more than one"},
        {"RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_29 "\n", EBADMSG,
         "the answer's a=crypto"},
        {"RTP/AVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" RFC4568_KEY "|1:4\n", ENOTSUP,
         "MKI"},
        {"RTP/SAVP", "", EPROTO, "without a=crypto"},
        {"UDP/TLS/RTP/SAVPF", "", EPROTO, "where we offered audio RTP/AVP"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text),
                 "v=0\no=phone 1 1 IN IP4 192.0.2.60\ns=-\nc=IN IP4 192.0.2.60\nt=0 0\n"
                 "m=audio 31000 %s 8 101\na=rtpmap:101 telephone-event/8000\n%s",
                 cases[i].proto, cases[i].crypto);
        struct sdp_session *ans = test_parse(text);
        struct sdp_audio_params p;
        char err[256];
        int e = sdp_answer_read(ans, &l, &p, err, sizeof(err));
        if (e != cases[i].code || !strstr(err, cases[i].want))
            fail_msg("case %zu: %d \"%s\"", i, e, err);
        mem_deref(ans);
    }

    /* without a=crypto a best-effort offer ends as plain RTP; an RTP/SAVP answer is fine too */
    struct sdp_session *ans = test_parse("v=0\no=phone 1 1 IN IP4 192.0.2.60\ns=-\n"
                                         "c=IN IP4 192.0.2.60\nt=0 0\nm=audio 31000 RTP/AVP 8\n");
    struct sdp_audio_params p;
    char err[256];
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    assert_false(p.srtp);
    mem_deref(ans);
    ans = test_parse("v=0\no=phone 1 1 IN IP4 192.0.2.60\ns=-\nc=IN IP4 192.0.2.60\nt=0 0\n"
                     "m=audio 31000 RTP/SAVP 8\n"
                     "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\n");
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    assert_true(p.srtp);
    assert_true(p.savp);
    assert_int_equal(p.crypto_remote.key[0], 100);

    /* but a required offer (RTP/SAVP) wants its answer on RTP/SAVP */
    l = sdes_local(SDP_SRTP_REQUIRED);
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), 0);
    mem_deref(ans);
    ans = test_parse("v=0\no=phone 1 1 IN IP4 192.0.2.60\ns=-\nc=IN IP4 192.0.2.60\nt=0 0\n"
                     "m=audio 31000 RTP/AVP 8\n"
                     "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY_100 "\n");
    assert_int_equal(sdp_answer_read(ans, &l, &p, err, sizeof(err)), EPROTO);
    mem_deref(ans);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crypto_lines_are_parsed),
        cmocka_unit_test(crypto_lines_we_refuse),
        cmocka_unit_test(our_offers_by_mode),
        cmocka_unit_test(savp_offer_is_answered_with_the_first_usable_line),
        cmocka_unit_test(savp_refusals),
        cmocka_unit_test(best_effort_offers),
        cmocka_unit_test(rtcp_attributes),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(bad_answers),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
