/*
 * RTCP (RFC 3550) compound packets: sender and receiver reports, SDES CNAME, BYE, and the
 * feedback messages (RFC 4585 generic NACK and PLI, RFC 5104 FIR). Each message type has an
 * encode / decode pair over a bounded buffer; a compound packet is walked with rtcp_iter.
 *
 * Returns: 0, EBADMSG, EINVAL, EOVERFLOW, ENOENT (no more packets in a compound).
 */
#ifndef SB_RTP_RTCP_H
#define SB_RTP_RTCP_H

#include <errno.h> /* the return values */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rtcp_type {
    RTCP_SR = 200,
    RTCP_RR = 201,
    RTCP_SDES = 202,
    RTCP_BYE = 203,
    RTCP_APP = 204,
    RTCP_RTPFB = 205, /* FMT 1: generic NACK */
    RTCP_PSFB = 206,  /* FMT 1: PLI, FMT 4: FIR */
};

/* Feedback message types (the FMT field, in rtcp_pkt.count). */
#define RTCP_FMT_NACK 1 /* RTPFB */
#define RTCP_FMT_PLI  1 /* PSFB */
#define RTCP_FMT_FIR  4 /* PSFB */

#define RTCP_HDR_SIZE    4
#define RTCP_MAX_REPORTS 31
#define RTCP_MAX_CNAME   255

struct rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;
    int32_t cumulative_lost; /* 24-bit signed on the wire */
    uint32_t ext_highest_seq;
    uint32_t jitter;
    uint32_t lsr;  /* middle 32 bits of the NTP time of the last SR received */
    uint32_t dlsr; /* delay since that SR, 1/65536 s */
};

struct rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp; /* 32.32 fixed point */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
};

/* One packet of a compound: common header fields and the body after the 4-byte header (any
 * padding removed); raw/raw_len is the whole packet as it was on the wire, for forwarding. */
struct rtcp_pkt {
    uint8_t type;
    uint8_t count; /* RC / SC / FMT, by type */
    const uint8_t *body;
    size_t body_len;
    const uint8_t *raw;
    size_t raw_len;
};

struct rtcp_iter {
    const uint8_t *p;
    size_t left;
};

void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len);
/* Next packet of the compound: 0, ENOENT at the end (at once for an empty buffer), EBADMSG on
 * a malformed header/length (version not 2, length past the buffer, trailing bytes, padding
 * count 0 or past the body). After EBADMSG the iterator is at the end: the packets already
 * returned are sound, nothing after the bad one is trusted. */
int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_pkt *pkt);

/*
 * Decoders take a packet from rtcp_iter_next(): EINVAL when it is not of their type, EBADMSG
 * when its body is short or inconsistent. Lists (report blocks, SSRCs, NACKed sequence
 * numbers) are stored up to the caller's capacity; the rest are skipped, not an error
 * (RTCP_MAX_REPORTS always holds every report block and every BYE SSRC).
 */

int rtcp_sr_decode(const struct rtcp_pkt *pkt, struct rtcp_sr *sr, struct rtcp_report_block *rb,
                   size_t rb_cap, size_t *nrb);
int rtcp_rr_decode(const struct rtcp_pkt *pkt, uint32_t *ssrc, struct rtcp_report_block *rb,
                   size_t rb_cap, size_t *nrb);
/* First CNAME item of the first chunk, NUL-terminated: ENOENT when that chunk has none,
 * EOVERFLOW when cap cannot hold it, EBADMSG for an item past the body or a NUL inside. */
int rtcp_sdes_cname_decode(const struct rtcp_pkt *pkt, uint32_t *ssrc, char *cname, size_t cap);
int rtcp_bye_decode(const struct rtcp_pkt *pkt, uint32_t *ssrcs, size_t cap, size_t *n);
/* Feedback: sender and media SSRC; for NACK, lost sequence numbers expanded from PID/BLP in
 * wire order (a packet needs at least one FCI entry). */
int rtcp_fb_decode(const struct rtcp_pkt *pkt, uint32_t *sender_ssrc, uint32_t *media_ssrc);
int rtcp_nack_decode(const struct rtcp_pkt *pkt, uint16_t *seqs, size_t cap, size_t *n);
/* FIR (RFC 5104 4.3.1): the command sequence number of the FCI entry addressed to ssrc;
 * ENOENT when no entry is. */
int rtcp_fir_decode(const struct rtcp_pkt *pkt, uint32_t ssrc, uint8_t *seq_nr);

/* Encoders append one packet at buf[*len] (at most cap bytes in all) and advance *len, so a
 * compound is built by calling them in sequence on the same buffer. */
int rtcp_sr_encode(uint8_t *buf, size_t cap, size_t *len, const struct rtcp_sr *sr,
                   const struct rtcp_report_block *rb, size_t nrb);
int rtcp_rr_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc,
                   const struct rtcp_report_block *rb, size_t nrb);
int rtcp_sdes_cname_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc, const char *cname);
int rtcp_bye_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t ssrc);
int rtcp_pli_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                    uint32_t media_ssrc);
/* FIR: media_ssrc goes into the FCI entry; the header's media source field is 0 (RFC 5104). */
int rtcp_fir_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                    uint32_t media_ssrc, uint8_t seq_nr);
/* Generic NACK for seqs (any order, duplicates allowed, n >= 1), packed into the fewest
 * PID+BLP entries: one entry covers PID and the 16 numbers after it. The cover is optimal
 * whenever the numbers leave a gap of 17 or more somewhere on the 16-bit circle (any list a
 * jitter buffer can produce); entries follow in RTP order from just after the largest gap. */
int rtcp_nack_encode(uint8_t *buf, size_t cap, size_t *len, uint32_t sender_ssrc,
                     uint32_t media_ssrc, const uint16_t *seqs, size_t n);

/* NTP time helpers: 32.32 from a CLOCK_REALTIME-style (sec, nsec), the middle 32 bits (LSR),
 * and the round-trip time from a report block received at ntp_now (RFC 3550 6.4.1), in
 * 1/65536 s; EINVAL when the block carries no LSR or the result would be negative. */
uint64_t rtcp_ntp_from_timespec(int64_t sec, long nsec);
uint32_t rtcp_ntp_mid32(uint64_t ntp);
int rtcp_rtt_q16(const struct rtcp_report_block *rb, uint64_t ntp_now, uint32_t *rtt_q16);

#endif
