/*
 * RTCP feedback messages (RFC 4585 6.1): transport-layer generic NACK and the payload-specific
 * picture loss indication, plus the full intra request of RFC 5104 4.3.1.
 *
 * The interesting part is building a NACK: a receiver hands over whatever sequence numbers
 * its jitter buffer misses, in any order and across the 16-bit wrap, and the sender should get
 * as few FCI entries as possible, because every entry is 4 bytes of a packet that competes
 * with media for the same bandwidth. The set is put in a 65536-bit map (8 KiB of stack, no
 * sorting, duplicates vanish), cut open at its largest gap, and covered greedily from there:
 * on a line, starting each entry at the first uncovered number is optimal.
 */
#include "rtp/rtcp.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"

#define FB_COMMON_LEN 8 /* sender SSRC + media source SSRC */
#define NACK_FCI_LEN  4
#define FIR_FCI_LEN   8
#define SEQ_SPACE     65536u
#define SEQ_WORDS     (SEQ_SPACE / 64)

static bool is_fb(uint8_t type)
{
    return type == RTCP_RTPFB || type == RTCP_PSFB;
}

int rtcp_fb_decode(const struct rtcp_pkt *pkt, uint32_t *sender_ssrc, uint32_t *media_ssrc)
{
    if (!pkt || !sender_ssrc || !media_ssrc || !is_fb(pkt->type))
        return EINVAL;
    if (pkt->body_len < FB_COMMON_LEN)
        return EBADMSG;
    *sender_ssrc = bytes_get32(pkt->body);
    *media_ssrc = bytes_get32(pkt->body + 4);
    return 0;
}

int rtcp_nack_decode(const struct rtcp_pkt *pkt, uint16_t *seqs, size_t cap, size_t *n)
{
    if (!pkt || (!seqs && cap) || !n || pkt->type != RTCP_RTPFB || pkt->count != RTCP_FMT_NACK)
        return EINVAL;
    if (pkt->body_len < FB_COMMON_LEN + NACK_FCI_LEN ||
        (pkt->body_len - FB_COMMON_LEN) % NACK_FCI_LEN)
        return EBADMSG;

    size_t k = 0;
    for (size_t off = FB_COMMON_LEN; off < pkt->body_len && k < cap; off += NACK_FCI_LEN) {
        uint16_t pid = bytes_get16(pkt->body + off);
        uint16_t blp = bytes_get16(pkt->body + off + 2);
        seqs[k++] = pid;
        for (unsigned i = 0; i < 16 && k < cap; i++) {
            if (blp & (1u << i))
                seqs[k++] = (uint16_t)(pid + i + 1);
        }
    }
    *n = k;
    return 0;
}

int rtcp_fir_decode(const struct rtcp_pkt *pkt, uint32_t ssrc, uint8_t *seq_nr)
{
    if (!pkt || !seq_nr || pkt->type != RTCP_PSFB || pkt->count != RTCP_FMT_FIR)
        return EINVAL;
    if (pkt->body_len < FB_COMMON_LEN + FIR_FCI_LEN ||
        (pkt->body_len - FB_COMMON_LEN) % FIR_FCI_LEN)
        return EBADMSG;

    for (size_t off = FB_COMMON_LEN; off < pkt->body_len; off += FIR_FCI_LEN) {
        if (bytes_get32(pkt->body + off) == ssrc) {
            *seq_nr = pkt->body[off + 4];
            return 0;
        }
    }
    return ENOENT;
}

static int fb_write(uint8_t *buf, size_t cap, size_t *len, uint8_t type, uint8_t fmt,
                    uint32_t sender_ssrc, uint32_t media_ssrc, size_t fci_len, struct bytes_w *w)
{
    if (!buf || !len || *len > cap)
        return EINVAL;
    size_t size = RTCP_HDR_SIZE + FB_COMMON_LEN + fci_len;
    if (size / 4 - 1 > UINT16_MAX)
        return EINVAL;
    if (cap - *len < size)
        return EOVERFLOW;

    *w = bytes_w_init(buf, cap);
    w->len = *len;
    int err = bw_u8(w, (uint8_t)(2 << 6 | fmt));
    err |= bw_u8(w, type);
    err |= bw_u16(w, (uint16_t)(size / 4 - 1));
    err |= bw_u32(w, sender_ssrc);
    err |= bw_u32(w, media_ssrc);
    return err ? EOVERFLOW : 0;
}

int rtcp_pli_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                    uint32_t media_ssrc)
{
    struct bytes_w w;
    int err = fb_write(buf, cap, len, RTCP_PSFB, RTCP_FMT_PLI, sender_ssrc, media_ssrc, 0, &w);
    if (err)
        return err;
    *len = w.len;
    return 0;
}

int rtcp_fir_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                    uint32_t media_ssrc, uint8_t seq_nr)
{
    struct bytes_w w;
    int err = fb_write(buf, cap, len, RTCP_PSFB, RTCP_FMT_FIR, sender_ssrc, 0, FIR_FCI_LEN, &w);
    if (err)
        return err;
    err |= bw_u32(&w, media_ssrc);
    err |= bw_u8(&w, seq_nr);
    err |= bw_zero(&w, 3);
    if (err)
        return EOVERFLOW;
    *len = w.len;
    return 0;
}

static bool bit_get(const uint64_t *map, uint32_t pos)
{
    return (map[pos / 64] >> (pos % 64)) & 1;
}

/* Lowest set position in [from, to) of the linear space, or SEQ_SPACE if none. */
static uint32_t next_set_linear(const uint64_t *map, uint32_t from, uint32_t to)
{
    while (from < to) {
        uint64_t word = map[from / 64] >> (from % 64);
        if (word) {
            uint32_t pos = from + (uint32_t)__builtin_ctzll(word);
            return pos < to ? pos : SEQ_SPACE;
        }
        from = (from / 64 + 1) * 64;
    }
    return SEQ_SPACE;
}

/* Circular scan: the lowest offset >= from (offsets 0..65535 counted from start) whose
 * position is set, or SEQ_SPACE if none. */
static uint32_t next_set_from(const uint64_t *map, uint32_t start, uint32_t from)
{
    if (from >= SEQ_SPACE)
        return SEQ_SPACE;
    uint32_t pos = start + from;
    if (pos < SEQ_SPACE) {
        uint32_t hit = next_set_linear(map, pos, SEQ_SPACE);
        if (hit != SEQ_SPACE)
            return hit - start;
        hit = next_set_linear(map, 0, start);
        return hit != SEQ_SPACE ? hit + SEQ_SPACE - start : SEQ_SPACE;
    }
    uint32_t hit = next_set_linear(map, pos - SEQ_SPACE, start);
    return hit != SEQ_SPACE ? hit + SEQ_SPACE - start : SEQ_SPACE;
}

/* The position just after the largest empty stretch of the circle. */
static uint32_t cover_start(const uint64_t *map)
{
    uint32_t first = next_set_linear(map, 0, SEQ_SPACE);
    uint32_t prev = first, best = first, best_gap = 0;
    for (uint32_t pos = next_set_linear(map, first + 1, SEQ_SPACE); pos != SEQ_SPACE;
         pos = next_set_linear(map, pos + 1, SEQ_SPACE)) {
        if (pos - prev > best_gap) {
            best_gap = pos - prev;
            best = pos;
        }
        prev = pos;
    }
    /* The stretch that wraps from the last number round to the first. */
    if (first + SEQ_SPACE - prev > best_gap)
        best = first;
    return best;
}

int rtcp_nack_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                     uint32_t media_ssrc, const uint16_t *seqs, size_t n)
{
    if (!seqs || n == 0)
        return EINVAL;

    uint64_t map[SEQ_WORDS];
    memset(map, 0, sizeof(map));
    for (size_t i = 0; i < n; i++)
        map[seqs[i] / 64] |= (uint64_t)1 << (seqs[i] % 64);

    uint32_t start = cover_start(map);

    /* Two passes over the same greedy cover: count the entries to size the packet, then
     * write them. */
    size_t entries = 0;
    for (uint32_t off = 0; off != SEQ_SPACE; off = next_set_from(map, start, off + 17))
        entries++;

    struct bytes_w w;
    int err = fb_write(buf, cap, len, RTCP_RTPFB, RTCP_FMT_NACK, sender_ssrc, media_ssrc,
                       entries * NACK_FCI_LEN, &w);
    if (err)
        return err;

    for (uint32_t off = 0; off != SEQ_SPACE; off = next_set_from(map, start, off + 17)) {
        uint16_t pid = (uint16_t)(start + off);
        uint16_t blp = 0;
        for (uint32_t i = 1; i <= 16 && off + i < SEQ_SPACE; i++) {
            if (bit_get(map, (uint16_t)(pid + i)))
                blp |= (uint16_t)(1u << (i - 1));
        }
        err |= bw_u16(&w, pid);
        err |= bw_u16(&w, blp);
    }
    if (err)
        return EOVERFLOW;
    *len = w.len;
    return 0;
}
