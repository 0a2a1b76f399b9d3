/*
 * G.722 at 64 kbit/s behind the codec interface, over spandsp's bit-exact implementation:
 * 16 kHz audio, two 4-bit codewords per byte, on an 8 kHz RTP clock (RFC 3551's historical
 * error, kept by everyone: a 20 ms payload is 160 bytes and advances the timestamp by 160).
 * 48 kHz frames go down to 320 samples and are encoded into 160 bytes; payloads of any length
 * decode to 16 kHz, go through the shared concealment and back up to 48 kHz (codec_plc.c).
 *
 * After a loss the ADPCM decoder simply carries on from its state before it: its predictors
 * adapt within a few milliseconds, under the cross-fade that ends the concealment.
 */
#include <errno.h>

#include <spandsp.h>

#include "base/mem.h"
#include "media/audio_codec_int.h"
#include "media/resample.h"

#define G722_RATE    16000
#define G722_BITRATE 64000
#define G722_RATIO   (AUDIO_RATE / G722_RATE)
#define G722_FRAME   (AUDIO_FRAME_SAMPLES / G722_RATIO) /* 320 samples, 160 bytes */

struct g722_enc {
    struct audio_encoder base;
    g722_encode_state_t *st;
    struct resampler *down;
    int16_t pcm[G722_FRAME];
};

static void enc_destroy(void *arg)
{
    struct g722_enc *e = arg;
    if (e->st)
        g722_encode_free(e->st);
    mem_deref(e->down);
}

static int enc_encode(struct audio_encoder *base, const int16_t *pcm, uint8_t *buf, size_t cap,
                      size_t *len, bool *dtx)
{
    struct g722_enc *e = (struct g722_enc *)base;
    if (cap < G722_FRAME / 2)
        return EOVERFLOW;
    size_t n = 0;
    int err = resampler_process(e->down, pcm, AUDIO_FRAME_SAMPLES, e->pcm, G722_FRAME, &n);
    if (err)
        return err;
    int bytes = g722_encode(e->st, buf, e->pcm, (int)n);
    if (bytes != G722_FRAME / 2)
        return EPROTO;
    *len = (size_t)bytes;
    *dtx = false;
    return 0;
}

static const struct audio_encoder_ops enc_ops = {
    .encode = enc_encode,
};

int codec_g722_enc_alloc(struct audio_encoder **ep)
{
    struct g722_enc *e = mem_zalloc(sizeof(*e), enc_destroy);
    if (!e)
        return ENOMEM;
    e->base.ops = &enc_ops;
    e->base.codec = AUDIO_CODEC_G722;
    e->st = g722_encode_init(NULL, G722_BITRATE, 0);
    int err = e->st ? resampler_alloc(&e->down, AUDIO_RATE, G722_RATE, RESAMPLE_QUALITY) : ENOMEM;
    if (err) {
        mem_deref(e);
        return err;
    }
    *ep = &e->base;
    return 0;
}

struct g722_dec {
    struct audio_decoder base;
    g722_decode_state_t *st;
    struct codec_out out;
};

static void dec_destroy(void *arg)
{
    struct g722_dec *d = arg;
    if (d->st)
        g722_decode_free(d->st);
    codec_out_release(&d->out);
}

static int dec_decode(struct audio_decoder *base, const uint8_t *payload, size_t len, int16_t *pcm,
                      size_t cap, size_t *samples)
{
    struct g722_dec *d = (struct g722_dec *)base;
    if (2 * len > sizeof(d->out.native) / sizeof(d->out.native[0]))
        return EBADMSG;
    if (2 * len * G722_RATIO > cap)
        return EOVERFLOW;
    int n = g722_decode(d->st, d->out.native, payload, (int)len);
    if (n != (int)(2 * len))
        return EBADMSG;
    return codec_out_decoded(&d->out, (size_t)n, pcm, cap, samples);
}

static int dec_conceal(struct audio_decoder *base, int16_t *pcm, size_t samples, bool fade_out)
{
    struct g722_dec *d = (struct g722_dec *)base;
    int err = codec_out_conceal(&d->out, pcm, samples, fade_out);
    /* The stream ended here: the ADPCM predictor starts again from silence. */
    if (!err && fade_out)
        g722_decode_init(d->st, G722_BITRATE, 0);
    return err;
}

static void dec_discontinuity(struct audio_decoder *base)
{
    struct g722_dec *d = (struct g722_dec *)base;
    codec_plc_discontinuity(&d->out.plc);
}

static const struct audio_decoder_ops dec_ops = {
    .decode = dec_decode,
    .conceal = dec_conceal,
    .discontinuity = dec_discontinuity,
};

int codec_g722_dec_alloc(struct audio_decoder **dp)
{
    struct g722_dec *d = mem_zalloc(sizeof(*d), dec_destroy);
    if (!d)
        return ENOMEM;
    d->base.ops = &dec_ops;
    d->base.codec = AUDIO_CODEC_G722;
    d->base.ratio = G722_RATIO;
    d->st = g722_decode_init(NULL, G722_BITRATE, 0);
    int err = d->st ? codec_out_init(&d->out, G722_RATE) : ENOMEM;
    if (err) {
        mem_deref(d);
        return err;
    }
    d->base.delay = codec_out_delay(&d->out);
    *dp = &d->base;
    return 0;
}
