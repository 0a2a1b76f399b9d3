/*
 * RFC 4733 telephone-event payload: the one fixed 4-byte block a DTMF digit travels in.
 *
 *   event (8) | E (1) | R (1) | volume (6) | duration (16)
 *
 * Kept apart from rtp.c because it is a payload format, not part of the packet: SIP phones
 * and the Matrix side both send digits this way and the bridge only needs to read and write
 * the block. Retransmitted end packets and event timing are the caller's state machine.
 */
#include "rtp/rtp.h"

#include <errno.h>

#include "base/bytes.h"

int rtp_dtmf_decode(struct rtp_dtmf *ev, const uint8_t *payload, size_t len)
{
    if (!ev || (!payload && len))
        return EINVAL;

    struct bytes_r r = bytes_r_init(payload, len);
    uint8_t flags;
    if (br_u8(&r, &ev->event) || br_u8(&r, &flags) || br_u16(&r, &ev->duration))
        return EBADMSG;

    /* R is reserved: senders set it to zero, receivers ignore it (RFC 4733 2.3). */
    ev->end = (flags & 0x80) != 0;
    ev->volume = flags & 0x3f;
    return 0;
}

int rtp_dtmf_encode(uint8_t *buf, size_t cap, const struct rtp_dtmf *ev, size_t *len)
{
    if (!buf || !ev || !len || ev->volume > 63)
        return EINVAL;

    struct bytes_w w = bytes_w_init(buf, cap);
    if (bw_u8(&w, ev->event) || bw_u8(&w, (uint8_t)((ev->end ? 0x80 : 0) | ev->volume)) ||
        bw_u16(&w, ev->duration))
        return EOVERFLOW;
    *len = w.len;
    return 0;
}
