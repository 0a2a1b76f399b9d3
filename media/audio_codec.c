/*
 * The codec table, argument checks, and dispatch to the codec files: see audio_codec.h and
 * audio_codec_int.h.
 */
#include "media/audio_codec.h"

#include <errno.h>
#include <strings.h>

#include "media/audio_codec_int.h"

static const struct {
    const char *name;
    uint32_t clock;
} codecs[] = {
    [AUDIO_CODEC_OPUS] = {"opus", 48000},
    [AUDIO_CODEC_PCMU] = {"PCMU", 8000},
    [AUDIO_CODEC_PCMA] = {"PCMA", 8000},
    [AUDIO_CODEC_G722] = {"G722", 8000},
};

#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

int audio_codec_from_name(const char *name, enum audio_codec *c)
{
    for (size_t i = 0; name && i < NCODECS; i++) {
        if (strcasecmp(name, codecs[i].name) == 0) {
            *c = (enum audio_codec)i;
            return 0;
        }
    }
    return ENOENT;
}

const char *audio_codec_name(enum audio_codec c)
{
    return (unsigned)c < NCODECS ? codecs[c].name : "?";
}

uint32_t audio_codec_rtp_clock(enum audio_codec c)
{
    return (unsigned)c < NCODECS ? codecs[c].clock : 0;
}

uint32_t audio_codec_frame_units(enum audio_codec c)
{
    return audio_codec_rtp_clock(c) * AUDIO_FRAME_MS / 1000;
}

int audio_codec_packet_duration(enum audio_codec c, const uint8_t *payload, size_t len,
                                uint32_t *units)
{
    if (!units)
        return EINVAL;
    switch (c) {
    case AUDIO_CODEC_OPUS:
        return codec_opus_packet_duration(payload, len, units);
    case AUDIO_CODEC_PCMU:
    case AUDIO_CODEC_PCMA:
    case AUDIO_CODEC_G722:
        /* one byte per RTP clock unit: a G.711 sample, or two 4-bit G.722 codewords of
         * 16 kHz audio on its 8 kHz clock */
        if (!payload || !len || len > 8000 * AUDIO_MAX_PACKET_MS / 1000)
            return EBADMSG;
        *units = (uint32_t)len;
        return 0;
    }
    return EINVAL;
}

/* ---- encoders ---- */

int audio_encoder_alloc(struct audio_encoder **ep, enum audio_codec c,
                        const struct audio_encoder_cfg *cfg)
{
    if (!ep)
        return EINVAL;
    switch (c) {
    case AUDIO_CODEC_OPUS:
        return codec_opus_enc_alloc(ep, cfg);
    case AUDIO_CODEC_PCMU:
    case AUDIO_CODEC_PCMA:
        return codec_g711_enc_alloc(ep, c);
    case AUDIO_CODEC_G722:
        return codec_g722_enc_alloc(ep);
    }
    return EINVAL;
}

int audio_encoder_encode(struct audio_encoder *e, const int16_t pcm[AUDIO_FRAME_SAMPLES],
                         uint8_t *buf, size_t cap, size_t *len, bool *dtx)
{
    if (!e || !pcm || !buf || !len)
        return EINVAL;
    bool d = false;
    int err = e->ops->encode(e, pcm, buf, cap, len, &d);
    if (dtx)
        *dtx = !err && d;
    return err;
}

int audio_encoder_set_fec(struct audio_encoder *e, bool fec, uint8_t loss_pct)
{
    if (!e || loss_pct > 100)
        return EINVAL;
    return e->ops->set_fec ? e->ops->set_fec(e, fec, loss_pct) : ENOTSUP;
}

enum audio_codec audio_encoder_codec(const struct audio_encoder *e)
{
    return e->codec;
}

/* ---- decoders ---- */

int audio_decoder_alloc(struct audio_decoder **dp, enum audio_codec c)
{
    if (!dp)
        return EINVAL;
    switch (c) {
    case AUDIO_CODEC_OPUS:
        return codec_opus_dec_alloc(dp);
    case AUDIO_CODEC_PCMU:
    case AUDIO_CODEC_PCMA:
        return codec_g711_dec_alloc(dp, c);
    case AUDIO_CODEC_G722:
        return codec_g722_dec_alloc(dp);
    }
    return EINVAL;
}

int audio_decoder_decode(struct audio_decoder *d, const uint8_t *payload, size_t len, int16_t *pcm,
                         size_t cap, size_t *samples)
{
    if (!d || !pcm || !samples)
        return EINVAL;
    if (!payload || !len)
        return EBADMSG;
    return d->ops->decode(d, payload, len, pcm, cap, samples);
}

static bool count_ok(const struct audio_decoder *d, size_t samples)
{
    return samples && samples <= AUDIO_MAX_SAMPLES && samples % d->ratio == 0;
}

int audio_decoder_conceal(struct audio_decoder *d, int16_t *pcm, size_t samples)
{
    if (!d || !pcm || !count_ok(d, samples))
        return EINVAL;
    return d->ops->conceal(d, pcm, samples, false);
}

int audio_decoder_fade_out(struct audio_decoder *d, int16_t *pcm, size_t samples)
{
    if (!d || !pcm || !count_ok(d, samples))
        return EINVAL;
    return d->ops->conceal(d, pcm, samples, true);
}

size_t audio_decoder_delay(const struct audio_decoder *d)
{
    return d ? d->delay : 0;
}

void audio_decoder_discontinuity(struct audio_decoder *d)
{
    if (d && d->ops->discontinuity)
        d->ops->discontinuity(d);
}

bool audio_decoder_has_fec(const struct audio_decoder *d, const uint8_t *payload, size_t len)
{
    return d && d->ops->has_fec && payload && len && d->ops->has_fec(payload, len);
}

int audio_decoder_decode_fec(struct audio_decoder *d, const uint8_t *next, size_t len, int16_t *pcm,
                             size_t samples)
{
    if (!d || !pcm || !count_ok(d, samples))
        return EINVAL;
    if (!d->ops->decode_fec)
        return ENOTSUP;
    if (!next || !len)
        return EBADMSG;
    return d->ops->decode_fec(d, next, len, pcm, samples);
}

enum audio_codec audio_decoder_codec(const struct audio_decoder *d)
{
    return d->codec;
}
