/*
 * RTP packet headers (RFC 3550 5.1), header extensions (RFC 8285), the audio level element
 * (RFC 6464) and one-port demultiplexing (RFC 5761, RFC 7983).
 *
 * Decoding is zero-copy: the header struct and the payload pointer refer into the caller's
 * buffer, so a packet can be inspected, forwarded or handed to a decoder without touching its
 * bytes. Every length taken from the wire is checked against what is left before it is used;
 * the extension block is only bounded here and walked element by element on demand
 * (rtp_ext_find), since most packets are forwarded without anyone looking at it.
 */
#include "rtp/rtp.h"

#include <errno.h>
#include <string.h>

#include "base/bytes.h"

int rtp_decode(struct rtp_hdr *h, const uint8_t *buf, size_t len, const uint8_t **payload,
               size_t *payload_len)
{
    if (!h || !buf)
        return EINVAL;

    struct bytes_r r = bytes_r_init(buf, len);
    uint8_t b0, b1;
    int err = 0;

    err |= br_u8(&r, &b0);
    err |= br_u8(&r, &b1);
    err |= br_u16(&r, &h->seq);
    err |= br_u32(&r, &h->ts);
    err |= br_u32(&r, &h->ssrc);
    if (err)
        return EBADMSG;
    if ((b0 >> 6) != RTP_VERSION)
        return EBADMSG;

    h->padding = (b0 & 0x20) != 0;
    h->ext = (b0 & 0x10) != 0;
    h->cc = b0 & 0x0f;
    h->marker = (b1 & 0x80) != 0;
    h->pt = b1 & 0x7f;

    for (unsigned i = 0; i < h->cc; i++) {
        if (br_u32(&r, &h->csrc[i]))
            return EBADMSG;
    }

    h->ext_profile = 0;
    h->ext_data = NULL;
    h->ext_len = 0;
    if (h->ext) {
        uint16_t words;
        if (br_u16(&r, &h->ext_profile) || br_u16(&r, &words))
            return EBADMSG;
        h->ext_len = (size_t)words * 4;
        if (br_ptr(&r, h->ext_len, &h->ext_data))
            return EBADMSG;
    }

    size_t body = r.left;
    if (h->padding) {
        /* The count includes itself, so 0 is as malformed as one reaching into the header. */
        uint8_t pad = body ? r.p[body - 1] : 0;
        if (pad == 0 || pad > body)
            return EBADMSG;
        body -= pad;
    }

    if (payload)
        *payload = r.p;
    if (payload_len)
        *payload_len = body;
    return 0;
}

size_t rtp_hdr_size(const struct rtp_hdr *h)
{
    return RTP_HDR_SIZE + 4 * (size_t)h->cc + (h->ext ? 4 + h->ext_len : 0);
}

int rtp_encode(uint8_t *buf, size_t cap, const struct rtp_hdr *h, const uint8_t *payload,
               size_t payload_len, size_t *len)
{
    if (!buf || !h || !len || (!payload && payload_len))
        return EINVAL;
    if (h->cc > RTP_MAX_CSRC || h->pt > 0x7f)
        return EINVAL;
    if (h->ext && (h->ext_len % 4 || h->ext_len / 4 > UINT16_MAX || (!h->ext_data && h->ext_len)))
        return EINVAL;

    size_t hdr = rtp_hdr_size(h);
    if (hdr > cap || payload_len > cap - hdr)
        return EOVERFLOW;

    /* The payload first: when it sits in buf where the new header goes (a decoded packet
     * re-encoded with a larger header), the header must not overwrite it before it moves. */
    if (payload_len && payload != buf + hdr)
        memmove(buf + hdr, payload, payload_len);

    struct bytes_w w = bytes_w_init(buf, cap);
    uint8_t b0 = (uint8_t)(RTP_VERSION << 6 | (h->ext ? 0x10 : 0) | h->cc);
    uint8_t b1 = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
    int err = 0;

    err |= bw_u8(&w, b0);
    err |= bw_u8(&w, b1);
    err |= bw_u16(&w, h->seq);
    err |= bw_u32(&w, h->ts);
    err |= bw_u32(&w, h->ssrc);
    for (unsigned i = 0; i < h->cc; i++)
        err |= bw_u32(&w, h->csrc[i]);
    if (h->ext) {
        err |= bw_u16(&w, h->ext_profile);
        err |= bw_u16(&w, (uint16_t)(h->ext_len / 4));
        /* A packet rewritten in place (new seq or SSRC) has its block already there. */
        if (h->ext_len && h->ext_data != buf + w.len)
            memmove(buf + w.len, h->ext_data, h->ext_len);
        w.len += h->ext_len;
    }
    if (err)
        return EOVERFLOW;

    *len = hdr + payload_len;
    return 0;
}

/*
 * RFC 8285 elements. One-byte form: a byte of ID (4 bits) and length - 1 (4 bits); ID 0 is a
 * padding byte, ID 15 ends the list. Two-byte form: ID byte and length byte (0..255); a zero
 * ID byte is a single padding byte. An ID 0 byte with a non-zero length in the one-byte form
 * is not padding: like 15, it ends the list rather than being guessed at.
 */
static int ext_next(struct bytes_r *r, bool two_byte, uint8_t *id, const uint8_t **data,
                    size_t *len)
{
    for (;;) {
        uint8_t b;
        if (br_u8(r, &b))
            return ENOENT;

        size_t n;
        if (two_byte) {
            if (b == 0)
                continue;
            uint8_t l;
            if (br_u8(r, &l))
                return EBADMSG;
            *id = b;
            n = l;
        } else {
            if (b == 0)
                continue;
            if ((b >> 4) == 0 || (b >> 4) == 15)
                return ENOENT;
            *id = b >> 4;
            n = (size_t)(b & 0x0f) + 1;
        }
        if (br_ptr(r, n, data))
            return EBADMSG;
        *len = n;
        return 0;
    }
}

int rtp_ext_find(const struct rtp_hdr *h, uint8_t id, const uint8_t **data, size_t *len)
{
    if (!h || !data || !len || id == 0)
        return EINVAL;
    if (!h->ext)
        return ENOENT;

    bool two_byte;
    if (h->ext_profile == RTP_EXT_ONE_BYTE) {
        if (id > 14)
            return EINVAL;
        two_byte = false;
    } else if ((h->ext_profile & RTP_EXT_TWO_BYTE_MASK) == RTP_EXT_TWO_BYTE) {
        two_byte = true;
    } else {
        return ENOENT;
    }

    struct bytes_r r = bytes_r_init(h->ext_data, h->ext_data ? h->ext_len : 0);
    uint8_t eid;
    const uint8_t *edata;
    size_t elen;
    int err;
    while ((err = ext_next(&r, two_byte, &eid, &edata, &elen)) == 0) {
        if (eid == id) {
            *data = edata;
            *len = elen;
            return 0;
        }
    }
    return err;
}

static int ext_build(uint8_t *buf, size_t cap, const struct rtp_ext_elem *elems, size_t n,
                     bool two_byte, size_t *len)
{
    if (!buf || !len || (!elems && n))
        return EINVAL;

    struct bytes_w w = bytes_w_init(buf, cap);
    for (size_t i = 0; i < n; i++) {
        const struct rtp_ext_elem *e = &elems[i];
        if (e->id == 0 || (!e->data && e->len))
            return EINVAL;
        if (two_byte) {
            if (bw_u8(&w, e->id) || bw_u8(&w, e->len))
                return EOVERFLOW;
        } else {
            if (e->id > 14 || e->len < 1 || e->len > 16)
                return EINVAL;
            if (bw_u8(&w, (uint8_t)(e->id << 4 | (e->len - 1))))
                return EOVERFLOW;
        }
        if (bw_bytes(&w, e->data, e->len))
            return EOVERFLOW;
    }
    if (bw_zero(&w, (4 - w.len % 4) % 4))
        return EOVERFLOW;
    if (w.len / 4 > UINT16_MAX)
        return EINVAL;
    *len = w.len;
    return 0;
}

int rtp_ext_build(uint8_t *buf, size_t cap, const struct rtp_ext_elem *elems, size_t n, size_t *len)
{
    return ext_build(buf, cap, elems, n, false, len);
}

int rtp_ext_build_two_byte(uint8_t *buf, size_t cap, const struct rtp_ext_elem *elems, size_t n,
                           size_t *len)
{
    return ext_build(buf, cap, elems, n, true, len);
}

int rtp_audio_level_decode(const uint8_t *data, size_t len, bool *voice, uint8_t *level)
{
    if (!data || !voice || !level)
        return EINVAL;
    if (len < 1)
        return EBADMSG;
    *voice = (data[0] & 0x80) != 0;
    *level = data[0] & 0x7f;
    return 0;
}

uint8_t rtp_audio_level_encode(bool voice, uint8_t level)
{
    if (level > 127)
        level = 127;
    return (uint8_t)((voice ? 0x80 : 0) | level);
}

enum rtp_demux rtp_demux(const uint8_t *buf, size_t len)
{
    if (!buf || len < 1)
        return RTP_DEMUX_OTHER;

    uint8_t b0 = buf[0];
    if (b0 <= 3)
        return RTP_DEMUX_STUN;
    if (b0 >= 20 && b0 <= 63)
        return RTP_DEMUX_DTLS;
    if (b0 >= 128 && b0 <= 191) {
        /* RFC 5761 4: RTCP packet types 192..223 collide with RTP payload types 64..95 with
         * the marker set, which is why those payload types are not to be used when muxing. */
        if (len >= 2 && buf[1] >= 192 && buf[1] <= 223)
            return len >= 8 ? RTP_DEMUX_RTCP : RTP_DEMUX_OTHER;
        return len >= RTP_HDR_SIZE ? RTP_DEMUX_RTP : RTP_DEMUX_OTHER;
    }
    return RTP_DEMUX_OTHER;
}
