#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/mem.h"
#include "media/srtp_session.h"
#include "media/transport.h"

static const uint8_t key30[30] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint8_t fill)
{
    memset(buf, 0, 12);
    buf[0] = 0x80;
    buf[1] = 111;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[7] = 160;
    buf[8] = 0x12;
    buf[9] = 0x34;
    buf[10] = 0x56;
    buf[11] = 0x78;
    memset(buf + 12, fill, 100);
    return 112;
}

static size_t make_rtcp(uint8_t *buf)
{
    /* An empty receiver report: V=2, PT=201, length 1, SSRC. */
    const uint8_t rr[] = {0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78};
    memcpy(buf, rr, sizeof(rr));
    return sizeof(rr);
}

static void roundtrip_profile(enum dtls_srtp_profile profile, size_t key_len, size_t tag)
{
    struct srtp_session *out = NULL, *in = NULL;
    uint8_t pkt[1500], clear[1500];
    struct srtp_session_stats st;

    assert_int_equal(srtp_session_alloc(&out, SRTP_SESSION_OUTBOUND, profile, key30, key_len), 0);
    assert_int_equal(srtp_session_alloc(&in, SRTP_SESSION_INBOUND, profile, key30, key_len), 0);

    for (uint16_t seq = 1000; seq < 1010; seq++) {
        size_t len = make_rtp(pkt, seq, (uint8_t)seq);
        memcpy(clear, pkt, len);
        size_t clen = len;
        assert_int_equal(srtp_session_protect(out, pkt, &len, sizeof(pkt), false), 0);
        assert_int_equal(len, clen + tag);
        assert_memory_not_equal(pkt + 12, clear + 12, 16); /* the payload is encrypted */
        assert_int_equal(srtp_session_unprotect(in, pkt, &len, false), 0);
        assert_int_equal(len, clen);
        assert_memory_equal(pkt, clear, clen);
    }

    size_t len = make_rtcp(pkt);
    memcpy(clear, pkt, len);
    assert_int_equal(srtp_session_protect(out, pkt, &len, sizeof(pkt), true), 0);
    assert_int_equal(len, 8 + tag + 4);
    assert_int_equal(srtp_session_unprotect(in, pkt, &len, true), 0);
    assert_int_equal(len, 8);
    assert_memory_equal(pkt, clear, 8);

    srtp_session_stats(in, &st);
    assert_int_equal(st.packets, 11);
    assert_int_equal(st.auth_fail + st.replay + st.other_fail, 0);

    mem_deref(out);
    mem_deref(in);
}

static void roundtrip_aes_cm(void **state)
{
    roundtrip_profile(DTLS_SRTP_AES128_CM_SHA1_80, 30, 10);
}

static void roundtrip_gcm(void **state)
{
    if (!srtp_session_gcm_supported())
        skip();
    roundtrip_profile(DTLS_SRTP_AEAD_AES_128_GCM, 28, 16);
}

static void tamper_and_replay_are_counted(void **state)
{
    struct srtp_session *out = NULL, *in = NULL;
    uint8_t pkt[1500], copy[1500];
    struct srtp_session_stats st;

    assert_int_equal(
        srtp_session_alloc(&out, SRTP_SESSION_OUTBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key30, 30), 0);
    assert_int_equal(
        srtp_session_alloc(&in, SRTP_SESSION_INBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key30, 30), 0);

    size_t len = make_rtp(pkt, 7, 0xaa);
    assert_int_equal(srtp_session_protect(out, pkt, &len, sizeof(pkt), false), 0);
    memcpy(copy, pkt, len);
    size_t copy_len = len;

    /* A flipped payload bit fails authentication. */
    pkt[20] ^= 1;
    size_t l = len;
    assert_int_equal(srtp_session_unprotect(in, pkt, &l, false), EBADMSG);

    /* The original passes once, then is a replay. */
    memcpy(pkt, copy, copy_len);
    l = copy_len;
    assert_int_equal(srtp_session_unprotect(in, pkt, &l, false), 0);
    memcpy(pkt, copy, copy_len);
    l = copy_len;
    assert_int_equal(srtp_session_unprotect(in, pkt, &l, false), EALREADY);

    /* Too short to hold a header and a tag. */
    l = 15;
    assert_int_equal(srtp_session_unprotect(in, pkt, &l, false), EBADMSG);

    srtp_session_stats(in, &st);
    assert_int_equal(st.packets, 1);
    assert_int_equal(st.auth_fail, 1);
    assert_int_equal(st.replay, 1);
    assert_int_equal(st.other_fail, 1);

    /* A packet from another key fails authentication too. */
    struct srtp_session *other = NULL;
    uint8_t key2[30];
    memcpy(key2, key30, 30);
    key2[0] ^= 0xff;
    assert_int_equal(
        srtp_session_alloc(&other, SRTP_SESSION_OUTBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key2, 30),
        0);
    len = make_rtp(pkt, 8, 0xbb);
    assert_int_equal(srtp_session_protect(other, pkt, &len, sizeof(pkt), false), 0);
    assert_int_equal(srtp_session_unprotect(in, pkt, &len, false), EBADMSG);
    srtp_session_stats(in, &st);
    assert_int_equal(st.auth_fail, 2);

    mem_deref(other);
    mem_deref(out);
    mem_deref(in);
}

static void bounds_and_misuse(void **state)
{
    struct srtp_session *out = NULL, *in = NULL;
    uint8_t pkt[1500];

    assert_int_equal(
        srtp_session_alloc(&out, SRTP_SESSION_OUTBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key30, 28),
        EINVAL); /* wrong key length for the profile */
    assert_int_equal(
        srtp_session_alloc(&out, SRTP_SESSION_OUTBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key30, 30), 0);
    assert_int_equal(
        srtp_session_alloc(&in, SRTP_SESSION_INBOUND, DTLS_SRTP_AES128_CM_SHA1_80, key30, 30), 0);

    size_t len = make_rtp(pkt, 1, 0);
    /* No room for the tag. */
    assert_int_equal(srtp_session_protect(out, pkt, &len, len + 9, false), EOVERFLOW);
    assert_int_equal(len, 112);
    /* The transport's trailer room is always enough. */
    assert_true(SRTP_SESSION_MAX_TRAILER <= MEDIA_TRANSPORT_TRAILER);
    assert_int_equal(srtp_session_protect(out, pkt, &len, len + 10, false), 0);

    /* Direction misuse. */
    len = make_rtp(pkt, 2, 0);
    assert_int_equal(srtp_session_protect(in, pkt, &len, sizeof(pkt), false), EINVAL);
    assert_int_equal(srtp_session_unprotect(out, pkt, &len, false), EINVAL);

    /* Not even an RTP header. */
    len = 5;
    assert_int_equal(srtp_session_protect(out, pkt, &len, sizeof(pkt), false), EINVAL);

    mem_deref(out);
    mem_deref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_aes_cm),
        cmocka_unit_test(roundtrip_gcm),
        cmocka_unit_test(tamper_and_replay_are_counted),
        cmocka_unit_test(bounds_and_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
