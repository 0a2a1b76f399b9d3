/*
 * media/srtp_session.c checked against libsrtp2 (linked here only, as the reference) for every
 * suite, RTP and RTCP: our protect -> libsrtp unprotect, libsrtp protect -> our unprotect, and
 * byte-identical protected packets (all three transforms are deterministic). Also the sequence
 * wrap (ROC), reordering across it, replays, tampering, malformed headers, RFC 3711 B.3 key
 * derivation vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "media/srtp_kdf.h"
#include "media/srtp_session.h"

static const uint8_t master[30] = {0x3a, 0x11, 0x9c, 0x42, 0x07, 0xe5, 0x61, 0xd0, 0x2b, 0x88,
                                   0x5f, 0x93, 0x14, 0xc7, 0x70, 0xae, 0x01, 0xfe, 0x23, 0x56,
                                   0x9a, 0xbc, 0x4d, 0x68, 0x0f, 0x31, 0xe2, 0x77, 0x85, 0xd9};

static const enum srtp_suite suites[] = {SRTP_SUITE_AES_CM_128_HMAC_SHA1_80,
                                         SRTP_SUITE_AES_CM_128_HMAC_SHA1_32,
                                         SRTP_SUITE_AEAD_AES_128_GCM};

static size_t rtp_tag(enum srtp_suite suite)
{
    return suite == SRTP_SUITE_AEAD_AES_128_GCM          ? 16
           : suite == SRTP_SUITE_AES_CM_128_HMAC_SHA1_32 ? 4
                                                         : 10;
}

static size_t rtcp_tag(enum srtp_suite suite)
{
    return suite == SRTP_SUITE_AEAD_AES_128_GCM ? 16 : 10;
}

static srtp_t lib_session(enum srtp_suite suite, bool inbound, bool rtcp_auth_only)
{
    srtp_policy_t p;
    uint8_t key[30];
    srtp_t ctx = NULL;

    memset(&p, 0, sizeof(p));
    switch (suite) {
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_rtp_default(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
        break;
    case SRTP_SUITE_AES_CM_128_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
        srtp_crypto_policy_set_rtcp_default(&p.rtcp);
        break;
    case SRTP_SUITE_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
        break;
    }
    if (rtcp_auth_only)
        p.rtcp.sec_serv = sec_serv_auth;
    memcpy(key, master, sizeof(key));
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    p.key = key;
    p.window_size = 1024;
    assert_int_equal(srtp_create(&ctx, &p), srtp_err_status_ok);
    return ctx;
}

static struct srtp_session *our_session(enum srtp_suite suite, bool inbound)
{
    struct srtp_session *s = NULL;
    assert_int_equal(
        srtp_session_alloc_suite(&s, inbound ? SRTP_SESSION_INBOUND : SRTP_SESSION_OUTBOUND, suite,
                                 master, srtp_suite_key_len(suite)),
        0);
    return s;
}

/* An RTP packet with cc CSRCs, an extension of ext words (ext < 0: none) and plen payload bytes. */
static size_t make_rtp(uint8_t *b, uint16_t seq, uint32_t ssrc, int cc, int ext, size_t plen,
                       uint8_t fill)
{
    size_t n = 12;
    b[0] = (uint8_t)(0x80 | (ext >= 0 ? 0x10 : 0) | cc);
    b[1] = 111;
    b[2] = (uint8_t)(seq >> 8);
    b[3] = (uint8_t)seq;
    b[4] = 0;
    b[5] = 1;
    b[6] = (uint8_t)(seq >> 4);
    b[7] = (uint8_t)(seq * 160);
    b[8] = (uint8_t)(ssrc >> 24);
    b[9] = (uint8_t)(ssrc >> 16);
    b[10] = (uint8_t)(ssrc >> 8);
    b[11] = (uint8_t)ssrc;
    for (int i = 0; i < cc; i++, n += 4)
        memset(b + n, 0x40 + i, 4);
    if (ext >= 0) {
        b[n] = 0xbe;
        b[n + 1] = 0xde;
        b[n + 2] = 0;
        b[n + 3] = (uint8_t)ext;
        memset(b + n + 4, 0x22, 4 * (size_t)ext);
        n += 4 + 4 * (size_t)ext;
    }
    for (size_t i = 0; i < plen; i++)
        b[n + i] = (uint8_t)(fill + i);
    return n + plen;
}

/* A sender report with one report block (52 bytes). */
static size_t make_rtcp(uint8_t *b, uint32_t ssrc, uint8_t fill)
{
    memset(b, fill, 52);
    b[0] = 0x81;
    b[1] = 200;
    b[2] = 0;
    b[3] = 12;
    b[4] = (uint8_t)(ssrc >> 24);
    b[5] = (uint8_t)(ssrc >> 16);
    b[6] = (uint8_t)(ssrc >> 8);
    b[7] = (uint8_t)ssrc;
    return 52;
}

/* Protects clear with both, compares, and unprotects each with the other's inbound side. */
static void cross_one(struct srtp_session *oo, srtp_t lo, struct srtp_session *oi, srtp_t li,
                      const uint8_t *clear, size_t clen, bool rtcp, size_t trailer)
{
    uint8_t a[2048], b[2048];
    size_t alen = clen;
    int blen = (int)clen;

    memcpy(a, clear, clen);
    memcpy(b, clear, clen);
    assert_int_equal(srtp_session_protect(oo, a, &alen, sizeof(a), rtcp), 0);
    assert_int_equal(rtcp ? srtp_protect_rtcp(lo, b, &blen) : srtp_protect(lo, b, &blen),
                     srtp_err_status_ok);
    assert_int_equal(alen, clen + trailer);
    assert_int_equal((size_t)blen, alen);
    assert_memory_equal(a, b, alen);

    /* ours -> libsrtp */
    blen = (int)alen;
    memcpy(b, a, alen);
    assert_int_equal(rtcp ? srtp_unprotect_rtcp(li, b, &blen) : srtp_unprotect(li, b, &blen),
                     srtp_err_status_ok);
    assert_int_equal((size_t)blen, clen);
    assert_memory_equal(b, clear, clen);
    /* libsrtp's (the same bytes) -> ours */
    assert_int_equal(srtp_session_unprotect(oi, a, &alen, rtcp), 0);
    assert_int_equal(alen, clen);
    assert_memory_equal(a, clear, clen);
}

static void cross_suite(enum srtp_suite suite)
{
    struct srtp_session *oo = our_session(suite, false), *oi = our_session(suite, true);
    srtp_t lo = lib_session(suite, false, false), li = lib_session(suite, true, false);
    uint8_t clear[2048];

    /* Two sources across the sequence wrap (ROC 0 -> 1), with every header shape. */
    for (unsigned i = 0; i < 120; i++) {
        uint32_t ssrc = i % 2 ? 0x11223344 : 0xcafef00d;
        uint16_t seq = (uint16_t)((i % 2 ? 65480 : 65500) + i / 2);
        int cc = (int)(i % 4), ext = (int)(i % 5) - 1;
        size_t plen = (i * 37) % 300;
        size_t n = make_rtp(clear, seq, ssrc, cc, ext, plen, (uint8_t)i);
        cross_one(oo, lo, oi, li, clear, n, false, rtp_tag(suite));
        if (i % 10 == 0) {
            n = make_rtcp(clear, ssrc, (uint8_t)i);
            cross_one(oo, lo, oi, li, clear, n, true, rtcp_tag(suite) + 4);
        }
    }
    /* A minimal RTCP packet (no body after the SSRC). */
    const uint8_t rr[] = {0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44};
    cross_one(oo, lo, oi, li, rr, sizeof(rr), true, rtcp_tag(suite) + 4);

    struct srtp_session_stats st;
    srtp_session_stats(oi, &st);
    assert_int_equal(st.packets, 120 + 12 + 1);
    assert_int_equal(st.auth_fail + st.replay + st.other_fail, 0);

    srtp_dealloc(lo);
    srtp_dealloc(li);
    mem_deref(oo);
    mem_deref(oi);
}

static void cross_aes_cm_80(void **state)
{
    (void)state;
    cross_suite(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80);
}

static void cross_aes_cm_32(void **state)
{
    (void)state;
    cross_suite(SRTP_SUITE_AES_CM_128_HMAC_SHA1_32);
}

static void cross_gcm(void **state)
{
    (void)state;
    assert_true(srtp_session_gcm_supported());
    cross_suite(SRTP_SUITE_AEAD_AES_128_GCM);
}

/* Unencrypted SRTCP (E = 0) from libsrtp authenticates and is returned as sent. */
static void unencrypted_srtcp(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        struct srtp_session *oi = our_session(suites[i], true);
        srtp_t lo = lib_session(suites[i], false, true);
        uint8_t clear[64], b[128];
        size_t n = make_rtcp(clear, 0x5555, 7);
        int blen = (int)n;
        memcpy(b, clear, n);
        assert_int_equal(srtp_protect_rtcp(lo, b, &blen), srtp_err_status_ok);
        assert_memory_equal(b, clear, n); /* sent in the clear */
        size_t len = (size_t)blen;
        assert_int_equal(srtp_session_unprotect(oi, b, &len, true), 0);
        assert_int_equal(len, n);
        assert_memory_equal(b, clear, n);
        srtp_dealloc(lo);
        mem_deref(oi);
    }
}

static void reorder_across_wrap(void **state)
{
    (void)state;
    for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
        struct srtp_session *oo = our_session(suites[si], false);
        struct srtp_session *oi = our_session(suites[si], true);
        static const uint16_t sent[] = {65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3};
        static const int order[] = {0, 1, 6, 3, 2, 7, 5, 4, 9, 8}; /* indices into sent */
        uint8_t prot[10][256], clear[10][256], b[256];
        size_t plen[10], clen[10];

        for (int i = 0; i < 10; i++) {
            clen[i] = plen[i] = make_rtp(clear[i], sent[i], 0xabcdef01, 0, -1, 60, (uint8_t)i);
            memcpy(prot[i], clear[i], clen[i]);
            assert_int_equal(srtp_session_protect(oo, prot[i], &plen[i], 256, false), 0);
        }
        for (int k = 0; k < 10; k++) {
            int i = order[k];
            size_t len = plen[i];
            memcpy(b, prot[i], len);
            assert_int_equal(srtp_session_unprotect(oi, b, &len, false), 0);
            assert_int_equal(len, clen[i]);
            assert_memory_equal(b, clear[i], len);
        }
        /* Every one again is a replay, on either side of the wrap. */
        for (int i = 0; i < 10; i++) {
            size_t len = plen[i];
            memcpy(b, prot[i], len);
            assert_int_equal(srtp_session_unprotect(oi, b, &len, false), EALREADY);
        }
        /* 1100 packets later the first ones are too old for the window: refused as replays. */
        uint8_t first[256];
        size_t first_len = plen[9];
        memcpy(first, prot[9], first_len);
        for (uint16_t seq = 4; seq < 1104; seq++) {
            size_t len = make_rtp(b, seq, 0xabcdef01, 0, -1, 20, 0);
            assert_int_equal(srtp_session_protect(oo, b, &len, sizeof(b), false), 0);
            assert_int_equal(srtp_session_unprotect(oi, b, &len, false), 0);
        }
        assert_int_equal(srtp_session_unprotect(oi, first, &first_len, false), EALREADY);

        struct srtp_session_stats st;
        srtp_session_stats(oi, &st);
        assert_int_equal(st.replay, 11);
        assert_int_equal(st.packets, 1110);
        mem_deref(oo);
        mem_deref(oi);
    }
}

static void tamper_refused(void **state)
{
    (void)state;
    for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
        struct srtp_session *oo = our_session(suites[si], false);
        struct srtp_session *oi = our_session(suites[si], true);
        uint8_t p[512], clear[512], b[512];

        for (int rtcp = 0; rtcp < 2; rtcp++) {
            size_t clen =
                rtcp ? make_rtcp(clear, 0x777, 3) : make_rtp(clear, 9, 0x777, 1, 1, 80, 3);
            size_t plen = clen;
            memcpy(p, clear, clen);
            assert_int_equal(srtp_session_protect(oo, p, &plen, sizeof(p), rtcp), 0);
            /* Each byte flipped, one at a time: header, payload, index, tag. */
            for (size_t off = 0; off < plen; off++) {
                size_t len = plen;
                memcpy(b, p, plen);
                b[off] ^= 0x10;
                int err = srtp_session_unprotect(oi, b, &len, rtcp);
                /* A flipped CSRC count or extension bit may make the header not fit: also
                 * EBADMSG. */
                assert_int_equal(err, EBADMSG);
            }
            /* The untouched packet still passes: the forgeries changed no state. */
            size_t len = plen;
            assert_int_equal(srtp_session_unprotect(oi, p, &len, rtcp), 0);
            assert_memory_equal(p, clear, clen);
        }
        mem_deref(oo);
        mem_deref(oi);
    }
}

/* An inbound source is made only by a packet that authenticated: a forgery claiming a new SSRC
 * far ahead must not set its ROC / highest sequence. */
static void forged_first_packet(void **state)
{
    (void)state;
    struct srtp_session *oo = our_session(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, false);
    struct srtp_session *oi = our_session(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, true);
    uint8_t b[256];
    size_t len = make_rtp(b, 40000, 0x999, 0, -1, 50, 1) + 10;
    memset(b + len - 10, 0, 10);
    assert_int_equal(srtp_session_unprotect(oi, b, &len, false), EBADMSG);
    /* From seq 40000 a seq of 5 would be taken as ROC 1 and fail; it passes as ROC 0. */
    len = make_rtp(b, 5, 0x999, 0, -1, 50, 1);
    assert_int_equal(srtp_session_protect(oo, b, &len, sizeof(b), false), 0);
    assert_int_equal(srtp_session_unprotect(oi, b, &len, false), 0);
    mem_deref(oo);
    mem_deref(oi);
}

/* Inbound, a full table of sources forgets the least recently used one; outbound refuses a
 * source beyond the bound (forgetting it would reuse keystream). */
static void many_ssrcs(void **state)
{
    (void)state;
    struct srtp_session *oi = our_session(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, true);
    struct srtp_session *oo[2] = {our_session(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, false),
                                  our_session(SRTP_SUITE_AES_CM_128_HMAC_SHA1_80, false)};
    uint8_t b[256], last[256];
    size_t len, last_len = 0;

    for (uint32_t ssrc = 1; ssrc <= 100; ssrc++) {
        len = make_rtp(b, 10, ssrc, 0, -1, 30, 0);
        int err = srtp_session_protect(oo[ssrc > 64], b, &len, sizeof(b), false);
        assert_int_equal(err, 0);
        memcpy(last, b, len);
        last_len = len;
        assert_int_equal(srtp_session_unprotect(oi, b, &len, false), 0);
    }
    /* The most recent source is still known: its packet again is a replay. */
    assert_int_equal(srtp_session_unprotect(oi, last, &last_len, false), EALREADY);
    /* The first was forgotten and comes back. */
    len = make_rtp(b, 11, 1, 0, -1, 30, 0);
    assert_int_equal(srtp_session_protect(oo[0], b, &len, sizeof(b), false), 0);
    assert_int_equal(srtp_session_unprotect(oi, b, &len, false), 0);
    /* The 65th source of one outbound session is refused. */
    len = make_rtp(b, 10, 1000, 0, -1, 30, 0);
    assert_int_equal(srtp_session_protect(oo[0], b, &len, sizeof(b), false), EPROTO);
    mem_deref(oo[0]);
    mem_deref(oo[1]);
    mem_deref(oi);
}

/* The SRTCP index counts per SSRC from 1, E flag set, after the tag for GCM. */
static void srtcp_index_per_ssrc(void **state)
{
    (void)state;
    for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
        bool gcm = suites[si] == SRTP_SUITE_AEAD_AES_128_GCM;
        struct srtp_session *oo = our_session(suites[si], false);
        const uint32_t ssrcs[] = {1, 1, 2, 1, 2};
        const uint32_t want[] = {1, 2, 1, 3, 2};
        for (int i = 0; i < 5; i++) {
            uint8_t b[128];
            size_t len = make_rtcp(b, ssrcs[i], 0);
            assert_int_equal(srtp_session_protect(oo, b, &len, sizeof(b), true), 0);
            const uint8_t *w = gcm ? b + len - 4 : b + 52;
            uint32_t v = (uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3];
            assert_int_equal(v, 0x80000000u | want[i]);
        }
        mem_deref(oo);
    }
}

/* Headers that claim more than the packet holds, short packets, junk: refused, counted. */
static void malformed_refused(void **state)
{
    (void)state;
    for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
        struct srtp_session *oi = our_session(suites[si], true);
        struct srtp_session *oo = our_session(suites[si], false);
        uint8_t b[256];
        size_t len;

        /* 15 CSRCs in a 40-byte packet. */
        len = make_rtp(b, 1, 5, 0, -1, 28, 0);
        b[0] |= 0x0f;
        assert_int_equal(srtp_session_unprotect(oi, b, &len, false), EBADMSG);
        /* An extension of 65535 words. */
        len = make_rtp(b, 1, 5, 0, 0, 40, 0);
        b[14] = b[15] = 0xff;
        assert_int_equal(srtp_session_unprotect(oi, b, &len, false), EBADMSG);
        /* The same on the send side is the caller's mistake. */
        len = make_rtp(b, 1, 5, 0, 0, 40, 0);
        b[14] = b[15] = 0xff;
        assert_int_equal(srtp_session_protect(oo, b, &len, sizeof(b), false), EINVAL);
        /* Too short for the SRTCP trailer. */
        len = 8 + rtcp_tag(suites[si]) + 3;
        memset(b, 0x80, len);
        assert_int_equal(srtp_session_unprotect(oi, b, &len, true), EBADMSG);

        struct srtp_session_stats st;
        srtp_session_stats(oi, &st);
        assert_int_equal(st.packets, 0);
        assert_int_equal(st.auth_fail + st.other_fail, 3);
        mem_deref(oi);
        mem_deref(oo);
    }
}

static void hex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* RFC 3711 appendix B.3. */
static void kdf_vectors(void **state)
{
    (void)state;
    uint8_t mk[16], ms[14], want[20], got[20];
    hex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, 16);
    hex("0EC675AD498AFEEBB6960B3AABE6", ms, 14);

    assert_int_equal(srtp_prf_aes_cm(mk, ms, 14, 0, got, 16), 0);
    hex("C61E7A93744F39EE10734AFE3FF7A087", want, 16);
    assert_memory_equal(got, want, 16);
    assert_int_equal(srtp_prf_aes_cm(mk, ms, 14, 2, got, 14), 0);
    hex("30CBBC08863D8C85D49DB34A9AE1", want, 14);
    assert_memory_equal(got, want, 14);
    assert_int_equal(srtp_prf_aes_cm(mk, ms, 14, 1, got, 20), 0);
    hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want, 20);
    assert_memory_equal(got, want, 20);
}

int main(void)
{
    assert_int_equal(srtp_init(), srtp_err_status_ok);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cross_aes_cm_80),
        cmocka_unit_test(cross_aes_cm_32),
        cmocka_unit_test(cross_gcm),
        cmocka_unit_test(unencrypted_srtcp),
        cmocka_unit_test(reorder_across_wrap),
        cmocka_unit_test(tamper_refused),
        cmocka_unit_test(forged_first_packet),
        cmocka_unit_test(many_ssrcs),
        cmocka_unit_test(srtcp_index_per_ssrc),
        cmocka_unit_test(malformed_refused),
        cmocka_unit_test(kdf_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
