/*
 * Opus (RFC 6716, RTP payload RFC 7587) for the gateway: 48 kHz mono 16-bit PCM on our side,
 * whatever the peer sends on the wire (a stereo packet decodes to mono).
 *
 * The encoder is set up for conversation (OPUS_APPLICATION_VOIP) with bitrate, complexity,
 * in-band FEC and DTX adjustable while it runs, since the peer's SDP and its RTCP loss reports
 * change what is worth sending. The decoder decodes, conceals a lost frame (PLC), and rebuilds a
 * lost frame from the FEC data the following packet carries.
 *
 * Payloads come from the network: every function checks the packet with libopus's own parser
 * before decoding and answers EBADMSG for a malformed one; nothing here trusts a length.
 * Objects are used by one thread at a time (the stream's mixer clock); no locks.
 */
#ifndef SB_MEDIA_OPUS_CODEC_H
#define SB_MEDIA_OPUS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPUS_CODEC_RATE        48000
#define OPUS_CODEC_MAX_SAMPLES 5760 /* 120 ms at 48 kHz: the longest packet */
#define OPUS_CODEC_MAX_PACKET  1275 /* the longest single frame; ample for our 20 ms frames */

struct opus_codec_enc;
struct opus_codec_dec;

struct opus_codec_enc_cfg {
    uint32_t bitrate;   /* bits/s, 6000..510000; 0: 32000 */
    uint8_t complexity; /* 1..10; 0: 5 (opus_codec_enc_set_complexity also takes 0) */
    bool fec;           /* in-band FEC (the peer's useinbandfec=1) */
    uint8_t loss_pct;   /* expected packet loss, 0..100, how much FEC is worth */
    bool dtx;           /* discontinuous transmission (the peer's usedtx=1) */
};

int opus_codec_enc_alloc(struct opus_codec_enc **ep, const struct opus_codec_enc_cfg *cfg);

/*
 * Encodes samples of pcm (2.5, 5, 10, 20, 40 or 60 ms: 120 .. 2880) into buf. With DTX on, a
 * packet of 2 bytes or less is the encoder saying "silence, nothing worth sending": *dtx is set
 * and the caller skips it (timestamps advance). 0, EINVAL (bad frame size), EOVERFLOW (cap too
 * small), EPROTO (libopus failed).
 */
int opus_codec_encode(struct opus_codec_enc *e, const int16_t *pcm, size_t samples, uint8_t *buf,
                      size_t cap, size_t *len, bool *dtx);

int opus_codec_enc_set_bitrate(struct opus_codec_enc *e, uint32_t bitrate);
int opus_codec_enc_set_complexity(struct opus_codec_enc *e, int complexity);
int opus_codec_enc_set_fec(struct opus_codec_enc *e, bool fec, uint8_t loss_pct);
int opus_codec_enc_set_dtx(struct opus_codec_enc *e, bool dtx);

int opus_codec_dec_alloc(struct opus_codec_dec **dp);

/* Decodes one packet into pcm (cap samples); *samples gets its duration. EBADMSG for a
 * malformed packet, EOVERFLOW when it is longer than cap. */
int opus_codec_decode(struct opus_codec_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                      size_t cap, size_t *samples);

/* Packet loss concealment: fills samples (1 .. OPUS_CODEC_MAX_SAMPLES) of pcm with a plausible
 * continuation of what was decoded before. */
int opus_codec_conceal(struct opus_codec_dec *d, int16_t *pcm, size_t samples);

/* Forgets everything decoded so far: the next packet decodes as the first of a stream. */
void opus_codec_dec_reset(struct opus_codec_dec *d);

/* Rebuilds the samples before next (a lost frame) from next's in-band FEC data; where next has
 * none, libopus conceals instead (check opus_codec_packet_has_fec first). next itself is decoded
 * afterwards as usual. EBADMSG for a malformed next. */
int opus_codec_decode_fec(struct opus_codec_dec *d, const uint8_t *next, size_t len, int16_t *pcm,
                          size_t samples);

/* Duration of a packet in 48 kHz samples; EBADMSG if malformed or longer than 120 ms. */
int opus_codec_packet_samples(const uint8_t *pkt, size_t len, uint32_t *samples);

/* Whether a packet carries in-band FEC (SILK LBRR) data for the frame before it. */
bool opus_codec_packet_has_fec(const uint8_t *pkt, size_t len);

#endif
