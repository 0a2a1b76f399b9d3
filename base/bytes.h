/*
 * Bounded big-endian cursors over byte buffers, for every parser and builder of wire formats
 * (RTP, RTCP, STUN-adjacent framing). Header-only and allocation-free so the pure packet layer
 * (rtp/) can use them without linking anything.
 *
 * A reader never reads past its end: a short buffer yields EBADMSG and leaves the cursor where
 * it was. A writer never writes past its capacity: an overflow yields EOVERFLOW.
 */
#ifndef SB_BASE_BYTES_H
#define SB_BASE_BYTES_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bytes_r {
    const uint8_t *p; /* next byte to read */
    size_t left;      /* bytes remaining */
};

struct bytes_w {
    uint8_t *start;
    size_t len; /* bytes written so far */
    size_t cap;
};

static inline struct bytes_r bytes_r_init(const uint8_t *buf, size_t len)
{
    struct bytes_r r = {buf, len};
    return r;
}

static inline struct bytes_w bytes_w_init(uint8_t *buf, size_t cap)
{
    struct bytes_w w = {buf, 0, cap};
    return w;
}

static inline int br_skip(struct bytes_r *r, size_t n)
{
    if (r->left < n)
        return EBADMSG;
    r->p += n;
    r->left -= n;
    return 0;
}

static inline int br_u8(struct bytes_r *r, uint8_t *v)
{
    if (r->left < 1)
        return EBADMSG;
    *v = r->p[0];
    return br_skip(r, 1);
}

static inline int br_u16(struct bytes_r *r, uint16_t *v)
{
    if (r->left < 2)
        return EBADMSG;
    *v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    return br_skip(r, 2);
}

static inline int br_u24(struct bytes_r *r, uint32_t *v)
{
    if (r->left < 3)
        return EBADMSG;
    *v = ((uint32_t)r->p[0] << 16) | ((uint32_t)r->p[1] << 8) | r->p[2];
    return br_skip(r, 3);
}

static inline int br_u32(struct bytes_r *r, uint32_t *v)
{
    if (r->left < 4)
        return EBADMSG;
    *v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) |
         r->p[3];
    return br_skip(r, 4);
}

/* Points *data at the next n bytes (no copy) and advances. */
static inline int br_ptr(struct bytes_r *r, size_t n, const uint8_t **data)
{
    if (r->left < n)
        return EBADMSG;
    *data = r->p;
    return br_skip(r, n);
}

static inline int bw_bytes(struct bytes_w *w, const void *data, size_t n)
{
    if (w->cap - w->len < n)
        return EOVERFLOW;
    if (n)
        memcpy(w->start + w->len, data, n);
    w->len += n;
    return 0;
}

static inline int bw_u8(struct bytes_w *w, uint8_t v)
{
    return bw_bytes(w, &v, 1);
}

static inline int bw_u16(struct bytes_w *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return bw_bytes(w, b, 2);
}

static inline int bw_u24(struct bytes_w *w, uint32_t v)
{
    uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return bw_bytes(w, b, 3);
}

static inline int bw_u32(struct bytes_w *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return bw_bytes(w, b, 4);
}

static inline int bw_zero(struct bytes_w *w, size_t n)
{
    if (w->cap - w->len < n)
        return EOVERFLOW;
    memset(w->start + w->len, 0, n);
    w->len += n;
    return 0;
}

/* Big-endian loads/stores for fixed offsets in already length-checked buffers. */
static inline uint16_t bytes_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t bytes_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void bytes_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void bytes_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
