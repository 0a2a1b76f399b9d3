/* RTCP: the compound iterator and its malformed-input branches, SR / RR / SDES / BYE, the
 * feedback messages (generic NACK, PLI, FIR), NTP helpers and the round-trip time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/bytes.h"
#include "rtp/rtcp.h"

/* SR from 0x01020304 with two report blocks, as a peer would send it. */
static const uint8_t sr_pkt[] = {
    0x82, 0xc8, 0x00, 0x12,                         /* V=2 RC=2 PT=200 length=18 */
    0x01, 0x02, 0x03, 0x04,                         /* SSRC */
    0xe1, 0xa2, 0xb3, 0xc4, 0x80, 0x00, 0x00, 0x00, /* NTP */
    0x00, 0x00, 0x3e, 0x80,                         /* RTP ts */
    0x00, 0x00, 0x00, 0x64,                         /* packets */
    0x00, 0x00, 0x3e, 0x80,                         /* octets */
    /* block 1: fraction 1/4, 5 lost, two cycles, jitter 32 */
    0xaa, 0xbb, 0xcc, 0xdd, 0x40, 0x00, 0x00, 0x05, 0x00, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x20,
    0xb3, 0xc4, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00,
    /* block 2: cumulative lost -2 (duplicates) */
    0x11, 0x11, 0x11, 0x11, 0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static const uint8_t sdes_pkt[] = {
    0x81, 0xca, 0x00, 0x04,                               /* V=2 SC=1 PT=202 length=4 */
    0x01, 0x02, 0x03, 0x04,                               /* SSRC */
    0x01, 0x08, 'a',  'b',  'c', '@', 'h', 'o', 's', 't', /* CNAME "abc@host" */
    0x00, 0x00,                                           /* null item, padding */
};

static const uint8_t bye_pkt[] = {0x81, 0xcb, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04};

static struct rtcp_pkt one(const uint8_t *buf, size_t len)
{
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    rtcp_iter_init(&it, buf, len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(rtcp_iter_next(&it, &pkt), ENOENT);
    return pkt;
}

static void sr_known_answer(void **state)
{
    struct rtcp_pkt pkt = one(sr_pkt, sizeof(sr_pkt));
    struct rtcp_sr sr;
    struct rtcp_report_block rb[RTCP_MAX_REPORTS];
    size_t nrb;

    assert_int_equal(pkt.type, RTCP_SR);
    assert_int_equal(pkt.count, 2);
    assert_int_equal(pkt.body_len, sizeof(sr_pkt) - 4);
    assert_ptr_equal(pkt.raw, sr_pkt);
    assert_int_equal(pkt.raw_len, sizeof(sr_pkt));

    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb), 0);
    assert_int_equal(sr.ssrc, 0x01020304);
    assert_true(sr.ntp == 0xe1a2b3c480000000ull);
    assert_int_equal(sr.rtp_ts, 16000);
    assert_int_equal(sr.packet_count, 100);
    assert_int_equal(sr.octet_count, 16000);
    assert_int_equal(nrb, 2);
    assert_int_equal(rb[0].ssrc, 0xaabbccdd);
    assert_int_equal(rb[0].fraction_lost, 64);
    assert_int_equal(rb[0].cumulative_lost, 5);
    assert_int_equal(rb[0].ext_highest_seq, 0x0002ffff);
    assert_int_equal(rb[0].jitter, 32);
    assert_int_equal(rb[0].lsr, 0xb3c48000);
    assert_int_equal(rb[0].dlsr, 0x00010000);
    assert_int_equal(rb[1].ssrc, 0x11111111);
    assert_int_equal(rb[1].fraction_lost, 255);
    assert_int_equal(rb[1].cumulative_lost, -2);
    assert_int_equal(rb[1].ext_highest_seq, 16);
    assert_int_equal(rb[1].lsr, 0);

    /* A smaller array gets the first blocks. */
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, 1, &nrb), 0);
    assert_int_equal(nrb, 1);
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, NULL, 0, &nrb), 0);
    assert_int_equal(nrb, 0);

    /* Re-encoding gives the same bytes. */
    uint8_t out[256];
    size_t len = 0;
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb), 0);
    assert_int_equal(rtcp_sr_encode(out, sizeof(out), &len, &sr, rb, nrb), 0);
    assert_int_equal(len, sizeof(sr_pkt));
    assert_memory_equal(out, sr_pkt, len);

    /* Not an RR. */
    uint32_t ssrc;
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, rb, RTCP_MAX_REPORTS, &nrb), EINVAL);
}

static void sr_rr_malformed(void **state)
{
    uint8_t buf[sizeof(sr_pkt)];
    struct rtcp_sr sr;
    struct rtcp_report_block rb[RTCP_MAX_REPORTS];
    size_t nrb;
    uint32_t ssrc;

    /* RC says three blocks, the body holds two. */
    memcpy(buf, sr_pkt, sizeof(buf));
    buf[0] = 0x83;
    struct rtcp_pkt pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb), EBADMSG);

    /* Sender info cut short: a 20-byte body. */
    static const uint8_t short_sr[] = {0x80, 0xc8, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0,
                                       0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0};
    pkt = one(short_sr, sizeof(short_sr));
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb), EBADMSG);

    /* RR without its SSRC, and RR with a block claimed but absent. */
    static const uint8_t empty_rr[] = {0x80, 0xc9, 0x00, 0x00};
    pkt = one(empty_rr, sizeof(empty_rr));
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, rb, RTCP_MAX_REPORTS, &nrb), EBADMSG);
    static const uint8_t rr_short[] = {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 7};
    pkt = one(rr_short, sizeof(rr_short));
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, rb, RTCP_MAX_REPORTS, &nrb), EBADMSG);
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb), EINVAL);
}

static void rr_round_trip(void **state)
{
    struct rtcp_report_block in[2] = {
        {.ssrc = 7, .fraction_lost = 3, .cumulative_lost = -0x800000, .ext_highest_seq = 9},
        {.ssrc = 8, .cumulative_lost = 0x12345678 /* clamped to 0x7fffff */, .dlsr = 5},
    };
    uint8_t buf[128];
    size_t len = 0;

    assert_int_equal(rtcp_rr_encode(buf, sizeof(buf), &len, 0xcafe, in, 2), 0);
    assert_int_equal(len, 8 + 48);
    assert_int_equal(buf[0], 0x82);
    assert_int_equal(buf[1], 201);
    assert_int_equal(buf[3], 13);

    struct rtcp_report_block out[RTCP_MAX_REPORTS];
    size_t nrb;
    uint32_t ssrc;
    struct rtcp_pkt pkt = one(buf, len);
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, out, RTCP_MAX_REPORTS, &nrb), 0);
    assert_int_equal(ssrc, 0xcafe);
    assert_int_equal(nrb, 2);
    assert_int_equal(out[0].cumulative_lost, -0x800000);
    assert_int_equal(out[0].fraction_lost, 3);
    assert_int_equal(out[1].cumulative_lost, 0x7fffff);
    assert_int_equal(out[1].dlsr, 5);

    /* Empty RR; too many blocks; no room; a *len past cap. */
    len = 0;
    assert_int_equal(rtcp_rr_encode(buf, sizeof(buf), &len, 1, NULL, 0), 0);
    assert_int_equal(len, 8);
    assert_int_equal(rtcp_rr_encode(buf, sizeof(buf), &len, 1, in, 32), EINVAL);
    len = 0;
    assert_int_equal(rtcp_rr_encode(buf, 8 + 47, &len, 1, in, 2), EOVERFLOW);
    assert_int_equal(len, 0);
    len = sizeof(buf) + 1;
    assert_int_equal(rtcp_rr_encode(buf, sizeof(buf), &len, 1, NULL, 0), EINVAL);
}

static void compound_walk(void **state)
{
    uint8_t buf[256];
    size_t len = 0;
    memcpy(buf, sr_pkt, sizeof(sr_pkt));
    len = sizeof(sr_pkt);
    assert_int_equal(rtcp_sdes_cname_encode(buf, sizeof(buf), &len, 0x01020304, "abc@host"), 0);
    assert_int_equal(rtcp_bye_encode(buf, sizeof(buf), &len, 0x01020304), 0);
    assert_int_equal(len, sizeof(sr_pkt) + sizeof(sdes_pkt) + sizeof(bye_pkt));
    assert_memory_equal(buf + sizeof(sr_pkt), sdes_pkt, sizeof(sdes_pkt));
    assert_memory_equal(buf + sizeof(sr_pkt) + sizeof(sdes_pkt), bye_pkt, sizeof(bye_pkt));

    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    rtcp_iter_init(&it, buf, len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(pkt.type, RTCP_SR);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(pkt.type, RTCP_SDES);
    uint32_t ssrc = 0;
    char cname[64];
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), 0);
    assert_int_equal(ssrc, 0x01020304);
    assert_string_equal(cname, "abc@host");
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(pkt.type, RTCP_BYE);
    uint32_t ssrcs[4];
    size_t n;
    assert_int_equal(rtcp_bye_decode(&pkt, ssrcs, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ssrcs[0], 0x01020304);
    assert_int_equal(rtcp_iter_next(&it, &pkt), ENOENT);
    assert_int_equal(rtcp_iter_next(&it, &pkt), ENOENT);
}

static int walk(const uint8_t *buf, size_t len, int *count)
{
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    int err;
    *count = 0;
    rtcp_iter_init(&it, buf, len);
    while ((err = rtcp_iter_next(&it, &pkt)) == 0)
        (*count)++;
    /* After the end or an error, the iterator stays at the end. */
    assert_int_equal(rtcp_iter_next(&it, &pkt), ENOENT);
    return err;
}

static void iterator_malformed(void **state)
{
    uint8_t buf[64] = {0};
    int count;

    /* Zero-length compound: nothing in it. */
    assert_int_equal(walk(buf, 0, &count), ENOENT);
    assert_int_equal(count, 0);
    assert_int_equal(walk(NULL, 8, &count), ENOENT);

    /* Shorter than a header. */
    memcpy(buf, bye_pkt, sizeof(bye_pkt));
    for (size_t n = 1; n < 4; n++)
        assert_int_equal(walk(buf, n, &count), EBADMSG);
    /* Length field past the buffer. */
    assert_int_equal(walk(buf, 7, &count), EBADMSG);
    buf[3] = 2;
    assert_int_equal(walk(buf, 8, &count), EBADMSG);
    buf[3] = 1;
    /* Bad version. */
    buf[0] = 0x41;
    assert_int_equal(walk(buf, 8, &count), EBADMSG);
    buf[0] = 0xc1;
    assert_int_equal(walk(buf, 8, &count), EBADMSG);
    buf[0] = 0x81;
    /* A sound packet then trailing bytes, or a bad second packet: the first still comes. */
    memcpy(buf + 8, bye_pkt, 8);
    assert_int_equal(walk(buf, 16, &count), ENOENT);
    assert_int_equal(count, 2);
    assert_int_equal(walk(buf, 10, &count), EBADMSG);
    assert_int_equal(count, 1);
    buf[8] = 0x01;
    assert_int_equal(walk(buf, 16, &count), EBADMSG);
    assert_int_equal(count, 1);
}

static void iterator_padding(void **state)
{
    /* RR with no blocks plus 4 bytes of padding. */
    uint8_t rr[] = {0xa0, 0xc9, 0x00, 0x02, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x04};
    struct rtcp_pkt pkt = one(rr, sizeof(rr));
    assert_int_equal(pkt.body_len, 4);
    assert_int_equal(pkt.raw_len, 12);
    uint32_t ssrc;
    size_t nrb;
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, NULL, 0, &nrb), 0);
    assert_int_equal(ssrc, 42);
    assert_int_equal(nrb, 0);

    int count;
    rr[11] = 0; /* a padding count of zero */
    assert_int_equal(walk(rr, sizeof(rr), &count), EBADMSG);
    rr[11] = 9; /* more padding than body */
    assert_int_equal(walk(rr, sizeof(rr), &count), EBADMSG);
    rr[11] = 8; /* all of the body: decodes as an RR without its SSRC */
    pkt = one(rr, sizeof(rr));
    assert_int_equal(pkt.body_len, 0);
    assert_int_equal(rtcp_rr_decode(&pkt, &ssrc, NULL, 0, &nrb), EBADMSG);
    /* Padding bit on a header-only packet. */
    static const uint8_t hdr_only[] = {0xa0, 0xc9, 0x00, 0x00};
    assert_int_equal(walk(hdr_only, sizeof(hdr_only), &count), EBADMSG);
}

static void sdes(void **state)
{
    struct rtcp_pkt pkt = one(sdes_pkt, sizeof(sdes_pkt));
    uint32_t ssrc;
    char cname[9];

    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), 0);
    assert_string_equal(cname, "abc@host");
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, 8), EOVERFLOW);

    /* A NAME item before the CNAME. */
    static const uint8_t name_first[] = {0x81, 0xca, 0x00, 0x03, 0,    0,   0,   5,
                                         0x02, 0x01, 'N',  0x01, 0x02, 'x', 'y', 0x00};
    pkt = one(name_first, sizeof(name_first));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), 0);
    assert_int_equal(ssrc, 5);
    assert_string_equal(cname, "xy");

    uint8_t buf[sizeof(sdes_pkt)];
    memcpy(buf, sdes_pkt, sizeof(buf));
    /* No CNAME in the chunk: ends with the null item first. */
    buf[8] = 0x00;
    pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), ENOENT);
    /* An item longer than the body. */
    memcpy(buf, sdes_pkt, sizeof(buf));
    buf[9] = 0x20;
    pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), EBADMSG);
    /* A NUL inside the CNAME. */
    memcpy(buf, sdes_pkt, sizeof(buf));
    buf[12] = 0;
    pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), EBADMSG);
    /* Items running to the end without a null item. */
    static const uint8_t no_end[] = {0x81, 0xca, 0x00, 0x02, 0, 0, 0, 5, 0x02, 0x02, 'a', 'b'};
    pkt = one(no_end, sizeof(no_end));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), EBADMSG);
    /* No chunk at all; a chunk without its SSRC. */
    static const uint8_t no_chunk[] = {0x80, 0xca, 0x00, 0x00};
    pkt = one(no_chunk, sizeof(no_chunk));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), ENOENT);
    static const uint8_t no_ssrc[] = {0x81, 0xca, 0x00, 0x00};
    pkt = one(no_ssrc, sizeof(no_ssrc));
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, cname, sizeof(cname)), EBADMSG);

    /* Encoding: a name filling a word exactly still gets a whole word of nulls. */
    uint8_t out[320];
    size_t len = 0;
    assert_int_equal(rtcp_sdes_cname_encode(out, sizeof(out), &len, 9, "ab"), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(out,
                        "\x81\xca\x00\x03\x00\x00\x00\x09\x01\x02"
                        "ab\0\0\0\0",
                        16);
    char longname[RTCP_MAX_CNAME + 2];
    memset(longname, 'x', sizeof(longname));
    longname[RTCP_MAX_CNAME] = 0;
    len = 0;
    assert_int_equal(rtcp_sdes_cname_encode(out, sizeof(out), &len, 9, longname), 0);
    pkt = one(out, len);
    char back[RTCP_MAX_CNAME + 1];
    assert_int_equal(rtcp_sdes_cname_decode(&pkt, &ssrc, back, sizeof(back)), 0);
    assert_string_equal(back, longname);
    longname[RTCP_MAX_CNAME] = 'x';
    longname[RTCP_MAX_CNAME + 1] = 0;
    len = 0;
    assert_int_equal(rtcp_sdes_cname_encode(out, sizeof(out), &len, 9, longname), EINVAL);
    assert_int_equal(rtcp_sdes_cname_encode(out, 15, &len, 9, "ab"), EOVERFLOW);
}

static void bye(void **state)
{
    uint32_t ssrcs[2];
    size_t n;

    /* Three SSRCs and a reason; the caller has room for two. */
    static const uint8_t with_reason[] = {0x83, 0xcb, 0x00, 0x05, 0, 0,   0,   1,   0,   0, 0, 2,
                                          0,    0,    0,    3,    4, 'g', 'o', 'n', 'e', 0, 0, 0};
    struct rtcp_pkt pkt = one(with_reason, sizeof(with_reason));
    assert_int_equal(rtcp_bye_decode(&pkt, ssrcs, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ssrcs[1], 2);

    uint8_t buf[sizeof(with_reason)];
    memcpy(buf, with_reason, sizeof(buf));
    buf[16] = 8; /* reason longer than what follows */
    pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_bye_decode(&pkt, ssrcs, 2, &n), EBADMSG);
    buf[0] = 0x86; /* six SSRCs claimed */
    buf[16] = 4;
    pkt = one(buf, sizeof(buf));
    assert_int_equal(rtcp_bye_decode(&pkt, ssrcs, 2, &n), EBADMSG);

    /* SC = 0 is valid and useless. */
    static const uint8_t none[] = {0x80, 0xcb, 0x00, 0x00};
    pkt = one(none, sizeof(none));
    assert_int_equal(rtcp_bye_decode(&pkt, ssrcs, 2, &n), 0);
    assert_int_equal(n, 0);

    size_t len = 0;
    assert_int_equal(rtcp_bye_encode(buf, 7, &len, 1), EOVERFLOW);
}

/* NACK from 0x1 for media 0x2: PID 100 with BLP bits 0, 2 and 15 (101, 103, 116), and a
 * second entry across the wrap, PID 65535 with bit 0 (0). */
static const uint8_t nack_pkt[] = {0x81, 0xcd, 0x00, 0x04, 0,    0,    0,    1,    0,    0,
                                   0,    2,    0x00, 0x64, 0x80, 0x05, 0xff, 0xff, 0x00, 0x01};

static void nack_decode(void **state)
{
    struct rtcp_pkt pkt = one(nack_pkt, sizeof(nack_pkt));
    uint16_t seqs[64];
    size_t n;
    uint32_t snd, media;

    assert_int_equal(rtcp_fb_decode(&pkt, &snd, &media), 0);
    assert_int_equal(snd, 1);
    assert_int_equal(media, 2);
    assert_int_equal(rtcp_nack_decode(&pkt, seqs, 64, &n), 0);
    assert_int_equal(n, 6);
    static const uint16_t want[] = {100, 101, 103, 116, 65535, 0};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(seqs[i], want[i]);

    assert_int_equal(rtcp_nack_decode(&pkt, seqs, 3, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(seqs[2], 103);

    /* No FCI; a ragged FCI (padding leaving 2 bytes); not a NACK. */
    static const uint8_t no_fci[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    pkt = one(no_fci, sizeof(no_fci));
    assert_int_equal(rtcp_nack_decode(&pkt, seqs, 64, &n), EBADMSG);
    static const uint8_t ragged[] = {0xa1, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0, 2};
    pkt = one(ragged, sizeof(ragged));
    assert_int_equal(rtcp_nack_decode(&pkt, seqs, 64, &n), EBADMSG);
    pkt = one(sr_pkt, sizeof(sr_pkt));
    assert_int_equal(rtcp_nack_decode(&pkt, seqs, 64, &n), EINVAL);
    assert_int_equal(rtcp_fb_decode(&pkt, &snd, &media), EINVAL);
    static const uint8_t short_fb[] = {0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1};
    pkt = one(short_fb, sizeof(short_fb));
    assert_int_equal(rtcp_fb_decode(&pkt, &snd, &media), EBADMSG);
}

static size_t nack_round_trip(const uint16_t *seqs, size_t n, uint16_t *out, size_t *nout)
{
    uint8_t buf[1500];
    size_t len = 0;
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, seqs, n), 0);
    struct rtcp_pkt pkt = one(buf, len);
    assert_int_equal(rtcp_nack_decode(&pkt, out, 4096, nout), 0);
    return (len - 12) / 4;
}

static void nack_encode_known(void **state)
{
    uint8_t buf[64];
    size_t len = 0;

    /* Unordered, with a duplicate, spread over one PID + BLP. */
    static const uint16_t s1[] = {116, 103, 100, 101, 103};
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, s1, 5), 0);
    assert_int_equal(len, 16);
    assert_memory_equal(buf, "\x81\xcd\x00\x03\0\0\0\x01\0\0\0\x02\x00\x64\x80\x05", 16);

    /* Across the wrap: one entry starting at 65530. */
    static const uint16_t s2[] = {5, 65535, 2, 65530};
    len = 0;
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, s2, 4), 0);
    assert_int_equal(len, 16);
    assert_int_equal(bytes_get16(buf + 12), 65530);
    assert_int_equal(bytes_get16(buf + 14), (1 << 4) | (1 << 7) | (1 << 10));

    /* 17 apart cannot share an entry; 0..16 can. */
    static const uint16_t s3[] = {33, 0, 16, 17};
    len = 0;
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, s3, 4), 0);
    assert_int_equal(len, 20);
    assert_int_equal(bytes_get16(buf + 12), 0);
    assert_int_equal(bytes_get16(buf + 14), 0x8000);
    assert_int_equal(bytes_get16(buf + 16), 17);
    assert_int_equal(bytes_get16(buf + 18), 0x8000);

    /* Errors leave *len alone. */
    len = 4;
    assert_int_equal(rtcp_nack_encode(buf, 4 + 19, &len, 1, 2, s3, 4), EOVERFLOW);
    assert_int_equal(len, 4);
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, s3, 0), EINVAL);
    assert_int_equal(rtcp_nack_encode(buf, sizeof(buf), &len, 1, 2, NULL, 1), EINVAL);
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* The fewest entries for a set within a window, by the textbook greedy over the sorted,
 * unwrapped list. */
static size_t min_entries(const uint16_t *seqs, size_t n, uint16_t base)
{
    uint32_t v[512];
    for (size_t i = 0; i < n; i++)
        v[i] = (uint16_t)(seqs[i] - base);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && v[k - 1] > v[k]; k--) {
            uint32_t t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    size_t entries = 0;
    for (size_t i = 0; i < n;) {
        uint32_t pid = v[i];
        entries++;
        while (i < n && v[i] <= pid + 16)
            i++;
    }
    return entries;
}

static void nack_encode_random_sets(void **state)
{
    uint32_t rng = 12345;
    for (int round = 0; round < 300; round++) {
        uint16_t seqs[512], out[4096], sorted_in[512];
        rng = rng * 1103515245 + 12345;
        uint16_t base = (uint16_t)(rng >> 8);
        rng = rng * 1103515245 + 12345;
        size_t n = 1 + (rng >> 8) % 300;
        rng = rng * 1103515245 + 12345;
        uint32_t window = 1 + (rng >> 8) % 2000;
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245 + 12345;
            seqs[i] = (uint16_t)(base + (rng >> 8) % window);
        }
        size_t nout;
        size_t entries = nack_round_trip(seqs, n, out, &nout);
        assert_int_equal(entries, min_entries(seqs, n, base));

        /* The same set comes back (deduplicated). */
        memcpy(sorted_in, seqs, n * sizeof(seqs[0]));
        qsort(sorted_in, n, sizeof(seqs[0]), cmp_u16);
        size_t uniq = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || sorted_in[i] != sorted_in[i - 1])
                sorted_in[uniq++] = sorted_in[i];
        qsort(out, nout, sizeof(out[0]), cmp_u16);
        assert_int_equal(nout, uniq);
        assert_memory_equal(out, sorted_in, uniq * sizeof(out[0]));
    }
}

static void pli_fir(void **state)
{
    uint8_t buf[64];
    size_t len = 0;

    assert_int_equal(rtcp_pli_encode(buf, sizeof(buf), &len, 0x11, 0x22), 0);
    assert_int_equal(rtcp_fir_encode(buf, sizeof(buf), &len, 0x11, 0x22, 7), 0);
    assert_int_equal(len, 12 + 20);
    assert_memory_equal(buf, "\x81\xce\x00\x02\0\0\0\x11\0\0\0\x22", 12);
    assert_memory_equal(buf + 12, "\x84\xce\x00\x04\0\0\0\x11\0\0\0\0\0\0\0\x22\x07\0\0\0", 20);

    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    uint32_t snd, media;
    uint8_t seq_nr;
    rtcp_iter_init(&it, buf, len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(pkt.type, RTCP_PSFB);
    assert_int_equal(pkt.count, RTCP_FMT_PLI);
    assert_int_equal(rtcp_fb_decode(&pkt, &snd, &media), 0);
    assert_int_equal(media, 0x22);
    assert_int_equal(rtcp_fir_decode(&pkt, 0x22, &seq_nr), EINVAL);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 0);
    assert_int_equal(pkt.count, RTCP_FMT_FIR);
    assert_int_equal(rtcp_fir_decode(&pkt, 0x22, &seq_nr), 0);
    assert_int_equal(seq_nr, 7);
    assert_int_equal(rtcp_fir_decode(&pkt, 0x23, &seq_nr), ENOENT);

    /* FIR without an FCI entry. */
    static const uint8_t bare[] = {0x84, 0xce, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0};
    pkt = one(bare, sizeof(bare));
    assert_int_equal(rtcp_fir_decode(&pkt, 0, &seq_nr), EBADMSG);

    len = 0;
    assert_int_equal(rtcp_pli_encode(buf, 11, &len, 1, 2), EOVERFLOW);
    assert_int_equal(rtcp_fir_encode(buf, 19, &len, 1, 2, 0), EOVERFLOW);
    assert_int_equal(len, 0);
}

static void ntp(void **state)
{
    assert_true(rtcp_ntp_from_timespec(0, 0) == (uint64_t)2208988800u << 32);
    assert_true(rtcp_ntp_from_timespec(1, 500000000) ==
                ((uint64_t)2208988801u << 32 | 0x80000000u));
    /* Out-of-range nanoseconds are normalised. */
    assert_true(rtcp_ntp_from_timespec(2, -500000000) == rtcp_ntp_from_timespec(1, 500000000));
    assert_true(rtcp_ntp_from_timespec(0, 1500000000) == rtcp_ntp_from_timespec(1, 500000000));
    assert_int_equal(rtcp_ntp_mid32(0x0123456789abcdefull), 0x456789ab);
}

static void rtt(void **state)
{
    /* SR sent at NTP 0x1234.0000 (mid32), held 0.5 s by the peer, report back at 0x1235.0000:
     * round trip 0.5 s. */
    struct rtcp_report_block rb = {.lsr = 0x12340000, .dlsr = 0x8000};
    uint64_t now = (uint64_t)0x00001235 << 32;
    uint32_t q16 = 0;

    assert_int_equal(rtcp_rtt_q16(&rb, now, &q16), 0);
    assert_int_equal(q16, 0x8000);

    /* From a block decoded off the wire: LSR 0xb3c48000, DLSR 1 s, received 1.25 s after. */
    struct rtcp_pkt pkt = one(sr_pkt, sizeof(sr_pkt));
    struct rtcp_sr sr;
    struct rtcp_report_block blocks[2];
    size_t nrb;
    assert_int_equal(rtcp_sr_decode(&pkt, &sr, blocks, 2, &nrb), 0);
    now = ((uint64_t)0xb3c48000u + 0x14000u) << 16;
    assert_int_equal(rtcp_rtt_q16(&blocks[0], now, &q16), 0);
    assert_int_equal(q16, 0x4000);
    assert_int_equal(rtcp_rtt_q16(&blocks[1], now, &q16), EINVAL); /* no LSR */

    /* Across the 16-bit seconds wrap of the middle 32 bits. */
    rb.lsr = 0xffff8000;
    rb.dlsr = 0x4000;
    now = (uint64_t)0x00008000 << 16;
    assert_int_equal(rtcp_rtt_q16(&rb, now, &q16), 0);
    assert_int_equal(q16, 0xc000);

    /* The peer claims to have held it longer than it has been away; our clock is behind. */
    rb.lsr = 0x12340000;
    rb.dlsr = 0x20000;
    now = (uint64_t)0x00001235 << 32;
    assert_int_equal(rtcp_rtt_q16(&rb, now, &q16), EINVAL);
    rb.dlsr = 0;
    now = (uint64_t)0x00001233 << 32;
    assert_int_equal(rtcp_rtt_q16(&rb, now, &q16), EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sr_known_answer),
        cmocka_unit_test(sr_rr_malformed),
        cmocka_unit_test(rr_round_trip),
        cmocka_unit_test(compound_walk),
        cmocka_unit_test(iterator_malformed),
        cmocka_unit_test(iterator_padding),
        cmocka_unit_test(sdes),
        cmocka_unit_test(bye),
        cmocka_unit_test(nack_decode),
        cmocka_unit_test(nack_encode_known),
        cmocka_unit_test(nack_encode_random_sets),
        cmocka_unit_test(pli_fir),
        cmocka_unit_test(ntp),
        cmocka_unit_test(rtt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
