/*
 * RTP packets (RFC 3550), header extensions (RFC 8285), and RTP/RTCP demultiplexing on one
 * port (RFC 5761). Pure functions over caller-owned buffers: decoding never copies the payload,
 * encoding writes into a bounded buffer.
 *
 * Returns: 0, EBADMSG (short or malformed packet), EINVAL (caller's mistake), EOVERFLOW (the
 * output buffer is too small), ENOENT (an optional element is absent).
 */
#ifndef SB_RTP_RTP_H
#define SB_RTP_RTP_H

#include <errno.h> /* the return values */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_VERSION    2
#define RTP_HDR_SIZE   12
#define RTP_MAX_CSRC   15
#define RTP_MAX_PACKET 1500

/* RFC 8285 header extension profiles: one-byte form, and two-byte form (low 4 bits are
 * "appbits", free for the application). */
#define RTP_EXT_ONE_BYTE      0xBEDE
#define RTP_EXT_TWO_BYTE      0x1000
#define RTP_EXT_TWO_BYTE_MASK 0xFFF0

struct rtp_hdr {
    bool padding;
    bool marker;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint8_t cc;
    uint32_t csrc[RTP_MAX_CSRC];
    /* Header extension block, if the X bit is set: the 16-bit profile (0xBEDE one-byte,
     * 0x100x two-byte) and its raw data (length in bytes, a multiple of 4). */
    bool ext;
    uint16_t ext_profile;
    const uint8_t *ext_data;
    size_t ext_len;
};

/* Parses buf; on success h describes the header and payload/payload_len the payload with any
 * padding removed (both point into buf). */
int rtp_decode(struct rtp_hdr *h, const uint8_t *buf, size_t len, const uint8_t **payload,
               size_t *payload_len);

/* Writes header (with h->csrc and, if h->ext, the extension block copied from h->ext_data) and
 * payload into buf; *len gets the packet length. h->padding is ignored (no padding written).
 * payload and ext_data may point into buf where rtp_encode() puts them (a payload encoded in
 * place at buf + rtp_hdr_size(h); a decoded packet rewritten in place with a new seq or SSRC),
 * and payload may sit anywhere in buf; an extension block elsewhere in buf is not supported. */
int rtp_encode(uint8_t *buf, size_t cap, const struct rtp_hdr *h, const uint8_t *payload,
               size_t payload_len, size_t *len);

/* Bytes rtp_encode() writes before the payload: 12 + 4 * cc + (ext ? 4 + ext_len : 0). */
size_t rtp_hdr_size(const struct rtp_hdr *h);

/* Finds element id (1..14 one-byte form, 1..255 two-byte form) in h's extension block.
 * ENOENT when there is no block, its profile is neither form, or id is not in it (an element
 * after the one-byte form's terminator id 15 does not count); EBADMSG when an element before
 * it runs past the block; EINVAL for an id outside the form's range. A two-byte element may
 * be empty (*len 0). */
int rtp_ext_find(const struct rtp_hdr *h, uint8_t id, const uint8_t **data, size_t *len);

/* Builds a one-byte-form (0xBEDE) extension block from (id, data, len) elements into buf,
 * padded to a multiple of 4; returns the block length in *len. ids 1..14, len 1..16.
 * The block is what goes into rtp_hdr.ext_data (with ext_profile RTP_EXT_ONE_BYTE): the 4-byte
 * profile/length word in front of it is written by rtp_encode(). */
struct rtp_ext_elem {
    uint8_t id;
    const uint8_t *data;
    uint8_t len;
};
int rtp_ext_build(uint8_t *buf, size_t cap, const struct rtp_ext_elem *elems, size_t n,
                  size_t *len);
/* The same in the two-byte form (profile RTP_EXT_TWO_BYTE): ids 1..255, len 0..255. */
int rtp_ext_build_two_byte(uint8_t *buf, size_t cap, const struct rtp_ext_elem *elems, size_t n,
                           size_t *len);

/* RFC 6464 client-to-mixer audio level: V flag and level in -dBov (0 loudest .. 127 silence).
 * Decoding reads the element's first byte (EBADMSG when empty); encoding clamps level to 127. */
int rtp_audio_level_decode(const uint8_t *data, size_t len, bool *voice, uint8_t *level);
uint8_t rtp_audio_level_encode(bool voice, uint8_t level);

/* RFC 5761 / 7983 demultiplexing of one port's datagrams by first bytes. A datagram too short
 * to be what its first byte says (RTP under 12 bytes, RTCP under 8) is RTP_DEMUX_OTHER. */
enum rtp_demux {
    RTP_DEMUX_STUN,  /* first byte 0..3 */
    RTP_DEMUX_DTLS,  /* 20..63 */
    RTP_DEMUX_RTP,   /* 128..191, payload type not in the RTCP range */
    RTP_DEMUX_RTCP,  /* 128..191, second byte 192..223 (RTCP packet types) */
    RTP_DEMUX_OTHER, /* anything else: drop */
};
enum rtp_demux rtp_demux(const uint8_t *buf, size_t len);

/*
 * Extended sequence numbers and loss accounting (RFC 3550 appendix A.1): a source is valid
 * after two in-order packets; a jump of more than 3000 is believed only when the next packet
 * confirms it (a restarted sender).
 *
 * A zeroed struct is ready: the first rtp_seq_update() calls rtp_seq_init() itself. Call
 * rtp_seq_init() directly to start over (a new SSRC); it puts the source on probation exactly
 * as A.1's first packet does, and that packet is then passed to rtp_seq_update() as well.
 */
struct rtp_seq {
    uint16_t max_seq;
    uint32_t cycles; /* count of wraps, shifted left 16 */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t probation;
    uint32_t received;
    uint32_t expected_prior;
    uint32_t received_prior;
    bool started;
};

void rtp_seq_init(struct rtp_seq *s, uint16_t seq);
/* Feeds one arriving sequence number. Returns 0 and sets *ext (the extended sequence number,
 * cycles + seq: late packets get the number of the cycle they belong to) for a packet to
 * accept; EAGAIN while the source is on probation; EBADMSG for a packet to drop (a huge jump
 * not yet confirmed, or a duplicate far in the past). A late packet from before the first
 * cycle (it would need a negative number) is counted as received, as A.1 does, but also
 * returns EBADMSG: it has no extended number to be delivered under. ext may be NULL. */
int rtp_seq_update(struct rtp_seq *s, uint16_t seq, uint64_t *ext);
/* Highest extended sequence number seen (the RR field). */
uint32_t rtp_seq_ext_max(const struct rtp_seq *s);
/* Packets expected since the source became valid; 0 before that. */
uint32_t rtp_seq_expected(const struct rtp_seq *s);
/* Cumulative packets lost (may be negative with duplicates), clamped to 24-bit signed. */
int32_t rtp_seq_lost(const struct rtp_seq *s);
/* Fraction lost since the previous call, in 1/256 (the RR field); updates the interval state. */
uint8_t rtp_seq_fraction_lost(struct rtp_seq *s);

/* Interarrival jitter (RFC 3550 6.4.1), in RTP timestamp units. arrival is the local receive
 * time converted to the same clock rate as the RTP timestamps. */
struct rtp_jitter {
    bool started;
    uint32_t transit;
    uint32_t jitter_q4; /* jitter << 4, for integer precision */
};

void rtp_jitter_update(struct rtp_jitter *j, uint32_t rtp_ts, uint32_t arrival);
uint32_t rtp_jitter_get(const struct rtp_jitter *j);

/* RFC 4733 telephone-event payload (4 bytes; decoding reads the first event of a longer
 * payload and ignores the reserved bit). */
struct rtp_dtmf {
    uint8_t event; /* 0-9, 10 '*', 11 '#', 12-15 A-D */
    bool end;
    uint8_t volume; /* 0..63, -dBm0 */
    uint16_t duration;
};
#define RTP_DTMF_SIZE 4
int rtp_dtmf_decode(struct rtp_dtmf *ev, const uint8_t *payload, size_t len);
int rtp_dtmf_encode(uint8_t *buf, size_t cap, const struct rtp_dtmf *ev, size_t *len);

#endif
