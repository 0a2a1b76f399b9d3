/*
 * RTCP compound packets (RFC 3550 6): the iterator that splits a compound into packets, and
 * the report packets every session exchanges (SR, RR, SDES CNAME, BYE), plus the NTP
 * arithmetic the reports carry. Feedback messages live in rtcp_fb.c.
 *
 * Splitting and decoding are separate steps so the one place that trusts a length field is
 * rtcp_iter_next(): it proves a packet lies within the datagram, and each decoder then only
 * has to prove its fields lie within that packet's body. Encoders append to a buffer so a
 * compound (SR + SDES, RR + SDES + BYE) is built by calling them in turn.
 */
#include "rtp/rtcp.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"

#define RTCP_VERSION     2
#define REPORT_BLOCK_LEN 24
#define SR_INFO_LEN      24 /* sender SSRC + NTP + RTP timestamp + counts */
#define SDES_CNAME       1
#define NTP_UNIX_OFFSET  2208988800u /* seconds from 1900 to 1970 */

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->p = buf;
    it->left = buf ? len : 0;
}

int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_pkt *pkt)
{
    if (!it || !pkt)
        return EINVAL;
    if (it->left == 0)
        return ENOENT;

    const uint8_t *p = it->p;
    if (it->left < RTCP_HDR_SIZE || (p[0] >> 6) != RTCP_VERSION)
        goto bad;

    size_t size = ((size_t)bytes_get16(p + 2) + 1) * 4;
    if (size > it->left)
        goto bad;

    size_t body_len = size - RTCP_HDR_SIZE;
    if (p[0] & 0x20) {
        /* The last byte counts the padding including itself. */
        uint8_t pad = p[size - 1];
        if (pad == 0 || pad > body_len)
            goto bad;
        body_len -= pad;
    }

    pkt->type = p[1];
    pkt->count = p[0] & 0x1f;
    pkt->body = p + RTCP_HDR_SIZE;
    pkt->body_len = body_len;
    pkt->raw = p;
    pkt->raw_len = size;
    it->p += size;
    it->left -= size;
    return 0;

bad:
    it->p += it->left;
    it->left = 0;
    return EBADMSG;
}

static void report_block_read(const uint8_t *p, struct rtcp_report_block *rb)
{
    uint32_t lost = ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];

    rb->ssrc = bytes_get32(p);
    rb->fraction_lost = p[4];
    /* 24-bit two's complement: sign-extend. */
    rb->cumulative_lost = (int32_t)(lost ^ 0x800000) - 0x800000;
    rb->ext_highest_seq = bytes_get32(p + 8);
    rb->jitter = bytes_get32(p + 12);
    rb->lsr = bytes_get32(p + 16);
    rb->dlsr = bytes_get32(p + 20);
}

static int report_blocks_read(const uint8_t *p, size_t left, unsigned count,
                              struct rtcp_report_block *rb, size_t rb_cap, size_t *nrb)
{
    if ((size_t)count * REPORT_BLOCK_LEN > left)
        return EBADMSG;

    size_t n = count < rb_cap ? count : rb_cap;
    for (size_t i = 0; i < n; i++)
        report_block_read(p + i * REPORT_BLOCK_LEN, &rb[i]);
    *nrb = n;
    /* Anything after the blocks is a profile-specific extension: not ours to judge. */
    return 0;
}

int rtcp_sr_decode(const struct rtcp_pkt *pkt, struct rtcp_sr *sr, struct rtcp_report_block *rb,
                   size_t rb_cap, size_t *nrb)
{
    if (!pkt || !sr || (!rb && rb_cap) || !nrb || pkt->type != RTCP_SR)
        return EINVAL;
    if (pkt->body_len < SR_INFO_LEN)
        return EBADMSG;

    const uint8_t *p = pkt->body;
    sr->ssrc = bytes_get32(p);
    sr->ntp = (uint64_t)bytes_get32(p + 4) << 32 | bytes_get32(p + 8);
    sr->rtp_ts = bytes_get32(p + 12);
    sr->packet_count = bytes_get32(p + 16);
    sr->octet_count = bytes_get32(p + 20);
    return report_blocks_read(p + SR_INFO_LEN, pkt->body_len - SR_INFO_LEN, pkt->count, rb, rb_cap,
                              nrb);
}

int rtcp_rr_decode(const struct rtcp_pkt *pkt, uint32_t *ssrc, struct rtcp_report_block *rb,
                   size_t rb_cap, size_t *nrb)
{
    if (!pkt || !ssrc || (!rb && rb_cap) || !nrb || pkt->type != RTCP_RR)
        return EINVAL;
    if (pkt->body_len < 4)
        return EBADMSG;

    *ssrc = bytes_get32(pkt->body);
    return report_blocks_read(pkt->body + 4, pkt->body_len - 4, pkt->count, rb, rb_cap, nrb);
}

int rtcp_sdes_cname_decode(const struct rtcp_pkt *pkt, uint32_t *ssrc, char *cname, size_t cap)
{
    if (!pkt || !ssrc || !cname || cap == 0 || pkt->type != RTCP_SDES)
        return EINVAL;
    if (pkt->count == 0)
        return ENOENT;

    struct bytes_r r = bytes_r_init(pkt->body, pkt->body_len);
    uint32_t chunk_ssrc;
    if (br_u32(&r, &chunk_ssrc))
        return EBADMSG;

    for (;;) {
        uint8_t type, len;
        const uint8_t *text;
        if (br_u8(&r, &type))
            return EBADMSG; /* a chunk ends with a null item, not with the packet */
        if (type == 0)
            return ENOENT;
        if (br_u8(&r, &len) || br_ptr(&r, len, &text))
            return EBADMSG;
        if (type != SDES_CNAME)
            continue;
        if (memchr(text, 0, len))
            return EBADMSG;
        if ((size_t)len + 1 > cap)
            return EOVERFLOW;
        memcpy(cname, text, len);
        cname[len] = '\0';
        *ssrc = chunk_ssrc;
        return 0;
    }
}

int rtcp_bye_decode(const struct rtcp_pkt *pkt, uint32_t *ssrcs, size_t cap, size_t *n)
{
    if (!pkt || (!ssrcs && cap) || !n || pkt->type != RTCP_BYE)
        return EINVAL;

    size_t list = (size_t)pkt->count * 4;
    if (list > pkt->body_len)
        return EBADMSG;
    /* An optional reason follows: a length byte and that much text. */
    if (pkt->body_len > list && 1 + (size_t)pkt->body[list] > pkt->body_len - list)
        return EBADMSG;

    size_t k = pkt->count < cap ? pkt->count : cap;
    for (size_t i = 0; i < k; i++)
        ssrcs[i] = bytes_get32(pkt->body + 4 * i);
    *n = k;
    return 0;
}

/* Appending encoders: a writer positioned at buf[*len]. */
static int append_begin(struct bytes_w *w, uint8_t *buf, size_t cap, const size_t *len)
{
    if (!buf || !len || *len > cap)
        return EINVAL;
    *w = bytes_w_init(buf, cap);
    w->len = *len;
    return 0;
}

/* The common header, with the length field filled in from the packet's known size. */
static int hdr_write(struct bytes_w *w, uint8_t count, uint8_t type, size_t size)
{
    if (size % 4 || size / 4 - 1 > UINT16_MAX)
        return EINVAL;
    if (w->cap - w->len < size)
        return EOVERFLOW;
    int err = bw_u8(w, (uint8_t)(RTCP_VERSION << 6 | count));
    err |= bw_u8(w, type);
    err |= bw_u16(w, (uint16_t)(size / 4 - 1));
    return err;
}

static int report_blocks_write(struct bytes_w *w, const struct rtcp_report_block *rb, size_t nrb)
{
    int err = 0;
    for (size_t i = 0; i < nrb; i++) {
        int32_t lost = rb[i].cumulative_lost;
        if (lost > 0x7fffff)
            lost = 0x7fffff;
        if (lost < -0x800000)
            lost = -0x800000;
        err |= bw_u32(w, rb[i].ssrc);
        err |= bw_u8(w, rb[i].fraction_lost);
        err |= bw_u24(w, (uint32_t)lost & 0xffffff);
        err |= bw_u32(w, rb[i].ext_highest_seq);
        err |= bw_u32(w, rb[i].jitter);
        err |= bw_u32(w, rb[i].lsr);
        err |= bw_u32(w, rb[i].dlsr);
    }
    return err;
}

int rtcp_sr_encode(uint8_t *buf, size_t cap, size_t *len, const struct rtcp_sr *sr,
                   const struct rtcp_report_block *rb, size_t nrb)
{
    struct bytes_w w;
    if (!sr || nrb > RTCP_MAX_REPORTS || (!rb && nrb) || append_begin(&w, buf, cap, len))
        return EINVAL;

    int err =
        hdr_write(&w, (uint8_t)nrb, RTCP_SR, RTCP_HDR_SIZE + SR_INFO_LEN + nrb * REPORT_BLOCK_LEN);
    if (err)
        return err;
    err |= bw_u32(&w, sr->ssrc);
    err |= bw_u32(&w, (uint32_t)(sr->ntp >> 32));
    err |= bw_u32(&w, (uint32_t)sr->ntp);
    err |= bw_u32(&w, sr->rtp_ts);
    err |= bw_u32(&w, sr->packet_count);
    err |= bw_u32(&w, sr->octet_count);
    err |= report_blocks_write(&w, rb, nrb);
    if (err)
        return EOVERFLOW;
    *len = w.len;
    return 0;
}

int rtcp_rr_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc,
                   const struct rtcp_report_block *rb, size_t nrb)
{
    struct bytes_w w;
    if (nrb > RTCP_MAX_REPORTS || (!rb && nrb) || append_begin(&w, buf, cap, len))
        return EINVAL;

    int err = hdr_write(&w, (uint8_t)nrb, RTCP_RR, RTCP_HDR_SIZE + 4 + nrb * REPORT_BLOCK_LEN);
    if (err)
        return err;
    err |= bw_u32(&w, ssrc);
    err |= report_blocks_write(&w, rb, nrb);
    if (err)
        return EOVERFLOW;
    *len = w.len;
    return 0;
}

int rtcp_sdes_cname_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc, const char *cname)
{
    struct bytes_w w;
    if (!cname || append_begin(&w, buf, cap, len))
        return EINVAL;
    size_t n = strlen(cname);
    if (n > RTCP_MAX_CNAME)
        return EINVAL;

    /* SSRC, CNAME item, then the null item: at least one zero byte, up to a 32-bit boundary. */
    size_t chunk = 4 + 2 + n;
    size_t nulls = 4 - chunk % 4;
    int err = hdr_write(&w, 1, RTCP_SDES, RTCP_HDR_SIZE + chunk + nulls);
    if (err)
        return err;
    err |= bw_u32(&w, ssrc);
    err |= bw_u8(&w, SDES_CNAME);
    err |= bw_u8(&w, (uint8_t)n);
    err |= bw_bytes(&w, cname, n);
    err |= bw_zero(&w, nulls);
    if (err)
        return EOVERFLOW;
    *len = w.len;
    return 0;
}

int rtcp_bye_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc)
{
    struct bytes_w w;
    if (append_begin(&w, buf, cap, len))
        return EINVAL;

    int err = hdr_write(&w, 1, RTCP_BYE, RTCP_HDR_SIZE + 4);
    if (err)
        return err;
    if (bw_u32(&w, ssrc))
        return EOVERFLOW;
    *len = w.len;
    return 0;
}

uint64_t rtcp_ntp_from_timespec(int64_t sec, long nsec)
{
    /* Normalise without trusting the caller's nsec range; unsigned so nothing overflows. */
    uint64_t s = (uint64_t)sec + (uint64_t)(nsec / 1000000000L);
    long ns = nsec % 1000000000L;
    if (ns < 0) {
        ns += 1000000000L;
        s--;
    }
    s += NTP_UNIX_OFFSET; /* era 0 wraps in 2036; only differences matter to RTCP */
    uint64_t frac = ((uint64_t)ns << 32) / 1000000000u;
    return (s << 32) | frac;
}

uint32_t rtcp_ntp_mid32(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

int rtcp_rtt_q16(const struct rtcp_report_block *rb, uint64_t ntp_now, uint32_t *rtt_q16)
{
    if (!rb || !rtt_q16 || rb->lsr == 0)
        return EINVAL;

    /* RFC 3550 6.4.1: RTT = A - LSR - DLSR, modulo 2^32 so the 18-hour wrap is harmless. An
     * "elapsed" time beyond half the range means our clock is behind the peer's echo. */
    uint32_t since_sr = rtcp_ntp_mid32(ntp_now) - rb->lsr;
    if (since_sr > INT32_MAX || since_sr < rb->dlsr)
        return EINVAL;
    *rtt_q16 = since_sr - rb->dlsr;
    return 0;
}
