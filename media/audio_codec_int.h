/*
 * What the codec files (codec_opus.c, codec_g711.c, codec_g722.c) implement for audio_codec.c,
 * and what the narrowband ones share (codec_plc.c): the concealment and the way up to 48 kHz.
 * Private to media/'s codec files: nothing else includes this.
 *
 * Each codec's encoder and decoder are objects of its own that begin with the generic struct
 * (so a pointer to one is a pointer to the other, and mem_deref() runs the codec's
 * destructor); audio_codec.c checks arguments and dispatches through the ops.
 */
#ifndef SB_MEDIA_AUDIO_CODEC_INT_H
#define SB_MEDIA_AUDIO_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/audio_codec.h"

struct resampler;

struct audio_encoder_ops {
    int (*encode)(struct audio_encoder *e, const int16_t *pcm, uint8_t *buf, size_t cap,
                  size_t *len, bool *dtx);
    int (*set_fec)(struct audio_encoder *e, bool fec, uint8_t loss_pct); /* NULL: ENOTSUP */
};

struct audio_encoder {
    const struct audio_encoder_ops *ops;
    enum audio_codec codec;
};

struct audio_decoder_ops {
    /* Arguments are checked by audio_codec.c: payload non-empty, pcm non-NULL, samples within
     * bounds and a multiple of the codec's ratio to 48 kHz. */
    int (*decode)(struct audio_decoder *d, const uint8_t *payload, size_t len, int16_t *pcm,
                  size_t cap, size_t *samples);
    int (*conceal)(struct audio_decoder *d, int16_t *pcm, size_t samples, bool fade_out);
    void (*discontinuity)(struct audio_decoder *d);      /* NULL: nothing to do */
    bool (*has_fec)(const uint8_t *payload, size_t len); /* NULL: no FEC */
    int (*decode_fec)(struct audio_decoder *d, const uint8_t *next, size_t len, int16_t *pcm,
                      size_t samples);
};

struct audio_decoder {
    const struct audio_decoder_ops *ops;
    enum audio_codec codec;
    unsigned ratio; /* 48 kHz samples per sample of the codec's own rate */
    size_t delay;   /* 48 kHz samples decoded but held back (the resampler's latency) */
};

int codec_opus_enc_alloc(struct audio_encoder **ep, const struct audio_encoder_cfg *cfg);
int codec_opus_dec_alloc(struct audio_decoder **dp);
int codec_opus_packet_duration(const uint8_t *payload, size_t len, uint32_t *units);
int codec_g711_enc_alloc(struct audio_encoder **ep, enum audio_codec law);
int codec_g711_dec_alloc(struct audio_decoder **dp, enum audio_codec law);
int codec_g722_enc_alloc(struct audio_encoder **ep);
int codec_g722_dec_alloc(struct audio_decoder **dp);

/* ---- concealment for the codecs without their own (codec_plc.c) ---- */

#define CODEC_PLC_MAX_RATE  16000
#define CODEC_PLC_PITCH_MAX 150 /* the longest pitch period looked for, in tenths of ms (67 Hz) */
#define CODEC_PLC_MAX_PITCH (CODEC_PLC_MAX_RATE * CODEC_PLC_PITCH_MAX / 10000)
#define CODEC_PLC_HIST      (3 * CODEC_PLC_MAX_PITCH + 2)

/*
 * Waveform substitution in the manner of G.711 Appendix I, at the codec's own rate: on a loss,
 * the last pitch period of the history (found by autocorrelation) is repeated, widened to two
 * and then three periods after 10 and 20 ms so that it does not buzz, and faded out from 10 ms
 * to silence at 60 ms. Every join (the start, each wrap of the loop, each widening, the packet
 * that ends the loss) is smoothed, so concealment never clicks.
 */
struct codec_plc {
    uint32_t rate;
    unsigned pmin, pmax, hlen;
    int16_t hist[CODEC_PLC_HIST]; /* the last hlen samples played, newest last */
    bool active;                  /* concealing (or ready to blend after a discontinuity) */
    uint32_t k;                   /* samples synthesised since the loss began */
    unsigned pitch;               /* P, in samples */
    unsigned ramp;                /* the smoothing at a loop's start: P / 4 */
};

void codec_plc_init(struct codec_plc *p, uint32_t rate);
/* n samples decoded from a packet, about to be played: after a loss they are blended with the
 * concealment's continuation; then they become the history. */
void codec_plc_good(struct codec_plc *p, int16_t *pcm, size_t n);
/* n samples of concealment. */
void codec_plc_conceal(struct codec_plc *p, int16_t *pcm, size_t n);
/* Forgets the history (silence follows) and any concealment in progress. */
void codec_plc_reset(struct codec_plc *p);
/* The next good samples do not follow the history: blend into them. */
void codec_plc_discontinuity(struct codec_plc *p);

/* A narrowband decoder's way out: PCM at the codec's rate through the concealment and up to
 * 48 kHz, with the scratch buffer its bitstream decoder writes into. */
struct codec_out {
    struct codec_plc plc;
    struct resampler *up;
    unsigned ratio;
    int16_t native[AUDIO_MAX_SAMPLES / 3]; /* 120 ms at 16 kHz */
};

int codec_out_init(struct codec_out *o, uint32_t rate);
void codec_out_release(struct codec_out *o);
/* 48 kHz samples of decoded audio the resampler holds back. */
size_t codec_out_delay(const struct codec_out *o);
/* n samples decoded into o->native -> pcm at 48 kHz. */
int codec_out_decoded(struct codec_out *o, size_t n, int16_t *pcm, size_t cap, size_t *samples);
/* samples (a multiple of the ratio) of concealment at 48 kHz; fade_out ramps them to zero and
 * leaves the decoder as if it had heard silence. */
int codec_out_conceal(struct codec_out *o, int16_t *pcm, size_t samples, bool fade_out);

#endif
