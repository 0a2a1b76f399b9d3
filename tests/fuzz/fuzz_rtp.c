/*
 * libFuzzer target for the pure packet layer: the input is tried as an RTP packet (header,
 * extension elements, audio level, telephone-event payload), as an RTCP compound (every
 * decoder on every packet), and as a stream of sequence numbers and timestamps for the
 * receive statistics. Wherever an encoder exists, what decoded is encoded again and must come
 * back the same; a mismatch aborts so the fuzzer reports it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "rtp/rtcp.h"
#include "rtp/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static bool within(const uint8_t *p, size_t n, const uint8_t *buf, size_t len)
{
    return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

/* Every element rtp_ext_find() sees, rebuilt into a fresh block of the same form, is found
 * there again with the same bytes. */
static void ext_round_trip(const struct rtp_hdr *h, const uint8_t *pkt, size_t pkt_len)
{
    static struct rtp_ext_elem elems[255];
    static uint8_t block[255 * 257 + 4];
    bool two_byte = (h->ext_profile & RTP_EXT_TWO_BYTE_MASK) == RTP_EXT_TWO_BYTE;
    unsigned max_id = two_byte ? 255 : 15;
    size_t n = 0;

    for (unsigned id = 1; id <= max_id; id++) {
        const uint8_t *d;
        size_t len;
        int err = rtp_ext_find(h, (uint8_t)id, &d, &len);
        if (!two_byte && id == 15) {
            CHECK(err == EINVAL || (h->ext_profile != RTP_EXT_ONE_BYTE && err == ENOENT));
            continue;
        }
        CHECK(err == 0 || err == ENOENT || err == EBADMSG);
        if (err)
            continue;
        CHECK(within(d, len, pkt, pkt_len));
        CHECK(two_byte ? len <= 255 : len >= 1 && len <= 16);

        bool voice;
        uint8_t level;
        CHECK(rtp_audio_level_decode(d, len, &voice, &level) == (len ? 0 : EBADMSG));
        if (len)
            CHECK(rtp_audio_level_encode(voice, level) == d[0]);

        elems[n].id = (uint8_t)id;
        elems[n].data = d;
        elems[n].len = (uint8_t)len;
        n++;
    }
    if (h->ext_profile != RTP_EXT_ONE_BYTE && !two_byte)
        return;

    size_t blen;
    int err = two_byte ? rtp_ext_build_two_byte(block, sizeof(block), elems, n, &blen)
                       : rtp_ext_build(block, sizeof(block), elems, n, &blen);
    CHECK(err == 0); /* what was found always fits the form it came in */
    CHECK(blen % 4 == 0);

    struct rtp_hdr rebuilt = *h;
    rebuilt.ext_data = block;
    rebuilt.ext_len = blen;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *d;
        size_t len;
        CHECK(rtp_ext_find(&rebuilt, elems[i].id, &d, &len) == 0);
        CHECK(len == elems[i].len && memcmp(d, elems[i].data, len) == 0);
    }
}

static void fuzz_rtp_packet(const uint8_t *data, size_t size)
{
    static uint8_t out[70000 + 64];
    struct rtp_hdr h;
    const uint8_t *pl;
    size_t pl_len;

    enum rtp_demux kind = rtp_demux(data, size);
    if (kind == RTP_DEMUX_RTP)
        CHECK(size >= RTP_HDR_SIZE && data[0] >= 128 && data[0] <= 191);

    if (rtp_decode(&h, data, size, &pl, &pl_len))
        return;

    size_t hdr = rtp_hdr_size(&h);
    CHECK(hdr <= size && pl == data + hdr);
    CHECK(within(pl, pl_len, data, size));
    if (h.ext)
        CHECK(within(h.ext_data, h.ext_len, data, size) && h.ext_len % 4 == 0);
    if (!h.padding)
        CHECK(hdr + pl_len == size);

    /* Same bytes again, without padding. */
    size_t len;
    CHECK(rtp_encode(out, sizeof(out), &h, pl, pl_len, &len) == 0);
    CHECK(len == hdr + pl_len);
    CHECK(out[0] == (data[0] & ~0x20));
    CHECK(memcmp(out + 1, data + 1, len - 1) == 0);
    struct rtp_hdr back;
    const uint8_t *pl2;
    size_t pl2_len;
    CHECK(rtp_decode(&back, out, len, &pl2, &pl2_len) == 0);
    CHECK(back.seq == h.seq && back.ts == h.ts && back.ssrc == h.ssrc && back.pt == h.pt &&
          back.marker == h.marker && back.cc == h.cc && back.ext == h.ext && !back.padding);
    CHECK(pl2_len == pl_len);
    if (len > 0)
        CHECK(rtp_encode(out, len - 1, &h, pl, pl_len, &len) == EOVERFLOW);

    if (h.ext)
        ext_round_trip(&h, data, size);
    else {
        const uint8_t *d;
        size_t dl;
        CHECK(rtp_ext_find(&h, 1, &d, &dl) == ENOENT);
    }

    struct rtp_dtmf ev;
    if (rtp_dtmf_decode(&ev, pl, pl_len) == 0) {
        uint8_t b[RTP_DTMF_SIZE];
        size_t blen;
        CHECK(pl_len >= RTP_DTMF_SIZE);
        CHECK(rtp_dtmf_encode(b, sizeof(b), &ev, &blen) == 0 && blen == RTP_DTMF_SIZE);
        CHECK(b[0] == pl[0] && b[1] == (pl[1] & ~0x40) && b[2] == pl[2] && b[3] == pl[3]);
    } else {
        CHECK(pl_len < RTP_DTMF_SIZE);
    }
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static size_t sort_unique(uint16_t *v, size_t n)
{
    qsort(v, n, sizeof(v[0]), cmp_u16);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

static void fuzz_nack(const struct rtcp_pkt *pkt)
{
    enum { CAP = 4096 };
    static uint16_t seqs[CAP], again[CAP];
    static uint8_t buf[70000];
    size_t n, m, len = 0;

    if (rtcp_nack_decode(pkt, seqs, CAP, &n))
        return;
    CHECK(n >= 1 && n <= CAP);
    if (n == CAP)
        return; /* truncated: no whole set to compare */

    uint32_t snd, media;
    CHECK(rtcp_fb_decode(pkt, &snd, &media) == 0);
    CHECK(rtcp_nack_encode(buf, sizeof(buf), &len, snd, media, seqs, n) == 0);
    struct rtcp_iter it;
    struct rtcp_pkt back;
    rtcp_iter_init(&it, buf, len);
    CHECK(rtcp_iter_next(&it, &back) == 0);
    CHECK(rtcp_iter_next(&it, &back) == ENOENT);
    rtcp_iter_init(&it, buf, len);
    CHECK(rtcp_iter_next(&it, &back) == 0);
    CHECK(rtcp_nack_decode(&back, again, CAP, &m) == 0);

    size_t u = sort_unique(seqs, n);
    CHECK(sort_unique(again, m) == u && memcmp(seqs, again, u * sizeof(seqs[0])) == 0);
    /* Fewer distinct numbers than 65536 / 17 always leave a gap of 17: then the cover is
     * optimal, so never larger than the one it came in. */
    if (u < 65536 / 17)
        CHECK(back.body_len <= pkt->body_len);
}

static void fuzz_rtcp_pkt(const struct rtcp_pkt *pkt, uint64_t now)
{
    static uint8_t out[70000];
    struct rtcp_sr sr;
    struct rtcp_report_block rb[RTCP_MAX_REPORTS];
    size_t nrb, len, n;
    uint32_t ssrc, ssrc2, ssrcs[RTCP_MAX_REPORTS];
    char cname[RTCP_MAX_CNAME + 1], cname2[RTCP_MAX_CNAME + 1];
    bool padded = (pkt->raw[0] & 0x20) != 0;
    int err;

    CHECK(pkt->raw_len >= RTCP_HDR_SIZE && pkt->raw_len % 4 == 0);
    CHECK(pkt->body == pkt->raw + RTCP_HDR_SIZE && pkt->body_len <= pkt->raw_len - 4);

    /* Each decoder refuses other types with EINVAL and only those. */
    err = rtcp_sr_decode(pkt, &sr, rb, RTCP_MAX_REPORTS, &nrb);
    CHECK((err == EINVAL) == (pkt->type != RTCP_SR));
    if (err == 0) {
        CHECK(nrb == pkt->count);
        len = 0;
        CHECK(rtcp_sr_encode(out, sizeof(out), &len, &sr, rb, nrb) == 0);
        if (!padded && pkt->body_len == 24 + 24 * nrb)
            CHECK(len == pkt->raw_len && memcmp(out, pkt->raw, len) == 0);
        for (size_t i = 0; i < nrb; i++) {
            uint32_t rtt;
            err = rtcp_rtt_q16(&rb[i], now, &rtt);
            CHECK(err == 0 || err == EINVAL);
        }
    }

    err = rtcp_rr_decode(pkt, &ssrc, rb, RTCP_MAX_REPORTS, &nrb);
    CHECK((err == EINVAL) == (pkt->type != RTCP_RR));
    if (err == 0) {
        CHECK(nrb == pkt->count);
        len = 0;
        CHECK(rtcp_rr_encode(out, sizeof(out), &len, ssrc, rb, nrb) == 0);
        if (!padded && pkt->body_len == 4 + 24 * nrb)
            CHECK(len == pkt->raw_len && memcmp(out, pkt->raw, len) == 0);
    }

    err = rtcp_sdes_cname_decode(pkt, &ssrc, cname, sizeof(cname));
    CHECK((err == EINVAL) == (pkt->type != RTCP_SDES));
    if (err == 0) {
        len = 0;
        CHECK(rtcp_sdes_cname_encode(out, sizeof(out), &len, ssrc, cname) == 0);
        struct rtcp_iter it;
        struct rtcp_pkt back;
        rtcp_iter_init(&it, out, len);
        CHECK(rtcp_iter_next(&it, &back) == 0);
        CHECK(rtcp_sdes_cname_decode(&back, &ssrc2, cname2, sizeof(cname2)) == 0);
        CHECK(ssrc2 == ssrc && strcmp(cname, cname2) == 0);
    }

    err = rtcp_bye_decode(pkt, ssrcs, RTCP_MAX_REPORTS, &n);
    CHECK((err == EINVAL) == (pkt->type != RTCP_BYE));
    if (err == 0) {
        CHECK(n == pkt->count);
        len = 0;
        CHECK(rtcp_bye_encode(out, sizeof(out), &len, n ? ssrcs[0] : 0) == 0);
        if (!padded && n == 1 && pkt->body_len == 4)
            CHECK(len == pkt->raw_len && memcmp(out, pkt->raw, len) == 0);
    }

    uint32_t snd = 0, media = 0;
    err = rtcp_fb_decode(pkt, &snd, &media);
    CHECK((err == EINVAL) == (pkt->type != RTCP_RTPFB && pkt->type != RTCP_PSFB));
    if (err == 0 && pkt->type == RTCP_PSFB && pkt->count == RTCP_FMT_PLI && !padded &&
        pkt->body_len == 8) {
        len = 0;
        CHECK(rtcp_pli_encode(out, sizeof(out), &len, snd, media) == 0);
        CHECK(len == pkt->raw_len && memcmp(out, pkt->raw, len) == 0);
    }

    uint16_t seqs[64];
    err = rtcp_nack_decode(pkt, seqs, 64, &n);
    CHECK((err == EINVAL) == (pkt->type != RTCP_RTPFB || pkt->count != RTCP_FMT_NACK));
    if (err == 0)
        fuzz_nack(pkt);

    uint8_t seq_nr, seq_nr2;
    uint32_t fir_ssrc = pkt->body_len >= 12 ? bytes_get32(pkt->body + 8) : 0;
    err = rtcp_fir_decode(pkt, fir_ssrc, &seq_nr);
    CHECK((err == EINVAL) == (pkt->type != RTCP_PSFB || pkt->count != RTCP_FMT_FIR));
    if (err == 0) {
        len = 0;
        CHECK(rtcp_fir_encode(out, sizeof(out), &len, snd, fir_ssrc, seq_nr) == 0);
        struct rtcp_iter it;
        struct rtcp_pkt back;
        rtcp_iter_init(&it, out, len);
        CHECK(rtcp_iter_next(&it, &back) == 0);
        CHECK(rtcp_fir_decode(&back, fir_ssrc, &seq_nr2) == 0 && seq_nr2 == seq_nr);
    }
}

static void fuzz_rtcp_compound(const uint8_t *data, size_t size)
{
    struct rtcp_iter it;
    struct rtcp_pkt pkt;
    size_t total = 0;
    int err;
    uint64_t now = size >= 8 ? (uint64_t)bytes_get32(data) << 32 | bytes_get32(data + 4) : 0;

    rtcp_iter_init(&it, data, size);
    while ((err = rtcp_iter_next(&it, &pkt)) == 0) {
        CHECK(pkt.raw == data + total && within(pkt.raw, pkt.raw_len, data, size));
        total += pkt.raw_len;
        fuzz_rtcp_pkt(&pkt, now);
    }
    CHECK(err == ENOENT || err == EBADMSG);
    if (err == ENOENT)
        CHECK(total == size);
    CHECK(rtcp_iter_next(&it, &pkt) == ENOENT);
}

/* The input as (seq, ts, arrival) triples for the receive statistics. */
static void fuzz_seq(const uint8_t *data, size_t size)
{
    struct rtp_seq s = {0};
    struct rtp_jitter j = {0};

    for (size_t off = 0; off + 10 <= size; off += 10) {
        uint16_t seq = bytes_get16(data + off);
        uint64_t ext = UINT64_MAX;
        int err = rtp_seq_update(&s, seq, &ext);
        CHECK(err == 0 || err == EAGAIN || err == EBADMSG);
        if (err == 0) {
            CHECK((ext & 0xffff) == seq && ext <= rtp_seq_ext_max(&s));
            CHECK(rtp_seq_expected(&s) >= 1);
        }
        int32_t lost = rtp_seq_lost(&s);
        CHECK(lost >= -0x800000 && lost <= 0x7fffff);
        if (data[off + 2] & 1)
            (void)rtp_seq_fraction_lost(&s);
        rtp_jitter_update(&j, bytes_get32(data + off + 2), bytes_get32(data + off + 6));
        CHECK(rtp_jitter_get(&j) < (1u << 28));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_rtp_packet(data, size);
    fuzz_rtcp_compound(data, size);
    fuzz_seq(data, size);
    return 0;
}
