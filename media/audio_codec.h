/*
 * The audio codecs a stream can carry, behind one interface: every codec takes and gives 48 kHz
 * mono PCM in 20 ms frames (AUDIO_FRAME_SAMPLES), resampling inside when its own rate differs,
 * so the mixer above never knows which codec a leg speaks. Opus (48 kHz, in-band FEC), G.711
 * mu-law and A-law (8 kHz), G.722 (16 kHz audio on an 8 kHz RTP clock, RFC 3551).
 *
 * An encoder turns one 20 ms frame into one payload. A decoder turns a payload of any duration
 * the codec allows (up to 120 ms: phones send G.711 in 10 to 60 ms packets) into 48 kHz PCM,
 * and conceals what was lost: Opus with its own PLC and in-band FEC, the others with a
 * waveform-substitution concealment (codec_plc.c) that repeats the last pitch periods, fades,
 * and blends back into the signal when packets return, so a loss is never a click.
 *
 * Every object owns its resampler state (one per direction per stream) and its scratch
 * buffers, allocated with it: encoding and decoding allocate nothing. Payloads come from the
 * network: durations are bounded and a malformed one is EBADMSG, never a crash.
 * Objects are used by one thread at a time (a stream's mixer clock); no locks.
 */
#ifndef SB_MEDIA_AUDIO_CODEC_H
#define SB_MEDIA_AUDIO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIO_RATE          48000
#define AUDIO_FRAME_MS      20
#define AUDIO_FRAME_SAMPLES (AUDIO_RATE * AUDIO_FRAME_MS / 1000)
#define AUDIO_MAX_PACKET_MS 120 /* the longest payload decoded (Opus allows 120 ms) */
#define AUDIO_MAX_SAMPLES   (AUDIO_RATE * AUDIO_MAX_PACKET_MS / 1000)

enum audio_codec {
    AUDIO_CODEC_OPUS = 0,
    AUDIO_CODEC_PCMU,
    AUDIO_CODEC_PCMA,
    AUDIO_CODEC_G722,
};

/* "opus", "PCMU", "PCMA", "G722" (case-insensitive) -> 0, or ENOENT. */
int audio_codec_from_name(const char *name, enum audio_codec *c);
const char *audio_codec_name(enum audio_codec c);
/* The RTP timestamp clock: 48000 for Opus, 8000 for the others (G.722 too, RFC 3551); 0 for
 * a value that is not a codec. */
uint32_t audio_codec_rtp_clock(enum audio_codec c);
/* RTP clock units in one 20 ms frame (960 or 160); 0 for a value that is not a codec. */
uint32_t audio_codec_frame_units(enum audio_codec c);

/* Duration of a received payload in RTP clock units. Pure: callable on the worker thread
 * before the payload is queued. EBADMSG for an empty or malformed payload, or one longer than
 * AUDIO_MAX_PACKET_MS; EINVAL for an unknown codec. */
int audio_codec_packet_duration(enum audio_codec c, const uint8_t *payload, size_t len,
                                uint32_t *units);

/* ---- encoding ---- */

struct audio_encoder;

/* Opus settings (the others have none). */
struct audio_encoder_cfg {
    uint32_t bitrate; /* bits/s; 0: 32000 */
    int complexity;   /* 1..10; 0 or out of range: 5 */
    bool fec;         /* in-band FEC (the peer's useinbandfec=1) */
    uint8_t loss_pct; /* expected loss, how much FEC is worth */
    bool dtx;         /* the peer accepts DTX */
};

/* cfg may be NULL. EINVAL for an unknown codec or bad settings, ENOMEM, EPROTO (the codec
 * library refused). */
int audio_encoder_alloc(struct audio_encoder **ep, enum audio_codec c,
                        const struct audio_encoder_cfg *cfg);

/* Encodes one 20 ms frame into buf. *dtx is set when the payload is Opus saying "silence,
 * nothing worth sending" (always false for the others). 0, EINVAL, EOVERFLOW (cap too small:
 * G.711 and G.722 need 160 bytes), EPROTO. */
int audio_encoder_encode(struct audio_encoder *e, const int16_t pcm[AUDIO_FRAME_SAMPLES],
                         uint8_t *buf, size_t cap, size_t *len, bool *dtx);

/* Opus: switches in-band FEC and tells it the loss to expect. ENOTSUP for the other codecs. */
int audio_encoder_set_fec(struct audio_encoder *e, bool fec, uint8_t loss_pct);

enum audio_codec audio_encoder_codec(const struct audio_encoder *e);

/* ---- decoding ---- */

struct audio_decoder;

int audio_decoder_alloc(struct audio_decoder **dp, enum audio_codec c);

/* Decodes one payload into pcm (cap samples at 48 kHz); *samples gets its duration.
 * EBADMSG for a malformed payload, EOVERFLOW when it is longer than cap. */
int audio_decoder_decode(struct audio_decoder *d, const uint8_t *payload, size_t len, int16_t *pcm,
                         size_t cap, size_t *samples);

/* Packet loss concealment: fills samples (1 .. AUDIO_MAX_SAMPLES at 48 kHz; for the 8 kHz
 * codecs a multiple of 6, which any duration in their RTP units times 6 is) with a plausible
 * continuation of what was decoded before. EINVAL for a count out of range. */
int audio_decoder_conceal(struct audio_decoder *d, int16_t *pcm, size_t samples);

/* Concealment that fades to zero over its samples, for the moment playout goes silent: it
 * brings out what the decoder holds back (see audio_decoder_delay) and whatever concealment was
 * under way, faded, and the decoder then starts afresh from silence (nothing old is blended
 * into the next packet). Same bounds as conceal. */
int audio_decoder_fade_out(struct audio_decoder *d, int16_t *pcm, size_t samples);

/* 48 kHz samples of decoded audio the decoder holds back (its resampler's delay; 0 for
 * Opus): a stream that goes silent after a packet gets them out with fade_out. */
size_t audio_decoder_delay(const struct audio_decoder *d);

/* The next payload does not continue the last one decoded (the jitter buffer dropped a packet
 * to shorten the delay): blend into it instead of jumping. */
void audio_decoder_discontinuity(struct audio_decoder *d);

/* Whether payload carries in-band FEC data for the frame before it (Opus only). */
bool audio_decoder_has_fec(const struct audio_decoder *d, const uint8_t *payload, size_t len);

/* Rebuilds the samples before next (a lost frame) from next's FEC data; next is decoded
 * afterwards as usual. ENOTSUP for codecs without FEC, EBADMSG for a malformed next. */
int audio_decoder_decode_fec(struct audio_decoder *d, const uint8_t *next, size_t len, int16_t *pcm,
                             size_t samples);

enum audio_codec audio_decoder_codec(const struct audio_decoder *d);

/* ---- G.711 sample by sample (ITU-T G.711, the bytes as they go on the wire) ---- */

uint8_t g711_ulaw_from_linear(int16_t s);
int16_t g711_ulaw_to_linear(uint8_t u);
uint8_t g711_alaw_from_linear(int16_t s);
int16_t g711_alaw_to_linear(uint8_t a);

#endif
