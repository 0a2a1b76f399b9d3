/*
 * Opus behind the codec interface: a thin adapter over opus_codec.h, which already speaks
 * 48 kHz mono and has its own concealment and in-band FEC. The one thing added is the fade-out
 * that ends a concealment in silence.
 */
#include <errno.h>

#include "base/mem.h"
#include "media/audio_codec_int.h"
#include "media/opus_codec.h"

struct opus_enc {
    struct audio_encoder base;
    struct opus_codec_enc *enc;
};

struct opus_dec {
    struct audio_decoder base;
    struct opus_codec_dec *dec;
};

static void enc_destroy(void *arg)
{
    struct opus_enc *e = arg;
    mem_deref(e->enc);
}

static void dec_destroy(void *arg)
{
    struct opus_dec *d = arg;
    mem_deref(d->dec);
}

static int enc_encode(struct audio_encoder *base, const int16_t *pcm, uint8_t *buf, size_t cap,
                      size_t *len, bool *dtx)
{
    struct opus_enc *e = (struct opus_enc *)base;
    return opus_codec_encode(e->enc, pcm, AUDIO_FRAME_SAMPLES, buf, cap, len, dtx);
}

static int enc_set_fec(struct audio_encoder *base, bool fec, uint8_t loss_pct)
{
    struct opus_enc *e = (struct opus_enc *)base;
    return opus_codec_enc_set_fec(e->enc, fec, loss_pct);
}

static const struct audio_encoder_ops enc_ops = {
    .encode = enc_encode,
    .set_fec = enc_set_fec,
};

int codec_opus_enc_alloc(struct audio_encoder **ep, const struct audio_encoder_cfg *cfg)
{
    struct audio_encoder_cfg c = cfg ? *cfg : (struct audio_encoder_cfg){0};
    struct opus_codec_enc_cfg oc = {
        .bitrate = c.bitrate,
        .complexity = c.complexity > 0 && c.complexity <= 10 ? (uint8_t)c.complexity : 0,
        .fec = c.fec,
        .loss_pct = c.loss_pct,
        .dtx = c.dtx,
    };
    struct opus_enc *e = mem_zalloc(sizeof(*e), enc_destroy);
    if (!e)
        return ENOMEM;
    e->base.ops = &enc_ops;
    e->base.codec = AUDIO_CODEC_OPUS;
    int err = opus_codec_enc_alloc(&e->enc, &oc);
    if (err) {
        mem_deref(e);
        return err;
    }
    *ep = &e->base;
    return 0;
}

static int dec_decode(struct audio_decoder *base, const uint8_t *payload, size_t len, int16_t *pcm,
                      size_t cap, size_t *samples)
{
    struct opus_dec *d = (struct opus_dec *)base;
    return opus_codec_decode(d->dec, payload, len, pcm, cap, samples);
}

static int dec_conceal(struct audio_decoder *base, int16_t *pcm, size_t samples, bool fade_out)
{
    struct opus_dec *d = (struct opus_dec *)base;
    int err = opus_codec_conceal(d->dec, pcm, samples);
    if (err)
        return err;
    if (fade_out) {
        for (size_t i = 0; i < samples; i++)
            pcm[i] = (int16_t)((int32_t)pcm[i] * (int32_t)(samples - 1 - i) / (int32_t)samples);
        /* The stream ended here: whatever comes next starts from silence. */
        opus_codec_dec_reset(d->dec);
    }
    return 0;
}

static int dec_decode_fec(struct audio_decoder *base, const uint8_t *next, size_t len, int16_t *pcm,
                          size_t samples)
{
    struct opus_dec *d = (struct opus_dec *)base;
    return opus_codec_decode_fec(d->dec, next, len, pcm, samples);
}

static const struct audio_decoder_ops dec_ops = {
    .decode = dec_decode,
    .conceal = dec_conceal,
    .has_fec = opus_codec_packet_has_fec,
    .decode_fec = dec_decode_fec,
};

int codec_opus_dec_alloc(struct audio_decoder **dp)
{
    struct opus_dec *d = mem_zalloc(sizeof(*d), dec_destroy);
    if (!d)
        return ENOMEM;
    d->base.ops = &dec_ops;
    d->base.codec = AUDIO_CODEC_OPUS;
    d->base.ratio = 1;
    int err = opus_codec_dec_alloc(&d->dec);
    if (err) {
        mem_deref(d);
        return err;
    }
    *dp = &d->base;
    return 0;
}

int codec_opus_packet_duration(const uint8_t *payload, size_t len, uint32_t *units)
{
    return opus_codec_packet_samples(payload, len, units);
}
